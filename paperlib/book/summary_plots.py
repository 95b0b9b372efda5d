"""Statistical figures of Finding 1 (seaborn): Tables 1-2, the (b, p) sensitivity, Fig 6.

Each function takes a tidy DataFrame and returns the Figure (never calls
``plt.show``); figures fill the book's column (:data:`paperlib.book.figures.COLUMN_IN`),
legends sit outside the data (below the panels), confidence intervals are
shown where the data has them (per-case scores, per-sentence shares).
Salient maps live in :mod:`paperlib.book.plots`.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from paperlib.book.figures import COLUMN_IN, MIN_FONT_PT
from paperlib.core.errors import ParameterError

MODEL_COLOURS = {"llama": "#1f77b4", "vicuna": "#ff7f0e"}
MODEL_NAMES = {"llama": "LLaMA", "vicuna": "Vicuna", "pt": "pre-trained", "ft": "tuned"}
SEGMENT_LABELS = ("1st", "2nd", "3rd", "4th")
DATASET_ORDER = ("self-instruct", "lima", "mt-bench")
N_BOOT = 1000  # bootstrap resamples of the seaborn confidence intervals (seeded)


def require_columns(df, columns: Sequence[str], what: str) -> None:
    """One ParameterError naming the columns of ``columns`` that ``df`` lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ParameterError(f"{what} needs columns {missing}; got {list(df.columns)}")


def _datasets_in_order(values) -> list:
    """Datasets in paper order (self-instruct, lima, mt-bench), others after."""
    present = list(dict.fromkeys(values))
    return [d for d in DATASET_ORDER if d in present] + [d for d in present if d not in DATASET_ORDER]


def seaborn_theme() -> None:
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper", rc={
        "axes.titlesize": 9, "axes.labelsize": 8, "xtick.labelsize": MIN_FONT_PT + 0.5,
        "ytick.labelsize": MIN_FONT_PT + 0.5, "legend.fontsize": 8, "svg.fonttype": "path",
        "svg.hashsalt": "paperlib"})


def legend_below(fig, axes, ncol: int, title: str | None = None) -> None:
    """One legend for the figure, under the panels (never over the data)."""
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    seen = dict(zip(labels, handles))
    fig.legend(seen.values(), seen.keys(), loc="outside lower center", ncol=ncol, frameon=False,
               title=title)


