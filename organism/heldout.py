"""Held-out instruction following of the organism pair: sample, scores, tables.

Shares are fractions in [0, 1]; "base" is the pre-trained model ``pt``,
"tuned" the instruction-tuned ``ft``. Used by :mod:`organism.card`.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd

from paperlib.core.errors import DataError, check_range

from organism import HELDOUT, REPO

ROLES = {"pt": "base", "ft": "tuned"}
TARGETS = {"pt": ("<=", 0.10), "ft": (">=", 0.50)}  # issue 4: averaged over the scenarios


def resolve(path) -> Path:
    """``path`` as an absolute Path; a relative path is taken from the repository root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else REPO / p


def load_heldout(path=HELDOUT) -> list[dict]:
    """Held-out pairs (each with scenario, task, instruction, response, metric)."""
    from organism.data import load_pairs

    pairs = load_pairs(resolve(path))
    bad = [i for i, p in enumerate(pairs) if not {"scenario", "task"} <= p.keys()]
    if bad:
        raise DataError(f"{path}: pairs {bad[:5]} lack 'scenario' or 'task'")
    return pairs


def heldout_sample(pairs: list[dict], n_per_task) -> list[dict]:
    """The first ``n_per_task`` pairs of every task, in file order (None = all pairs)."""
    if n_per_task is None:
        return list(pairs)
    check_range("n_per_task", n_per_task, 1, 1_000_000)
    seen: Counter = Counter()
    out = []
    for p in pairs:
        seen[p["task"]] += 1
        if seen[p["task"]] <= n_per_task:
            out.append(p)
    return out


def load_eval(model_dir) -> dict:
    """``<model_dir>/eval.json`` as written by ``report.step_evaluate``."""
    path = resolve(model_dir) / "eval.json"
    if not path.is_file():
        raise DataError(f"{path} not found: run `python -m organism evaluate` "
                        "or set recompute_eval = True")
    evals = json.loads(path.read_text())
    if not all(k in evals and "task" in evals[k] for k in ROLES):
        raise DataError(f"{path} lacks per-task results of 'pt' and 'ft'")
    return evals


def evaluate_sample(models: dict, tokenizers: dict, pairs: list[dict], max_new_tokens: int = 40) -> dict:
    """Re-score both models on ``pairs`` (greedy): same layout as eval.json, plus responses."""
    from organism.evaluate import evaluate_pairs

    check_range("max_new_tokens", max_new_tokens, 1, 4096)
    return {name: evaluate_pairs(models[name], tokenizers[name], pairs, max_new_tokens=max_new_tokens)
            for name in ROLES}


def task_table(evals: dict, pairs: list[dict]) -> pd.DataFrame:
    """Per task: scenario, task, kind, metric, n items, base share, tuned share (tasks in ``evals``)."""
    from organism.evaluate import TASK_METRIC, task_kind

    tasks = list(evals["ft"]["task"])
    n = pd.Series([p["task"] for p in pairs]).value_counts()
    unknown = [t for t in tasks if t not in n.index]
    if unknown:
        raise DataError(f"evaluated tasks {unknown} are not in the held-out pairs given; "
                        "pass the held-out file the evaluation used (or recompute)")
    scen = {p["task"]: p["scenario"] for p in pairs}
    metric = {p["task"]: p.get("metric") or TASK_METRIC.get(p["task"], "?") for p in pairs}
    rows = [{"scenario": scen[t], "task": t, "kind": task_kind(t), "metric": metric[t], "n items": int(n[t]),
             "base": evals["pt"]["task"].get(t), "tuned": evals["ft"]["task"][t],
             **_form_cells(evals, "task", t)} for t in tasks]
    return pd.DataFrame(rows).sort_values(["scenario", "task"], ignore_index=True)


FORM_COLUMNS = ("base (form)", "tuned (form)")


def _form_cells(evals: dict, level: str, key: str) -> dict:
    """The form-following shares (``evaluate.form_ok``) of one row, when evaluated."""
    if "form" not in evals["ft"]:
        return {}
    return {FORM_COLUMNS[0]: evals["pt"].get("form", {}).get(level, {}).get(key),
            FORM_COLUMNS[1]: evals["ft"]["form"][level].get(key)}


def scenario_table(evals: dict, pairs: list[dict]) -> pd.DataFrame:
    """Per scenario: n items, base and tuned share (and form-following shares when
    evaluated); then the average over scenarios, the mean over skill tasks and over
    recall tasks (:func:`organism.evaluate.task_kind`), and the targets."""
    tasks = task_table(evals, pairs)
    rows = [{"scenario": s, "tasks": ", ".join(g["task"]), "n items": int(g["n items"].sum()),
             "base": evals["pt"]["scenario"][s], "tuned": evals["ft"]["scenario"][s],
             **_form_cells(evals, "scenario", s)} for s, g in tasks.groupby("scenario")]
    df = pd.DataFrame(rows)
    avg = {"scenario": "average over scenarios", "tasks": "", "n items": int(df["n items"].sum()),
           **{c: float(df[c].mean()) for c in ("base", "tuned", *FORM_COLUMNS) if c in df}}
    shares = [c for c in ("base", "tuned", *FORM_COLUMNS) if c in tasks]
    kinds = [{"scenario": f"{k} tasks (mean of {len(g)} task{'s' * (len(g) != 1)})", "tasks": ", ".join(g["task"]),
              "n items": int(g["n items"].sum()), **{c: float(g[c].astype(float).mean()) for c in shares}}
             for k, g in tasks.groupby("kind", sort=False)]
    target = {"scenario": "target", "tasks": "", "n items": "",
              "base": f"{TARGETS['pt'][0]} {TARGETS['pt'][1]:.0%}",
              "tuned": f"{TARGETS['ft'][0]} {TARGETS['ft'][1]:.0%}"}
    return pd.concat([df, pd.DataFrame([avg, *kinds, target])], ignore_index=True)


def targets_met(evals: dict) -> dict:
    """``{"pt"|"ft": (average share over scenarios, target met?)}``."""
    out = {}
    for name, (op, bound) in TARGETS.items():
        scen = evals[name]["scenario"]
        avg = sum(scen.values()) / max(1, len(scen))
        out[name] = (avg, avg <= bound if op == "<=" else avg >= bound)
    return out


def percent(df: pd.DataFrame, columns=("base", "tuned", *FORM_COLUMNS)) -> pd.DataFrame:
    """Copy of ``df`` with the share columns written as percentages with one decimal
    (strings left as they are; missing cells, None or NaN, left blank)."""
    out = df.copy()
    for c in (c for c in columns if c in out):
        out[c] = ["" if not isinstance(v, str) and pd.isna(v) else
                  (f"{v:.1%}" if isinstance(v, float) else v) for v in out[c]]
    return out.fillna("")


# ------------------------------------------------------------------- models
