"""Numbered tables and computed text of the Finding 3 chapters (Table 5, Fig 3, App D-E).

Tables come from :mod:`paperlib.paper.finding3`, :mod:`paperlib.paper.finding3_groups`
and :mod:`paperlib.paper.contrasts`; this module shows them the book's way
(:func:`paperlib.book.figures.table`: a compact comparison first, secondary
statistics in a collapsible block, readable column names). Figures are in
:mod:`paperlib.book.finding23_plots`.
"""
from __future__ import annotations

import pandas as pd

from paperlib.book import figures
from paperlib.book.finding2_report import control_columns, fmt_p
from paperlib.measures.stats import format_mean_std
from paperlib.models.pair import NAMES, ROLE_LABELS, LivePair
from paperlib.paper.finding3 import PAPER_CUMVAR_AT_R, PAPER_D, PAPER_R

PAPER_FIG3 = ("semantic share an inverted U over depth, morphology a U; no visible shift "
              "between LLaMA and Vicuna")
PAPER_FIG7 = ("about 60% of the first 300 components of the middle layers describable; "
              "91.67% of the first 30 in layers 25-28; lower again in layers 29-32")


def seeds_note(annotator_deterministic: bool, seeds) -> str:
    """One sentence on what the seeds mean for this annotator."""
    seeds = list(seeds)
    if annotator_deterministic:
        return (f"The offline annotator is deterministic: the {len(seeds)} seeds "
                f"({', '.join(map(str, seeds))}) give identical labels, so every std over "
                "seeds is 0 and a t-test over seeds is undefined.")
    return (f"{len(seeds)} annotation seeds ({', '.join(map(str, seeds))}): seed 0 at "
            "temperature 0, the others at temperature 1 (paper App D).")


def fig8_sentence(var, R: int) -> str:
    """What the top R components (and the paper's relative rank) explain here."""
    D = int(var["D"].iloc[0])
    at_r = var["cum_at_R"].to_numpy()
    rel = var["cum_at_rel_rank"].to_numpy()
    text = (f"Here the top R = {min(R, D)} of D = {D} components explain "
            f"{at_r.mean():.1f}% of the variance on average over layers and models "
            f"(min {at_r.min():.1f}%, max {at_r.max():.1f}%)")
    if R >= D:
        text += " — R is capped by D, so the components span the whole space (100%)"
    text += (f". At the paper's relative rank ({PAPER_R}/{PAPER_D} of D = "
             f"{int(var['rel_rank'].iloc[0])} components) they explain {rel.mean():.1f}%. "
             f"Paper (Vicuna-7B, D = {PAPER_D}): the top {PAPER_R} explain about "
             f"{100 * PAPER_CUMVAR_AT_R:.2f}%; half of the components about 80%.")
    return text


def _verdict(t5, alpha: float) -> tuple[list, list, bool]:
    """(task rows, level rows, levels stay): a level "stays" when no available test
    rejects equality at ``alpha``."""
    tasks = [r for r in t5.itertuples() if r.category == "scenario"]
    levels = [r for r in t5.itertuples() if r.category == "level"]
    pvals = [p for r in levels for p in (r.welch_p, r.two_prop_p, r.layers_paired_p)
             if p == p]
    return tasks, levels, all(p >= alpha for p in pvals)


def fig7_sentence(desc) -> str:
    """Describable share at the largest cut: overall and per model, vs the paper."""
    cut = desc["cut"].max()
    d = desc[desc.cut == cut]
    per = {n: d.loc[d.model == n, "describable"].mean() for n in NAMES}
    return (f"At rank ≤ {cut}, the annotator describes {per['pt']:.1f}% of the pre-trained "
            f"and {per['ft']:.1f}% of the tuned word lists (mean over layer groups). "
            f"Paper: {PAPER_FIG7}.")


def describe_table5(t5) -> str:
    """The Table 5 changes base → tuned in words (no verdict: that is :func:`verdict_text`)."""
    tasks, levels, stay = _verdict(t5, 0.05)
    fmt = lambda r: f"{r.item} {r.pt_mean:.1f}% → {r.tuned_mean:.1f}% ({r.diff_pp:+.1f} pp)"
    return (f"**Scenarios** (base → tuned, % of describable concepts): "
            f"{'; '.join(fmt(r) for r in tasks)}. **Linguistic levels**: "
            f"{'; '.join(fmt(r) for r in levels)}; {'no' if stay else 'some'} level test rejects "
            "equal shares at α = 0.05. Paper: writing +2.03 pp, coding +0.81 pp, math +0.17 pp; "
            "every level within 0.4 pp, p > 0.25.")


