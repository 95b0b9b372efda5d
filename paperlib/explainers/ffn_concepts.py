"""FFN "concepts": principal components of the down-projection rows (paper Sec 5.2, App E).

Per layer, W = the FFN down-projection as rows ("values"), shape (I, D). Its
columns are centred, the D x D covariance C = W_c^T W_c / (I - 1) is formed
and eigendecomposed (never a full SVD of the I x D matrix). Components are
sorted by decreasing variance; all D explained-variance ratios are kept (for
the cumulative curve, Fig 8). Each of the top R components (R = 300) is
projected on the L2-normalised output embeddings of the candidate words
(a word's output embedding = mean of its sub-tokens' rows, :mod:`paperlib.words.vocab`)
and described by the K words (K = 15) of largest |score| (a component's sign is
arbitrary). Component signs are fixed so that each component's largest-|.|
coordinate is positive (deterministic output).

Precision and cost: the covariance is accumulated in ``cov_dtype`` (float32
default, fast) and only its top-R eigenvectors are computed, in the same
dtype, with LAPACK's MRRR driver on that subset (scipy ``evr``; on a GPU
``torch.linalg.eigh``). Explained-variance ratios divide by the trace (the
exact total variance), so the top-R ratios need no other eigenvalue; the full
spectrum (Fig 8 beyond rank R) is computed only when asked. Measured on the
2-core CPU for an 11008 x 4096 matrix: covariance ~1.2 s, top-300 float32
eigenvectors ~1.8 s (all 4096 in float64: ~15-50 s). Results are CPU tensors.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from paperlib.core.errors import ParameterError
from paperlib.explainers.registry import register
from paperlib.core.errors import check_count


@dataclass(frozen=True)
class PCAResult:
    """components: (R, D) float, row r = r-th principal direction (unit);
    explained_variance: (S,) eigenvalues, descending (S = R, or D with
    ``full_spectrum``); explained_variance_ratio: (S,) eigenvalue / total
    variance (total = trace of the covariance, exact whatever S is); mean: (D,)
    the column means that were subtracted."""

    components: torch.Tensor
    explained_variance: torch.Tensor
    explained_variance_ratio: torch.Tensor
    mean: torch.Tensor


def _fix_signs(V: torch.Tensor) -> torch.Tensor:
    """Flip rows of V (R, D) so that each row's largest-|.| entry is positive."""
    pivot = V.gather(1, V.abs().argmax(dim=1, keepdim=True))
    return V * torch.where(pivot < 0, -1.0, 1.0).to(V.dtype)


def _covariance(W: torch.Tensor, cov_dtype: torch.dtype):
    """Column means (D,) and covariance (D, D) of the rows of W (I, D)."""
    if W.ndim != 2 or W.shape[0] < 2:
        raise ParameterError(f"W must be an (I, D) matrix with I >= 2 rows, got {tuple(W.shape)}")
    if not torch.isfinite(W).all():
        raise ParameterError("W holds NaN or inf")
    Wc = W.to(cov_dtype)
    mean = Wc.mean(dim=0)
    Wc = Wc - mean
    return mean, (Wc.T @ Wc) / (W.shape[0] - 1)


def _top_eigh(cov: torch.Tensor, n: int):
    """Top-n eigenpairs of a symmetric (D, D) matrix, descending: vals (n,), vecs (n, D)."""
    import scipy.linalg

    D = cov.shape[0]
    if cov.is_cuda:  # on an accelerator: torch's eigh there, results back on the CPU
        vals, vecs = (t.cpu().numpy() for t in torch.linalg.eigh(cov))
        vals, vecs = vals[D - n:], vecs[:, D - n:]
    else:  # MRRR on the wanted subset only: much cheaper than all D vectors
        vals, vecs = scipy.linalg.eigh(cov.numpy(), subset_by_index=[D - n, D - 1],
                                       driver="evr", check_finite=False)
    vals = torch.from_numpy(vals[::-1].copy()).double().clamp_min(0.0)
    return vals, _fix_signs(torch.from_numpy(vecs[:, ::-1].T.copy()))


