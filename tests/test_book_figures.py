"""Numbered figures and tables (paperlib.book.figures), salient-map labels
(paperlib.book.map_labels, plots) and the landing page (paperlib.book.landing,
tools/build_book.py) on hand-made cases."""
from __future__ import annotations

import base64
import json
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from paperlib.book import figures, landing, map_labels, plots  # noqa: E402
from paperlib.book.claims import CLAIM_ORDER, record_claim  # noqa: E402
from paperlib.core.errors import ParameterError  # noqa: E402
from paperlib.paper import verdicts  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import build_book  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


# --- figures and tables -------------------------------------------------------------

def test_labels_cannot_be_the_papers_numbers():
    assert figures.check_label("Table D1") == "Table D1"
    assert figures.check_label("Figure L4a") == "Figure L4a"
    for bad in ("Table 1", "Figure 1", "Fig S1", "Table d1", ""):
        with pytest.raises(ParameterError, match="label"):
            figures.check_label(bad)


def test_figure_html_is_a_captioned_svg_sized_to_its_own_width():
    fig, ax = plt.subplots(figsize=(figures.COLUMN_IN, 2))
    ax.plot([0, 1], [0, 1])
    html = figures.figure_html(fig, "Figure X1", "A <em>line</em>.", "that it rises.", zoom=True)
    svg = base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)", html).group(1))
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg
    width, _ = figures.svg_size_px(svg)
    assert 500 < width <= figures.COLUMN_IN * 96 + 1            # about the column, never wider
    assert f"width:{width:.0f}px;max-width:100%" in html
    assert "<strong>Figure X1.</strong> A <em>line</em>." in html and "What to look for:" in html
    assert 'class="pl-zoom-toggle"' in html and plt.get_fignums() == []
    with pytest.raises(ParameterError, match="caption"):
        figures.figure_html(plt.figure(), "Figure X2", "cap", "")


def test_svg_is_deterministic():
    def make():
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.imshow(np.arange(12).reshape(3, 4))
        return figures.svg_bytes(fig)

    assert make() == make()


def test_table_html_every_row_no_index_escaped_and_scrollable():
    df = pd.DataFrame({"word": [f"w<{i}>" for i in range(79)], "count": np.arange(79) / 3})
    df.index = df.index + 100
    html = figures.table_html(df, "Table I4", "All of them.")
    assert html.count("<tr>") == 80 and "w&lt;78&gt;" in html
    assert ">100<" not in html and "<th >word</th>" in html    # index not shown
    assert "pl-scroll" in html and "26.0000" in html          # long: scroll box; floats 4 decimals
    mixed = pd.DataFrame({"property": ["tied", "MB", "name"], "value": [False, 14.72, "x"]})
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", figures.table_html(mixed, "Table O1", "Facts."))
    assert cells == ["tied", "no", "MB", "14.72", "name", "x"]
    small = figures.table_html(df.head(3), "Table I5", "Three.", details=("More", df.tail(2)))
    assert "pl-scroll" not in small and "<details" in small and "<summary>More</summary>" in small


# --- salient-map labels -------------------------------------------------------------

def test_token_labels_for_both_tokenizer_families():
    assert map_labels.token_labels(["▁Hi", "<0x0A>", "▁", "ing"]) == ["Hi", "\\n", "␣", "ing"]
    assert map_labels.token_labels(["Ġhello", "Ċ", "Ã©"]) == ["hello", "\\n", "é"]
    assert map_labels.token_labels(["▁" + "x" * 30])[0] == "x" * 13 + "…"


def test_word_labels_join_the_pieces_of_a_word():
    assert map_labels.word_labels(["▁Anal", "yze", "▁the", "<0x0A>", "▁Hi"]) == \
        ["Analyze", "Analyze", "the", "\\n", "Hi"]
    assert map_labels.word_labels(["Hello", "Ġwor", "ld"]) == ["Hello", "world", "world"]


def test_pick_rows_hand_worked():
    imp = [5, 1, 9, 1, 1, 8, 1, 1]
    instr = [False, False, False, False, True, False, False, True]
    assert map_labels.pick_rows(imp, instr, min_gap=1) == list(range(8))
    # gap 2: the top third of what fits (1 of 4) = row 2; then the instruction rows 4 and
    # 7; then by importance: 5 (next to 4: skipped), 0 (taken), 1 and 3 (next to taken rows)
    assert map_labels.pick_rows(imp, instr, min_gap=2) == [0, 2, 4, 7]
    # a row asked for comes first and blocks its neighbours 0 and 2
    assert map_labels.pick_rows(imp, instr, min_gap=2, first=[1]) == [1, 4, 7]
    groups = ["a", "a", "a", "b", "b", "c", "c", "c"]
    chosen = map_labels.pick_rows(imp, None, min_gap=1, groups=groups)
    assert chosen == list(range(8))                            # every row fits: all labelled
    chosen = map_labels.pick_rows(imp, None, min_gap=2, groups=groups)
    assert len({groups[i] for i in chosen}) == len(chosen)     # one label per word


