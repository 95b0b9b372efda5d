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
  case set (``paperlib.core.caseset`` schema) that the Finding-1 notebooks load,
  with a sidecar JSON (model and tokenizer fingerprints, generation arguments).

Chat templates: the system prompt, role markers and template text are prompt
rows the model sees, but they are not the user's words. With
``density_rows="user"`` (the default whenever a chat template is used) S is
normalised over the user's message tokens only and the other rows are 0, so
they neither set a column's maximum nor rank among the densest tokens.
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


def attribution_leave_one_out(model, prompt_ids, response_ids) -> torch.Tensor:
    """The exact definition I[n, m] = p(y_m | Z_m) - p(y_m | Z_m, E_i[x_n] zeroed).

    N + 1 teacher-forced forward passes (input embedding of position n set to
    0), by :func:`paperlib.explainers.faithfulness.leave_one_out`. Returns
    (N x M) in the model's dtype. What the first-order I estimates.
    """
    from paperlib.explainers.faithfulness import leave_one_out

    dtype = model.get_input_embeddings().weight.dtype
    return leave_one_out(model, prompt_ids, response_ids, dtype=dtype)


@dataclass
class AttributionResult:
    """prompt_tokens: N pieces (special prefix dropped), response_tokens: M pieces;
    I: (N, M) float32 raw importance; prefix_I: (n_prefix, M) rows of the dropped
    special tokens (e.g. BOS); S: (N, M) normalised (L=10, b=0); user_rows: (N,)
    bool rows S is restricted to (the user's message inside a chat template), or
    None for all rows."""

    prompt_tokens: list[str]
    response_tokens: list[str]
    I: np.ndarray = field(repr=False)
    prefix_I: np.ndarray = field(repr=False)
    user_rows: np.ndarray | None = field(default=None, repr=False)

    @property
    def S(self) -> np.ndarray:
        """S[n, m] = ceil(10 * relu(I) / column max), integers 0..10 (paper, b=0);
        with ``user_rows`` the max runs over those rows and the others are 0."""
        from paperlib.measures.density import normalise

        if self.user_rows is None:
            return normalise(self.I, L=10, b=0)
        out = np.zeros(self.I.shape, dtype=np.float64)
        out[self.user_rows] = normalise(self.I[self.user_rows], L=10, b=0)
        return out


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


DENSITY_ROWS = ("auto", "all", "user")
_META_KEYS = ("prompt_tokens", "response_tokens", "response_ids", "user_rows")


def _density_rows(density_rows: str, chat_template) -> str:
    if density_rows not in DENSITY_ROWS:
        raise ParameterError(f"density_rows must be one of {DENSITY_ROWS}, got {density_rows!r}")
    if density_rows == "auto":
        return "all" if chat_template is False or chat_template is None else "user"
    return density_rows


def _load_entry(path) -> dict:
    """A cached attribution entry; KeyError / ValueError when it lacks a part
    (the cache then moves it aside and recomputes it)."""
    from paperlib.core.io import load_npz

    value = load_npz(path)
    missing = [k for k in ("I", "prefix_I", "meta") if k not in value]
    missing += [k for k in _META_KEYS if k not in value.get("meta", {})]
    if missing:
        raise KeyError(f"entry lacks {missing}")
    return value


def _user_rows(gen, prompt: str, tokenizer, chat_template) -> list[bool] | None:
    from paperlib.measures.align import message_rows

    if chat_template is False or chat_template is None:
        return None
    return message_rows(gen.prompt_tokens, prompt, tokenizer).tolist()


def cache_params(model, tokenizer, prompt: str, *, fingerprint: dict | None = None,
                 tokenizer_fp: dict | None = None, max_new_tokens: int = 300,
                 chat_template=False) -> dict:
    """The cache key of :func:`explain_prompt`: model and tokenizer fingerprints
    (weights, config, generation config, tokenizer state and files, chat
    template), the prompt, the generation arguments, the algorithm and dtype."""
    from paperlib.models.loading import model_fingerprint, tokenizer_fingerprint

    return {"model": fingerprint or model_fingerprint(model),
            "tokenizer": tokenizer_fp or tokenizer_fingerprint(tokenizer), "prompt": prompt,
            "max_new_tokens": max_new_tokens, "chat_template": chat_template,
            "algorithm": ALGORITHM, "dtype": str(next(model.parameters()).dtype)}


