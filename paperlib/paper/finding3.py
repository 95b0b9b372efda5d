"""Glue of the chapters on "Finding 3: feed-forward networks rotate knowledge"
(Table 5, Fig 3, Figs 7-8, Tables 4 and 6-11).

The chapters ``notebooks/table5_fig3_ffn_concepts.md`` and
``notebooks/appD_appE_interpretability.md`` only call these helpers and
those of :mod:`paperlib.book.finding3_report` (figures, browser, closing text).
The explainer is :mod:`paperlib.explainers.ffn_concepts`, the annotators
:mod:`paperlib.annotate`, the pair loading :mod:`paperlib.book.live`.

* :func:`concepts_of_pair` - {"pt"|"ft": {layer: FFNConcepts}} of a LivePair
  (candidate words: the ``vocab_size`` most frequent ShareGPT words).
* :func:`make_annotator` - "offline" (deterministic rules) or "llm" (an
  OpenAI-compatible endpoint, probed first; unreachable -> offline, with a note).
* :func:`annotate_concepts` - one row per (model, layer, rank, seed): the
  annotation table every other function reads (:data:`ANNOTATION_COLUMNS`).
  Each distinct word list is annotated once per seed; a deterministic
  annotator (the offline one) once for all seeds. Offline results are cached
  on disk (keyed by the word lists and the annotator's source code).
* :func:`shares` / :func:`table5` / :func:`table5_comparison` - Table 5.
  Shares are % of the *describable* concepts (a "Cannot Tell" list has no task
  and no level, paper App D.2).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from paperlib.annotate import LEVELS, TASKS, Annotation
from paperlib.measures.stats import format_mean_std, two_proportion_test
from paperlib.core.errors import ParameterError, PaperlibError
from paperlib.core.io import ResultCache
from paperlib.models.pair import NAMES, ROLE_LABELS

ANNOTATION_COLUMNS = ("model", "layer", "rank", "seed", "words", "concept", "describable",
                      "level", *TASKS, "evidence")
# Paper Table 5 (Vicuna-7B = tuned, LLaMA-7B = pre-trained; % of concepts, mean ± std
# over 5 annotation seeds; t-test p): category, item, tuned m, s, pre-trained m, s, p.
PAPER_TABLE5 = (("scenario", "writing", 53.50, .46, 51.47, .92, .0154),
                ("scenario", "coding", 29.45, .43, 28.64, .48, .0350),
                ("scenario", "math", 5.21, .36, 5.04, .33, .5193),
                ("scenario", "translation", 25.30, .39, 26.27, .70, .0411),
                ("level", "phonology", 1.18, .11, 1.15, .07, .6251),
                ("level", "morphology", 17.16, .49, 16.83, .60, .4223),
                ("level", "syntax", 7.16, .31, 7.52, .50, .2551),
                ("level", "semantic", 74.70, .65, 74.66, .67, .9394))
PAPER_R, PAPER_D, PAPER_CUMVAR_AT_R = 300, 4096, 0.2249
LLM_PROBE = [{"role": "user", "content": "Reply with the single word OK."}]


def resolve_seeds(seeds) -> list[int]:
    """An int n -> [0, ..., n-1]; a list of non-negative ints -> itself (deduplicated)."""
    from paperlib.core.errors import check_count

    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        return list(range(check_count("seeds", seeds, 1)))
    out = [check_count("seed", s, 0) for s in seeds]
    if not out:
        raise ParameterError("seeds is empty")
    return list(dict.fromkeys(out))


def pair_dims(pair) -> tuple[int, int]:
    """(layers, width D) shared by both models of a LivePair (the smaller of each)."""
    from paperlib.models import canonical_view

    views = [canonical_view(pair.model(n)[0]) for n in NAMES]
    return min(v.n_layers for v in views), min(v.d_model for v in views)


def concepts_of_pair(pair, layers, R: int, K: int, vocab_size: int | None = 3000,
                     controls: dict | None = None) -> dict:
    """{name: {layer: FFNConcepts}} of both models (full spectrum kept for Fig 8), and of
    the ``controls`` {role: (model, tokenizer)} when given (keys are their roles).
    R must already be capped by D and K by the number of candidate words."""
    return concepts_of_models({**{n: pair.model(n) for n in NAMES}, **(controls or {})},
                              layers, R, K, vocab_size)


def concepts_of_models(models: dict, layers, R: int, K: int, vocab_size: int | None = 3000) -> dict:
    """{role: {layer: FFNConcepts}} of every (model, tokenizer) in ``models`` {role: ...}."""
    from paperlib.explainers.ffn_concepts import FFNConceptsExplainer
    from paperlib.words.vocab import word_index
    from paperlib.models import canonical_view

    out = {}
    for n, (model, tok) in models.items():
        ex = FFNConceptsExplainer(canonical_view(model), words=word_index(tok, vocab_size),
                                  R=R, K=K, full_spectrum=True)
        out[n] = ex(layers)
    return out


# ---- annotators ------------------------------------------------------------------------

def make_annotator(kind: str = "offline", base_url=None, model=None):
    """(annotator, note). "offline" -> OfflineAnnotator. "llm" -> LLMAnnotator,
    after one probe request; no endpoint/model configured or no answer -> the
    offline annotator and a note saying why (never an exception)."""
    from paperlib.annotate import OfflineAnnotator

    if kind not in ("offline", "llm"):
        raise ParameterError(f"annotator must be 'offline' or 'llm', got {kind!r}")
    offline_note = ("Annotator: **offline** rule-based (deterministic; every label carries "
                    "the rule that fired).")
    if kind == "offline":
        return OfflineAnnotator(), offline_note
    from paperlib.annotate import LLMAnnotator

    try:
        probe = LLMAnnotator(base_url, model, max_retries=0, timeout=10, cache=False)
        probe.complete(LLM_PROBE, 0, 0.0)
        return LLMAnnotator(base_url, model), f"Annotator: **LLM** `{probe.model}` at `{probe.url}`."
    except PaperlibError as exc:
        return OfflineAnnotator(), (f"⚠️ **The LLM annotator is not usable** ({exc}); falling "
                                    f"back to the offline annotator. " + offline_note)


def is_deterministic(annotator) -> bool:
    """True for the offline annotator: the seed does not change its answers."""
    from paperlib.annotate import OfflineAnnotator

    return isinstance(annotator, OfflineAnnotator)


def _source_hash() -> str:
    """SHA-256 of the annotate package's source (offline cache key: rules may change)."""
    import paperlib.annotate as pkg

    h = hashlib.sha256()
    for p in sorted(Path(pkg.__file__).parent.glob("*.py")):
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def _annotate_unique(annotator, lists: list, seeds: list) -> dict:
    """{(words tuple, seed): Annotation} for every distinct list and seed."""
    if is_deterministic(annotator):
        def compute():
            return [a[0].to_dict() for a in annotator.annotate_many(lists, [0], progress=False)]

        params = {"annotator": annotator.name, "min_support": annotator.min_support,
                  "min_words": annotator.min_words, "source": _source_hash(),
                  "lists": hashlib.sha256(json.dumps(lists).encode()).hexdigest()}
        dicts = ResultCache("finding3_annotations").get_or_compute(
            params, compute, lambda v, p: p.write_text(json.dumps(v), encoding="utf-8"),
            lambda p: json.loads(p.read_text(encoding="utf-8")))
        return {(tuple(w), s): Annotation.from_dict({**d, "seed": s})
                for w, d in zip(lists, dicts) for s in seeds}
    res = annotator.annotate_many(lists, seeds, progress=False)
    return {(tuple(w), s): a for w, row in zip(lists, res) for s, a in zip(seeds, row)}


