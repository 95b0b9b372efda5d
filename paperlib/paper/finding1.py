"""Finding 1: instruction words drive generation (Tables 1-2, Fig 6, sensitivity).

Defaults reproduce the paper from the released matrices (measured; checked
by tests/test_golden_finding1.py):

* density mode ``"threshold"`` (the authors' code: values S <= b zeroed,
  values above b kept as they are) with b = 7, p = 4, L = 10. With it Table 1
  is reproduced to all four published decimals and Table 2 within 0.013.
  The paper's own formula ReLU(S - b) (``mode="subtract"``) gives means
  0.02-0.06 lower (e.g. Table 1 Self-Instruct followed 1.1944 vs 1.2283);
* responses with fewer than 5 tokens dropped in BOTH tables (the paper's
  text). The authors' Table-2 script kept them, but the published Table 2
  matches the dropped version: Self-Instruct Vicuna / LLaMA 1.1662 / 0.9431
  (paper 1.1661 / 0.9432) vs 1.1302 / 0.9394 with ``min_response=0``;
* instruction mask from the FinalDataset annotation (``paperlib.measures.align``);
* Welch one-sided tests, mean ± population std (ddof = 0). Our p-values are
  of the published order but not identical (Table 1: 5.7e-5 / 3.6e-6 / 4.8e-4
  vs 1.4e-4 / 4.3e-6 / 2.3e-4), although the means agree exactly; no single
  test variant (Student / two-sided) reproduces all three.

``source``: None = frozen paper data, otherwise a folder / file / mapping of
case sets in the same schema (a live model pair). ``models`` maps the roles
``"tuned"`` and ``"base"`` to model names in the source (default vicuna / llama);
result columns keep the paper's names (vicuna_* = tuned, llama_* = base).
"""
from __future__ import annotations

import functools
import math
from typing import Mapping

import numpy as np
import pandas as pd

from paperlib.measures.align import instruction_mask, sentence_token_spans
from paperlib.paper.data import (DATASETS, case_set_path, dataset_of, load_case_set,
                                 load_prompts, load_ratings)
from paperlib.measures.density import apply_cutoff, density, instruction_score, normalise, segment_shares
from paperlib.core.errors import ParameterError, UnknownCaseError, check_range
from paperlib.core.results import file_provenance, write_result
from paperlib.measures.stats import compare_groups, hedges_g, welch_test

PAPER_TABLE1 = {  # Vicuna, followed vs unfollowed (p: one-sided, unfollowed < followed)
    "self-instruct": dict(followed_mean=1.2283, followed_std=0.52, unfollowed_mean=0.8917,
                          unfollowed_std=0.48, p_value=1.4e-4),
    "lima": dict(followed_mean=1.6173, followed_std=0.47, unfollowed_mean=1.2799,
                 unfollowed_std=0.44, p_value=4.3e-6),
    "mt-bench": dict(followed_mean=1.4584, followed_std=0.55, unfollowed_mean=0.9290,
                     unfollowed_std=0.53, p_value=2.3e-4),
}
PAPER_TABLE2 = {  # all cases, Vicuna vs LLaMA (p: one-sided, LLaMA < Vicuna)
    "self-instruct": dict(vicuna_mean=1.1661, vicuna_std=0.53, llama_mean=0.9432,
                          llama_std=0.48, p_value=8.4e-7),
    "lima": dict(vicuna_mean=1.5608, vicuna_std=0.48, llama_mean=1.2702, llama_std=0.43,
                 p_value=2.6e-14),
    "mt-bench": dict(vicuna_mean=1.3311, vicuna_std=0.59, llama_mean=1.1697, llama_std=0.57,
                     p_value=0.0804),
}
PAPER_FIG6 = None  # not published numerically; expected: U shape, sharper for the base model
DEFAULT_MODELS = {"tuned": "vicuna", "base": "llama"}


def _roles(models: Mapping[str, str] | None) -> dict[str, str]:
    roles = dict(DEFAULT_MODELS if models is None else models)
    if set(roles) != {"tuned", "base"}:
        raise ParameterError(f"models must map 'tuned' and 'base' to model names, got {roles}")
    return roles


def _check(b, p, L, mode, min_response=0):
    check_range("L", L, 1, None)
    check_range("b", b, 0, L)
    if b >= L:
        raise ParameterError(f"b={b} cuts every value of S (integers 0..L={L}): every score "
                             f"would be 0; choose 0 <= b < {L}")
    check_range("p", p, 1, None, allow_inf=True)
    check_range("min_response", min_response, 0, None)
    if mode not in ("subtract", "threshold"):
        raise ParameterError(f"mode must be 'subtract' or 'threshold', got {mode!r}")


