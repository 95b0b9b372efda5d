"""Numbered tables and computed text of the Finding 2 chapter (Fig 2, Table 3).

Tables come from :mod:`paperlib.paper.finding2` and :mod:`paperlib.paper.contrasts`;
this module shows them the book's way (:func:`paperlib.book.figures.table`: a compact
comparison first, secondary statistics in a collapsible block, readable column
names, never the library's internal keys). Figures are in
:mod:`paperlib.book.finding23_plots`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from paperlib.book import figures
from paperlib.book.claims import measure_name, readable
from paperlib.measures.stats import format_mean_std
from paperlib.models.pair import NAMES, LivePair
from paperlib.paper.finding2 import PAPER_CHANGED_LAST, PAPER_FIG2

#: Readable names of the control contrasts (keys of :data:`paperlib.paper.contrasts.CONTROLS`).
CONTROL_NAMES = {"cpt": "continued pre-training", "reseed": "second seed"}


def example_layers(att: dict) -> list[int]:
    """First and last explained layer (one if they coincide)."""
    layers = sorted(att["pt"])
    return list(dict.fromkeys([layers[0], layers[-1]]))


def _pct(x) -> str:
    return "n/a" if x != x else f"{100 * x:.1f}%"


def fmt_p(p) -> str:
    """A p-value for a table cell ("–" when undefined)."""
    if isinstance(p, str):
        return p
    if p is None or p != p:
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.4f}" if p < 0.01 else f"{p:.3f}"


def control_columns(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the contrast tables' internal column names made readable
    ("margin vs cpt" -> "margin over continued pre-training (pp)", "p vs reseed" ->
    "p vs second seed")."""
    names = {}
    for key, name in CONTROL_NAMES.items():
        names[f"margin vs {key}"] = f"margin over {name} (pp)"
        names[f"p vs {key}"] = f"p vs {name}"
    return df.rename(columns=names)


def fig2_sentence(fig2) -> str:
    """The head-level changed share of the first and last group; whether it rises with
    depth (Spearman rho over groups) unless it is saturated (every group within 5
    points of 100%: :func:`paperlib.paper.verdicts.is_saturated`), and whether the
    last group passes the paper's 35%."""
    from scipy.stats import spearmanr

    from paperlib.paper.verdicts import is_saturated

    vals = fig2["heads_changed"].to_numpy(dtype=float)
    first, last = fig2["layers"].iloc[0], fig2["layers"].iloc[-1]
    text = (f"**Fig 2.** Head-level pairs changed: {_pct(vals[0])} in layers {first}, "
            f"{_pct(vals[-1])} in layers {last}")
    ok = vals[np.isfinite(vals)]
    if is_saturated(ok):
        text += ("; every layer group is within 5 points of 100%: the measure is saturated, so "
                 "it cannot show a rise with depth on this pair (section 7 reads graded measures)")
    elif len(ok) >= 3 and np.ptp(ok) > 0:
        rho = spearmanr(np.arange(len(vals))[np.isfinite(vals)], ok).statistic
        trend = "rises with depth" if rho > 0.5 else "does not clearly rise with depth"
        text += f"; the share {trend} (Spearman ρ = {rho:.2f} over {len(ok)} groups)"
    elif len(ok) == 2:
        text += "; " + ("higher" if ok[-1] > ok[0] else "not higher") + " in the last group"
    above = "above" if vals[-1] > PAPER_CHANGED_LAST else "below"
    return readable(text + f"; the last group is {above} the paper's 35%. Paper: {PAPER_FIG2}.")


def fig2_table(fig2, label: str, caption: str):
    """Fig 2 as a numbered table: changed share (%) per layer group, head and neuron
    level; the numbers of units in the collapsible block."""
    compact = pd.DataFrame({"layers": fig2["layers"],
                            "heads: pairs changed (%)": 100 * fig2["heads_changed"],
                            "neurons: pairs changed (%)": 100 * fig2["neurons_changed"]})
    counts = pd.DataFrame({"layers": fig2["layers"], "heads with a pair": fig2["n_heads"],
                           "neurons with a pair": fig2["n_neurons"]})
    return figures.table(compact, label, caption, digits=1,
                         details=("Units counted per group (heads and neurons with a pair in "
                                  "either model)", counts))


def _sign(x) -> str:
    return "–" if x != x else "yes" if x > 0 else "no"


