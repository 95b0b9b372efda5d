"""Frozen data access, the case-set format and corrupt-file detection."""
import shutil

import numpy as np
import pytest

from paperlib.core.caseset import RawCase, read_case_set, write_case_set
from paperlib.paper.data import (DATASETS, case_ids, data_dir, dataset_of, decode_field, iter_cases,
                           load_case, load_prompts, load_ratings, load_vocab)
from paperlib.core.errors import DataError, ParameterError, UnknownCaseError


def test_dataset_of():
    assert dataset_of("user_oriented_task_7") == "self-instruct"
    assert dataset_of("lima_author_1") == "lima"
    assert dataset_of("mtbench_writing_81") == "mt-bench"
    with pytest.raises(UnknownCaseError, match="no data set"):
        dataset_of("alpaca_1")


def test_case_counts_and_shapes():
    counts = {ds: len(case_ids(ds)) for ds in DATASETS}
    assert counts == {"self-instruct": 252, "lima": 300, "mt-bench": 80}
    case = load_case("llama", "user_oriented_task_1")
    assert case.S.shape == (len(case.prompt_tokens), len(case.response_tokens))
    assert case.S.dtype == np.float64 and case.S.max() == 10 and case.S.min() == 0
    assert case.dataset == "self-instruct" and case.reference == "Confident"
    empty = load_case("llama", "user_oriented_task_93")  # released with no response
    assert empty.S.shape == (199, 0) and empty.response_tokens == []
    assert sum(1 for _ in iter_cases("vicuna", "mt-bench")) == 80


def test_unknown_case_suggests_close_ids():
    with pytest.raises(UnknownCaseError, match="did you mean user_oriented_task_1"):
        load_case("vicuna", "user_oriented_task_1x")
    with pytest.raises(ParameterError):
        load_case("alpaca", "lima_author_1")
    with pytest.raises(ParameterError):
        list(iter_cases("vicuna", "alpaca-eval"))


def test_tables():
    prompts = load_prompts()
    assert len(prompts) == 632 and list(prompts.columns) == [
        "id", "dataset", "prompt", "reference", "annotation"]
    assert "\n\nInput:" in prompts.prompt[0] and "/n" not in prompts.prompt[0]
    ratings = load_ratings()
    vic = ratings[ratings.model == "vicuna"].rating.value_counts().to_dict()
    assert vic == {4: 427, 1: 113, 2: 59, 3: 30, -1: 3}
    vocab = load_vocab()
    assert len(vocab) == 26497 and vocab.word[1] == "the"


def test_decode_field():
    assert decode_field('"say ""hi""/nnow/tok"') == 'say "hi"\nnow\tok'


def _raw(cid, n, m, fill=3):
    return RawCase(cid, [f"▁p{i}" for i in range(n)], [f"r{i}" for i in range(m)],
                   "ref ü", np.full((n, m), fill, dtype=np.uint8))


def test_case_set_round_trip_and_reproducible_bytes(tmp_path):
    cases = [_raw("lima_author_1", 3, 2), _raw("mtbench_x_1", 2, 0)]
    a = write_case_set(tmp_path / "a.npz", "mine", cases)
    b = write_case_set(tmp_path / "b.npz", "mine", cases)
    assert a.read_bytes() == b.read_bytes()
    cs = read_case_set(a)
    assert cs.model == "mine" and cs.ids == ["lima_author_1", "mtbench_x_1"]
    got = cs.get(0)
    assert got.prompt_tokens == ["▁p0", "▁p1", "▁p2"] and got.reference == "ref ü"
    np.testing.assert_array_equal(got.S, np.full((3, 2), 3.0))
    assert cs.get(1).S.shape == (2, 0)
    # a live case set as source: a file, a folder or a mapping
    assert load_case("mine", "lima_author_1", source=a).S.shape == (3, 2)
    shutil.copy(a, tmp_path / "cases_mine.npz")
    assert load_case("mine", "lima_author_1", source=tmp_path).model == "mine"
    assert load_case("x", "lima_author_1", source={"x": a}).S.shape == (3, 2)
    with pytest.raises(DataError, match="holds model 'mine'"):
        load_case("other", "lima_author_1", source=a)


def test_case_set_rejects_bad_shapes(tmp_path):
    bad = RawCase("lima_author_1", ["a"], ["b", "c"], "", np.zeros((2, 2)))
    with pytest.raises(DataError, match="shape"):
        write_case_set(tmp_path / "x.npz", "m", [bad])
    assert not list(tmp_path.iterdir())  # nothing half-written
    with pytest.raises(DataError, match="duplicate"):
        write_case_set(tmp_path / "x.npz", "m", [_raw("a", 1, 1), _raw("a", 1, 1)])


def test_truncated_frozen_file_is_detected(tmp_path, monkeypatch):
    for f in data_dir().iterdir():
        if f.suffix in (".npz", ".gz", ".json"):
            shutil.copy(f, tmp_path / f.name)
    target = tmp_path / "cases_vicuna.npz"
    target.write_bytes(target.read_bytes()[:1000])
    monkeypatch.setenv("PAPERLIB_DATA", str(tmp_path))
    with pytest.raises(DataError, match=r"cases_vicuna.npz is truncated or corrupt \(sha256 "
                                        r"mismatch\); reinstall paperlib, or rebuild it in a "
                                        r"source checkout with python tools/make_paper_data.py"):
        load_case("vicuna", "lima_author_1")
    gz = tmp_path / "FinalDataset.tsv.gz"
    gz.write_bytes(gz.read_bytes()[:-10])
    with pytest.raises(DataError, match="FinalDataset.tsv.gz is truncated or corrupt"):
        load_prompts()
    assert load_case("llama", "lima_author_1").S.shape[0] > 0  # intact file still loads


def test_truncated_live_case_set_without_manifest(tmp_path):
    path = write_case_set(tmp_path / "cases_m.npz", "m", [_raw("lima_author_1", 3, 2)])
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_case_set(path)