def annotate_concepts(concepts: dict, annotator, seeds=(0,)):
    """The annotation table: one row per (model, layer, rank, seed).

    concepts: {name: {layer: FFNConcepts}} (names "pt", "ft", or any model roles, in
    the dict's order). Columns :data:`ANNOTATION_COLUMNS`:
    layer 0-based, rank 1-based, words = tuple of the K words, level "" when not
    describable, one bool column per task, evidence = the annotation's dict.
    """
    import pandas as pd

    seeds = resolve_seeds(list(seeds))
    keys = [(n, l, r, tuple(c.words_of(r))) for n in concepts for l, c in sorted(concepts[n].items())
            for r in range(c.components.shape[0])]
    if not keys:
        raise ParameterError("no concept to annotate (no layer explained)")
    lists = [list(w) for w in dict.fromkeys(k[3] for k in keys)]
    ann = _annotate_unique(annotator, lists, seeds)
    rows = []
    for n, l, r, words in keys:
        for s in seeds:
            a = ann[(words, s)]
            rows.append({"model": n, "layer": l, "rank": r + 1, "seed": s, "words": words,
                         "concept": a.concept, "describable": a.describable,
                         "level": a.level or "", **{t: t in a.tasks for t in TASKS},
                         "evidence": dict(a.evidence)})
    return pd.DataFrame(rows, columns=list(ANNOTATION_COLUMNS))


