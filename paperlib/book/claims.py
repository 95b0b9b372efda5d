"""Claim records: each chapter states, per claim of the paper, the paper's number,
ours, the pair, and the verdict; the landing page gathers them into one table.

A chapter calls :func:`record_claim` once per claim it judges; the record is a
small JSON file ``<results_dir>/claims/<claim_id>.json`` (written atomically, so a
re-run replaces it). :func:`load_claims` reads every record back, in the order of
:data:`CLAIM_ORDER` (unknown ids last, alphabetically).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from paperlib.core.io import atomic_write_text
from paperlib.core.paths import results_dir
from paperlib.paper.verdicts import Verdict

# The paper's claims, in the order the landing page lists them.
CLAIM_ORDER = ("finding1a", "finding1b", "lost_in_middle", "finding2", "finding3")
_ID = re.compile(r"^[a-z0-9_]+$")
COLUMNS = ("claim_id", "claim", "paper", "ours", "pair", "verdict", "because", "page")

#: Readable names of the library's change measures (:mod:`paperlib.measures.overlap`,
#: :func:`paperlib.paper.contrasts.unit_changes`); the keys stay in the library.
MEASURE_NAMES = {"changed": "pair-set change, the paper's measure",
                 "rbo_change": "1 − rank-biased overlap"}
_DEPTH = re.compile(r"\bchanged@(\d+)")
_ONE_LAYER = re.compile(r"\blayers (\d+)-\1\b")
_ONE_LAYER_SPAN = re.compile(r"\blayers (\d+)-\1 to (\d+)-\2\b")


def measure_name(key: str) -> str:
    """The readable name of a change measure ("changed@10" -> "changed at depth 10")."""
    key = str(key)
    if key in MEASURE_NAMES:
        return MEASURE_NAMES[key]
    return _DEPTH.sub(r"changed at depth \1", key)


def readable(text: str) -> str:
    """``text`` with the library's internal measure keys replaced by their readable
    names ("(rbo_change)" -> "(1 − rank-biased overlap)", "changed@25" -> "changed at
    depth 25") and one-layer groups named as such ("layers 4-4" -> "layer 4")."""
    text = str(text)
    for key, name in MEASURE_NAMES.items():
        text = text.replace(f"({key})", f"({name})")
    text = re.sub(r"\brbo_change\b", MEASURE_NAMES["rbo_change"], text)
    text = _ONE_LAYER_SPAN.sub(r"layer \1 to layer \2", _DEPTH.sub(r"changed at depth \1", text))
    return _ONE_LAYER.sub(r"layer \1", text)


def claims_dir(root: str | Path | None = None) -> Path:
    return (Path(root) if root is not None else results_dir()) / "claims"


def record_claim(claim_id: str, *, claim: str, paper: str, ours: str, pair: str,
                 verdict: Verdict, page: str, root: str | Path | None = None) -> Path:
    """Write one claim record. ``paper`` and ``ours`` are short human strings (the
    numbers as the page shows them); ``page`` is the chapter's document name
    (e.g. ``"notebooks/table1_table2_density"``) for the landing page's link.
    Internal measure keys in ``ours`` and in the verdict's sentence are written
    with their readable names (:func:`readable`)."""
    if not _ID.match(claim_id):
        raise ValueError(f"claim_id {claim_id!r}: use lower-case letters, digits and _")
    if not isinstance(verdict, Verdict):
        raise TypeError(f"verdict must be a paperlib.paper.verdicts.Verdict, got {type(verdict).__name__}")
    row = dict(claim_id=claim_id, claim=claim, paper=paper, ours=readable(ours), pair=pair,
               verdict=verdict.label, because=readable(verdict.sentence), page=page)
    return atomic_write_text(claims_dir(root) / f"{claim_id}.json",
                             json.dumps(row, ensure_ascii=False, indent=1))


def load_claims(root: str | Path | None = None) -> pd.DataFrame:
    """Every claim record under ``root`` as a table (columns :data:`COLUMNS`)."""
    folder = claims_dir(root)
    rows = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
    order = {cid: i for i, cid in enumerate(CLAIM_ORDER)}
    rows.sort(key=lambda r: (order.get(r["claim_id"], len(order)), r["claim_id"]))
    return pd.DataFrame(rows, columns=list(COLUMNS))
