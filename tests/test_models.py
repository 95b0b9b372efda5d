"""Canonical weight view, architecture table and model loading (tiny random models)."""
from __future__ import annotations

import sys

import pytest
import torch

from paperlib.core.errors import ModelLoadError, ParameterError, UnsupportedArchitectureError
from paperlib.models import canonical_view, load_model, load_pair, register_model_alias
from paperlib.models.loading import resolve_alias
from paperlib.models.tiny import FAMILIES, tiny_config, tiny_model, tiny_tokenizer

torch.set_num_threads(1)
LAYER = 1
IDS = torch.tensor([[1, 17, 5, 33, 60, 8, 41, 2, 90, 12, 7]])


def _attn_parts(model, layer: int):
    """(pre-attention norm module, fn(capture dict) -> hooks) per family."""
    mt = model.config.model_type
    if mt == "gpt2":
        blk = model.transformer.h[layer]
        return blk.ln_1, blk.attn.c_attn, "fused_gpt2"
    if mt == "gpt_neox":
        blk = model.gpt_neox.layers[layer]
        return blk.input_layernorm, blk.attention.query_key_value, "fused_neox"
    blk = model.model.layers[layer]
    return blk.input_layernorm, (blk.self_attn.q_proj, blk.self_attn.k_proj), "split"


