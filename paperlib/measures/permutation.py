"""Permutation tests over a grid of analysis settings: the max-T family-wise correction.

When a threshold (here the cutoff ``b`` and the norm ``p`` of the importance density)
is chosen after looking at the data, the p-value at the chosen point understates
the evidence it needs: a search over G settings has G chances to look significant.
The max-T permutation procedure (Westfall & Young 1993) corrects for the search
while keeping the strong dependence between neighbouring settings:

1. compute, at every grid point g, the one-sided Welch statistic
   t_g = (mean(y) - mean(x)) / sqrt(s_y^2 / n_y + s_x^2 / n_x) (positive = the
   alternative "y is larger");
2. shuffle the group labels of the cases (the same shuffle at every grid point,
   so the dependence between grid points is kept), recompute every t_g, keep the
   largest, T*_max = max_g t*_g; repeat B times;
3. the family-wise corrected p of point g is the share of shuffles whose best
   statistic over the WHOLE grid reaches the observed t_g:
   p_g = (1 + #{T*_max >= t_g}) / (B + 1).

A search that reports its best point is then judged against the best a search
could find under the null, which is exactly what the correction has to do. Beside
it: the plain Welch p (what the paper reports), the uncorrected permutation p of
each point (same shuffles, its own statistic) and a Holm correction of the Welch
p-values over the grid (valid for any dependence, but conservative).

Null hypothesis of every test here: the group labels are exchangeable (the two
groups' scores come from one distribution); alternative: group y scores higher.
Several families (data sets, each with its own cases) can be searched together
(:func:`max_t_test_blocks`): each is shuffled on its own, the maximum runs over all.

Everything is vectorised: the statistics of a chunk of shuffles are two matrix
products (scores @ labels), so 50 grid points x 10,000 shuffles of a few hundred
cases take well under a second. Deterministic for a given ``seed``.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats as sps

from paperlib.core.errors import ParameterError, check_count

#: shuffles per chunk (fixed: the random stream, hence the result, must not depend on memory)
CHUNK = 1000
#: largest number of relabellings an exhaustive test enumerates
MAX_EXHAUSTIVE = 200_000


@dataclass(frozen=True)
class MaxTResult:
    """One family of G tests (rows of all blocks, in order).

    ``t``: observed Welch statistics (NaN for a degenerate row, all values equal);
    ``p_welch``: one-sided Welch p; ``p_holm``: Holm-adjusted ``p_welch`` over the
    family; ``p_perm``: uncorrected permutation p of each row; ``p_maxt``: family-wise
    corrected max-T p; ``max_null``: (B,) the best shuffled statistic per shuffle;
    ``n_perm``: B; ``exhaustive``: every relabelling enumerated (then the p-values are
    exact and have no +1); ``block``: (G,) index of the block of each row.
    """

    t: np.ndarray
    p_welch: np.ndarray
    p_holm: np.ndarray
    p_perm: np.ndarray
    p_maxt: np.ndarray
    max_null: np.ndarray
    n_perm: int
    seed: int
    exhaustive: bool
    block: np.ndarray

    @property
    def best(self) -> int:
        """Row with the largest observed statistic (the point a search would report)."""
        if np.all(np.isnan(self.t)):
            raise ParameterError("every row of the family is degenerate (constant scores)")
        return int(np.nanargmax(self.t))


def _block(block, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    if len(block) not in (2, 3):
        raise ParameterError(f"block {k}: give (scores, labels) or (scores, labels, strata)")
    X = np.asarray(block[0], dtype=np.float64)
    if X.ndim == 1:
        X = X[None]
    lab = np.asarray(block[1])
    if X.ndim != 2 or lab.ndim != 1 or X.shape[1] != lab.shape[0]:
        raise ParameterError(f"block {k}: scores must be (G, n) and labels (n,), got "
                             f"{X.shape} and {lab.shape}")
    if lab.dtype != bool:
        raise ParameterError(f"block {k}: labels must be a bool array (True = group y)")
    if not np.all(np.isfinite(X)):
        raise ParameterError(f"block {k}: scores hold NaN or inf")
    n_y = int(lab.sum())
    if n_y < 2 or lab.size - n_y < 2:
        raise ParameterError(f"block {k}: each group needs at least 2 cases, got "
                             f"{lab.size - n_y} (x) and {n_y} (y)")
    strata = None
    if len(block) == 3 and block[2] is not None:
        strata = np.asarray(block[2])
        if strata.shape != lab.shape:
            raise ParameterError(f"block {k}: strata must have the labels' shape {lab.shape}")
    return X - X.mean(axis=1, keepdims=True), lab, strata


def welch_t_batch(Xc: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Welch statistics of y - x for many labellings at once.

    Xc: (G, n) scores (centred per row: the statistic is shift-invariant, centring
    avoids cancellation); Y: (n, B) 0/1 labellings (1 = group y), every column with
    the same number of ones. Returns (G, B); a labelling whose two groups are both
    constant gives +inf / -inf by the sign of the difference (0 when equal).
    """
    n = Xc.shape[1]
    n_y = float(Y[:, 0].sum())
    n_x = n - n_y
    tot, tot2 = Xc.sum(axis=1, keepdims=True), (Xc ** 2).sum(axis=1, keepdims=True)
    sy, sy2 = Xc @ Y, (Xc ** 2) @ Y
    sx, sx2 = tot - sy, tot2 - sy2
    my, mx = sy / n_y, sx / n_x
    vy = np.maximum(sy2 - n_y * my ** 2, 0.0) / (n_y - 1)
    vx = np.maximum(sx2 - n_x * mx ** 2, 0.0) / (n_x - 1)
    diff = my - mx
    se = np.sqrt(vy / n_y + vx / n_x)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, diff / np.where(se > 0, se, 1.0), np.sign(diff) * np.inf)
    return np.where((se == 0) & (diff == 0), 0.0, t)


