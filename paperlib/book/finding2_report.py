"""Figures, static head browser and computed text of the Finding 2 chapter (Fig 2, Table 3).

Tables come from :mod:`paperlib.paper.finding2`; figures are titled with the pair
(:meth:`paperlib.models.pair.LivePair.title`).
"""
from __future__ import annotations

import html

import numpy as np

from paperlib.core.errors import ParameterError
from paperlib.models.pair import NAMES, ROLE_LABELS, LivePair
from paperlib.paper.finding2 import PAPER_CHANGED_LAST, PAPER_FIG2


def fig2_figure(table, pair: LivePair):
    """Line plot of :func:`fig2_table` (changed share in %, head and neuron level)
    with the paper's 35% mark. Returns the Figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.0))
    x = np.arange(len(table))
    for col, style, label in (("heads_changed", "o-", "head level"),
                              ("neurons_changed", "s--", "neuron level")):
        ax.plot(x, 100 * table[col].to_numpy(dtype=float), style, label=label)
    ax.axhline(100 * PAPER_CHANGED_LAST, color="grey", lw=0.8, ls=":",
               label="paper: last layers > 35%")
    ax.set_xticks(x, table["layers"], rotation=45 if len(x) > 8 else 0)
    ax.set_xlabel("layers")
    ax.set_ylabel("changed word pairs (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    ax.set_title(pair.title("Fig 2 · share of changed word pairs"), fontsize=9)
    fig.tight_layout()
    return fig


def example_layers(att: dict) -> list[int]:
    """First and last explained layer (one if they coincide)."""
    layers = sorted(att["pt"])
    return list(dict.fromkeys([layers[0], layers[-1]]))


def browse_choices(att: dict, per_layer: int = 2, limit: int = 16) -> list[tuple[int, int]]:
    """(layer, head) choices of the browser: the ``per_layer`` busiest heads
    (:func:`paperlib.measures.attention_stats.busiest_heads`) of each explained layer,
    at most ``limit`` in all (evenly spread over the layers when cut)."""
    from paperlib.measures.attention_stats import busiest_heads
    from paperlib.core.errors import check_count

    check_count("per_layer", per_layer, 1)
    check_count("limit", limit, 1)
    layers = sorted(att["pt"])
    if len(layers) * per_layer > limit:
        keep = np.linspace(0, len(layers) - 1, max(1, limit // per_layer)).round().astype(int)
        layers = [layers[i] for i in dict.fromkeys(keep.tolist())]
    return [(l, h) for l in layers for h in busiest_heads(att, l, per_layer)]


def pairs_html(att: dict, layer: int, head: int, top: int = 20) -> str:
    """HTML table of one head's top ``top`` head-level pairs, pre-trained beside
    tuned; a pair in both lists is marked with "=" (unchanged)."""
    lists = [att[n][layer].head_pairs(head)[:top] for n in NAMES]
    both = set(lists[0]) & set(lists[1])
    cell = lambda p: ("" if p is None else html.escape(f"{p[0]} → {p[1]}")
                      + (" =" if p in both else ""))
    rows = "".join(f"<tr><td>{r + 1}</td>" + "".join(
        f"<td>{cell(x[r] if r < len(x) else None)}</td>" for x in lists) + "</tr>"
        for r in range(max(1, max(len(x) for x in lists))))
    head_row = "".join(f"<th>{ROLE_LABELS[n]} ({len(x)})</th>" for n, x in zip(NAMES, lists))
    return (f"<p>layer {layer + 1}, head {head} — '=' marks a pair in both lists</p>"
            f"<table><tr><th>rank</th>{head_row}</tr>{rows}</table>")


def pair_browser(att: dict, choices, top: int = 20):
    """Kernel-free browser: a Dropdown whose index is jslink-ed to a Stack of the
    pre-rendered :func:`pairs_html` tables of ``choices`` [(layer, head), ...]
    (same pattern as :func:`paperlib.book.widgets.static_picker`). Returns the VBox."""
    import ipywidgets as widgets

    choices = list(choices)
    if not choices:
        raise ParameterError("the pair browser needs at least one (layer, head)")
    labels = [f"layer {l + 1}, head {h}" for l, h in choices]
    pages = [widgets.HTML(value=pairs_html(att, l, h, top)) for l, h in choices]
    dropdown = widgets.Dropdown(options=labels, index=0, description="Head:")
    stack = widgets.Stack(children=pages, selected_index=0)
    widgets.jslink((dropdown, "index"), (stack, "selected_index"))
    box = widgets.VBox([dropdown, stack])
    box.dropdown, box.stack = dropdown, stack
    return box


def _pct(x) -> str:
    return "n/a" if x != x else f"{100 * x:.1f}%"


def fig2_sentence(fig2) -> str:
    """Does the head-level changed share rise with depth (Spearman rho over groups)
    and pass 35% in the last group?"""
    from scipy.stats import spearmanr

    vals = fig2["heads_changed"].to_numpy(dtype=float)
    first, last = fig2["layers"].iloc[0], fig2["layers"].iloc[-1]
    text = (f"**Fig 2.** Head-level pairs changed: {_pct(vals[0])} in layers {first}, "
            f"{_pct(vals[-1])} in layers {last}")
    ok = vals[np.isfinite(vals)]
    if len(ok) >= 3 and np.ptp(ok) > 0:
        rho = spearmanr(np.arange(len(vals))[np.isfinite(vals)], ok).statistic
        trend = "rises with depth" if rho > 0.5 else "does not clearly rise with depth"
        text += f"; the share {trend} (Spearman ρ = {rho:.2f} over {len(ok)} groups)"
    elif len(ok) == 2:
        text += "; " + ("higher" if ok[-1] > ok[0] else "not higher") + " in the last group"
    above = "above" if vals[-1] > PAPER_CHANGED_LAST else "below"
    return text + f"; the last group is {above} the paper's 35%. Paper: {PAPER_FIG2}."


def lower_groups(t3, n_layers: int):
    """Rows of a Table 3 whose first layer lies in the lower half of the model."""
    first = t3["layers"].map(lambda s: int(s.split("-")[0]))
    return t3[first <= n_layers / 2]


def table3_sentence(t3, n_layers: int, alpha: float = 0.05) -> str:
    """Does the paper's direction hold: instruction verbs gain pairs more often than
    general verbs (instruct mean > general mean) in the lower half of the layers?"""
    low = lower_groups(t3, n_layers)
    valid = low[np.isfinite(low["instruct_mean"]) & np.isfinite(low["general_mean"])]
    if valid.empty:
        return ("**Table 3.** No lower-layer group has a verb whose head count changed, so "
                "the paper's direction cannot be judged on this pair.")
    higher = valid[valid["instruct_mean"] > valid["general_mean"]]
    sig = higher[higher["p_value"] < alpha]
    detail = "; ".join(f"layers {r.layers}: {r.instruct_mean:.1f}% vs {r.general_mean:.1f}% "
                       f"(p = {r.p_value:.3g})" for r in valid.itertuples())
    verdict = ("holds" if len(higher) == len(valid) else "holds in part" if len(higher)
               else "does not hold")
    return (f"**Table 3.** In the lower half of the layers, the share of heads that gained "
            f"pairs with the verb is, instruction vs general verbs, {detail}. The paper's "
            f"direction (instruction verbs gain word pairs in lower layers) **{verdict}** on "
            f"this pair: instruction verbs are ahead in {len(higher)} of {len(valid)} lower "
            f"groups, significantly (Welch, p < {alpha}) in {len(sig)}. Paper: 78.46% vs "
            f"52.45% in layers 1–4, p < 0.05 in each of the first 16 of 32 layers.")


def conclusion(fig2, t3, n_layers: int, pair: LivePair) -> str:
    """The closing paragraph (Markdown), built from the results."""
    text = fig2_sentence(fig2) + "\n\n" + table3_sentence(t3, n_layers)
    if pair.fallback:
        text += ("\n\n⚠️ *These numbers come from the random stand-in pair: they test the "
                 "pipeline, not the paper's claim.*")
    return text


# ---- three contrasts (paperlib.paper.contrasts) ----------------------------------------

MEASURE_LABELS = {"changed": "pair set changed (paper's measure)",
                  "rbo_change": "1 − rank-biased overlap (p = 0.9)"}


def contrast_style() -> None:
    """seaborn theme of the contrast figures (the book's fonts, SVG text as paths)."""
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper", rc={
        "axes.titlesize": 9, "axes.labelsize": 8, "xtick.labelsize": 7.5, "ytick.labelsize": 7.5,
        "legend.fontsize": 8, "svg.fonttype": "path", "svg.hashsalt": "paperlib",
        "figure.dpi": 150, "savefig.dpi": 150})


