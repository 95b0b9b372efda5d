"""The case-set file format: attribution results of one model on many prompts.

A case set is one ``.npz`` file (a zip of ``.npy`` arrays, read with
``allow_pickle=False``; nothing is ever unpickled). The frozen paper data
(``paperlib/paper/released/cases_{llama,vicuna}.npz``) and the output of a live attribution
run use the same schema, so every analysis accepts either as its data source.

Schema ``paperlib.caseset/1`` (C cases; case c has N_c prompt tokens and M_c
response tokens)::

    schema               ()            str    "paperlib.caseset/1"
    model                ()            str    model name, e.g. "vicuna"
    ids                  (C,)          str    case ids, unique
    n, m                 (C,)          int32  N_c and M_c
    explain              (sum N_c*M_c,) uint8 (integers) or float32:
                                              S_c flattened row-major (N_c, M_c)
    prompt_piece_bytes   (sum B,)      uint8  UTF-8 of all prompt pieces, concatenated
    prompt_piece_len     (sum N_c,)    int32  byte length of each prompt piece
    response_piece_bytes (...)         uint8  same for the response pieces
    response_piece_len   (sum M_c,)    int32
    reference_bytes      (...)         uint8  UTF-8 of the reference answers
    reference_len        (C,)          int32

Zip entries carry a fixed timestamp, so writing the same cases twice gives
the same bytes (for a given zlib version).
"""
from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from paperlib.core.errors import DataError
from paperlib.core.io import atomic_path

SCHEMA = "paperlib.caseset/1"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_KEYS = ("schema", "model", "ids", "n", "m", "explain", "prompt_piece_bytes",
         "prompt_piece_len", "response_piece_bytes", "response_piece_len",
         "reference_bytes", "reference_len")


@dataclass(frozen=True)
class RawCase:
    """One case as stored: pieces, reference and the (N, M) attribution matrix."""

    id: str
    prompt_tokens: Sequence[str]
    response_tokens: Sequence[str]
    reference: str
    S: np.ndarray = field(repr=False)


