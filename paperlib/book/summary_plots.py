"""Summary figures and tables of Finding 1: Tables 1-2 bars, sensitivity, Fig 6.

Library functions return the Figure (or a styled table); they never call
``plt.show``. Salient maps live in :mod:`paperlib.book.plots`.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from paperlib.core.errors import ParameterError

MODEL_COLOURS = {"llama": "tab:blue", "vicuna": "tab:orange"}
SEGMENT_LABELS = ("1st", "2nd", "3rd", "4th")


def _require_columns(df, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ParameterError(f"{what} needs columns {missing}; got {list(df.columns)}")


def _datasets_in_order(values) -> list:
    """Datasets in paper order (self-instruct, lima, mt-bench), others after."""
    order = ["self-instruct", "lima", "mt-bench"]
    present = list(dict.fromkeys(values))
    return [d for d in order if d in present] + [d for d in present if d not in order]


def table_figure(df, groups: Sequence[str] = ("followed", "unfollowed"), *,
                 title: str = "Instruction score", ylabel: str = "instruction score"):
    """Grouped bars, paper beside ours, for a Table-1/2 frame (one row per dataset).

    ``df`` needs ``dataset`` and, per group g, ``g_mean``, ``g_std`` and
    ``paper_g_mean`` (``paper_g_std`` optional). Bars are means, error bars ±1 std;
    hatched bars are the paper's values. Returns the Figure (one axes).
    """
    import matplotlib.pyplot as plt

    cols = ["dataset"] + [f"{p}{g}_{s}" for g in groups for p, s in
                          (("", "mean"), ("", "std"), ("paper_", "mean"))]
    _require_columns(df, cols, "table_figure")
    rows = df.set_index("dataset").loc[_datasets_in_order(df["dataset"])]
    x = np.arange(len(rows))
    width = 0.8 / (2 * len(groups))
    fig, ax = plt.subplots(figsize=(2.2 + 2.0 * len(rows), 3.6), layout="constrained")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, g in enumerate(groups):
        for j, (prefix, hatch, tag) in enumerate((("paper_", "//", "paper"), ("", None, "ours"))):
            offset = (2 * i + j - len(groups) + 0.5) * width
            std_col = f"{prefix}{g}_std"
            err = rows[std_col].to_numpy(float) if std_col in rows.columns else None
            ax.bar(x + offset, rows[f"{prefix}{g}_mean"].to_numpy(float), width, yerr=err,
                   capsize=3, color=colours[i % len(colours)], alpha=0.55 if hatch else 0.95,
                   hatch=hatch, edgecolor="black", linewidth=0.5, label=f"{g} ({tag})")
    ax.set_xticks(x, list(rows.index))
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}: paper (hatched) vs ours, mean ± std")
    ax.legend(fontsize=8, ncols=len(groups), loc="upper left")
    ax.set_ylim(0, None)
    return fig


def _p_label(p) -> str:
    return "p=∞" if math.isinf(float(p)) else f"p={float(p):g}"


def sensitivity_figure(df, value: str = "separation", *, table: str | None = None,
                       ylabel: str | None = None,
                       title: str = "Sensitivity to the threshold b and the norm p"):
    """Lines of ``value`` against b, one line per p, one panel per dataset.

    ``df`` is long-form with columns ``dataset``, ``b``, ``p`` and ``value``
    (p may be ``inf``), e.g. ``finding1.sensitivity()``; ``table`` keeps the rows
    whose ``table`` column equals it. Returns the Figure (one axes per dataset).
    """
    import matplotlib.pyplot as plt

    _require_columns(df, ["dataset", "b", "p", value], "sensitivity_figure")
    if table is not None:
        _require_columns(df, ["table"], "sensitivity_figure(table=...)")
        df = df[df["table"] == table]
        if df.empty:
            raise ParameterError(f"no sensitivity rows for table {table!r}")
    datasets = _datasets_in_order(df["dataset"])
    fig, axes = plt.subplots(1, len(datasets), figsize=(3.4 * len(datasets) + 1, 3.2),
                             sharey=True, squeeze=False, layout="constrained")
    for ax, name in zip(axes[0], datasets):
        part = df[df["dataset"] == name]
        for p in sorted(part["p"].unique(), key=float):
            line = part[part["p"] == p].sort_values("b")
            ax.plot(line["b"], line[value], marker="o", markersize=3, label=_p_label(p))
        ax.axhline(0, color="gray", linewidth=0.6)
        ax.set_title(name)
        ax.set_xlabel("threshold b")
    axes[0, 0].set_ylabel(ylabel or value)
    axes[0, -1].legend(fontsize=8, title="norm", title_fontsize=8)
    fig.suptitle(title)
    return fig


def fig6_figure(df, *, title: str = "Lost in the middle: density share per sentence quarter"):
    """Fig 6: share of importance density per sentence segment, LLaMA vs Vicuna.

    ``df`` has columns ``dataset``, ``model``, ``segment`` (1..K) and ``share``.
    One panel per dataset, one line per model. Returns the Figure.
    """
    import matplotlib.pyplot as plt

    _require_columns(df, ["dataset", "model", "segment", "share"], "fig6_figure")
    datasets = _datasets_in_order(df["dataset"])
    fig, axes = plt.subplots(1, len(datasets), figsize=(3.2 * len(datasets) + 1, 3.0),
                             sharey=True, squeeze=False, layout="constrained")
    for ax, name in zip(axes[0], datasets):
        part = df[df["dataset"] == name]
        for model in sorted(part["model"].unique()):
            line = part[part["model"] == model].sort_values("segment")
            ax.plot(line["segment"], line["share"], marker="o", label=model,
                    color=MODEL_COLOURS.get(model))
        segments = sorted(part["segment"].unique())
        ax.set_xticks(segments, [SEGMENT_LABELS[s - 1] if s <= len(SEGMENT_LABELS) else str(s)
                                 for s in segments])
        ax.set_title(name)
        ax.set_xlabel("segment of the sentence")
    axes[0, 0].set_ylabel("share of density")
    axes[0, -1].legend(fontsize=8)
    fig.suptitle(title)
    return fig


def comparison_table(df, groups: Sequence[str] = ("followed", "unfollowed")):
    """Display frame of a Table-1/2 result: ours (mean ± std) beside the paper, deltas,
    p-values, bootstrap CI of the difference, Hedges' g and group sizes.

    ``df`` is ``finding1.table1()`` / ``table2()`` output (one row per dataset).
    Returns a pandas Styler (rendered as an HTML table in the book).
    """
    import pandas as pd

    _require_columns(df, ["dataset", "p_value", "paper_p_value", "ci_low", "ci_high",
                          "effect_size"], "comparison_table")
    out = pd.DataFrame({"dataset": df["dataset"]})
    for g in groups:
        out[f"{g} (ours)"] = [f"{m:.4f} ± {s:.2f}" for m, s in zip(df[f"{g}_mean"],
                                                                   df[f"{g}_std"])]
        out[f"{g} (paper)"] = df[f"paper_{g}_mean"].astype(float)
        out[f"Δ {g}"] = df[f"{g}_mean"] - df[f"paper_{g}_mean"].astype(float)
    out["p (ours)"] = df["p_value"]
    out["p (paper)"] = df["paper_p_value"].astype(float)
    out["95% CI of difference"] = [f"[{lo:.3f}, {hi:.3f}]" for lo, hi in
                                   zip(df["ci_low"], df["ci_high"])]
    out["Hedges' g"] = df["effect_size"]
    for col in [c for c in df.columns if c.startswith("n_") and c != "n_sentences"]:
        out[col] = df[col]
    fmt = {c: "{:.4f}" for c in out.columns if c.endswith("(paper)") or c.startswith("Δ")}
    fmt.update({"p (ours)": "{:.2e}", "p (paper)": "{:.2e}", "Hedges' g": "{:.3f}"})
    return out.style.format(fmt, na_rep="–").hide(axis="index")
