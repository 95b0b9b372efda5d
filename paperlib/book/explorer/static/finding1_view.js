// The Finding 1 explorer's view (anywidget front-end): controls, the LLaMA /
// Vicuna heat maps of one case, Tables 1-2, the Fig 6 profile and the sensitivity
// grid, recomputed in the page (finding1_compute.js) whenever b or p changes.
// Every number shown carries its exact value in data-value (data-key names it).

import {decodedData, fmt, fmtP, h, numCell, select, timed} from "./common.js";
import {GRID_B, P_VALUES, compute, grid, parseP, prepare} from "./finding1_compute.js";
import {drawMaps, mapsPanel} from "./finding1_maps.js";

const DS_LABEL = {"self-instruct": "Self-Instruct", "lima": "LIMA", "mt-bench": "MT-Bench"};
const pLabel = (p) => (p === Infinity ? "∞" : String(p));
const pTrait = (p) => (p === Infinity ? "inf" : String(p));

function ratingLabel(r) {
  if (r <= 0) return "not rated";
  return `rated ${r} (${r === 1 ? "unfollowed" : "followed"})`;
}

function makeState(model, F) {
  const ids = F.meta.ids, sections = new Set(model.get("sections"));
  const c = ids.indexOf(model.get("case_id"));
  return {model, F, sections, b: model.get("b"), p: parseP(model.get("p")),
          caseIdx: c < 0 ? 0 : c, dataset: "all", query: "", cols: model.get("columns"),
          result: null, grid: null, ms: NaN};
}

function push(state, names) {
  // tell the kernel (if any); without one this only updates the page's model
  const m = state.model;
  if (names.includes("b")) m.set("b", state.b);
  if (names.includes("p")) m.set("p", pTrait(state.p));
  if (names.includes("case")) m.set("case_id", state.F.meta.ids[state.caseIdx]);
  m.save_changes();
}

// ---- controls ------------------------------------------------------------------

function visibleCases(state) {
  const {F} = state, q = state.query.trim().toLowerCase(), out = [];
  for (let c = 0; c < F.C; c++) {
    if (state.dataset !== "all" && F.meta.datasets[F.A.dataset[c]] !== state.dataset) continue;
    if (q && !F.meta.ids[c].toLowerCase().includes(q)
        && !F.meta.snippets[c].toLowerCase().includes(q)) continue;
    out.push(c);
  }
  return out;
}

function fillCaseList(state, view) {
  const {F} = state, list = visibleCases(state), sel = view.caseSelect;
  sel.replaceChildren(...list.map((c) => h("option", {value: String(c),
    text: `${F.meta.ids[c]} · ${ratingLabel(F.A.rating[c])} · ${F.meta.snippets[c].slice(0, 70)}`})));
  view.caseCount.textContent = `${list.length} of ${F.C} cases`;
  if (list.length && !list.includes(state.caseIdx)) {
    state.caseIdx = list[0];
    push(state, ["case"]);
  }
  sel.value = String(state.caseIdx);
  return list.length > 0;
}

function caseControls(state, view, update) {
  const datasets = [["all", "all data sets"], ...state.F.meta.datasets.map((d) => [d, DS_LABEL[d] || d])];
  const search = h("input", {type: "search", class: "plx-search", placeholder: "search a case id or prompt text",
                             "aria-label": "search cases"});
  view.caseSelect = h("select", {class: "plx-case", "aria-label": "case"});
  view.caseCount = h("span", {class: "plx-muted"});
  const refill = () => { if (fillCaseList(state, view)) update(false); };
  search.addEventListener("input", () => { state.query = search.value; refill(); });
  view.caseSelect.addEventListener("change", () => {
    state.caseIdx = Number(view.caseSelect.value);
    push(state, ["case"]);
    update(false);
  });
  const ds = select(datasets, "all", (v) => { state.dataset = v; refill(); }, {"aria-label": "data set"});
  fillCaseList(state, view);
  return h("div", {class: "plx-row"}, h("label", {text: "Case "}, ds), search, view.caseSelect, view.caseCount);
}

