"""Every bad input named: model folders without tokenizer files or with truncated
weights, a missing source, a cutoff that leaves nothing, misspelt or unparsed chapter
parameters, the random fallback (opt-in and labelled), and result tables that say
how they were made, at parameter-keyed paths."""
from __future__ import annotations

import inspect
import json
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from paperlib.book import params
from paperlib.core.errors import DataError, ModelLoadError, ParameterError, RandomWeightsWarning
from paperlib.models.loading import load_model
from paperlib.models.tiny import tiny_model, tiny_tokenizer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import build_book  # noqa: E402
import run_notebook  # noqa: E402

CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.md"))


# --- model folders ------------------------------------------------------------------

def test_a_model_folder_without_tokenizer_files_fails_at_load(tmp_path):
    folder = tmp_path / "weights-only"
    tiny_model("llama").save_pretrained(folder)
    with pytest.raises(ModelLoadError) as info:
        load_model(str(folder), local_files_only=True)
    msg = str(info.value)
    assert str(folder) in msg and "no tokenizer files" in msg and "tokenizer.json" in msg
    assert "config.json" in msg and "save_pretrained" in msg


def test_a_truncated_safetensors_file_leads_with_the_real_cause(tmp_path):
    folder = tmp_path / "m"
    tiny_model("llama").save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    for cut, cause in ((len(data) // 2, "file truncated"), (100, "incomplete safetensors header")):
        weights.write_bytes(data[:cut])
        with pytest.raises(ModelLoadError) as info:
            load_model(str(folder))  # hub allowed: still no network hint for a local folder
        msg = str(info.value)
        assert msg.startswith(f"cannot load model {folder}: {weights} is incomplete ({cause}")
        assert "network" not in msg and "hub" not in msg


def test_a_local_folder_that_fails_later_gives_no_network_hint(tmp_path):
    folder = tmp_path / "m"
    tiny_model("llama").save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    (folder / "config.json").write_text('{"model_type": "no-such-family"}')
    with pytest.raises(ModelLoadError) as info:
        load_model(str(folder))
    assert "network" not in str(info.value) and "incomplete, corrupt" in str(info.value)


# --- Finding-1 inputs -----------------------------------------------------------------

def test_a_missing_source_folder_names_it_without_the_paper_data_hint(tmp_path):
    from paperlib.paper import finding1

    for source, says in ((tmp_path / "nope", f"{tmp_path / 'nope'} does not exist"),
                         (tmp_path, "holds no cases_vicuna.npz")):
        with pytest.raises(DataError) as info:
            finding1.table1(source=source)
        msg = str(info.value)
        assert msg.startswith("source not found") and says in msg
        assert "make_paper_data" not in msg and "reinstall" not in msg


def test_a_cutoff_that_leaves_nothing_names_b():
    from paperlib.paper import finding1

    for fn in (finding1.table1, finding1.table2, finding1.fig6):
        with pytest.raises(ParameterError, match=r"^b=10 cuts every value of S"):
            fn(b=10)


def test_a_constant_group_names_b_and_p(monkeypatch):
    import numpy as np

    from paperlib.paper import finding1

    constant = {ds: (np.zeros(4), np.zeros(5)) for ds in finding1.DATASETS}
    monkeypatch.setattr(finding1, "table1_groups", lambda *a, **k: constant)
    with pytest.raises(ParameterError, match=r"^b=9, p=4: both groups of self-instruct are "
                                             r"constant \(every score 0 vs 0\)"):
        finding1.table1(b=9)


# --- chapter parameters ---------------------------------------------------------------

CELL = '''b = 7          # cutoff: values <= b are dropped; b = 0 keeps all
p = 4          # norm; p = inf: max-norm
mode = "x"     # a; b
L = 10
'''


@pytest.fixture()
def restore_papermill(monkeypatch):
    from papermill.translators import papermill_translators

    monkeypatch.setattr(papermill_translators, "_translators",
                        dict(papermill_translators._translators))


def _nb(source: str):
    import nbformat

    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]})
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}
    return nb


