"""The organism model card: organism.card on a tiny export made in a temporary
folder, and papermill runs of the chapter notebooks/organism_model_card.md (tiny export;
missing pair).

The tiny export is the real pipeline (tokenizer, pretrain, finetune, export,
evaluate) on a synthetic corpus with the "tiny" preset: about 5 s on 2 cores.
The two notebook runs take about 15 s together.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from paperlib.core.errors import DataError, ParameterError
from organism import REPO
from organism import card as organism_card
from organism import pipeline
from organism.config import SIZES, n_params
from organism.tests.tiny import tiny_organism_layout, tiny_train_config

if str(REPO / "tests") not in sys.path:  # the notebook runner shared with tests/
    sys.path.insert(0, str(REPO / "tests"))
from nbrun import check_source, output_text, read_source, run_notebook  # noqa: E402

CHAPTER = REPO / "notebooks" / "organism_model_card.md"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A complete tiny export: Layout whose ``models`` folder is what the card reads."""
    lay, _ = tiny_organism_layout(tmp_path_factory.mktemp("organism_card"), n_paragraphs=300, n_pairs=20)
    pipeline.step_pretrain(lay, "tiny", tiny_train_config(8, eval_every=4), batch=4, seq_len=32)
    pipeline.step_finetune(lay, tiny_train_config(4, weight_decay=0.0), batch=4, max_len=64)  # prompts are ~45 tokens
    pipeline.step_export(lay)
    from organism.report import step_evaluate

    step_evaluate(lay, max_new_tokens=4)
    return lay


# ------------------------------------------------------------------ pure functions
def test_log_summary_sums_resumed_segments():
    # a run resumed after step 3: 'tokens' and 'elapsed_s' restart in the new process
    log = pd.DataFrame({"step": [1, 2, 3, 4, 5], "loss": [5.0, 4.0, 3.5, 3.0, 2.5],
                        "tokens": [100, 200, 300, 100, 200], "elapsed_s": [1.0, 2.0, 3.0, 0.5, 1.5],
                        "val_loss": [None, None, 3.9, None, 3.1]})
    s = organism_card.log_summary(log)
    assert s == {"steps": 5, "tokens": 500, "wall_s": 4.5, "final_loss": 2.5, "final_val_loss": 3.1}
    assert organism_card.log_summary(log.drop(columns="val_loss"))["final_val_loss"] is None


def test_scenario_and_task_tables_hand_values():
    pairs = ([{"scenario": "math", "task": "arithmetic", "metric": "number"}] * 4
             + [{"scenario": "math", "task": "word_problem", "metric": "number"}] * 2
             + [{"scenario": "writing", "task": "synonym", "metric": "exact"}] * 5)
    evals = {"pt": {"scenario": {"math": 0.0, "writing": 0.2}, "task": {"arithmetic": 0.0, "word_problem": 0.0, "synonym": 0.2}},
             "ft": {"scenario": {"math": 0.5, "writing": 0.6}, "task": {"arithmetic": 0.5, "word_problem": 0.5, "synonym": 0.6}}}
    tasks = organism_card.task_table(evals, pairs)
    assert tasks["n items"].tolist() == [4, 2, 5]
    assert tasks["metric"].tolist() == ["number", "number", "exact"]
    scen = organism_card.scenario_table(evals, pairs)
    assert scen["scenario"].tolist() == ["math", "writing", "average over scenarios",
                                         "skill tasks (mean of 2 tasks)", "recall tasks (mean of 1 task)",
                                         "target"]
    assert tasks["kind"].tolist() == ["skill", "skill", "recall"]
    assert scen["tuned"][3] == pytest.approx(0.5) and scen["base"][4] == pytest.approx(0.2)
    assert scen["n items"].tolist()[:3] == [6, 5, 11] and scen["tasks"][0] == "arithmetic, word_problem"
    assert scen["base"][2] == pytest.approx(0.1) and scen["tuned"][2] == pytest.approx(0.55)
    shown = organism_card.percent(scen)
    assert shown["tuned"].tolist() == ["50.0%", "60.0%", "55.0%", "50.0%", "60.0%", ">= 50%"]
    gaps = organism_card.percent(pd.DataFrame({"tuned": [0.501, float("nan"), None, "<= 10%"]}))
    assert gaps["tuned"].tolist() == ["50.1%", "", "", "<= 10%"]  # a missing cell is blank, never "nan%"
    assert organism_card.targets_met(evals) == {"pt": (pytest.approx(0.1), True), "ft": (pytest.approx(0.55), True)}
    evals["pt"]["scenario"]["writing"] = 0.4  # base average 0.2 > 10%
    assert organism_card.targets_met(evals)["pt"] == (pytest.approx(0.2), False)
    with pytest.raises(DataError, match=r"\['synonym'\] are not in the held-out pairs"):
        organism_card.task_table(evals, pairs[:6])


