"""Chapter "Finding 2" (Fig 2, Table 3): paperlib.paper.finding2 glue and papermill runs of
notebooks/fig2_table3_attention_pairs.md.

The notebook runs twice (about 40 s in all on 2 cores): defaults (the shipped
pair, or the random fallback while it is missing) and K=20. Cache and results go
to temporary folders (PAPERLIB_CACHE / PAPERLIB_RESULTS).
"""
from __future__ import annotations

import json
import math
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats as sps

from paperlib.paper import finding2 as f2
from paperlib.book import finding2_report as f2r
from paperlib.core.errors import DataError, ParameterError
from nbrun import check_source, output_text, run_notebook
from fakes import FakePairs

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "fig2_table3_attention_pairs.md"
ORGANISM_MISSING = not (ROOT / "models" / "organism" / "pt").is_dir()


# --- verb lists, groups -----------------------------------------------------------------

def _verbs_folder(folder, verbs):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f2.VERBS_FILE).write_text(json.dumps({"verbs": verbs}), encoding="utf-8")
    return folder


def test_tuning_verbs_read_from_the_tuned_model_folder(tmp_path):
    folder = _verbs_folder(tmp_path / "ft", ["Define", "add", "define", " sort "])
    assert f2.tuning_verbs(folder) == f2.tuning_verbs(str(folder)) == ["define", "add", "sort"]
    model = types.SimpleNamespace(config=types.SimpleNamespace(_name_or_path=str(folder)))
    assert f2.tuning_verbs(model) == ["define", "add", "sort"]  # a model loaded from the folder
    hub = types.SimpleNamespace(config=types.SimpleNamespace(_name_or_path="lmsys/vicuna-7b-v1.1"))
    assert f2.tuning_verbs(hub) == f2.tuning_verbs(tmp_path) == f2.tuning_verbs(None) == []
    assert f2.tuning_verbs(types.SimpleNamespace()) == []  # a model without a config
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / f2.VERBS_FILE).write_text('{"words": []}')
    with pytest.raises(DataError, match="'verbs'"):
        f2.tuning_verbs(tmp_path / "bad")
    _verbs_folder(tmp_path / "bad", ["ok", 3])
    with pytest.raises(DataError, match="non-empty strings"):
        f2.tuning_verbs(tmp_path / "bad")


@pytest.mark.skipif(ORGANISM_MISSING, reason="models/organism not built")
def test_shipped_tuned_model_carries_its_template_verbs():
    verbs = f2.tuning_verbs(ROOT / "models" / "organism" / "ft")
    for v in ("define", "write", "translate", "explain", "compute", "list", "give",
              "describe", "name", "tell", "use", "calculate", "spell", "round"):
        assert v in verbs
    assert not {"what", "how", "in", "a", "there"} & set(verbs)
    assert f2.tuning_verbs(ROOT / "models" / "organism" / "pt") == []


def test_instruction_and_general_verbs(tmp_path):
    inst = f2.instruction_verbs()  # no tuned model with its own verbs: the paper's list
    assert inst == list(f2.PAPER_INSTRUCTION_VERBS) and len(inst) == len(set(inst))
    own = f2.instruction_verbs(tuned=_verbs_folder(tmp_path / "ft", ["define", "Write", "spell"]))
    assert own == inst + ["define", "spell"]  # the paper's list, then the tuned model's new verbs
    assert f2.instruction_verbs(["go"], tuned=tmp_path / "ft") == ["go"]  # an explicit list wins
    assert f2.instruction_verbs([" Write", "write", "GO"]) == ["write", "go"]
    for bad in ("write", [], ["ok", ""], ["ok", 3]):
        with pytest.raises(ParameterError):
            f2.instruction_verbs(bad)
    gen = f2.general_verbs(40, exclude=inst)
    assert len(gen) == 40 and not set(gen) & set(inst)
    assert gen[:3] == ["be", "can", "will"] and "the" not in gen
    assert all(f2.is_verb_base(v) for v in gen)
    assert f2.general_verbs(5, exclude=["go"], verbs=["Go", "see"]) == ["see"]
    with pytest.raises(ParameterError):
        f2.general_verbs(0)


