"""Three contrasts for Findings 2-3: what instruction tuning changes beyond what any
further training, and any reseeding, change.

Models by role (:data:`ROLES`): ``pt`` the base, ``ft`` the tuned model, and two
optional controls: ``cpt`` the base trained further on plain text with the
tuning's recipe, ``ft2`` the tuning repeated with another seed. Contrasts
(:data:`CONTRASTS`; only those whose two models are given):

* ``tuning``  pt -> ft   the paper's contrast;
* ``cpt``     pt -> cpt  control: what *any* further training changes;
* ``reseed``  ft -> ft2  noise floor: what a second run of the same tuning changes.

Tables take explanations per role ({role: {layer: ...}}, or an annotation table
whose ``model`` column holds roles) and apply the single-pair statistic per contrast.

**The test** (:func:`bootstrap_p`): base -> tuned *exceeds* a control when the
margin "tuned effect - control effect" is positive: one-sided bootstrap over the
units the effect is a mean of (heads for Fig 2, paired; verbs for Table 3, paired;
concepts for Table 5, per model), :data:`N_BOOT` seeded resamples, p = (1 + #margins
<= 0) / (1 + resamples). For a signed effect the reseed floor enters as |effect|
(which seed is "first" is arbitrary). Instruction-specific: both p < alpha.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from paperlib.core.errors import ModelLoadError, ParameterError

ROLES = ("pt", "ft", "cpt", "ft2")
ROLE_LABELS = {"pt": "base", "ft": "tuned", "cpt": "continued pre-training",
               "ft2": "tuned, second seed"}
AUTO = "auto"
# Controls of the built-in "organism" alias, under the models folder (organism/controls.py builds them).
ORGANISM_CONTROLS = {"cpt": "organism/cpt", "ft2": "organism/ft_seed1"}
N_BOOT = 2000
NO_CONTROL_NOTE = ("**No control was given**: only the paper's contrast base → tuned is shown. "
                   "Whether its changes come from instruction tuning, from any further "
                   "training, or from run-to-run noise cannot be told from two models.")


@dataclass(frozen=True)
class Contrast:
    """Model ``a`` -> model ``b`` (roles), a label and what it stands for."""

    key: str
    a: str
    b: str
    label: str
    kind: str


TUNING = Contrast("tuning", "pt", "ft", "base → tuned", "the paper's contrast")
CPT = Contrast("cpt", "pt", "cpt", "base → continued pre-training", "control: any further training")
RESEED = Contrast("reseed", "ft", "ft2", "tuned → tuned, second seed", "control: noise floor")
CONTRASTS = (TUNING, CPT, RESEED)
CONTROLS = (CPT, RESEED)


def contrasts_for(roles) -> list[Contrast]:
    """The contrasts whose two models are among ``roles`` (base and tuned required)."""
    roles = set(roles)
    if not {"pt", "ft"} <= roles:
        raise ParameterError(f"the base (pt) and tuned (ft) models are required, got {sorted(roles)}")
    bad = roles - set(ROLES)
    if bad:
        raise ParameterError(f"unknown model roles {sorted(bad)}; known: {ROLES}")
    return [c for c in CONTRASTS if {c.a, c.b} <= roles]


def as_pair(per_role: dict, c: Contrast) -> dict:
    """{"pt": per_role[c.a], "ft": per_role[c.b]}: one contrast in the single-pair layout."""
    return {"pt": per_role[c.a], "ft": per_role[c.b]}


def pair_rows(ann):
    """The rows of an annotation table that belong to the pair (models "pt" and "ft")."""
    return ann[ann["model"].isin(["pt", "ft"])].reset_index(drop=True)


# ---- which models ------------------------------------------------------------------------

def resolve_controls(model_pt, model_cpt=AUTO, model_ft2=AUTO) -> dict:
    """{"cpt": source or None, "ft2": source or None}. ``"auto"``: the organism's
    shipped controls (:data:`ORGANISM_CONTROLS` under the models folder) when
    ``model_pt`` is the alias "organism" and the folder exists, else None."""
    from paperlib.core.paths import models_dir

    out = {}
    for role, given in (("cpt", model_cpt), ("ft2", model_ft2)):
        if isinstance(given, str) and given == AUTO:
            folder = models_dir() / ORGANISM_CONTROLS[role]
            out[role] = str(folder) if str(model_pt) == "organism" and folder.is_dir() else None
        elif given is None or (isinstance(given, (str, Path)) and str(given).strip()):
            out[role] = None if given is None else str(given)
        else:
            raise ParameterError(f"model_{role}: a folder, a hub id, 'auto' or None, got {given!r}")
    return out


def load_controls(sources: dict, dtype: str = "float32", device: str = "cpu") -> tuple[dict, str]:
    """({role: (model, tokenizer)}, Markdown note) for the given control sources
    (:func:`resolve_controls`); a source that does not load raises ModelLoadError."""
    import torch

    from paperlib.models import load_model

    models, lines = {}, []
    for role, src in sources.items():
        if src is None:
            continue
        try:
            models[role] = load_model(src, dtype=getattr(torch, dtype), device=device)
        except ModelLoadError as exc:
            raise ModelLoadError(f"control model {ROLE_LABELS[role]} ({src}): {exc}") from exc
        lines.append(f"{ROLE_LABELS[role]}: `{Path(src).name if Path(src).is_dir() else src}`")
    if not models:
        return models, NO_CONTROL_NOTE
    missing = [ROLE_LABELS[r] for r in ("cpt", "ft2") if r not in models]
    note = "**Controls**: " + "; ".join(lines) + "."
    if missing:
        note += f" Not given: {', '.join(missing)} (its contrast is left out)."
    return models, note


def controls_of(model_pt, model_cpt=AUTO, model_ft2=AUTO, *, fallback: bool = False,
                dtype: str = "float32", device: str = "cpu") -> tuple[dict, str]:
    """The chapters' entry point: ({role: (model, tokenizer)}, note) of the controls
    (:func:`resolve_controls` + :func:`load_controls`); none beside a random
    stand-in pair (``fallback``), whose controls would mean nothing."""
    if fallback:
        return {}, NO_CONTROL_NOTE + " (The pair is the random stand-in: no control is loaded.)"
    models, note = load_controls(resolve_controls(model_pt, model_cpt, model_ft2), dtype, device)
    auto = [r for r, g in (("cpt", model_cpt), ("ft2", model_ft2)) if g == AUTO and r not in models]
    if auto and str(model_pt) == "organism":
        note += (" The organism's " + " and ".join(ROLE_LABELS[r] for r in auto) + " control "
                 "is not built here (`make organism-controls` trains and exports it).")
    return models, note


# ---- the test ----------------------------------------------------------------------------

def bootstrap_p(margin: Callable[[Sequence[np.ndarray]], float], sizes: Sequence[int],
                n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, float]:
    """(observed margin, one-sided bootstrap p of "margin <= 0").

    ``margin(idx)`` gets one index array per stratum (``sizes``: units per stratum;
    observed: every unit once) and returns a number; units are resampled with
    replacement within each stratum. A NaN margin in a resample counts as <= 0.
    NaN, NaN when a stratum is empty or the observed margin is NaN."""
    from paperlib.core.errors import check_count

    check_count("n_boot", n_boot, 1)
    if any(int(s) < 1 for s in sizes):
        return float("nan"), float("nan")
    observed = float(margin([np.arange(s) for s in sizes]))
    if observed != observed:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    bad = 0
    for _ in range(n_boot):
        m = margin([rng.integers(0, s, s) for s in sizes])
        bad += not (m > 0)
    return observed, (1 + bad) / (1 + n_boot)


# ---- Fig 2 -------------------------------------------------------------------------------

def unit_changes(att: dict, contrasts: Sequence[Contrast], depths=None):
    """One row per (contrast, layer, head): the paper's changed share of the head's
    pair set and the graded changes of its ranked pair list
    (:func:`paperlib.measures.overlap.graded_change`). Heads with no pair in
    either model are left out. att: {role: {layer: AttentionPairs}}."""
    import pandas as pd

    from paperlib.explainers.attention_pairs import head_explanations_by_layer
    from paperlib.measures.attention_stats import changed_share
    from paperlib.measures.overlap import DEPTHS, graded_change

    rows = []
    for c in contrasts:
        a, b = (head_explanations_by_layer(att[r]) for r in (c.a, c.b))
        for key in sorted(set(a) & set(b)):
            if a[key] or b[key]:
                rows.append({"contrast": c.key, "layer": key[0], "head": key[1],
                             "changed": changed_share(a[key], b[key]),
                             **graded_change(a[key], b[key], depths or DEPTHS)})
    return pd.DataFrame(rows)


def measures_of(units) -> list[str]:
    """The change measures of a :func:`unit_changes` table, the paper's first."""
    return [c for c in units.columns if c not in ("contrast", "layer", "head")]


