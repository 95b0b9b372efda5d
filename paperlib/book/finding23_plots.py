"""Statistical figures of Findings 2 and 3 (seaborn): Fig 2 (with its controls), Fig 3,
Fig 7 and Fig 8 on a model pair.

Same conventions as :mod:`paperlib.book.summary_plots`: each function takes the
chapter's table and returns the Figure; figures fill the book's column
(:data:`paperlib.book.figures.COLUMN_IN`), fonts are at least
:data:`paperlib.book.figures.MIN_FONT_PT`, legends sit under the panels (never
over the data), no figure carries a title of its own (the numbered caption names
the pair and the paper's item), and confidence intervals are drawn where the data
has them (per-head changes, counts of concepts).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from paperlib.book.claims import measure_name
from paperlib.book.figures import COLUMN_IN
from paperlib.book.summary_plots import legend_below, require_columns, seaborn_theme
from paperlib.core.errors import ParameterError

ROLE_NAMES = {"pt": "pre-trained", "ft": "tuned"}
PAPER_LAST = 35.0  # %: the paper's Fig 2, over 35% of a head's pairs changed in the last layers


def _paper_line(ax) -> None:
    ax.axhline(PAPER_LAST, color="grey", lw=0.9, ls=":", label="paper: > 35% in the last layers")


def fig2_figure(fig2):
    """Fig 2: changed share (%) of the word pairs per layer group, head level and
    neuron level (``finding2.fig2_table``: group means), with the paper's 35% mark."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    require_columns(fig2, ["layers", "heads_changed", "neurons_changed"], "fig2_figure")
    long = fig2.melt(id_vars="layers", value_vars=["heads_changed", "neurons_changed"],
                     var_name="level", value_name="changed")
    long["level"] = long["level"].map({"heads_changed": "head level", "neurons_changed": "neuron level"})
    long["changed"] = 100 * long["changed"].astype(float)
    seaborn_theme()
    fig, ax = plt.subplots(figsize=(COLUMN_IN * 0.75, 2.7), layout="constrained")
    sns.lineplot(long, x="layers", y="changed", hue="level", style="level", markers=True,
                 dashes=False, sort=False, ax=ax)
    _paper_line(ax)
    ax.set(xlabel="layers", ylabel="word pairs changed (%)", ylim=(0, 105))
    legend_below(fig, [ax], ncol=3)
    return fig


def _with_groups(units, groups):
    label = {layer: lab for lab, layers in groups for layer in layers}
    out = units[units["layer"].isin(label)].copy()
    out["layers"] = out["layer"].map(label)
    return out