def test_group_size_and_layers():
    assert [f2.resolve_group_size("auto", n) for n in (32, 4, 7, 8, 16, 40)] == [4, 1, 1, 1, 2, 5]
    assert f2.resolve_group_size(2, 4) == 2
    for bad in (0, 5, "two", True):
        with pytest.raises(ParameterError):
            f2.resolve_group_size(bad, 4)
    assert f2.resolve_layers(None, 3) == [0, 1, 2] and f2.resolve_layers([-1, 0], 3) == [0, 2]
    with pytest.raises(ParameterError):
        f2.resolve_layers([3], 3)
    assert f2.verb_coverage(["Write", "go"], ["write", "see"]) == (["write"], ["see"])


# --- hand-built head explanations ---------------------------------------------------------

W, T, E, P, X, Y, H_, G, S = ("write", "text"), ("write", "essay"), ("explain", "why"), \
    ("write", "pen"), ("explain", "how"), ("a", "b"), ("<b>", "x"), ("go", "see"), ("c", "d")


@pytest.fixture()
def hand_att():
    """Layer 0: write 1->2 (h0), write 1->0 and explain 1->2 (h1), go/see 1->0 (h2).
    Layer 1: nothing changes (h1 empty in both)."""
    return {"pt": {0: FakePairs({0: [W], 1: [P, E], 2: [G]}), 1: FakePairs({0: [Y], 1: []})},
            "ft": {0: FakePairs({0: [W, T], 1: [E, X], 2: []}), 1: FakePairs({0: [Y], 1: []})}}


def test_fig2_table_hand_worked(hand_att):
    df = f2.fig2_table(hand_att, n_layers=2, group_size=1)
    # layer 1: heads 1 - 1/2, 1 - 1/3, 1 - 0/1; layer 2: head 0 unchanged, head 1 empty -> left out
    assert list(df["layers"]) == ["1-1", "2-2"] and list(df["n_heads"]) == [3, 1]
    assert df["heads_changed"].tolist() == pytest.approx([(0.5 + 2 / 3 + 1) / 3, 0.0])
    assert df["neurons_changed"].tolist() == pytest.approx(df["heads_changed"].tolist())
    one = f2.fig2_table(hand_att, n_layers=2, group_size=2)
    assert one["heads_changed"].tolist() == pytest.approx([(0.5 + 2 / 3 + 1) / 4])
    only_first = f2.fig2_table({n: {0: hand_att[n][0]} for n in hand_att}, 4, 1)
    assert list(only_first["layers"]) == ["1-1"]          # groups with no layer dropped


def test_table3_hand_worked(hand_att):
    t3 = f2.table3(hand_att, ["write", "explain"], ["go", "see"], n_layers=2, group_size=1)
    row = t3.iloc[0]
    # write: heads 0 (+), 1 (-) -> 50%; explain: head 1 (+) -> 100%; go, see: head 2 (-) -> 0%
    assert (row.instruct_mean, row.instruct_std, row.instruct_n) == (75.0, 25.0, 2)
    assert (row.general_mean, row.general_std, row.general_n) == (0.0, 0.0, 2)
    assert row.p_value == pytest.approx(sps.ttest_ind([50, 100], [0, 0], equal_var=False).pvalue)
    assert t3.iloc[1].instruct_n == 0 and math.isnan(t3.iloc[1].p_value)
    cmp, same = f2.table3_comparison(t3, 2)  # layer 1 of 2 = paper 1-16: centre on a boundary
    assert not same and list(cmp["paper group at same depth"]) == ["5-8", "21-24"]
    assert cmp["ours: instruct higher"].tolist() == [True, "–"]
    assert cmp["instruct (ours)"][0] == "75.00 ± 25.00" and cmp["verbs (instr/gen)"][0] == "2/2"


def test_table3_comparison_same_groups_and_depth_mapping():
    paper = f2.paper_table3()
    ours = paper.assign(instruct_n=5, general_n=9)
    cmp, same = f2.table3_comparison(ours, 32)
    assert same and list(cmp["paper layers"]) == list(paper["layers"])
    assert cmp["paper: instruct higher"].tolist() == [True] * 5 + [False] * 3
    assert [f2._depth_group(f"{a}-{a}", 4) for a in (1, 2, 3, 4)] == [0, 2, 4, 6]
    assert f2._depth_group("1-2", 4) == 1 and f2._depth_group("3-4", 4) == 5


def _html(obj) -> str:
    return obj.data if hasattr(obj, "data") else str(obj)