def _welch_p(Xc: np.ndarray, lab: np.ndarray) -> np.ndarray:
    """One-sided Welch p (H1: y larger) per row; NaN for a constant row."""
    out = np.full(Xc.shape[0], np.nan)
    for g, row in enumerate(Xc):
        if np.ptp(row) > 0:
            res = sps.ttest_ind(row[~lab], row[lab], equal_var=False, alternative="less")
            out[g] = 1.0 if np.isnan(res.pvalue) else float(res.pvalue)
    return out


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN entries are not
    members of the family and stay NaN). Controls the family-wise error rate under
    any dependence."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if ok.size == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = ok.size
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adj, 1.0)
    return out


def _shuffles(lab: np.ndarray, rng, count: int, strata=None) -> np.ndarray:
    """(n, count) 0/1 labellings: ``count`` random shuffles of ``lab`` (within each
    stratum when ``strata`` is given: a case keeps its stratum, labels move inside it)."""
    out = np.tile(lab, (count, 1))
    if strata is None:
        out = rng.permuted(out, axis=1)
    else:
        for value in np.unique(strata):
            cols = np.flatnonzero(strata == value)
            out[:, cols] = rng.permuted(out[:, cols], axis=1)
    return out.T.astype(np.float64)


def _all_labellings(lab: np.ndarray) -> np.ndarray:
    """(n, C(n, n_y)) 0/1: every relabelling with the same group sizes (identity included)."""
    n, n_y = lab.size, int(lab.sum())
    total = math.comb(n, n_y)
    if total > MAX_EXHAUSTIVE:
        raise ParameterError(f"exhaustive test of {n} cases ({n_y} in group y) needs "
                             f"{total} relabellings (> {MAX_EXHAUSTIVE}): use random shuffles")
    out = np.zeros((n, total))
    for j, idx in enumerate(itertools.combinations(range(n), n_y)):
        out[list(idx), j] = 1.0
    return out


