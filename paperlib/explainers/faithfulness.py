"""Is the paper's attribution faithful? Two references for I[n, m].

The paper's importance I[n, m] = (d p(y_m | Z_m) / d E_i[x_n]) . E_i[x_n] (gradient
x input, :mod:`paperlib.explainers.attribution`) is a first-order Taylor estimate of
what removing the prompt token does. Two quantities it can be checked against:

* **exact leave-one-out** (:func:`leave_one_out`):
  LOO[n, m] = p(y_m | Z_m) - p(y_m | Z_m with the embedding row of x_n set to 0),
  the quantity I approximates (paper, Appendix A). N + 1 teacher-forced forward
  passes per case (batched), no gradient.
* **integrated gradients** (:func:`integrated_gradients`), with every prompt
  embedding row scaled TOGETHER from zero (alpha E_i[x_n] for the rows
  ``scaled_from .. N-1``, alpha from 0 to 1; response rows and the rows before
  ``scaled_from``, e.g. BOS, stay as they are):
  IG[n, m] = E_i[x_n] . int_0^1 d p(y_m | alpha) / d e_n dalpha.
  It is *complete*: sum_n IG[n, m] = p(y_m | Z_m) - p(y_m | scaled rows zeroed),
  up to the quadrature error. On trained pre-norm models the path is flat for
  alpha above ~ sqrt(eps) / rms(E) and steep below it, so the default rule
  (:func:`adaptive_rule`) scans p(alpha) with forward passes and puts ``steps``
  midpoint cells where it moves; fixed rules (:func:`quadrature`) are kept for
  smooth paths. Cost: the scan plus ``steps`` x M vector-Jacobian products per case.

Gradient x input is the alpha = 1 end of the same path (one gradient, no integral);
leave-one-out removes one row at a time, integrated gradients all of them together,
so the three agree only where the model is close to linear in the prompt rows.
:func:`attribute_three` runs all three on one case and times each.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from paperlib.core.errors import ParameterError, check_count
from paperlib.explainers.registry import register

# Part of cache keys: bump when the numbers a method gives change (for IG also the
# scan of the adaptive rule: 6 decades, 16 points per decade, floor 0.25).
LOO_ALGORITHM = "leave-one-out-embedding-row-zeroed/1"
IG_ALGORITHM = "integrated-gradients-prompt-rows-from-zero/1"
RULES = ("adaptive", "geometric", "gauss-legendre", "midpoint")


def _inputs(model, prompt_ids, response_ids):
    from paperlib.explainers.attribution import prepare_inputs

    ids, targets, n_prompt = prepare_inputs(model, prompt_ids, response_ids)
    emb = model.get_input_embeddings()(ids).detach()
    pos = n_prompt - 1 + torch.arange(targets.shape[0], device=emb.device)
    return emb, targets, pos, n_prompt


def _probs(model, E: torch.Tensor, pos: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """E: (B, T, D) input embeddings -> (B, M) probabilities of the targets."""
    logits = model(inputs_embeds=E, use_cache=False).logits[:, pos]  # (B, M, V)
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    probs = torch.softmax(logits, dim=-1)
    return probs.gather(2, targets[None, :, None].expand(E.shape[0], -1, 1))[..., 0]


@torch.no_grad()
def leave_one_out(model, prompt_ids, response_ids, *, batch_size: int = 32,
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """LOO (N x M, ``dtype``, on the CPU): p(y_m | Z_m) - p(y_m | Z_m, embedding row n
    zeroed), for every prompt position n (special prefix included; callers drop its rows).

    Teacher forcing as in the attribution: response token m is predicted at
    position N + m - 1. ``batch_size`` zeroed copies run per forward pass; the
    differences are taken in the model's dtype (half-precision logits are
    upcast to float32 before the softmax) and then stored as ``dtype``.
    """
    batch_size = check_count("batch_size", batch_size, 1)
    model.eval()
    emb, targets, pos, n_prompt = _inputs(model, prompt_ids, response_ids)
    base = _probs(model, emb[None], pos, targets)[0]
    out = torch.empty(n_prompt, targets.shape[0], dtype=dtype)
    for start in range(0, n_prompt, batch_size):
        rows = torch.arange(start, min(start + batch_size, n_prompt))
        E = emb[None].repeat(len(rows), 1, 1)
        E[torch.arange(len(rows)), rows] = 0
        out[rows] = (base[None] - _probs(model, E, pos, targets)).to(dtype).cpu()
    return out


def quadrature(steps: int, rule: str = "geometric", decades: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, weights) of a quadrature rule on [0, 1] (weights sum to 1).

    * "geometric" (default): ``steps`` Gauss-Legendre nodes on each of the panels
      [10^-(k+1), 10^-k], k = 0 .. ``decades`` - 1, and on [0, 10^-decades]:
      ``steps`` x (``decades`` + 1) nodes in all. Needed for pre-norm models: the
      first RMSNorm / LayerNorm makes a block nearly invariant to the scale of its
      input rows, so along alpha * E the probabilities barely move for alpha
      above ~ sqrt(eps) / rms(E) and change fast below it; uniform rules miss that.
    * "gauss-legendre": ``steps`` nodes on [0, 1], exact for polynomials of
      degree < 2 * steps;
    * "midpoint": the Riemann sum at (k + 1/2) / steps (the usual IG rule).
    """
    steps = check_count("steps", steps, 1, 4096)
    x, w = np.polynomial.legendre.leggauss(steps)
    if rule == "gauss-legendre":
        return (x + 1.0) / 2.0, w / 2.0
    if rule == "midpoint":
        return (np.arange(steps) + 0.5) / steps, np.full(steps, 1.0 / steps)
    if rule == "geometric":
        decades = check_count("decades", decades, 1, 15)
        # Gauss-Legendre in u = log10(alpha) on each decade, alpha = 10^u, d alpha = alpha ln10 du
        u = (-np.arange(decades, 0, -1.0))[:, None] + (x + 1.0) / 2.0
        alpha = 10.0 ** u
        w_dec = (w / 2.0) * alpha * np.log(10.0)
        # [0, 10^-decades]: plain Gauss-Legendre (the model is near its alpha = 0 limit there)
        tail = 10.0 ** -decades
        return (np.concatenate([(x + 1.0) / 2.0 * tail, alpha.ravel()]),
                np.concatenate([w / 2.0 * tail, w_dec.ravel()]))
    raise ParameterError(f"rule must be one of {RULES}, got {rule!r}")