def test_tall_map_labels_fit_and_include_the_words_asked_for():
    fig = plots.case_figure("user_oriented_task_1", max_response_tokens=60,
                            label_words=["sound", "tones"])
    ax = fig.axes[0]
    ticks = ax.get_yticks()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert 20 < len(ticks) < 183 and "sound" in labels and "tones" in labels
    pitch_in = plots.map_height(183) / 183
    assert np.diff(ticks).min() * pitch_in >= map_labels.LABEL_GAP_IN - 1e-9
    assert any(t.get_fontweight() == "bold" for t in ax.get_yticklabels())   # instruction rows
    assert fig.get_size_inches()[0] == pytest.approx(figures.COLUMN_IN)
    instruction_marks = [p for p in ax.patches if p.get_facecolor()[:3] == matplotlib.colors.to_rgb("navy")]
    assert len(instruction_marks) == int(plots.instruction_rows(
        __import__("paperlib.paper.data", fromlist=["load_case"]).load_case("vicuna", "user_oriented_task_1")).sum())


# --- landing page -------------------------------------------------------------------

def _record(root, cid, label=verdicts.DIRECTION, pair="LLaMA-7B → Vicuna-7B", page="notebooks/x"):
    record_claim(cid, claim=f"claim {cid}", paper="paper 1", ours="ours 1", pair=pair,
                 verdict=verdicts.Verdict(label, f"because {cid}."), page=page, root=root)


def test_results_table_lists_every_claim_and_says_what_is_missing(tmp_path):
    _record(tmp_path, "finding1a", verdicts.EXACT)
    _record(tmp_path, "finding3", verdicts.NOT_SEEN,
            pair="pre-trained `/work/x/models/organism/pt` / tuned /work/x/models/organism/ft",
            page="book/notebooks/table5_fig3_ffn_concepts.ipynb")
    text = landing.results_markdown(landing.gather_claims([tmp_path]))
    rows = [ln for ln in text.splitlines() if ln.startswith("* - ")]
    assert len(rows) == 1 + len(CLAIM_ORDER)
    assert "● **reproduced exactly**" in text and "○ **not seen on this pair**" in text
    assert text.count("**not recorded**") == len(CLAIM_ORDER) - 2
    assert "[read](notebooks/table5_fig3_ffn_concepts.ipynb)" in text
    assert "/work/x" not in text and "organism/pt" in text        # no absolute path on the page
    assert "because finding3." in text


def test_gather_claims_keeps_the_last_record_of_a_claim(tmp_path):
    _record(tmp_path / "a", "finding2", verdicts.EXACT)
    _record(tmp_path / "b", "finding2", verdicts.CANNOT)
    claims = landing.gather_claims([tmp_path / "a", tmp_path / "missing", tmp_path / "b"])
    assert claims["verdict"].tolist() == [verdicts.CANNOT]
    assert len(landing.gather_claims([tmp_path / "missing"])) == 0


def test_organism_box_reads_the_folders(tmp_path):
    facts = landing.organism_facts(ROOT / "models")
    if facts is None:
        pytest.skip("the organism pair is not in this checkout")
    cfg = json.loads((ROOT / "models" / "organism" / "pt" / "config.json").read_text())
    assert facts["layers"] == cfg["num_hidden_layers"] and facts["parameters"] > 1e6
    box = landing.organism_box(facts)
    assert f"{facts['layers']} layers" in box and "**cannot**" in box and "/work" not in box
    assert "not present" in landing.organism_box(landing.organism_facts(tmp_path))


def test_build_collapses_code_cells_and_writes_the_landing_include(tmp_path):
    nb = {"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": ""},
                    {"cell_type": "code", "metadata": {"tags": ["remove-cell"]}, "source": ""},
                    {"cell_type": "code", "metadata": {}, "source": ""},
                    {"cell_type": "markdown", "metadata": {}, "source": ""}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(nb))
    assert build_book.collapse_code(path) is True
    tags = [c["metadata"].get("tags") for c in json.loads(path.read_text())["cells"]]
    assert tags == [["parameters", "hide-input"], ["remove-cell"], ["hide-input"], []]
    assert build_book.collapse_code(path) is False                       # idempotent
    job = build_book.NotebookJob("ch", tmp_path / "ch.md", tmp_path / "ch.ipynb")
    _record(tmp_path / "_build" / "results" / "ch", "lost_in_middle", verdicts.PARTIAL)
    out = build_book.write_landing(tmp_path, [job], tmp_path / "_build")
    assert out == tmp_path / build_book.GENERATED_LANDING
    assert "◐ **reproduced in part**" in out.read_text()
    assert "````{dropdown} Why each verdict" in out.read_text()


def test_intro_includes_the_generated_table():
    intro = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    assert "```{include} _generated/results_at_a_glance.md" in intro
    assert "added to the table of contents as they are written" not in intro
    assert str(build_book.GENERATED_LANDING) == "book/_generated/results_at_a_glance.md"
