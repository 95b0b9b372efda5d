"""``paperlib compare``: how two case sets differ, case by case.

Per case (matched by id): whether the prompt pieces are the same, both response
lengths, the **token agreement** of the responses (share of positions, over
the longer response, where both have the same piece), the first position
where they differ, and over the response prefix they share (same prompt
required): the **correlation of S** (Pearson, over the cells) and the share of
cells **in the same bin** (equal S level: the agreement measure of a lower
precision run). Used to check a regenerated case set against the authors'
released one, or bfloat16 against float32.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd

from paperlib.cli.common import log
from paperlib.core.errors import DataError, ParameterError

HELP = "per case: response token agreement and correlation of S between two case sets"
EPILOG = """\
examples:
  paperlib compare paper runs/paper7b          # regenerated vs released (llama, vicuna)
  paperlib compare runs/fp32 runs/bf16 --out bf16_vs_fp32.csv
  paperlib compare runs/a/cases_ft.npz runs/b/cases_ft.npz
  paperlib compare paper runs/organism --model vicuna:ft

A and B: 'paper' (the released matrices), a folder of cases_<name>.npz, or one
case-set file. Folders are compared model by model (names present in both, or
--model NAME / --model A_NAME:B_NAME).
"""


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 2 or np.all(x == x.flat[0]) or np.all(y == y.flat[0]):
        return float("nan")
    return float(np.corrcoef(x.ravel(), y.ravel())[0, 1])


def compare_case(a, b) -> dict:
    """Measures of two :class:`paperlib.core.caseset.RawCase` of the same id."""
    ra, rb = list(a.response_tokens), list(b.response_tokens)
    longest = max(len(ra), len(rb))
    same = sum(x == y for x, y in zip(ra, rb))
    first = next((i for i, (x, y) in enumerate(zip(ra, rb)) if x != y), min(len(ra), len(rb)))
    identical = ra == rb
    prompt_same = list(a.prompt_tokens) == list(b.prompt_tokens)
    row = {"id": a.id, "prompt_same": prompt_same, "m_a": len(ra), "m_b": len(rb),
           "token_agreement": 1.0 if longest == 0 else same / longest,
           "identical_response": identical, "first_difference": -1 if identical else first,
           "s_corr": float("nan"), "same_bin": float("nan"), "cells": 0}
    if prompt_same and first > 0:
        sa, sb = np.asarray(a.S)[:, :first], np.asarray(b.S)[:, :first]
        row.update(s_corr=_corr(sa, sb), same_bin=float(np.mean(sa == sb)), cells=int(sa.size))
    return row


def compare_sets(a, b) -> pd.DataFrame:
    """One row per case id present in both :class:`paperlib.core.caseset.CaseSet`."""
    common = [cid for cid in a.ids if cid in b.index]
    return pd.DataFrame([compare_case(a.get(a.index[c]), b.get(b.index[c])) for c in common],
                        columns=["id", "prompt_same", "m_a", "m_b", "token_agreement",
                                 "identical_response", "first_difference", "s_corr",
                                 "same_bin", "cells"])


def summary(df: pd.DataFrame, n_a: int, n_b: int) -> dict:
    """Aggregates of :func:`compare_sets` (NaN-safe)."""
    def mean(col):
        v = df[col].dropna()
        return float(v.mean()) if len(v) else float("nan")
    cells = df["cells"].sum()
    pooled = float((df["same_bin"].fillna(0) * df["cells"]).sum() / cells) if cells else math.nan
    return {"cases_a": n_a, "cases_b": n_b, "compared": len(df),
            "identical_responses": float(df["identical_response"].mean()) if len(df) else math.nan,
            "token_agreement": mean("token_agreement"),
            "s_corr_median": float(df["s_corr"].median()) if df["s_corr"].notna().any() else math.nan,
            "same_bin_cells": pooled}


def _sets(spec: str) -> dict[str, Path]:
    """{model name: case-set path} of 'paper', a folder or a file."""
    from paperlib.core.caseset import read_case_set
    from paperlib.core.paths import data_dir

    if spec == "paper":
        return {m: data_dir() / f"cases_{m}.npz" for m in ("llama", "vicuna")}
    path = Path(spec)
    if path.is_dir():
        found = {p.stem.removeprefix("cases_"): p for p in sorted(path.glob("cases_*.npz"))}
        if not found:
            raise DataError(f"{path} holds no cases_<name>.npz")
        return found
    if path.is_file():
        return {read_case_set(path).model: path}
    raise DataError(f"{spec} is neither 'paper', a folder nor a case-set file")


def _pairs(a: dict, b: dict, models: list[str] | None) -> list[tuple[str, str]]:
    if models:
        out = []
        for m in models:
            na, _, nb = m.partition(":")
            nb = nb or na
            if na not in a or nb not in b:
                raise ParameterError(f"--model {m}: A has {sorted(a)}, B has {sorted(b)}")
            out.append((na, nb))
        return out
    if len(a) == 1 and len(b) == 1:
        return [(next(iter(a)), next(iter(b)))]
    common = [m for m in a if m in b]
    if not common:
        raise ParameterError(f"no model name in both (A: {sorted(a)}, B: {sorted(b)}); "
                             "use --model A_NAME:B_NAME")
    return [(m, m) for m in common]


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help=HELP, description=HELP, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a", help="'paper', a folder of case sets or a case-set file")
    p.add_argument("b", help="the same kinds")
    p.add_argument("--model", action="append", help="NAME or A_NAME:B_NAME (repeatable)")
    p.add_argument("--out", help="write the per-case table to this CSV")
    p.set_defaults(run=run)


def run(args) -> int:
    from paperlib.core.caseset import read_case_set
    from paperlib.core.io import atomic_write_text

    sa, sb = _sets(args.a), _sets(args.b)
    frames = []
    for na, nb in _pairs(sa, sb, args.model):
        ca, cb = read_case_set(sa[na]), read_case_set(sb[nb])
        df = compare_sets(ca, cb)
        s = summary(df, len(ca), len(cb))
        print(f"{na} vs {nb}: " + ", ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in s.items()))
        frames.append(df.assign(model_a=na, model_b=nb))
    table = pd.concat(frames, ignore_index=True)
    if args.out:
        atomic_write_text(args.out, table.to_csv(index=False))
        log("compare", f"wrote {args.out} ({len(table)} cases)")
    return 0
