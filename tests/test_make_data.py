"""tools/make_paper_data.py: restricted unpickling, all-or-nothing output, reproducibility."""
import importlib.util
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from paperlib.core.caseset import read_case_set
from paperlib.core.errors import DataError
from paperlib.core.paths import PACKAGED_DATA

_SPEC = importlib.util.spec_from_file_location(
    "make_paper_data", Path(__file__).resolve().parent.parent / "tools" / "make_paper_data.py")
make_data = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(make_data)
REPO_DATA = make_data.OUT


def test_default_output_is_the_package_data_folder():
    """The rebuild writes where the package reads (and what the wheel ships)."""
    assert REPO_DATA.resolve() == PACKAGED_DATA.resolve()
    assert (REPO_DATA / "manifest.json").is_file() and (REPO_DATA / "README.md").is_file()


class Evil:
    """A custom class: its instances must never be unpickled."""


def _good(cid):
    return {"ID": cid, "Input": ["▁Say", "▁hi", "."], "Output": ["▁Hi", "!"],
            "Reference": "Hi", "Explain": np.array([[10, 0], [3, 10], [0, 8]], np.float32)}


def _artifacts(root, llama_obj):
    (root / "datasets").mkdir(parents=True)
    (root / "datasets" / "FinalDataset.tsv").write_text(
        "ID\tPrompt\tResponse\tInstruct&Context\nlima_author_1\tSay hi.\tHi\tSay hi.&&&\n")
    (root / "datasets" / "AnnotatedDataset.tsv").write_text("File\tModel\n")
    (root / "datasets" / "SingleShareGPT_Vocab.tsv").write_text("the\t0.5\n")
    for model, obj in (("llama", llama_obj), ("vicuna", _good("lima_author_1"))):
        folder = root / "results" / "attribution_interpret" / f"ifa_{model}_7b"
        folder.mkdir(parents=True)
        (folder / "lima_author_1.pkl").write_bytes(pickle.dumps(obj))
    return root


def test_small_build_round_trips(tmp_path):
    out = tmp_path / "out"
    manifest = make_data.build(_artifacts(tmp_path / "art", _good("lima_author_1")), out)
    assert sorted(os.listdir(out)) == sorted(list(manifest["files"]) + ["manifest.json"])
    case = read_case_set(out / "cases_llama.npz").get(0)
    assert case.prompt_tokens == ["▁Say", "▁hi", "."]
    np.testing.assert_array_equal(case.S, [[10, 0], [3, 10], [0, 8]])


@pytest.mark.parametrize("payload, culprit", [
    ({"ID": "lima_author_1", "run": os.system}, r"(posix|nt|os)\.system"),
    ({"ID": "lima_author_1", "obj": Evil()}, r"test_make_data\.Evil"),
])
def test_non_data_pickle_is_refused_and_nothing_written(tmp_path, payload, culprit):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DataError, match=f"refusing to unpickle global {culprit}"):
        make_data.build(_artifacts(tmp_path / "art", payload), out)
    assert os.listdir(out) == []  # no file, no temporary folder left behind


@pytest.mark.parametrize("bad_explain, message", [
    (np.array([[0.5, 1], [1, 1], [1, 1]], np.float32), "integers in 0..10"),
    (np.array([[11, 1], [1, 1], [1, 1]], np.float32), "integers in 0..10"),
    (np.ones((2, 2), np.float32), "shape"),
])
def test_bad_explain_values_are_refused(tmp_path, bad_explain, message):
    obj = dict(_good("lima_author_1"), Explain=bad_explain)
    out = tmp_path / "out"
    with pytest.raises(DataError, match=message):
        make_data.build(_artifacts(tmp_path / "art", obj), out)
    assert os.listdir(out) == []


def test_object_array_is_refused(tmp_path):
    obj = dict(_good("lima_author_1"), Explain=np.array(["a"], dtype=object))
    with pytest.raises(DataError):
        make_data.build(_artifacts(tmp_path / "art", obj), tmp_path / "out")


@pytest.mark.slow
def test_rebuild_reproduces_committed_checksums(tmp_path):
    artifacts = make_data.default_artifacts()
    if not artifacts.is_dir():
        pytest.fail(f"the released artifacts are needed at {artifacts} to check the rebuild")
    manifest = make_data.build(artifacts, tmp_path)
    committed = json.loads((REPO_DATA / "manifest.json").read_text())
    assert manifest == committed
    assert (tmp_path / "manifest.json").read_bytes() == (REPO_DATA / "manifest.json").read_bytes()
