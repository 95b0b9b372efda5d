"""The canonical weight view that the explainers read, for any supported family.

Conventions (per layer l, head h; D = model width, D' = head size, H = query
heads, I = FFN width, V = vocabulary):

* ``W_q[h]``, ``W_k[h]``: (D, D'), acting on the row vector of the
  *gain-free normalised* hidden state ``xhat``: RMSNorm ``xhat = x / rms(x)``;
  LayerNorm ``xhat = (x - mean(x)) / std(x)``. The pre-attention norm gain g is
  folded in (rows of W multiplied by g), so for every family::

      q_h = xhat @ W_q[h] + b_q[h]        k_h = xhat @ W_k[h] + b_k[h]

  BEFORE rotary position embeddings (LLaMA / Mistral / Qwen2 rotate all D'
  dims, GPT-NeoX the first ``rotary_dims``; GPT-2 has none). The model's own
  pre-softmax score is ``scale * q_h . k_h`` after rotary.
* ``b_q``, ``b_k``: (H, D') or None. They collect the projection bias (Qwen2,
  GPT-2, GPT-NeoX) AND, for LayerNorm families, the norm bias beta pushed
  through the projection (``beta @ W^T``): the "total" bias. None when both
  are absent (LLaMA, Mistral).
* grouped-query attention: k heads are repeated so that ``W_k`` has H heads
  (query head h reads key head ``h // (H / H_kv)``, as HF's ``repeat_kv``).
* ``W_down``: (I, D), the FFN down-projection as rows ("values").
* ``embed_in`` (V, D) input embeddings, ``embed_out`` (V, D) output embeddings
  (the same tensor for tied models, e.g. GPT-2). Neither has the final norm
  folded in.

``canonical_view(model)`` is lazy: ``view.layer(l)`` builds one layer on demand
(a 7B model is never materialised 32 layers at a time). Tensors are detached
float copies on the model's device.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from paperlib.core.errors import ParameterError
from paperlib.models.arch import ArchSpec, RawLayer, arch_spec


@dataclass(frozen=True)
class CanonicalLayer:
    """One layer. W_q, W_k: (H, D, D'); b_q, b_k: (H, D') or None;
    W_down: (I, D); scale: float score scale; rotary_dims: int (0 = none)."""

    index: int
    W_q: torch.Tensor
    W_k: torch.Tensor
    b_q: torch.Tensor | None
    b_k: torch.Tensor | None
    W_down: torch.Tensor
    scale: float
    rotary_dims: int


def _fold(w: torch.Tensor, bias: torch.Tensor | None, raw: RawLayer, n_heads: int,
          dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor | None]:
    """w: (n_heads * D', D) Linear weight -> (n_heads, D, D') with gain folded, + bias."""
    w = w.detach().to(dtype)
    gain = raw.norm_weight.detach().to(dtype)
    folded = (w * gain[None, :]).T.reshape(w.shape[1], n_heads, -1).permute(1, 0, 2)
    total = None if bias is None else bias.detach().to(dtype)
    if raw.norm_bias is not None:
        beta_term = w @ raw.norm_bias.detach().to(dtype)  # (n_heads * D',)
        total = beta_term if total is None else total + beta_term
    if total is not None:
        total = total.reshape(n_heads, -1)
    return folded.contiguous(), total


def _repeat_heads(t: torch.Tensor | None, n_rep: int) -> torch.Tensor | None:
    """(H_kv, ...) -> (H_kv * n_rep, ...), head h of the result = kv head h // n_rep."""
    return None if t is None else t.repeat_interleave(n_rep, dim=0)


