"""Attention-head word pairs (paper Sec 5.1, App F) and the Fig 2 / Table 3 statistics.

For a layer with per-head W_q, W_k (H, D, D') and candidate word embeddings E
(W, D), neuron d of head h is explained by the K words maximising
|E[w] . W_q[h][:, d]| (q list) and likewise for W_k (k list). A pair (a, b),
a from the q list and b from the k list, is kept when (i) the two activations
have the same sign and (ii) cos(a, b) exceeds both words' thresholds under a
word-similarity backend (:mod:`paperlib.words.similarity`). Choices we made where the
paper is silent (all documented, all parameters):

* pairs are ORDERED (q-word, k-word): attention is asymmetric (a query attends
  to a key); ``changed_share(..., ordered=False)`` compares unordered pairs;
* a pair (w, w) of one word with itself is dropped (``drop_identical``): its
  cosine is 1, so it would pass the co-occurrence filter vacuously;
* neuron level: kept pairs ranked by cosine, top ``max_pairs`` (100);
  head level: pairs counted over the head's neuron-level lists, count > 1,
  most common first (ties: higher max cosine first), top ``max_pairs``;
* dims are ranked by ||E W_q[:, d]||^2 * ||E W_k[:, d]||^2, the total squared
  contribution of dim d to A[a, b] = sum_d q_d(a) k_d(b) over all word pairs;
  ``top_dims`` (None = all D') restricts the pairs to the best-ranked dims.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

from paperlib.core.errors import ParameterError
from paperlib.explainers.registry import register
from paperlib.words.similarity import SimilarityTable
from paperlib.core.errors import check_count


def _check_layer(W_q, W_k, word_emb, K):
    if W_q.ndim != 3 or W_q.shape != W_k.shape:
        raise ParameterError(f"W_q, W_k must both be (H, D, D'), got {tuple(W_q.shape)} "
                             f"and {tuple(W_k.shape)}")
    if word_emb.ndim != 2 or word_emb.shape[1] != W_q.shape[1]:
        raise ParameterError(f"word_emb must be (W, D={W_q.shape[1]}), got {tuple(word_emb.shape)}")
    check_count("K", K, 1, word_emb.shape[0])


def neuron_top_words(word_emb: torch.Tensor, W: torch.Tensor, K: int,
                     bias: torch.Tensor | None = None, head_chunk: int = 8):
    """Top-K words of every neuron of every head, by |activation|.

    word_emb: (W, D); W: (H, D, D'); bias: (H, D') or None.
    Returns idx (H, D', K) long (descending |act|), act (H, D', K) float32 signed,
    energy (H, D') float64 = sum over all W words of act^2 (CPU tensors; the
    products run on word_emb's device).
    """
    H, D, Dh = W.shape
    idx = torch.empty(H, Dh, K, dtype=torch.long)
    act = torch.empty(H, Dh, K)
    energy = torch.empty(H, Dh, dtype=torch.float64)
    emb = word_emb.float()
    for h0 in range(0, H, head_chunk):
        h1 = min(H, h0 + head_chunk)
        proj = W[h0:h1].float().to(emb.device).permute(1, 0, 2).reshape(D, -1)  # (D, c*D')
        scores = emb @ proj  # (W, c*D')
        if bias is not None:
            scores += bias[h0:h1].float().to(emb.device).reshape(-1)
        energy[h0:h1] = scores.square().sum(0, dtype=torch.float64).reshape(h1 - h0, Dh).cpu()
        top = scores.abs().topk(K, dim=0).indices  # (K, c*D')
        idx[h0:h1] = top.T.reshape(h1 - h0, Dh, K).cpu()
        act[h0:h1] = scores.gather(0, top).T.reshape(h1 - h0, Dh, K).cpu()
        del scores
    return idx, act, energy


def filter_pairs(q_idx, q_act, k_idx, k_act, table: SimilarityTable,
                 drop_identical: bool = True, chunk: int = 512):
    """Candidate pairs of N neurons that pass the sign and co-occurrence rules.

    q_idx, q_act, k_idx, k_act: (N, K). Returns (neuron (P,), q word (P,),
    k word (P,), cos (P,)) numpy arrays, P = number of kept pairs.
    Per chunk of n neurons the (n, K, K) cosines come from one batched product
    of gathered unit vectors (n, K, e) @ (n, e, K); no W x W matrix is formed.
    """
    vec, thr = table.vectors, table.thresholds
    out = []
    for s in range(0, q_idx.shape[0], chunk):
        qi, ki = q_idx[s:s + chunk], k_idx[s:s + chunk]
        cos = torch.bmm(vec[qi], vec[ki].transpose(1, 2))  # (n, K, K)
        keep = (q_act[s:s + chunk, :, None] * k_act[s:s + chunk, None, :]) > 0
        keep &= cos > thr[qi][:, :, None]
        keep &= cos > thr[ki][:, None, :]
        if drop_identical:
            keep &= qi[:, :, None] != ki[:, None, :]
        n, i, j = keep.nonzero(as_tuple=True)
        out.append((n + s, qi[n, i], ki[n, j], cos[n, i, j]))
    cat = [torch.cat(parts).numpy() for parts in zip(*out)]
    return cat[0].astype(np.int64), cat[1].astype(np.int64), cat[2].astype(np.int64), cat[3]


def _rank_within(group: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Position of each element of ``order`` within its (sorted, contiguous) group."""
    g = group[order]
    starts = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, len(g)]))
    return np.arange(len(g)) - first