def explain_prompt(model, tokenizer, prompt: str, *, fingerprint: dict | None = None,
                   tokenizer_fp: dict | None = None, max_new_tokens: int = 300,
                   chat_template=False, density_rows: str = "auto", engine: str = "fast",
                   cache: bool = True, **fast_kw) -> tuple[AttributionResult, list[int]]:
    """Greedy-generate a response to ``prompt`` and attribute it (cached).

    Cache key: :func:`cache_params`. ``density_rows``: "all" prompt rows, "user"
    (only the user's message inside the chat template) or "auto" ("user" when
    ``chat_template`` is used, else "all"). Returns (result, response_ids).
    """
    from paperlib.models.generation import generate
    from paperlib.core.io import ResultCache, save_npz

    rows = _density_rows(density_rows, chat_template)
    params = cache_params(model, tokenizer, prompt, fingerprint=fingerprint,
                          tokenizer_fp=tokenizer_fp, max_new_tokens=max_new_tokens,
                          chat_template=chat_template)

    def compute() -> dict:
        gen = generate(model, tokenizer, prompt, max_new_tokens, chat_template=chat_template)
        if not gen.response_ids:
            empty = np.zeros((len(gen.prompt_tokens), 0), np.float32)
            res = AttributionResult(gen.prompt_tokens, [], empty, empty[:gen.n_prefix])
        else:
            res = attribute(model, tokenizer, gen.prompt_ids, gen.response_ids,
                            n_prefix=gen.n_prefix, engine=engine, **fast_kw)
        meta = {"prompt_tokens": res.prompt_tokens, "response_tokens": res.response_tokens,
                "response_ids": gen.response_ids,
                "user_rows": _user_rows(gen, prompt, tokenizer, chat_template)}
        return {"I": res.I, "prefix_I": res.prefix_I, "meta": meta}

    if cache:
        value = ResultCache("attribution").get_or_compute(params, compute, save_npz,
                                                          _load_entry, ext="npz")
    else:
        value = compute()
    meta = value["meta"]
    user = meta["user_rows"] if rows == "user" else None
    res = AttributionResult(meta["prompt_tokens"], meta["response_tokens"], value["I"],
                            value["prefix_I"], None if user is None else np.asarray(user, bool))
    return res, meta["response_ids"]


def _write_sidecar(out_path: Path, model_name: str, params: dict) -> None:
    """``<case set>.json``: how the case set was made (read into result sidecars)."""
    import json

    from paperlib.core.io import atomic_write_text
    from paperlib.core.results import package_version

    info = {"model_name": model_name, "model": params["model"], "tokenizer": params["tokenizer"],
            "max_new_tokens": params["max_new_tokens"], "chat_template": params["chat_template"],
            "density_rows": params["density_rows"], "algorithm": ALGORITHM,
            "dtype": params["dtype"], "paperlib_version": package_version()}
    atomic_write_text(Path(out_path).with_suffix(".json"),
                      json.dumps(info, indent=1, ensure_ascii=False, default=str) + "\n")


def explain_cases(model, tokenizer, prompts: dict, model_name: str, out_path, *,
                  references: dict | None = None, max_new_tokens: int = 300,
                  chat_template=False, density_rows: str = "auto", engine: str = "fast",
                  cache: bool = True, progress: bool = True, **fast_kw) -> Path:
    """Generate + attribute every prompt (``{case_id: text}``), write a case set.

    The file (``paperlib.core.caseset`` schema, written atomically) holds, per case,
    the prompt / response pieces and S (L=10, b=0, uint8; see ``density_rows`` of
    :func:`explain_prompt`), like the frozen released case sets, so the Finding-1
    notebooks accept it as ``source``; beside it ``<stem>.json`` records the model
    and tokenizer fingerprints and the generation arguments. Empty responses are
    kept (M = 0). Returns ``out_path``.
    """
    from tqdm.auto import tqdm

    from paperlib.core.caseset import RawCase, write_case_set
    from paperlib.models.loading import model_fingerprint, tokenizer_fingerprint

    if not prompts:
        raise ParameterError("prompts is empty: nothing to explain")
    references = references or {}
    fp, tok_fp = model_fingerprint(model), tokenizer_fingerprint(tokenizer)
    cases = []
    for case_id, text in tqdm(prompts.items(), disable=not progress, desc=model_name):
        res, _ = explain_prompt(model, tokenizer, text, fingerprint=fp, tokenizer_fp=tok_fp,
                                max_new_tokens=max_new_tokens, chat_template=chat_template,
                                density_rows=density_rows, engine=engine, cache=cache,
                                **fast_kw)
        S = res.S.astype(np.uint8) if res.I.size else np.zeros(res.I.shape, np.uint8)
        cases.append(RawCase(id=str(case_id), prompt_tokens=res.prompt_tokens,
                             response_tokens=res.response_tokens,
                             reference=str(references.get(case_id, "")), S=S))
    path = write_case_set(out_path, model_name, cases)
    params = cache_params(model, tokenizer, "", fingerprint=fp, tokenizer_fp=tok_fp,
                          max_new_tokens=max_new_tokens, chat_template=chat_template)
    _write_sidecar(path, model_name, {**params, "density_rows": _density_rows(density_rows,
                                                                               chat_template)})
    return path