def verdict_text(verdict, parts, controls_given: bool) -> str:
    """The closing paragraph of the controls section of Table 5."""
    ctl = ("" if controls_given else " No control was given, so no change can be called "
           "specific to instruction tuning.")
    items = "\n".join(f"* {v.label}: {v.sentence}" for v in parts)
    return (f"The verdict judges both halves of Finding 3. The task half (writing, coding and "
            f"math shares rise): a part supports the paper only where base → tuned moves that way "
            f"and, when controls are given, exceeds both.{ctl} The level half (\"linguistic levels "
            f"stay\") claims *no* change: a level whose share changes significantly base → tuned "
            f"(two-proportion test) goes against it; one that does not is counted as support, "
            f"though a non-significant change does not prove equivalence.\n\n**Finding 3 on this pair: {verdict.label}.**\n\n{items}")


def claim_summary(t5c) -> tuple[str, str]:
    """(paper, ours) short strings for the landing page's claim record."""
    from paperlib.paper.contrasts import CONTRASTS

    rows = t5c.set_index("item").loc[["writing", "coding", "math"]]
    ours = "; ".join(f"{item}: " + ", ".join(f"{c.label} {r[f'{c.label}: Δ pp']:+.1f} pp"
                                             for c in CONTRASTS if f"{c.label}: Δ pp" in r)
                     for item, r in rows.iterrows())
    return ("writing +2.03, coding +0.81, math +0.17 pp (Vicuna vs LLaMA); levels within 0.4 pp",
            ours)


def _same_direction(ours, paper) -> str:
    return "–" if ours != ours else "yes" if ours * paper > 0 else "no"


def _agrees(r, paper_change: float, alpha: float) -> str:
    """A scenario agrees when its change has the paper's sign; a level, whose share the
    paper finds unchanged, when our two-proportion test does not reject equal shares."""
    if r.category == "level":
        p = r.two_prop_p
        return "–" if p != p else "yes: no significant change" if p >= alpha else "no: changed"
    return _same_direction(r.diff_pp, paper_change)


def table5_table(t5, label: str, caption: str, alpha: float = 0.05):
    """Table 5 as a compact comparison per scenario and level: the paper's change
    Vicuna − LLaMA (pp), ours tuned − base, Δ, the paper's p and our two-proportion p
    (the test of the verdict), whether the direction agrees; means ± std and the
    other tests in the collapsible block. ``t5``: ``finding3.table5``."""
    from paperlib.paper.finding3 import paper_table5

    paper = paper_table5().set_index("item")
    rows, more = [], []
    for r in t5.itertuples():
        p = paper.loc[r.item]
        theirs = p.tuned_mean - p.pt_mean
        rows.append({"item": r.item, "kind": r.category, "paper: Vicuna − LLaMA (pp)": theirs,
                     "ours: tuned − base (pp)": r.diff_pp, "Δ ours − paper (pp)": r.diff_pp - theirs,
                     "p paper": fmt_p(p.p_value), "p ours": fmt_p(r.two_prop_p),
                     "agrees with the paper": _agrees(r, theirs, alpha)})
        more.append({"item": r.item, "tuned, ours (%)": format_mean_std(r.tuned_mean, r.tuned_std, 1),
                     "base, ours (%)": format_mean_std(r.pt_mean, r.pt_std, 1),
                     "Vicuna, paper (%)": format_mean_std(p.tuned_mean, p.tuned_std, 2),
                     "LLaMA, paper (%)": format_mean_std(p.pt_mean, p.pt_std, 2),
                     "Welch p over seeds, ours": r.welch_note or fmt_p(r.welch_p),
                     "paired-over-layers p, ours": fmt_p(r.layers_paired_p)})
    return figures.table(pd.DataFrame(rows), label, caption, digits=2,
                         note="p ours: two-proportion z-test on the first seed's concepts (the "
                              "verdict's test); the paper's p: Welch's t-test over 5 seeds. A "
                              "scenario agrees when its change has the paper's sign; a level "
                              "(the paper: unchanged, every level within 0.4 pp, p > 0.25) when "
                              f"our test finds no change at α = {alpha}.",
                         details=("Shares (mean ± std over seeds, %) and our other two tests",
                                  pd.DataFrame(more)))


