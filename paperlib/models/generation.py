"""Greedy, deterministic generation returning token pieces like the released data.

The released cases hold SentencePiece pieces ("▁the", "<0x0A>" for a newline)
of the prompt WITHOUT the leading ``<s>`` and of the response WITHOUT the final
``</s>``. :func:`generate` returns the same: ``prompt_tokens`` /
``response_tokens`` are ``tokenizer.convert_ids_to_tokens`` pieces with the
special prefix (BOS) and the EOS dropped. For LLaMA-style SentencePiece
tokenizers these are exactly the released kind of pieces; for byte-level BPE
tokenizers (GPT-2, GPT-NeoX) they are byte-level pieces instead ("Ġthe" marks a
leading space, "Ċ" a newline) - same role, different spelling.

``prompt_ids`` keep the BOS the tokenizer adds (the model saw it);
``n_prefix`` says how many leading special ids ``prompt_ids`` has.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch

from paperlib.core.errors import ParameterError, check_range


@dataclass
class GenerationResult:
    """prompt_ids: (n_prefix + N,) ids fed to the model; response_ids: (M,) ids
    (no EOS); prompt_tokens: N pieces; response_tokens: M pieces."""

    prompt: str
    prompt_ids: list[int]
    response_ids: list[int]
    prompt_tokens: list[str]
    response_tokens: list[str]
    n_prefix: int
    stopped_at_eos: bool
    text: str = field(default="")


def format_prompt(tokenizer, prompt: str, chat_template=False) -> str:
    """The text fed to the model.

    ``chat_template``: False / None -> ``prompt`` as is; a str -> a format string
    with one ``{prompt}`` field (e.g. Vicuna's "USER: {prompt} ASSISTANT:");
    True -> the tokenizer's own chat template (one user turn).
    """
    if not isinstance(prompt, str):
        raise ParameterError(f"prompt must be a str, got {type(prompt).__name__}")
    if chat_template is False or chat_template is None:
        return prompt
    if chat_template is True:
        if not getattr(tokenizer, "chat_template", None):
            raise ParameterError("chat_template=True but the tokenizer has no chat template")
        return tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                             tokenize=False, add_generation_prompt=True)
    if isinstance(chat_template, str):
        if "{prompt}" not in chat_template:
            raise ParameterError("a chat_template string needs a '{prompt}' field")
        return chat_template.replace("{prompt}", prompt)
    raise ParameterError(f"chat_template must be False, True or a str, got {chat_template!r}")


def encode_prompt(tokenizer, text: str) -> tuple[list[int], int]:
    """Token ids of ``text`` with the tokenizer's special prefix added ONCE.

    Returns (ids, n_prefix). If ``text`` already starts with the BOS string
    (a chat template that writes it), no second BOS is added.
    """
    bos = getattr(tokenizer, "bos_token", None)
    add = not (bos and text.startswith(bos))
    ids = tokenizer(text, add_special_tokens=add)["input_ids"]
    special = set(tokenizer.all_special_ids)
    n_prefix = 0
    while n_prefix < len(ids) and ids[n_prefix] in special:
        n_prefix += 1
    if n_prefix == len(ids):
        raise ParameterError(f"prompt {text[:40]!r} has no non-special tokens")
    return ids, n_prefix


def _eos_ids(model, tokenizer) -> list[int]:
    eos = getattr(model.generation_config, "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    return [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))


def input_device(model) -> torch.device:
    """The device the model's input ids go to: where its input embedding runs
    (an Accelerate hook's execution device for a dispatched / offloaded model)."""
    emb = model.get_input_embeddings()
    device = getattr(getattr(emb, "_hf_hook", None), "execution_device", None)
    return torch.device(device) if device is not None else emb.weight.device


def is_offloaded(model) -> bool:
    """True when some weights live off-device (``device_map`` with "cpu" beside a
    GPU, or "disk"): Accelerate keeps them on the meta device between uses."""
    return any(p.device.type == "meta" for p in model.parameters())


def _pad_id(tokenizer, eos: list[int]) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos or [0])[0]


def _result(tokenizer, text: str, ids: list[int], n_prefix: int, new: list[int],
            eos: list[int]) -> GenerationResult:
    """The result of one prompt from its generated ids (cut at the first EOS)."""
    stopped = False
    for i, t in enumerate(new):
        if t in eos:
            new, stopped = new[:i], True
            break
    return GenerationResult(
        prompt=text, prompt_ids=ids, response_ids=new,
        prompt_tokens=tokenizer.convert_ids_to_tokens(ids[n_prefix:]),
        response_tokens=tokenizer.convert_ids_to_tokens(new),
        n_prefix=n_prefix, stopped_at_eos=stopped,
        text=tokenizer.decode(new, skip_special_tokens=True))


def _greedy(model, input_ids, attention_mask, max_new_tokens: int, eos: list[int], pad: int):
    return model.generate(input_ids, attention_mask=attention_mask, do_sample=False,
                          max_new_tokens=int(max_new_tokens), eos_token_id=eos or None,
                          pad_token_id=pad, temperature=None, top_p=None, top_k=None)


@torch.no_grad()
def generate(model, tokenizer, prompt: str, max_new_tokens: int = 300, *,
             chat_template=False, seed: int = 0) -> GenerationResult:
    """Greedy decoding (do_sample=False) of at most ``max_new_tokens``; stops at EOS.

    Deterministic: same model, prompt and arguments -> same result.
    """
    check_range("max_new_tokens", max_new_tokens, 1, 100_000)
    text = format_prompt(tokenizer, prompt, chat_template)
    ids, n_prefix = encode_prompt(tokenizer, text)
    eos = _eos_ids(model, tokenizer)
    input_ids = torch.tensor([ids], device=input_device(model))
    torch.manual_seed(seed)
    out = _greedy(model, input_ids, torch.ones_like(input_ids), max_new_tokens, eos,
                  _pad_id(tokenizer, eos))
    return _result(tokenizer, text, ids, n_prefix, out[0, len(ids):].tolist(), eos)


@torch.no_grad()
def generate_batch(model, tokenizer, prompts: Sequence[str], max_new_tokens: int = 300, *,
                   chat_template=False, batch_size: int = 8) -> list[GenerationResult]:
    """:func:`generate` for many prompts, ``batch_size`` at a time, left-padded.

    Prompts are batched in the order given (callers that need results independent
    of how work is split fix the batches themselves). Each row gets an attention
    mask that hides its padding and positions counted from its first real token,
    so it computes what :func:`generate` computes for that prompt alone, up to the
    rounding of differently shaped matrix products (tested: the same tokens on the
    tiny models of every family and on the organism pair).
    """
    check_range("max_new_tokens", max_new_tokens, 1, 100_000)
    check_range("batch_size", batch_size, 1, 4096)
    if isinstance(prompts, str):
        raise ParameterError("prompts must be a list of strings, got one string")
    texts = [format_prompt(tokenizer, p, chat_template) for p in prompts]
    encoded = [encode_prompt(tokenizer, t) for t in texts]
    eos = _eos_ids(model, tokenizer)
    pad, device = _pad_id(tokenizer, eos), input_device(model)
    out: list[GenerationResult] = []
    for start in range(0, len(texts), int(batch_size)):
        batch = encoded[start:start + int(batch_size)]
        width = max(len(ids) for ids, _ in batch)
        rows = [[pad] * (width - len(ids)) + ids for ids, _ in batch]
        mask = [[0] * (width - len(ids)) + [1] * len(ids) for ids, _ in batch]
        gen = _greedy(model, torch.tensor(rows, device=device),
                      torch.tensor(mask, device=device), max_new_tokens, eos, pad)
        for k, (ids, n_prefix) in enumerate(batch):
            out.append(_result(tokenizer, texts[start + k], ids, n_prefix,
                               gen[k, width:].tolist(), eos))
    return out
