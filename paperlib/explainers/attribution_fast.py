"""Fast prompt -> response attribution: the same I[n, m] as the reference, cheaper.

I[n, m] = (d p(y_m | x, y_<m) / d E_i[x_n]) . E_i[x_n]   (teacher forcing)

Where the reference does one forward + full backward (weights included) per
response token, this engine

* freezes the weights (no weight gradients; flags restored afterwards);
* never back-propagates through the (V x D) output head: with h_m the final
  (normed) hidden state at the position predicting y_m and p the softmax,
  d p_y / d h_m = g_m = (p_y (onehot(y) - p)) @ E_o, computed once from the
  primal. The coefficient vector is formed first (its y entry as p_y (1 - p_y),
  exact for a confident token) and multiplied by E_o once, as the head's own
  backward does; the algebraically equal p_y (E_o[y] - p @ E_o) subtracts two
  nearly equal vectors and loses ~1/(1 - p_y) of float32's precision;
* reverse mode (good when M <= N): targets in chunks of consecutive m; one
  forward over the prefix the chunk needs, then one vector-Jacobian product
  per target, batched with ``torch.autograd.grad(..., is_grads_batched=True)``
  -> columns I[:, m]. Causality: target m's gradient never needs positions
  after N + m - 1, so a chunk runs only up to its last target and its targets
  span at most ``max(1, N + m_first) / 16`` positions (the work spent on
  positions that are zero for a chunk's earlier targets stays under ~3%);
* forward mode (good when N < M): one Jacobian-vector product per prompt token
  n (tangent = E_i[x_n] placed at position n, zero elsewhere) batched with
  ``torch.func.vmap(torch.func.jvp)``; its tangent on h gives the whole row
  I[n, :] = (dh_m . g_m)_m at once.

``precision="bfloat16"`` runs the model's matrix products under
``torch.autocast`` in bfloat16 (opt-in; weights untouched, head gradient and
output in float32): faster where the CPU / GPU has bfloat16 units, at a
precision that :mod:`paperlib.cli.compare` reports as the share of S cells in
the same bin as float32.

Works for the families of :mod:`paperlib.models.arch` (eager or sdpa
attention; eager is what :func:`paperlib.models.load_model` loads), also with
a model dispatched over several devices or offloaded by ``device_map``
(Accelerate hooks move the activations; with weights offloaded to the CPU or
disk only reverse mode runs, and "auto" picks it).
"""
from __future__ import annotations

import contextlib

import torch

from paperlib.core.errors import ParameterError, UnsupportedArchitectureError, check_range
from paperlib.models.arch import ARCHITECTURES, supported_architectures
from paperlib.models.generation import input_device, is_offloaded

