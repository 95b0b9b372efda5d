"""The command line in-process: help, case sets in the released schema (the same as
the library's explain_cases), resume by parameter key, dry run, tables, bad input."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from cli_support import save_tiny_pair, write_prompts
from paperlib.cli import main
from paperlib.cli.batch import part_path
from paperlib.core.caseset import read_case_set

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return save_tiny_pair(tmp_path_factory.mktemp("pair"))


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PAPERLIB_RESULTS", str(tmp_path / "results"))


def explain(pair, tmp_path, out, *extra, n=5):
    prompts = write_prompts(tmp_path / "prompts.jsonl", n)
    return main(["explain", "--model", f"pt={pair['pt']}", "--model", f"ft={pair['ft']}",
                 "--prompts", str(prompts), "--out", str(out), "--max-new-tokens", "6",
                 "--batch-size", "2", "--threads", "1", "--no-progress", *map(str, extra)])


def timings(out):
    return json.loads((out / "timings-rank0.json").read_text())


@pytest.mark.parametrize("command", [None, "explain", "tables", "weights", "compare"])
def test_help_has_examples(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main(([command] if command else []) + ["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and "paperlib" in text
    if command is None:
        assert all(c in text for c in ("explain", "tables", "weights", "compare"))


def test_explain_writes_released_schema_equal_to_explain_cases(pair, tmp_path):
    """The CLI (batched generation, parts, merge) gives the bytes of the library's
    one-prompt-at-a-time explain_cases on the same prompts."""
    from paperlib.explainers.attribution import explain_cases
    from paperlib.models import load_model
    from paperlib.paper.data import iter_cases

    out = tmp_path / "run"
    assert explain(pair, tmp_path, out) == 0
    cs = read_case_set(out / "cases_ft.npz")
    assert cs.model == "ft" and len(cs) == 5 and cs.references[0] == "ref 0"
    cases = list(iter_cases("ft", source=out))
    assert [c.dataset for c in cases] == ["lima"] * 5
    for c in cases:
        assert c.S.shape == (len(c.prompt_tokens), len(c.response_tokens))
        if c.S.size:
            assert set(np.unique(c.S)) <= set(range(11)) and c.S.max(axis=0).min() == 10
    kept = [json.loads(line) for line in (out / "prompts.jsonl").read_text().splitlines()]
    assert [k["id"] for k in kept] == [f"lima_author_{i}" for i in range(5)]
    side = json.loads((out / "cases_ft.json").read_text())
    assert side["model"]["weights"] and side["tokenizer"] and side["max_new_tokens"] == 6
    model, tok = load_model(str(pair["ft"]))
    prompts = {f"lima_author_{i}": c for i, c in enumerate(
        [json.loads(line)["prompt"] for line in (tmp_path / "prompts.jsonl").read_text().split("\n")
         if line])}
    lib = explain_cases(model, tok, prompts, "ft", tmp_path / "lib.npz", max_new_tokens=6,
                        references={k: f"ref {i}" for i, k in enumerate(prompts)},
                        progress=False)
    assert lib.read_bytes() == (out / "cases_ft.npz").read_bytes()


def test_rerun_skips_finished_cases_by_key(pair, tmp_path):
    out = tmp_path / "run"
    assert explain(pair, tmp_path, out) == 0
    first = (out / "cases_pt.npz").read_bytes()
    assert timings(out)["pt"]["computed"] == 5
    assert explain(pair, tmp_path, out) == 0
    assert timings(out)["pt"] == {**timings(out)["pt"], "computed": 0, "skipped": 5}
    assert (out / "cases_pt.npz").read_bytes() == first
    # a part with another key (e.g. other arguments), a damaged part and a stale
    # temporary file: the first two are recomputed, the third removed
    p0, p1 = (part_path(out, "pt", f"lima_author_{i}") for i in (0, 1))
    from paperlib.core.io import load_npz, save_npz
    data = load_npz(p0)
    data["meta"]["key"] = "0" * 64
    save_npz(data, p0)
    p1.write_bytes(p1.read_bytes()[:100])
    stale = p1.parent / ".lima_author_2-x.npz.abc.tmp"
    stale.write_bytes(b"partial")
    assert explain(pair, tmp_path, out) == 0
    assert timings(out)["pt"]["computed"] == 2 and not stale.exists()
    assert (out / "cases_pt.npz").read_bytes() == first
    assert explain(pair, tmp_path, out, "--max-new-tokens", 4) == 0  # new key: all again
    assert timings(out)["pt"]["computed"] == 5
    assert read_case_set(out / "cases_pt.npz").m.max() <= 4


def test_dry_run_estimates_and_writes_nothing(pair, tmp_path, capsys):
    out = tmp_path / "run"
    assert explain(pair, tmp_path, out, "--dry-run") == 0
    text = capsys.readouterr().out
    assert "5 to do" in text and "measured now on lima_author_0" in text and "total: about" in text
    assert not out.exists()
    assert explain(pair, tmp_path, out, n=3) == 0
    capsys.readouterr()
    assert explain(pair, tmp_path, out, "--dry-run") == 0
    text = capsys.readouterr().out
    assert "3 finished, 2 to do" in text and "median of 3 finished" in text
    assert not part_path(out, "pt", "lima_author_4").exists()


def test_tables_from_a_copy_of_the_released_case_sets(tmp_path, capsys):
    """The same numbers as paperlib.paper.finding1 on the frozen data; the sidecar
    records the parameters and the case-set files' SHA-256."""
    from paperlib.core.paths import data_dir
    from paperlib.paper import finding1

    src = tmp_path / "released"
    src.mkdir()
    for m in ("llama", "vicuna"):
        shutil.copy(data_dir() / f"cases_{m}.npz", src / f"cases_{m}.npz")
    out = tmp_path / "tables"
    assert main(["tables", "--source", str(src), "--b", "5", "--p", "2", "--n-boot", "100",
                 "--out", str(out)]) == 0
    import pandas as pd
    got = pd.read_csv(out / "table2.csv")
    want = finding1.table2(b=5, p=2, n_boot=100)
    np.testing.assert_allclose(got["vicuna_mean"], want["vicuna_mean"], rtol=1e-12)
    side = json.loads((out / "table2.json").read_text())
    assert side["parameters"]["b"] == 5 and side["parameters"]["p"] == 2
    assert len(side["provenance"]["vicuna"]["sha256"]) == 64
    assert (out / "fig6.csv").is_file() and (out / "table1.csv").is_file()


