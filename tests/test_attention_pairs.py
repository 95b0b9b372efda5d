"""Attention word-pair explainer (paper Sec 5.1) and the Fig 2 / Table 3 statistics."""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch
from scipy import stats as sps

from paperlib.explainers.attention_pairs import (
    AttentionPairsExplainer, changed_share, changed_share_by_group, explain_attention_layer,
    filter_pairs, head_table, head_word_pairs, neuron_top_words, reference_head_pairs,
    verb_increase_share, verb_pair_counts, verb_shift_table)
from paperlib.core.errors import ParameterError
from paperlib.words.similarity import DictSimilarity

torch.set_num_threads(1)


def _layer(seed=0, W=200, D=12, H=3, Dh=4, e=6):
    g = torch.Generator().manual_seed(seed)
    words = [f"w{i}" for i in range(W)]
    sim = DictSimilarity({w: torch.randn(e, generator=g).numpy() for w in words})
    table = sim.table(words, reference=words[::4], z=0.3, use_cache=False)
    return (torch.randn(H, D, Dh, generator=g), torch.randn(H, D, Dh, generator=g),
            torch.randn(W, D, generator=g), table)


def test_topk_equals_per_dimension_loop():
    Wq, _, E, _ = _layer()
    bias = torch.randn(Wq.shape[0], Wq.shape[2])
    idx, act, energy = neuron_top_words(E, Wq, K=7, bias=bias, head_chunk=2)
    for h in range(Wq.shape[0]):
        for d in range(Wq.shape[2]):
            s = (E @ Wq[h, :, d] + bias[h, d]).numpy()
            order = np.argsort(-np.abs(s), kind="stable")[:7]
            assert idx[h, d].tolist() == order.tolist()
            np.testing.assert_allclose(act[h, d].numpy(), s[order], rtol=1e-5)
            assert energy[h, d].item() == pytest.approx(float((s.astype(np.float64) ** 2).sum()),
                                                        rel=1e-5)


def test_filter_equals_double_loop_and_invariants():
    Wq, Wk, E, table = _layer(seed=1)
    qi, qa, _ = neuron_top_words(E, Wq, K=15)
    ki, ka, _ = neuron_top_words(E, Wk, K=15)
    flat = [t.reshape(-1, 15) for t in (qi, qa, ki, ka)]
    n, q, k, cos = filter_pairs(*flat, table, chunk=5)
    got = set(zip(n.tolist(), q.tolist(), k.tolist()))
    vec, thr = table.vectors.numpy(), table.thresholds.numpy()
    brute = set()
    for m in range(flat[0].shape[0]):
        for i in range(15):
            for j in range(15):
                a, b = int(flat[0][m, i]), int(flat[2][m, j])
                c = float(vec[a] @ vec[b])
                if a != b and flat[1][m, i] * flat[3][m, j] > 0 and c > thr[a] and c > thr[b]:
                    brute.add((m, a, b))
    assert got == brute and len(got) > 20
    assert np.all(cos > thr[q]) and np.all(cos > thr[k])  # threshold rule
    sign = {(m, int(w)): float(s) for m in range(len(flat[0]))
            for w, s in zip(flat[0][m], flat[1][m])}
    ksign = {(m, int(w)): float(s) for m in range(len(flat[2]))
             for w, s in zip(flat[2][m], flat[3][m])}
    assert all(sign[(m, a)] * ksign[(m, b)] > 0 for m, a, b in got)  # sign rule


@pytest.mark.parametrize("seed", [0, 2])
def test_vectorised_equals_authors_loop(seed):
    Wq, Wk, E, table = _layer(seed=seed)
    res = head_word_pairs(Wq, Wk, E, table, K=25, max_pairs=12)
    pos = {w: i for i, w in enumerate(table.words)}
    n_head_pairs = 0
    for h in range(Wq.shape[0]):
        neurons, heads = reference_head_pairs(Wq[h], Wk[h], E, table, K=25, max_pairs=12)
        for d, pairs in neurons.items():
            assert [(pos[a], pos[b]) for a, b in res.neuron_pairs(h, d)] == pairs
        assert [(pos[a], pos[b]) for a, b in res.head_pairs(h)] == [(a, b) for a, b, _ in heads]
        n_head_pairs += len(heads)
    assert n_head_pairs > 0


