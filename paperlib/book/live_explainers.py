"""Attention word pairs and FFN concepts on a live pair, pre-trained beside tuned.

Helpers of the chapter "Explainers on any model pair" (see :mod:`paperlib.book.live`).
Candidate words: the ``vocab_size`` most frequent ShareGPT words the tokenizer
can spell (:func:`word_index`); word similarity: MiniLM or a GloVe file
(:func:`similarity_backend`; the table is cached on disk under the paperlib
cache). ``K`` is capped by the number of words and ``R`` by the width D; the
caps are reported by :func:`capped`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from paperlib.core.errors import ParameterError
from paperlib.measures.attention_stats import busiest_heads  # noqa: F401  (chapter facade)
from paperlib.models.canonical import check_layers  # noqa: F401
from paperlib.models.pair import NAMES, ROLE_LABELS, LivePair
from paperlib.words.vocab import word_index


def similarity_backend(similarity="minilm"):
    """"minilm" -> MiniLMSimilarity; a path to a GloVe text file -> GloveSimilarity."""
    from paperlib.words.similarity import GloveSimilarity, MiniLMSimilarity, WordSimilarity

    if isinstance(similarity, WordSimilarity):
        return similarity
    if similarity == "minilm":
        return MiniLMSimilarity(progress=False)
    if isinstance(similarity, (str, Path)) and Path(similarity).is_file():
        return GloveSimilarity(similarity)
    raise ParameterError(f"similarity must be 'minilm' or the path of a GloVe text file, "
                         f"got {similarity!r}")


def capped(name: str, value: int, limit: int, what: str) -> tuple[int, str]:
    """(min(value, limit), note) - the note says when the cap applied."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(f"{name} must be a positive integer, got {value!r}")
    if value <= limit:
        return int(value), ""
    return int(limit), f"{name}={value} capped to {limit} ({what})."


class PairExplainers:
    """Word index, similarity table and both models' canonical views, prepared once.

    indices: {name: WordIndex} per model (tokenizers may differ); tables:
    {name: SimilarityTable} of those words; views: {name: CanonicalView}.
    """

    def __init__(self, pair: LivePair, vocab_size: int | None = 2000, similarity="minilm"):
        from paperlib.models import canonical_view

        self.pair = pair
        sim = similarity_backend(similarity)
        self.views = {n: canonical_view(pair.model(n)[0]) for n in NAMES}
        self.indices = {n: word_index(pair.model(n)[1], vocab_size) for n in NAMES}
        tables: dict = {}
        for n in NAMES:
            words = self.indices[n].words
            if words not in tables:
                tables[words] = sim.table(words)
        self.tables = {n: tables[self.indices[n].words] for n in NAMES}
        self.n_layers = min(v.n_layers for v in self.views.values())
        self.d_model = min(v.d_model for v in self.views.values())
        self.n_words = min(len(i) for i in self.indices.values())

    def attention(self, layers, K: int = 100, max_pairs: int = 100) -> dict:
        """{name: {layer: AttentionPairs}} for both models."""
        from paperlib.explainers.attention_pairs import AttentionPairsExplainer

        return {n: AttentionPairsExplainer(self.views[n], words=self.indices[n],
                                           sim=self.tables[n], K=K, max_pairs=max_pairs)(layers)
                for n in NAMES}

    def ffn(self, layers, R: int = 300, K: int = 15) -> dict:
        """{name: {layer: FFNConcepts}} for both models (full spectrum kept)."""
        from paperlib.explainers.ffn_concepts import FFNConceptsExplainer

        return {n: FFNConceptsExplainer(self.views[n], words=self.indices[n], R=R, K=K,
                                        full_spectrum=True)(layers) for n in NAMES}


def _fmt(pairs) -> list[str]:
    return [f"{a} → {b}" for a, b in pairs]