def table3_table(t3, comparison, label: str, caption: str):
    """Table 3 as a compact comparison per layer group: the paper's instruction-minus-
    general difference (pp) at the same layers or relative depth, ours, Δ, both
    p-values and whether the direction agrees; means ± std and verb counts in the
    collapsible block. ``comparison``: ``finding2.table3_comparison(t3, n)[0]``."""
    from paperlib.paper.finding2 import paper_table3

    paper = paper_table3().set_index("layers")
    group_col = "paper layers" if "paper layers" in comparison else "paper group at same depth"
    rows, more = [], []
    for (_, r), group in zip(t3.iterrows(), comparison[group_col]):
        p = paper.loc[group]
        ours, theirs = r["instruct_mean"] - r["general_mean"], p["instruct_mean"] - p["general_mean"]
        rows.append({"layers": r["layers"], "paper's layers": group,
                     "paper: instruction − general (pp)": theirs, "ours (pp)": ours,
                     "Δ ours − paper (pp)": ours - theirs, "p paper": fmt_p(p["p_value"]),
                     "p ours": fmt_p(r["p_value"]),
                     "same direction": "–" if ours != ours else _sign(ours * theirs)})
        more.append({"layers": r["layers"],
                     "instruction verbs, ours (%)": format_mean_std(r["instruct_mean"], r["instruct_std"], 1),
                     "general verbs, ours (%)": format_mean_std(r["general_mean"], r["general_std"], 1),
                     "verbs counted (instruction / general)": f"{r['instruct_n']} / {r['general_n']}",
                     "instruction verbs, paper (%)": format_mean_std(p["instruct_mean"], p["instruct_std"], 2),
                     "general verbs, paper (%)": format_mean_std(p["general_mean"], p["general_std"], 2)})
    return figures.table(pd.DataFrame(rows), label, caption, digits=1,
                         details=("Means ± std over verbs and the number of verbs counted",
                                  pd.DataFrame(more)))


def paper_table3_table(label: str, caption: str):
    """The paper's Table 3 (LLaMA-7B -> Vicuna-7B) with readable column names."""
    from paperlib.paper.finding2 import paper_table3

    p = paper_table3()
    frame = pd.DataFrame({
        "layers": p["layers"],
        "instruction verbs (%)": [f"{m:.2f} ± {s:.2f}" for m, s in zip(p.instruct_mean, p.instruct_std)],
        "general verbs (%)": [f"{m:.2f} ± {s:.2f}" for m, s in zip(p.general_mean, p.general_std)],
        "p": p["p_value"].map(lambda x: f"{x:.4f}")})
    return figures.table(frame, label, caption)


def pairs_table(frame, label: str, caption: str):
    """``live_explainers.head_pairs_table`` of one layer as a numbered table (the layer
    is named in the caption, so its column is dropped)."""
    return figures.table(frame.drop(columns=["layer"], errors="ignore"), label, caption)


def _contrast_names(df):
    from paperlib.paper.contrasts import CONTRASTS

    return df["contrast"].map({c.key: c.label for c in CONTRASTS})


def fig2c_table(fig2c, label: str, caption: str):
    """Fig 2 per contrast: the paper's measure and 1 − RBO per group (%); the changes at
    each depth k and the number of heads in the collapsible block."""
    measures = [c for c in fig2c.columns if c not in ("contrast", "layers", "n")]
    main = [m for m in ("changed", "rbo_change") if m in measures]
    named = fig2c.assign(contrast=_contrast_names(fig2c))
    compact = named[["contrast", "layers"]].assign(**{measure_name(m) + " (%)": 100 * fig2c[m] for m in main})
    rest = named[["contrast", "layers"]].assign(heads=fig2c["n"], **{
        measure_name(m) + " (%)": 100 * fig2c[m] for m in measures if m not in main})
    return figures.table(compact, label, caption, digits=1,
                         details=("Changed share of the first k pairs of the ranked lists, and "
                                  "the number of heads", rest))


def tests_table(tests, label: str, caption: str, alpha: float = 0.05):
    """``contrasts.fig2_tests`` as shown: mean change (%) of each contrast, the p of
    "base → tuned changes more" against each control and whether it exceeds both;
    the margins (points) in the collapsible block."""
    out = tests.copy()
    pcols = [c for c in out if c.startswith("p vs ")]
    mcols = [c for c in out if c.startswith("margin vs ")]
    for c in out.columns:
        if c not in ("layers", *pcols):
            out[c] = 100 * out[c]
    if pcols:
        out["exceeds both controls"] = ["yes" if all(r[c] == r[c] and r[c] < alpha for c in pcols)
                                        else "no" for _, r in out.iterrows()]
    for c in pcols:
        out[c] = out[c].map(fmt_p)
    details = None
    if mcols:
        details = ("Margins of base → tuned over each control (points)",
                   control_columns(out[["layers", *mcols]]))
    return figures.table(control_columns(out.drop(columns=mcols)), label, caption, digits=1,
                         details=details)