function paramControls(state, view, update) {
  const slider = h("input", {type: "range", min: "0", max: "10", step: "1", value: String(state.b),
                             class: "plx-b", "aria-label": "cutoff b"});
  view.bOut = h("output", {class: "plx-bval", text: String(state.b)});
  slider.addEventListener("input", () => {
    state.b = Number(slider.value);
    push(state, ["b"]);
    update(true);
  });
  view.bSlider = slider;
  view.pButtons = P_VALUES.map((p) => h("button", {type: "button", class: "plx-p", "data-p": pTrait(p),
    text: pLabel(p), onclick: () => { state.p = p; push(state, ["p"]); update(true); }}));
  const parts = [h("label", {class: "plx-ctl"}, "cutoff b ", slider, " ", view.bOut),
                 h("span", {class: "plx-ctl"}, "norm p ", ...view.pButtons)];
  if (state.sections.has("maps")) {
    const widths = [...new Set([30, 60, 120, state.cols])].sort((a, b) => a - b);
    const choices = widths.filter((n) => n <= state.F.meta.map_columns).map((n) => [n, `${n} columns`]);
    parts.push(select(choices, state.cols, (v) => { state.cols = Number(v); update(false); },
                      {"aria-label": "response tokens shown", class: "plx-cols"}));
  }
  return h("div", {class: "plx-row"}, ...parts);
}

// ---- tables ----------------------------------------------------------------------

const T1 = {title: "Table 1 · Vicuna: followed vs unfollowed responses",
            y: ["followed", "followed"], x: ["unfollowed", "unfollowed"], key: "table1",
            h0: "H0: mean(unfollowed) ≥ mean(followed)"};
const T2 = {title: "Table 2 · every case: Vicuna vs LLaMA, each on its own responses",
            y: ["vicuna", "Vicuna"], x: ["llama", "LLaMA"], key: "table2",
            h0: "H0: mean(LLaMA) ≥ mean(Vicuna)"};

function tableRow(spec, ds, row, paper) {
  const k = `${spec.key}.${ds}`, [yn] = spec.y, [xn] = spec.x;
  const cells = [h("td", {text: DS_LABEL[ds] || ds})];
  for (const [name, g] of [[yn, row.y], [xn, row.x]]) {
    cells.push(numCell(`${k}.${name}_mean`, g.mean, fmt(g.mean, 4)),
               numCell(`${k}.${name}_std`, g.std, fmt(g.std, 3)),
               numCell(`${k}.n_${name}`, g.n, String(g.n)));
  }
  cells.push(numCell(`${k}.p_value`, row.test.p, fmtP(row.test.p)));
  const pv = paper ? paper[ds] : null;
  cells.push(numCell(`${k}.paper_${yn}_mean`, pv ? pv[`${yn}_mean`] : NaN, pv ? fmt(pv[`${yn}_mean`], 4) : "–"),
             numCell(`${k}.paper_${xn}_mean`, pv ? pv[`${xn}_mean`] : NaN, pv ? fmt(pv[`${xn}_mean`], 4) : "–"),
             numCell(`${k}.paper_p_value`, pv ? pv.p_value : NaN, pv ? fmtP(pv.p_value) : "–"));
  return h("tr", {}, ...cells);
}

function statsTable(state, spec, rows) {
  const {F} = state, paper = F.meta.paper ? F.meta.paper[spec.key] : null;
  const head1 = h("tr", {}, h("th", {rowspan: "2", text: "data set"}),
                  h("th", {colspan: "3", text: spec.y[1]}), h("th", {colspan: "3", text: spec.x[1]}),
                  h("th", {rowspan: "2", text: "p (one-sided)"}), h("th", {colspan: "3", text: "paper"}));
  const head2 = h("tr", {}, ..."mean std n mean std n".split(" ").map((t) => h("th", {text: t})),
                  ...[spec.y[1], spec.x[1], "p"].map((t) => h("th", {text: t})));
  const body = F.meta.datasets.map((ds, i) => tableRow(spec, ds, rows[i], paper));
  const caption = `${spec.title} — instruction score at b = ${state.b}, p = ${pLabel(state.p)}; ` +
                  `mean, population std, n; Welch one-sided p, ${spec.h0}.`;
  return h("table", {class: "plx-table", "data-table": spec.key}, h("caption", {text: caption}),
           h("thead", {}, head1, head2), h("tbody", {}, ...body));
}