BAD = [
    (["explain", "--out", "o"], "no model"),
    (["explain", "--model", "nobody", "--out", "o"], "NAME=PATH"),
    (["explain", "--pair", "nosuchpair", "--out", "o"], "not a pair alias"),
    (["explain", "--model", "a=/no/such/folder", "--out", "o"], "does not exist"),
    (["explain", "--pair", "organism", "--prompts", "missing.jsonl", "--out", "o"],
     "missing.jsonl does not exist"),
    (["explain", "--pair", "organism", "--limit", "0", "--out", "o"], "--limit"),
    (["explain", "--pair", "organism", "--ids", "nope_1", "--out", "o"], "nope_1"),
    (["explain", "--pair", "organism", "--dataset", "squad", "--out", "o"], "squad"),
    (["explain", "--pair", "organism", "--chat-template", "USER:", "--out", "o"], "{prompt}"),
    (["explain", "--pair", "organism", "--device-map", "{bad", "--out", "o"], "JSON"),
    (["explain", "--pair", "organism", "--device-map", "auto", "--max-memory", "0=lots",
      "--out", "o"], "--max-memory"),
    (["explain", "--pair", "organism", "--max-memory", "cpu=1GiB", "--out", "o"], "--device-map"),
    (["tables", "--source", "nowhere"], "not a folder"),
    (["compare", "nowhere", "paper"], "neither"),
    (["weights", "--pair", "organism", "--layers", "0,x", "--out", "o"], "--layers"),
]


@pytest.mark.parametrize("argv,needle", BAD, ids=[n for _, n in BAD])
def test_bad_input_one_message_exit_2_nothing_written(argv, needle, tmp_path, monkeypatch,
                                                      capsys):
    from cli_support import REPO

    monkeypatch.setenv("PAPERLIB_MODELS", str(REPO / "models"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.tsv").write_text("id\ttext\nx\thello\n")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"paperlib {argv[0]}: error:"), err
    assert needle in err[0] and "Traceback" not in err[0]
    assert not list(tmp_path.glob("o/cases_*.npz")) and not (tmp_path / "o" / "parts").exists()


def test_bad_prompt_files(tmp_path, capsys):
    from paperlib.cli.prompts import read_items

    bad = {"h.tsv": "id\ttext\nx\thello\n", "dup.jsonl": '{"id": "a", "prompt": "x"}\n' * 2,
           "j.jsonl": '{"id": "a", "prompt": "x"}\nnot json\n', "e.jsonl": '{"id": "a"}\n'}
    msgs = {"h.tsv": "'id' and 'prompt'", "dup.jsonl": "appears twice", "j.jsonl": "line 2",
            "e.jsonl": "missing or empty prompt"}
    from paperlib.core.errors import PaperlibError
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(PaperlibError, match=msgs[name].replace("(", r"\(")):
            read_items(str(tmp_path / name))
    ok = tmp_path / "ok.tsv"
    ok.write_text('id\tprompt\tannotation\na\t"two\tfields\nand a line"\tx\n')
    assert read_items(str(ok))[0].prompt == "two\tfields\nand a line"


def test_argparse_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["explain", "--pair", "organism"])  # --out missing
    assert exc.value.code == 2 and "--out" in capsys.readouterr().err


def test_weights_writes_the_explainers_tables(tmp_path, monkeypatch):
    """Attention word pairs and FFN concepts of the last layer of both organism models."""
    import pandas as pd

    from cli_support import REPO

    monkeypatch.setenv("PAPERLIB_MODELS", str(REPO / "models"))
    out = tmp_path / "w"
    assert main(["weights", "--pair", "organism", "--layers", "-1", "--vocab-size", "300",
                 "--K", "20", "--max-pairs", "20", "--R", "8", "--ffn-K", "5",
                 "--out", str(out)]) == 0
    for name in ("pt", "ft"):
        heads = pd.read_csv(out / name / "attention_heads.csv")
        neurons = pd.read_csv(out / name / "attention_neurons.csv")
        ffn = pd.read_csv(out / name / "ffn_concepts.csv")
        assert set(heads["layer"]) == {3} and {"q", "k"} <= set(neurons.columns)
        assert list(ffn["rank"]) == list(range(1, 9))
        assert ffn["variance_ratio"].is_monotonic_decreasing
        assert all(len(w.split(", ")) == 5 for w in ffn["words"])
    record = json.loads((out / "weights.json").read_text())
    assert record["models"]["ft"]["layers"] == [3] and record["parameters"]["R"] == 8
