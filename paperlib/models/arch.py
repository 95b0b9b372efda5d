"""Per-architecture table: where each family keeps the weights the explainers read.

In the spirit of TransformerLens / pyvene: every supported ``config.model_type``
maps to an :class:`ArchSpec` whose ``raw_layer`` function returns the layer's
weights in ONE neutral layout (:class:`RawLayer`, torch ``nn.Linear``
convention ``out x in``), whatever the family stores:

============ ================================ ===================================
family       q / k                            FFN down-projection
============ ================================ ===================================
llama        q_proj, k_proj (GQA)             mlp.down_proj.weight (D x I)
mistral      q_proj, k_proj (GQA)             mlp.down_proj.weight (D x I)
qwen2        q_proj, k_proj + biases (GQA)    mlp.down_proj.weight (D x I)
gpt2         fused Conv1D c_attn (D x 3D)     mlp.c_proj.weight, Conv1D (I x D)
gpt_neox     fused query_key_value (3D x D),  mlp.dense_4h_to_h.weight (D x I)
             per head [q, k, v] interleaved
============ ================================ ===================================

:mod:`paperlib.models.canonical` turns a RawLayer into the canonical view
(norm gain folded, heads split, k heads repeated).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from paperlib.core.errors import UnsupportedArchitectureError


@dataclass(frozen=True)
class RawLayer:
    """One layer's weights in ``nn.Linear`` layout (no folding, no head split).

    w_q: (H * D', D); w_k: (H_kv * D', D); b_q: (H * D',) or None;
    b_k: (H_kv * D',) or None; norm_weight: (D,) pre-attention norm gain;
    norm_bias: (D,) or None (LayerNorm beta); down_rows: (I, D) FFN values.
    """

    w_q: torch.Tensor
    w_k: torch.Tensor
    b_q: torch.Tensor | None
    b_k: torch.Tensor | None
    norm_weight: torch.Tensor
    norm_bias: torch.Tensor | None
    down_rows: torch.Tensor
    scale: float


@dataclass(frozen=True)
class ArchSpec:
    """How to read one family. ``norm`` is "rms" or "layer"."""

    model_type: str
    norm: str
    rotary: bool
    layers: Callable[[torch.nn.Module], torch.nn.ModuleList]
    raw_layer: Callable[[torch.nn.Module, int], RawLayer]
    embed_in: Callable[[torch.nn.Module], torch.Tensor]
    n_kv_heads: Callable[[object], int]


def _llama_layers(model):
    return model.model.layers


def _llama_raw(model, layer: int) -> RawLayer:
    blk = model.model.layers[layer]
    att = blk.self_attn
    return RawLayer(
        w_q=att.q_proj.weight, w_k=att.k_proj.weight,
        b_q=att.q_proj.bias, b_k=att.k_proj.bias,
        norm_weight=blk.input_layernorm.weight, norm_bias=None,
        down_rows=blk.mlp.down_proj.weight.T, scale=float(att.scaling),
    )


def _gpt2_raw(model, layer: int) -> RawLayer:
    blk = model.transformer.h[layer]
    d = model.config.n_embd
    w = blk.attn.c_attn.weight.T  # Conv1D stores (in, out): transpose to (3D, D)
    b = blk.attn.c_attn.bias
    return RawLayer(
        w_q=w[:d], w_k=w[d:2 * d], b_q=b[:d], b_k=b[d:2 * d],
        norm_weight=blk.ln_1.weight, norm_bias=blk.ln_1.bias,
        down_rows=blk.mlp.c_proj.weight,  # Conv1D (I, D): already rows
        scale=float(blk.attn.scaling),
    )


def _neox_raw(model, layer: int) -> RawLayer:
    blk = model.gpt_neox.layers[layer]
    cfg = model.config
    h = cfg.num_attention_heads
    dh = cfg.hidden_size // h
    qkv = blk.attention.query_key_value
    w = qkv.weight.view(h, 3, dh, cfg.hidden_size)  # per head [q, k, v]
    b = qkv.bias.view(h, 3, dh) if qkv.bias is not None else None
    return RawLayer(
        w_q=w[:, 0].reshape(h * dh, -1), w_k=w[:, 1].reshape(h * dh, -1),
        b_q=None if b is None else b[:, 0].reshape(-1),
        b_k=None if b is None else b[:, 1].reshape(-1),
        norm_weight=blk.input_layernorm.weight, norm_bias=blk.input_layernorm.bias,
        down_rows=blk.mlp.dense_4h_to_h.weight.T, scale=float(blk.attention.scaling),
    )


def _kv_heads(cfg) -> int:
    return getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads


def _llama_like(model_type: str) -> ArchSpec:
    return ArchSpec(model_type, "rms", True, _llama_layers, _llama_raw,
                    lambda m: m.model.embed_tokens.weight, _kv_heads)


ARCHITECTURES: dict[str, ArchSpec] = {
    "llama": _llama_like("llama"),
    "mistral": _llama_like("mistral"),
    "qwen2": _llama_like("qwen2"),
    "gpt2": ArchSpec("gpt2", "layer", False, lambda m: m.transformer.h, _gpt2_raw,
                     lambda m: m.transformer.wte.weight, lambda c: c.n_head),
    "gpt_neox": ArchSpec("gpt_neox", "layer", True, lambda m: m.gpt_neox.layers, _neox_raw,
                         lambda m: m.gpt_neox.embed_in.weight,
                         lambda c: c.num_attention_heads),
}


def supported_architectures() -> list[str]:
    """The ``config.model_type`` values the canonical view supports."""
    return sorted(ARCHITECTURES)


def arch_spec(model_or_config) -> ArchSpec:
    """The :class:`ArchSpec` of a model (or config); UnsupportedArchitectureError if none."""
    cfg = getattr(model_or_config, "config", model_or_config)
    model_type = getattr(cfg, "model_type", None)
    try:
        return ARCHITECTURES[model_type]
    except KeyError:
        raise UnsupportedArchitectureError(
            f"model_type {model_type!r} is not supported by the canonical weight view; "
            f"supported: {', '.join(supported_architectures())}. Add an ArchSpec to "
            "paperlib/models/arch.py to support it.") from None
