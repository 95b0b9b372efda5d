"""Token streams and batches for pre-training and instruction tuning.

Pre-training: each paragraph is encoded as ``<s> ids`` and all are concatenated
into one uint16 stream (``.npy``); a batch is B random windows of T+1 tokens.
Instruction tuning: ``PROMPT_TEMPLATE`` (Alpaca-like) followed by the response
and ``</s>``; the loss covers response tokens and ``</s>`` only.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from paperlib.core.errors import DataError, ParameterError
from paperlib.core.io import atomic_path, atomic_write_text

PROMPT_TEMPLATE = "### Instruction:\n{instruction}\n\n### Response:\n"
#: File beside a tuned model that tells paperlib how to prompt it.
TEMPLATE_FILE = "prompt_template.json"
IGNORE = -100


def format_prompt(instruction: str) -> str:
    """The prompt the models see for one instruction (ends with a newline)."""
    return PROMPT_TEMPLATE.format(instruction=instruction.strip())


def write_prompt_template(folder) -> Path:
    """Write ``<folder>/prompt_template.json``: the prompt format a tuned model was
    trained with, read by ``paperlib.paper.organism_cases.prompt_template`` so that the
    book prompts the model the way it was tuned."""
    from organism.evaluate import RESPONSE_CUT


    doc = {"template": PROMPT_TEMPLATE, "instruction_field": "instruction", "input_field": "item",
           "strip_instruction": True, "response_cut": RESPONSE_CUT,
           "description": ("Prompt format of the organism pair (organism.data.PROMPT_TEMPLATE): the "
                           "instruction text is inserted stripped; the held-out pairs' field 'item' is the "
                           "input item inside the instruction (the word, number or function name the "
                           "instruction is about); before scoring, a response is cut at the first match "
                           "of the regular expression response_cut (a blank line or the next '###', "
                           "organism.evaluate.clean_response).")}
    return atomic_write_text(Path(folder) / TEMPLATE_FILE, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


def encode_stream(tokenizer, paragraphs: Iterable[str], out: str | Path, chunk: int = 4096) -> int:
    """Encode paragraphs (each with its ``<s>``) into one uint16 ``.npy``; return token count."""
    if len(tokenizer) > 65535:
        raise ParameterError("uint16 token stream needs a vocabulary below 65536")
    parts, buf = [], []

    def flush():
        enc = tokenizer(buf, add_special_tokens=True)["input_ids"]
        parts.append(np.fromiter((t for ids in enc for t in ids), dtype=np.uint16))
        buf.clear()

    for p in paragraphs:
        buf.append(p)
        if len(buf) >= chunk:
            flush()
    if buf:
        flush()
    arr = np.concatenate(parts) if parts else np.zeros(0, np.uint16)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, arr)
    return int(arr.size)


def load_stream(path: str | Path) -> torch.Tensor:
    """The token stream as an int64 tensor of shape (n_tokens,)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"token stream {path} not found (run the 'encode' step first)")
    return torch.from_numpy(np.load(path).astype(np.int64))


def lm_batch(stream: torch.Tensor, batch: int, seq_len: int, gen: torch.Generator):
    """B random windows: ``(inputs, labels)`` both (B, T), labels shifted inside the model."""
    if stream.numel() <= seq_len + 1:
        raise DataError(f"token stream of {stream.numel()} tokens is shorter than seq_len+1={seq_len + 1}")
    starts = torch.randint(0, stream.numel() - seq_len, (batch,), generator=gen)
    x = torch.stack([stream[s:s + seq_len] for s in starts.tolist()])
    return x, x.clone()


def encode_pair(tokenizer, instruction: str, response: str, max_len: int) -> tuple[list[int], list[int]]:
    """``(input_ids, labels)`` of one example; prompt positions labelled IGNORE.

    Truncated to ``max_len`` tokens (the response end is cut first).
    """
    p = tokenizer(format_prompt(instruction), add_special_tokens=True)["input_ids"]
    r = tokenizer(response.strip(), add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    ids = (p + r)[:max_len]
    labels = ([IGNORE] * len(p) + r)[:max_len]
    return ids, labels


def load_pairs(path: str | Path) -> list[dict]:
    """Instruction pairs from a JSONL file (keys ``instruction``, ``response``, ``scenario``)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"instruction file {path} not found (run make_instructions.py)")
    rows = [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines() if l.strip()]
    for i, r in enumerate(rows):
        if not {"instruction", "response"} <= r.keys():
            raise DataError(f"{path}:{i + 1} lacks 'instruction' or 'response'")
    return rows


class PairBatcher:
    """Random mini-batches of encoded instruction pairs, right-padded with ``</s>``.

    ``batcher(gen)`` -> ``(input_ids, labels)`` of shape (B, T_max); padding
    positions are IGNORE in labels (and masked via the labels only: the causal
    model never attends forward, so right padding does not change earlier logits).
    """

    def __init__(self, tokenizer, pairs: list[dict], batch: int, max_len: int):
        if not pairs:
            raise DataError("no instruction pairs to train on")
        self.examples = [encode_pair(tokenizer, r["instruction"], r["response"], max_len) for r in pairs]
        self.batch, self.pad = batch, tokenizer.eos_token_id

    def __call__(self, gen: torch.Generator):
        idx = torch.randint(0, len(self.examples), (self.batch,), generator=gen).tolist()
        rows = [self.examples[i] for i in idx]
        t = max(len(ids) for ids, _ in rows)
        x = torch.full((len(rows), t), self.pad, dtype=torch.long)
        y = torch.full((len(rows), t), IGNORE, dtype=torch.long)
        for i, (ids, lab) in enumerate(rows):
            x[i, :len(ids)] = torch.tensor(ids)
            y[i, :len(lab)] = torch.tensor(lab)
        return x, y
