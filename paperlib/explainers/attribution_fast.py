"""Fast prompt -> response attribution: the same I[n, m] as the reference, cheaper.

I[n, m] = (d p(y_m | x, y_<m) / d E_i[x_n]) . E_i[x_n]   (teacher forcing)

Where the reference does one forward + full backward (weights included) per
response token, this engine

* freezes the weights (no weight gradients; flags restored afterwards);
* never back-propagates through the (V x D) output head: with h_m the final
  (normed) hidden state at the position predicting y_m and p the softmax,
  d p_y / d h_m = g_m = p_y (E_o[y] - p^T E_o) exactly, computed once from the
  primal; only the (M x D) hidden states are differentiated;
* reverse mode (good when M <= N): targets in chunks of C consecutive m; one
  forward over the prefix the chunk needs (causal: position N + m - 1 is the
  last one that matters), then C vector-Jacobian products batched with
  ``torch.autograd.grad(..., is_grads_batched=True)`` -> C columns I[:, m];
* forward mode (good when N < M): one Jacobian-vector product per prompt token
  n (tangent = E_i[x_n] placed at position n, zero elsewhere) batched with
  ``torch.func.vmap(torch.func.jvp)``; its tangent on h gives the whole row
  I[n, :] = (dh_m . g_m)_m at once.

Works for the families of :mod:`paperlib.models.arch` (eager or sdpa
attention; eager is what :func:`paperlib.models.load_model` loads).
"""
from __future__ import annotations

import contextlib

import torch

from paperlib.core.errors import ParameterError, UnsupportedArchitectureError, check_range
from paperlib.models.arch import ARCHITECTURES, supported_architectures


@contextlib.contextmanager
def frozen_weights(model: torch.nn.Module):
    """Within the block: no parameter requires grad and the model is in eval mode.

    The previous ``requires_grad`` flags and training mode are restored on exit.
    """
    flags = [(p, p.requires_grad) for p in model.parameters()]
    was_training = model.training
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        model.eval()
        yield model
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(was_training)


def _check_model(model) -> None:
    mt = getattr(model.config, "model_type", None)
    if mt not in ARCHITECTURES:
        raise UnsupportedArchitectureError(
            f"the fast attribution engine does not support model_type {mt!r} "
            f"(supported: {', '.join(supported_architectures())}); use "
            "attribution_reference() for it.")
    if not isinstance(model.get_output_embeddings(), torch.nn.Linear):
        raise UnsupportedArchitectureError(f"{mt}: output head is not a plain Linear layer")


def _hidden(model, emb: torch.Tensor) -> torch.Tensor:
    """emb: (T, D) or (B, T, D) -> final normed hidden states, same leading shape."""
    batched = emb.dim() == 3
    out = model.base_model(inputs_embeds=emb if batched else emb[None], use_cache=False)
    h = out.last_hidden_state
    return h if batched else h[0]


def head_gradient(model, h: torch.Tensor, targets: torch.Tensor):
    """Target probabilities and their gradients w.r.t. the final hidden states.

    h: (M, D) hidden states at the positions predicting ``targets`` (M,).
    Returns p (M,) = softmax(head(h))[y] and g (M, D) = d p / d h
    = p_y (W[y] - softmax @ W), W = output head weight (V, D).
    """
    head = model.get_output_embeddings()
    with torch.no_grad():
        probs = torch.softmax(head(h), dim=-1)  # (M, V)
        p = probs.gather(1, targets[:, None])[:, 0]
        w = head.weight
        g = p[:, None] * (w[targets] - probs @ w)
    return p, g