def pca_rows(W: torch.Tensor, n_components: int | None = None,
             cov_dtype: torch.dtype = torch.float32, full_spectrum: bool = False) -> PCAResult:
    """PCA of the rows of W (I, D) via the (D, D) covariance (see module doc).

    Only the top ``n_components`` (default: all D) eigenvectors are computed;
    the explained-variance ratios use the exact total variance (the trace), so
    they are right without the rest of the spectrum. ``full_spectrum=True`` also
    returns all D eigenvalues (for the cumulative curve of Fig 8).
    """
    mean, cov = _covariance(W, cov_dtype)
    D = cov.shape[0]
    n = D if n_components is None else check_count("n_components", n_components, 1, D)
    vals, comps = _top_eigh(cov, n)
    total = torch.diagonal(cov).double().sum().cpu()
    if full_spectrum and n < D:
        vals = torch.linalg.eigvalsh(cov.cpu()).double().flip(0).clamp_min(0.0)
    ratio = vals / total if total > 0 else torch.zeros_like(vals)
    return PCAResult(comps, vals, ratio, mean.double().cpu())


@dataclass(frozen=True)
class FFNConcepts:
    """Concepts of one FFN layer.

    words: (W,) candidate words; components: (R, D) float32 unit rows;
    explained_variance_ratio: (R,) float64 (all D with ``full_spectrum``), descending;
    word_idx: (R, K) long, top-K words of each component by |score| (desc);
    scores: (R, K) float32 signed cosine-like scores (component . unit word vector).
    """

    words: tuple[str, ...]
    components: torch.Tensor
    explained_variance_ratio: torch.Tensor
    word_idx: torch.Tensor
    scores: torch.Tensor
    layer: int | None = None

    @property
    def cumulative_variance(self) -> torch.Tensor:
        """(D,) cumulative explained-variance ratio (Fig 8)."""
        return self.explained_variance_ratio.cumsum(0)

    def words_of(self, r: int) -> list[str]:
        """The K words describing component r (0-based), strongest first."""
        return [self.words[i] for i in self.word_idx[r].tolist()]

    def frame(self):
        """DataFrame: layer, rank (1-based), variance ratio, words (comma-joined)."""
        import pandas as pd

        R = self.components.shape[0]
        return pd.DataFrame({"layer": self.layer, "rank": np.arange(1, R + 1),
                             "variance_ratio": self.explained_variance_ratio[:R].numpy(),
                             "words": [", ".join(self.words_of(r)) for r in range(R)]})


def top_words(components: torch.Tensor, out_emb: torch.Tensor, K: int, chunk: int = 64):
    """Top-K words of each component by |component . normalised word vector|.

    components: (R, D); out_emb: (W, D) (rows L2-normalised here).
    Returns idx (R, K) long and signed scores (R, K) float32, on the CPU.
    """
    emb = torch.nn.functional.normalize(out_emb.float(), dim=1)
    comps = components.float().to(emb.device)
    idx, val = [], []
    for s in range(0, comps.shape[0], chunk):
        scores = comps[s:s + chunk] @ emb.T  # (c, W)
        top = scores.abs().topk(K, dim=1).indices
        idx.append(top.cpu())
        val.append(scores.gather(1, top).cpu())
    return torch.cat(idx), torch.cat(val)


