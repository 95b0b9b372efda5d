"""LLaMA-style byte-fallback BPE tokenizer, trained with ``tokenizers`` (the organism pair and the random stand-in pair use it),
and a GPT-2-style byte-level BPE (:func:`train_bytelevel_tokenizer`, for tests of byte-level models).

Layout copies the released LLaMA SentencePiece model: id 0 ``<unk>``, 1 ``<s>``,
2 ``</s>``, 3..258 the byte pieces ``<0x00>``..``<0xFF>``, then BPE pieces in
which "▁" marks a leading space ("▁word"). Newlines and tabs are not pieces:
they fall back to ``<0x0A>`` / ``<0x09>`` exactly as in LLaMA. Digits are
split one per piece (" 47" -> "▁", "4", "7"), as LLaMA's ``split_digits``. ``encode`` adds
``<s>`` in front. Saved in Hugging Face format (``tokenizer.json`` +
``tokenizer_config.json``), loadable offline with ``AutoTokenizer``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator

from paperlib.core.errors import ModelLoadError, ParameterError
from paperlib.core.io import atomic_write_text

SPECIALS = ["<unk>", "<s>", "</s>"]
BYTE_PIECES = [f"<0x{i:02X}>" for i in range(256)]
N_RESERVED = len(SPECIALS) + len(BYTE_PIECES)  # 259


def _pipeline(tok, prepend: str = "first"):
    """Attach the LLaMA-like metaspace + single-digit pre-tokenizer, byte-fallback decoder and BOS."""
    from tokenizers import decoders, pre_tokenizers, processors

    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=prepend, split=True),
        pre_tokenizers.Digits(individual_digits=True)])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    return tok


def _training_lines(texts: Iterable[str]) -> Iterator[str]:
    """Lines of the texts, tabs as spaces: newlines and tabs never become pieces.

    Trained without the "▁" prefix on the first word, so that a word at the
    start of a line (after ``<0x0A>``) also gets pieces without "▁", as in LLaMA.
    """
    import re

    for t in texts:
        for line in re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", t).replace("\t", " ").split("\n"):
            if line.strip():
                yield line


def train_tokenizer(texts: Iterable[str], vocab_size: int = 8192, limit_alphabet: int = 256):
    """Train a byte-fallback BPE on ``texts``; return a ``tokenizers.Tokenizer``.

    ``vocab_size`` counts the 259 reserved pieces. Deterministic for a fixed
    input order (the BPE trainer breaks ties lexicographically).
    """
    from tokenizers import Tokenizer, models, trainers

    if not isinstance(vocab_size, int) or not 512 <= vocab_size <= 65536:
        raise ParameterError(f"vocab_size={vocab_size!r} is out of range [512, 65536]")
    draft = _pipeline(Tokenizer(models.BPE(unk_token="<unk>")), prepend="never")
    draft.post_processor = None
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - N_RESERVED, min_frequency=2,
                                  limit_alphabet=limit_alphabet, special_tokens=[],
                                  show_progress=False)
    draft.train_from_iterator(_training_lines(texts), trainer=trainer)
    learned = json.loads(draft.to_str())["model"]
    vocab = {p: i for i, p in enumerate(SPECIALS + BYTE_PIECES)}
    for piece, _ in sorted(learned["vocab"].items(), key=lambda kv: kv[1]):
        vocab.setdefault(piece, len(vocab))
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in learned["merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>",
                               byte_fallback=True, fuse_unk=True))
    tok.add_special_tokens(SPECIALS)
    return _pipeline(tok)


def save_tokenizer(tok, folder: str | Path, model_max_length: int = 512) -> Path:
    """Write ``tokenizer.json`` and ``tokenizer_config.json`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "tokenizer.json", tok.to_str(pretty=True))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
              "unk_token": "<unk>", "pad_token": "</s>", "add_bos_token": True,
              "add_eos_token": False, "model_max_length": model_max_length,
              "clean_up_tokenization_spaces": False, "padding_side": "left"}
    atomic_write_text(folder / "tokenizer_config.json", json.dumps(config, indent=1) + "\n")
    atomic_write_text(folder / "special_tokens_map.json", json.dumps(
        {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "</s>"}, indent=1) + "\n")
    return folder


def load_tokenizer(folder: str | Path):
    """Hugging Face ``PreTrainedTokenizerFast`` from a saved folder (offline)."""
    from transformers import PreTrainedTokenizerFast

    folder = Path(folder)
    if not (folder / "tokenizer.json").exists():
        raise ModelLoadError(f"no tokenizer.json in {folder}")
    return PreTrainedTokenizerFast.from_pretrained(str(folder), local_files_only=True)


CHATML_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML_TEMPLATE = (  # SmolLM-style ChatML with a default system prompt
    "{% for m in messages %}{% if loop.first and m['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful AI assistant named Tiny, trained by paperlib"
    "<|im_end|>\n{% endif %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def train_bytelevel_tokenizer(texts: Iterable[str], vocab_size: int = 400,
                              chat_template: bool = True):
    """GPT-2-style byte-level BPE ("Ġ" = space, "Ċ" = newline, every byte a piece)
    trained on ``texts``: a ``PreTrainedTokenizerFast`` with specials
    ``<|endoftext|>`` (id 0, BOS / EOS / pad), ``<|im_start|>``, ``<|im_end|>`` and,
    with ``chat_template``, a ChatML template that adds a system prompt. No BOS is
    added to encoded text (as GPT-2). Deterministic for a fixed input order."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if not isinstance(vocab_size, int) or not 256 + len(CHATML_SPECIALS) <= vocab_size <= 65536:
        raise ParameterError(f"vocab_size={vocab_size!r} is out of range [259, 65536]")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=CHATML_SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(list(texts), trainer=trainer)
    out = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>",
                                  eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                  additional_special_tokens=CHATML_SPECIALS[1:])
    if chat_template:
        out.chat_template = CHATML_TEMPLATE
    return out
