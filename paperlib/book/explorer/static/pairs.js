// Finding 2 browser (anywidget front-end): the head-level word pairs of any
// explained layer and head, pre-trained beside tuned. Pairs only in the tuned
// list are "gained" (green), only in the pre-trained list "lost" (red). The
// overview grid gives every head's changed share 1 - |E_pt ∩ E_ft| / |E_pt ∪ E_ft|
// (paperlib.measures.attention_stats.changed_share, ordered pairs).

import {decodedData, fmt, h, numCell, select} from "./common.js";

export function preparePairs({meta, arrays}) {
  return {meta, A: arrays, L: meta.layers.length, H: meta.heads};
}

export function headPairs(P, name, li, head) {
  const A = P.A, start = A[`${name}_start`], i = li * P.H + head, out = [];
  for (let j = start[i]; j < start[i + 1]; j++) {
    out.push([P.meta.words[A[`${name}_q`][j]], P.meta.words[A[`${name}_k`][j]]]);
  }
  return out;
}

const key = (pair) => `${pair[0]}\u0000${pair[1]}`;

export function changedShare(pt, ft) {
  const a = new Set(pt.map(key)), b = new Set(ft.map(key));
  let both = 0;
  for (const x of a) if (b.has(x)) both++;
  const union = a.size + b.size - both;
  return union === 0 ? NaN : 1 - both / union;
}

function pairList(pairs, other, cls, state) {
  const others = new Set(other.map(key)), word = state.word.trim().toLowerCase();
  const items = [];
  pairs.forEach((p, r) => {
    if (word && p[0].toLowerCase() !== word && p[1].toLowerCase() !== word) return;
    if (items.length >= state.top) return;
    const mark = (w) => (word && w.toLowerCase() === word ? h("span", {class: "plx-hit", text: w}) : w);
    items.push(h("li", {value: String(r + 1), class: others.has(key(p)) ? "" : cls,
                        title: others.has(key(p)) ? "in both lists" : cls.replace("plx-", "")},
                 mark(p[0]), " → ", mark(p[1])));
  });
  return h("ol", {class: "plx-pairs"}, ...items);
}

function overview(state) {
  const {P} = state, head = h("tr", {}, h("th", {text: "layer \\ head"}),
    ...Array.from({length: P.H}, (_, k) => h("th", {text: String(k)})));
  const rows = P.meta.layers.map((layer, li) => h("tr", {}, h("th", {text: String(layer + 1)}),
    ...Array.from({length: P.H}, (_, k) => {
      const s = changedShare(headPairs(P, "pt", li, k), headPairs(P, "ft", li, k));
      const shade = Number.isNaN(s) ? "#eee" : `rgb(255,${Math.round(255 - 150 * s)},${Math.round(255 - 200 * s)})`;
      const current = li === state.li && k === state.head ? " plx-current" : "";
      return h("td", {class: `plx-gcell${current}`, style: `background:${shade}`, "data-key": `pairs.changed.${layer}.${k}`,
                      "data-value": String(s), title: `layer ${layer + 1}, head ${k}: changed share ${fmt(s, 3)}`,
                      onclick: () => state.go(li, k)});
    })));
  return h("table", {class: "plx-grid"}, h("caption", {text: "changed share per head (darker: more changed); click a head"}),
           h("thead", {}, head), h("tbody", {}, ...rows));
}

function headPanel(state) {
  const {P} = state, layer = P.meta.layers[state.li], roles = P.meta.roles;
  const pt = headPairs(P, "pt", state.li, state.head), ft = headPairs(P, "ft", state.li, state.head);
  const inFt = new Set(ft.map(key)), kept = pt.filter((p) => inFt.has(key(p))).length;
  const s = changedShare(pt, ft);
  const n = (k, x, shown) => numCell(k, x, shown === undefined ? String(x) : shown, "b");
  const summary = h("p", {class: "plx-summary"}, h("b", {text: `Layer ${layer + 1}, head ${state.head}: `}),
    n("pairs.n_pt", pt.length), ` pairs ${roles.pt}, `, n("pairs.n_ft", ft.length), ` ${roles.ft}; `,
    n("pairs.kept", kept), " in both, ", n("pairs.gained", ft.length - kept), " gained, ",
    n("pairs.lost", pt.length - kept), " lost; changed share 1 − |both| / |either| = ",
    n("pairs.changed", s, fmt(s, 3)), ".");
  const col = (title, pairs, other, cls) => h("div", {}, h("b", {text: `${title} (${pairs.length} pairs)`}),
                                              pairList(pairs, other, cls, state));
  return h("div", {}, summary, h("div", {class: "plx-cols2"},
    col(roles.pt, pt, ft, "plx-lost"), col(roles.ft, ft, pt, "plx-gained")),
    h("p", {class: "plx-muted", text: "query word → key word, most common over the head's neurons first; " +
      "green: only in the tuned list (gained), red: only in the pre-trained list (lost)."}));
}

function controls(state, update) {
  const {P} = state;
  state.layerSel = select(P.meta.layers.map((l, i) => [i, `layer ${l + 1}`]), state.li,
                          (v) => { state.li = Number(v); update(); }, {"aria-label": "layer"});
  state.headSel = select(Array.from({length: P.H}, (_, k) => [k, `head ${k}`]), state.head,
                         (v) => { state.head = Number(v); update(); }, {"aria-label": "head"});
  const tops = [[10, "10 pairs"], [20, "20 pairs"], [50, "50 pairs"], [100000, "all pairs"]];
  const topSel = select(tops, tops.some(([v]) => v === state.top) ? state.top : 20,
                        (v) => { state.top = Number(v); update(); }, {"aria-label": "pairs shown"});
  const word = h("input", {type: "search", class: "plx-search", placeholder: "only pairs with this word",
                           "aria-label": "word filter"});
  word.addEventListener("input", () => { state.word = word.value; update(); });
  return h("div", {class: "plx-row"}, state.layerSel, state.headSel, topSel, word);
}

async function render({model, el}) {
  el.classList.add("plx", "jupyter-widgets");  // ipywidgets' mark of a rendered view
  const P = await decodedData(model, preparePairs);
  const li0 = Math.max(0, P.meta.layers.indexOf(model.get("layer")));
  const state = {P, li: li0, head: Math.min(model.get("head"), P.H - 1), top: model.get("top"), word: ""};
  const root = h("div", {class: "plx-root"}), body = h("div", {}), grid = h("div", {});
  const update = () => {
    state.layerSel.value = String(state.li);
    state.headSel.value = String(state.head);
    body.replaceChildren(headPanel(state));
    grid.replaceChildren(overview(state));
    Object.assign(root.dataset, {layer: String(P.meta.layers[state.li]), head: String(state.head), ready: "true"});
    model.set("layer", P.meta.layers[state.li]); model.set("head", state.head); model.save_changes();
  };
  state.go = (li, k) => { state.li = li; state.head = k; update(); };
  root.append(controls(state, update), body, grid);
  el.append(root);
  update();
}

export default {render};
