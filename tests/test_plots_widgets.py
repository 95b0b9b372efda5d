"""Figures and widgets of Finding 1 on small hand-made cases (plus a few frozen-data cases)."""
from __future__ import annotations

import base64
import math
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from paperlib.book import plots, widgets  # noqa: E402
from paperlib.core.errors import ParameterError, UnknownCaseError  # noqa: E402


@dataclass
class FakeCase:
    id: str
    model: str
    S: np.ndarray
    prompt_tokens: list
    response_tokens: list


PROMPT = ["▁Translate", "▁this", "<0x0A>"]
S_LLAMA = np.array([[10, 5, 0, 2], [3, 10, 10, 10], [0, 0, 4, 1]], dtype=float)   # (3, 4)
S_VICUNA = np.array([[10, 10, 9, 8, 10, 7], [1, 2, 10, 10, 3, 10], [0, 0, 0, 0, 0, 0]],
                    dtype=float)                                                   # (3, 6)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def pair():
    return (FakeCase("toy_1", "llama", S_LLAMA, PROMPT, ["▁Hi", "▁there", "!", "<0x0A>"]),
            FakeCase("toy_1", "vicuna", S_VICUNA, PROMPT, list("abcdef")))


def _images(fig):
    return [ax.images[0] for ax in fig.axes if ax.images]


def test_token_labels():
    assert plots.token_label("▁Hi") == "Hi"
    assert plots.token_label("<0x0A>") == "\\n"
    assert plots.token_label("▁") == "␣"
    assert plots.token_label("ing") == "ing"


def test_rescale_hand_worked():
    S = np.array([[10, 5], [3, 0]], dtype=float)
    assert plots.rescale(S, 10, 0).tolist() == S.tolist()                # identity
    assert plots.rescale(S, 10, 5, "threshold").tolist() == [[10, 0], [0, 0]]
    assert plots.rescale(S, 10, 5, "subtract").tolist() == [[5, 0], [0, 0]]
    # L=5: column 0 max 10 -> ceil(5*3/10) = 2; column 1 max 5 -> 5, 0
    assert plots.rescale(S, 5, 0).tolist() == [[5, 5], [2, 0]]
    with pytest.raises(ParameterError, match="b=11"):
        plots.rescale(S, 10, 11)


def test_salient_map_shape_labels_and_colour_range(pair):
    fig = plots.salient_map(pair[0])
    assert len(fig.axes) == 2                                       # map + colour bar
    ax = fig.axes[0]
    assert ax.images[0].get_array().shape == (3, 4)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Translate", "this", "\\n"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Hi", "there", "!", "\\n"]
    assert ax.images[0].get_clim() == (0, 10)
    np.testing.assert_array_equal(ax.images[0].get_array(), S_LLAMA)


def test_salient_map_threshold_and_subtract_colour_bar(pair):
    fig = plots.salient_map(pair[0], b=7, mode="subtract")
    image = fig.axes[0].images[0]
    assert image.get_clim() == (0, 3)
    np.testing.assert_array_equal(image.get_array(), np.maximum(S_LLAMA - 7, 0))


def test_salient_map_from_array_and_truncation_note():
    fig = plots.salient_map(S_VICUNA, PROMPT, list("abcdef"), max_response_tokens=2)
    ax = fig.axes[0]
    assert ax.images[0].get_array().shape == (3, 2)
    assert "first 2 of 6 response tokens" in ax.get_title()
    with pytest.raises(ParameterError, match="prompt tokens"):
        plots.salient_map(S_VICUNA, PROMPT[:2], list("abcdef"))
    with pytest.raises(ParameterError, match="2-D"):
        plots.salient_map(np.zeros(3))


def test_salient_pair_axes_and_columns(pair):
    fig = plots.salient_pair(*pair, highlight=np.array([True, True, False]))
    assert len(fig.axes) == 3                                       # llama, vicuna, colour bar
    shapes = [im.get_array().shape for im in _images(fig)]
    assert shapes == [(3, 4), (3, 6)]
    left_labels = fig.axes[0].get_yticklabels()
    assert [t.get_fontweight() for t in left_labels] == ["bold", "bold", "normal"]
    assert fig.axes[1].get_yticklabels() == []                      # rows labelled once