def fig2_contrasts(units, groups):
    """Fig 2 per contrast: mean of every measure over the heads of each group.
    groups: [(label, layers)] (:func:`paperlib.paper.finding3_groups.groups_of`).
    Columns contrast, layers, n, then the measures."""
    import pandas as pd

    rows = []
    for key in dict.fromkeys(units["contrast"]):
        u = units[units.contrast == key]
        for label, layers in groups:
            g = u[u.layer.isin(layers)]
            rows.append({"contrast": key, "layers": label, "n": len(g),
                         **{m: float(g[m].mean()) if len(g) else np.nan for m in measures_of(units)}})
    return pd.DataFrame(rows)


def _paired(units, control: str, measure: str, layers) -> tuple[np.ndarray, np.ndarray]:
    """Values of ``measure`` on the heads of ``layers`` in both the tuning and the control
    contrast (heads present in both), aligned."""
    u = units[units.layer.isin(layers)].pivot_table(index=["layer", "head"], columns="contrast",
                                                     values=measure)
    if TUNING.key not in u or control not in u:
        return np.zeros(0), np.zeros(0)
    u = u[[TUNING.key, control]].dropna()
    return u[TUNING.key].to_numpy(), u[control].to_numpy()


def fig2_tests(units, groups, measure: str, n_boot: int = N_BOOT):
    """Per group: the tuning's mean change beside each control's and the paired
    bootstrap p of "tuning changes more" (heads resampled); specific = both p < 0.05.
    Columns layers, then per contrast its mean, then p and margin per control."""
    import pandas as pd

    present = [c for c in CONTRASTS if c.key in set(units["contrast"])]
    rows = []
    for label, layers in groups:
        row = {"layers": label}
        for c in present:
            v = units[(units.contrast == c.key) & units.layer.isin(layers)][measure]
            row[c.label] = float(v.mean()) if len(v) else np.nan
        for c in (x for x in present if x in CONTROLS):
            t, k = _paired(units, c.key, measure, layers)
            row[f"margin vs {c.key}"], row[f"p vs {c.key}"] = bootstrap_p(
                lambda idx, t=t, k=k: t[idx[0]].mean() - k[idx[0]].mean(), [len(t)], n_boot)
        rows.append(row)
    return pd.DataFrame(rows)