// ---- Fig 6 profile -----------------------------------------------------------------

const COLORS = {llama: "#1f77b4", vicuna: "#d62728"};

function profileChart(state, ds, i) {
  const W = 210, H = 150, L = 36, B = 24, T = 18, svg = [], res = state.result.fig6;
  const nseg = state.F.meta.n_segments, x = (k) => L + (k + 0.5) * (W - L - 6) / nseg;
  const y = (v) => T + (1 - v / 0.5) * (H - T - B);
  svg.push(`<text x="${W / 2}" y="12" text-anchor="middle" class="plx-svgtitle">${DS_LABEL[ds] || ds}</text>`);
  for (const v of [0, 0.25, 0.5]) {
    svg.push(`<line x1="${L}" x2="${W - 4}" y1="${y(v)}" y2="${y(v)}" class="plx-gridline"/>`,
             `<text x="${L - 4}" y="${y(v) + 3}" text-anchor="end">${v.toFixed(2)}</text>`);
  }
  for (let k = 0; k < nseg; k++) svg.push(`<text x="${x(k)}" y="${H - 8}" text-anchor="middle">${k + 1}</text>`);
  for (const m of state.F.models) {
    // no sentence kept (e.g. b = 10 zeroes every density): nothing to draw
    const pts = res[m][i].share.map((v, k) => [x(k), y(v)]).filter(([, py]) => Number.isFinite(py));
    if (pts.length) svg.push(`<polyline points="${pts.map((q) => q.join(",")).join(" ")}" fill="none" stroke="${COLORS[m]}" stroke-width="2"/>`);
    pts.forEach(([px, py]) => svg.push(`<circle cx="${px}" cy="${py}" r="2.5" fill="${COLORS[m]}"/>`));
  }
  const node = h("div", {class: "plx-chart"});
  node.innerHTML = `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">${svg.join("")}</svg>`;
  return node;
}

function profilePanel(state) {
  const {F} = state, res = state.result.fig6, nseg = F.meta.n_segments;
  const charts = h("div", {class: "plx-charts"}, ...F.meta.datasets.map((ds, i) => profileChart(state, ds, i)));
  const head = h("tr", {}, h("th", {text: "data set"}), h("th", {text: "model"}),
                 ...Array.from({length: nseg}, (_, k) => h("th", {text: `segment ${k + 1}`})),
                 h("th", {text: "sentences"}));
  const rows = [];
  F.meta.datasets.forEach((ds, i) => F.models.forEach((m) => rows.push(h("tr", {},
    h("td", {text: DS_LABEL[ds] || ds}), h("td", {text: m === "llama" ? "LLaMA" : "Vicuna"}),
    ...res[m][i].share.map((v, k) => numCell(`fig6.${ds}.${m}.${k + 1}`, v, fmt(v, 4))),
    numCell(`fig6.${ds}.${m}.n`, res[m][i].n, String(res[m][i].n))))));
  const legend = h("p", {class: "plx-muted"}, h("span", {style: `color:${COLORS.llama}`, text: "■ LLaMA"}), "  ",
                   h("span", {style: `color:${COLORS.vicuna}`, text: "■ Vicuna"}),
                   ` — mean share of a sentence's density in each quarter of the sentence (b = ${state.b}, ` +
                   `p = ${pLabel(state.p)}). Paper: ${F.meta.paper ? F.meta.paper.fig6 : "–"}.`);
  return h("div", {}, h("div", {class: "plx-h", text: "Fig 6 · where in a sentence the importance sits"}), charts, legend,
           h("table", {class: "plx-table", "data-table": "fig6"}, h("thead", {}, head), h("tbody", {}, ...rows)));
}