def test_salient_pair_rejects_different_prompts_and_bad_mask(pair):
    other = FakeCase("toy_2", "vicuna", S_VICUNA[:2], PROMPT[:2], list("abcdef"))
    with pytest.raises(ParameterError, match="different prompts"):
        plots.salient_pair(pair[0], other)
    with pytest.raises(ParameterError, match="highlight"):
        plots.salient_pair(*pair, highlight=np.array([1, 0, 1]))


def _scores_frame():
    rng = np.random.default_rng(0)
    return pd.concat([pd.DataFrame({"dataset": ds, "group": g, "score": rng.normal(m, 0.3, 20)})
                      for ds in ("mt-bench", "self-instruct", "lima")
                      for g, m in (("followed", 1.5), ("unfollowed", 1.0))], ignore_index=True)


def test_table_figure_points_cis_and_paper_marks_in_paper_order():
    scores = _scores_frame()
    paper = {ds: {"followed": 1.4, "unfollowed": 0.9} for ds in ("self-instruct", "lima", "mt-bench")}
    fig = plots.table_figure(scores, paper)
    assert [ax.get_title() for ax in fig.axes] == ["self-instruct", "lima", "mt-bench"]
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["followed", "unfollowed"]
    # our means (the point plot) sit at the sample means, the paper's diamonds at its values
    means = scores[scores.dataset == "self-instruct"].groupby("group").score.mean()
    points = [ln for ln in ax.lines if len(ln.get_ydata()) == 2 and ln.get_marker() == "o"]
    np.testing.assert_allclose(points[0].get_ydata(), means[["followed", "unfollowed"]])
    diamonds = [c for c in ax.collections if c.get_offsets().shape == (2, 2)][-1]
    np.testing.assert_allclose(diamonds.get_offsets()[:, 1], [1.4, 0.9])
    assert fig.legends and all(a.get_legend() is None for a in fig.axes)   # legend off the data
    with pytest.raises(ParameterError, match="score"):
        plots.table_figure(scores.drop(columns="score"))
    with pytest.raises(ParameterError, match="groups"):
        plots.table_figure(scores, groups=("followed",))


def _sens_frame():
    rows = [dict(table=t, dataset=ds, b=b, p=p, separation=b * 0.1 - (p if p < 9 else 9) * 0.01,
                 effect_size=0.5 - b * 0.01, p_value=10.0 ** -(b + 1))
            for t in ("table1", "table2") for ds in ("self-instruct", "lima", "mt-bench")
            for b in range(10) for p in (1, 2, 4, 8, math.inf)]
    return pd.DataFrame(rows)


def test_sensitivity_heatmap_cells_and_paper_setting():
    fig = plots.sensitivity_heatmap(_sens_frame(), "effect_size", table="table1")
    maps = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in maps] == ["self-instruct", "lima", "mt-bench"]
    ax = maps[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "2", "4", "8", "∞"]
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 50 and texts[0] == "0.50" and texts[9] == "0.41"   # row p=1, b=0..9
    outline = [p for p in ax.patches if not p.get_fill()]
    assert [(p.get_x(), p.get_y()) for p in outline] == [(7, 2)]            # b = 7, p = 4
    with pytest.raises(ParameterError, match="table3"):
        plots.sensitivity_heatmap(_sens_frame(), table="table3")


def test_pvalue_heatmap_writes_the_p_values():
    fig = plots.pvalue_heatmap(_sens_frame(), table="table2")
    ax = [a for a in fig.axes if a.get_title() == "lima"][0]
    assert [t.get_text() for t in ax.texts][:3] == ["0.10", "0.01", "1e-3"]


