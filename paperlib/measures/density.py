"""Normalised attribution, importance density and the instruction score (numpy only).

Notation: I or S is an (N, M) matrix, rows = N prompt tokens, columns = M
response tokens.

Paper formula vs the authors' code (both implemented, see ``mode``):

* the paper (Sec 4.1) writes S[n, m] = ReLU(ceil(L * I[n, m] / max_n' I[n', m]) - b)
  with b = 7 for the density: applied to the released S (L=10, b=0) this is
  ReLU(S - 7), i.e. the kept values 8, 9, 10 become 1, 2, 3 (``mode="subtract"``);
* the authors' analysis code instead zeroes every value <= b and KEEPS the
  surviving values unchanged, 8, 9, 10 stay 8, 9, 10 (``mode="threshold"``).

The sparsity ratio ||S_n||_1 / ||S_n||_p is scale-invariant but not
shift-invariant, so the two modes give different scores. The authors' code
(``mode="threshold"``) is the one that reproduces Tables 1-2 (measured in
``paperlib.paper.finding1``; see its docstring).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from paperlib.core.errors import ParameterError, check_range

MODES = ("subtract", "threshold")


def _matrix(x, name: str = "I") -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise ParameterError(f"{name} must be a 2-D (N, M) matrix, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ParameterError(f"{name} holds NaN or inf")
    return a


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ParameterError(f"mode must be one of {MODES}, got {mode!r}")


def normalise(I, L: int = 10, b: float = 0, mode: str = "subtract") -> np.ndarray:
    """Per-column normalisation of raw importance, (N, M) -> (N, M).

    S0[n, m] = ceil(L * relu(I[n, m]) / max_n' relu(I[n', m])) (integers 0..L;
    a column whose max is 0 gives zeros). Then ``mode="subtract"`` (paper):
    S = relu(S0 - b); ``mode="threshold"`` (authors' code): S = S0 where S0 > b,
    else 0.
    """
    check_range("L", L, 1, None)
    check_range("b", b, 0, L)
    _check_mode(mode)
    x = np.maximum(_matrix(I), 0.0)
    col_max = x.max(axis=0, keepdims=True) if x.size else np.zeros((1, x.shape[1]))
    safe = np.where(col_max > 0, col_max, 1.0)
    s0 = np.where(col_max > 0, np.ceil(L * x / safe), 0.0)
    return apply_cutoff(s0, b, mode)


def apply_cutoff(S, b: float, mode: str = "subtract") -> np.ndarray:
    """Apply the cutoff b to already normalised S (N, M), values in 0..L."""
    check_range("b", b, 0, None)
    _check_mode(mode)
    S = _matrix(S, "S")
    if mode == "subtract":
        return np.maximum(S - b, 0.0)
    return np.where(S > b, S, 0.0)


def _check_p(p) -> float:
    check_range("p", p, 1, None, allow_inf=True)
    return float(p)


def density(S, p: float = 4) -> np.ndarray:
    """Importance density of each prompt token, (N, M) -> (N,).

    a_n = ||S_n||_1 / ||S_n||_p over the M response tokens (rows of zeros give
    0; p = inf uses the max-norm), then a / max_n a_n (all zeros stay zeros).
    """
    p = _check_p(p)
    S = np.abs(_matrix(S, "S"))
    if S.shape[1] == 0:
        return np.zeros(S.shape[0])
    l1 = S.sum(axis=1)
    if math.isinf(p):
        lp = S.max(axis=1)
    else:
        top = S.max(axis=1, keepdims=True)  # scale rows to avoid overflow of S**p
        lp = top[:, 0] * (((S / np.where(top > 0, top, 1.0)) ** p).sum(axis=1) ** (1.0 / p))
    a = np.divide(l1, lp, out=np.zeros_like(l1), where=lp > 0)
    amax = a.max() if a.size else 0.0
    return a / amax if amax > 0 else np.zeros_like(a)


def instruction_score(a, mask) -> float:
    """sum(a[mask]) / log2(2 + number of instruction tokens). a, mask: (N,)."""
    a = np.asarray(a, dtype=np.float64)
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != a.shape:
        raise ParameterError(f"mask must be a bool array of shape {a.shape}, "
                             f"got {mask.dtype} {mask.shape}")
    return float(a[mask].sum() / math.log2(2 + int(mask.sum())))


def segment_shares(a, spans: Sequence[tuple[int, int]], n_segments: int = 4) -> np.ndarray:
    """Share of each sentence's density in each of its equal-length segments.

    a: (N,) densities; spans: [start, end) token ranges of the sentences.
    A sentence's tokens are cut into ``n_segments`` contiguous parts whose
    lengths differ by at most one (``np.array_split``: the first parts take
    the extra tokens). Sentences shorter than ``n_segments`` tokens are
    skipped (some segment would be empty), and so are sentences of zero total
    density (they cannot be normalised to sum 1).
    Returns (K, n_segments), one row per kept sentence, each row summing to 1.
    """
    check_range("n_segments", n_segments, 1, None)
    a = np.asarray(a, dtype=np.float64)
    rows = []
    for start, end in spans:
        if not 0 <= start < end <= len(a):
            raise ParameterError(f"sentence span ({start}, {end}) outside 0..{len(a)}")
        seg = a[start:end]
        total = seg.sum()
        if len(seg) >= n_segments and total > 0:
            rows.append([part.sum() / total for part in np.array_split(seg, n_segments)])
    return np.array(rows, dtype=np.float64).reshape(-1, n_segments)


def segment_profile(a, spans: Sequence[tuple[int, int]], n_segments: int = 4) -> np.ndarray:
    """Mean over sentences of :func:`segment_shares`: (n_segments,), NaN if none kept."""
    rows = segment_shares(a, spans, n_segments)
    return rows.mean(axis=0) if len(rows) else np.full(n_segments, np.nan)