// ---- sensitivity grid ---------------------------------------------------------------

function gridColor(cell) {
  if (Number.isNaN(cell.p)) return "#eeeeee";
  if (!(cell.separation > 0)) return "#f4a582";
  const strength = Math.min(1, -Math.log10(Math.max(cell.p, 1e-300)) / 10);
  const c = [247 - 200 * strength, 252 - 120 * strength, 245 - 200 * strength].map(Math.round);
  return `rgb(${c.join(",")})`;
}

function gridTable(state, tableKey, ds, i, paper) {
  const cells = state.grid, head = h("tr", {}, h("th", {text: "b \\ p"}),
    ...P_VALUES.map((p) => h("th", {text: pLabel(p)})));
  const rows = GRID_B.map((b) => h("tr", {}, h("th", {text: String(b)}), ...P_VALUES.map((p) => {
    const cell = cells.find((r) => r.b === b && r.p === p)[tableKey][i];
    const cls = ["plx-gcell", b === paper.b && p === paper.p ? "plx-paper" : "",
                 b === state.b && p === state.p ? "plx-current" : ""].join(" ");
    return h("td", {class: cls, style: `background:${gridColor(cell)}`, "data-key": `grid.${tableKey}.${ds}.b${b}.p${pTrait(p)}`,
                    "data-value": String(cell.p), title: `b = ${b}, p = ${pLabel(p)}: separation ` +
                    `${fmt(cell.separation, 4)}, one-sided p ${fmtP(cell.p)} (n ${cell.nx} / ${cell.ny})`,
                    onclick: () => state.setBP(b, p)});
  })));
  return h("table", {class: "plx-grid"}, h("caption", {text: `${tableKey === "table1" ? "Table 1" : "Table 2"} · ${DS_LABEL[ds] || ds}`}),
           h("thead", {}, head), h("tbody", {}, ...rows));
}

function gridPanel(state) {
  const title = h("div", {class: "plx-h", text: "Sensitivity · separation and p-value over the (b, p) grid"});
  if (!state.grid) return h("div", {}, title, h("p", {class: "plx-muted", text: "computing the grid…"}));
  const paper = {b: 7, p: 4, ...(state.F.meta.paper || {})};
  const tables = [];
  for (const key of ["table1", "table2"]) {
    state.F.meta.datasets.forEach((ds, i) => tables.push(gridTable(state, key, ds, i, paper)));
  }
  const note = h("p", {class: "plx-muted", text: "Green: the separation (followed − unfollowed, Vicuna − LLaMA) is " +
    "positive, darker for a smaller one-sided p (full colour at p ≤ 1e-10); orange: no positive separation. " +
    `Black frame: the paper's (b, p) = (${paper.b}, ${paper.p}); blue frame: the current (b, p). Click a cell to move there.`});
  return h("div", {}, title, h("div", {class: "plx-grids"}, ...tables), note);
}

// ---- case header --------------------------------------------------------------------

function caseHeader(state) {
  const {F} = state, c = state.caseIdx, ds = F.meta.datasets[F.A.dataset[c]];
  const sc = state.result.sc, tr = (m) => h("tr", {}, h("td", {text: m === "llama" ? "LLaMA" : "Vicuna"}),
    numCell(`case.${m}.m`, F.M[m][c], String(F.M[m][c])),
    numCell(`case.${m}.score`, sc[m][c], fmt(sc[m][c], 4)));
  return h("div", {class: "plx-case-head"},
    h("p", {}, h("b", {text: F.meta.ids[c]}), ` · ${DS_LABEL[ds] || ds} · Vicuna ${ratingLabel(F.A.rating[c])} · ` +
      `${F.A.n[c]} prompt tokens, ${F.k[c]} of them instruction tokens`),
    h("p", {class: "plx-prompt", text: F.meta.snippets[c]}),
    h("table", {class: "plx-table plx-small", "data-table": "case"},
      h("thead", {}, h("tr", {}, h("th", {text: "model"}), h("th", {text: "response tokens"}),
                       h("th", {text: `instruction score (b = ${state.b}, p = ${pLabel(state.p)})`}))),
      h("tbody", {}, tr("llama"), tr("vicuna"))));
}

