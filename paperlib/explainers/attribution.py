"""Prompt -> response attribution I[n, m] (Finding 1), reference engine and case runs.

I[n, m] = (d p(y_m | x, y_<m) / d E_i[x_n]) . E_i[x_n]: the gradient of the
next-token PROBABILITY (softmax, not log-prob) of response token m, teacher
forced on the prompt and the previous response tokens, w.r.t. the input
embedding of prompt token n, dotted with that embedding (first-order estimate
of "zeroing the embedding row of x_n"), summed over the embedding dim D.

* :func:`attribution_reference` - the authors' algorithm: one forward + full
  backward (weight gradients included) per response token. Slow; kept for
  tests and the benchmark.
* :func:`paperlib.explainers.attribution_fast.attribution_fast` - same numbers, no weight
  gradients, batched reverse / forward mode.
* :func:`attribute` -> :class:`AttributionResult` (pieces, raw I, S with L=10,
  b=0); :func:`explain_cases` generates + attributes many prompts and writes a
  case set (``paperlib.core.caseset`` schema) that the Finding-1 notebooks load.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from paperlib.core.errors import ParameterError

ALGORITHM = "grad-x-embedding-of-probability/1"


def prepare_inputs(model, prompt_ids, response_ids):
    """Teacher-forcing inputs: (ids (N + M - 1,), targets (M,), N) as long tensors.

    Response token m (0-based) is predicted at position N + m - 1; the last
    response token is a target only, never an input.
    """
    prompt = [int(i) for i in prompt_ids]
    response = [int(i) for i in response_ids]
    if not prompt or not response:
        raise ParameterError(f"need a non-empty prompt and response, got N={len(prompt)}, "
                             f"M={len(response)}")
    vocab = model.get_input_embeddings().weight.shape[0]
    bad = [i for i in prompt + response if not 0 <= i < vocab]
    if bad:
        raise ParameterError(f"token id {bad[0]} outside the model's vocabulary [0, {vocab})")
    device = model.get_input_embeddings().weight.device
    ids = torch.tensor(prompt + response[:-1], device=device)
    return ids, torch.tensor(response, device=device), len(prompt)


def attribution_reference(model, prompt_ids, response_ids) -> torch.Tensor:
    """The authors' algorithm: I (N x M, float32) by M full forward+backward passes.

    Each pass runs the whole sequence (prompt + response) through the model with
    weights requiring grad as loaded, takes p = softmax(logits)[y_m] at the
    position predicting y_m, back-propagates, and dots the input-embedding
    gradient with the embeddings of the N prompt tokens.
    """
    ids, targets, n_prompt = prepare_inputs(model, prompt_ids, response_ids)
    full = torch.cat([ids, targets[-1:]])  # the full sequence, as the authors ran it
    out = torch.zeros(n_prompt, targets.shape[0])
    embed = model.get_input_embeddings()
    with torch.enable_grad():
        for m in range(targets.shape[0]):
            emb = embed(full[None]).detach().requires_grad_(True)  # (1, T, D)
            logits = model(inputs_embeds=emb, use_cache=False).logits[0]
            p = torch.softmax(logits[n_prompt - 1 + m], dim=-1)[targets[m]]
            model.zero_grad(set_to_none=True)
            p.backward()
            out[:, m] = (emb.grad[0, :n_prompt] * emb[0, :n_prompt]).sum(-1).detach().float()
    model.zero_grad(set_to_none=True)
    return out


@torch.no_grad()
def attribution_leave_one_out(model, prompt_ids, response_ids) -> torch.Tensor:
    """The exact definition I[n, m] = p(y_m | Z_m) - p(y_m | Z_m, E_i[x_n] zeroed).

    N + 1 teacher-forced forward passes (input embedding of position n set to
    0). Returns (N x M) in the model's dtype. What the first-order I estimates.
    """
    ids, targets, n_prompt = prepare_inputs(model, prompt_ids, response_ids)
    emb = model.get_input_embeddings()(ids)  # (T, D)
    pos = n_prompt - 1 + torch.arange(targets.shape[0])

    def probs(e: torch.Tensor) -> torch.Tensor:  # (T, D) -> (M,)
        logits = model(inputs_embeds=e[None], use_cache=False).logits[0, pos]
        return torch.softmax(logits, dim=-1).gather(1, targets[:, None])[:, 0]

    base = probs(emb)
    out = torch.empty(n_prompt, targets.shape[0], dtype=emb.dtype)
    for n in range(n_prompt):
        e = emb.clone()
        e[n] = 0
        out[n] = base - probs(e)
    return out


@dataclass
class AttributionResult:
    """prompt_tokens: N pieces (special prefix dropped), response_tokens: M pieces;
    I: (N, M) float32 raw importance; prefix_I: (n_prefix, M) rows of the dropped
    special tokens (e.g. BOS); S: (N, M) normalised (L=10, b=0)."""

    prompt_tokens: list[str]
    response_tokens: list[str]
    I: np.ndarray = field(repr=False)
    prefix_I: np.ndarray = field(repr=False)

    @property
    def S(self) -> np.ndarray:
        """S[n, m] = ceil(10 * relu(I) / column max), integers 0..10 (paper, b=0)."""
        from paperlib.measures.density import normalise

        return normalise(self.I, L=10, b=0)


def _engine_fn(engine: str):
    if engine == "reference":
        return lambda model, p, r, **kw: attribution_reference(model, p, r)
    if engine == "fast":
        from paperlib.explainers.attribution_fast import attribution_fast

        return attribution_fast
    raise ParameterError(f"engine must be 'fast' or 'reference', got {engine!r}")


def attribute(model, tokenizer, prompt_ids, response_ids, *, n_prefix: int = 0,
              engine: str = "fast", **fast_kw) -> AttributionResult:
    """Attribute a response to its prompt; ``prompt_ids`` include ``n_prefix``
    leading special tokens (BOS) which the model sees but the result reports
    apart (``prefix_I``), like the released data (no ``<s>`` row).

    ``fast_kw`` (mode, chunk_size, max_memory_gb) go to the fast engine.
    """
    I = _engine_fn(engine)(model, prompt_ids, response_ids, **fast_kw).numpy()
    prompt_ids, response_ids = list(prompt_ids), list(response_ids)
    return AttributionResult(
        prompt_tokens=tokenizer.convert_ids_to_tokens(prompt_ids[n_prefix:]),
        response_tokens=tokenizer.convert_ids_to_tokens(response_ids),
        I=I[n_prefix:].astype(np.float32), prefix_I=I[:n_prefix].astype(np.float32))


def explain_prompt(model, tokenizer, prompt: str, *, fingerprint: dict | None = None,
                   max_new_tokens: int = 300, chat_template=False, engine: str = "fast",
                   cache: bool = True, **fast_kw) -> tuple[AttributionResult, list[int]]:
    """Greedy-generate a response to ``prompt`` and attribute it (cached).

    Cache key: the model fingerprint (:func:`paperlib.models.model_fingerprint`),
    the prompt, the generation arguments and :data:`ALGORITHM`. Returns
    (result, response_ids).
    """
    from paperlib.models.generation import generate
    from paperlib.core.io import ResultCache, load_npz, save_npz
    from paperlib.models.loading import model_fingerprint

    params = {"model": fingerprint or model_fingerprint(model), "prompt": prompt,
              "max_new_tokens": max_new_tokens, "chat_template": chat_template,
              "algorithm": ALGORITHM, "dtype": str(next(model.parameters()).dtype)}

    def compute() -> dict:
        gen = generate(model, tokenizer, prompt, max_new_tokens, chat_template=chat_template)
        if not gen.response_ids:
            empty = np.zeros((len(gen.prompt_tokens), 0), np.float32)
            res = AttributionResult(gen.prompt_tokens, [], empty, empty[:gen.n_prefix])
        else:
            res = attribute(model, tokenizer, gen.prompt_ids, gen.response_ids,
                            n_prefix=gen.n_prefix, engine=engine, **fast_kw)
        meta = {"prompt_tokens": res.prompt_tokens, "response_tokens": res.response_tokens,
                "response_ids": gen.response_ids}
        return {"I": res.I, "prefix_I": res.prefix_I, "meta": meta}

    if cache:
        value = ResultCache("attribution").get_or_compute(params, compute, save_npz,
                                                          load_npz, ext="npz")
    else:
        value = compute()
    meta = value["meta"]
    res = AttributionResult(meta["prompt_tokens"], meta["response_tokens"],
                            value["I"], value["prefix_I"])
    return res, meta["response_ids"]


def explain_cases(model, tokenizer, prompts: dict, model_name: str, out_path, *,
                  references: dict | None = None, max_new_tokens: int = 300,
                  chat_template=False, engine: str = "fast", cache: bool = True,
                  progress: bool = True, **fast_kw) -> Path:
    """Generate + attribute every prompt (``{case_id: text}``), write a case set.

    The file (``paperlib.core.caseset`` schema, written atomically) holds, per case,
    the prompt / response pieces and S (L=10, b=0, uint8), like the frozen
    released case sets, so the Finding-1 notebooks accept it as ``source``.
    Empty responses are kept (M = 0). Returns ``out_path``.
    """
    from tqdm.auto import tqdm

    from paperlib.core.caseset import RawCase, write_case_set
    from paperlib.models.loading import model_fingerprint

    if not prompts:
        raise ParameterError("prompts is empty: nothing to explain")
    references = references or {}
    fp = model_fingerprint(model)
    cases = []
    for case_id, text in tqdm(prompts.items(), disable=not progress, desc=model_name):
        res, _ = explain_prompt(model, tokenizer, text, fingerprint=fp,
                                max_new_tokens=max_new_tokens, chat_template=chat_template,
                                engine=engine, cache=cache, **fast_kw)
        S = res.S.astype(np.uint8) if res.I.size else np.zeros(res.I.shape, np.uint8)
        cases.append(RawCase(id=str(case_id), prompt_tokens=res.prompt_tokens,
                             response_tokens=res.response_tokens,
                             reference=str(references.get(case_id, "")), S=S))
    return write_case_set(out_path, model_name, cases)