def pack_strings(strings: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 encode and concatenate: returns (bytes (B,) uint8, lengths (K,) int32)."""
    encoded = [s.encode("utf-8") for s in strings]
    blob = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
    return blob, np.array([len(e) for e in encoded], dtype=np.int32)


def unpack_strings(blob: np.ndarray, lengths: np.ndarray) -> list[str]:
    """Inverse of :func:`pack_strings`."""
    raw = blob.tobytes()
    ends = np.cumsum(lengths, dtype=np.int64)
    if len(ends) and ends[-1] != len(raw):
        raise DataError("string table length mismatch (corrupt case set)")
    starts = ends - lengths
    return [raw[s:e].decode("utf-8") for s, e in zip(starts.tolist(), ends.tolist())]


def _explain_array(S: np.ndarray, case_id: str, n: int, m: int) -> np.ndarray:
    S = np.asarray(S)
    if S.size == 0 and n * m == 0:
        return np.zeros((n, m), dtype=np.float32)
    if S.shape != (n, m):
        raise DataError(f"case {case_id}: S has shape {S.shape}, expected (N, M) = ({n}, {m})")
    if not np.all(np.isfinite(S)):
        raise DataError(f"case {case_id}: S holds NaN or inf")
    return S


def _arrays_of(model: str, cases: Sequence[RawCase]) -> dict[str, np.ndarray]:
    ids = [c.id for c in cases]
    if len(set(ids)) != len(ids):
        raise DataError(f"case set for {model!r} has duplicate case ids")
    n = np.array([len(c.prompt_tokens) for c in cases], dtype=np.int32)
    m = np.array([len(c.response_tokens) for c in cases], dtype=np.int32)
    mats = [_explain_array(c.S, c.id, int(a), int(b)) for c, a, b in zip(cases, n, m)]
    flat = np.concatenate([x.reshape(-1) for x in mats]) if mats else np.zeros(0)
    integral = flat.size == 0 or (np.all(flat == np.round(flat)) and flat.min() >= 0
                                  and flat.max() <= 255)
    out = {"schema": np.array(SCHEMA), "model": np.array(model),
           "ids": np.array(ids, dtype=str), "n": n, "m": m,
           "explain": flat.astype(np.uint8 if integral else np.float32)}
    for name, lists in (("prompt", [c.prompt_tokens for c in cases]),
                        ("response", [c.response_tokens for c in cases])):
        out[f"{name}_piece_bytes"], out[f"{name}_piece_len"] = pack_strings(
            p for pieces in lists for p in pieces)
    out["reference_bytes"], out["reference_len"] = pack_strings(c.reference for c in cases)
    return out


def write_case_set(path, model: str, cases: Sequence[RawCase]) -> Path:
    """Write ``cases`` of ``model`` to ``path`` (.npz), atomically and reproducibly."""
    arrays = _arrays_of(model, list(cases))
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED,
                             compresslevel=9) as zf:
            for key in _KEYS:
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.require(arrays[key], requirements='C'),
                                          allow_pickle=False)
                info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, buf.getvalue(), compresslevel=9)
        os.chmod(tmp, 0o644)
    return Path(path)


class CaseSet:
    """A loaded case set; ``get(i)`` gives the i-th case as a :class:`RawCase`."""

    def __init__(self, path, arrays: dict[str, np.ndarray]):
        self.path = Path(path)
        self.model = _scalar_str(arrays["model"])
        self.ids = [str(x) for x in arrays["ids"]]
        self.n = arrays["n"].astype(np.int64)
        self.m = arrays["m"].astype(np.int64)
        self._explain = arrays["explain"]
        self._ex_start = np.concatenate([[0], np.cumsum(self.n * self.m)])
        self._prompt = unpack_strings(arrays["prompt_piece_bytes"], arrays["prompt_piece_len"])
        self._resp = unpack_strings(arrays["response_piece_bytes"], arrays["response_piece_len"])
        self._p_start = np.concatenate([[0], np.cumsum(self.n)])
        self._r_start = np.concatenate([[0], np.cumsum(self.m)])
        self.references = unpack_strings(arrays["reference_bytes"], arrays["reference_len"])
        self.index = {cid: i for i, cid in enumerate(self.ids)}
        self._check()

    def _check(self) -> None:
        c = len(self.ids)
        if len(self.index) != c or len(self.n) != c or len(self.m) != c:
            raise DataError(f"{self.path}: inconsistent case counts")
        if (self._ex_start[-1] != self._explain.size or self._p_start[-1] != len(self._prompt)
                or self._r_start[-1] != len(self._resp) or len(self.references) != c):
            raise DataError(f"{self.path}: array sizes disagree with n and m (corrupt case set)")

    def __len__(self) -> int:
        return len(self.ids)

    def get(self, i: int) -> RawCase:
        """The i-th case; S is a fresh float64 array of shape (N, M)."""
        n, m = int(self.n[i]), int(self.m[i])
        S = self._explain[self._ex_start[i]:self._ex_start[i + 1]].astype(np.float64)
        return RawCase(self.ids[i], self._prompt[self._p_start[i]:self._p_start[i + 1]],
                       self._resp[self._r_start[i]:self._r_start[i + 1]],
                       self.references[i], S.reshape(n, m))


def _scalar_str(a: np.ndarray) -> str:
    if a.size != 1 or a.dtype.kind != "U":
        raise DataError(f"expected a single string, got an array of shape {a.shape}")
    return str(a.reshape(-1)[0])


def read_case_set(path) -> CaseSet:
    """Read and validate a case-set file; any defect raises DataError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"case-set file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in _KEYS if k not in z.files]
            if missing:
                raise DataError(f"{path} is not a paperlib case set (missing {missing})")
            arrays = {k: z[k] for k in _KEYS}
    except DataError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, ValueError, EOFError, zlib.error ...
        raise DataError(f"{path} is truncated or corrupt ({type(exc).__name__}: {exc})") from exc
    if _scalar_str(arrays["schema"]) != SCHEMA:
        raise DataError(f"{path}: unknown schema {arrays['schema']!r}, expected {SCHEMA!r}")
    return CaseSet(path, arrays)
