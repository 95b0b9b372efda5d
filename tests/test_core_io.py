"""paperlib.core.io: the pickle-free npz format of the caches and the parameter-keyed cache."""
import numpy as np
import pytest

from paperlib.core.io import ResultCache, load_npz, save_npz


def test_npz_round_trip_keeps_arrays_and_json_values(tmp_path):
    data = {"I": np.arange(6, dtype=np.float32).reshape(2, 3), "known": np.array([True, False]),
            "meta": {"prompt": "Résumé ✓", "n": 3, "shape": [2, 3]}}
    save_npz(data, tmp_path / "x.npz")
    back = load_npz(tmp_path / "x.npz")
    assert set(back) == set(data)
    assert back["I"].dtype == np.float32 and np.array_equal(back["I"], data["I"])
    assert back["known"].tolist() == [True, False]
    assert back["meta"] == data["meta"]


def test_npz_with_arrays_only_has_no_json_entry(tmp_path):
    save_npz({"a": np.zeros(2)}, tmp_path / "a.npz")
    with np.load(tmp_path / "a.npz", allow_pickle=False) as z:
        assert z.files == ["a"]


def test_object_arrays_are_refused_not_pickled(tmp_path):
    save_npz({"a": np.array([{"x": 1}], dtype=object)}, tmp_path / "o.npz")
    with pytest.raises(ValueError):
        load_npz(tmp_path / "o.npz")


def test_result_cache_keys_on_every_parameter(tmp_path):
    cache, calls = ResultCache("t", tmp_path), []

    def compute(v):
        calls.append(v)
        return {"v": np.array([v])}

    for params in ({"a": 1}, {"a": 1}, {"a": 2}):
        out = cache.get_or_compute(params, lambda: compute(params["a"]), save_npz, load_npz, ext="npz")
        assert out["v"].tolist() == [params["a"]]
    assert calls == [1, 2]


def test_cache_key_includes_the_storage_format(tmp_path, monkeypatch):
    """An entry written in an older format is never read back as the current one."""
    import paperlib.core.io as io

    cache = ResultCache("t", tmp_path)
    old = cache.path({"a": 1}, "npz")
    monkeypatch.setattr(io, "CACHE_FORMAT", io.CACHE_FORMAT + 1)
    assert cache.path({"a": 1}, "npz") != old