def _null_stats(blocks, n_perm: int, seed: int, exhaustive: bool):
    """Yield (list of (G_k, c) shuffled statistics per block) chunk by chunk."""
    if exhaustive:
        yield [welch_t_batch(Xc, _all_labellings(lab)) for Xc, lab, _ in blocks]
        return
    rng = np.random.default_rng(seed)
    for start in range(0, n_perm, CHUNK):
        c = min(CHUNK, n_perm - start)
        yield [welch_t_batch(Xc, _shuffles(lab, rng, c, st)) for Xc, lab, st in blocks]


def _tolerance(t: np.ndarray) -> np.ndarray:
    """Ties: a shuffled statistic within rounding of the observed one counts as >=."""
    return t - 1e-9 * np.maximum(1.0, np.abs(np.nan_to_num(t)))


def max_t_test_blocks(blocks: Sequence[tuple], n_perm: int = 10_000, seed: int = 0,
                      exhaustive: bool = False) -> MaxTResult:
    """Max-T permutation test of a family made of several blocks.

    ``blocks``: [(scores (G_k, n_k), labels (n_k,) bool[, strata (n_k,)])] — block k
    holds G_k settings evaluated on the same n_k cases (column j of every row is case
    j; labels True = group y; with strata, labels are shuffled only within a stratum,
    e.g. a task, which tests the group difference *within* strata). Each block is
    shuffled independently (its own cases);
    the maximum of the shuffled statistics runs over every row of every block.
    ``exhaustive``: enumerate every relabelling instead of ``n_perm`` shuffles
    (one block only; exact p-values for small examples).
    """
    n_perm = check_count("n_perm", n_perm, 1)
    if not blocks:
        raise ParameterError("blocks is empty: nothing to test")
    if exhaustive and len(blocks) != 1:
        raise ParameterError("an exhaustive test takes exactly one block")
    prepared = [_block(block, k) for k, block in enumerate(blocks)]
    if exhaustive and prepared[0][2] is not None:
        raise ParameterError("an exhaustive test does not take strata")
    t_obs = np.concatenate([welch_t_batch(Xc, lab[:, None].astype(np.float64))[:, 0]
                            for Xc, lab, _ in prepared])
    degenerate = np.concatenate([np.ptp(Xc, axis=1) == 0 for Xc, _, _ in prepared])
    t_obs[degenerate] = np.nan
    thresh = _tolerance(t_obs)
    hits_point = np.zeros(t_obs.size)
    max_null, done = [], 0
    for parts in _null_stats(prepared, n_perm, seed, exhaustive):
        T = np.vstack(parts)
        T[degenerate] = -np.inf
        hits_point += (T >= thresh[:, None]).sum(axis=1)
        max_null.append(T.max(axis=0))
        done += T.shape[1]
    max_null = np.concatenate(max_null)
    hits_max = (max_null[None, :] >= thresh[:, None]).sum(axis=1)
    extra = 0 if exhaustive else 1
    p_perm = (hits_point + extra) / (done + extra)
    p_maxt = (hits_max + extra) / (done + extra)
    p_perm[degenerate] = p_maxt[degenerate] = np.nan
    p_welch = np.concatenate([_welch_p(Xc, lab) for Xc, lab, _ in prepared])
    block = np.concatenate([np.full(Xc.shape[0], k) for k, (Xc, _, _) in enumerate(prepared)])
    return MaxTResult(t=t_obs, p_welch=p_welch, p_holm=holm(p_welch), p_perm=p_perm,
                      p_maxt=p_maxt, max_null=max_null, n_perm=done, seed=seed,
                      exhaustive=exhaustive, block=block)


def max_t_test(X, labels, n_perm: int = 10_000, seed: int = 0, exhaustive: bool = False,
               strata=None) -> MaxTResult:
    """Max-T permutation test over the G rows of ``X`` (G settings x n cases) with one
    set of cases; ``labels`` (n,) bool, True = group y (H1: y scores higher);
    ``strata`` (n,): shuffle only within strata."""
    return max_t_test_blocks([(X, labels, strata)], n_perm=n_perm, seed=seed,
                             exhaustive=exhaustive)
