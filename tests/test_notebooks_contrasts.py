"""The Finding 2-3 chapters with and without control models (papermill runs on the shipped
pair, small settings: about 1-2 min each on 2 cores).

Known answers: passing the base itself as the continued-pre-training control and the
tuned model itself as the second seed makes both control contrasts change nothing, so
every control row is 0 and base -> tuned exceeds them wherever it changes; passing no
control leaves the paper's single contrast and says so.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from nbrun import check_source, output_text, run_notebook

ROOT = Path(__file__).resolve().parent.parent
FIG2 = ROOT / "notebooks" / "fig2_table3_attention_pairs.md"
TABLE5 = ROOT / "notebooks" / "table5_fig3_ffn_concepts.md"
PT, FT = ROOT / "models" / "organism" / "pt", ROOT / "models" / "organism" / "ft"
needs_pair = pytest.mark.skipif(not PT.is_dir() or not FT.is_dir(), reason="models/organism not built")
SMALL_F2 = dict(vocab_size=600, K=30, max_pairs=30, n_general_verbs=60, n_boot=200)
SMALL_T5 = dict(vocab_size=600, R=64, K=10, seeds=1, n_boot=200)


def _text(nb: dict, tag: str) -> str:
    return output_text(nb, tag, mimes=("text/markdown", "text/plain", "text/html"), streams=False)


def _claim(out: Path, claim_id: str) -> dict:
    return json.loads((out / "results" / "claims" / f"{claim_id}.json").read_text(encoding="utf-8"))


def test_sources_declare_the_control_parameters():
    check_source(FIG2, ["model_pt", "model_ft", "model_cpt", "model_ft2", "fallback_to_random", "seed",
                        "layers", "K", "max_pairs", "group_size", "vocab_size", "similarity",
                        "instruction_verbs", "general_verbs", "n_general_verbs", "example_heads",
                        "top_pairs", "dtype", "device", "n_boot", "alpha"])
    check_source(TABLE5, ["model_pt", "model_ft", "model_cpt", "model_ft2", "fallback_to_random", "seed",
                          "layers", "R", "K", "vocab_size", "annotator", "llm_base_url", "llm_model",
                          "seeds", "group_size", "example_concepts", "browse_top", "dtype", "device",
                          "n_boot", "alpha"])
    for nb, focus in ((FIG2, "attention"), (TABLE5, "concepts")):
        text = nb.read_text(encoding="utf-8")   # the landing page's organism box opens the chapter
        assert f'landing.organism_caveat("{focus}")' in text.split("## 1 · The pair")[0]


@needs_pair
@pytest.mark.notebook
def test_fig2_chapter_with_self_controls(tmp_path, cache_dir):
    nb = run_notebook(FIG2, tmp_path, cache_dir, model_cpt=str(PT), model_ft2=str(FT), **SMALL_F2)
    assert "**Controls**" in _text(nb, "pair-note")
    table = _text(nb, "fig2-contrasts")
    for label in ("base → tuned", "base → continued pre-training", "tuned → tuned, second seed"):
        assert label in table
    assert "exceeds both controls" in table
    t3 = _text(nb, "table3-contrasts")
    assert "margin over continued pre-training (pp)" in t3 and "p vs second seed" in t3
    assert "margin vs" not in t3 and "p vs reseed" not in t3     # readable names only
    claim = _claim(tmp_path, "finding2")
    assert claim["page"] == "notebooks/fig2_table3_attention_pairs" and "with controls" in claim["pair"]
    # the controls change nothing, so they never explain away a change of base -> tuned
    assert "continued pre-training: 0%" in claim["ours"] and "second seed: 0%" in claim["ours"]
    assert "paper's direction" in _text(nb, "conclusion")


@needs_pair
@pytest.mark.notebook
def test_fig2_chapter_without_controls(tmp_path, cache_dir):
    nb = run_notebook(FIG2, tmp_path, cache_dir, model_cpt=None, model_ft2=None, **SMALL_F2)
    assert "No control was given" in _text(nb, "pair-note")
    assert "continued pre-training" not in _text(nb, "fig2-contrasts")
    assert "margin over" not in _text(nb, "table3-contrasts")
    assert "No control was given" in _text(nb, "conclusion")
    assert "no control" in _claim(tmp_path, "finding2")["pair"]


@needs_pair
@pytest.mark.notebook
def test_table5_chapter_with_and_without_controls(tmp_path, cache_dir):
    nb = run_notebook(TABLE5, tmp_path / "ctl", cache_dir, model_cpt=str(PT), model_ft2=str(FT), **SMALL_T5)
    t5 = _text(nb, "table5-contrasts")
    assert "base → continued pre-training: Δ pp" in t5 and "exceeds both controls" in t5
    claim = _claim(tmp_path / "ctl", "finding3")
    assert "continued pre-training +0.0" in claim["ours"] and "second seed +0.0" in claim["ours"]
    assert "Table C6." in _text(nb, "concept-change")
    nb = run_notebook(TABLE5, tmp_path / "none", cache_dir, model_cpt=None, model_ft2=None, **SMALL_T5)
    assert "No control was given" in _text(nb, "pair-note")
    assert "margin over" not in _text(nb, "table5-contrasts")
    assert "no control" in _claim(tmp_path / "none", "finding3")["pair"]
