"""The chapter "Explainers on any model pair": paperlib.book.live / live_explainers helpers
and papermill runs of notebooks/explainers_live_pair.md.

The notebook runs three times (about 40 s in all on 2 cores): defaults (the
shipped pair is missing -> random fallback), a saved tiny pair passed by
parameter, and fallback_to_random=False (a clear ModelLoadError). Cache and
results go to temporary folders (PAPERLIB_CACHE / PAPERLIB_RESULTS); the default
run reuses the book's executed copy when it is current (tests/nbrun.py).
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from paperlib.book import live, live_explainers, live_report
from paperlib.core.errors import ModelLoadError, ParameterError
from paperlib.explainers.ffn_concepts import FFNConcepts
from paperlib.models.tiny import tiny_model, tiny_tokenizer
from nbrun import check_source, env, output_text, run_notebook
from fakes import FakePairs

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "explainers_live_pair.md"
ORGANISM_MISSING = not (ROOT / "models" / "organism" / "pt").is_dir()


_env = env


# --- paperlib.book.live -------------------------------------------------------------------

def test_describe_request_names_alias_folders_or_sources():
    text = live.describe_request("organism")
    # folders under the models folder are named relative to it, never by absolute path
    assert text == "alias 'organism' (pre-trained organism pt, tuned organism ft)"
    assert live.describe_request("/a/pt", "/b/ft") == "pre-trained '/a/pt', tuned '/b/ft'"


def test_resolve_prompts_ids_texts_and_custom():
    out = live.resolve_prompts(["lima_author_161", "  Write a Python function to sort a list "
                                "of integers.\n", "Tell me a joke."])
    assert list(out) == ["lima_author_161", "lima_author_155", "custom_2"]
    assert out["lima_author_161"] == "Solve for x in the equation 3x + 10 = 5(x - 2)."
    assert out["lima_author_155"] == "Write a Python function to sort a list of integers."
    assert out["custom_2"] == "Tell me a joke."


@pytest.mark.parametrize("bad", [[], "one prompt", ["ok", "  "], ["ok", 3],
                                 ["lima_author_161", "Solve for x in the equation 3x + 10 = "
                                  "5(x - 2)."]])
def test_resolve_prompts_rejects_bad_lists(bad):
    with pytest.raises(ParameterError):
        live.resolve_prompts(bad)


def test_perturbed_copy_noise_scale_and_determinism():
    model = tiny_model("llama", seed=1)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    a, b = live.perturbed_copy(model, 0.1, seed=5), live.perturbed_copy(model, 0.1, seed=5)
    c = live.perturbed_copy(model, 0.1, seed=6)
    for n, p in model.named_parameters():
        assert torch.equal(p, before[n])                       # original untouched
    pa, pb, pc = (dict(m.named_parameters()) for m in (a, b, c))
    w = "model.layers.0.mlp.down_proj.weight"
    assert torch.equal(pa[w], pb[w]) and not torch.equal(pa[w], pc[w])
    rel = float((pa[w].detach() - before[w]).std() / before[w].std())
    assert rel == pytest.approx(0.1, rel=0.15)                 # 2048 draws: ~2% error
    zero = live.perturbed_copy(model, 0.0)
    assert all(torch.equal(p, before[n]) for n, p in zero.named_parameters())


def test_fallback_tokenizer_is_llama_like_and_cached(tmp_path):
    with _env(PAPERLIB_CACHE=tmp_path):
        tok = live.fallback_tokenizer()
        assert len(list((tmp_path / "live_tokenizer").glob("*.json"))) == 2  # value + params
        again = live.fallback_tokenizer()
    ids = tok("Write a list.\nOK")["input_ids"]
    pieces = tok.convert_ids_to_tokens(ids)
    assert ids[0] == 1 and pieces[1] == "▁Write" and "<0x0A>" in pieces
    assert len(tok) == live.FALLBACK_VOCAB and again.get_vocab() == tok.get_vocab()


def test_load_pair_or_fallback_missing_pair(tmp_path, monkeypatch):
    from paperlib.models import loading

    monkeypatch.setitem(loading._ALIASES, "live-test-missing",  # removed after the test
                        {"pt": tmp_path / "no_pt", "ft": tmp_path / "no_ft"})
    with _env(PAPERLIB_CACHE=tmp_path):
        pair = live.load_pair_or_fallback("live-test-missing", None, True, seed=3)
    assert pair.fallback and "shipped model pair is missing" in pair.note
    assert live.RUN_HINT in pair.note and "seed 3" in pair.label
    assert "random weights" in pair.caption("X") and "RANDOM WEIGHTS" in pair.title("X")
    assert pair.model_pt.config.vocab_size == len(pair.tokenizer_pt) == live.FALLBACK_VOCAB
    assert not torch.equal(pair.model_pt.lm_head.weight, pair.model_ft.lm_head.weight)
    with pytest.raises(ModelLoadError, match="shipped model pair is missing.*make notebook"):
        live.load_pair_or_fallback("live-test-missing", None, False)
    with pytest.raises(ModelLoadError, match="does not exist.*make notebook"):
        live.load_pair_or_fallback(str(tmp_path / "a"), str(tmp_path / "b"), False)


def test_load_pair_or_fallback_errors_that_are_not_fallbacks():
    with pytest.raises(ParameterError, match="not a registered pair alias"):
        live.load_pair_or_fallback("not-an-alias", None, True)
    with pytest.raises(ParameterError, match="dtype"):
        live.load_pair_or_fallback("organism", None, True, dtype="float33")


def _save_pair(folder: Path) -> tuple[Path, Path]:
    paths = []
    for name, seed in (("pt", 0), ("ft", 1)):
        path = folder / name
        tiny_model("llama", seed=seed).save_pretrained(path)
        tiny_tokenizer().save_pretrained(path)
        paths.append(path)
    return paths[0], paths[1]


@pytest.fixture(scope="module")
def saved_pair(tmp_path_factory):
    return _save_pair(tmp_path_factory.mktemp("pair"))


def test_load_pair_or_fallback_loads_a_real_pair(saved_pair):
    pt, ft = saved_pair
    pair = live.load_pair_or_fallback(str(pt), str(ft), False)
    short = lambda p: f"{p.parent.name}/{p.name}"  # pages show a folder's last two parts
    assert not pair.fallback and short(pt) in pair.label and short(ft) in pair.note
    assert str(pt) not in pair.label + pair.note  # never the absolute path
    assert "random" not in pair.caption("X")
    summary = live.pair_summary(pair)
    assert list(summary.columns) == ["pre-trained", "tuned"]
    assert summary.loc["layers", "tuned"] == 2 and summary.loc["D", "pre-trained"] == 32
    assert summary.loc["source", "tuned"] == short(ft)


def test_instruction_scores_leave_custom_prompts_out(tmp_path):
    from paperlib.core.caseset import RawCase, write_case_set

    pieces = ["▁Write", "▁a", "▁joke", "▁about", "▁fruit", "."]
    S = np.tile(np.array([[10.0], [0], [0], [0], [0], [0]]), (1, 6))
    paths = {}
    for n in live.NAMES:
        cases = [RawCase("lima_author_164", pieces, ["▁x"] * 6, "", S),
                 RawCase("custom_1", ["▁hi"], ["▁x"], "", np.ones((1, 1)))]
        paths[n] = write_case_set(tmp_path / f"cases_{n}.npz", n, cases)
    df, note = live.instruction_scores(paths)
    assert "custom_1" in note and list(df.id) == ["lima_author_164"]
    assert (tmp_path / "annotated" / "cases_pt.npz").is_file()
    # every token is instruction; only row 0 survives b=7 -> density 1 of max 1 -> 1 / log2(8)
    assert df.n_instruction_pt[0] == 6
    assert df.score_pt[0] == pytest.approx(1 / math.log2(8))


def _fake_pair(label: str, fallback: bool = False) -> live.LivePair:
    tok = tiny_tokenizer()
    return live.LivePair(None, tok, None, tok, label, "note", fallback)


def test_live_dir_slug_is_safe_and_unique(tmp_path):
    a = _fake_pair("pre-trained `/data/" + "x" * 70 + "/a`")
    b = _fake_pair("pre-trained `/data/" + "x" * 70 + "/b`")
    da, db = live.live_dir(a, tmp_path), live.live_dir(b, tmp_path)
    assert da.parent == db.parent == tmp_path / "live" and da != db
    assert all(ch.isalnum() or ch == "-" for ch in da.name) and len(da.name) <= 69
    with _env(PAPERLIB_RESULTS=tmp_path / "r"):
        assert live.live_dir(a).parent == tmp_path / "r" / "live"


def test_salient_figure_and_responses_table_handle_an_empty_response():
    import matplotlib.pyplot as plt

    from paperlib.paper.data import Case

    pair = _fake_pair("fake pair", fallback=True)
    prompt = ["you", "write", "a", "word"]
    c_pt = Case("custom_0", "pt", "custom", prompt, ["the", "word"], "", np.ones((4, 2)))
    c_ft = Case("custom_0", "ft", "custom", prompt, [], "", np.zeros((4, 0)))
    fig = live.salient_figure(c_pt, c_ft, pair)
    assert "empty response: tuned" in fig._suptitle.get_text()
    assert "RANDOM WEIGHTS" in fig._suptitle.get_text()
    plt.close(fig)
    table = live.responses_table({"pt": [c_pt], "ft": [c_ft]}, pair)
    assert table.to_dict("records") == [{"id": "custom_0", "dataset": "custom",
                                         "prompt": "you write a word", "pre-trained": "the word",
                                         "tuned": ""}]


# --- paperlib.book.live_explainers ---------------------------------------------------------

def test_check_layers_and_capped():
    assert live_explainers.check_layers(None, 4) == [0, 3]
    assert live_explainers.check_layers(None, 1) == [0]
    assert live_explainers.check_layers([2, -1, 3], 4) == [2, 3]
    for bad in ([4], [-5], [True], ["1"]):
        with pytest.raises(ParameterError):
            live_explainers.check_layers(bad, 4)
    assert live_explainers.capped("K", 100, 60, "words") == (60, "K=100 capped to 60 (words).")
    assert live_explainers.capped("K", 10, 60, "words") == (10, "")
    with pytest.raises(ParameterError):
        live_explainers.capped("K", 0, 60, "words")


def test_changed_share_and_head_table_on_hand_made_lists():
    att = {"pt": {0: FakePairs({0: [("a", "b"), ("c", "d")], 1: []})},
           "ft": {0: FakePairs({0: [("a", "b")], 1: []})}}
    table = live_explainers.changed_share_table(att, n_layers=3)
    # head 0: 1 - 1/2 = 0.5; head 1: both empty -> nan, left out of the mean
    assert table.to_dict("records") == [{"layer": 1, "heads_changed": 0.5, "n_heads": 1,
                                         "neurons_changed": 0.5, "n_neurons": 1}]
    assert live_explainers.busiest_heads(att, 0, 1) == [0]
    pairs = live_explainers.head_pairs_table(att, 0, [0], top=5)
    assert list(pairs["pre-trained"]) == ["a → b", "c → d"] and list(pairs["tuned"]) == ["a → b", ""]


def _concepts(ratios, words):
    R = len(ratios)
    return FFNConcepts(tuple(words), torch.eye(R, 3), torch.tensor(ratios, dtype=torch.float64),
                       torch.arange(R * 2).reshape(R, 2) % len(words), torch.ones(R, 2), 0)


def test_variance_and_concept_tables():
    ffn = {"pt": {0: _concepts([0.5, 0.3, 0.2], "abcd")},
           "ft": {0: _concepts([0.6, 0.4, 0.0], "abcd")}}
    var = live_explainers.variance_by_rank(ffn, ranks=(1, 2, 10))
    assert list(var.columns) == ["layer", "model", "top 1", "top 2"]   # rank 10 > 3 left out
    assert var["top 2"].tolist() == pytest.approx([0.8, 1.0])
    con = live_explainers.concept_table(ffn, 0, n_components=2, n_words=2)
    assert con["pre-trained words"].tolist() == ["a, b", "c, d"]
    assert con["tuned variance"].tolist() == pytest.approx([0.6, 0.4])


def test_similarity_backend_choices(tmp_path):
    from paperlib.words.similarity import GloveSimilarity, MiniLMSimilarity

    assert isinstance(live_explainers.similarity_backend("minilm"), MiniLMSimilarity)
    glove = tmp_path / "g.txt"
    glove.write_text("the 1 0\n", encoding="utf-8")
    assert isinstance(live_explainers.similarity_backend(str(glove)), GloveSimilarity)
    with pytest.raises(ParameterError, match="GloVe"):
        live_explainers.similarity_backend(str(tmp_path / "missing.txt"))


# --- the MyST source --------------------------------------------------------------------

def test_source_is_clean_myst_with_its_parameters():
    check_source(NOTEBOOK, ["model_pt", "model_ft", "prompts", "max_new_tokens", "attribution_mode",
                            "chat_template", "layers", "K", "R", "ffn_K", "vocab_size", "similarity",
                            "seed", "fallback_to_random", "dtype", "device"])


# --- papermill runs -------------------------------------------------------------------

def _execute(out_dir: Path, cache: Path, **parameters) -> dict:
    return run_notebook(NOTEBOOK, out_dir, cache, **parameters)


def _text(nb: dict, tag: str | None = None) -> str:
    return output_text(nb, tag, mimes=("text/markdown", "text/plain", "text/html"))


def _captions(nb: dict) -> list[str]:
    """The numbered captions (Table L1., Figure L1., ...) of the chapter's outputs."""
    return re.findall(r"<strong>((?:Table|Figure) L\d+[a-z]?\.</strong>.*?)(?:</p>|</figcaption>)",
                      _text(nb), flags=re.DOTALL)