def neuron_table(neuron, q, k, cos, d_head: int, max_pairs: int) -> dict:
    """Rank kept pairs per neuron by cosine (desc) and keep the top ``max_pairs``.
    Returns dict of (P',) arrays: head, dim, rank, q, k, cos (sorted by head, dim, rank)."""
    order = np.lexsort((k, q, -cos, neuron))
    rank = _rank_within(neuron, order)
    sel = order[rank < max_pairs]
    return {"head": neuron[sel] // d_head, "dim": neuron[sel] % d_head,
            "rank": rank[rank < max_pairs], "q": q[sel], "k": k[sel], "cos": cos[sel]}


def head_table(nt: dict, n_words: int, max_pairs: int, min_count: int = 2) -> dict:
    """Pairs recurring over a head's neuron lists (count >= min_count), most common
    first (ties: higher max cosine, then word ids). Returns dict of arrays:
    head, q, k, count, cos (max cosine)."""
    key = (nt["head"] * n_words + nt["q"]) * n_words + nt["k"]
    uniq, inv, count = np.unique(key, return_inverse=True, return_counts=True)
    best = np.full(len(uniq), -np.inf, dtype=np.float64)
    np.maximum.at(best, inv, nt["cos"].astype(np.float64))
    head, rest = np.divmod(uniq, n_words * n_words)
    q, k = np.divmod(rest, n_words)
    m = count >= min_count
    head, q, k, count, best = head[m], q[m], k[m], count[m], best[m]
    order = np.lexsort((k, q, -best, -count, head))
    rank = _rank_within(head, order)
    sel = order[rank < max_pairs]
    return {"head": head[sel], "q": q[sel], "k": k[sel], "count": count[sel], "cos": best[sel]}


@dataclass
class AttentionPairs:
    """Word-pair explanation of one layer.

    words: (W,) candidate words; q_idx, k_idx: (H, D', K) word indices and
    q_act, k_act: (H, D', K) signed activations (descending |act|);
    dim_energy: (H, D') = energy_q * energy_k; dim_rank: (H, D') 0 = top dim;
    neurons / heads: tables of :func:`neuron_table` / :func:`head_table`.
    """

    words: tuple[str, ...]
    q_idx: torch.Tensor
    q_act: torch.Tensor
    k_idx: torch.Tensor
    k_act: torch.Tensor
    dim_energy: torch.Tensor
    dim_rank: torch.Tensor
    neurons: dict
    heads: dict
    layer: int | None = None

    def _pairs(self, table: dict, mask: np.ndarray) -> list[tuple[str, str]]:
        return [(self.words[a], self.words[b]) for a, b in zip(table["q"][mask], table["k"][mask])]

    def neuron_pairs(self, head: int, dim: int) -> list[tuple[str, str]]:
        """Kept (q-word, k-word) pairs of neuron (head, dim), highest cosine first."""
        return self._pairs(self.neurons, (self.neurons["head"] == head) & (self.neurons["dim"] == dim))

    def head_pairs(self, head: int) -> list[tuple[str, str]]:
        """Head-level pairs (count > 1), most common first."""
        return self._pairs(self.heads, self.heads["head"] == head)

    def head_explanations(self) -> dict[int, list[tuple[str, str]]]:
        """{head: head_pairs(head)} for every head (empty list if none)."""
        return {h: self.head_pairs(h) for h in range(self.q_idx.shape[0])}

    def frames(self):
        """(neuron DataFrame, head DataFrame) with words instead of indices."""
        import pandas as pd

        words = np.asarray(self.words, dtype=object)
        out = []
        for t in (self.neurons, self.heads):
            df = pd.DataFrame(t)
            df["q"], df["k"] = words[t["q"]], words[t["k"]]
            if self.layer is not None:
                df.insert(0, "layer", self.layer)
            out.append(df)
        return tuple(out)