class CanonicalView:
    """Lazy canonical view of a causal LM (see module doc for conventions).

    Attributes: model_type, n_layers, n_heads, n_kv_heads, d_model (D),
    d_head (D'), rotary_dims, tied (bool), norm ("rms" | "layer").
    """

    def __init__(self, model: torch.nn.Module, dtype: torch.dtype = torch.float32):
        self.model = model
        self.spec: ArchSpec = arch_spec(model)
        self.dtype = dtype
        cfg = model.config
        self.model_type = self.spec.model_type
        self.norm = self.spec.norm
        self.n_layers = len(self.spec.layers(model))
        raw0 = self.spec.raw_layer(model, 0)
        self.d_model = raw0.w_q.shape[1]
        self.n_kv_heads = self.spec.n_kv_heads(cfg)
        self.n_heads = cfg.num_attention_heads if hasattr(cfg, "num_attention_heads") else cfg.n_head
        self.d_head = raw0.w_q.shape[0] // self.n_heads
        self.rotary_dims = self._rotary_dims(cfg)
        out = model.get_output_embeddings()
        self.tied = out is not None and out.weight is self.spec.embed_in(model)

    def _rotary_dims(self, cfg) -> int:
        if not self.spec.rotary:
            return 0
        rope = getattr(cfg, "rope_parameters", None) or {}
        return int(self.d_head * rope.get("partial_rotary_factor", 1.0))

    @property
    def embed_in(self) -> torch.Tensor:
        """(V, D) input embedding matrix."""
        return self.spec.embed_in(self.model).detach().to(self.dtype)

    @property
    def embed_out(self) -> torch.Tensor:
        """(V, D) output embedding (unembedding) matrix; same values as embed_in if tied."""
        return self.model.get_output_embeddings().weight.detach().to(self.dtype)

    def layer(self, index: int) -> CanonicalLayer:
        """Build the canonical weights of layer ``index`` (0-based)."""
        if not isinstance(index, int) or not 0 <= index < self.n_layers:
            raise ParameterError(f"layer index {index!r} out of range [0, {self.n_layers - 1}]")
        raw = self.spec.raw_layer(self.model, index)
        w_q, b_q = _fold(raw.w_q, raw.b_q, raw, self.n_heads, self.dtype)
        w_k, b_k = _fold(raw.w_k, raw.b_k, raw, self.n_kv_heads, self.dtype)
        n_rep = self.n_heads // self.n_kv_heads
        return CanonicalLayer(
            index=index, W_q=w_q, W_k=_repeat_heads(w_k, n_rep), b_q=b_q,
            b_k=_repeat_heads(b_k, n_rep),
            W_down=raw.down_rows.detach().to(self.dtype).contiguous(),
            scale=raw.scale, rotary_dims=self.rotary_dims)

    def __iter__(self):
        return (self.layer(i) for i in range(self.n_layers))

    def __len__(self) -> int:
        return self.n_layers

    def __repr__(self) -> str:
        return (f"CanonicalView({self.model_type}, L={self.n_layers}, H={self.n_heads}, "
                f"H_kv={self.n_kv_heads}, D={self.d_model}, D'={self.d_head}, tied={self.tied})")


def canonical_view(model: torch.nn.Module, dtype: torch.dtype = torch.float32) -> CanonicalView:
    """The lazy :class:`CanonicalView` of ``model``.

    Raises UnsupportedArchitectureError (naming ``model_type`` and listing the
    supported ones) for any other family.
    """
    return CanonicalView(model, dtype=dtype)


def check_layers(layers, n_layers: int) -> list[int]:
    """0-based layer indices: None -> [first, last]; negative indices count from
    the end (-1 = last); duplicates removed, order kept."""
    if layers is None:
        layers = [0, n_layers - 1]
    if isinstance(layers, int):
        layers = [layers]
    out: list[int] = []
    for layer in layers:
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) \
                or not -n_layers <= layer < n_layers:
            raise ParameterError(f"layer {layer!r} is out of range for a model with "
                                 f"{n_layers} layers (0..{n_layers - 1}, or -1 for the last)")
        if int(layer) % n_layers not in out:
            out.append(int(layer) % n_layers)
    return out


def as_view(model):
    """``model`` if it is a CanonicalView, else :func:`canonical_view` of it."""
    return model if isinstance(model, CanonicalView) else canonical_view(model)