def test_comments_with_equals_signs_hide_no_parameter(tmp_path, restore_papermill):
    import nbformat
    import papermill

    nb = _nb(CELL)
    assert params.papermill_misses(nb) == ["b", "p"]  # plain papermill drops those lines
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    params.use_ast_parser()
    inferred = papermill.inspect_notebook(str(path))
    assert list(inferred) == ["b", "p", "mode", "L"]
    assert inferred["b"]["help"] == "cutoff: values <= b are dropped; b = 0 keeps all"
    assert params.help_lines(nb)[:2] == ["b = 7", "    cutoff: values <= b are dropped; b = 0 keeps all"]


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_chapter_parameter_is_seen_by_papermill_and_listed(name, capsys, tmp_path,
                                                                 restore_papermill):
    import nbformat
    import papermill

    nb = build_book.read_source(ROOT / "notebooks" / f"{name}.md")
    declared = list(params.declared_parameters(nb))
    assert params.papermill_misses(nb) == [], "plain papermill would drop these"
    nbformat.write(nb, tmp_path / f"{name}.ipynb")
    params.use_ast_parser()
    assert list(papermill.inspect_notebook(str(tmp_path / f"{name}.ipynb"))) == declared
    assert run_notebook.main([name, "--help-notebook"]) == 0
    listed = [line.split(" = ")[0].strip() for line in capsys.readouterr().out.splitlines()
              if line.startswith("  ") and not line.startswith("    ")]
    assert listed == declared