def test_heldout_sample_takes_the_first_n_of_each_task():
    pairs = [{"task": t, "i": i} for i, t in enumerate("aabacbbca")]
    assert [p["i"] for p in organism_card.heldout_sample(pairs, 2)] == [0, 1, 2, 4, 5, 7]
    assert organism_card.heldout_sample(pairs, None) == pairs
    with pytest.raises(ParameterError, match="n_per_task"):
        organism_card.heldout_sample(pairs, 0)


def test_limits_markdown_states_the_scale():
    text = organism_card.limits_markdown(7_358_720, 4, 8192, 11_468_800, ["coding", "math", "translation", "writing"])
    assert "7.4M parameters, 4 layers, a vocabulary of 8,192 pieces" in text
    assert "11.5M tokens" in text and "910× fewer parameters" in text
    assert "87,193× fewer training tokens" in text and "4 templated scenarios" in text
    assert "exact numbers once the pair is built" in organism_card.limits_markdown(None, None, None, None, ["a"])


def test_data_sources_from_the_committed_manifest(tmp_path):
    df = organism_card.data_sources()
    manifest = json.loads(organism_card.MANIFEST.read_text())["sources"]
    assert df["source"].tolist() == list(manifest) + ["total"]
    assert df["paragraphs"].iloc[-1] == sum(s["paragraphs"] for s in manifest.values())
    assert "GFDL" in df.set_index("source").loc["foldoc", "licences"]
    assert "more)" in df.set_index("source").loc["manpages", "Debian packages"]
    with pytest.raises(DataError, match="manifest"):
        organism_card.data_sources(tmp_path / "manifest.json")


# ------------------------------------------------------------------ on the tiny export
def test_model_facts_and_curves(tiny):
    vocab = json.loads((tiny.models / "pt" / "config.json").read_text())["vocab_size"]
    facts = organism_card.model_facts(tiny.models)
    assert list(facts.columns) == ["base (pt)", "tuned (ft)"]
    pt = facts["base (pt)"]
    assert pt["parameters"] == f"{n_params(SIZES['tiny'], vocab):,}" == f"{organism_card.count_params(tiny.models / 'pt'):,}"
    assert pt["tied embeddings"] is False and pt["weights dtype"] == "bfloat16"
    assert pt["weights (MB)"] == pytest.approx(2 * n_params(SIZES["tiny"], vocab) / 1e6, abs=0.01)
    assert (pt["training steps"], facts["tuned (ft)"]["training steps"]) == (8, 4)
    assert pt["tokens seen"] == f"{8 * 4 * 32:,}" and isinstance(pt["final validation loss"], float)
    fig = organism_card.curves_figure({n: organism_card.load_log(tiny.models / n) for n in ("pt", "ft")})
    left, right = fig.axes
    assert [len(line.get_xdata()) for line in left.lines] == [8, 2]  # loss each step, val at 4 and 8
    assert len(right.lines) == 1 and list(right.lines[0].get_xdata()) == [1, 2, 3, 4]


def test_controls_table_reads_each_control_folder(tiny, tmp_path):
    import shutil

    assert organism_card.controls_table(tiny.models) is None  # no control built
    root = tmp_path / "models"
    shutil.copytree(tiny.models, root)
    shutil.copytree(root / "ft", root / "ft_seed1")           # a stand-in control with its own scores
    ev = {"mean": 0.25, "kind": {"skill": 0.5, "recall": 0.0}, "form": {"mean": 0.75}}
    (root / "ft_seed1" / "eval.json").write_text(json.dumps(ev))
    table = organism_card.controls_table(root)
    pair = organism_card.load_eval(root)
    assert list(table["model"]) == ["base (pt)", "tuned (ft)", "tuning, second seed (control) (ft_seed1)"]
    assert list(table["correct"]) == [f"{pair['pt']['mean']:.1%}", f"{pair['ft']['mean']:.1%}", "25.0%"]
    assert list(table.iloc[2][["skill tasks", "recall tasks", "in the requested form"]]) == ["50.0%", "0.0%", "75.0%"]
    assert list(table["steps"]) == [8, 4, 4]


def test_recomputed_scores_equal_eval_json(tiny):
    models, toks, seconds = organism_card.load_pair_timed(tiny.models)
    assert 0 < seconds < 30 and not models["pt"].training
    pairs = organism_card.load_heldout(tiny.heldout)
    again = organism_card.evaluate_sample(models, toks, pairs, max_new_tokens=4)  # what step_evaluate ran
    stored = organism_card.load_eval(tiny.models)
    for name in ("pt", "ft"):
        assert again[name]["task"] == stored[name]["task"] and again[name]["mean"] == stored[name]["mean"]
    table = organism_card.sample_generations(models, toks, ["Compute 1 + 1.", pairs[0]["instruction"]], 4, pairs)
    assert list(table.columns) == ["prompt", "reference (held-out)", "base", "tuned"]
    assert table["reference (held-out)"].tolist() == ["-", pairs[0]["response"]]
    for role in ("base", "tuned"):  # an empty response is shown as such, never as a blank cell
        assert all(r.strip() for r in table[role]), table[role].tolist()
    with pytest.raises(ParameterError, match="sample_prompts"):
        organism_card.sample_generations(models, toks, "Compute 1 + 1.", 4)