def rise_check(units, groups, measure: str, control: Contrast | None = None,
               n_boot: int = N_BOOT) -> tuple[float, float]:
    """(margin, p): the rise of ``measure`` from the first to the last group of the
    tuning (last mean - first mean), minus the control's rise when ``control`` is
    given (heads paired within each group); one-sided bootstrap p."""
    (_, first), (_, last) = groups[0], groups[-1]
    if control is None:
        a = units[(units.contrast == TUNING.key) & units.layer.isin(first)][measure].to_numpy()
        b = units[(units.contrast == TUNING.key) & units.layer.isin(last)][measure].to_numpy()
        return bootstrap_p(lambda i: b[i[1]].mean() - a[i[0]].mean(), [len(a), len(b)], n_boot)
    t0, k0 = _paired(units, control.key, measure, first)
    t1, k1 = _paired(units, control.key, measure, last)
    return bootstrap_p(lambda i: (t1[i[1]].mean() - t0[i[0]].mean())
                       - (k1[i[1]].mean() - k0[i[0]].mean()), [len(t0), len(t1)], n_boot)


# ---- Table 3 -----------------------------------------------------------------------------

def verb_shares(att_pair: dict, verbs, groups) -> np.ndarray:
    """(verbs, groups) array of :func:`paperlib.measures.attention_stats.verb_increase_share`
    (%, NaN where no head of the group changed its count of pairs with the verb)."""
    from paperlib.explainers.attention_pairs import head_explanations_by_layer
    from paperlib.measures.attention_stats import verb_pair_counts

    pt, ft = (head_explanations_by_layer(att_pair[n]) for n in ("pt", "ft"))
    out = np.full((len(verbs), len(groups)), np.nan)
    for i, v in enumerate(verbs):
        c_pt, c_ft = verb_pair_counts(pt, v), verb_pair_counts(ft, v)
        for j, (_, layers) in enumerate(groups):
            changed = [k for k in pt if k[0] in layers and c_pt[k] != c_ft[k]]
            if changed:
                out[i, j] = 100.0 * np.mean([c_ft[k] > c_pt[k] for k in changed])
    return out