// ---- assembly -----------------------------------------------------------------------

function refresh(state, view, recompute) {
  if (recompute || !state.result) {
    [state.result, state.ms] = timed(() => compute(state.F, state.b, state.p));
  }
  view.bSlider.value = String(state.b);
  view.bOut.textContent = String(state.b);
  view.pButtons.forEach((btn) => btn.setAttribute("aria-pressed", String(btn.dataset.p === pTrait(state.p))));
  const s = state.sections;
  if (s.has("maps")) {
    view.head.replaceChildren(caseHeader(state));
    drawMaps(state, view.maps);
  }
  if (s.has("tables")) view.tables.replaceChildren(statsTable(state, T1, state.result.table1),
                                                   statsTable(state, T2, state.result.table2));
  if (s.has("profile")) view.profile.replaceChildren(profilePanel(state));
  if (s.has("grid")) view.grid.replaceChildren(gridPanel(state));
  Object.assign(view.root.dataset, {b: String(state.b), p: pTrait(state.p), case: state.F.meta.ids[state.caseIdx],
                                    recomputeMs: state.ms.toFixed(2), ready: "true"});
  view.timing.textContent = `recomputed in the page in ${state.ms.toFixed(1)} ms`;
}

function buildView(state) {
  const view = {root: h("div", {class: "plx-root"})};
  const update = (recompute) => refresh(state, view, recompute);
  state.setBP = (b, p) => { state.b = b; state.p = p; push(state, ["b", "p"]); update(true); };
  const s = state.sections;
  if (s.has("maps")) view.root.append(caseControls(state, view, update));
  view.root.append(paramControls(state, view, update));
  view.timing = h("span", {class: "plx-muted plx-timing"});
  if (s.has("maps")) {
    view.head = h("div", {});
    view.maps = mapsPanel();
    view.root.append(view.head, view.maps.root);
  }
  for (const name of ["tables", "profile", "grid"]) {
    if (s.has(name)) view.root.append(view[name] = h("div", {class: `plx-${name}`}));
  }
  view.root.append(view.timing);
  return view;
}

async function render({model, el}) {
  el.classList.add("plx", "jupyter-widgets");  // ipywidgets' mark of a rendered view
  const status = h("div", {class: "plx-muted", text: "Loading the cases…"});
  el.append(status);
  const t0 = performance.now();
  const F = await decodedData(model, prepare);
  status.remove();
  const state = makeState(model, F), view = buildView(state);
  el.append(view.root);
  refresh(state, view, true);
  view.root.dataset.openMs = (performance.now() - t0).toFixed(1);  // decode + first computation and drawing
  if (state.sections.has("grid")) {
    setTimeout(() => { state.grid = grid(F); view.grid.replaceChildren(gridPanel(state)); }, 0);
  }
  const fromKernel = () => {  // a change made in Python (or echoed from push)
    const c = F.meta.ids.indexOf(model.get("case_id")), b = model.get("b"), p = parseP(model.get("p"));
    const caseIdx = c < 0 ? state.caseIdx : c;
    if (b === state.b && p === state.p && caseIdx === state.caseIdx) return;
    Object.assign(state, {b, p, caseIdx});
    refresh(state, view, true);
  };
  for (const name of ["b", "p", "case_id"]) model.on(`change:${name}`, fromKernel);
  const resize = new ResizeObserver(() => { if (state.sections.has("maps")) drawMaps(state, view.maps); });
  resize.observe(el);
  return () => {
    resize.disconnect();
    for (const name of ["b", "p", "case_id"]) model.off(`change:${name}`, fromKernel);
  };
}

export default {render};