def check_annotations(ann) -> None:
    """Raise ParameterError unless ``ann`` has the annotation-table columns and rows."""
    missing = [c for c in ANNOTATION_COLUMNS if c not in getattr(ann, "columns", ())]
    if missing or len(ann) == 0:
        raise ParameterError(f"not an annotation table (missing columns {missing} or no rows)")


# ---- Table 5 ---------------------------------------------------------------------------

def shares(ann, by=("model", "seed")):
    """% of describable concepts with each task and each level, per ``by`` group.
    Columns: by..., n (describable concepts), n_all, then TASKS and LEVELS (%; NaN
    where a group has no describable concept)."""
    import pandas as pd

    check_annotations(ann)
    rows = []
    for key, g in ann.groupby(list(by), sort=True):
        d = g[g["describable"]]
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        row.update(n=len(d), n_all=len(g))
        for t in TASKS:
            row[t] = 100.0 * d[t].mean() if len(d) else np.nan
        for lv in LEVELS:
            row[lv] = 100.0 * (d["level"] == lv).mean() if len(d) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _welch(pt: np.ndarray, ft: np.ndarray) -> tuple[float, str]:
    """Two-sided Welch p over seeds, or NaN and why it is undefined."""
    from paperlib.measures.stats import welch_test

    if len(pt) < 2 or len(ft) < 2:
        return np.nan, "undefined: fewer than 2 seeds"
    if np.ptp(pt) == 0 and np.ptp(ft) == 0:
        return np.nan, "undefined: std 0 over seeds"
    return welch_test(pt, ft, "two-sided", ("pre-trained", "tuned")).p_value, ""


def _paired_layers(per_layer, item: str) -> float:
    """Two-sided paired t-test p over layers of the per-layer shares (tuned - pre-trained);
    H0: mean difference 0. NaN with < 2 layers or constant non-zero differences."""
    from scipy.stats import ttest_rel

    wide = per_layer.pivot(index="layer", columns="model", values=item).dropna()
    if len(wide) < 2 or not set(NAMES) <= set(wide.columns):
        return np.nan
    diff = wide["ft"] - wide["pt"]
    if np.ptp(diff.to_numpy()) == 0:
        return 1.0 if diff.iloc[0] == 0 else np.nan
    return float(ttest_rel(wide["ft"], wide["pt"]).pvalue)


def _count(d, item: str) -> tuple[int, int]:
    """(describable concepts of ``d`` with the task / level ``item``, describable concepts)."""
    hit = d[item] if item in TASKS else d["level"] == item
    return int(hit.sum()), len(d)


def table5(ann):
    """Table 5 (ours): per task / level, tuned and pre-trained mean ± std (%, ddof 0)
    over seeds, Welch p over seeds (NaN + why when undefined), the two-proportion
    p on the first seed's concepts, the paired-over-layers p, the difference (pp)."""
    import pandas as pd

    from paperlib.measures.stats import mean_std

    per_seed = shares(ann, ("model", "seed"))
    first = ann[(ann["seed"] == ann["seed"].min()) & ann["describable"]]
    per_layer = shares(ann, ("model", "layer")).reset_index(drop=True)
    rows = []
    for cat, items in (("scenario", TASKS), ("level", LEVELS)):
        for item in items:
            vals = {n: per_seed.loc[per_seed.model == n, item].dropna().to_numpy() for n in NAMES}
            (m_ft, s_ft), (m_pt, s_pt) = (mean_std(vals[n]) if len(vals[n]) else (np.nan,) * 2
                                          for n in ("ft", "pt"))
            p, why = _welch(vals["pt"], vals["ft"])
            x = {n: _count(first[first.model == n], item) for n in NAMES}
            rows.append({"category": cat, "item": item, "tuned_mean": m_ft, "tuned_std": s_ft,
                         "pt_mean": m_pt, "pt_std": s_pt, "diff_pp": m_ft - m_pt,
                         "welch_p": p, "welch_note": why,
                         "two_prop_p": two_proportion_test(*x["pt"], *x["ft"]),
                         "layers_paired_p": _paired_layers(per_layer, item)})
    return pd.DataFrame(rows)


def paper_table5():
    """The paper's Table 5 as a DataFrame (tuned = Vicuna-7B, pre-trained = LLaMA-7B)."""
    import pandas as pd

    return pd.DataFrame(PAPER_TABLE5, columns=["category", "item", "tuned_mean", "tuned_std",
                                               "pt_mean", "pt_std", "p_value"])