PRECISIONS = ("float32", "bfloat16")
SPAN_FRACTION = 16  # a reverse chunk spans at most (N + m_first) / SPAN_FRACTION targets


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
    Returns p (M,) = softmax(head(h))[y] and g (M, D) = d p / d h =
    c @ W with c = p_y (onehot(y) - softmax), W = output head weight (V, D):
    the backward of the head applied to c (so offloaded heads work too), in
    float32 or the model's dtype if wider.
    """
    head = model.get_output_embeddings()
    with torch.enable_grad(), torch.autocast(h.device.type, enabled=False):
        x = h.detach().to(head.weight.dtype).requires_grad_(True)
        logits = head(x)
        with torch.no_grad():
            y = targets.to(logits.device)[:, None]
            probs = torch.softmax(logits.to(torch.promote_types(logits.dtype, torch.float32)), -1)
            p = probs.gather(1, y)
            coef = (-p * probs).scatter_(1, y, p * (1 - p))  # exact y entry: 1 - p_y
        (g,) = torch.autograd.grad(logits, x, grad_outputs=coef.to(logits.dtype))
    return p[:, 0], g.detach()


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


def reverse_chunks(units, n_prompt: int, chunk: int) -> list[list[int]]:
    """Split sorted target indices into chunks of consecutive m for batched VJPs.

    A chunk holds at most ``chunk`` targets and spans at most
    ``max(1, (n_prompt + first) // SPAN_FRACTION)`` positions, so the positions
    it runs past an earlier target's own prefix (work causality makes zero) stay
    a small share of each VJP's length.
    """
    out: list[list[int]] = []
    for m in (int(u) for u in units):
        cur = out[-1] if out else None
        span = max(1, (n_prompt + cur[0]) // SPAN_FRACTION) if cur else 0
        if cur and len(cur) < chunk and m - cur[0] < span:
            cur.append(m)
        else:
            out.append([m])
    return out


def _reverse(model, emb, n_prompt, targets, chunk, units=None):
    """I (N, M) by batched VJPs (see :func:`reverse_chunks`).

    ``units`` (sorted target indices) restricts the columns computed (others 0).
    """
    m_total = targets.shape[0]
    out = torch.zeros(n_prompt, m_total, dtype=torch.float32, device=emb.device)
    units = range(m_total) if units is None else units
    for group in reverse_chunks(units, n_prompt, chunk):
        ms = torch.tensor(group, device=emb.device)
        length = n_prompt + group[-1]  # positions 0 .. N + m_last - 1
        e = emb[:length].detach().clone().requires_grad_(True)
        hidden = _hidden(model, e)
        h = hidden[(n_prompt - 1 + ms).to(hidden.device)]  # (C, D)
        _, g = head_gradient(model, h.detach(), targets[ms])
        cot = torch.zeros(len(group), *h.shape, dtype=h.dtype, device=h.device)
        cot[torch.arange(len(group)), torch.arange(len(group))] = g.to(h)
        (grads,) = torch.autograd.grad(h, e, grad_outputs=cot, is_grads_batched=True)
        with torch.autocast(emb.device.type, enabled=False):  # the final sum in float32
            out[:, ms] = torch.einsum("cnd,nd->nc", grads[:, :n_prompt].float(),
                                      emb[:n_prompt].float())
        del e, h, grads
    return out


def _forward(model, emb, n_prompt, targets, chunk, units=None):
    """I (N, M) by batched JVPs, prompt tokens in chunks of ``chunk``.

    ``units`` (prompt indices) restricts the rows computed (others 0).
    """
    pos = n_prompt - 1 + torch.arange(targets.shape[0], device=emb.device)
    with torch.no_grad():
        hidden = _hidden(model, emb)
    pos = pos.to(hidden.device)
    _, g = head_gradient(model, hidden[pos], targets)
    g = g.to(hidden.device).float()

    def hidden_at_targets(e):
        return _hidden(model, e)[pos]

    def jvp_one(tangent):
        return torch.func.jvp(hidden_at_targets, (emb,), (tangent,))[1]

    out = torch.zeros(n_prompt, targets.shape[0], dtype=torch.float32, device=emb.device)
    units = torch.arange(n_prompt) if units is None else torch.as_tensor(units)
    for start in range(0, len(units), chunk):
        ns = units[start:start + chunk].to(emb.device)
        tangents = torch.zeros(len(ns), *emb.shape, dtype=emb.dtype, device=emb.device)
        tangents[torch.arange(len(ns)), ns] = emb[ns]
        dh = torch.func.vmap(jvp_one)(tangents)  # (C, M, D)
        with torch.autocast(emb.device.type, enabled=False):  # the final sum in float32
            out[ns] = torch.einsum("cmd,md->cm", dh.float(), g).to(out.device)
    return out


def choose_mode(n_prompt: int, n_response: int) -> str:
    """"forward" when N < M (N JVPs are cheaper than M VJPs), else "reverse"."""
    return "forward" if n_prompt < n_response else "reverse"


def _inputs(model, prompt_ids, response_ids):
    """(ids, targets, N) as in :func:`~paperlib.explainers.attribution.prepare_inputs`,
    on the device the input embedding runs on (also when it is offloaded)."""
    from paperlib.explainers.attribution import prepare_inputs

    device = input_device(model)
    if device.type != "meta" and model.get_input_embeddings().weight.device == device:
        return prepare_inputs(model, prompt_ids, response_ids)
    with torch.device("meta"):  # validation only; the ids are rebuilt on ``device``
        _, _, n_prompt = prepare_inputs(model, prompt_ids, response_ids)
    prompt, response = [int(i) for i in prompt_ids], [int(i) for i in response_ids]
    return (torch.tensor(prompt + response[:-1], device=device),
            torch.tensor(response, device=device), n_prompt)


def _autocast(precision: str, device: torch.device):
    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def attribution_fast(model, prompt_ids, response_ids, *, mode: str = "auto",
                     chunk_size: int | None = None, max_memory_gb: float = 2.0,
                     dtype: torch.dtype | None = None, precision: str = "float32",
                     _units=None) -> torch.Tensor:
    """I (N x M, float32) for prompt ids (N,) and response ids (M,), no weight grads.

    ``mode``: "auto" (:func:`choose_mode`), "reverse" or "forward".
    ``chunk_size``: VJPs / JVPs per batch (default: from ``max_memory_gb``).
    ``dtype``: the dtype to compute in; None = the model's dtype (a different
    dtype raises ParameterError: load the model in that dtype instead).
    ``precision``: "float32" (exact to rounding) or "bfloat16" (autocast, opt-in).
    Equals :func:`paperlib.explainers.attribution.attribution_reference` to rounding.
    ``_units`` (benchmark only): rows (forward) / columns (reverse) to compute.
    """
    _check_model(model)
    if mode not in ("auto", "reverse", "forward"):
        raise ParameterError(f"mode must be 'auto', 'reverse' or 'forward', got {mode!r}")
    if precision not in PRECISIONS:
        raise ParameterError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    check_range("max_memory_gb", max_memory_gb, 1e-3, None)
    model_dtype = next(model.parameters()).dtype
    if dtype is not None and dtype != model_dtype:
        raise ParameterError(f"model weights are {model_dtype}, dtype={dtype} asked: load the "
                             f"model with dtype={dtype}")
    ids, targets, n_prompt = _inputs(model, prompt_ids, response_ids)
    if is_offloaded(model):  # offload hooks swap weights in and out: no forward-mode AD
        if mode == "forward":
            raise ParameterError("mode='forward' cannot run through weights offloaded by "
                                 "device_map (cpu / disk): use mode='reverse' or 'auto'")
        mode = "reverse"
    mode = choose_mode(n_prompt, targets.shape[0]) if mode == "auto" else mode
    if chunk_size is None:
        chunk_size = _auto_chunk(model, ids.shape[0], max_memory_gb)
    check_range("chunk_size", chunk_size, 1, None)
    with frozen_weights(model):
        emb = model.get_input_embeddings()(ids).detach()
        engine = _forward if mode == "forward" else _reverse
        with torch.enable_grad(), _autocast(precision, emb.device):
            out = engine(model, emb, n_prompt, targets, int(chunk_size), _units)
    return out.detach().float().cpu()