def _svgs(nb: dict) -> int:
    return _text(nb).count("data:image/svg+xml;base64,")


@pytest.mark.notebook
def test_notebook_defaults_fall_back_to_a_labelled_random_pair(tmp_path, cache_dir):
    nb = _execute(tmp_path, cache_dir)
    note = _text(nb, "pair-note")
    if not ORGANISM_MISSING:  # once the organism is shipped, the defaults load it
        assert "Model pair loaded" in note and "organism" in note
        return
    assert "could not be loaded" in note and "shipped model pair is missing" in note
    assert "Falling back to a random stand-in pair" in note and live.RUN_HINT in note
    captions = _captions(nb)
    assert len(captions) >= 7 and all("random weights" in c for c in captions)
    assert _svgs(nb) == 4 + 1                                    # 4 salient pairs + variance
    live_sets = list((tmp_path / "results" / "live").glob("*/cases_*.npz"))
    assert sorted(p.name for p in live_sets) == ["cases_ft.npz", "cases_pt.npz"]
    scores = _text(nb, "scores")
    for cid in ("user_oriented_task_74", "lima_author_161", "user_oriented_task_124",
                "lima_author_155"):
        assert cid in scores
    assert "2000 candidate words" in _text(nb, "attention-setup")
    assert "heads_changed" in _text(nb, "changed-share")


