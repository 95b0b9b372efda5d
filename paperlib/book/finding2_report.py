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