def test_fig6_figure_cis_from_sentences_and_uniform_line():
    rng = np.random.default_rng(1)
    rows = [dict(dataset=ds, model=m, sentence=i, segment=s,
                 share=0.25 + (0.05 if s in (1, 4) else -0.05) + rng.normal(0, 0.01))
            for ds in ("self-instruct", "lima", "mt-bench") for m in ("llama", "vicuna")
            for i in range(30) for s in (1, 2, 3, 4)]
    fig = plots.fig6_figure(pd.DataFrame(rows))
    assert [ax.get_title() for ax in fig.axes] == ["self-instruct", "lima", "mt-bench"]
    ax = fig.axes[0]
    means = [ln for ln in ax.lines if len(ln.get_xdata()) == 4 and ln.get_linestyle() == "-"]
    caps = [ln for ln in ax.lines if ln.get_marker() == "_"]
    assert len(means) == 2 and len(caps) == 4                               # 2 CI caps per model
    np.testing.assert_allclose(means[0].get_ydata(), [0.3, 0.2, 0.2, 0.3], atol=0.01)
    assert any(list(ln.get_ydata()) == [0.25, 0.25] for ln in ax.lines)     # uniform 1/K
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["LLaMA", "Vicuna", "uniform 1/4"]
    with pytest.raises(ParameterError, match="share"):
        plots.fig6_figure(pd.DataFrame(rows).drop(columns="share"))


def _tiny_render(label):
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.set_title(label)
    return fig, f"caption {label}"


def test_static_picker_is_jslinked_to_stack():
    box = widgets.static_case_picker(["a", "b", "c"], _tiny_render, dpi=30)
    dropdown, stack, link = box.dropdown, box.stack, box.link
    assert list(box.children) == [dropdown, stack]
    assert len(stack.children) == 3 == len(dropdown.options)
    assert type(link).__name__ == "Link"                          # jslink, not a Python link
    assert link.source == (dropdown, "index") and link.target == (stack, "selected_index")
    page = stack.children[1].value
    assert "caption b" in page
    png = base64.b64decode(page.split("base64,")[1].split('"')[0])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert plt.get_fignums() == []                                 # rendered figures closed


def test_static_picker_rejects_bad_entries():
    with pytest.raises(ParameterError, match="at least one"):
        widgets.static_case_picker([], _tiny_render)
    with pytest.raises(ParameterError, match="distinct"):
        widgets.static_case_picker(["a", "a"], _tiny_render)
    box = widgets.static_threshold_picker([0, 7], lambda b: _tiny_render(str(b)), dpi=30)
    assert box.dropdown.options == ("b = 0", "b = 7") and len(box.stack.children) == 2


# --- frozen paper data --------------------------------------------------------------

def test_unknown_case_ids_raise_the_data_layer_error():
    with pytest.raises(UnknownCaseError, match="user_oriented_task_9999"):
        plots.case_figure("user_oriented_task_9999")
    with pytest.raises(UnknownCaseError):
        widgets.case_picker(["lima_author_32", "no_such_case"])
    with pytest.raises(ParameterError, match="model"):
        plots.case_figure("lima_author_32", model="alpaca")


def test_case_figure_pair_marks_instruction_rows():
    fig = plots.case_figure("lima_author_32", max_response_tokens=10)
    assert len(fig.axes) == 3
    assert all(im.get_array().shape[1] == 10 for im in _images(fig))
    weights = {t.get_fontweight() for t in fig.axes[0].get_yticklabels()}
    assert "bold" in weights


def test_case_scores_agree_with_finding1():
    from paperlib.paper import finding1

    ids = ["user_oriented_task_1", "lima_author_144"]
    ours = widgets.case_scores(ids, b=7, p=4).set_index("id")
    ref = finding1.scores("vicuna", b=7, p=4).set_index("id")
    np.testing.assert_allclose(ours.loc[ids, "score_vicuna"], ref.loc[ids, "score"], rtol=1e-12)
    ref = finding1.scores("llama", b=5, p=2).set_index("id")
    ours = widgets.case_scores(ids, b=5, p=2).set_index("id")
    np.testing.assert_allclose(ours.loc[ids, "score_llama"], ref.loc[ids, "score"], rtol=1e-12)