def test_table3_table_hand_worked(hand_att):
    t3 = f2.table3(hand_att, ["write", "explain"], ["go", "see"], 2, 1)
    cmp, _ = f2.table3_comparison(t3, 2)
    page = _html(f2r.table3_table(t3, cmp, "Table A3", "caption"))
    # layer 1 -> the paper's 5-8: 66.89 - 48.42 = 18.47 pp; ours 75 - 0 = 75 pp; delta 56.53
    assert "<strong>Table A3.</strong>" in page and "18.5" in page and "75.0" in page
    assert "56.5" in page and "0.205" in page and "0.0045" in page    # Welch p ours, p paper
    row2 = page.split("<tr>")[3]                                      # layer 2: no verb counted
    assert "21-24" in row2 and "–" in row2 and "nan" not in page
    assert "75.0 ± 25.0" in page and "2 / 2" in page                  # the collapsible block
    assert "instruct_mean" not in page and "<th>0</th>" not in page   # no internal names, no index


def test_fig2_sentence_trend_and_saturation():
    import pandas as pd

    up = pd.DataFrame({"layers": ["1-1", "2-2", "3-3"], "heads_changed": [0.1, 0.2, 0.4]})
    assert "rises with depth (Spearman ρ = 1.00 over 3 groups)" in f2r.fig2_sentence(up)
    assert "above the paper's 35%" in f2r.fig2_sentence(up)
    assert "layer 1" in f2r.fig2_sentence(up) and "layers 1-1" not in f2r.fig2_sentence(up)
    down = up.assign(heads_changed=[0.4, 0.2, 0.1])
    assert "does not clearly rise" in f2r.fig2_sentence(down)
    flat = up.assign(heads_changed=[0.956, 0.985, 0.99])             # the organism's Fig 2
    text = f2r.fig2_sentence(flat)
    assert "saturated" in text and "rises with depth (" not in text and "does not clearly" not in text


def test_tables_use_readable_names(hand_att):
    import pandas as pd

    from paperlib.paper import contrasts as C

    groups = [("1-1", (0,)), ("2-2", (1,))]
    units = C.unit_changes({"pt": hand_att["pt"], "ft": hand_att["ft"], "cpt": hand_att["pt"]},
                           [C.TUNING, C.CPT])
    fig2c = C.fig2_contrasts(units, groups)
    page = _html(f2r.fig2c_table(fig2c, "Table A6", "c")) + _html(
        f2r.tests_table(C.fig2_tests(units, groups, "rbo_change", 50), "Table A7", "c"))
    for internal in ("rbo_change", "changed@", "margin vs cpt", "p vs cpt"):
        assert internal not in page
    assert "1 − rank-biased overlap (%)" in page and "changed at depth 10 (%)" in page
    assert "p vs continued pre-training" in page and "margin over continued pre-training (pp)" in page
    assert "exceeds both controls" in page
    t3c = pd.DataFrame({"layers": ["1-1"], "base → tuned: Δ pp": [5.0], "base → tuned: p": [0.2],
                        "margin vs reseed": [1.0], "p vs reseed": [0.3]})
    page = _html(f2r.table3_contrast_table(t3c, "Table A8", "c"))
    assert "p vs second seed" in page and "margin over second seed (pp)" in page
    assert "base → tuned: Welch p" in page and "p vs reseed" not in page
    assert "base → tuned: Welch p" in page.split("<details")[0]          # p ours in the compact table
    assert f2r.example_layers(hand_att) == [0, 1]


# --- tiny random models ----------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_att():
    from paperlib.explainers.attention_pairs import AttentionPairsExplainer
    from paperlib.models import canonical_view
    from paperlib.words.similarity import DictSimilarity
    from paperlib.models.tiny import _WORDS, tiny_model, tiny_tokenizer

    words = list(dict.fromkeys(_WORDS))[:80]
    g = torch.Generator().manual_seed(0)
    table = DictSimilarity({w: torch.randn(8, generator=g).numpy() for w in words}).table(
        words, reference=words, z=0.0, use_cache=False)
    tok = tiny_tokenizer()

    def run(seed):
        return AttentionPairsExplainer(canonical_view(tiny_model("llama", seed=seed)), tok,
                                       words, table, K=12, max_pairs=30)()
    return {"pt": run(0), "same": run(0), "ft": run(1)}


