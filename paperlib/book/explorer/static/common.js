// Shared helpers of the paperlib explorer widgets (bundled in front of each
// widget module by paperlib.book.explorer.widgets.esm_source).
//
// Data: one zlib-compressed container per widget (paperlib/book/explorer/binpack.py):
//   "PLX1" | uint32 header length | JSON header | arrays (8-byte aligned).
// The browser inflates it with its own DecompressionStream; arrays are viewed in place.

export const TYPED = {u1: Uint8Array, i1: Int8Array, u2: Uint16Array, i2: Int16Array,
                      u4: Uint32Array, i4: Int32Array, f4: Float32Array, f8: Float64Array};

export function asBytes(value) {
  // A widget buffer arrives as a DataView (html-manager, Jupyter), an ArrayBuffer or a typed array.
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (value && value.buffer instanceof ArrayBuffer) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  throw new Error("explorer: the widget holds no data buffer");
}

export async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export function unpackRaw(raw) {
  const magic = String.fromCharCode(raw[0], raw[1], raw[2], raw[3]);
  if (magic !== "PLX1") throw new Error("explorer: not a packed widget blob");
  const length = new DataView(raw.buffer, raw.byteOffset + 4, 4).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(raw.subarray(8, 8 + length)));
  const arrays = {};
  for (const row of header.arrays) {
    const Typed = TYPED[row.dtype];
    const start = raw.byteOffset + row.offset;
    // offsets are 8-byte aligned in the blob; copy when the buffer itself is not
    const aligned = start % Typed.BYTES_PER_ELEMENT === 0;
    const bytes = aligned ? raw : raw.slice(row.offset, row.offset + row.nbytes);
    const offset = aligned ? start : 0;
    arrays[row.name] = new Typed(bytes.buffer, offset, row.nbytes / Typed.BYTES_PER_ELEMENT);
  }
  return {meta: header.meta, arrays};
}

export async function unpack(value) {
  return unpackRaw(await inflate(asBytes(value)));
}

// One decoded data set per widget model, however many views show it.
const DECODED = new WeakMap();
export function decodedData(model, prepare) {
  let entry = DECODED.get(model);
  const value = model.get("data");
  if (!entry || entry.value !== value) {
    entry = {value, promise: unpack(value).then(prepare)};
    DECODED.set(model, entry);
  }
  return entry.promise;
}

export function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
                                                  '"': "&quot;", "'": "&#39;"}[c]));
}

export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) node.append(c);
  }
  return node;
}

export function fmt(x, digits) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  if (!Number.isFinite(x)) return x > 0 ? "∞" : "−∞";
  return x.toFixed(digits);
}

export function fmtP(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  if (x === 0) return "0";
  return x < 1e-3 ? x.toExponential(1) : x.toFixed(4);
}

// An element (a table cell by default) that shows a rounded number and carries
// the exact value in data-value, named by data-key.
export function numCell(key, x, shown, tag = "td") {
  const exact = x === null || x === undefined || Number.isNaN(x) ? "NaN" : String(x);
  return h(tag, {class: "plx-num", "data-key": key, "data-value": exact, title: exact, text: shown});
}

export function select(options, value, onchange, attrs) {
  const node = h("select", attrs || {});
  for (const [v, label] of options) node.append(h("option", {value: String(v), text: label}));
  node.value = String(value);
  node.addEventListener("change", () => onchange(node.value));
  return node;
}

// matplotlib's "Reds" colour map (9 stops), for values in [0, 1].
const REDS = [[255, 245, 240], [254, 224, 210], [252, 187, 161], [252, 146, 114],
              [251, 106, 74], [239, 59, 44], [203, 24, 29], [165, 15, 21], [103, 0, 13]];
export function reds(t) {
  const x = Math.min(1, Math.max(0, t)) * (REDS.length - 1);
  const i = Math.min(REDS.length - 2, Math.floor(x));
  const f = x - i;
  return REDS[i].map((c, k) => Math.round(c + f * (REDS[i + 1][k] - c)));
}

export function timed(fn) {
  const t0 = performance.now();
  const out = fn();
  return [out, performance.now() - t0];
}