def table3_contrast_table(t3c, label: str, caption: str):
    """``contrasts.table3_contrasts`` as shown: per group the instruction-minus-general
    difference (pp) of every contrast, the Welch p of base → tuned and the bootstrap p
    against each control; the controls' Welch p and the margins in the collapsible block."""
    from paperlib.paper.contrasts import TUNING

    pcols = [c for c in t3c if c.endswith(": p")]
    tuning_p = [c for c in pcols if c == f"{TUNING.label}: p"]
    main = ["layers", *[c for c in t3c if c.endswith(": Δ pp")], *tuning_p,
            *[c for c in t3c if c.startswith("p vs ")]]
    more = ["layers", *[c for c in pcols if c not in tuning_p], *[c for c in t3c if c.startswith("margin vs ")]]
    show = t3c.copy()
    for c in show.columns:
        if c.endswith(": p") or c.startswith("p vs "):
            show[c] = show[c].map(fmt_p)
    rename = {c: c.replace(": p", ": Welch p") for c in pcols}
    details = None
    if len(more) > 1:
        details = ("Welch p of the control contrasts and the margins of base → tuned over each "
                   "control (pp)", control_columns(show[more].rename(columns=rename)))
    return figures.table(control_columns(show[main].rename(columns=rename)), label, caption,
                         digits=1, details=details)


def verdict_text(verdict, parts, measure: str, saturated: bool, controls_given: bool) -> str:
    """The closing paragraph of the controls section: the measure used and why, the
    verdict of Finding 2, and each part's sentence (readable measure names)."""
    why = (f"The verdict rests on **{measure_name(measure)}**: the first measure of "
           "(pair-set change, 1 − rank-biased overlap) that is not saturated for base → tuned "
           "(saturated: every layer group within 5 points of 100%, where no rise can show)")
    why += (" — both are saturated here, so the Fig 2 parts cannot be judged." if saturated else ".")
    ctl = (" A part supports the paper's direction only where base → tuned moves that way and "
           "exceeds both controls." if controls_given else " No control was given, so no part "
           "can be called specific to instruction tuning; a part supports the paper's direction "
           "where base → tuned moves that way.")
    items = "\n".join(f"* {v.label}: {readable(v.sentence)}" for v in parts)
    return f"{why}{ctl}\n\n**Finding 2 on this pair: {verdict.label}.**\n\n{items}"


def claim_summary(fig2c, t3c, measure: str) -> tuple[str, str]:
    """(paper, ours) short strings for the landing page's claim record."""
    from paperlib.paper.contrasts import CONTRASTS

    last = fig2c["layers"].iloc[-1]
    ours = "; ".join(f"{c.label}: {100 * fig2c[(fig2c.contrast == c.key) & (fig2c.layers == last)][measure].iloc[0]:.0f}%"
                     for c in CONTRASTS if c.key in set(fig2c["contrast"]))
    paper = "pairs changed rise with depth, > 35% in the last layers; instruction verbs gain pairs in layers 1-16"
    return paper, readable(f"{measure_name(measure)} in layers {last}: {ours}")


def control_attention(ex, controls: dict, layers, *, K: int, max_pairs: int, vocab_size,
                      similarity) -> dict:
    """{role: {layer: AttentionPairs}} of the pair (``ex``: a PairExplainers, whose
    similarity tables are reused) and of the control models {role: (model, tokenizer)}."""
    from paperlib.book.live_explainers import similarity_backend
    from paperlib.paper.finding2 import attention_of_models

    att = ex.attention(layers, K=K, max_pairs=max_pairs)
    if controls:
        tables = {ex.indices[n].words: ex.tables[n] for n in NAMES}
        att.update(attention_of_models(controls, layers, K=K, max_pairs=max_pairs,
                                       vocab_size=vocab_size, similarity=similarity_backend(similarity),
                                       tables=tables))
    return att


def record(verdict, fig2c, t3c, measure: str, pair: LivePair, controls_note: str,
           name: str | None = None) -> None:
    """Write the ``finding2`` claim record for the landing page (returns nothing);
    ``name``: the pair's short name (default: its label)."""
    from paperlib.book.claims import record_claim

    paper, ours = claim_summary(fig2c, t3c, measure)
    controls = "with controls" if len(set(fig2c["contrast"])) > 1 else "no control"
    record_claim("finding2", claim="Instruction tuning changes the self-attention heads' word pairs, "
                 "more with depth; instruction verbs gain pairs in the lower layers (Fig 2, Table 3)",
                 paper=paper, ours=ours, pair=f"{name or pair.label} ({controls})", verdict=verdict,
                 page="notebooks/fig2_table3_attention_pairs")