@pytest.mark.notebook
def test_notebook_runs_on_a_pair_given_by_parameter(tmp_path, cache_dir, saved_pair):
    pt, ft = saved_pair
    nb = _execute(tmp_path, cache_dir, model_pt=str(pt), model_ft=str(ft),
                  prompts=["you write a long word", "user_oriented_task_74"],
                  fallback_to_random=False, max_new_tokens=8, layers=[-1])
    note = _text(nb, "pair-note")
    name = live_report.pair_name(str(pt), str(ft))
    assert "Model pair loaded" in note and name in note
    text = _text(nb)
    assert "Falling back" not in text and "random weights" not in text
    assert str(pt) not in text and str(tmp_path) not in text     # no file-system path
    captions = _captions(nb)
    assert len(captions) >= 7 and all(name in c for c in captions)
    assert "custom_0" in _text(nb, "responses") and "custom_0" in _text(nb, "scores")
    setup = _text(nb, "attention-setup")
    assert "layers [2] (1-based) of 2" in setup and "K=100 capped to" in setup
    assert "R=300 capped to 32" in _text(nb, "ffn-variance")


@pytest.mark.notebook
def test_notebook_without_fallback_stops_with_a_clear_error(tmp_path, cache_dir):
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError) as info:
        _execute(tmp_path, cache_dir, model_pt=str(tmp_path / "no_pt"),
                 model_ft=str(tmp_path / "no_ft"), fallback_to_random=False)
    assert info.value.ename == "ModelLoadError"
    assert f"cannot load the model pair pre-trained '{tmp_path / 'no_pt'}'" in info.value.evalue
    assert "does not exist" in info.value.evalue
    assert live.RUN_HINT in info.value.evalue
