"""FFN PCA concept explainer (paper Sec 5.2)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from paperlib.core.errors import ParameterError
from paperlib.explainers.ffn_concepts import explain_ffn_layer, ffn_concepts, pca_rows, top_words

torch.set_num_threads(1)


def test_pca_hand_worked():
    # centred rows; covariance diag(2/3, 0.5/3) -> ratios 0.8, 0.2; components e1, e2
    W = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.5], [0.0, -0.5]]) + 3.0
    pca = pca_rows(W, cov_dtype=torch.float64)
    torch.testing.assert_close(pca.explained_variance, torch.tensor([2 / 3, 0.5 / 3], dtype=torch.float64))
    torch.testing.assert_close(pca.explained_variance_ratio, torch.tensor([0.8, 0.2], dtype=torch.float64))
    torch.testing.assert_close(pca.components, torch.eye(2, dtype=torch.float64))
    torch.testing.assert_close(pca.mean, torch.tensor([3.0, 3.0], dtype=torch.float64))


@pytest.mark.parametrize("cov_dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_pca_equals_numpy_svd(cov_dtype, tol):
    rng = np.random.default_rng(0)
    W = rng.normal(size=(120, 16)) @ np.diag(np.linspace(3, 0.2, 16)) + 1.5
    pca = pca_rows(torch.from_numpy(W), cov_dtype=cov_dtype)
    Wc = W - W.mean(0)
    _, s, Vt = np.linalg.svd(Wc, full_matrices=False)
    np.testing.assert_allclose(pca.explained_variance_ratio.numpy(), s**2 / (s**2).sum(), atol=tol)
    np.testing.assert_allclose(pca.explained_variance.numpy(), s**2 / (len(W) - 1),
                               rtol=10 * tol, atol=tol)
    for r in (1, 4, 10):
        angles = scipy.linalg.subspace_angles(pca.components[:r].numpy().T, Vt[:r].T)
        assert np.max(angles) < 1e-3
        top = pca_rows(torch.from_numpy(W), n_components=r, cov_dtype=cov_dtype)  # subset solver
        assert top.components.shape == (r, 16)
        assert np.max(scipy.linalg.subspace_angles(top.components.numpy().T, Vt[:r].T)) < 1e-3
        np.testing.assert_allclose(top.explained_variance_ratio.numpy(), (s**2 / (s**2).sum())[:r],
                                   atol=tol)
    # each component's largest-|.| coordinate is positive (deterministic signs)
    comps = pca.components.numpy()
    assert np.all(comps[np.arange(16), np.abs(comps).argmax(1)] > 0)


def test_top_words_hand_worked():
    comps = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    out_emb = torch.tensor([[2.0, 0.0], [0.0, 3.0], [-3.0, 1.0], [1.0, 1.0]])
    idx, scores = top_words(comps, out_emb, K=2)
    assert idx.tolist() == [[0, 2], [1, 3]]
    torch.testing.assert_close(scores, torch.tensor([[1.0, -3 / 10**0.5], [1.0, 2**-0.5]]))


def test_ffn_concepts_result_and_errors():
    g = torch.Generator().manual_seed(0)
    W, E = torch.randn(64, 12, generator=g), torch.randn(30, 12, generator=g)
    words = [f"w{i}" for i in range(30)]
    res = ffn_concepts(W, E, words, R=5, K=4, layer=3)
    assert res.components.shape == (5, 12) and res.word_idx.shape == (5, 4)
    assert res.explained_variance_ratio.shape == (5,)  # top R, divided by the exact total
    full = ffn_concepts(W, E, words, R=5, K=4, full_spectrum=True)
    assert full.explained_variance_ratio.shape == (12,)
    assert full.cumulative_variance[-1].item() == pytest.approx(1.0)
    torch.testing.assert_close(full.explained_variance_ratio[:5], res.explained_variance_ratio,
                               rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(full.components, res.components)
    torch.testing.assert_close(res.components @ res.components.T, torch.eye(5), atol=1e-5, rtol=0)
    assert res.frame()["rank"].tolist() == [1, 2, 3, 4, 5]
    assert len(res.words_of(0)) == 4
    with pytest.raises(ParameterError, match="R=13"):
        ffn_concepts(W, E, words, R=13)
    with pytest.raises(ParameterError, match="K=0"):
        ffn_concepts(W, E, words, R=5, K=0)
    with pytest.raises(ParameterError, match="R must be an integer"):
        ffn_concepts(W, E, words, R=2.5)
    with pytest.raises(ParameterError, match="29 words"):
        ffn_concepts(W, E, words[:29], R=5)
    with pytest.raises(ParameterError, match="NaN"):
        ffn_concepts(W * float("nan"), E, words, R=5)


@pytest.mark.parametrize("family", ["llama", "mistral", "qwen2", "gpt2", "gpt_neox"])
def test_explain_ffn_layer_on_tiny_models(family):
    from paperlib.models import canonical_view
    from paperlib.models.tiny import _WORDS, tiny_model, tiny_tokenizer

    tok, words = tiny_tokenizer(), list(dict.fromkeys(_WORDS))[:50]
    view = canonical_view(tiny_model(family))
    res = explain_ffn_layer(view, 1, tok, words, R=6, K=5)
    assert res.components.shape == (6, view.d_model) and res.layer == 1
    # the same as the tensor-level function on the view's own tensors
    out = view.embed_out[[tok.convert_tokens_to_ids(w) for w in words]]
    ref = ffn_concepts(view.layer(1).W_down, out, words, R=6, K=5)
    assert torch.equal(res.word_idx, ref.word_idx)
    with pytest.raises(ParameterError, match="R="):
        explain_ffn_layer(view, 1, tok, words, R=view.d_model + 1)


def test_registered_explainer():
    from paperlib.explainers.registry import get_explainer
    from paperlib.models.tiny import _WORDS, tiny_model, tiny_tokenizer

    words = list(dict.fromkeys(_WORDS))[:40]
    out = get_explainer("ffn_concepts")(tiny_model("gpt2"), tiny_tokenizer(), None,
                                        words=words, R=3, K=2)
    assert sorted(out) == [0, 1] and out[0].word_idx.shape == (3, 2)
