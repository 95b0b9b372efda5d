"""The search-corrected significance of Tables 1-2 as the Tables chapter shows it
(:func:`paperlib.paper.finding1_search.search_corrected` computes)."""
from __future__ import annotations

import math

import pandas as pd

from paperlib.book.figures import short_p

TABLE_NAMES = {"table1": "Table 1 (followed vs unfollowed)", "table2": "Table 2 (Vicuna vs LLaMA)"}


def _point(b, p) -> str:
    return f"({b:g}, {'∞' if math.isinf(p) else f'{p:g}'})"


def search_frame(result) -> pd.DataFrame:
    """One row per table, data set and point (the chosen one, the best one): the
    uncorrected and corrected p-values side by side (strings)."""
    t = result.table
    floor = 1.0 / (result.n_perm + 1)
    perm = lambda x: f"≤ {floor:.1g}" if abs(x - floor) < 1e-15 else short_p(x)
    return pd.DataFrame({
        "table": [TABLE_NAMES[x] if i % 2 == 0 else "" for i, x in enumerate(t.table)],
        "data set": t.dataset, "point": t.point.map({"chosen": "chosen", "best": "best of grid"}),
        "(b, p)": [_point(b, p) for b, p in zip(t.b, t.p)],
        "Welch p (plain)": t.p_welch.map(short_p), "permutation p": t.p_perm.map(perm),
        "Holm (grid)": t.p_holm.map(short_p), "max-T (grid)": t.p_maxt.map(perm),
        "max-T (grid × data sets)": t.p_maxt_table.map(perm)})


def search_sentence(result, alpha: float = 0.05) -> str:
    """What survives the correction, in words, and how long the tests took."""
    t = result.table
    chosen = t[t.point == "chosen"]
    lost = [f"{TABLE_NAMES[r.table].split(' (')[0]} {r.dataset}" for r in chosen.itertuples()
            if r.p_welch < alpha <= r.p_maxt]
    kept = [f"{TABLE_NAMES[r.table].split(' (')[0]} {r.dataset}" for r in chosen.itertuples()
            if r.p_maxt < alpha]
    never = [f"{TABLE_NAMES[r.table].split(' (')[0]} {r.dataset}" for r in chosen.itertuples()
             if r.p_welch >= alpha]
    parts = [f"**After the correction** (max-T over the {len(result.grid)}-point grid, "
             f"α = {alpha:g}), the chosen point stays significant for "
             f"{', '.join(kept) if kept else 'none'}"]
    if lost:
        parts.append(f"; it is significant only before the correction for {', '.join(lost)}")
    if never:
        parts.append(f"; it is not significant even before it for {', '.join(never)}")
    best = t[t.point == "best"]
    best_ok = [f"{TABLE_NAMES[r.table].split(' (')[0]} {r.dataset} {_point(r.b, r.p)}"
               for r in best.itertuples() if r.p_maxt < alpha]
    parts.append(f". Even the best point of the grid, judged against the best a search finds "
                 f"under the null, is significant for {', '.join(best_ok) if best_ok else 'none'}")
    return ("".join(parts) + f". The {len(set(zip(t.table, t.dataset))) + len(set(t.table))} "
            f"permutation families ({result.n_perm:,} shuffles each, all {len(result.grid)} "
            f"grid points per shuffle) took {result.seconds:.1f} s.")
