"""Was (b, p) chosen after the fact? Search-corrected significance of Tables 1-2.

Asked how the cutoff b and the norm p were chosen, the authors answered that they
"used a grid search on b and p to minimize the p-values". A p-value reported at
the best point of a search must be judged against the best point a search finds
when there is no effect. :func:`search_corrected` does that with the max-T
permutation test of :mod:`paperlib.measures.permutation` over the (b, p) grid:

* family = every (b, p) of the grid for one table and one data set (the search
  the authors describe); the stricter family "whole table" adds the three data sets
  (one (b, p) for all of them, as the paper reports);
* null hypothesis: the group labels (followed / unfollowed; Vicuna / LLaMA) are
  exchangeable, i.e. the instruction scores of the two groups come from one
  distribution at every (b, p); alternative: group y (followed; Vicuna) scores
  higher. The cases are shuffled once per permutation and the same shuffle is
  applied at every grid point, which keeps the strong dependence between
  neighbouring settings.

Per data set it reports, for the chosen point (default: the paper's (7, 4)) and for
the best point of the grid (largest Welch statistic): the plain Welch p (as the
paper), the uncorrected permutation p, Holm's correction over the grid and the
max-T family-wise p.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from paperlib.core.errors import DataError, ParameterError
from paperlib.measures.permutation import max_t_test_blocks
from paperlib.paper import finding1

GRID_B = tuple(range(10))
GRID_P = (1, 2, 4, 8, math.inf)


def grid_family(table: str, grid, *, L: int = 10, mode: str = "threshold",
                min_response: int = 5, source=None, models=None) -> dict:
    """{dataset: (scores (G, n), labels (n,) bool)} over the (b, p) points of ``grid``.

    Row g holds the instruction score of every case at grid point g; column j is
    the same case at every point (x group first, then y: labels True = y)."""
    groups_of = {"table1": finding1.table1_groups, "table2": finding1.table2_groups}
    if table not in groups_of:
        raise ParameterError(f"table must be 'table1' or 'table2', got {table!r}")
    rows: dict[str, list] = {}
    sizes: dict[str, tuple[int, int]] = {}
    for b, p in grid:
        groups = groups_of[table](b, p, L, min_response, mode, source, models)
        for ds, (x, y) in groups.items():
            if sizes.setdefault(ds, (len(x), len(y))) != (len(x), len(y)):
                raise DataError(f"{table} {ds}: group sizes change across the grid "
                                f"({sizes[ds]} vs {(len(x), len(y))})")
            rows.setdefault(ds, []).append(np.concatenate([x, y]))
    return {ds: (np.vstack(r), np.r_[np.zeros(sizes[ds][0], bool), np.ones(sizes[ds][1], bool)])
            for ds, r in rows.items()}


@dataclass(frozen=True)
class SearchResult:
    """``table``: one row per (table, data set, point); ``seconds``: time of the
    permutation tests alone (scores already computed); ``grid``: the (b, p) points;
    ``n_perm``: permutations per family."""

    table: pd.DataFrame
    seconds: float
    grid: tuple
    n_perm: int


def _grid(b_values, p_values, chosen) -> tuple:
    grid = [(b, float(p)) for b in b_values for p in p_values]
    key = (chosen[0], float(chosen[1]))
    if key not in grid:
        grid.append(key)
    if len(set(grid)) != len(grid):
        raise ParameterError("the (b, p) grid repeats a point")
    return tuple(grid)


def _rows(table: str, ds: str, k: int, res, whole, grid, chosen, sizes) -> list[dict]:
    """The chosen and the best point of data set ``ds`` (block ``k`` of the table)."""
    in_whole = np.flatnonzero(whole.block == k)
    out = []
    for point, g in (("chosen", grid.index((chosen[0], float(chosen[1])))),
                     ("best", res.best)):
        out.append(dict(table=table, dataset=ds, point=point, b=grid[g][0], p=grid[g][1],
                        t=res.t[g], p_welch=res.p_welch[g], p_perm=res.p_perm[g],
                        p_holm=res.p_holm[g], p_maxt=res.p_maxt[g],
                        p_maxt_table=whole.p_maxt[in_whole[g]],
                        n_x=sizes[ds][0], n_y=sizes[ds][1], family=len(grid)))
    return out


def search_corrected(tables=("table1", "table2"), b_values=GRID_B, p_values=GRID_P,
                     chosen=(7, 4), *, L: int = 10, mode: str = "threshold",
                     min_response: int = 5, source=None, models=None, n_perm: int = 10_000,
                     seed: int = 0) -> SearchResult:
    """Max-T permutation test over the (b, p) grid for Tables 1 and 2 (see module doc).

    ``chosen`` is added to the grid if it is not on it. Columns of ``result.table``:
    table, dataset, point ("chosen" / "best"), b, p, t (Welch statistic, followed or
    tuned minus the other group), p_welch, p_perm, p_holm, p_maxt (family: the grid
    of this data set), p_maxt_table (family: the grid x the table's data sets), n_x,
    n_y, family (grid size).
    """
    grid = _grid(b_values, p_values, chosen)
    fams = {t: grid_family(t, grid, L=L, mode=mode, min_response=min_response,
                           source=source, models=models) for t in tables}
    start = time.perf_counter()
    rows = []
    for t, fam in fams.items():
        sizes = {ds: (int((~lab).sum()), int(lab.sum())) for ds, (_, lab) in fam.items()}
        whole = max_t_test_blocks(list(fam.values()), n_perm=n_perm, seed=seed)
        for k, (ds, block) in enumerate(fam.items()):
            res = max_t_test_blocks([block], n_perm=n_perm, seed=seed + 1 + k)
            rows += _rows(t, ds, k, res, whole, grid, chosen, sizes)
    seconds = time.perf_counter() - start
    return SearchResult(pd.DataFrame(rows), seconds, grid, n_perm)