def fig2_contrast_figure(fig2c, pair: LivePair, measures=("changed", "rbo_change")):
    """Fig 2 with controls: one panel per measure, one line per contrast (base → tuned,
    base → continued pre-training, tuned → tuned seed 2) over the layer groups, with
    the paper's 35% mark; the legend sits under the panels, outside the data."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from paperlib.paper.contrasts import CONTRASTS

    labels = {c.key: c.label for c in CONTRASTS}
    data = fig2c.assign(contrast=fig2c["contrast"].map(labels))
    long = data.melt(id_vars=["contrast", "layers"], value_vars=list(measures),
                     var_name="measure", value_name="value")
    long["value"] = 100 * long["value"]
    contrast_style()
    fig, axes = plt.subplots(1, len(measures), figsize=(7.2, 3.0), sharey=True, squeeze=False,
                             layout="constrained")
    order = [labels[c.key] for c in CONTRASTS if labels[c.key] in set(data["contrast"])]
    for ax, m in zip(axes[0], measures):
        sns.lineplot(long[long.measure == m], x="layers", y="value", hue="contrast", hue_order=order,
                     style="contrast", style_order=order, markers=True, dashes=False, sort=False, ax=ax)
        ax.axhline(100 * PAPER_CHANGED_LAST, color="grey", lw=0.8, ls=":", label="paper: > 35% (last layers)")
        ax.set(title=MEASURE_LABELS.get(m, m), xlabel="layers", ylabel="change (%)", ylim=(0, 105))
        ax.get_legend().remove()
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=2, frameon=False)
    fig.suptitle(pair.title("Fig 2 with controls · change of the heads' word pairs"), fontsize=9)
    return fig


def fmt_p(p) -> str:
    """A p-value for a table cell ("–" when undefined)."""
    return "–" if p != p else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def tests_table(tests, alpha: float = 0.05):
    """:func:`paperlib.paper.contrasts.fig2_tests` as shown: means in %, p-values
    formatted, and per group whether base → tuned exceeds both controls."""
    out = tests.copy()
    pcols = [c for c in out if c.startswith("p vs ")]
    for c in out.columns:
        if c.startswith("margin vs "):
            out[c] = (100 * out[c]).round(1)
        elif c not in ("layers", *pcols):
            out[c] = (100 * out[c]).round(1)
    if pcols:
        out["exceeds both controls"] = [
            "yes" if all(r[c] == r[c] and r[c] < alpha for c in pcols) else "no"
            for _, r in out.iterrows()]
    for c in pcols:
        out[c] = out[c].map(fmt_p)
    return out


def table3_contrast_view(t3c):
    """:func:`paperlib.paper.contrasts.table3_contrasts` with rounded Δ and formatted p."""
    out = t3c.copy()
    for c in out.columns:
        if c.endswith(": p") or c.startswith("p vs "):
            out[c] = out[c].map(fmt_p)
        elif c != "layers":
            out[c] = out[c].round(1)
    return out


def verdict_text(verdict, parts, measure: str, saturated: bool, controls_given: bool) -> str:
    """The closing paragraph of the controls section: the measure used and why, the
    verdict of Finding 2, and each part's sentence."""
    why = (f"The verdict rests on **{MEASURE_LABELS.get(measure, measure)}**: the first measure "
           "of (pair-set change, 1 − rank-biased overlap) that is not saturated for base → tuned "
           "(saturated: every layer group within 5 points of 100%, where no rise can show)")
    why += (" — both are saturated here, so the Fig 2 parts cannot be judged." if saturated else ".")
    ctl = (" A part supports the paper's direction only where base → tuned moves that way and "
           "exceeds both controls." if controls_given else " No control was given, so no part "
           "can be called specific to instruction tuning; a part supports the paper's direction "
           "where base → tuned moves that way.")
    items = "\n".join(f"* {v.label}: {v.sentence}" for v in parts)
    return f"{why}{ctl}\n\n**Finding 2 on this pair: {verdict.label}.**\n\n{items}"