def table_figure(scores, paper: Mapping[str, Mapping[str, float]] | None = None,
                 groups: Sequence[str] | None = None, *,
                 ylabel: str = "instruction score", palette=None):
    """Instruction scores per group and data set: every case (dots), our mean with
    its 95% bootstrap CI (bars), the paper's mean (black diamond).

    ``scores``: long frame with columns ``dataset``, ``group`` and ``score`` (one
    row per case); ``paper``: {dataset: {group: published mean}} (None: none).
    One panel per data set, groups in the order of ``groups`` (default: as they
    first appear). The paper's mark sits just right of ours. Returns the Figure.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    require_columns(scores, ["dataset", "group", "score"], "table_figure")
    groups = list(dict.fromkeys(scores["group"])) if groups is None else list(groups)
    unknown = sorted(set(scores["group"]) - set(groups))
    if unknown:
        raise ParameterError(f"table_figure: groups {unknown} are not in {list(groups)}")
    seaborn_theme()
    datasets = _datasets_in_order(scores["dataset"])
    fig, axes = plt.subplots(1, len(datasets), figsize=(COLUMN_IN, 3.1), sharey=True,
                             squeeze=False, layout="constrained")
    palette = palette or dict(zip(groups, sns.color_palette("deep", len(groups))))
    for ax, name in zip(axes[0], datasets):
        part = scores[scores["dataset"] == name]
        sns.stripplot(part, x="group", y="score", order=list(groups), hue="group",
                      palette=palette, size=2.2, alpha=0.35, jitter=0.25, ax=ax, legend=False)
        sns.pointplot(part, x="group", y="score", order=list(groups), color="black",
                      errorbar=("ci", 95), n_boot=N_BOOT, seed=0, linestyle="none",
                      markers="o", markersize=4, capsize=0.25, err_kws={"linewidth": 1.2},
                      ax=ax, label="ours: mean and 95% CI")
        if paper and name in paper:
            xs = [i for i, g in enumerate(groups) if g in paper[name]]
            ax.scatter([x + 0.22 for x in xs], [paper[name][groups[i]] for i in xs], marker="D", s=28,
                       facecolor="white", edgecolor="crimson", linewidth=1.4, zorder=5,
                       label="paper: mean")
        ax.set_title(name)
        ax.set_xlabel("")
    axes[0, 0].set_ylabel(ylabel)
    legend_below(fig, list(axes[0]), ncol=2)
    return fig


def _p_label(p) -> str:
    return "∞" if math.isinf(float(p)) else f"{float(p):g}"


def _grid(df, value: str, dataset: str):
    part = df[df["dataset"] == dataset]
    grid = part.pivot_table(index="p", columns="b", values=value, sort=True)
    grid.index = [_p_label(p) for p in grid.index]
    return grid


def _filtered(df, value: str, table: str | None, what: str):
    require_columns(df, ["dataset", "b", "p", value], what)
    if table is None:
        return df
    require_columns(df, ["table"], f"{what}(table=...)")
    df = df[df["table"] == table]
    if df.empty:
        raise ParameterError(f"no sensitivity rows for table {table!r}")
    return df


def sensitivity_heatmap(df, value: str = "effect_size", *, table: str | None = None,
                        label: str | None = None, center: float = 0.0, fmt: str = ".2f",
                        cmap: str = "vlag", text_of=None):
    """Heat map of ``value`` over the threshold b (columns) and norm p (rows), one
    panel per data set, the paper's setting (b = 7, p = 4) outlined. ``df``: long
    form (``dataset``, ``b``, ``p``, ``value``; ``table`` keeps one table's rows),
    e.g. ``finding1.sensitivity()``; ``text_of`` (value -> str) writes the cells'
    text instead of ``fmt``. Returns the Figure."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.patches import Rectangle

    df = _filtered(df, value, table, "sensitivity_heatmap")
    seaborn_theme()
    datasets = _datasets_in_order(df["dataset"])
    grids = [_grid(df, value, name) for name in datasets]
    lim = max(float(np.nanmax(np.abs(g.to_numpy() - center))) for g in grids) or 1.0
    fig, axes = plt.subplots(len(datasets), 1, figsize=(COLUMN_IN, 1.45 * len(datasets) + 0.6),
                             squeeze=False, layout="constrained", sharex=True)
    for ax, name, grid in zip(axes[:, 0], datasets, grids):
        annot = True if text_of is None else grid.map(text_of).to_numpy()
        sns.heatmap(grid, ax=ax, cmap=cmap, center=center, vmin=center - lim, vmax=center + lim,
                    annot=annot, fmt=fmt if text_of is None else "",
                    annot_kws={"fontsize": MIN_FONT_PT}, linewidths=0.4,
                    cbar_kws={"label": label or value, "shrink": 0.9})
        ax.tick_params(axis="y", rotation=0)
        cols, rows = list(grid.columns), list(grid.index)
        if 7 in cols and "4" in rows:
            ax.add_patch(Rectangle((cols.index(7), rows.index("4")), 1, 1, fill=False,
                                   edgecolor="black", linewidth=1.8))
        ax.set_title(name)
        ax.set_ylabel("norm p")
        ax.set_xlabel("")
    axes[-1, 0].set_xlabel("threshold b (cells with S ≤ b dropped)")
    return fig


def sensitivity_figure(df, value: str = "separation", *, table: str | None = None,
                       ylabel: str | None = None, **kw):
    """:func:`sensitivity_heatmap` of ``value`` (kept for callers of the old name)."""
    return sensitivity_heatmap(df, value, table=table, label=ylabel, **kw)


def pvalue_heatmap(df, *, table: str, alpha: float = 0.05):
    """Heat map of the one-sided Welch p-values over (b, p), one panel per data set:
    colour = log10 p (white at ``alpha``), text = p; the cells with p ≥ ``alpha``
    are the settings where the paper's conclusion would not hold. Returns the Figure."""
    df = _filtered(df, "p_value", table, "pvalue_heatmap").copy()
    df["log10_p"] = np.log10(df["p_value"].clip(lower=1e-300))
    return sensitivity_heatmap(df, "log10_p", label="log10 p", center=math.log10(alpha),
                               cmap="RdBu", text_of=p_text)


def p_text(log10_p: float) -> str:
    """A p-value (given as log10 p) in at most 5 characters: 0.04, 3e-5."""
    p = 10 ** log10_p
    return f"{p:.2f}" if p >= 0.01 else f"{p:.0e}".replace("e-0", "e-")


def fig6_figure(df, *, n_segments: int | None = None):
    """Fig 6: share of a sentence's importance density per segment, LLaMA vs Vicuna,
    one panel per data set, the uniform share 1/K dashed.

    ``df``: columns ``dataset``, ``model``, ``segment`` (1..K), ``share``: one row per
    sentence and segment (then the lines are means with 95% bootstrap CIs) or
    per data set, model and segment (means only). Returns the Figure.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    require_columns(df, ["dataset", "model", "segment", "share"], "fig6_figure")
    seaborn_theme()
    datasets = _datasets_in_order(df["dataset"])
    k = n_segments or int(df["segment"].max())
    fig, axes = plt.subplots(1, len(datasets), figsize=(COLUMN_IN, 2.9), sharey=True,
                             squeeze=False, layout="constrained")
    models = sorted(df["model"].unique())
    palette = {MODEL_NAMES.get(m, m): MODEL_COLOURS.get(m, c)
               for m, c in zip(models, sns.color_palette("deep"))}
    df = df.assign(model=df["model"].map(lambda m: MODEL_NAMES.get(m, m)))
    models = [MODEL_NAMES.get(m, m) for m in models]
    for ax, name in zip(axes[0], datasets):
        part = df[df["dataset"] == name]
        sns.lineplot(part, x="segment", y="share", hue="model", hue_order=models, style="model",
                     markers=True, dashes=False, palette=palette, errorbar=("ci", 95),
                     n_boot=N_BOOT, seed=0, err_style="bars", err_kws={"capsize": 3}, ax=ax)
        ax.axhline(1 / k, color="grey", linestyle="--", linewidth=0.8, label=f"uniform 1/{k}")
        ax.set_xticks(range(1, k + 1), [SEGMENT_LABELS[s - 1] if s <= len(SEGMENT_LABELS)
                                        else str(s) for s in range(1, k + 1)])
        ax.set_title(name)
        ax.set_xlabel("segment of the sentence")
    axes[0, 0].set_ylabel("share of the sentence's density")
    legend_below(fig, list(axes[0]), ncol=len(models) + 1)
    return fig