def levels_table(levels, label: str, caption: str):
    """Fig 3 as numbers: per model and layer group, the describable concepts (n) and
    the share (%) of each linguistic level. ``levels``: ``finding3_groups.level_by_group``."""
    from paperlib.annotate import LEVELS

    frame = pd.DataFrame({"model": levels["model"].map(ROLE_LABELS), "layers": levels["layers"],
                          "describable concepts": levels["n"].round(0).astype(int)})
    for lv in LEVELS:
        frame[f"{lv} (%)"] = levels[lv]
    return figures.table(frame, label, caption, digits=1)


def examples_table(ex, label: str, caption: str):
    """Example concepts of one layer (``finding3_groups.examples``), pre-trained then
    tuned; the annotator's evidence for each concept in the collapsible block."""
    named = ex.assign(model=ex["model"].map(ROLE_LABELS))
    main = named[["model", "rank", "concept", "scenario", "linguistic", "words"]].rename(
        columns={"linguistic": "level", "words": "top words"})
    return figures.table(main, label, caption,
                         details=("The annotator's evidence for each concept (the rule that fired)",
                                  named[["model", "rank", "concept", "rule"]]))


def table5_contrast_table(t5c, label: str, caption: str, alpha: float = 0.05):
    """``contrasts.table5_contrasts`` as shown: per item the change (pp) of every
    contrast, the tuning's two-proportion p, the bootstrap p against each control
    and whether base → tuned exceeds both; the shares of every model and the
    margins in the collapsible block."""
    out = t5c.copy()
    pcols = [c for c in out if c.startswith("p vs ")]
    if pcols:
        out["exceeds both controls"] = ["yes" if all(r[c] == r[c] and r[c] < alpha for c in pcols)
                                        else "no" for _, r in out.iterrows()]
    for c in out.columns:
        if c.startswith("p vs ") or c.endswith(" p"):
            out[c] = out[c].map(fmt_p)
    out = out.rename(columns={"tuning: two-proportion p": "p base → tuned (two-proportion)"})
    deltas = [c for c in out if c.endswith(": Δ pp")]
    main = ["item", *deltas, "p base → tuned (two-proportion)", *pcols,
            *(["exceeds both controls"] if pcols else [])]
    more = ["item", *[c for c in out if c.endswith(" %")], *[c for c in out if c.startswith("margin vs ")]]
    return figures.table(control_columns(out[main]), label, caption, digits=1,
                         details=("Shares (%) of every model and the margins of base → tuned "
                                  "over each control (pp)", control_columns(out[more])))


def concept_change_table(changes, label: str, caption: str):
    """``contrasts.concept_list_change`` as shown: contrasts by name, changes in %."""
    from paperlib.paper.contrasts import CONTRASTS

    frame = pd.DataFrame({
        "contrast": changes["contrast"].map({c.key: c.label for c in CONTRASTS}),
        "layer": changes["layer"],
        "lists moved (1 − best overlap, %)": 100 * changes["changed"],
        "lists not shared (%)": 100 * changes["exact_changed"]})
    return figures.table(frame, label, caption, digits=1)


def variance_frame(var):
    """``finding3_groups.variance_table`` with readable column names (Fig 8 numbers)."""
    return pd.DataFrame({
        "model": var["model"].map(ROLE_LABELS), "layer": var["layer"], "D": var["D"],
        "R": var["R"], "top R (%)": var["cum_at_R"],
        "paper's relative rank": var["rel_rank"], "top relative rank (%)": var["cum_at_rel_rank"],
        "top D/2 (%)": var["cum_at_half_D"]})


def word_shift_frame(shift):
    """``finding3_groups.word_shift`` (Tables 6-9) with readable column names."""
    out = shift.assign(rank_shift=shift["rank_shift"].map(lambda x: "–" if x != x else f"{x:+.0f}"))
    return out.rename(columns={"pt": "count pre-trained", "ft": "count tuned", "rank_shift": "rank shift"})


def record(verdict, t5c, pair: LivePair, name: str | None = None) -> None:
    """Write the ``finding3`` claim record for the landing page (returns nothing);
    ``name``: the pair's short name (default: its label)."""
    from paperlib.book.claims import record_claim

    paper, ours = claim_summary(t5c)
    controls = "with controls" if any(c.startswith("p vs ") for c in t5c) else "no control"
    record_claim("finding3", claim="Instruction tuning rotates FFN knowledge toward user tasks: "
                 "writing, coding and math concepts rise while linguistic levels stay (Table 5)",
                 paper=paper, ours=ours, pair=f"{name or pair.label} ({controls})", verdict=verdict,
                 page="notebooks/table5_fig3_ffn_concepts")