def head_pairs_table(att: dict, layer: int, heads, top: int = 10):
    """DataFrame of the top head-level pairs (q-word → k-word), pre-trained beside
    tuned: columns layer (1-based), head (0-based), rank (1-based), pre-trained,
    tuned ("" where a list is shorter)."""
    import pandas as pd

    rows = []
    for h in heads:
        lists = [_fmt(att[n][layer].head_pairs(h))[:top] for n in NAMES]
        for r in range(max(1, max(len(x) for x in lists))):
            rows.append({"layer": layer + 1, "head": h, "rank": r + 1,
                         **{ROLE_LABELS[n]: (x[r] if r < len(x) else "")
                            for n, x in zip(NAMES, lists)}})
    return pd.DataFrame(rows)


def changed_share_table(att: dict, n_layers: int):
    """Changed share 1 - |E_pt ∩ E_ft| / |E_pt ∪ E_ft| per explained layer (Fig 2
    quantity, one layer per group), head level and neuron level: columns
    layer (1-based), heads_changed, n_heads, neurons_changed, n_neurons."""
    from paperlib.explainers.attention_pairs import head_explanations_by_layer, neuron_explanations_by_layer
    from paperlib.measures.attention_stats import changed_share_by_group

    parts = []
    for level, fn in (("heads", head_explanations_by_layer),
                      ("neurons", neuron_explanations_by_layer)):
        df = changed_share_by_group(fn(att["pt"]), fn(att["ft"]), n_layers, group_size=1)
        parts.append(df[df.n > 0].rename(columns={"changed": f"{level}_changed",
                                                  "n": f"n_{level}"}).set_index("layers"))
    out = parts[0].join(parts[1], how="outer").reset_index()
    out.insert(0, "layer", [int(g.split("-")[0]) for g in out.pop("layers")])
    return out


def variance_figure(ffn: dict, pair: LivePair):
    """Cumulative explained-variance ratio of the FFN down-projection rows (Fig 8
    style): one panel per layer, pre-trained and tuned curves. Returns the Figure."""
    import matplotlib.pyplot as plt

    layers = list(ffn["pt"])
    fig, axes = plt.subplots(1, len(layers), figsize=(3.6 * len(layers), 2.8), squeeze=False)
    for ax, layer in zip(axes[0], layers):
        for n, style in zip(NAMES, ("-", "--")):
            cum = ffn[n][layer].cumulative_variance.numpy()
            ax.plot(np.arange(1, len(cum) + 1), cum, style, label=ROLE_LABELS[n])
        ax.set_title(f"layer {layer + 1}")
        ax.set_xlabel("components")
        ax.set_ylim(0, 1.02)
    axes[0][0].set_ylabel("cumulative explained variance")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(pair.title("FFN principal components"), fontsize=9)
    fig.tight_layout()
    return fig


def variance_by_rank(ffn: dict, ranks=(1, 10, 30, 100, 300)):
    """Cumulative explained variance at the given ranks (those above the number
    of components are left out), per layer and model: columns layer (1-based),
    model, then one column per rank (:func:`paperlib.explainers.ffn_concepts.cumulative_variance_at`)."""
    import pandas as pd

    from paperlib.explainers.ffn_concepts import cumulative_variance_at

    rows = [{"layer": layer + 1, "model": ROLE_LABELS[n],
             **{f"top {r}": v for r, v in cumulative_variance_at(ffn[n][layer], ranks).items()}}
            for layer in ffn["pt"] for n in NAMES]
    return pd.DataFrame(rows)


def concept_table(ffn: dict, layer: int, n_components: int = 5, n_words: int = 8):
    """Top words of the first ``n_components`` principal components of one layer,
    pre-trained beside tuned: columns component (1-based), variance and words per
    model. Component r of one model need not match component r of the other."""
    import pandas as pd

    rows = []
    for r in range(min(n_components, *(ffn[n][layer].components.shape[0] for n in NAMES))):
        row = {"layer": layer + 1, "component": r + 1}
        for n in NAMES:
            c = ffn[n][layer]
            row[f"{ROLE_LABELS[n]} variance"] = float(c.explained_variance_ratio[r])
            row[f"{ROLE_LABELS[n]} words"] = ", ".join(c.words_of(r)[:n_words])
        rows.append(row)
    return pd.DataFrame(rows)
