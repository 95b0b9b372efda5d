// Finding 1 in the browser: densities, instruction scores, Tables 1-2, Fig 6 and
// the sensitivity grid, exactly as paperlib.paper.finding1 (threshold mode, L = 10,
// responses shorter than min_response tokens dropped). Pure functions of the
// prepared data F (no DOM), so that the tests can run them in node.

import {meanStd, welchLess} from "./stats.js";

export const P_VALUES = [1, 2, 4, 8, Infinity];
export const GRID_B = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];  // paperlib's sensitivity default

export function prepare({meta, arrays}) {
  const A = arrays, C = meta.ids.length, R = A.prompt_label.length;
  const F = {meta, A, C, R, models: meta.models, hist: {}, M: {}};
  for (const m of meta.models) {
    const lo = A[`${m}_hist_lo`], hi = A[`${m}_hist_hi`], H = new Uint16Array(R * 10);
    for (let v = 0; v < 10; v++) {
      for (let r = 0; r < R; r++) H[r * 10 + v] = lo[v * R + r] + 256 * hi[v * R + r];
    }
    F.hist[m] = H;
    F.M[m] = A[`${m}_m`];
  }
  F.k = new Int32Array(C);
  for (let c = 0; c < C; c++) {
    for (let r = A.row_start[c]; r < A.row_start[c + 1]; r++) F.k[c] += A.mask[r];
  }
  return F;
}

export function parseP(p) {
  if (p === Infinity || p === "inf" || p === "∞") return Infinity;
  const x = Number(p);
  if (!(x >= 1)) throw new Error(`p must be >= 1 or inf, got ${p}`);
  return x;
}

function powTable(p) {
  // (v / top) ** p for top, v in 1..10: index top * 11 + v
  const t = new Float64Array(121);
  for (let top = 1; top <= 10; top++) {
    for (let v = 1; v <= top; v++) t[top * 11 + v] = Math.pow(v / top, p);
  }
  return t;
}

// Density a_n = ||S_n||_1 / ||S_n||_p of every prompt row (values S <= b zeroed),
// divided by its case's maximum: paperlib.measures.density.density per case.
export function densities(F, model, b, p) {
  const H = F.hist[model], rs = F.A.row_start, out = new Float64Array(F.R);
  const pw = p === Infinity ? null : powTable(p);
  for (let c = 0; c < F.C; c++) {
    let amax = 0;
    for (let r = rs[c]; r < rs[c + 1]; r++) {
      let top = 0, l1 = 0, s = 0;
      for (let v = 10; v > b; v--) {
        const n = H[r * 10 + v - 1];
        if (n === 0) continue;
        if (top === 0) top = v;
        l1 += v * n;
        if (pw) s += n * pw[top * 11 + v];
      }
      if (top === 0) continue;
      const a = l1 / (pw ? top * Math.pow(s, 1 / p) : top);
      out[r] = a;
      if (a > amax) amax = a;
    }
    if (amax > 0) for (let r = rs[c]; r < rs[c + 1]; r++) out[r] /= amax;
  }
  return out;
}

// Instruction score of every case: sum of the instruction rows' densities / log2(2 + k).
export function scores(F, dens) {
  const rs = F.A.row_start, mask = F.A.mask, out = new Float64Array(F.C);
  for (let c = 0; c < F.C; c++) {
    let sum = 0;
    for (let r = rs[c]; r < rs[c + 1]; r++) if (mask[r]) sum += dens[r];
    out[c] = sum / Math.log2(2 + F.k[c]);
  }
  return out;
}

function byDataset(F) {
  return F.meta.datasets.map(() => ({x: [], y: []}));
}

// Table 1 groups: Vicuna's scores, x = unfollowed (rating 1), y = followed (2-4).
export function table1Groups(F, vicunaScores) {
  const g = byDataset(F), A = F.A, minimum = F.meta.min_response;
  for (let c = 0; c < F.C; c++) {
    if (A.rating[c] <= 0 || F.M.vicuna[c] < minimum) continue;
    (A.rating[c] === 1 ? g[A.dataset[c]].x : g[A.dataset[c]].y).push(vicunaScores[c]);
  }
  return g;
}

// Table 2 groups: x = LLaMA's scores, y = Vicuna's, each on its own responses.
export function table2Groups(F, sc) {
  const g = byDataset(F), A = F.A, minimum = F.meta.min_response;
  for (let c = 0; c < F.C; c++) {
    if (F.M.llama[c] >= minimum) g[A.dataset[c]].x.push(sc.llama[c]);
    if (F.M.vicuna[c] >= minimum) g[A.dataset[c]].y.push(sc.vicuna[c]);
  }
  return g;
}

export function compare(groups) {
  return groups.map(({x, y}) => ({x: meanStd(x), y: meanStd(y), test: welchLess(x, y)}));
}

// Fig 6: mean share of a sentence's density in each of its n_segments parts
// (np.array_split: the first parts take the extra tokens); sentences shorter than
// n_segments tokens or of zero density skipped.
export function fig6(F, model, dens) {
  const A = F.A, nseg = F.meta.n_segments, minimum = Math.max(F.meta.min_response, 1);
  const acc = F.meta.datasets.map(() => ({sum: new Float64Array(nseg), n: 0}));
  for (let c = 0; c < F.C; c++) {
    if (F.M[model][c] < minimum) continue;
    const base = A.row_start[c], d = acc[A.dataset[c]];
    for (let s = A.span_start[c]; s < A.span_start[c + 1]; s++) {
      const a0 = base + A.span_a[s], len = A.span_b[s] - A.span_a[s];
      if (len < nseg) continue;
      let total = 0;
      for (let r = a0; r < a0 + len; r++) total += dens[r];
      if (!(total > 0)) continue;
      const size = Math.floor(len / nseg), extra = len % nseg;
      let pos = a0;
      for (let k = 0; k < nseg; k++) {
        const end = pos + size + (k < extra ? 1 : 0);
        let part = 0;
        for (let r = pos; r < end; r++) part += dens[r];
        d.sum[k] += part / total;
        pos = end;
      }
      d.n += 1;
    }
  }
  return acc.map(({sum, n}) => ({share: Array.from(sum, (v) => (n ? v / n : NaN)), n}));
}

// Everything the page shows at one (b, p).
export function compute(F, b, p) {
  const dens = {}, sc = {};
  for (const m of F.models) {
    dens[m] = densities(F, m, b, p);
    sc[m] = scores(F, dens[m]);
  }
  const profile = {};
  for (const m of F.models) profile[m] = fig6(F, m, dens[m]);
  return {b, p, dens, sc, table1: compare(table1Groups(F, sc.vicuna)),
          table2: compare(table2Groups(F, sc)), fig6: profile};
}

// The sensitivity grid: separation mean(y) - mean(x) and Welch p of both tables
// for every b of GRID_B and p of P_VALUES (paperlib.paper.finding1.sensitivity).
export function grid(F) {
  const cells = [];
  for (const b of GRID_B) {
    for (const p of P_VALUES) {
      const sc = {};
      for (const m of F.models) sc[m] = scores(F, densities(F, m, b, p));
      const row = {b, p};
      for (const [name, groups] of [["table1", table1Groups(F, sc.vicuna)],
                                    ["table2", table2Groups(F, sc)]]) {
        row[name] = groups.map(({x, y}) => {
          const ok = x.length >= 2 && y.length >= 2;
          return {separation: ok ? meanStd(y).mean - meanStd(x).mean : NaN,
                  p: ok ? welchLess(x, y).p : NaN, nx: x.length, ny: y.length};
        });
      }
      cells.push(row);
    }
  }
  return cells;
}