def claim_summary(fig2c, t3c, measure: str) -> tuple[str, str]:
    """(paper, ours) short strings for the landing page's claim record."""
    from paperlib.paper.contrasts import CONTRASTS

    last = fig2c["layers"].iloc[-1]
    ours = "; ".join(f"{c.label}: {100 * fig2c[(fig2c.contrast == c.key) & (fig2c.layers == last)][measure].iloc[0]:.0f}%"
                     for c in CONTRASTS if c.key in set(fig2c["contrast"]))
    paper = "pairs changed rise with depth, > 35% in the last layers; instruction verbs gain pairs in layers 1-16"
    return paper, f"{measure} in layers {last}: {ours}"


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


def record(verdict, fig2c, t3c, measure: str, pair: LivePair, controls_note: str) -> None:
    """Write the ``finding2`` claim record for the landing page (returns nothing)."""
    from paperlib.book.claims import record_claim

    paper, ours = claim_summary(fig2c, t3c, measure)
    controls = "with controls" if len(set(fig2c["contrast"])) > 1 else "no control"
    record_claim("finding2", claim="Instruction tuning changes the self-attention heads' word pairs, "
                 "more with depth; instruction verbs gain pairs in the lower layers (Fig 2, Table 3)",
                 paper=paper, ours=ours, pair=f"{pair.label} ({controls})", verdict=verdict,
                 page="notebooks/fig2_table3_attention_pairs")


def fig2c_view(fig2c):
    """:func:`paperlib.paper.contrasts.fig2_contrasts` as shown: contrasts by name, changes in %."""
    from paperlib.paper.contrasts import CONTRASTS

    out = fig2c.copy()
    out["contrast"] = out["contrast"].map({c.key: c.label for c in CONTRASTS})
    for c in out.columns[3:]:
        out[c] = (100 * out[c]).round(1)
    return out.rename(columns={"n": "heads"})
