// Heat maps of one case, LLaMA beside Vicuna: rows = prompt tokens (instruction
// tokens in bold navy with a navy tick), columns = the first response tokens,
// colour = S (matplotlib "Reds", 0..L); cells with S <= b are blank, as in the
// book's figures (paperlib.book.plots.salient_pair). Hovering a cell shows the two
// tokens, S and whether the row is an instruction token.

import {h, reds} from "./common.js";

const TITLES = {llama: "LLaMA (pre-trained)", vicuna: "Vicuna (instruction-tuned)"};
const LABEL_W = 112, GAP = 18, NAVY = "#000080";

export function mapsPanel() {
  const canvas = h("canvas", {class: "plx-canvas", "aria-label": "salient maps"});
  const tip = h("div", {class: "plx-tip", role: "status"});
  const root = h("div", {class: "plx-maps"}, canvas, tip);
  return {root, canvas, tip, layout: null};
}

export function cellValue(F, model, c, i, j) {
  // S[i, j] of case c (j below the stored columns), from the nibble stream
  const A = F.A, width = Math.min(F.M[model][c], F.meta.map_columns);
  const idx = A[`${model}_map_start`][c] + i * width + j, byte = A[`${model}_map`][idx >> 1];
  return idx & 1 ? byte >> 4 : byte & 15;
}

function layoutOf(state, width) {
  const {F} = state, c = state.caseIdx, n = F.A.n[c];
  const cols = {}, x0 = {};
  for (const m of F.models) cols[m] = Math.min(F.M[m][c], F.meta.map_columns, state.cols);
  const perMap = (width - LABEL_W - GAP - 4) / 2;
  const cw = Math.max(2, Math.min(14, Math.floor(perMap / Math.max(1, state.cols))));
  const ch = Math.max(2, Math.min(14, Math.floor(640 / Math.max(1, n))));
  const colLabels = cw >= 8, top = 20 + (colLabels ? 58 : 4);
  F.models.forEach((m, k) => { x0[m] = LABEL_W + k * (state.cols * cw + GAP); });
  return {c, n, cols, x0, cw, ch, colLabels, top, width, height: top + n * ch + 6};
}

function drawCells(ctx, state, lay, m) {
  const {F} = state, {c, n, cw, ch} = lay, cols = lay.cols[m];
  if (!cols) return;
  const off = document.createElement("canvas");
  off.width = cols; off.height = n;
  const img = off.getContext("2d").createImageData(cols, n), L = F.meta.L;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < cols; j++) {
      const v = cellValue(F, m, c, i, j), rgb = reds((v > state.b ? v : 0) / L), o = 4 * (i * cols + j);
      img.data[o] = rgb[0]; img.data[o + 1] = rgb[1]; img.data[o + 2] = rgb[2]; img.data[o + 3] = 255;
    }
  }
  off.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, lay.x0[m], lay.top, cols * cw, n * ch);
  ctx.strokeStyle = "#999";
  ctx.strokeRect(lay.x0[m] - 0.5, lay.top - 0.5, cols * cw + 1, n * ch + 1);
}

function drawLabels(ctx, state, lay) {
  const {F} = state, A = F.A, r0 = A.row_start[lay.c], size = Math.min(lay.ch - 1, 11);
  ctx.textBaseline = "middle";
  for (let i = 0; i < lay.n; i++) {
    const instr = A.mask[r0 + i] === 1, y = lay.top + (i + 0.5) * lay.ch;
    if (instr) {
      ctx.fillStyle = NAVY;
      for (const m of F.models) ctx.fillRect(lay.x0[m] - 5, lay.top + i * lay.ch, 3, lay.ch);
    }
    if (size < 6) continue;
    ctx.font = `${instr ? "bold " : ""}${size}px sans-serif`;
    ctx.fillStyle = instr ? NAVY : "#333";
    ctx.textAlign = "right";
    ctx.fillText(F.meta.labels[A.prompt_label[r0 + i]].slice(0, 16), LABEL_W - 8, y);
  }
}