def test_a_misspelt_parameter_or_unknown_value_name_fails_with_the_known_ones(capsys):
    assert run_notebook.main(["table1_table2_density", "-p", "dataset", "nosuchdataset"]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter(s) for table1_table2_density.md: 'dataset'" in err
    assert "Its parameters are: b, p, L, min_response, mode, n_boot, source" in err


def test_make_notebook_reports_a_random_run(tmp_path, capsys):
    from paperlib.book.standin import RANDOM_LOG

    executed = tmp_path / "x.ipynb"
    executed.write_text(json.dumps({"cells": [{"outputs": [{"text": f"{RANDOM_LOG}: ..."}]}]}))
    assert run_notebook.warn_if_random(executed)
    assert "ran on a RANDOM stand-in pair" in capsys.readouterr().err
    executed.write_text(json.dumps({"cells": []}))
    assert not run_notebook.warn_if_random(executed)


# --- the random fallback ------------------------------------------------------------

@pytest.mark.parametrize("name", CHAPTERS)
def test_the_random_fallback_is_opt_in_everywhere(name):
    from paperlib.book.standin import load_pair_or_fallback

    assert inspect.signature(load_pair_or_fallback).parameters["fallback"].default is False
    declared = params.declared_parameters(build_book.read_source(ROOT / "notebooks" / f"{name}.md"))
    assert declared.get("fallback_to_random", "False") == "False"


def test_a_fallback_says_random_in_the_log_titles_and_results_folder(tmp_path, monkeypatch):
    from paperlib.book import live, live_explainers
    from paperlib.models import loading

    monkeypatch.setenv("PAPERLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PAPERLIB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setitem(loading._ALIASES, "i13-missing", {"pt": tmp_path / "a", "ft": tmp_path / "b"})
    with pytest.raises(ModelLoadError, match="fallback_to_random=True"):
        live.load_pair_or_fallback("i13-missing")
    with pytest.warns(RandomWeightsWarning, match="RANDOM WEIGHTS: the model pair alias 'i13-missing'"):
        pair = live.load_pair_or_fallback("i13-missing", fallback=True)
    assert "RANDOM" in pair.title("Fig") and "random" in pair.label
    assert live.live_dir(pair).name.startswith("RANDOM-")
    assert live.live_dir(pair).parent == tmp_path / "results" / "live"
    ex = live_explainers.PairExplainers(pair, vocab_size=300, similarity=_dict_sim(pair))
    fig = live_explainers.variance_figure(ex.ffn([0], R=4, K=3), pair)
    assert "RANDOM WEIGHTS" in fig._suptitle.get_text()


def _dict_sim(pair):
    import numpy as np

    from paperlib.words.similarity import DictSimilarity
    from paperlib.words.vocab import word_index

    words = word_index(pair.tokenizer_pt, 300).words
    rng = np.random.default_rng(0)
    return DictSimilarity({w: rng.normal(size=4) for w in words})


def test_a_real_pair_is_not_labelled_random(tmp_path):
    from paperlib.book import live

    paths = []
    for name, seed in (("pt", 0), ("ft", 1)):
        tiny_model("llama", seed=seed).save_pretrained(tmp_path / name)
        tiny_tokenizer().save_pretrained(tmp_path / name)
        paths.append(str(tmp_path / name))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RandomWeightsWarning)
        pair = live.load_pair_or_fallback(*paths)
    assert not pair.fallback and "RANDOM" not in live.live_dir(pair).name
    assert "RANDOM" not in pair.title("Fig")
    # live case sets of runs with other parameters go to other folders
    a = live.live_dir(pair, tmp_path, {"prompts": {"c": "x"}, "max_new_tokens": 40})
    b = live.live_dir(pair, tmp_path, {"prompts": {"c": "x"}, "max_new_tokens": 8})
    assert a.parent == b.parent == live.live_dir(pair, tmp_path) and a != b
    assert a.name.startswith("max_new_tokens40-")


# --- results say how they were made ---------------------------------------------------

def test_results_carry_their_parameters_at_parameter_keyed_paths(tmp_path, monkeypatch):
    import pandas as pd

    from paperlib.core.results import read_sidecar
    from paperlib.paper import finding1

    monkeypatch.setenv("PAPERLIB_RESULTS", str(tmp_path))
    tables = {b: finding1.table1(b=b, p=2 if b == 5 else 4, n_boot=100) for b in (5, 7)}
    with ThreadPoolExecutor(2) as pool:  # two runs at once: neither overwrites the other
        paths = dict(zip(tables, pool.map(lambda b: finding1.write_csv(tables[b], "table1"),
                                          tables)))
    assert paths[5] != paths[7] and paths[5].parent.parent == tmp_path / "table1"
    assert paths[5].parent.name.startswith("b5-p2-L10-threshold-min_response5")
    for b, path in paths.items():
        side = read_sidecar(path)
        assert side["parameters"]["b"] == b and side["parameters"]["source"] is None
        assert side["parameters"]["models"] == {"tuned": "vicuna", "base": "llama"}
        assert set(side["provenance"]["case_sets"]) == {"vicuna", "llama"}
        assert side["paperlib_version"] and len(side["sha256"]) == 64
        got = pd.read_csv(path)
        assert got.followed_mean.tolist() == pytest.approx(tables[b].followed_mean.tolist())
    latest = tmp_path / "table1.csv"  # the fixed path: the last run, with its own sidecar
    side = json.loads((tmp_path / "table1.json").read_text())
    from paperlib.core.io import sha256_file

    assert side["sha256"] == sha256_file(latest)
    assert latest.resolve() in (paths[5].resolve(), paths[7].resolve())
    assert not list(tmp_path.rglob(".*.tmp"))  # nothing half-written


def test_a_table_without_parameters_is_refused(tmp_path, monkeypatch):
    import pandas as pd

    from paperlib.paper import finding1

    monkeypatch.setenv("PAPERLIB_RESULTS", str(tmp_path))
    with pytest.raises(ParameterError, match="give the parameters"):
        finding1.write_csv(pd.DataFrame({"x": [1]}), "mine")
    path = finding1.write_csv(pd.DataFrame({"x": [1]}), "mine", {"k": 3, "mode": "a"})
    assert path.parent.name.startswith("k3-a-") and (path.parent / "mine.json").is_file()
    with pytest.raises(ParameterError, match="plain file stem"):
        finding1.write_csv(pd.DataFrame({"x": [1]}), "../x", {"k": 3})


def test_live_case_sets_record_their_model_and_tokenizer(tmp_path, monkeypatch):
    from paperlib.core.results import file_provenance
    from paperlib.explainers.attribution import explain_cases

    monkeypatch.setenv("PAPERLIB_CACHE", str(tmp_path / "cache"))
    out = explain_cases(tiny_model("gpt2"), tiny_tokenizer(), {"lima_author_1": "write about the day"},
                        "tiny", tmp_path / "cases_tiny.npz", max_new_tokens=3, progress=False)
    side = file_provenance(out)["sidecar"]
    assert side["model_name"] == "tiny" and side["model"]["weights"] and side["tokenizer"]["state"]
    assert side["max_new_tokens"] == 3 and side["density_rows"] == "all"