def test_head_level_is_recurrent_pairs_by_count():
    Wq, Wk, E, table = _layer(seed=3)
    res = head_word_pairs(Wq, Wk, E, table, K=30, max_pairs=1000)
    for h in range(Wq.shape[0]):
        counts = Counter(p for d in range(Wq.shape[2]) for p in res.neuron_pairs(h, d))
        expected = {p for p, c in counts.items() if c > 1}
        pairs = res.head_pairs(h)
        assert set(pairs) == expected
        got_counts = [counts[p] for p in pairs]
        assert got_counts == sorted(got_counts, reverse=True)


def test_head_table_hand_built():
    # neuron lists of head 0: d0 [(1,2),(3,4)], d1 [(1,2),(5,6)], d2 [(1,2),(3,4)];
    # head 1: d0 [(7,8)], d1 [(7,8)]
    nt = {"head": np.array([0, 0, 0, 0, 0, 0, 1, 1]),
          "q": np.array([1, 3, 1, 5, 1, 3, 7, 7]), "k": np.array([2, 4, 2, 6, 2, 4, 8, 8]),
          "cos": np.array([.9, .8, .9, .7, .9, .8, .5, .6], dtype=np.float32)}
    ht = head_table(nt, n_words=10, max_pairs=100)
    assert list(zip(ht["head"], ht["q"], ht["k"], ht["count"])) == [
        (0, 1, 2, 3), (0, 3, 4, 2), (1, 7, 8, 2)]
    assert ht["cos"][2] == pytest.approx(0.6)
    assert head_table(nt, 10, max_pairs=1)["q"].tolist() == [1, 7]


def test_errors():
    Wq, Wk, E, table = _layer()
    with pytest.raises(ParameterError, match="K"):
        head_word_pairs(Wq, Wk, E, table, K=0)
    with pytest.raises(ParameterError, match="K"):
        head_word_pairs(Wq, Wk, E, table, K=1000)
    with pytest.raises(ParameterError, match="W_q, W_k"):
        head_word_pairs(Wq, Wk[:, :, :2], E, table, K=5)
    with pytest.raises(ParameterError, match="word_emb"):
        head_word_pairs(Wq, Wk, E[:, :5], table, K=5)
    with pytest.raises(ParameterError, match="table has"):
        head_word_pairs(Wq, Wk, E[:50], table, K=5)


# ---- Fig 2 -------------------------------------------------------------------------

def test_changed_share_hand_worked():
    pt, ft = [("a", "b"), ("c", "d")], [("a", "b"), ("d", "c")]
    assert changed_share(pt, ft) == pytest.approx(2 / 3)
    assert changed_share(pt, ft, ordered=False) == 0.0
    assert changed_share(pt, pt) == 0.0 and changed_share(pt, []) == 1.0
    assert math.isnan(changed_share([], []))
    pt_l = {(0, 0): pt, (1, 0): pt, (2, 0): pt}
    ft_l = {(0, 0): ft, (1, 0): pt, (2, 0): []}
    df = changed_share_by_group(pt_l, ft_l, n_layers=3, group_size=2)
    assert df["layers"].tolist() == ["1-2", "3-3"]
    assert df["changed"].tolist() == pytest.approx([1 / 3, 1.0])


# ---- Table 3 ------------------------------------------------------------------------

def _table3_fixture():
    """One layer, 4 heads. Pair counts per head (pt -> ft):
    write: h0 0->2 (up), h1 1->0 (down), h2 0->1 (up), h3 1->1 (same) => 2/3 = 66.67%
    explain: h0 1->2 (up), h1-h3 unchanged                            => 100%
    go:      h0 1->0 (down), h1 0->1 (up)                             => 50%
    make:    h2 2->0 (down)                                           => 0%
    see:     unchanged everywhere                                     => left out."""
    pt = {(0, 0): [("write", "x"), ("go", "y"), ("explain", "z")],
          (0, 1): [("a", "Write"), ("b", "see")],
          (0, 2): [("make", "m"), ("n", "make")],
          (0, 3): [("write", "q"), ("see", "r")]}
    ft = {(0, 0): [("write", "x"), ("write", "y"), ("explain", "z"), ("explain", "u")],
          (0, 1): [("go", "b"), ("b", "see")],
          (0, 2): [("p", "write")],
          (0, 3): [("q", "write"), ("see", "r")]}
    return pt, ft