def adaptive_rule(alphas, probs, steps: int, floor: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, weights) of a midpoint rule on [0, 1] whose cells follow the path.

    ``alphas``: (G,) increasing scan points from 0 to 1; ``probs``: (G, M) the target
    probabilities there (forward passes only). Each scan interval gets the mass
    (1 - floor) x its share of the total variation sum_m |Δp_m| plus ``floor`` x its
    share of log10(alpha) length (the first interval, from 0, counts as one interval),
    so cells are small where the probabilities move and never vanish elsewhere.
    ``steps`` cells of equal mass (edges interpolated linearly in alpha inside a scan
    interval); node = cell midpoint, weight = cell width (weights sum to 1). As
    ``steps`` grows every cell shrinks, so the rule converges like any midpoint rule.
    """
    steps = check_count("steps", steps, 1, 4096)
    a = np.asarray(alphas, dtype=np.float64)
    P = np.asarray(probs, dtype=np.float64).reshape(len(a), -1)
    if a.ndim != 1 or len(a) < 3 or a[0] != 0.0 or a[-1] != 1.0 or np.any(np.diff(a) <= 0):
        raise ParameterError("alphas must increase from 0 to 1 (at least 3 points)")
    var = np.abs(np.diff(P, axis=0)).sum(axis=1)
    logw = np.diff(np.log10(a[1:]))
    logw = np.concatenate([[logw.mean()], logw])
    mass = floor * logw / logw.sum()
    if var.sum() > 0:
        mass = mass + (1.0 - floor) * var / var.sum()
    cdf = np.concatenate([[0.0], np.cumsum(mass)]) / mass.sum()
    edges = np.interp(np.linspace(0.0, 1.0, steps + 1), cdf, a)
    edges[0], edges[-1] = 0.0, 1.0
    return (edges[:-1] + edges[1:]) / 2.0, np.diff(edges)


@torch.no_grad()
def _scan(model, emb, pos, targets, lo: int, hi: int, decades: int, per_decade: int = 16):
    """Scan points (0, then log-spaced 10^-decades .. 1) and the target probabilities there."""
    alphas = np.concatenate([[0.0], np.logspace(-decades, 0.0, decades * per_decade + 1)])
    probs = [_probs(model, _scaled(emb, torch.as_tensor(chunk, dtype=emb.dtype,
                                                         device=emb.device), lo, hi), pos, targets)
             for chunk in np.array_split(alphas, max(1, len(alphas) // 16))]
    return alphas, torch.cat(probs).double().cpu().numpy()


def _scaled(emb: torch.Tensor, alphas: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """(K, T, D): copies of ``emb`` with rows lo..hi-1 multiplied by each alpha."""
    scale = torch.ones(len(alphas), emb.shape[0], 1, dtype=emb.dtype, device=emb.device)
    scale[:, lo:hi, 0] = alphas[:, None]
    return emb[None] * scale


def _check_scaled_from(scaled_from: int, n_prompt: int) -> int:
    scaled_from = check_count("scaled_from", scaled_from, 0)
    if scaled_from >= n_prompt:
        raise ParameterError(f"scaled_from={scaled_from} leaves no prompt row to scale "
                             f"(the prompt has {n_prompt} tokens)")
    return scaled_from


def integrated_gradients(model, prompt_ids, response_ids, *, steps: int = 24,
                         rule: str = "adaptive", decades: int = 6, scaled_from: int = 0,
                         target_chunk: int = 16) -> torch.Tensor:
    """IG (N x M; float32, float64 for a float64 model) along the path
    alpha * (prompt rows scaled_from..N-1), alpha from 0 to 1.

    Rows before ``scaled_from`` (e.g. BOS: pass the number of special prefix
    tokens) are kept fixed and get 0. For each quadrature node the gradients of all
    M target probabilities are taken by batched vector-Jacobian products
    (``target_chunk`` targets per backward). Weights are frozen during the call.
    """
    from paperlib.explainers.attribution_fast import _check_model, _hidden, frozen_weights, \
        head_gradient

    _check_model(model)
    target_chunk = check_count("target_chunk", target_chunk, 1)
    emb, targets, pos, n_prompt = _inputs(model, prompt_ids, response_ids)
    lo = _check_scaled_from(scaled_from, n_prompt)
    if rule == "adaptive":
        nodes, weights = adaptive_rule(*_scan(model, emb, pos, targets, lo, n_prompt, decades),
                                       steps)
    else:
        nodes, weights = quadrature(steps, rule, decades)
    alphas = torch.as_tensor(nodes, dtype=emb.dtype, device=emb.device)
    w = torch.as_tensor(weights, dtype=torch.float64)
    k_total, m_total = len(nodes), targets.shape[0]
    grad_sum = torch.zeros(n_prompt, m_total, dtype=torch.float64)
    with frozen_weights(model), torch.enable_grad():
        E = _scaled(emb, alphas, lo, n_prompt).requires_grad_(True)
        h = _hidden(model, E)[:, pos]  # (K, M, D) final normed hidden states
        # d p_m / d h_m in closed form (no backward through the vocabulary head)
        g = head_gradient(model, h.detach().reshape(k_total * m_total, -1),
                          targets.repeat(k_total))[1].reshape(h.shape)
        for start in range(0, m_total, target_chunk):
            ms = torch.arange(start, min(start + target_chunk, m_total))
            cot = torch.zeros(len(ms), *h.shape, dtype=h.dtype, device=h.device)
            cot[torch.arange(len(ms)), :, ms] = g[:, ms].transpose(0, 1)
            (grads,) = torch.autograd.grad(h, E, grad_outputs=cot, is_grads_batched=True,
                                           retain_graph=True)  # (C, K, T, D)
            dots = (grads[:, :, :n_prompt] * emb[:n_prompt]).sum(-1).double().cpu()
            grad_sum[:, ms] = torch.einsum("ckn,k->nc", dots, w)
    grad_sum[:lo] = 0.0
    return grad_sum if emb.dtype == torch.float64 else grad_sum.float()


@torch.no_grad()
def path_end_probs(model, prompt_ids, response_ids, *, scaled_from: int = 0):
    """(p(y_m | Z_m), p(y_m | prompt rows scaled_from..N-1 zeroed)), each (M,) float64:
    the two ends of the integrated-gradients path, whose difference the IG rows add up to."""
    emb, targets, pos, n_prompt = _inputs(model, prompt_ids, response_ids)
    lo = _check_scaled_from(scaled_from, n_prompt)
    ends = _scaled(emb, torch.tensor([1.0, 0.0], dtype=emb.dtype, device=emb.device), lo, n_prompt)
    p = _probs(model, ends, pos, targets).double().cpu()
    return p[0], p[1]


def attribute_three(model, prompt_ids, response_ids, *, n_prefix: int = 0, steps: int = 24,
                    rule: str = "adaptive", methods=("I", "LOO", "IG")) -> dict:
    """Gradient x input (the paper's I), leave-one-out and integrated gradients of one
    case (``methods``: any of them), the special prefix rows dropped, and the seconds
    each took.

    Returns {name: (N, M) float32 array for each of ``methods``; "seconds": {name: s};
    "completeness": max_m |sum_n IG[n, m] - (p(y_m | Z_m) - p(y_m | rows zeroed))|
    (NaN without IG)}. Integrated gradients scale the rows after the prefix.
    """
    from paperlib.explainers.attribution_fast import attribution_fast

    jobs = {"I": lambda: attribution_fast(model, prompt_ids, response_ids),
            "LOO": lambda: leave_one_out(model, prompt_ids, response_ids),
            "IG": lambda: integrated_gradients(model, prompt_ids, response_ids, steps=steps,
                                               rule=rule, scaled_from=n_prefix)}
    unknown = sorted(set(methods) - set(jobs))
    if unknown or not methods:
        raise ParameterError(f"methods must be a non-empty subset of {tuple(jobs)}, got {methods}")
    timed, seconds = {}, {}
    for name in methods:
        start = time.perf_counter()
        timed[name] = jobs[name]().numpy()
        seconds[name] = time.perf_counter() - start
    gap = float("nan")
    if "IG" in timed:
        full, zeroed = path_end_probs(model, prompt_ids, response_ids, scaled_from=n_prefix)
        diff = np.abs(timed["IG"].astype(np.float64).sum(0) - (full - zeroed).numpy())
        gap = float(diff.max(initial=0.0))
    out = {k: v[n_prefix:].astype(np.float32) for k, v in timed.items()}
    return {**out, "seconds": seconds, "completeness": gap}


def _explain_with(method: str, model, tokenizer, prompt: str, max_new_tokens: int,
                  chat_template, **kw):
    from paperlib.explainers.attribution import AttributionResult
    from paperlib.models.generation import generate

    gen = generate(model, tokenizer, prompt, max_new_tokens, chat_template=chat_template)
    if not gen.response_ids:
        raise ParameterError(f"the model gave an empty response to {prompt[:40]!r}: "
                             "nothing to attribute")
    if method == "LOO":
        I = leave_one_out(model, gen.prompt_ids, gen.response_ids, **kw).numpy()
    else:
        I = integrated_gradients(model, gen.prompt_ids, gen.response_ids,
                                 scaled_from=gen.n_prefix, **kw).numpy()
    return AttributionResult(prompt_tokens=gen.prompt_tokens,
                             response_tokens=gen.response_tokens,
                             I=I[gen.n_prefix:].astype(np.float32),
                             prefix_I=I[:gen.n_prefix].astype(np.float32))


@register("leave_one_out")
def explain_leave_one_out(model, tokenizer, prompt: str, *, max_new_tokens: int = 300,
                          chat_template=False, **kw):
    """Greedy response to ``prompt`` + exact leave-one-out importance (N x M) in an
    :class:`~paperlib.explainers.attribution.AttributionResult` (``I`` holds LOO)."""
    return _explain_with("LOO", model, tokenizer, prompt, max_new_tokens, chat_template, **kw)


@register("integrated_gradients")
def explain_integrated_gradients(model, tokenizer, prompt: str, *, max_new_tokens: int = 300,
                                 chat_template=False, **kw):
    """Greedy response to ``prompt`` + integrated gradients (prompt rows scaled from zero,
    BOS kept) in an :class:`~paperlib.explainers.attribution.AttributionResult`."""
    return _explain_with("IG", model, tokenizer, prompt, max_new_tokens, chat_template, **kw)
