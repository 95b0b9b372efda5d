// Finding 3 browser (anywidget front-end): the principal components of any
// explained FFN layer, pre-trained beside tuned: explained variance (and its
// running total), top words, and the annotator's answers for the first seed
// (concept, user scenarios, linguistic level) with the rule that fired.

import {decodedData, fmt, h, numCell, select} from "./common.js";

export function prepareConcepts({meta, arrays}) {
  return {meta, A: arrays};
}

export function component(C, name, li, r) {
  // component r (0-based) of layer index li of model name
  const A = C.A, i = A[`${name}_start`][li] + r, K = C.meta.K, m = C.meta;
  const mask = A[`${name}_tasks`][i], level = A[`${name}_level`][i];
  return {rank: r + 1, var: A[`${name}_var`][i], cum: A[`${name}_cum`][i],
          concept: m.text[A[`${name}_concept`][i]], describable: A[`${name}_describable`][i] === 1,
          tasks: m.tasks.filter((_, k) => mask & (1 << k)), level: level < 0 ? "" : m.levels[level],
          rule: m.text[A[`${name}_rule`][i]], ruleLevel: m.text[A[`${name}_rule_level`][i]],
          ruleTasks: m.text[A[`${name}_rule_tasks`][i]],
          words: Array.from(A[`${name}_words`].subarray(i * K, (i + 1) * K), (w) => m.words[w])};
}

export function layerSize(C, name, li) {
  const start = C.A[`${name}_start`];
  return start[li + 1] - start[li];
}

function keep(state, x) {
  if (state.describable && !x.describable) return false;
  if (state.task === "none" && x.tasks.length) return false;
  if (state.task !== "any" && state.task !== "none" && !x.tasks.includes(state.task)) return false;
  if (state.level !== "any" && x.level !== state.level) return false;
  const w = state.word.trim().toLowerCase();
  return !w || x.words.some((v) => v.toLowerCase() === w) || x.concept.toLowerCase().includes(w);
}

function item(state, name, x) {
  const layer = state.C.meta.layers[state.li], k = `concepts.${name}.${layer}.${x.rank}`;
  const label = x.describable
    ? h("span", {}, h("b", {text: x.concept}), ` [${x.tasks.join(", ") || "no scenario"} · ${x.level}]`)
    : h("i", {text: "Cannot Tell"});
  const rules = [["concept", x.rule], ["level", x.ruleLevel], ["scenarios", x.ruleTasks]]
    .filter(([, text]) => text).map(([what, text]) => h("div", {}, h("b", {text: `${what}: `}), text));
  return h("tr", {},
    h("td", {text: String(x.rank)}),
    h("td", {class: "plx-num"}, numCell(`${k}.var`, x.var, `${fmt(100 * x.var, 2)}%`, "span"), h("br"),
      h("span", {class: "plx-muted"}, "Σ ", numCell(`${k}.cum`, x.cum, `${fmt(100 * x.cum, 1)}%`, "span"))),
    h("td", {}, label, h("div", {class: "plx-words", text: x.words.join(", ")}),
      rules.length ? h("details", {class: "plx-rule"}, h("summary", {text: "rule that fired"}), ...rules) : null));
}

function modelColumn(state, name) {
  const {C} = state, n = layerSize(C, name, state.li), rows = [];
  let describable = 0, shown = 0;
  for (let r = 0; r < n; r++) {
    const x = component(C, name, state.li, r);
    describable += x.describable ? 1 : 0;
    if (keep(state, x) && shown < state.top) { rows.push(item(state, name, x)); shown++; }
  }
  const head = h("tr", {}, ...["rank", "variance (Σ from rank 1)", "concept [scenarios · level], top words"]
    .map((t) => h("th", {text: t})));
  return h("div", {}, h("b", {text: `${C.meta.roles[name]}: ${describable} of ${n} components describable`}),
           h("table", {class: "plx-table", "data-table": `concepts.${name}`}, h("thead", {}, head), h("tbody", {}, ...rows)),
           rows.length ? null : h("p", {class: "plx-muted", text: "no component matches the filters"}));
}

function controls(state, update) {
  const {C} = state, m = C.meta;
  state.layerSel = select(m.layers.map((l, i) => [i, `layer ${l + 1}`]), state.li,
                          (v) => { state.li = Number(v); update(); }, {"aria-label": "layer"});
  const task = select([["any", "any scenario"], ...m.tasks.map((t) => [t, t]), ["none", "no scenario"]], "any",
                      (v) => { state.task = v; update(); }, {"aria-label": "scenario"});
  const level = select([["any", "any level"], ...m.levels.map((l) => [l, l])], "any",
                       (v) => { state.level = v; update(); }, {"aria-label": "level"});
  const tops = [[20, "20 components"], [40, "40 components"], [100, "100 components"], [100000, "all components"]];
  const top = select(tops, tops.some(([v]) => v === state.top) ? state.top : 40,
                     (v) => { state.top = Number(v); update(); }, {"aria-label": "components shown"});
  const desc = h("input", {type: "checkbox", "aria-label": "describable only"});
  desc.addEventListener("change", () => { state.describable = desc.checked; update(); });
  const word = h("input", {type: "search", class: "plx-search", placeholder: "word or concept", "aria-label": "word filter"});
  word.addEventListener("input", () => { state.word = word.value; update(); });
  return h("div", {class: "plx-row"}, state.layerSel, task, level, top,
           h("label", {}, desc, " describable only"), word);
}

async function render({model, el}) {
  el.classList.add("plx", "jupyter-widgets");  // ipywidgets' mark of a rendered view
  const C = await decodedData(model, prepareConcepts);
  const state = {C, li: Math.max(0, C.meta.layers.indexOf(model.get("layer"))), top: model.get("top"),
                 task: "any", level: "any", describable: false, word: ""};
  const root = h("div", {class: "plx-root"}), body = h("div", {class: "plx-cols2"});
  const note = h("p", {class: "plx-muted", text: `Annotations of seed ${C.meta.seed}; variance = explained-variance ` +
    "ratio of the component among all components of the layer; cumulative = running total from rank 1."});
  const update = () => {
    state.layerSel.value = String(state.li);
    body.replaceChildren(...C.meta.names.map((n) => modelColumn(state, n)));
    Object.assign(root.dataset, {layer: String(C.meta.layers[state.li]), ready: "true"});
    model.set("layer", C.meta.layers[state.li]); model.save_changes();
  };
  root.append(controls(state, update), body, note);
  el.append(root);
  update();
}

export default {render};
