"""A compact binary container for the data a browser widget computes on.

One blob per widget, loaded once per page: a JSON header (small metadata and
strings) and named typed arrays, zlib-compressed as a whole. The page inflates
it with the browser's own ``DecompressionStream("deflate")`` (no library) and
views each array in place (``common.js: unpack``). Numbers never travel as JSON
text.

Layout before compression (little-endian)::

    b"PLX1" | uint32 header length H | H bytes of UTF-8 JSON | zero padding to 8
    | array 0 | padding to 8 | array 1 | ...

The header holds ``{"meta": ..., "arrays": [{"name", "dtype", "shape",
"offset", "nbytes"}, ...]}``; offsets count from the start of the blob.
"""
from __future__ import annotations

import json
import struct
import zlib
from typing import Mapping

import numpy as np

from paperlib.core.errors import DataError, ParameterError

MAGIC = b"PLX1"
#: numpy dtype -> the JavaScript typed array that views it (common.js: TYPED)
DTYPES = {"u1": np.uint8, "i1": np.int8, "u2": np.uint16, "i2": np.int16,
          "u4": np.uint32, "i4": np.int32, "f4": np.float32, "f8": np.float64}
_ALIGN = 8


def _pad(n: int) -> int:
    return (-n) % _ALIGN


def _code(arr: np.ndarray, name: str) -> str:
    for code, dtype in DTYPES.items():
        if arr.dtype.newbyteorder("=") == np.dtype(dtype):
            return code
    raise ParameterError(f"array {name!r}: dtype {arr.dtype} cannot be packed "
                         f"(allowed: {', '.join(np.dtype(d).name for d in DTYPES.values())})")


def _layout(meta: dict, arrays: Mapping[str, np.ndarray]) -> tuple[bytes, list[dict]]:
    """Header bytes and the array table, offsets fixed so that they point past it."""
    table = [{"name": k, "dtype": _code(a, k), "shape": list(a.shape), "nbytes": int(a.nbytes)}
             for k, a in arrays.items()]
    offset = 0
    for _ in range(3):  # the header's length depends on the offsets it lists
        header = json.dumps({"meta": meta, "arrays": table}, ensure_ascii=False,
                            separators=(",", ":"), allow_nan=False).encode("utf-8")
        start = 8 + len(header) + _pad(8 + len(header))
        if start == offset:
            break
        offset, pos = start, start
        for row in table:
            row["offset"] = pos
            pos += row["nbytes"] + _pad(row["nbytes"])
    return header, table


def pack(meta: dict, arrays: Mapping[str, np.ndarray], level: int = 9) -> bytes:
    """The zlib-compressed container of ``meta`` (JSON-ready) and ``arrays``."""
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    for k, a in arrays.items():
        _code(a, k)
    arrays = {k: a.astype(a.dtype.newbyteorder("<"), copy=False) for k, a in arrays.items()}
    header, table = _layout(meta, arrays)
    parts = [MAGIC, struct.pack("<I", len(header)), header, b"\0" * _pad(8 + len(header))]
    for row in table:
        parts += [arrays[row["name"]].tobytes(), b"\0" * _pad(row["nbytes"])]
    return zlib.compress(b"".join(parts), level)


def unpack(blob: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """(meta, {name: array}) of a :func:`pack` blob; DataError on a damaged one."""
    try:
        raw = zlib.decompress(blob)
    except zlib.error as exc:
        raise DataError(f"not a packed widget blob: {exc}") from exc
    if raw[:4] != MAGIC or len(raw) < 8:
        raise DataError("not a packed widget blob (bad magic)")
    (length,) = struct.unpack("<I", raw[4:8])
    try:
        header = json.loads(raw[8:8 + length].decode("utf-8"))
    except ValueError as exc:
        raise DataError(f"packed widget blob with an unreadable header: {exc}") from exc
    arrays = {}
    for row in header["arrays"]:
        end = row["offset"] + row["nbytes"]
        if end > len(raw):
            raise DataError(f"packed widget blob truncated in array {row['name']!r}")
        dtype = np.dtype(DTYPES[row["dtype"]]).newbyteorder("<")
        arrays[row["name"]] = np.frombuffer(raw, dtype, offset=row["offset"],
                                            count=row["nbytes"] // dtype.itemsize
                                            ).reshape(row["shape"])
    return header["meta"], arrays


def nibbles(values: np.ndarray) -> np.ndarray:
    """Values 0..15 packed two per byte (element 2i in the low half of byte i)."""
    v = np.asarray(values).ravel()
    if v.size and (v.min() < 0 or v.max() > 15):
        raise ParameterError("nibble packing needs integers in 0..15")
    v = v.astype(np.uint8)
    if v.size % 2:
        v = np.append(v, np.uint8(0))
    return (v[0::2] | (v[1::2] << 4)).astype(np.uint8)


def unnibble(packed: np.ndarray, count: int) -> np.ndarray:
    """Inverse of :func:`nibbles`: the first ``count`` values."""
    p = np.asarray(packed, dtype=np.uint8)
    out = np.empty(2 * p.size, np.uint8)
    out[0::2], out[1::2] = p & 15, p >> 4
    return out[:count]


def string_table(strings) -> tuple[list[str], dict[str, int]]:
    """(distinct strings in first-seen order, string -> index)."""
    index: dict[str, int] = {}
    for s in strings:
        index.setdefault(s, len(index))
    return list(index), index