def test_verb_counts_and_share_hand_worked():
    pt, ft = _table3_fixture()
    assert verb_pair_counts(pt, "write") == {(0, 0): 1, (0, 1): 1, (0, 2): 0, (0, 3): 1}
    assert verb_pair_counts(ft, "write") == {(0, 0): 2, (0, 1): 0, (0, 2): 1, (0, 3): 1}
    assert verb_increase_share(pt, ft, "write") == pytest.approx(200 / 3)
    assert verb_increase_share(pt, ft, "explain") == 100.0
    assert verb_increase_share(pt, ft, "go") == 50.0
    assert verb_increase_share(pt, ft, "make") == 0.0
    assert math.isnan(verb_increase_share(pt, ft, "see"))
    assert verb_pair_counts(pt, "write", forms=["writes", "write"])[(0, 1)] == 1


def test_verb_shift_table_hand_worked():
    pt, ft = _table3_fixture()
    df = verb_shift_table(pt, ft, ["write", "explain"], ["go", "make", "see"], n_layers=1)
    row = df.iloc[0]
    assert row["layers"] == "1-1"
    assert row["instruct_mean"] == pytest.approx((200 / 3 + 100) / 2)
    assert row["instruct_std"] == pytest.approx((100 - 200 / 3) / 2)  # population std
    assert row["general_mean"] == pytest.approx(25.0) and row["general_std"] == pytest.approx(25.0)
    assert row["general_n"] == 2  # "see" left out: no head changed
    p = sps.ttest_ind([200 / 3, 100], [50, 0], equal_var=False).pvalue
    assert row["p_value"] == pytest.approx(p)


# ---- integration with the canonical view ---------------------------------------------

@pytest.fixture(scope="module")
def tiny_words():
    from paperlib.models.tiny import _WORDS, tiny_tokenizer

    words = list(dict.fromkeys(_WORDS))[:60]
    g = torch.Generator().manual_seed(0)
    sim = DictSimilarity({w: torch.randn(8, generator=g).numpy() for w in words})
    return tiny_tokenizer(), words, sim.table(words, reference=words, z=0.0, use_cache=False)


@pytest.mark.parametrize("family", ["llama", "mistral", "qwen2", "gpt2", "gpt_neox"])
def test_explain_attention_layer_on_tiny_models(family, tiny_words):
    from paperlib.models import canonical_view
    from paperlib.models.tiny import tiny_model

    tok, words, table = tiny_words
    view = canonical_view(tiny_model(family))
    res = explain_attention_layer(view, 1, tok, words, table, K=10, max_pairs=20)
    assert res.q_idx.shape == (view.n_heads, view.d_head, 10) and res.layer == 1
    assert len(res.neurons["q"]) > 0
    thr = table.thresholds.numpy()
    assert np.all(res.neurons["cos"] > np.maximum(thr[res.neurons["q"]], thr[res.neurons["k"]]))
    if view.n_kv_heads < view.n_heads:  # GQA: query heads 0 and 1 read the same key head
        assert torch.equal(res.k_idx[0], res.k_idx[1])
    lay = view.layer(1)
    emb = view.embed_in[[tok.convert_tokens_to_ids(w) for w in words]]
    s = emb @ lay.W_q[2, :, 3]
    assert res.q_idx[2, 3, 0].item() == int(s.abs().argmax())
    model_in = AttentionPairsExplainer(view, tok, words, table, K=10, as_model_input=True)
    assert model_in.layer(0).q_act.shape == res.q_act.shape


def test_registered_explainer(tiny_words):
    from paperlib.explainers.registry import get_explainer
    from paperlib.models.tiny import tiny_model

    tok, words, table = tiny_words
    out = get_explainer("attention_pairs")(tiny_model("qwen2"), tok, 1, words=words, sim=table,
                                           K=8, max_pairs=10)
    assert list(out) == [1] and out[1].q_idx.shape[2] == 8