def test_identical_models_change_nothing(tiny_att):
    att = {"pt": tiny_att["pt"], "ft": tiny_att["same"]}
    fig2 = f2.fig2_table(att, 2, 1)
    assert fig2["heads_changed"].tolist() == [0.0, 0.0] and fig2["n_neurons"].min() > 0
    t3 = f2.table3(att, ["write", "use"], ["go", "see", "look"], 2, 1)
    assert (t3["instruct_n"] == 0).all() and t3["p_value"].isna().all()


def test_different_models_change_pairs(tiny_att):
    att = {"pt": tiny_att["pt"], "ft": tiny_att["ft"]}
    fig2 = f2.fig2_table(att, 2, 1)
    assert (fig2["heads_changed"] > 0.3).all() and (fig2["neurons_changed"] <= 1).all()
    t3 = f2.table3(att, f2.instruction_verbs(), f2.general_verbs(100), 2, 1)
    assert list(t3["layers"]) == ["1-1", "2-2"] and t3["general_n"].sum() > 0
    shares = t3[["instruct_mean", "general_mean"]].to_numpy()
    assert np.all((shares[np.isfinite(shares)] >= 0) & (shares[np.isfinite(shares)] <= 100))


# --- the MyST source --------------------------------------------------------------------

def test_source_is_clean_myst_with_its_parameters():
    check_source(NOTEBOOK, ["model_pt", "model_ft", "model_cpt", "model_ft2", "fallback_to_random",
                            "seed", "layers", "K", "max_pairs", "group_size", "vocab_size", "similarity",
                            "instruction_verbs", "general_verbs", "n_general_verbs",
                            "example_heads", "top_pairs", "dtype", "device",
                            "n_boot", "alpha"])


# --- papermill runs -------------------------------------------------------------------

def _execute(out_dir: Path, cache: Path, **parameters) -> dict:
    return run_notebook(NOTEBOOK, out_dir, cache, **parameters)


def _text(nb: dict, tag: str) -> str:
    return output_text(nb, tag, mimes=("text/markdown", "text/plain", "text/html"), streams=False)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory, cache_dir):
    return _execute(tmp_path_factory.mktemp("defaults"), cache_dir)


@pytest.mark.notebook
def test_notebook_defaults(default_run):
    nb = default_run
    note = _text(nb, "pair-note")
    if ORGANISM_MISSING:
        assert "could not be loaded" in note and "random stand-in pair" in note
        assert "tiny random-weight LLaMA" in _text(nb, "fig2")
    else:
        assert "Model pair loaded" in note and "organism" in note
    assert "Table A2." in _text(nb, "fig2") and "heads: pairs changed (%)" in _text(nb, "fig2")
    assert "Figure A1." in _text(nb, "fig2-figure")
    t3 = _text(nb, "table3")
    assert "Table A3." in t3 and "ours (pp)" in t3 and "p paper" in t3
    assert "78.46" in _text(nb, "paper-table3") and "Table A4." in _text(nb, "paper-table3")
    assert "K = 100" in _text(nb, "setup") and "3000 candidate words" in _text(nb, "setup")
    assert "Table A5a." in _text(nb, "examples") and "top 10 head-level pairs" in _text(nb, "examples")
    assert "paper's direction" in _text(nb, "conclusion")
    caveat = _text(nb, "organism-caveat")
    assert "what it can and cannot stand for" in caveat and "<strong>cannot</strong>" in caveat
    every = "".join(_text(nb, t) for t in ("fig2", "table3", "contrasts", "fig2-contrasts",
                                            "table3-contrasts", "conclusion"))
    for internal in ("rbo_change", "changed@", "heads_changed", "margin vs ", "Table 1 ·"):
        assert internal not in every
    assert any("data:image/svg+xml;base64" in "".join(o.get("data", {}).get("text/html", ""))
               for c in nb["cells"] for o in c.get("outputs", []))  # the book's figures are SVG
    assert nb["metadata"].get("widgets")  # browser state saved for the static page


@pytest.mark.notebook
def test_notebook_parameter_changes_the_output(tmp_path, cache_dir, default_run):
    nb = _execute(tmp_path, cache_dir, K=20, n_general_verbs=100)
    assert "K = 20" in _text(nb, "setup") and "General verbs: 100" in _text(nb, "setup")
    assert _text(nb, "fig2") != _text(default_run, "fig2")
    assert _text(nb, "table3") != _text(default_run, "table3")