def verb_effect(inst: np.ndarray, gen: np.ndarray) -> float:
    """Mean share of instruction verbs - mean share of general verbs (pp); 0 when no
    verb of either set has a changed head (nothing changed), NaN when one set has none."""
    i, g = inst[np.isfinite(inst)], gen[np.isfinite(gen)]
    if not len(i) and not len(g):
        return 0.0
    return float(i.mean() - g.mean()) if len(i) and len(g) else float("nan")


def _welch_p(inst: np.ndarray, gen: np.ndarray) -> float:
    from paperlib.measures.stats import welch_test

    i, g = inst[np.isfinite(inst)], gen[np.isfinite(gen)]
    if len(i) < 2 or len(g) < 2 or (np.ptp(i) == 0 and np.ptp(g) == 0):
        return float("nan")
    return welch_test(i, g, "two-sided").p_value


def table3_contrasts(att: dict, contrasts: Sequence[Contrast], instruct, general, groups,
                     n_boot: int = N_BOOT):
    """Table 3 per contrast, side by side: per group, instruction minus general verb
    share (pp) and its Welch p for every contrast; then per control the margin
    (tuning effect - control effect; - |effect| for the reseed floor) and the
    bootstrap p over verbs (paired by verb; instruction and general verbs resampled
    separately). Returns (table, {contrast key: (instruct shares, general shares)})."""
    import pandas as pd

    shares = {c.key: (verb_shares(as_pair(att, c), instruct, groups),
                      verb_shares(as_pair(att, c), general, groups)) for c in contrasts}
    rows = []
    for j, (label, _) in enumerate(groups):
        row = {"layers": label}
        for c in contrasts:
            i, g = shares[c.key][0][:, j], shares[c.key][1][:, j]
            row[f"{c.label}: Δ pp"] = verb_effect(i, g)
            row[f"{c.label}: p"] = _welch_p(i, g)
        for c in (x for x in contrasts if x in CONTROLS):
            (ti, tg), (ki, kg) = ((s[0][:, j], s[1][:, j]) for s in (shares[TUNING.key], shares[c.key]))
            ctrl = (lambda e: abs(e)) if c is RESEED else (lambda e: e)
            m, p = bootstrap_p(lambda idx: verb_effect(ti[idx[0]], tg[idx[1]])
                               - ctrl(verb_effect(ki[idx[0]], kg[idx[1]])), [len(ti), len(tg)], n_boot)
            row[f"margin vs {c.key}"], row[f"p vs {c.key}"] = m, p
        rows.append(row)
    return pd.DataFrame(rows), shares


# ---- Table 5 -----------------------------------------------------------------------------

def relabel(ann, c: Contrast):
    """The annotation rows of ``c``'s two models, renamed "pt" (from) and "ft" (to)."""
    sub = ann[ann["model"].isin([c.a, c.b])].copy()
    sub["model"] = sub["model"].map({c.a: "pt", c.b: "ft"})
    return sub


def _indicator(ann, role: str, item: str) -> np.ndarray:
    """Per describable concept of ``role`` (first seed): 1.0 if it has the task / level."""
    from paperlib.annotate import TASKS

    d = ann[(ann.model == role) & (ann.seed == ann.seed.min()) & ann.describable]
    hit = d[item] if item in TASKS else d["level"] == item
    return hit.to_numpy(dtype=float)


