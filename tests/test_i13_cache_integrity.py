"""Caches that cannot lie: every file that changes a result is in the key (tokenizer,
special tokens, chat template, generation config), and an unreadable entry is
reported once with its path, moved aside and recomputed."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from paperlib.core.io import CorruptCacheWarning, ResultCache, load_npz, save_npz
from paperlib.models.tiny import tiny_model
from paperlib.models.tokenizers import train_bytelevel_tokenizer

PROMPT = "Write a short poem about the sea."
CORPUS = [PROMPT, "The cat sat on the mat.", "Write about water, people and time."] * 8


def _truncate(path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


def _entries(folder):
    return sorted(p for p in folder.glob("*.npz"))


# --- unreadable entries -----------------------------------------------------------------

@pytest.mark.parametrize("ext,save,load,damage", [
    ("npz", save_npz, load_npz, lambda p: _truncate(p)),
    ("npz", save_npz, load_npz, lambda p: p.write_bytes(b"")),
    ("json", lambda v, p: p.write_text(json.dumps(v)), lambda p: json.loads(p.read_text()),
     lambda p: _truncate(p, 0.3)),
])
def test_an_unreadable_entry_is_reported_once_moved_aside_and_recomputed(tmp_path, ext, save,
                                                                         load, damage):
    cache, calls = ResultCache("t", tmp_path), []

    def compute():
        calls.append(1)
        return {"v": np.arange(50.0)} if ext == "npz" else {"v": list(range(50))}

    first = cache.get_or_compute({"a": 1}, compute, save, load, ext=ext)
    target = cache.path({"a": 1}, ext)
    damage(target)
    with pytest.warns(CorruptCacheWarning) as record:
        again = cache.get_or_compute({"a": 1}, compute, save, load, ext=ext)
    assert len(record) == 1 and str(target) in str(record[0].message)
    moved = list(tmp_path.glob(f"t/{target.name}.corrupt-*"))
    assert len(moved) == 1 and str(moved[0]) in str(record[0].message)
    assert np.array_equal(np.asarray(again["v"]), np.asarray(first["v"])) and len(calls) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a later run reads the recomputed entry silently
        cache.get_or_compute({"a": 1}, compute, save, load, ext=ext)
    assert len(calls) == 2


def test_a_load_error_that_is_not_corruption_is_not_hidden(tmp_path):
    cache = ResultCache("t", tmp_path)
    cache.get_or_compute({"a": 1}, lambda: {"v": np.zeros(2)}, save_npz, load_npz, ext="npz")

    def broken(path):
        raise RuntimeError("a bug in the reader")

    with pytest.raises(RuntimeError, match="a bug"):
        cache.get_or_compute({"a": 1}, lambda: None, save_npz, broken, ext="npz")
    assert cache.path({"a": 1}, "npz").is_file()


# --- the attribution cache of a saved model folder --------------------------------------

@pytest.fixture()
def saved(tmp_path, monkeypatch):
    """A saved tiny GPT-2 with a byte-level tokenizer (folder), and an empty cache."""
    monkeypatch.setenv("PAPERLIB_CACHE", str(tmp_path / "cache"))
    tok = train_bytelevel_tokenizer(CORPUS, vocab_size=330)
    folder = tmp_path / "model"
    tiny_model("gpt2", vocab_size=len(tok), bos_token_id=0, eos_token_id=0,
               pad_token_id=0).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder, tmp_path / "cache" / "attribution"


def _explain(folder, **kw):
    from paperlib.explainers.attribution import explain_prompt
    from paperlib.models.loading import load_model

    model, tok = load_model(str(folder), local_files_only=True)
    return explain_prompt(model, tok, PROMPT, max_new_tokens=4, **kw)[0]


def _drop_merges(folder, n: int = 40) -> None:
    """Edit tokenizer.json in place: the last ``n`` merges go (same weights)."""
    path = folder / "tokenizer.json"
    state = json.loads(path.read_text())
    state["model"]["merges"] = state["model"]["merges"][:-n]
    path.write_text(json.dumps(state))


def test_editing_tokenizer_json_in_place_is_a_new_cache_entry(saved):
    folder, entries = saved
    before = _explain(folder)
    assert len(_entries(entries)) == 1
    _drop_merges(folder)
    after = _explain(folder)
    assert len(_entries(entries)) == 2
    assert after.prompt_tokens != before.prompt_tokens  # recomputed with the new tokenizer
    assert "".join(after.prompt_tokens) == "".join(before.prompt_tokens)


@pytest.mark.parametrize("edit", ["generation_config", "special_tokens", "chat_template"])
def test_every_file_that_changes_a_result_is_in_the_key(saved, edit):
    from paperlib.models.tokenizers import CHATML_TEMPLATE

    folder, entries = saved
    _explain(folder)
    if edit == "generation_config":
        path = folder / "generation_config.json"
        cfg = json.loads(path.read_text())
        path.write_text(json.dumps({**cfg, "eos_token_id": 5}))
    else:
        path = folder / "tokenizer_config.json"
        cfg = json.loads(path.read_text())
        if edit == "special_tokens":
            cfg["eos_token"] = "<|im_end|>"
        else:
            cfg["chat_template"] = CHATML_TEMPLATE.replace("named Tiny", "named Small")
            (folder / "chat_template.jinja").unlink(missing_ok=True)
        path.write_text(json.dumps(cfg))
    _explain(folder)
    assert len(_entries(entries)) == 2


def test_a_truncated_attribution_entry_is_recomputed(saved):
    folder, entries = saved
    first = _explain(folder)
    (entry,) = _entries(entries)
    _truncate(entry)
    with pytest.warns(CorruptCacheWarning, match="unreadable cache entry"):
        again = _explain(folder)
    np.testing.assert_array_equal(again.I, first.I)
    assert len(list(entries.glob("*.corrupt-*"))) == 1 and len(_entries(entries)) == 1


def test_an_entry_missing_a_part_is_recomputed(saved):
    folder, entries = saved
    first = _explain(folder)
    (entry,) = _entries(entries)
    value = load_npz(entry)
    del value["meta"]["user_rows"]
    save_npz(value, entry)
    with pytest.warns(CorruptCacheWarning, match="user_rows"):
        again = _explain(folder)
    assert again.prompt_tokens == first.prompt_tokens


def test_a_truncated_similarity_table_is_recomputed(tmp_path):
    from paperlib.words.similarity import GloveSimilarity

    glove = tmp_path / "glove.txt"
    words = [f"w{i}" for i in range(30)]
    rng = np.random.default_rng(0)
    glove.write_text("".join(f"{w} {' '.join(f'{x:.4f}' for x in rng.normal(size=5))}\n"
                             for w in words))
    sim = GloveSimilarity(glove)
    first = sim.table(words, reference=words, cache_root=tmp_path / "cache")
    (entry,) = list((tmp_path / "cache" / "similarity").glob("*.npz"))
    _truncate(entry)
    with pytest.warns(CorruptCacheWarning, match=str(entry)):
        again = GloveSimilarity(glove).table(words, reference=words, cache_root=tmp_path / "cache")
    assert np.array_equal(again.thresholds.numpy(), first.thresholds.numpy())