def _source_key(model: str, source):
    if isinstance(source, Mapping):
        source = tuple(sorted((k, str(v)) for k, v in source.items()))
    cs = load_case_set(model, source if not isinstance(source, tuple) else dict(source))
    return model, source, str(cs.path), cs.path.stat().st_mtime_ns


@functools.lru_cache(maxsize=8)
def _masks(key) -> dict[str, np.ndarray]:
    model, source = key[0], key[1]
    cs = load_case_set(model, dict(source) if isinstance(source, tuple) else source)
    prompts = load_prompts().set_index("id")
    out = {}
    unknown = sorted(set(cs.ids) - set(prompts.index))
    if unknown:
        raise UnknownCaseError(f"{cs.path}: case ids without an annotated prompt in "
                               f"FinalDataset: {unknown[:3]}")
    for i, cid in enumerate(cs.ids):
        raw = cs.get(i)
        out[cid] = instruction_mask(raw.prompt_tokens, prompts.at[cid, "prompt"],
                                    prompts.at[cid, "annotation"], cid)
    return out


def _density_of(S: np.ndarray, b, p, L, mode) -> np.ndarray:
    """(N, M) released S (L=10, b=0) -> (N,) density; other L re-quantise S."""
    if L != 10:
        S = normalise(S, L=L, b=0)
    return density(apply_cutoff(S, b, mode), p)


@functools.lru_cache(maxsize=256)
def _scores_cached(key, b, p, L, mode) -> pd.DataFrame:
    model, source = key[0], key[1]
    cs = load_case_set(model, dict(source) if isinstance(source, tuple) else source)
    masks = _masks(key)
    rows = []
    for i, cid in enumerate(cs.ids):
        raw = cs.get(i)
        m = raw.S.shape[1]
        score = 0.0 if m == 0 else instruction_score(_density_of(raw.S, b, p, L, mode), masks[cid])
        rows.append((cid, dataset_of(cid), m, int(masks[cid].sum()), score))
    return pd.DataFrame(rows, columns=["id", "dataset", "n_response", "n_instruction", "score"])


def scores(model: str = "vicuna", b: float = 7, p: float = 4, L: int = 10,
           mode: str = "threshold", source=None) -> pd.DataFrame:
    """Instruction score of every case: id, dataset, n_response, n_instruction, score.
    Cases with an empty response score 0. Cached in memory."""
    _check(b, p, L, mode)
    return _scores_cached(_source_key(model, source), b, float(p), L, mode).copy()


def _compare(x, y, names, n_boot, seed, b, p, ds):
    """compare_groups; two constant groups (no effect size) raise an error naming b, p
    and the data set."""
    if len(x) > 1 and len(y) > 1 and np.ptp(x) == 0 and np.ptp(y) == 0:
        raise ParameterError(f"b={b}, p={p}: both groups of {ds} are constant (every score "
                             f"{float(x[0]):g} vs {float(y[0]):g}), so they cannot be compared: "
                             "choose a smaller b")
    return compare_groups(x, y, "less", names, n_boot, seed)


def _made_with(df: pd.DataFrame, source, models, **params) -> pd.DataFrame:
    """Record the parameters of a result table in ``df.attrs`` (read by :func:`write_csv`)."""
    if isinstance(source, Mapping):
        source = {k: str(v) for k, v in source.items()}
    df.attrs["parameters"] = {**params, "source": None if source is None else
                              (source if isinstance(source, dict) else str(source)),
                              "models": _roles(models)}
    return df


def _delta(ours: float, paper: float | None) -> float:
    return float("nan") if paper is None else ours - paper


def table1_groups(b: float = 7, p: float = 4, L: int = 10, min_response: int = 5,
                  mode: str = "threshold", source=None, models=None) -> dict:
    """{dataset: (unfollowed scores, followed scores)} of the tuned model.

    Ratings (of the Vicuna responses) <= 0 skipped, 1 = unfollowed, 2-4 =
    followed; responses shorter than ``min_response`` tokens dropped. With a
    live ``source`` the human ratings still describe the Vicuna responses, so
    Table 1 is only meaningful for the released data.
    """
    _check(b, p, L, mode, min_response)
    sc = scores(_roles(models)["tuned"], b, p, L, mode, source).set_index("id")
    rt = load_ratings()
    rt = rt[(rt.model == "vicuna") & (rt.rating > 0) & rt.id.isin(sc.index)]
    sc = sc.loc[rt.id].assign(rating=rt.rating.to_numpy())
    sc = sc[sc.n_response >= min_response]
    return {ds: (sc.score[(sc.dataset == ds) & (sc.rating == 1)].to_numpy(),
                 sc.score[(sc.dataset == ds) & (sc.rating >= 2)].to_numpy()) for ds in DATASETS}