def _direction(diff: float) -> str:
    return "–" if diff != diff else "yes" if diff > 0 else "equal" if diff == 0 else "no"


def table5_comparison(t5):
    """Ours beside the paper: tuned / pre-trained "mean ± std" (%), our three p-values,
    the paper's Vicuna / LLaMA and p, and whether the tuned share is higher in each."""
    import pandas as pd

    paper = paper_table5().set_index("item")
    rows = []
    for r in t5.itertuples():
        p = paper.loc[r.item]
        rows.append({"category": r.category, "item": r.item,
                     f"{ROLE_LABELS['ft']} (ours)": format_mean_std(r.tuned_mean, r.tuned_std),
                     f"{ROLE_LABELS['pt']} (ours)": format_mean_std(r.pt_mean, r.pt_std),
                     "Δ pp (ours)": r.diff_pp,
                     "Welch p (ours)": r.welch_note or r.welch_p,
                     "two-proportion p (ours)": r.two_prop_p,
                     "paired-layers p (ours)": r.layers_paired_p,
                     "Vicuna (paper)": format_mean_std(p.tuned_mean, p.tuned_std),
                     "LLaMA (paper)": format_mean_std(p.pt_mean, p.pt_std), "p (paper)": p.p_value,
                     "tuned higher: ours / paper":
                     f"{_direction(r.diff_pp)}"
                     f" / {'yes' if p.tuned_mean > p.pt_mean else 'no'}"})
    return pd.DataFrame(rows)


# ---- verdict against controls (paperlib.paper.contrasts) -------------------------------

USER_TASKS = ("writing", "coding", "math")  # the paper: these shares rise after tuning


def table5_parts(t5c, alpha: float = 0.05) -> list:
    """One verdict per user task (writing, coding, math): its share change (pp) base ->
    tuned with the two-proportion p, against the paper's change and the control
    contrasts present in ``t5c`` (:func:`paperlib.paper.contrasts.table5_contrasts`);
    then one per linguistic level (:func:`level_parts`)."""
    from paperlib.core.errors import check_range
    from paperlib.paper import contrasts as C
    from paperlib.paper.verdicts import ControlCheck, beyond_controls

    check_range("alpha", alpha, 0.0, 1.0)
    paper = paper_table5().set_index("item")
    out = []
    for _, r in t5c.set_index("item").loc[list(USER_TASKS)].reset_index().iterrows():
        p = paper.loc[r["item"]]
        checks = [ControlCheck(c.label, r[f"{c.label}: Δ pp"], r[f"p vs {c.key}"])
                  for c in C.CONTROLS if f"p vs {c.key}" in r]
        out.append(beyond_controls(
            what=f"{r['item']} share change (pp)", paper=p["tuned_mean"] - p["pt_mean"],
            ours=r[f"{C.TUNING.label}: Δ pp"], p_value=r["tuning: two-proportion p"],
            alpha=alpha, controls=checks))
    return out + level_parts(t5c, alpha)


def table5_verdict(parts):
    """Finding 3's verdict from :func:`table5_parts`: each half combined first (the
    task shift; the levels that stay), then the halves, so that levels that merely
    show no significant change cannot carry the claim when the task shift is not seen."""
    from paperlib.paper.verdicts import combine

    n = len(USER_TASKS)
    halves = [combine(parts[:n], "the task half (writing, coding and math shares rise)"),
              combine(parts[n:], "the level half (linguistic levels stay)")]
    return combine(halves, "Finding 3")


def level_parts(t5c, alpha: float = 0.05) -> list:
    """One verdict per linguistic level: the paper says their shares stay the same
    (its changes are all within ±0.4 pp); a significant change base -> tuned (the
    two-proportion p) goes against that (:func:`paperlib.paper.verdicts.stays_verdict`)."""
    from paperlib.paper import contrasts as C
    from paperlib.paper.verdicts import stays_verdict

    paper = paper_table5().set_index("item")
    rows = t5c[t5c["category"] == "level"]
    return [stays_verdict(what=f"{r['item']} share change (pp)", ours=r[f"{C.TUNING.label}: Δ pp"],
                          p_value=r["tuning: two-proportion p"], alpha=alpha,
                          paper_text=f"{paper.loc[r['item'], 'tuned_mean'] - paper.loc[r['item'], 'pt_mean']:+.2f} pp, stays")
            for _, r in rows.iterrows()]