def test_card_without_eval_json_recomputes_and_saves(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERLIB_RESULTS", str(tmp_path / "results"))
    export = shutil.copytree(tiny.models, tmp_path / "export")
    (export / "eval.json").unlink()
    with pytest.raises(DataError, match="recompute_eval"):
        organism_card.load_eval(export)
    card = organism_card.OrganismCard(export, tiny.heldout)
    note = card.heldout(False, 2, 4)
    assert "(`eval.json` is missing) on 4 held-out pairs" in note
    assert card.task_table()["n items"].tolist() == [2, 2]
    saved = list((tmp_path / "results" / "organism_card").glob("heldout_*.json"))
    assert len(saved) == 1 and len(json.loads(saved[0].read_text())["evals"]["ft"]["responses"]) == 4


def test_missing_pair_is_stated_not_raised(tmp_path):
    card = organism_card.OrganismCard(tmp_path / "nowhere")
    assert not card.present and "**The organism pair is missing**" in card.status()
    assert "make organism" in card.status()
    for value in (card.facts(), card.curves(), card.heldout(False, 2, 4), card.samples(["x"], 4)):
        assert value == organism_card.SKIPPED
    assert card.load() == "" and "4 templated scenarios" in card.limits()
    (tmp_path / "half" / "pt").mkdir(parents=True)
    assert any("ft" in m for m in organism_card.missing_parts(tmp_path / "half"))


# ------------------------------------------------------------------ the notebook
def test_chapter_source_and_parameters():
    check_source(CHAPTER, ["model_dir", "heldout", "recompute_eval", "n_per_task", "sample_prompts",
                           "max_new_tokens"])
    code = [c for c in read_source(CHAPTER).cells if c.cell_type == "code"]
    for name in ('model_dir = "models/organism"', 'heldout = "data/organism/heldout_test.jsonl"',
                 "recompute_eval = False", "n_per_task = 10", "max_new_tokens = 40"):
        assert name in code[0].source
    assert any("from organism import card as organism_card" in c.source for c in code)


def _execute(tmp_path: Path, **parameters) -> dict:
    """Run the chapter with papermill (its kernel starts in the repository root, where
    ``organism`` is importable)."""
    return run_notebook(CHAPTER, tmp_path, **parameters)


def _text(nb: dict, tag: str) -> str:
    """Plain text and HTML of the outputs of the cell tagged ``tag`` (tables are HTML)."""
    html = [o.get("data", {}).get("text/html", "") for c in nb["cells"]
            if tag in c.get("metadata", {}).get("tags", []) for o in c.get("outputs", [])]
    html = ["".join(h) if isinstance(h, list) else h for h in html]
    return "\n".join([output_text(nb, tag, streams=False), *html])


def _n_images(nb: dict) -> int:
    """Figures shown: PNG / SVG outputs, or the book's numbered HTML figures."""
    def is_image(data: dict) -> bool:
        html = "".join(data.get("text/html", ""))
        return "image/png" in data or "image/svg+xml" in data or "<svg" in html or "<img" in html
    return sum(is_image(o.get("data", {})) for c in nb["cells"] for o in c.get("outputs", []))


@pytest.mark.notebook
@pytest.mark.slow
def test_notebook_on_a_tiny_export_shows_the_scenario_table(tiny, tmp_path):
    nb = _execute(tmp_path, model_dir=str(tiny.models), heldout=str(tiny.heldout))
    assert "Organism pair found" in _text(nb, "status")
    stored = organism_card.load_eval(tiny.models)
    table = _text(nb, "scenario-table")
    assert "Table O3" in table and "average over scenarios" in table and "target" in table
    assert all(s in table for s in ("math", "writing")) and "Answers correct, average over scenarios: tuned" in table
    assert "Answers in the requested form" in table
    assert f"{stored['ft']['mean']:.1%}" in table
    assert "arithmetic" in _text(nb, "task-table") and "synonym" in _text(nb, "task-table")
    assert "loaded offline in" in _text(nb, "heldout-note") and "Compute 64 + 60." in _text(nb, "samples")
    assert "parameters, 2 layers" in _text(nb, "limits") and _n_images(nb) == 1


@pytest.mark.notebook
@pytest.mark.slow
def test_notebook_with_a_missing_pair_says_so(tmp_path):
    nb = _execute(tmp_path, model_dir=str(tmp_path / "no_such_pair"))
    status = _text(nb, "status")
    assert "The organism pair is missing" in status and "make organism" in status
    assert organism_card.SKIPPED in _text(nb, "scenario-table") and _n_images(nb) == 0
    assert "Table O2" in _text(nb, "data")  # the corpus manifest is committed: still shown