def table2_groups(b: float = 7, p: float = 4, L: int = 10, min_response: int = 5,
                  mode: str = "threshold", source=None, models=None) -> dict:
    """{dataset: (base scores, tuned scores)}, responses < ``min_response`` dropped."""
    _check(b, p, L, mode, min_response)
    out = {}
    sc = {r: scores(m, b, p, L, mode, source) for r, m in _roles(models).items()}
    sc = {r: d[d.n_response >= min_response] for r, d in sc.items()}
    for ds in DATASETS:
        out[ds] = tuple(sc[r].score[sc[r].dataset == ds].to_numpy() for r in ("base", "tuned"))
    return out


def table1(b: float = 7, p: float = 4, L: int = 10, min_response: int = 5,
           mode: str = "threshold", source=None, models=None, n_boot: int = 10000,
           seed: int = 0) -> pd.DataFrame:
    """Table 1: tuned model, followed vs unfollowed responses, one row per data set.

    Welch one-sided, H0 mean(unfollowed) >= mean(followed); ci_* = bootstrap CI
    of followed - unfollowed; effect_size = Hedges' g of followed - unfollowed.
    """
    groups = table1_groups(b, p, L, min_response, mode, source, models)
    rows = []
    for ds, (unf, fol) in groups.items():
        c = _compare(unf, fol, ("unfollowed", "followed"), n_boot, seed, b, p, ds)
        paper = PAPER_TABLE1[ds] if source is None else {}
        rows.append(dict(
            dataset=ds, followed_mean=c.mean_y, followed_std=c.std_y,
            unfollowed_mean=c.mean_x, unfollowed_std=c.std_x, p_value=c.p_value,
            paper_followed_mean=paper.get("followed_mean"),
            paper_unfollowed_mean=paper.get("unfollowed_mean"),
            paper_p_value=paper.get("p_value"), n_followed=c.n_y, n_unfollowed=c.n_x,
            delta_followed=_delta(c.mean_y, paper.get("followed_mean")),
            delta_unfollowed=_delta(c.mean_x, paper.get("unfollowed_mean")),
            ci_low=c.ci_low, ci_high=c.ci_high, effect_size=c.effect_size,
            t_statistic=c.t_statistic, null_hypothesis=c.null_hypothesis,
            model=_roles(models)["tuned"]))
    return _made_with(pd.DataFrame(rows), source, models, b=b, p=p, L=L, mode=mode,
                      min_response=min_response, n_boot=n_boot, seed=seed)


def table2(b: float = 7, p: float = 4, L: int = 10, min_response: int = 5,
           mode: str = "threshold", source=None, models=None, n_boot: int = 10000,
           seed: int = 0) -> pd.DataFrame:
    """Table 2: every case, tuned (vicuna_*) vs base (llama_*) on its own responses.

    Welch one-sided, H0 mean(llama) >= mean(vicuna); ci_* = bootstrap CI of
    vicuna - llama; effect_size = Hedges' g of vicuna - llama.
    """
    roles = _roles(models)
    rows = []
    for ds, (base, tuned) in table2_groups(b, p, L, min_response, mode, source, models).items():
        c = _compare(base, tuned, ("llama", "vicuna"), n_boot, seed, b, p, ds)
        paper = PAPER_TABLE2[ds] if source is None else {}
        rows.append(dict(
            dataset=ds, vicuna_mean=c.mean_y, vicuna_std=c.std_y, llama_mean=c.mean_x,
            llama_std=c.std_x, p_value=c.p_value, paper_vicuna_mean=paper.get("vicuna_mean"),
            paper_llama_mean=paper.get("llama_mean"), paper_p_value=paper.get("p_value"),
            n_vicuna=c.n_y, n_llama=c.n_x,
            delta_vicuna=_delta(c.mean_y, paper.get("vicuna_mean")),
            delta_llama=_delta(c.mean_x, paper.get("llama_mean")),
            ci_low=c.ci_low, ci_high=c.ci_high, effect_size=c.effect_size,
            t_statistic=c.t_statistic, null_hypothesis=c.null_hypothesis,
            tuned_model=roles["tuned"], base_model=roles["base"]))
    return _made_with(pd.DataFrame(rows), source, models, b=b, p=p, L=L, mode=mode,
                      min_response=min_response, n_boot=n_boot, seed=seed)