def _capture(model, layer: int, ids):
    """Run the model; return x entering the norm (T, D), model q, k (T, H_q|H_kv, D')
    straight out of the projections (before rotary), and the attention probabilities."""
    norm, proj, kind = _attn_parts(model, layer)
    got, hooks = {}, []
    hooks.append(norm.register_forward_pre_hook(lambda m, a: got.__setitem__("x", a[0][0])))
    if kind == "split":
        hooks.append(proj[0].register_forward_hook(lambda m, a, o: got.__setitem__("q", o[0])))
        hooks.append(proj[1].register_forward_hook(lambda m, a, o: got.__setitem__("k", o[0])))
    else:
        hooks.append(proj.register_forward_hook(lambda m, a, o: got.__setitem__("qkv", o[0])))
    try:
        with torch.no_grad():
            out = model(ids, output_attentions=True)
    finally:
        for h in hooks:
            h.remove()
    cfg = model.config
    n_heads = cfg.num_attention_heads if hasattr(cfg, "num_attention_heads") else cfg.n_head
    t = ids.shape[1]
    if kind == "split":
        q, k = got["q"].view(t, n_heads, -1), got["k"].view(t, -1, got["q"].shape[-1] // n_heads)
    elif kind == "fused_gpt2":
        q, k, _ = got["qkv"].split(cfg.n_embd, dim=-1)
        q, k = q.view(t, n_heads, -1), k.view(t, n_heads, -1)
    else:
        qkv = got["qkv"].view(t, n_heads, 3, -1)
        q, k = qkv[:, :, 0], qkv[:, :, 1]
    return got["x"], q, k, out.attentions[layer][0]


def _normalise(x, model, layer):
    """Gain-free norm: RMSNorm x / rms(x); LayerNorm (x - mean) / std.

    HF's RMSNorm computes in float32 even for a float64 model; we do the same so
    the comparison below can be exact to 1e-10 instead of float32-tolerant."""
    norm, _, _ = _attn_parts(model, layer)
    eps = getattr(norm, "variance_epsilon", None) or getattr(norm, "eps")
    if isinstance(norm, torch.nn.LayerNorm):
        xc = x - x.mean(-1, keepdim=True)
        return xc / torch.sqrt(xc.pow(2).mean(-1, keepdim=True) + eps)
    x32 = x.float()
    return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


def _rotate(model, q, k, t):
    """Apply the model's own rotary embedding to (T, H, D') q and k (no-op for GPT-2)."""
    mt = model.config.model_type
    if mt == "gpt2":
        return q, k
    base = model.gpt_neox if mt == "gpt_neox" else model.model
    rope_fn = sys.modules[type(base.layers[0].self_attn if mt != "gpt_neox"
                               else base.layers[0].attention).__module__].apply_rotary_pos_emb
    cos, sin = base.rotary_emb(q, torch.arange(t)[None])
    q_r, k_r = rope_fn(q.transpose(0, 1)[None], k.transpose(0, 1)[None], cos, sin)
    return q_r[0].transpose(0, 1), k_r[0].transpose(0, 1)


@pytest.mark.parametrize("family", FAMILIES)
def test_canonical_qk_reproduces_attention_scores(family):
    """The canonical view is checked against the model's internals in float64.

    1. q, k straight out of the model's projections (hooked, before rotary)
       equal xhat @ W_q[h] + b_q[h] and xhat @ W_k[h] + b_k[h], where xhat is the
       hooked input of the pre-attention norm normalised WITHOUT gain/bias (k
       heads of the model repeated for grouped-query families). This checks the
       folding of the gain, the LayerNorm beta inside b_total, the head split of
       the fused GPT-2 / interleaved NeoX layouts and the GQA expansion.
    2. End to end: scale * (rotary(q) . rotary(k)) from the CANONICAL q, k with
       the causal mask, through softmax, equals the model's own attention
       probabilities (output_attentions), so scale and head order are right too
       (float32-level tolerance: HF takes this softmax in float32).
    """
    model = tiny_model(family, dtype=torch.float64)
    view = canonical_view(model, dtype=torch.float64)
    lay = view.layer(LAYER)
    x, q_model, k_model, probs = _capture(model, LAYER, IDS)
    xhat = _normalise(x, model, LAYER)
    q = torch.einsum("td,hde->the", xhat, lay.W_q)
    k = torch.einsum("td,hde->the", xhat, lay.W_k)
    if lay.b_q is not None:
        q, k = q + lay.b_q, k + lay.b_k
    n_rep = view.n_heads // k_model.shape[1]
    torch.testing.assert_close(q, q_model, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(k, k_model.repeat_interleave(n_rep, dim=1), rtol=1e-10, atol=1e-10)
    t = IDS.shape[1]
    q_r, k_r = _rotate(model, q, k, t)
    scores = lay.scale * torch.einsum("qhe,khe->hqk", q_r, k_r)
    scores = scores.masked_fill(torch.ones(t, t).triu(1).bool(), float("-inf"))
    # HF eager attention takes the softmax (and rotary cos/sin) in float32, hence
    # float32-level tolerance for this end-to-end step only.
    torch.testing.assert_close(scores.softmax(-1), probs, rtol=2e-6, atol=1e-7)


def test_canonical_shapes_and_ffn_rows():
    """W_down rows reproduce the FFN output: act @ W_down (+ bias) == down-proj output."""
    for family in FAMILIES:
        model = tiny_model(family, dtype=torch.float64)
        lay = canonical_view(model, dtype=torch.float64).layer(0)
        assert lay.W_q.shape == lay.W_k.shape == (4, 32, 8)
        assert lay.W_down.shape == (64, 32)
        down = {"gpt2": lambda m: m.transformer.h[0].mlp.c_proj,
                "gpt_neox": lambda m: m.gpt_neox.layers[0].mlp.dense_4h_to_h}.get(
            family, lambda m: m.model.layers[0].mlp.down_proj)(model)
        act = torch.randn(3, 64, dtype=torch.float64)
        bias = down.bias if down.bias is not None else 0.0
        torch.testing.assert_close(down(act), act @ lay.W_down + bias)


def test_tied_embeddings_and_layer_range():
    view = canonical_view(tiny_model("gpt2"))
    assert view.tied and torch.equal(view.embed_in, view.embed_out)
    assert not canonical_view(tiny_model("llama")).tied
    with pytest.raises(ParameterError, match="layer index 2"):
        view.layer(2)


def test_unsupported_architecture_refused_by_name():
    import transformers as tf

    cfg = tf.OPTConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                       num_attention_heads=2, ffn_dim=32, word_embed_proj_dim=16)
    model = tf.AutoModelForCausalLM.from_config(cfg)
    with pytest.raises(UnsupportedArchitectureError, match=r"'opt'.*gpt2.*llama"):
        canonical_view(model)


def test_missing_local_path_is_one_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(str(tmp_path / "nope"), local_files_only=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_model(str(tmp_path / "empty"))
    with pytest.raises(ModelLoadError, match="no-such-org/no-such-model"):
        load_model("no-such-org/no-such-model", local_files_only=True)


def test_alias_to_missing_pair_says_shipped_pair_missing(tmp_path):
    register_model_alias("test-missing-pair", pt=tmp_path / "pt", ft=tmp_path / "ft")
    with pytest.raises(ModelLoadError, match="shipped model pair is missing"):
        load_pair("test-missing-pair")
    assert resolve_alias("not-an-alias") == "not-an-alias"


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_load_pair_from_saved_local_folders(tmp_path, family):
    tok = tiny_tokenizer()
    for role, seed in (("pt", 0), ("ft", 1)):
        tiny_model(family, seed=seed).save_pretrained(tmp_path / role)
        tok.save_pretrained(tmp_path / role)
    register_model_alias("test-pair", pt=tmp_path / "pt", ft=tmp_path / "ft")
    m_pt, t_pt, m_ft, t_ft = load_pair("test-pair", local_files_only=True)
    ref = tiny_model(family, seed=1)
    with torch.no_grad():
        torch.testing.assert_close(m_ft(IDS).logits, ref(IDS).logits)
    assert t_pt("the long day").input_ids == tok("the long day").input_ids
    assert m_pt.config.model_type == tiny_config(family).model_type
