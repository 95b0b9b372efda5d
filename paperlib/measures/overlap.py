"""Graded overlap of two ranked lists (word pairs of a head, words of a component).

The paper's Fig 2 measure, the changed share of two *sets* of pairs
(:func:`paperlib.measures.attention_stats.changed_share`), is 1 as soon as the two
lists share nothing, whatever their order: on a small model most heads change
almost all of their top-100 pairs and the measure sits near 100% in every
layer, where no trend can show. The measures here grade the change instead:

* :func:`overlap_at` - share of common items among the first ``k`` of each list,
  ``|A_k ∩ B_k| / max(|A_k|, |B_k|)`` (A_k: the set of the first k items), at
  several depths ``k``;
* :func:`rbo` - rank-biased overlap (Webber, Moffat and Zobel 2010, ACM TOIS 28(4)):
  ``(1 - p) / (1 - p^n) · Σ_{d=1..n} p^(d-1) · |A_d ∩ B_d| / d`` with depth
  ``n`` = the longer list's length. It weights agreement at the top of the lists
  (with p = 0.9 the first 10 ranks carry 65% of the weight) and is normalised so
  that two identical lists give 1 and two disjoint lists 0. A shorter list keeps
  all its items at depths beyond its length. ``1 - rbo`` is the graded change.

Both are NaN when both lists are empty, 0 when exactly one is.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from paperlib.core.errors import ParameterError, check_range

DEPTHS = (10, 25, 50, 100)
RBO_P = 0.9


def _check_depths(depths) -> tuple[int, ...]:
    out = tuple(int(k) for k in depths)
    if not out or any(k < 1 for k in out) or any(isinstance(k, bool) for k in depths):
        raise ParameterError(f"depths must be positive integers, got {depths!r}")
    return out


def overlap_at(a: Sequence, b: Sequence, depths: Iterable[int] = DEPTHS) -> dict[int, float]:
    """{k: |A_k ∩ B_k| / max(|A_k|, |B_k|)} over the first ``k`` items of each
    ranked list (items must be hashable; a repeated item counts once)."""
    out = {}
    for k in _check_depths(depths):
        sa, sb = set(a[:k]), set(b[:k])
        size = max(len(sa), len(sb))
        out[k] = float("nan") if size == 0 else len(sa & sb) / size
    return out


def rbo(a: Sequence, b: Sequence, p: float = RBO_P) -> float:
    """Rank-biased overlap of two ranked lists at depth max(len(a), len(b)),
    normalised to [0, 1] (identical lists: 1; disjoint: 0; both empty: NaN)."""
    check_range("p", p, 0.0, 1.0)
    if p in (0.0, 1.0):
        raise ParameterError("rbo needs 0 < p < 1")
    n = max(len(a), len(b))
    if n == 0:
        return float("nan")
    seen_a, seen_b, common = set(), set(), 0
    total, norm, weight = 0.0, 0.0, 1.0  # norm = Σ p^(d-1) = (1 - p^n) / (1 - p), summed alike
    for d in range(1, n + 1):
        x = a[d - 1] if d <= len(a) else None
        y = b[d - 1] if d <= len(b) else None
        if x is not None and x not in seen_a:
            seen_a.add(x)
            common += x in seen_b
        if y is not None and y not in seen_b:
            seen_b.add(y)
            common += y in seen_a
        total += weight * (common / d)
        norm += weight
        weight *= p
    return float(total / norm)  # identical lists: exactly 1.0


def graded_change(a: Sequence, b: Sequence, depths: Iterable[int] = DEPTHS,
                  p: float = RBO_P) -> dict[str, float]:
    """{"rbo_change": 1 - rbo, "changed@k": 1 - overlap_at k, ...} of two ranked lists."""
    out = {"rbo_change": 1.0 - rbo(a, b, p)}
    out.update({f"changed@{k}": 1.0 - v for k, v in overlap_at(a, b, depths).items()})
    return out


def graded_change_by_group(pt: dict, ft: dict, groups, depths: Iterable[int] = DEPTHS,
                           p: float = RBO_P):
    """Mean :func:`graded_change` per layer group over the units of each group.

    pt, ft: {key: ranked list} with key[0] the 0-based layer (same keys in both);
    groups: [(label, layers)]. Units where both lists are empty are left out.
    Returns a DataFrame: layers, n (units), rbo_change, changed@k ..."""
    import pandas as pd

    if set(pt) != set(ft):
        raise ParameterError("the two explanations must have the same keys (units)")
    depths = _check_depths(depths)
    cols = ["rbo_change", *(f"changed@{k}" for k in depths)]
    rows = []
    for label, layers in groups:
        layers = set(layers)
        vals = [graded_change(pt[key], ft[key], depths, p) for key in pt
                if key[0] in layers and (pt[key] or ft[key])]
        row = {"layers": label, "n": len(vals)}
        row.update({c: float(np.nanmean([v[c] for v in vals])) if vals else np.nan for c in cols})
        rows.append(row)
    return pd.DataFrame(rows, columns=["layers", "n", *cols])
