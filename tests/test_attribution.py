"""Prompt -> response attribution: reference, fast engine (both modes), result, case runs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from paperlib.explainers.attribution import (AttributionResult, attribute, attribution_leave_one_out,
                                  attribution_reference, explain_cases, prepare_inputs)
from paperlib.explainers.attribution_fast import attribution_fast, choose_mode, frozen_weights
from paperlib.core.errors import ParameterError, UnsupportedArchitectureError
from paperlib.models.tiny import FAMILIES, tiny_model, tiny_tokenizer

torch.set_num_threads(1)
_GEN = torch.Generator().manual_seed(0)
PROMPT = torch.randint(4, 96, (12,), generator=_GEN).tolist()
RESPONSE = torch.randint(4, 96, (6,), generator=_GEN).tolist()

# HF computes RMSNorm and the eager-attention softmax in float32 even for a
# float64 model (LLaMA / Mistral / Qwen2; NeoX's softmax too), so finite
# differences of those families carry float32 rounding; GPT-2 is float64 end to end.
FD_TOL = {"gpt2": 1e-6, "gpt_neox": 1e-4, "qwen2": 1e-3, "llama": 1e-3, "mistral": 1e-3}


def _prob(model, emb, n_prompt, targets, m):
    with torch.no_grad():
        logits = model(inputs_embeds=emb[None]).logits[0, n_prompt - 1 + m]
    return torch.softmax(logits, -1)[targets[m]].item()


@pytest.mark.parametrize("family", FAMILIES)
def test_gradient_matches_central_finite_differences(family):
    """I[n, m] is the derivative of p_m along E_i[x_n] (scale row n by 1 + t, t -> 0):
    4th-order central differences with t = +-0.01, +-0.02, in float64, at the
    largest |I| entry and at one more entry."""
    model = tiny_model(family, dtype=torch.float64)
    I = attribution_reference(model, PROMPT, RESPONSE).double()
    ids, targets, n_prompt = prepare_inputs(model, PROMPT, RESPONSE)
    emb = model.get_input_embeddings()(ids).detach()
    big = divmod(int(I.abs().argmax()), I.shape[1])
    for n, m in (big, (2, 5)):
        def p(scale):
            e = emb.clone()
            e[n] = e[n] * scale
            return _prob(model, e, n_prompt, targets, m)
        h = 1e-2
        fd = (8 * (p(1 + h) - p(1 - h)) - (p(1 + 2 * h) - p(1 - 2 * h))) / (12 * h)
        assert abs(fd - I[n, m].item()) <= FD_TOL[family] * max(abs(fd), I.abs().max().item())


@pytest.mark.parametrize("family", FAMILIES)
def test_fast_engine_both_modes_equal_reference(family):
    """float64: both modes within 1e-5 of the reference, relative to max |I|;
    chunk sizes that do not divide N or M."""
    model = tiny_model(family, dtype=torch.float64)
    ref = attribution_reference(model, PROMPT, RESPONSE)
    scale = ref.abs().max()
    assert scale > 0
    for mode, chunk in (("reverse", 4), ("forward", 5), ("auto", None)):
        fast = attribution_fast(model, PROMPT, RESPONSE, mode=mode, chunk_size=chunk)
        assert fast.shape == (len(PROMPT), len(RESPONSE)) and fast.dtype == torch.float32
        assert (fast - ref).abs().max() <= 1e-5 * scale, (family, mode)


def test_fast_engine_float32_model():
    """A float32 model (the default dtype): both modes within 1e-4 relative of the reference."""
    model = tiny_model("llama")
    ref = attribution_reference(model, PROMPT, RESPONSE)
    for mode in ("reverse", "forward"):
        fast = attribution_fast(model, PROMPT, RESPONSE, mode=mode, chunk_size=3)
        assert (fast - ref).abs().max() <= 1e-4 * ref.abs().max()


@pytest.mark.parametrize("family,config,scale", [
    ("gpt2", {}, 1e-3),                     # token embeddings << position embeddings
    ("llama", {"rms_norm_eps": 1.0}, 1e-3),  # RMSNorm ~ identity for tiny inputs
])
def test_first_order_matches_leave_one_out_in_linear_regime(family, config, scale):
    """Scaled-down token embeddings put the network in its linear regime, where the
    first-order I equals exact leave-one-out (row zeroed) up to O(scale):
    measured relative error 2.2e-3 (gpt2) / 2.4e-4 (llama), correlation > 0.99999.
    At normal scale they differ (measured correlation 0.43 for gpt2): I is an estimate."""
    model = tiny_model(family, dtype=torch.float64, **config)
    with torch.no_grad():
        model.get_input_embeddings().weight.mul_(scale)
    loo = attribution_leave_one_out(model, PROMPT, RESPONSE)
    fast = attribution_fast(model, PROMPT, RESPONSE).double()
    corr = torch.corrcoef(torch.stack([fast.flatten(), loo.flatten()]))[0, 1]
    assert corr > 0.9999
    assert (fast - loo).abs().max() <= 5e-3 * loo.abs().max()


def test_attribution_leave_one_out_is_faithfulness_leave_one_out_in_the_model_dtype():
    """One leave-one-out: the attribution module's name returns the faithfulness one's
    numbers, kept in the model's dtype (float64 here), and each entry is a direct
    recomputation p(full) - p(row n zeroed)."""
    from paperlib.explainers.faithfulness import leave_one_out

    model = tiny_model("gpt2", dtype=torch.float64)
    loo = attribution_leave_one_out(model, PROMPT, RESPONSE)
    assert loo.dtype == torch.float64 and loo.shape == (len(PROMPT), len(RESPONSE))
    torch.testing.assert_close(loo, leave_one_out(model, PROMPT, RESPONSE, dtype=torch.float64),
                               rtol=0, atol=1e-15)
    ids, targets, n_prompt = prepare_inputs(model, PROMPT, RESPONSE)
    emb = model.get_input_embeddings()(ids).detach()
    zeroed = emb.clone()
    zeroed[4] = 0
    want = _prob(model, emb, n_prompt, targets, 2) - _prob(model, zeroed, n_prompt, targets, 2)
    assert loo[4, 2].item() == pytest.approx(want, abs=1e-12)


def test_frozen_weights_restores_flags_and_mode():
    model = tiny_model("gpt2").train()
    model.transformer.wpe.weight.requires_grad_(False)
    before = [p.requires_grad for p in model.parameters()]
    attribution_fast(model, PROMPT, RESPONSE)
    assert [p.requires_grad for p in model.parameters()] == before and model.training
    with pytest.raises(RuntimeError):
        with frozen_weights(model):
            assert not any(p.requires_grad for p in model.parameters()) and not model.training
            raise RuntimeError("boom")
    assert [p.requires_grad for p in model.parameters()] == before


def test_reference_leaves_no_weight_gradients():
    model = tiny_model("qwen2")
    attribution_reference(model, PROMPT, RESPONSE)
    assert all(p.grad is None for p in model.parameters())


def test_choose_mode_and_bad_inputs():
    assert choose_mode(60, 300) == "forward" and choose_mode(200, 100) == "reverse"
    model = tiny_model("llama")
    with pytest.raises(ParameterError, match="mode"):
        attribution_fast(model, PROMPT, RESPONSE, mode="sideways")
    with pytest.raises(ParameterError, match="M=0"):
        attribution_fast(model, PROMPT, [])
    with pytest.raises(ParameterError, match="token id 500"):
        attribution_reference(model, PROMPT + [500], RESPONSE)
    with pytest.raises(ParameterError, match="dtype"):
        attribution_fast(model, PROMPT, RESPONSE, dtype=torch.float64)


def test_fast_engine_refuses_unknown_family():
    import transformers as tf

    cfg = tf.OPTConfig(vocab_size=96, hidden_size=16, num_hidden_layers=1,
                       num_attention_heads=2, ffn_dim=32, word_embed_proj_dim=16)
    with pytest.raises(UnsupportedArchitectureError, match="'opt'.*attribution_reference"):
        attribution_fast(tf.AutoModelForCausalLM.from_config(cfg), PROMPT, RESPONSE)


def test_attribute_drops_bos_row_and_normalises():
    """attribute() reports the BOS row apart; S = ceil(10 * relu(I) / column max)."""
    model, tok = tiny_model("llama", dtype=torch.float64), tiny_tokenizer()
    ids = tok("the long day of people")["input_ids"]
    res = attribute(model, tok, ids, RESPONSE[:3], n_prefix=1)
    assert isinstance(res, AttributionResult)
    assert res.prompt_tokens == ["the", "long", "day", "of", "people"]
    assert res.I.shape == (5, 3) and res.prefix_I.shape == (1, 3)
    full = attribution_reference(model, ids, RESPONSE[:3]).numpy()
    np.testing.assert_allclose(np.vstack([res.prefix_I, res.I]), full, rtol=0, atol=1e-6)
    col_max = np.maximum(res.I, 0).max(0)
    expected = np.where(col_max > 0, np.ceil(10 * np.maximum(res.I, 0) / col_max), 0)
    np.testing.assert_array_equal(res.S, expected)


def test_explain_cases_writes_loadable_case_set_and_caches(tmp_path, monkeypatch):
    from paperlib.core.caseset import read_case_set

    monkeypatch.setenv("PAPERLIB_CACHE", str(tmp_path / "cache"))
    model, tok = tiny_model("gpt2"), tiny_tokenizer()
    prompts = {"lima_author_1": "write about the long day", "lima_author_2": "what is water ?"}
    out = explain_cases(model, tok, prompts, "tiny", tmp_path / "cases_tiny.npz",
                        references={"lima_author_1": "ref"}, max_new_tokens=4,
                        progress=False)
    cs = read_case_set(out)
    assert len(cs) == 2
    case = cs.get(0)
    assert case.id == "lima_author_1" and case.reference == "ref"
    assert list(case.prompt_tokens) == ["write", "about", "the", "long", "day"]
    assert np.asarray(case.S).shape == (5, len(case.response_tokens))
    assert np.asarray(case.S).max() == 10  # every column's max maps to L
    cached = sorted((tmp_path / "cache" / "attribution").glob("*.npz"))
    assert len(cached) == 2
    stamp = [p.stat().st_mtime_ns for p in cached]
    explain_cases(model, tok, prompts, "tiny", tmp_path / "again.npz", max_new_tokens=4,
                  progress=False)
    assert [p.stat().st_mtime_ns for p in cached] == stamp  # served from the cache
    assert read_case_set(tmp_path / "again.npz").get(1).response_tokens == cs.get(1).response_tokens