def paper_sign(item: str) -> float:
    """+1 when the paper's tuned share of ``item`` exceeds the pre-trained one, else -1."""
    from paperlib.paper.finding3 import PAPER_TABLE5

    row = next(r for r in PAPER_TABLE5 if r[1] == item)
    return 1.0 if row[2] >= row[4] else -1.0


def _t5_margin(ann, item: str, c: Contrast, n_boot: int) -> tuple[float, float]:
    """Margin of the tuning's change over control ``c`` in the paper's direction, and p."""
    s = paper_sign(item)
    x = {r: _indicator(ann, r, item) for r in ("pt", "ft", c.b)}
    order = ["pt", "ft", c.b]

    def margin(idx):
        m = {r: 100.0 * x[r][i].mean() for r, i in zip(order, idx)}  # % -> margins in pp
        tuned = s * (m["ft"] - m["pt"])
        return tuned - (s * (m["cpt"] - m["pt"]) if c is CPT else abs(m["ft2"] - m["ft"]))

    return bootstrap_p(margin, [len(x[r]) for r in order], n_boot)


def table5_contrasts(ann, contrasts: Sequence[Contrast], n_boot: int = N_BOOT):
    """Table 5 per contrast, side by side: per task / level, the share (%, mean over
    seeds) in every model, the change (pp) of every contrast, the tuning's
    two-proportion p, and per control the margin and bootstrap p over concepts
    (in the paper's direction of the item; first seed). ``ann``: one annotation
    table whose ``model`` column holds roles."""
    import pandas as pd

    from paperlib.paper.finding3 import table5

    per = {c.key: table5(relabel(ann, c)).set_index("item") for c in contrasts}
    base = per[TUNING.key]
    rows = []
    for item, r in base.iterrows():
        row = {"category": r["category"], "item": item, "base %": r["pt_mean"], "tuned %": r["tuned_mean"]}
        for c in (x for x in contrasts if x is not TUNING):
            row[f"{ROLE_LABELS[c.b]} %"] = per[c.key].loc[item, "tuned_mean"]
        for c in contrasts:
            row[f"{c.label}: Δ pp"] = per[c.key].loc[item, "diff_pp"]
        row["tuning: two-proportion p"] = r["two_prop_p"]
        for c in (x for x in contrasts if x in CONTROLS):
            row[f"margin vs {c.key}"], row[f"p vs {c.key}"] = _t5_margin(ann, item, c, n_boot)
        rows.append(row)
    return pd.DataFrame(rows)


def _best_overlap(lists_b, lists_a) -> float:
    """Mean over the word lists of ``lists_b`` of their largest Jaccard overlap (as word
    sets) with any list of ``lists_a``; NaN when either is empty."""
    sets_a = [set(w) for w in lists_a]
    if not sets_a or not len(lists_b):
        return float("nan")
    return float(np.mean([max(len(b & a) / len(b | a) for a in sets_a)
                          for b in (set(w) for w in lists_b)]))


def concept_list_change(ann, contrasts: Sequence[Contrast]):
    """Per contrast and layer, how much the components' word lists (first seed) moved:
    ``changed`` = 1 - mean over the second model's lists of the best Jaccard overlap
    with a list of the first model (graded: components may reorder or flip sign),
    ``exact_changed`` = share of distinct lists not in both models (the Fig 2
    measure; saturates when lists rarely match word for word). Columns contrast,
    layer (1-based), changed, exact_changed."""
    import pandas as pd

    from paperlib.measures.attention_stats import changed_share

    first = ann[ann.seed == ann.seed.min()]
    rows = []
    for c in contrasts:
        for layer in sorted(first.layer.unique()):
            a, b = ([tuple(w) for w in first[(first.model == r) & (first.layer == layer)]["words"]]
                    for r in (c.a, c.b))
            rows.append({"contrast": c.key, "layer": int(layer) + 1,
                         "changed": 1.0 - _best_overlap(b, a),
                         "exact_changed": changed_share(a, b, ordered=True)})
    return pd.DataFrame(rows)