def fig6(b: float = 7, p: float = 4, L: int = 10, mode: str = "threshold",
         min_response: int = 5, n_segments: int = 4, source=None, models=None) -> pd.DataFrame:
    """Fig 6 (lost in the middle): mean share of a sentence's density per segment.

    Long format: dataset, model, segment (1..n_segments), share, n_sentences.
    Sentences with < n_segments tokens or zero density are skipped
    (``paperlib.measures.density.segment_shares``).
    """
    _check(b, p, L, mode, min_response)
    rows = []
    for model in _roles(models).values():
        cs = load_case_set(model, source)
        per_ds = {ds: [] for ds in DATASETS}
        for i, cid in enumerate(cs.ids):
            raw = cs.get(i)
            if raw.S.shape[1] < max(min_response, 1):
                continue
            a = _density_of(raw.S, b, p, L, mode)
            per_ds[dataset_of(cid)].append(
                segment_shares(a, sentence_token_spans(raw.prompt_tokens), n_segments))
        for ds, parts in per_ds.items():
            allrows = np.concatenate(parts) if parts else np.zeros((0, n_segments))
            prof = allrows.mean(axis=0) if len(allrows) else np.full(n_segments, np.nan)
            rows += [dict(dataset=ds, model=model, segment=k + 1, share=float(prof[k]),
                          n_sentences=len(allrows)) for k in range(n_segments)]
    return _made_with(pd.DataFrame(rows), source, models, b=b, p=p, L=L, mode=mode,
                      min_response=min_response, n_segments=n_segments)


def _grid_rows(table: str, groups: dict, b, p) -> list[dict]:
    rows = []
    for ds, (x, y) in groups.items():
        ok = len(x) >= 2 and len(y) >= 2
        rows.append(dict(table=table, dataset=ds, b=b, p=p,
                         separation=float(np.mean(y) - np.mean(x)) if ok else float("nan"),
                         p_value=welch_test(x, y, "less").p_value if ok else float("nan"),
                         effect_size=_safe_g(x, y) if ok else float("nan"),
                         n_x=len(x), n_y=len(y)))
    return rows


def _safe_g(x, y) -> float:
    try:
        return hedges_g(x, y)
    except ParameterError:  # both groups constant
        return float("nan")


def sensitivity(b_values=range(10), p_values=(1, 2, 4, 8, math.inf), L: int = 10,
                mode: str = "threshold", min_response: int = 5, source=None,
                models=None, tables=("table1", "table2")) -> pd.DataFrame:
    """Separation over a (b, p) grid: table, dataset, b, p, separation, p_value,
    effect_size, n_x, n_y.

    separation = mean(y) - mean(x); table1: y = followed, x = unfollowed;
    table2: y = tuned, x = base. p_value: Welch one-sided (H0 mean(x) >= mean(y)).
    """
    bad = set(tables) - {"table1", "table2"}
    if bad:
        raise ParameterError(f"tables must be a subset of ('table1', 'table2'), got {sorted(bad)}")
    rows = []
    for b in b_values:
        for p in p_values:
            if "table1" in tables:
                rows += _grid_rows("table1", table1_groups(b, p, L, min_response, mode,
                                                           source, models), b, p)
            if "table2" in tables:
                rows += _grid_rows("table2", table2_groups(b, p, L, min_response, mode,
                                                           source, models), b, p)
    return pd.DataFrame(rows)


#: The exact columns of the published result CSVs (``results/<name>.csv``).
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "table1": ("dataset", "followed_mean", "followed_std", "unfollowed_mean",
               "unfollowed_std", "p_value", "paper_followed_mean",
               "paper_unfollowed_mean", "paper_p_value"),
    "table2": ("dataset", "vicuna_mean", "vicuna_std", "llama_mean", "llama_std",
               "p_value", "paper_vicuna_mean", "paper_llama_mean", "paper_p_value"),
    "fig6": ("dataset", "model", "segment", "share"),
}


def write_csv(df: pd.DataFrame, name: str, parameters: dict | None = None):
    """Write ``df`` as result ``name`` with the parameters it was computed with
    (``parameters``, else those :func:`table1` / :func:`table2` / :func:`fig6` left in
    ``df.attrs``): ``results/<name>/<b.., p.., ...>/<name>.csv`` plus a sidecar
    ``<name>.json`` (parameters, SHA-256 and model fingerprints of the case sets,
    package version), both atomic; ``results/<name>.csv`` leads to the latest run
    (:func:`paperlib.core.results.write_result`). Returns the CSV path.

    For the names in :data:`CSV_COLUMNS` exactly those columns are written, in
    that order (extra columns of ``df`` stay in the notebook display only).
    """
    params = parameters if parameters is not None else df.attrs.get("parameters")
    if not params:
        raise ParameterError(f"{name}.csv: give the parameters the table was computed with "
                             "(parameters=..., or a table made by table1 / table2 / fig6)")
    if name in CSV_COLUMNS:
        missing = [c for c in CSV_COLUMNS[name] if c not in df.columns]
        if missing:
            raise ParameterError(f"{name}.csv needs columns {missing}, absent from the table")
        df = df.loc[:, list(CSV_COLUMNS[name])]
    inputs = {}
    if "models" in params:
        source = params.get("source")
        for model in dict(params["models"]).values():
            inputs[model] = file_provenance(case_set_path(model, source))
    return write_result(name, df.to_csv(index=False), params, provenance={"case_sets": inputs})