def ffn_concepts(W_down_rows: torch.Tensor, out_emb: torch.Tensor, words, R: int = 300,
                 K: int = 15, layer: int | None = None,
                 cov_dtype: torch.dtype = torch.float32,
                 full_spectrum: bool = False) -> FFNConcepts:
    """Explain one FFN: top-R principal components of W_down_rows (I, D), each
    described by its top-K words. out_emb: (W, D) output embeddings of ``words``.
    The explained-variance ratios cover the top R (all D with ``full_spectrum``)."""
    words = tuple(words)
    if W_down_rows.ndim != 2 or out_emb.ndim != 2 or out_emb.shape[1] != W_down_rows.shape[1]:
        raise ParameterError(f"W_down_rows (I, D) and out_emb (W, D) must share D, got "
                             f"{tuple(W_down_rows.shape)} and {tuple(out_emb.shape)}")
    if len(words) != out_emb.shape[0]:
        raise ParameterError(f"{len(words)} words but out_emb has {out_emb.shape[0]} rows")
    check_count("R", R, 1, W_down_rows.shape[1])
    check_count("K", K, 1, len(words))
    pca = pca_rows(W_down_rows, R, cov_dtype, full_spectrum)
    comps = pca.components.float()
    idx, scores = top_words(comps, out_emb, K)
    return FFNConcepts(words, comps, pca.explained_variance_ratio, idx, scores, layer)


class FFNConceptsExplainer:
    """PCA concept explainer of a model's FFN layers (prepares words once).

    view: a :class:`paperlib.models.CanonicalView`; tokenizer: the model's
    tokenizer; words: candidate words (default: the ShareGPT vocabulary) or a
    prepared :class:`paperlib.words.vocab.WordIndex`. A word's output embedding is the
    mean of its sub-tokens' rows of ``view.embed_out``.
    """

    def __init__(self, view, tokenizer=None, words=None, R: int = 300, K: int = 15,
                 cov_dtype: torch.dtype = torch.float32, full_spectrum: bool = False):
        from paperlib.words.vocab import resolve_word_index, word_embeddings

        check_count("R", R, 1, view.d_model)
        self.view, self.R, self.K, self.cov_dtype = view, R, K, cov_dtype
        self.full_spectrum = full_spectrum
        self.index = resolve_word_index(tokenizer, words)
        self.out_emb = word_embeddings(view.embed_out, self.index)

    def layer(self, layer: int) -> FFNConcepts:
        """Concepts of FFN layer ``layer`` (0-based)."""
        return ffn_concepts(self.view.layer(layer).W_down, self.out_emb, self.index.words,
                            self.R, self.K, layer, self.cov_dtype, self.full_spectrum)

    def __call__(self, layers=None) -> dict[int, FFNConcepts]:
        """{layer: FFNConcepts} for ``layers`` (default: all)."""
        layers = range(self.view.n_layers) if layers is None else layers
        return {int(l): self.layer(int(l)) for l in layers}


def explain_ffn_layer(view, layer: int, tokenizer=None, words=None, **kwargs) -> FFNConcepts:
    """One-shot :class:`FFNConceptsExplainer` on one layer (kwargs: R, K, cov_dtype, full_spectrum)."""
    return FFNConceptsExplainer(view, tokenizer, words, **kwargs).layer(layer)


def cumulative_variance_at(concepts: "FFNConcepts", ranks) -> dict[int, float]:
    """{r: cumulative explained-variance ratio of the top r components} for every rank
    r (1-based) in ``ranks`` that the concepts cover (larger ranks are left out)."""
    cum = concepts.cumulative_variance.numpy()
    return {int(r): float(cum[int(r) - 1]) for r in ranks if 1 <= int(r) <= len(cum)}


@register("ffn_concepts")
def explain_ffn_concepts(model, tokenizer, layers=None, *, words=None,
                         **kw) -> dict[int, FFNConcepts]:
    """Finding 3 on a HF causal LM (or a CanonicalView): {layer: FFNConcepts}
    for ``layers`` (int, iterable or None = all). kw: R, K, cov_dtype."""
    from paperlib.models.canonical import as_view

    layers = [layers] if isinstance(layers, int) else layers
    return FFNConceptsExplainer(as_view(model), tokenizer, words, **kw)(layers)