function drawTitles(ctx, state, lay) {
  const {F} = state, c = lay.c;
  ctx.textAlign = "left"; ctx.textBaseline = "alphabetic"; ctx.fillStyle = "#111";
  for (const m of F.models) {
    ctx.font = "bold 11px sans-serif";
    const shown = lay.cols[m] < F.M[m][c] ? `, first ${lay.cols[m]} of ${F.M[m][c]}` : `, all ${F.M[m][c]}`;
    ctx.fillText(`${TITLES[m]}${shown}`, lay.x0[m], 13);
    if (!lay.colLabels) continue;
    const A = F.A, start = A[`${m}_resp_start`][c], labels = A[`${m}_resp_label`];
    ctx.font = `${Math.min(lay.cw - 1, 10)}px sans-serif`;
    for (let j = 0; j < lay.cols[m]; j++) {
      ctx.save();
      ctx.translate(lay.x0[m] + (j + 0.5) * lay.cw + 3, lay.top - 3);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText(F.meta.labels[labels[start + j]].slice(0, 10), 0, 0);
      ctx.restore();
    }
  }
}

export function drawMaps(state, panel) {
  const width = Math.max(480, panel.root.clientWidth || 720), lay = layoutOf(state, width);
  const dpr = window.devicePixelRatio || 1, canvas = panel.canvas;
  canvas.width = Math.round(lay.width * dpr); canvas.height = Math.round(lay.height * dpr);
  canvas.style.width = `${lay.width}px`; canvas.style.height = `${lay.height}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, lay.width, lay.height);
  for (const m of state.F.models) drawCells(ctx, state, lay, m);
  drawLabels(ctx, state, lay);
  drawTitles(ctx, state, lay);
  panel.layout = lay;
  // geometry of the cells, for tests that hover a given cell
  canvas.dataset.layout = JSON.stringify({top: lay.top, cw: lay.cw, ch: lay.ch, x0: lay.x0, cols: lay.cols, n: lay.n});
  if (!panel.hover) {
    panel.hover = true;
    canvas.addEventListener("mousemove", (ev) => showTip(state, panel, ev));
    canvas.addEventListener("mouseleave", () => { panel.tip.style.display = "none"; });
  }
}

// What is under (x, y) of the canvas: {model, i, j} (j = -1 on the row labels) or null.
export function hitTest(state, lay, x, y) {
  const i = Math.floor((y - lay.top) / lay.ch);
  if (i < 0 || i >= lay.n) return null;
  if (x < LABEL_W - 4) return {model: null, i, j: -1};
  for (const m of state.F.models) {
    const j = Math.floor((x - lay.x0[m]) / lay.cw);
    if (j >= 0 && j < lay.cols[m]) return {model: m, i, j};
  }
  return null;
}

function showTip(state, panel, ev) {
  const lay = panel.layout, rect = panel.canvas.getBoundingClientRect();
  const x = ev.clientX - rect.left, y = ev.clientY - rect.top, hit = lay && hitTest(state, lay, x, y);
  const tip = panel.tip;
  if (!hit) { tip.style.display = "none"; return; }
  const {F} = state, A = F.A, c = lay.c, r = A.row_start[c] + hit.i, instr = A.mask[r] === 1;
  const rowText = `prompt token ${hit.i + 1} “${F.meta.labels[A.prompt_label[r]]}” · ` +
                  (instr ? "instruction token" : "not an instruction token");
  let text = rowText, s = "";
  if (hit.model) {
    const m = hit.model, v = cellValue(F, m, c, hit.i, hit.j);
    const resp = F.meta.labels[A[`${m}_resp_label`][A[`${m}_resp_start`][c] + hit.j]];
    s = String(v);
    text = `${TITLES[m]} · ${rowText} · response token ${hit.j + 1} “${resp}” · S = ${v}` +
           (v > state.b ? "" : ` (≤ b = ${state.b}: blank)`);
  }
  Object.assign(tip.dataset, {model: hit.model || "", row: String(hit.i), col: String(hit.j), s,
                              instruction: String(instr)});
  tip.textContent = text;
  tip.style.display = "block";
  tip.style.left = `${Math.min(x + 12, lay.width - 260)}px`;
  tip.style.top = `${y + 14}px`;
}