def head_word_pairs(W_q, W_k, word_emb, table: SimilarityTable, K: int = 100,
                    max_pairs: int = 100, b_q=None, b_k=None, top_dims: int | None = None,
                    drop_identical: bool = True, layer: int | None = None) -> AttentionPairs:
    """Explain all heads of one layer at once (see module doc).

    W_q, W_k: (H, D, D'); word_emb: (W, D) embeddings of ``table.words``;
    b_q, b_k: optional (H, D') biases added to the activations.
    """
    _check_layer(W_q, W_k, word_emb, K)
    check_count("max_pairs", max_pairs, 1)
    if len(table.words) != word_emb.shape[0]:
        raise ParameterError(f"table has {len(table.words)} words, word_emb {word_emb.shape[0]} rows")
    H, _, Dh = W_q.shape
    q_idx, q_act, e_q = neuron_top_words(word_emb, W_q, K, b_q)
    k_idx, k_act, e_k = neuron_top_words(word_emb, W_k, K, b_k)
    energy = e_q * e_k
    rank = energy.argsort(dim=1, descending=True).argsort(dim=1)
    sel = torch.arange(H * Dh)
    if top_dims is not None:
        check_count("top_dims", top_dims, 1, Dh)
        sel = sel[(rank < top_dims).reshape(-1)]
    flat = [t.reshape(H * Dh, K)[sel] for t in (q_idx, q_act, k_idx, k_act)]
    n, q, k, cos = filter_pairs(*flat, table, drop_identical)
    nt = neuron_table(sel.numpy()[n], q, k, cos, Dh, max_pairs)
    nt["rank_dim"] = rank.reshape(-1).numpy()[nt["head"] * Dh + nt["dim"]]
    ht = head_table(nt, len(table.words), max_pairs)
    return AttentionPairs(table.words, q_idx, q_act, k_idx, k_act, energy, rank, nt, ht, layer)


def reference_head_pairs(W_q_h, W_k_h, word_emb, table: SimilarityTable, K: int = 100,
                         max_pairs: int = 100, drop_identical: bool = True):
    """The slow reference (the authors' algorithm): loop over one head's dims, sort
    each dim's activations, double loop over the K x K candidate pairs.

    W_q_h, W_k_h: (D, D'). Returns (neuron pairs {dim: [(q, k), ...]},
    head pairs [(q, k, count), ...]) with word indices.
    """
    vec = table.vectors.numpy()
    thr = table.thresholds.numpy()
    emb = word_emb.float().numpy()
    neurons = {}
    for d in range(W_q_h.shape[1]):
        sq, sk = emb @ W_q_h[:, d].float().numpy(), emb @ W_k_h[:, d].float().numpy()
        ql, kl = np.argsort(-np.abs(sq), kind="stable")[:K], np.argsort(-np.abs(sk), kind="stable")[:K]
        kept = []
        for a in ql:
            for b in kl:
                if (drop_identical and a == b) or sq[a] * sk[b] <= 0:
                    continue
                c = float(np.dot(vec[a], vec[b]))
                if c > thr[a] and c > thr[b]:
                    kept.append((-c, int(a), int(b)))
        neurons[d] = [(a, b) for _, a, b in sorted(kept)[:max_pairs]]
    counts = Counter(p for pairs in neurons.values() for p in pairs)
    best = {p: float(np.dot(vec[p[0]], vec[p[1]])) for p in counts}
    ranked = sorted((p for p, c in counts.items() if c > 1),
                    key=lambda p: (-counts[p], -best[p], p[0], p[1]))
    return neurons, [(a, b, counts[(a, b)]) for a, b in ranked[:max_pairs]]


# Fig 2 / Table 3 statistics live in paperlib.measures.attention_stats (re-exported here).
from paperlib.measures.attention_stats import (  # noqa: E402,F401
    changed_share, layer_groups, _group_label, changed_share_by_group, verb_pair_counts, verb_increase_share, verb_shift_table,
)