def fig2_contrast_figure(units, groups, measures=("changed", "rbo_change")):
    """Fig 2 with controls: one panel per measure, one line per contrast over the layer
    groups: the mean change of the heads with its 95% bootstrap CI over heads.
    ``units``: ``contrasts.unit_changes``; ``groups``: [(label, layers)]."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from paperlib.paper.contrasts import CONTRASTS

    require_columns(units, ["contrast", "layer", *measures], "fig2_contrast_figure")
    names = {c.key: c.label for c in CONTRASTS}
    data = _with_groups(units, groups).assign(contrast=lambda d: d["contrast"].map(names))
    order = [names[c.key] for c in CONTRASTS if names[c.key] in set(data["contrast"])]
    seaborn_theme()
    fig, axes = plt.subplots(1, len(measures), figsize=(COLUMN_IN, 2.9), sharey=True,
                             squeeze=False, layout="constrained")
    for ax, m in zip(axes[0], measures):
        part = data.assign(value=100 * data[m].astype(float))
        sns.lineplot(part, x="layers", y="value", hue="contrast", hue_order=order, style="contrast",
                     style_order=order, markers=True, dashes=False, sort=False,
                     errorbar=("ci", 95), n_boot=1000, seed=0, err_style="bars",
                     err_kws={"capsize": 3}, ax=ax)
        _paper_line(ax)
        ax.set(title=measure_name(m), xlabel="layers", ylabel="change of the heads (%)",
               ylim=(0, 105))
    legend_below(fig, list(axes[0]), ncol=2)
    return fig


def _wilson(share_pct, n, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """95% Wilson interval (%, as lower / upper error lengths) of shares from n counts."""
    p, n = np.asarray(share_pct, float) / 100, np.maximum(np.asarray(n, float), 1)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 100 * np.clip(p - (centre - half), 0, None), 100 * np.clip(centre + half - p, 0, None)


def fig3_figure(levels, level_names=None):
    """Fig 3: share (%) of each linguistic level per layer group, one panel per level
    (default: the annotator's four levels), pre-trained beside tuned, with 95% Wilson
    intervals from the number of describable concepts. ``levels``:
    ``finding3_groups.level_by_group``."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from paperlib.annotate import LEVELS

    level_names = list(LEVELS if level_names is None else level_names)

    require_columns(levels, ["model", "layers", "n", *level_names], "fig3_figure")
    seaborn_theme()
    palette = dict(zip(ROLE_NAMES.values(), sns.color_palette("deep", 2)))
    fig, axes = plt.subplots(2, 2, figsize=(COLUMN_IN, 4.3), sharex=True, layout="constrained")
    offsets = {"pt": -0.06, "ft": 0.06}
    for ax, level in zip(axes.ravel(), level_names):
        for role, name in ROLE_NAMES.items():
            d = levels[levels["model"] == role]
            x = np.arange(len(d)) + offsets[role]
            y = d[level].to_numpy(float)
            ax.errorbar(x, y, yerr=_wilson(np.nan_to_num(y), d["n"]), marker="o", ms=4, lw=1.4,
                        capsize=2.5, color=palette[name], label=name,
                        ls="--" if role == "pt" else "-")
        ax.set_xticks(np.arange(len(d)), d["layers"], rotation=45 if len(d) > 8 else 0)
        ax.set(title=level, ylabel="")
        ax.set_ylim(bottom=0)
    for ax in axes[:, 0]:
        ax.set_ylabel("% of describable concepts")
    for ax in axes[-1]:
        ax.set_xlabel("layers")
    legend_below(fig, list(axes.ravel()), ncol=2)
    return fig


def fig7_figure(desc):
    """Fig 7: % of the word lists the annotator describes per layer group, one panel per
    model, one line per rank cut. ``desc``: ``finding3_groups.describable_by_group``."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    require_columns(desc, ["model", "layers", "cut", "describable"], "fig7_figure")
    data = desc.assign(model=desc["model"].map(ROLE_NAMES),
                       cut=desc["cut"].map(lambda c: f"≤ {int(c)}"))
    cuts = [f"≤ {int(c)}" for c in sorted(desc["cut"].unique())]
    seaborn_theme()
    fig, axes = plt.subplots(1, 2, figsize=(COLUMN_IN, 2.8), sharey=True, squeeze=False,
                             layout="constrained")
    for ax, name in zip(axes[0], ROLE_NAMES.values()):
        sns.lineplot(data[data["model"] == name], x="layers", y="describable", hue="cut",
                     hue_order=cuts, style="cut", style_order=cuts, markers=True, dashes=False,
                     sort=False, palette=sns.color_palette("colorblind", len(cuts)), ax=ax)
        ax.set(title=name, xlabel="layers", ylabel="describable word lists (%)", ylim=(0, 105))
    legend_below(fig, list(axes[0]), ncol=len(cuts), title="rank of the component")
    return fig


def fig8_figure(curves: dict, R: int, relative_rank: int | None = None):
    """Fig 8: cumulative explained variance (%) of the FFN principal components, mean
    over the explained layers with ± 1 std band, per model; dotted lines at ``R`` and
    at the paper's relative rank. ``curves``: {"pt"|"ft": (layers, D) array}."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    rows = []
    for role, name in ROLE_NAMES.items():
        c = 100 * np.asarray(curves[role], float)
        if c.ndim != 2:
            raise ParameterError(f"fig8_figure: curves[{role!r}] must be (layers, D), got {c.shape}")
        k = np.arange(1, c.shape[1] + 1)
        rows += [pd.DataFrame({"model": name, "layer": i, "components": k, "variance": row})
                 for i, row in enumerate(c)]
    data = pd.concat(rows, ignore_index=True)
    seaborn_theme()
    fig, ax = plt.subplots(figsize=(COLUMN_IN * 0.75, 2.8), layout="constrained")
    sns.lineplot(data, x="components", y="variance", hue="model", style="model",
                 errorbar="sd", ax=ax)
    ax.axvline(R, color="grey", lw=0.9, ls=":", label=f"R = {R}")
    if relative_rank:
        ax.axvline(relative_rank, color="crimson", lw=0.9, ls="--",
                   label=f"paper's relative rank ({relative_rank})")
    ax.set(xlabel="number of principal components", ylabel="cumulative explained variance (%)",
           ylim=(0, 102))
    legend_below(fig, [ax], ncol=4)
    return fig
