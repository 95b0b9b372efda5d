"""The Finding 2-3 figures (paperlib.book.finding23_plots): seaborn, sized to the column,
no title of their own, no legend over the data, fonts of at least MIN_FONT_PT, CIs
where the data has them (hand-worked Wilson interval)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from paperlib.book import figures, finding23_plots as fp  # noqa: E402
from paperlib.core.errors import ParameterError  # noqa: E402
from paperlib.paper import contrasts as C  # noqa: E402


def _check_layout(fig, width=figures.COLUMN_IN):
    assert fig.get_size_inches()[0] == pytest.approx(width)
    assert fig._suptitle is None                                        # the caption names the pair
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert fig.legends and not any(ax.get_legend() for ax in fig.axes)  # one legend, the figure's
    legend = fig.legends[0].get_window_extent(renderer)
    for ax in fig.axes:                                                 # ... outside every panel
        assert not legend.overlaps(ax.get_window_extent(renderer))
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text().strip()]
    assert min(sizes) >= figures.MIN_FONT_PT
    plt.close(fig)


def test_fig2_figure():
    fig2 = pd.DataFrame({"layers": ["1-1", "2-2"], "heads_changed": [0.5, 0.9],
                         "neurons_changed": [0.4, 0.8], "n_heads": [8, 8], "n_neurons": [9, 9]})
    fig = fp.fig2_figure(fig2)
    ys = sorted(y for line in fig.axes[0].get_lines() for y in line.get_ydata() if len(line.get_ydata()) == 2
                and line.get_linestyle() != ":")
    assert ys == pytest.approx([40, 50, 80, 90])                        # percentages
    _check_layout(fig, 0.75 * figures.COLUMN_IN)


def test_fig2_contrast_figure_means_over_heads():
    units = pd.DataFrame({"contrast": ["tuning"] * 4 + ["cpt"] * 4, "layer": [0, 0, 1, 1] * 2,
                          "head": [0, 1] * 4, "changed": [1, 1, 1, 1, .2, .4, .6, .8],
                          "rbo_change": [.5, .7, .9, .9, .1, .1, .3, .5]})
    fig = fp.fig2_contrast_figure(units, [("1-1", (0,)), ("2-2", (1,))])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["pair-set change, the paper's measure", "1 − rank-biased overlap"]
    means = {tuple(np.round(np.asarray(line.get_ydata(), float), 6)) for line in fig.axes[1].get_lines()
             if len(line.get_ydata()) == 2 and line.get_linestyle() != ":"}
    assert (60.0, 90.0) in means and (10.0, 40.0) in means              # mean over each group's heads
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert C.TUNING.label in labels and C.CPT.label in labels
    _check_layout(fig)


def test_wilson_interval_hand_worked():
    low, high = fp._wilson([50.0], [4])
    # p = 0.5, n = 4, z = 1.96: centre 0.5, half-width 1.96 * sqrt(0.0625 + 0.06002) / 1.9604
    half = 100 * 1.96 * np.sqrt(0.25 / 4 + 1.96 ** 2 / 64) / (1 + 1.96 ** 2 / 4)
    assert low[0] == pytest.approx(half) and high[0] == pytest.approx(half)
    low, high = fp._wilson([0.0], [10])
    assert low[0] == pytest.approx(0, abs=1e-9) and 0 < high[0] < 35


def test_fig3_fig7_fig8():
    levels = pd.DataFrame({"model": ["pt", "pt", "ft", "ft"], "layers": ["1-1", "2-2"] * 2,
                           "n": [10, 12, 20, 22], "phonology": [0, 10, 5, 0],
                           "morphology": [20, 10, 10, 5], "syntax": [30, 30, 35, 40],
                           "semantic": [50, 50, 50, 55]})
    fig = fp.fig3_figure(levels)
    assert [ax.get_title() for ax in fig.axes] == ["phonology", "morphology", "syntax", "semantic"]
    _check_layout(fig)
    desc = pd.DataFrame({"model": ["pt"] * 4 + ["ft"] * 4, "layers": ["1-1", "2-2"] * 4,
                         "cut": [30, 30, 256, 256] * 2, "n": 1, "describable": [20, 30, 10, 12] * 2})
    fig = fp.fig7_figure(desc)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["≤ 30", "≤ 256"]
    _check_layout(fig)
    curves = {"pt": np.array([[.5, .8, 1.0], [.3, .7, 1.0]]), "ft": np.array([[.4, .8, 1.0]] * 2)}
    fig = fp.fig8_figure(curves, R=2, relative_rank=1)
    assert fig.axes[0].get_lines()[0].get_ydata()[0] == pytest.approx(40)   # mean of 50 and 30
    _check_layout(fig, 0.75 * figures.COLUMN_IN)
    with pytest.raises(ParameterError):
        fp.fig8_figure({"pt": np.ones(3), "ft": np.ones(3)}, R=2)
    with pytest.raises(ParameterError, match="fig7_figure"):
        fp.fig7_figure(desc.drop(columns="cut"))