def _auto_chunk(model, seq_len: int, max_memory_gb: float) -> int:
    """Batch size whose activations fit ``max_memory_gb`` (rough, conservative)."""
    cfg = model.config
    d = cfg.hidden_size if hasattr(cfg, "hidden_size") else cfg.n_embd
    inter = getattr(cfg, "intermediate_size", None) or getattr(cfg, "n_inner", None) or 4 * d
    heads = getattr(cfg, "num_attention_heads", None) or cfg.n_head
    n_layers = getattr(cfg, "num_hidden_layers", None) or cfg.n_layer
    item = seq_len * n_layers * (16 * d + 4 * inter + 4 * heads * seq_len)
    item *= next(model.parameters()).element_size()
    return int(max(1, min(64, max_memory_gb * 2**30 // max(item, 1))))


def _reverse(model, emb, n_prompt, targets, chunk, units=None):
    """I (N, M) by batched VJPs, targets in chunks of ``chunk`` consecutive m.

    ``units`` (sorted target indices) restricts the columns computed (others 0).
    """
    m_total = targets.shape[0]
    out = emb.new_zeros(n_prompt, m_total)
    units = torch.arange(m_total) if units is None else torch.as_tensor(units)
    for start in range(0, len(units), chunk):
        ms = units[start:start + chunk]
        length = n_prompt + int(ms[-1])  # positions 0 .. N + m_last - 1
        e = emb[:length].detach().clone().requires_grad_(True)
        h = _hidden(model, e)[n_prompt - 1 + ms]  # (C, D)
        _, g = head_gradient(model, h.detach(), targets[ms])
        cot = torch.zeros(len(ms), *h.shape, dtype=h.dtype, device=h.device)
        cot[torch.arange(len(ms)), torch.arange(len(ms))] = g
        (grads,) = torch.autograd.grad(h, e, grad_outputs=cot, is_grads_batched=True)
        out[:, ms] = torch.einsum("cnd,nd->nc", grads[:, :n_prompt], emb[:n_prompt])
        del e, h, grads
    return out


def _forward(model, emb, n_prompt, targets, chunk, units=None):
    """I (N, M) by batched JVPs, prompt tokens in chunks of ``chunk``.

    ``units`` (prompt indices) restricts the rows computed (others 0).
    """
    pos = n_prompt - 1 + torch.arange(targets.shape[0])
    with torch.no_grad():
        _, g = head_gradient(model, _hidden(model, emb)[pos], targets)

    def hidden_at_targets(e):
        return _hidden(model, e)[pos]

    def jvp_one(tangent):
        return torch.func.jvp(hidden_at_targets, (emb,), (tangent,))[1]

    out = emb.new_zeros(n_prompt, targets.shape[0])
    units = torch.arange(n_prompt) if units is None else torch.as_tensor(units)
    for start in range(0, len(units), chunk):
        ns = units[start:start + chunk]
        tangents = torch.zeros(len(ns), *emb.shape, dtype=emb.dtype, device=emb.device)
        tangents[torch.arange(len(ns)), ns] = emb[ns]
        dh = torch.func.vmap(jvp_one)(tangents)  # (C, M, D)
        out[ns] = torch.einsum("cmd,md->cm", dh, g)
    return out


def choose_mode(n_prompt: int, n_response: int) -> str:
    """"forward" when N < M (N JVPs are cheaper than M VJPs), else "reverse"."""
    return "forward" if n_prompt < n_response else "reverse"


def attribution_fast(model, prompt_ids, response_ids, *, mode: str = "auto",
                     chunk_size: int | None = None, max_memory_gb: float = 2.0,
                     dtype: torch.dtype | None = None, _units=None) -> torch.Tensor:
    """I (N x M, float32) for prompt ids (N,) and response ids (M,), no weight grads.

    ``mode``: "auto" (:func:`choose_mode`), "reverse" or "forward".
    ``chunk_size``: VJPs / JVPs per batch (default: from ``max_memory_gb``).
    ``dtype``: the dtype to compute in; None = the model's dtype (a different
    dtype raises ParameterError: load the model in that dtype instead).
    Equals :func:`paperlib.explainers.attribution.attribution_reference` to rounding.
    ``_units`` (benchmark only): rows (forward) / columns (reverse) to compute.
    """
    from paperlib.explainers.attribution import prepare_inputs

    _check_model(model)
    if mode not in ("auto", "reverse", "forward"):
        raise ParameterError(f"mode must be 'auto', 'reverse' or 'forward', got {mode!r}")
    check_range("max_memory_gb", max_memory_gb, 1e-3, None)
    model_dtype = next(model.parameters()).dtype
    if dtype is not None and dtype != model_dtype:
        raise ParameterError(f"model weights are {model_dtype}, dtype={dtype} asked: load the "
                             f"model with dtype={dtype}")
    ids, targets, n_prompt = prepare_inputs(model, prompt_ids, response_ids)
    mode = choose_mode(n_prompt, targets.shape[0]) if mode == "auto" else mode
    if chunk_size is None:
        chunk_size = _auto_chunk(model, ids.shape[0], max_memory_gb)
    check_range("chunk_size", chunk_size, 1, None)
    with frozen_weights(model):
        emb = model.get_input_embeddings()(ids).detach()
        engine = _forward if mode == "forward" else _reverse
        with torch.enable_grad():
            out = engine(model, emb, n_prompt, targets, int(chunk_size), _units)
    return out.detach().float().cpu()
