"""Finding 1 on a live pair with automatic labels: Table 1, Table 2 and Fig 6 analogues,
and whether they depend on the attribution's first-order approximation.

Reads the case sets :func:`paperlib.paper.organism_cases.write_case_sets` writes
(released-data schema, ``cases_<model>_<grad|loo|ig>.npz``, and ``labels_<model>.json``)
and scores them exactly as the paper's Tables are scored (cutoff b, norm p,
instruction score, responses shorter than ``min_response`` dropped):

* :func:`table1_live` - the tuned model, followed (answer correct) vs unfollowed
  (wrong): mean ± std, Welch one-sided p, a task-stratified permutation p (labels
  shuffled within task: the answer's correctness varies with the task, and so may the
  score), bootstrap CI, Hedges' g;
* :func:`table2_live` - tuned vs base on the same prompts;
* :func:`fig6_live` - per-sentence segment shares of both models (lost in the middle);
* :func:`faithfulness` - per case, the Spearman correlation of gradient x input and
  of integrated gradients with exact leave-one-out; :func:`costs` - seconds per case;
* :func:`verdicts_live` - verdicts by the rules of :mod:`paperlib.paper.verdicts`.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from paperlib.core.caseset import read_case_set
from paperlib.core.errors import DataError, ParameterError
from paperlib.measures.align import sentence_token_spans
from paperlib.measures.density import apply_cutoff, density, instruction_score, segment_shares
from paperlib.measures.permutation import max_t_test
from paperlib.measures.stats import compare_groups
from paperlib.paper import verdicts
from paperlib.paper.finding1 import PAPER_TABLE1, PAPER_TABLE2
from paperlib.paper.organism_attribution import METHODS
from paperlib.paper.organism_cases import LABELS_SCHEMA, ROLE_CODES

ROLES = {"tuned": "ft", "base": "pt"}
METHOD_NAMES = {"grad": "gradient × input (paper)", "loo": "leave-one-out (exact)",
                "ig": "integrated gradients"}
#: the paper's effects (followed - unfollowed; Vicuna - LLaMA) per data set
PAPER_EFFECT = {
    "table1": {d: r["followed_mean"] - r["unfollowed_mean"] for d, r in PAPER_TABLE1.items()},
    "table2": {d: r["vicuna_mean"] - r["llama_mean"] for d, r in PAPER_TABLE2.items()},
}


def _labels(folder: Path, model: str) -> dict:
    path = folder / f"labels_{model}.json"
    if not path.is_file():
        raise DataError(f"{path} does not exist: write the case sets first "
                        "(organism_cases.write_case_sets)")
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("schema") != LABELS_SCHEMA:
        raise DataError(f"{path}: schema {data.get('schema')!r}, expected {LABELS_SCHEMA!r}")
    return data["cases"]


def load_live(folder, model: str, method: str = "grad") -> list[dict]:
    """Cases of ``model`` attributed by ``method`` (grad, loo, ig): dicts with id, task,
    correct, S (N, M), prompt_tokens, mask (instruction tokens)."""
    if method not in METHODS:
        raise ParameterError(f"method must be one of {tuple(METHODS)}, got {method!r}")
    folder = Path(folder)
    labels = _labels(folder, model)
    cs = read_case_set(folder / f"cases_{model}_{method}.npz")
    out = []
    for i, cid in enumerate(cs.ids):
        raw, lab = cs.get(i), labels.get(cid)
        if lab is None or len(lab["roles"]) != len(raw.prompt_tokens):
            raise DataError(f"{cs.path}: case {cid} has no matching labels")
        mask = np.array([c == ROLE_CODES["instruction"] for c in lab["roles"]])
        out.append(dict(id=cid, task=lab["task"], correct=bool(lab["correct"]), S=raw.S,
                        prompt_tokens=list(raw.prompt_tokens), mask=mask))
    return out


def live_scores(folder, model: str, method: str = "grad", b: float = 7, p: float = 4,
                mode: str = "threshold", min_response: int = 0) -> pd.DataFrame:
    """Instruction score per case: id, task, correct, n_response, n_instruction, score
    (an empty response scores 0); responses shorter than ``min_response`` dropped."""
    rows = []
    for c in load_live(folder, model, method):
        m = c["S"].shape[1]
        score = 0.0 if m == 0 else instruction_score(density(apply_cutoff(c["S"], b, mode), p),
                                                     c["mask"])
        rows.append((c["id"], c["task"], c["correct"], m, int(c["mask"].sum()), score))
    df = pd.DataFrame(rows, columns=["id", "task", "correct", "n_response", "n_instruction",
                                     "score"])
    return df[df.n_response >= min_response].reset_index(drop=True)


def _summary(x: np.ndarray, y: np.ndarray, names, n_boot: int, seed: int) -> dict:
    """compare_groups as a dict; NaN statistics when a group has fewer than 2 cases or
    both are constant (a small subsample), with the group sizes kept."""
    try:
        c = compare_groups(x, y, "less", names, n_boot, seed)
    except ParameterError:
        nan = float("nan")
        return dict(mean_y=float(np.mean(y)) if len(y) else nan, std_y=nan,
                    mean_x=float(np.mean(x)) if len(x) else nan, std_x=nan, n_y=len(y),
                    n_x=len(x), p_value=nan, t_statistic=nan, ci_low=nan, ci_high=nan,
                    effect_size=nan, null_hypothesis=f"mean({names[0]}) >= mean({names[1]})")
    return dict(mean_y=c.mean_y, std_y=c.std_y, mean_x=c.mean_x, std_x=c.std_x, n_y=c.n_y,
                n_x=c.n_x, p_value=c.p_value, t_statistic=c.t_statistic, ci_low=c.ci_low,
                ci_high=c.ci_high, effect_size=c.effect_size, null_hypothesis=c.null_hypothesis)


def table1_live(folder, method: str = "grad", b: float = 7, p: float = 4,
                mode: str = "threshold", min_response: int = 5, n_boot: int = 10_000,
                seed: int = 0, ids=None, n_perm: int = 10_000) -> pd.DataFrame:
    """One row: the tuned model's followed (correct) vs unfollowed (wrong) responses.
    ``ids``: restrict to these case ids (e.g. the integrated-gradients subsample).
    p_stratified: permutation p with labels shuffled within task (H1 as Welch's)."""
    sc = live_scores(folder, ROLES["tuned"], method, b, p, mode)
    sc = sc[sc.n_response >= min_response]
    if ids is not None:
        sc = sc[sc.id.isin(set(ids))]
    s = _summary(sc.score[~sc.correct].to_numpy(), sc.score[sc.correct].to_numpy(),
                 ("unfollowed", "followed"), n_boot, seed)
    try:
        strat = float(max_t_test(sc.score.to_numpy()[None], sc.correct.to_numpy(),
                                 n_perm=n_perm, seed=seed, strata=sc.task.to_numpy()).p_perm[0])
    except ParameterError:  # a group with fewer than 2 cases
        strat = float("nan")
    return pd.DataFrame([dict(
        method=method, followed_mean=s["mean_y"], followed_std=s["std_y"],
        unfollowed_mean=s["mean_x"], unfollowed_std=s["std_x"], n_followed=s["n_y"],
        n_unfollowed=s["n_x"], p_value=s["p_value"], p_stratified=strat,
        t_statistic=s["t_statistic"], ci_low=s["ci_low"], ci_high=s["ci_high"],
        effect_size=s["effect_size"], null_hypothesis=s["null_hypothesis"])])


def table2_live(folder, method: str = "grad", b: float = 7, p: float = 4,
                mode: str = "threshold", min_response: int = 5, n_boot: int = 10_000,
                seed: int = 0, ids=None) -> pd.DataFrame:
    """One row: tuned vs base model on the same prompts (each on its own response)."""
    sc = {r: live_scores(folder, m, method, b, p, mode) for r, m in ROLES.items()}
    sc = {r: d[(d.n_response >= min_response) & (True if ids is None else d.id.isin(set(ids)))]
          for r, d in sc.items()}
    s = _summary(sc["base"].score.to_numpy(), sc["tuned"].score.to_numpy(), ("base", "tuned"),
                 n_boot, seed)
    return pd.DataFrame([dict(
        method=method, tuned_mean=s["mean_y"], tuned_std=s["std_y"], base_mean=s["mean_x"],
        base_std=s["std_x"], n_tuned=s["n_y"], n_base=s["n_x"], p_value=s["p_value"],
        t_statistic=s["t_statistic"], ci_low=s["ci_low"], ci_high=s["ci_high"],
        effect_size=s["effect_size"], null_hypothesis=s["null_hypothesis"])])


def fig6_live(folder, method: str = "grad", b: float = 7, p: float = 4,
              mode: str = "threshold", min_response: int = 5,
              n_segments: int = 4) -> pd.DataFrame:
    """Per sentence and segment: model (tuned / base), case, sentence, segment, share
    (the same computation as the paper's Fig 6, sentence by sentence)."""
    frames = []
    for role, model in ROLES.items():
        for c in load_live(folder, model, method):
            if c["S"].shape[1] < max(min_response, 1):
                continue
            shares = segment_shares(density(apply_cutoff(c["S"], b, mode), p),
                                    sentence_token_spans(c["prompt_tokens"]), n_segments)
            for k, row in enumerate(shares):
                frames += [dict(model=role, case=c["id"], sentence=f"{c['id']}/{k}",
                                segment=j + 1, share=float(v)) for j, v in enumerate(row)]
    return pd.DataFrame(frames, columns=["model", "case", "sentence", "segment", "share"])


def u_depth(sentences: pd.DataFrame) -> pd.DataFrame:
    """Per sentence: model, depth = mean share of the first and last segments minus the
    mean share of the middle ones (> 0: a U)."""
    k = int(sentences["segment"].max())
    if k < 3:
        raise ParameterError("a U shape needs at least 3 segments per sentence")
    edge = sentences["segment"].isin([1, k])
    keys = ["model", "sentence"]
    e = sentences[edge].groupby(keys)["share"].mean()
    mid = sentences[~edge].groupby(keys)["share"].mean()
    return (e - mid).rename("depth").reset_index()


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.ravel(a), np.ravel(b)
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(sps.spearmanr(a, b)[0])


def faithfulness(cases: dict) -> pd.DataFrame:
    """Per case and approximation: model, id, task, method (grad / ig), rho = Spearman
    correlation of its (N x M) matrix with leave-one-out over all cells (NaN for an
    empty or constant matrix), cells."""
    rows = []
    for model, items in cases.items():
        for c in items:
            loo = c.matrices.get("LOO")
            for method, key in (("grad", "I"), ("ig", "IG")):
                if loo is not None and key in c.matrices and loo.size:
                    rows.append(dict(model=model, id=c.id, task=c.task, method=method,
                                     rho=_spearman(c.matrices[key], loo), cells=loo.size))
    return pd.DataFrame(rows, columns=["model", "id", "task", "method", "rho", "cells"])


def costs(cases: dict) -> pd.DataFrame:
    """Seconds per case of each method (measured when its cache entry was computed):
    model, method, cases, median_s, mean_s, total_s."""
    rows = []
    for model, items in cases.items():
        for method, key in (("grad", "I"), ("loo", "LOO"), ("ig", "IG")):
            secs = np.array([c.seconds[key] for c in items if key in c.seconds])
            if secs.size:
                rows.append(dict(model=model, method=method, cases=int(secs.size),
                                 median_s=float(np.median(secs)), mean_s=float(secs.mean()),
                                 total_s=float(secs.sum())))
    return pd.DataFrame(rows)


def n_for_power(effect: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Cases per group for a one-sided two-sample t-test (equal groups) to reach ``power``
    at standardised effect ``effect`` (noncentral t, exact)."""
    if not effect > 0:
        raise ParameterError(f"effect must be positive, got {effect}")
    for n in range(2, 100_000):
        df = 2 * n - 2
        crit = sps.t.ppf(1 - alpha, df)
        if sps.nct.sf(crit, df, effect * math.sqrt(n / 2)) >= power:
            return n
    raise ParameterError(f"effect {effect} needs more than 100000 cases per group")


def verdicts_live(t1: pd.DataFrame, t2: pd.DataFrame, depth: pd.DataFrame,
                  alpha: float = 0.05) -> dict:
    """{"table1", "table2", "fig6"}: verdicts of the analogues (the paper's sign: the mean
    of its three data sets' effects; Fig 6: U depth > 0 in both models, deeper for base)."""
    def effect(table, df, a, b):
        r = df.iloc[0]
        paper = float(np.mean(list(PAPER_EFFECT[table].values())))
        return verdicts.effect_verdict(
            what=f"{a} − {b} mean instruction score", paper=paper,
            ours=float(r[f"{a}_mean"] - r[f"{b}_mean"]), p_value=float(r["p_value"]), alpha=alpha)

    out = {"table1": effect("table1", t1, "followed", "unfollowed"),
           "table2": effect("table2", t2, "tuned", "base")}
    d = {m: depth.loc[depth.model == m, "depth"].to_numpy() for m in ROLES}
    tests = [(f"U depth of the {m} model", d[m].mean(),
              sps.ttest_1samp(d[m], 0.0, alternative="greater").pvalue) for m in ROLES]
    tests.append(("base's U depth minus the tuned model's", d["base"].mean() - d["tuned"].mean(),
                  sps.ttest_ind(d["base"], d["tuned"], equal_var=False,
                                alternative="greater").pvalue))
    parts = []
    for what, value, pv in tests:
        v = verdicts.effect_verdict(what=what, paper=1.0, ours=float(value), p_value=float(pv),
                                    alpha=alpha)
        parts.append(verdicts.Verdict(v.label, v.sentence.replace(
            "; paper 1)", "; paper: positive, shape only)")))
    out["fig6"] = verdicts.combine(parts, "Fig 6 analogue (U shape, deeper before tuning)")
    out["fig6_parts"] = parts
    return out


def table1_by_task(folder, method: str = "grad", b: float = 7, p: float = 4,
                   mode: str = "threshold", min_response: int = 5) -> pd.DataFrame:
    """Table 1 analogue per task: task, n_followed, n_unfollowed, followed_mean,
    unfollowed_mean, difference (NaN where a group is empty): is the pooled difference
    a difference between tasks?"""
    sc = live_scores(folder, ROLES["tuned"], method, b, p, mode)
    sc = sc[sc.n_response >= min_response]
    rows = []
    for task, part in sc.groupby("task", sort=False):
        fol, unf = part.score[part.correct], part.score[~part.correct]
        fm = float(fol.mean()) if len(fol) else float("nan")
        um = float(unf.mean()) if len(unf) else float("nan")
        rows.append(dict(task=task, n_followed=len(fol), n_unfollowed=len(unf),
                         followed_mean=fm, unfollowed_mean=um, difference=fm - um))
    return pd.DataFrame(rows)


def compare_methods(folder, ig_ids, *, b: float = 7, p: float = 4, mode: str = "threshold",
                    min_response: int = 5, n_boot: int = 10_000, n_perm: int = 10_000) -> dict:
    """{(sample, method): (Table 1 analogue, Table 2 analogue)}: gradient x input and
    leave-one-out on the whole sample, and all three on the integrated-gradients
    subsample ``ig_ids`` (same cases for each attribution)."""
    kw = dict(b=b, p=p, mode=mode, min_response=min_response, n_boot=n_boot)
    whole = "whole sample"
    sub = f"integrated-gradients subsample ({len(ig_ids)} prompts)"
    out = {}
    for sample, methods, ids in ((whole, ("grad", "loo"), None),
                                 (sub, ("grad", "loo", "ig"), list(ig_ids))):
        for m in methods:
            out[sample, m] = (table1_live(folder, m, ids=ids, n_perm=n_perm, **kw),
                              table2_live(folder, m, ids=ids, **kw))
    return out


def paper_effect_sizes() -> dict:
    """The paper's Table 1 effects as Cohen's d from its printed means and (population)
    standard deviations, d = (followed - unfollowed) / sqrt((s_f^2 + s_u^2) / 2)."""
    return {d: (r["followed_mean"] - r["unfollowed_mean"])
            / math.sqrt((r["followed_std"] ** 2 + r["unfollowed_std"] ** 2) / 2)
            for d, r in PAPER_TABLE1.items()}


def power(effect: float, n_x: int, n_y: int, alpha: float = 0.05) -> float:
    """Power of a one-sided two-sample t-test with groups of ``n_x`` and ``n_y`` cases at
    standardised effect ``effect`` (noncentral t)."""
    if n_x < 2 or n_y < 2:
        return float("nan")
    df = n_x + n_y - 2
    ncp = effect * math.sqrt(n_x * n_y / (n_x + n_y))
    return float(sps.nct.sf(sps.t.ppf(1 - alpha, df), df, ncp))
