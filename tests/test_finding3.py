"""Chapters of Finding 3 (Table 5, Fig 3, Fig 7, Fig 8, Tables 4/6-11): the glue of
paperlib.paper.finding3 / finding3_groups / finding3_report on hand-built concepts with a
fake annotator, and papermill runs of both notebooks (about 30-60 s in all on 2
cores on the random fallback pair). Cache and results go to temporary folders.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from paperlib.measures.stats import two_proportion_test
import torch
from scipy import stats as sps

from paperlib.paper import finding3 as f3
from paperlib.paper import finding3_groups as g3
from paperlib.book import finding3_report as r3
from paperlib.annotate import CANNOT_TELL, Annotation, Annotator
from paperlib.core.errors import ParameterError
from paperlib.explainers.ffn_concepts import FFNConcepts
from nbrun import check_source, output_text, run_notebook

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = {n: ROOT / "notebooks" / f"{n}.md"
             for n in ("table5_fig3_ffn_concepts", "appD_appE_interpretability")}
ORGANISM_MISSING = not (ROOT / "models" / "organism" / "pt").is_dir()


# --- a fake annotator and hand-built concepts -------------------------------------------

class FakeAnnotator(Annotator):
    """The first word decides: code -> coding/semantic, sum -> math+writing/syntax,
    sub -> writing/morphology, anything else -> Cannot Tell. With ``noisy`` the
    seed flips "sub" lists to Cannot Tell on odd seeds (a spread over seeds)."""

    name = "fake"

    def __init__(self, noisy=False):
        self.noisy, self.calls = noisy, 0

    def annotate(self, words, seed=0):
        self.calls += 1
        first = words[0]
        if first == "code":
            return Annotation("programming terms", True, {"coding"}, "semantic",
                              {"concept": "rule code"}, seed, self.name)
        if first == "sum":
            return Annotation("math operations", True, {"math", "writing"}, "syntax",
                              {"concept": "rule sum"}, seed, self.name)
        if first == "sub" and not (self.noisy and seed % 2):
            return Annotation("words beginning with sub-", True, {"writing"}, "morphology",
                              {"concept": "rule sub"}, seed, self.name)
        return Annotation(CANNOT_TELL, False, frozenset(), None, {"concept": "no rule"},
                          seed, self.name)


def make_concepts(lists, layer, D=4):
    """FFNConcepts whose component r has the word list lists[r] (explained variance
    ratios 0.4, 0.3, 0.2, 0.1 over D = 4)."""
    vocab = sorted({w for l in lists for w in l})
    idx = torch.tensor([[vocab.index(w) for w in l] for l in lists])
    R = len(lists)
    return FFNConcepts(tuple(vocab), torch.eye(D)[:R], torch.tensor([.4, .3, .2, .1][:D],
                       dtype=torch.float64), idx, torch.ones(idx.shape), layer)


PT = {0: [["code", "a"], ["sum", "b"], ["zzz", "c"]],
      1: [["sub", "a"], ["zzz", "b"], ["zzz", "c"]]}
FT = {0: [["code", "a"], ["code", "b"], ["sub", "c"]],
      1: [["sum", "a"], ["sub", "b"], ["zzz", "c"]]}


@pytest.fixture()
def concepts():
    return {"pt": {l: make_concepts(v, l) for l, v in PT.items()},
            "ft": {l: make_concepts(v, l) for l, v in FT.items()}}


@pytest.fixture()
def ann(concepts):
    return f3.annotate_concepts(concepts, FakeAnnotator(), [0, 1])


# --- annotation table, shares, Table 5 --------------------------------------------------

def test_annotation_table_and_dedup(concepts):
    fake = FakeAnnotator()
    ann = f3.annotate_concepts(concepts, fake, [0, 1])
    assert len(ann) == 2 * 2 * 3 * 2 and list(ann.columns) == list(f3.ANNOTATION_COLUMNS)
    distinct = {tuple(w) for m in (PT, FT) for v in m.values() for w in v}
    assert fake.calls == len(distinct) * 2  # each distinct list once per seed
    row = ann[(ann.model == "ft") & (ann.layer == 1) & (ann["rank"] == 1) & (ann.seed == 1)]
    assert row.iloc[0]["concept"] == "math operations" and row.iloc[0]["math"]
    assert row.iloc[0]["words"] == ("sum", "a") and row.iloc[0]["level"] == "syntax"
    assert f3.resolve_seeds(3) == [0, 1, 2] and f3.resolve_seeds([4, 4, 1]) == [4, 1]
    with pytest.raises(ParameterError):
        f3.resolve_seeds(0)
    with pytest.raises(ParameterError):
        f3.shares(ann.drop(columns="level"))


def test_shares_hand_worked(ann):
    s = f3.shares(ann, ("model",)).set_index("model")
    # pt describable: code (coding, semantic), sum (math+writing, syntax), sub (writing, morph.)
    assert s.loc["pt", "n"] == 3 * 2 and s.loc["pt", "n_all"] == 6 * 2
    assert s.loc["pt", "writing"] == pytest.approx(200 / 3)
    assert s.loc["pt", "coding"] == pytest.approx(100 / 3)
    assert s.loc["pt", "semantic"] == pytest.approx(100 / 3)
    # ft describable: code, code, sub, sum, sub -> 5
    assert s.loc["ft", "n"] == 10 and s.loc["ft", "coding"] == pytest.approx(40)
    assert s.loc["ft", "writing"] == pytest.approx(60) and s.loc["ft", "morphology"] == 40
    assert s.loc["ft", "translation"] == 0


def test_table5_deterministic_welch_undefined_and_alternatives(ann):
    t5 = f3.table5(ann).set_index("item")
    w = t5.loc["writing"]
    assert w.tuned_mean == pytest.approx(60) and w.pt_mean == pytest.approx(200 / 3)
    assert w.tuned_std == 0 and np.isnan(w.welch_p) and "std 0" in w.welch_note
    # coding on seed 0: pt 1/3, ft 2/5 -> pooled z-test by hand
    p = 3 / 8
    z = (1 / 3 - 2 / 5) / np.sqrt(p * (1 - p) * (1 / 3 + 1 / 5))
    assert t5.loc["coding", "two_prop_p"] == pytest.approx(2 * sps.norm.sf(abs(z)))
    # paired over layers: coding per layer pt (50, 0), ft (66.7, 0) -> differences 16.7, 0
    expected = sps.ttest_rel([200 / 3, 0], [50, 0]).pvalue
    assert t5.loc["coding", "layers_paired_p"] == pytest.approx(expected)
    assert t5.loc["translation", "layers_paired_p"] == 1.0  # all differences 0
    cmp = f3.table5_comparison(f3.table5(ann))
    assert "undefined" in cmp.loc[0, "Welch p (ours)"] and cmp.loc[0, "Vicuna (paper)"] == \
        "53.50 ± 0.46"
    assert cmp.set_index("item").loc["coding", "tuned higher: ours / paper"] == "yes / yes"


def test_table5_welch_over_noisy_seeds(concepts):
    ann = f3.annotate_concepts(concepts, FakeAnnotator(noisy=True), [0, 1, 2, 3])
    per = f3.shares(ann, ("model", "seed"))
    t5 = f3.table5(ann).set_index("item")
    pt = per[per.model == "pt"]["writing"].to_numpy()
    ft = per[per.model == "ft"]["writing"].to_numpy()
    assert np.ptp(ft) > 0 and t5.loc["writing", "tuned_std"] == pytest.approx(ft.std())
    assert t5.loc["writing", "welch_p"] == pytest.approx(
        sps.ttest_ind(pt, ft, equal_var=False).pvalue)
    assert t5.loc["writing", "welch_note"] == ""


def test_two_proportion_test_known_value():
    assert two_proportion_test(10, 20, 15, 20) == pytest.approx(0.10247, abs=1e-4)
    assert two_proportion_test(0, 5, 0, 7) == 1.0
    assert np.isnan(two_proportion_test(1, 0, 1, 2))


# --- groups: Fig 3, Fig 7, Fig 8, Tables 6-9, examples ---------------------------------

def test_level_by_group_hand_worked(ann):
    lv = g3.level_by_group(ann, n_layers=2, group_size=1).set_index(["model", "layers"])
    assert lv.loc[("pt", "1-1"), "semantic"] == 50 and lv.loc[("pt", "1-1"), "syntax"] == 50
    assert lv.loc[("pt", "2-2"), "morphology"] == 100 and lv.loc[("pt", "2-2"), "n"] == 1
    assert lv.loc[("ft", "1-1"), "semantic"] == pytest.approx(200 / 3)
    one = g3.level_by_group(ann, n_layers=2, group_size=2).set_index(["model", "layers"])
    assert one.loc[("ft", "1-2"), "morphology"] == 40 and len(one) == 2


def test_describable_by_group_and_rank_cuts(ann):
    assert g3.rank_cuts(3, (1, 2, 300)) == [1, 2, 3] and g3.rank_cuts(250) == [30, 100, 200, 250]
    d = g3.describable_by_group(ann, 2, 1, cuts=(1, 2)).set_index(["model", "layers", "cut"])
    assert d.loc[("pt", "1-1", 1), "describable"] == 100
    assert d.loc[("pt", "1-1", 3), "describable"] == pytest.approx(200 / 3)
    assert d.loc[("pt", "2-2", 2), "describable"] == 50 and d.loc[("ft", "2-2", 3), "n"] == 3


def test_variance_table_and_sentence(concepts):
    var = g3.variance_table(concepts, R=2)
    assert list(var["cum_at_R"].round(6)) == [70.0] * 4 and var["rel_rank"].iloc[0] == 1
    assert var["cum_at_rel_rank"].iloc[0] == pytest.approx(40) and var["D"].iloc[0] == 4
    assert g3.cumulative_curves(concepts, "ft").shape == (2, 4)
    text = r3.fig8_sentence(var, 2)
    assert "top R = 2 of D = 4 components explain 70.0%" in text and "22.49%" in text
    assert "capped" in r3.fig8_sentence(g3.variance_table(concepts, R=9), 9)


def test_description_words_and_word_shift():
    c = g3.description_words(["Words ending in -ing", "Cannot Tell", "terms of computer science",
                              "computer and the terms"])
    assert c == {"ending": 1, "terms": 2, "computer": 2, "science": 1}
    import pandas as pd

    base = dict(seed=0, words=("a",), describable=True, level="semantic", writing=False,
                math=False, coding=False, translation=False, evidence={}, rank=1)
    rows = [dict(base, model="pt", layer=0, concept="computer science"),
            dict(base, model="pt", layer=0, concept="computer parts"),
            dict(base, model="ft", layer=0, concept="science fiction"),
            dict(base, model="ft", layer=0, concept="computer science"),
            dict(base, model="ft", layer=1, concept="rhyming words")]
    shift = g3.word_shift(pd.DataFrame(rows), 2, 1, top=5)
    up = shift[(shift.layers == "1-1") & (shift.direction == "↑")]
    down = shift[(shift.layers == "1-1") & (shift.direction == "↓")]
    # pt: computer 2, science 1, parts 1; ft: science 2, computer 1, fiction 1
    assert list(up.word) == ["fiction", "science"] and list(down.word) == ["computer", "parts"]
    assert up.iloc[1]["rank_shift"] == 1 and np.isnan(up.iloc[0]["rank_shift"])
    assert down.iloc[0][["pt", "ft", "change"]].tolist() == [2, 1, -1]
    assert down.iloc[0]["rank_shift"] == -1  # pt rank 1 -> ft rank 2 (tie with fiction)
    assert shift[shift.layers == "2-2"].word.tolist() == ["rhyming"]


def test_examples_and_their_table(ann):
    ex = g3.examples(ann, 0, n=1)
    assert ex.model.tolist() == ["pt", "ft"] and ex.iloc[0]["concept"] == "programming terms"
    assert ex.iloc[0]["rule"] == "rule code" and ex.iloc[0]["scenario"] == "coding"
    assert "words beginning with sub-" in g3.examples(ann, 1, n=1).concept.tolist()
    with pytest.raises(ParameterError):
        g3.examples(ann, 7)
    page = r3.examples_table(ex, "Table C4a", "c").data
    assert "programming terms" in page and "pre-trained" in page and "rule code" in page
    assert "<th >linguistic</th>" not in page and "<th >level</th>" in page


def test_table5_table_compact_and_readable(ann):
    t5 = f3.table5(ann)
    page = r3.table5_table(t5, "Table C2", "c").data
    head = page.split("<details")[0]
    # coding: ours 33.3% -> 40.0% (+6.7 pp), the paper's +0.81 pp (p 0.0350): delta +5.86
    coding = next(row for row in head.split("<tr>") if "<td >coding</td>" in row)
    assert "0.81" in coding and "6.67" in coding and "5.86" in coding and "0.035" in coding
    assert "<td >yes</td>" in coding                                     # same direction
    levels = [row for row in head.split("<tr>") if "<td >level</td>" in row]
    assert levels and all("no significant change" in row or "changed" in row for row in levels)
    assert "undefined: std 0 over seeds" in page.split("<details")[1]    # Welch in the block
    for internal in ("tuned_mean", "diff_pp", "two_prop_p", "<th >0</th>"):
        assert internal not in page
    assert "identical labels" in r3.seeds_note(True, [0, 1])


def test_word_shift_and_variance_frames_are_readable(concepts):
    var = r3.variance_frame(g3.variance_table(concepts, R=2))
    assert list(var.columns)[:5] == ["model", "layer", "D", "R", "top R (%)"]
    assert set(var["model"]) == {"pre-trained", "tuned"}
    import pandas as pd

    shift = pd.DataFrame({"layers": ["1-1"] * 2, "direction": ["↑", "↓"], "word": ["a", "b"],
                          "pt": [1, 2], "ft": [2, 1], "change": [1, -1], "rank_shift": [1.0, float("nan")]})
    out = r3.word_shift_frame(shift)
    assert out["rank shift"].tolist() == ["+1", "–"] and "count tuned" in out


# --- annotators -------------------------------------------------------------------------

def test_make_annotator_llm_falls_back(monkeypatch):
    for var in ("PAPERLIB_LLM_BASE_URL", "PAPERLIB_LLM_MODEL", "PAPERLIB_LLM_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    a, note = f3.make_annotator("llm")
    assert f3.is_deterministic(a) and "not usable" in note and "no LLM endpoint" in note
    a, note = f3.make_annotator("llm", "http://127.0.0.1:9/v1", "m")
    assert f3.is_deterministic(a) and "not usable" in note
    with pytest.raises(ParameterError):
        f3.make_annotator("gpt")


def test_make_annotator_llm_reachable(monkeypatch, tmp_path):
    sys.path.insert(0, str(ROOT / "tests"))
    from chat_server import ChatServer

    monkeypatch.setenv("PAPERLIB_CACHE", str(tmp_path))
    with ChatServer(lambda body: "OK") as server:
        a, note = f3.make_annotator("llm", server.base_url, "tiny-chat")
        assert not f3.is_deterministic(a) and "tiny-chat" in note


def test_offline_annotator_is_cached_and_seed_free(concepts, monkeypatch, tmp_path):
    monkeypatch.setenv("PAPERLIB_CACHE", str(tmp_path))
    a, _ = f3.make_annotator("offline")
    ann = f3.annotate_concepts(concepts, a, [0, 3])
    s0, s3 = (ann[ann.seed == s].drop(columns=["seed", "evidence"]).reset_index(drop=True)
              for s in (0, 3))
    assert s0.equals(s3) and list((tmp_path / "finding3_annotations").glob("*.json"))
    again = f3.annotate_concepts(concepts, a, [0, 3])
    assert again.drop(columns="evidence").equals(ann.drop(columns="evidence"))


# --- the MyST sources -------------------------------------------------------------------

_PAIR = ["model_pt", "model_ft", "fallback_to_random", "seed", "layers", "R", "K", "vocab_size",
         "annotator", "llm_base_url", "llm_model", "seeds", "group_size"]
SOURCE_PARAMETERS = {
    "table5_fig3_ffn_concepts": ["model_pt", "model_ft", "model_cpt", "model_ft2", "fallback_to_random",
                                 "seed", "layers", "R", "K", "vocab_size", "annotator", "llm_base_url",
                                 "llm_model", "seeds", "group_size", "example_concepts", "browse_top",
                                 "dtype", "device", "n_boot", "alpha"],
    "appD_appE_interpretability": [*_PAIR, "rank_cuts", "top_words", "dtype", "device"],
}


@pytest.mark.parametrize("name", sorted(SOURCE_PARAMETERS))
def test_sources_are_clean_myst_with_their_parameters(name):
    check_source(NOTEBOOKS[name], SOURCE_PARAMETERS[name])


# --- papermill runs ---------------------------------------------------------------------

def _execute(name: str, out_dir: Path, cache: Path, **parameters) -> dict:
    return run_notebook(NOTEBOOKS[name], out_dir, cache, **parameters)


def _text(nb: dict, tag: str) -> str:
    return output_text(nb, tag, mimes=("text/markdown", "text/plain", "text/html"), streams=False)


def _pair_checked(nb: dict) -> None:
    note = _text(nb, "pair-note")
    if ORGANISM_MISSING:
        assert "could not be loaded" in note and "random stand-in pair" in note
    else:
        assert "Model pair loaded" in note and "organism" in note


@pytest.fixture(scope="module")
def t5_run(tmp_path_factory, cache_dir):
    return _execute("table5_fig3_ffn_concepts", tmp_path_factory.mktemp("t5"), cache_dir)


@pytest.fixture(scope="module")
def app_run(tmp_path_factory, cache_dir):
    return _execute("appD_appE_interpretability", tmp_path_factory.mktemp("app"), cache_dir)


@pytest.mark.notebook
def test_table5_notebook_defaults(t5_run):
    nb = t5_run
    _pair_checked(nb)
    label = "random stand-in pair" if ORGANISM_MISSING else "organism pt → organism ft"
    t5 = _text(nb, "table5")
    assert "Table C2." in t5 and label in t5 and "p ours" in t5 and "p paper" in t5
    assert "Vicuna, paper (%)" in t5 and "undefined: std 0 over seeds" in t5
    assert "53.50" in t5 and "semantic" in _text(nb, "fig3") and "Table C3." in _text(nb, "fig3")
    assert "Figure C1." in _text(nb, "fig3-figure")
    assert "K = 15" in _text(nb, "setup") and "identical labels" in _text(nb, "setup")
    assert "Table C4a." in _text(nb, "examples") and "FFN layer 1 " in _text(nb, "examples")
    assert "both halves of Finding 3" in _text(nb, "conclusion") and "Finding 3 on this pair:" in _text(nb, "conclusion")
    assert "what it can and cannot stand for" in _text(nb, "organism-caveat")
    every = "".join(_text(nb, t) for t in ("table5", "fig3", "table5-contrasts", "concept-change"))
    for internal in ("Table 2 ·", "tuned_mean", "two_prop_p", "margin vs ", "exact_changed"):
        assert internal not in every
    assert any("data:image/svg+xml;base64" in "".join(o.get("data", {}).get("text/html", ""))
               for c in nb["cells"] for o in c.get("outputs", []))  # the book's figures are SVG
    assert nb["metadata"].get("widgets")  # browser state saved for the static page


@pytest.mark.notebook
def test_appendix_notebook_defaults(app_run):
    nb = app_run
    _pair_checked(nb)
    label = "random stand-in pair" if ORGANISM_MISSING else "organism pt → organism ft"
    assert "Fig 7" in _text(nb, "fig7") and label in _text(nb, "fig7")
    assert "Figure I1." in _text(nb, "fig7-figure") and "Figure I2." in _text(nb, "fig8-figure")
    assert "Fig 8" in _text(nb, "fig8") and "top R (%)" in _text(nb, "fig8")
    assert "cum_at_R" not in _text(nb, "fig8")
    assert "22.49%" in _text(nb, "fig8-text") and "Paper:" in _text(nb, "fig7-text")
    assert "Tables 6–9" in _text(nb, "word-shift") and "rank shift" in _text(nb, "word-shift")
    assert "what it can and cannot stand for" in _text(nb, "organism-caveat")


@pytest.mark.notebook
def test_notebooks_parameters_change_the_output(tmp_path, cache_dir, t5_run, app_run):
    nb = _execute("table5_fig3_ffn_concepts", tmp_path, cache_dir, K=10)
    assert "K = 10" in _text(nb, "setup") and _text(nb, "table5") != _text(t5_run, "table5")
    nb = _execute("appD_appE_interpretability", tmp_path, cache_dir, R=50)
    assert "R = 50" in _text(nb, "setup") and _text(nb, "fig8") != _text(app_run, "fig8")
    assert _text(nb, "fig7") != _text(app_run, "fig7")