# ---- model-facing wrappers (canonical view of paperlib.models) --------------------

def _gain_free_norm(x: torch.Tensor, norm: str, eps: float = 1e-6) -> torch.Tensor:
    """x (W, D) -> the layer's gain-free normalised input xhat ("rms" or "layer")."""
    if norm == "layer":
        x = x - x.mean(dim=1, keepdim=True)
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


class AttentionPairsExplainer:
    """Word-pair explainer of a model's attention layers (prepares words once).

    view: a :class:`paperlib.models.CanonicalView`; tokenizer: the model's
    tokenizer; words: candidate words (default: the ShareGPT vocabulary) or a
    prepared :class:`paperlib.words.vocab.WordIndex`; sim: a WordSimilarity backend
    (default :class:`paperlib.words.similarity.MiniLMSimilarity`).
    as_model_input=False (paper): activations E_i[w] @ W_q (gain folded), no
    bias. True: the layer's own pre-rotary q/k of a lone word embedding,
    xhat(E_i[w]) @ W_q + b_q (family norm without gain, plus the total bias).
    """

    def __init__(self, view, tokenizer=None, words=None, sim=None, K: int = 100,
                 max_pairs: int = 100, top_dims: int | None = None,
                 as_model_input: bool = False, drop_identical: bool = True):
        from paperlib.words.vocab import resolve_word_index, word_embeddings

        self.view, self.K, self.max_pairs, self.top_dims = view, K, max_pairs, top_dims
        self.as_model_input, self.drop_identical = as_model_input, drop_identical
        self.index = resolve_word_index(tokenizer, words)
        emb = word_embeddings(view.embed_in, self.index)
        self.word_emb = _gain_free_norm(emb, view.norm) if as_model_input else emb
        if sim is None:
            from paperlib.words.similarity import MiniLMSimilarity

            sim = MiniLMSimilarity()
        self.table = sim if isinstance(sim, SimilarityTable) else sim.table(self.index.words)
        if self.table.words != self.index.words:
            raise ParameterError("the similarity table was built for another word list")

    def layer(self, layer: int) -> AttentionPairs:
        """Explain all heads of layer ``layer`` (0-based)."""
        lay = self.view.layer(layer)
        b_q, b_k = (lay.b_q, lay.b_k) if self.as_model_input else (None, None)
        return head_word_pairs(lay.W_q, lay.W_k, self.word_emb, self.table, self.K,
                               self.max_pairs, b_q, b_k, self.top_dims, self.drop_identical,
                               layer=layer)

    def __call__(self, layers=None) -> dict[int, AttentionPairs]:
        """{layer: AttentionPairs} for ``layers`` (default: all)."""
        layers = range(self.view.n_layers) if layers is None else layers
        return {int(l): self.layer(int(l)) for l in layers}


def explain_attention_layer(view, layer: int, tokenizer=None, words=None, sim=None,
                            **kwargs) -> AttentionPairs:
    """One-shot :class:`AttentionPairsExplainer` on one layer (kwargs: K, max_pairs,
    top_dims, as_model_input, drop_identical). For many layers build the
    explainer once (the word index and similarity table are prepared once)."""
    return AttentionPairsExplainer(view, tokenizer, words, sim, **kwargs).layer(layer)


def head_explanations_by_layer(results: dict) -> dict:
    """{(layer, head): pairs} from {layer: AttentionPairs} (input of the Table 3
    and Fig 2 helpers)."""
    return {(l, h): pairs for l, res in results.items()
            for h, pairs in res.head_explanations().items()}


def neuron_explanations_by_layer(results: dict) -> dict:
    """{(layer, head, dim): pairs} from {layer: AttentionPairs}, every neuron."""
    out = {}
    for l, res in results.items():
        H, Dh = res.dim_rank.shape
        for h in range(H):
            for d in range(Dh):
                out[(l, h, d)] = res.neuron_pairs(h, d)
    return out


@register("attention_pairs")
def explain_attention_pairs(model, tokenizer, layers=None, *, words=None, sim=None,
                            **kw) -> dict[int, AttentionPairs]:
    """Finding 2 on a HF causal LM (or a CanonicalView): {layer: AttentionPairs}
    for ``layers`` (int, iterable or None = all). kw: see AttentionPairsExplainer."""
    layers = [layers] if isinstance(layers, int) else layers
    from paperlib.models.canonical import as_view

    return AttentionPairsExplainer(as_view(model), tokenizer, words, sim, **kw)(layers)
