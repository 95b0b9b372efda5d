"""The book's random stand-in pair, used when a chapter's model pair cannot be loaded.

:func:`load_pair_or_fallback` loads the requested pair
(:func:`paperlib.models.load_pair`) or, only when asked (``fallback=True``; the
default is to raise), returns a clearly labelled tiny random-weight LLaMA pair: "pre-trained" =
:func:`paperlib.models.tiny.tiny_model` with a LLaMA-style byte-fallback BPE
tokenizer trained on the paper's prompts (:func:`fallback_tokenizer`), "tuned" =
the same weights plus seeded Gaussian noise
(:func:`paperlib.models.pair.perturbed_copy`). Random weights show the mechanics
only: nothing they produce means anything linguistically. A fallback says so
in the log (a :class:`~paperlib.core.errors.RandomWeightsWarning` on stderr),
in every figure title (:meth:`LivePair.title`) and in the name of its results
folder (``results/live/RANDOM-...``, :func:`paperlib.book.live.live_dir`).
"""
from __future__ import annotations

import json
import warnings

import torch

from paperlib.core.errors import ModelLoadError, ParameterError, RandomWeightsWarning
from paperlib.models.pair import (FALLBACK_NOISE, RANDOM_WARNING, LivePair, _source,
                                  describe_request, perturbed_copy)

FALLBACK_VOCAB = 2048  # pieces of the stand-in tokenizer
FALLBACK_SHAPE = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                      num_attention_heads=4, num_key_value_heads=2)
RUN_HINT = ('make notebook NB=explainers_live_pair ARGS="-p model_pt PATH -p model_ft PATH"')
RANDOM_LOG = "RANDOM WEIGHTS"  # in the warning a fallback logs (tools/run_notebook.py looks for it)


def _checked_json(path) -> str:
    """The text of a cached tokenizer JSON; ValueError when it does not parse (the
    cache then moves the entry aside and recomputes it)."""
    text = path.read_text(encoding="utf-8")
    json.loads(text)
    return text


def fallback_tokenizer(vocab_size: int = FALLBACK_VOCAB):
    """LLaMA-style byte-fallback BPE (``paperlib.models.tokenizers``) trained on the
    632 FinalDataset prompts and the 2000 most frequent ShareGPT words (< 1 s),
    cached as ``tokenizer.json`` under the paperlib cache. Returns a
    ``PreTrainedTokenizerFast`` (<unk>=0, <s>=1, </s>=2, pad = </s>)."""
    from transformers import PreTrainedTokenizerFast

    from paperlib.core.io import ResultCache

    def compute() -> str:
        from paperlib.paper.data import load_prompts
        from paperlib.models.tokenizers import train_tokenizer
        from paperlib.words.vocab import load_vocab_words

        words = " ".join(load_vocab_words(top_n=2000))
        texts = list(load_prompts()["prompt"]) + [words, words]
        return train_tokenizer(texts, vocab_size=vocab_size).to_str()

    blob = ResultCache("live_tokenizer").get_or_compute(
        {"vocab_size": vocab_size, "recipe": "finaldataset-prompts+sharegpt2000/1"}, compute,
        lambda s, p: p.write_text(s, encoding="utf-8"), _checked_json)
    from tokenizers import Tokenizer

    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(blob), bos_token="<s>",
                                   eos_token="</s>", unk_token="<unk>", pad_token="</s>")


def random_pair(seed: int = 0, noise: float = FALLBACK_NOISE):
    """(model_pt, tokenizer, model_ft, tokenizer): a tiny random LLaMA
    (:data:`FALLBACK_SHAPE`, vocabulary of :func:`fallback_tokenizer`) and its
    perturbed copy (:func:`perturbed_copy`, seed + 1)."""
    from paperlib.models.tiny import tiny_model

    tok = fallback_tokenizer()
    pt = tiny_model("llama", seed=int(seed), vocab_size=len(tok), **FALLBACK_SHAPE)
    return pt, tok, perturbed_copy(pt, noise, seed + 1), tok


def _fallback_pair(request: str, exc: Exception, seed: int) -> LivePair:
    pt, tok, ft, _ = random_pair(seed)
    label = (f"tiny random-weight LLaMA (seed {seed}); 'tuned' = the same weights + "
             f"{FALLBACK_NOISE:g}·std Gaussian noise")
    note = (f"**The requested model pair could not be loaded** — {request}.\n\n"
            f"> {exc}\n\n"
            f"To run this chapter on a real pair, pass one: `{RUN_HINT}` "
            "(local folders saved with `save_pretrained`, or hub ids).\n\n"
            f"**Falling back to a random stand-in pair**: {label}. Every section below still "
            f"runs, to show the mechanics, but ⚠️ *{RANDOM_WARNING}.*")
    warnings.warn(f"{RANDOM_LOG}: the model pair {request} could not be loaded ({exc}); "
                  f"fallback_to_random=True: continuing on a random stand-in pair ({label}). "
                  f"{RANDOM_WARNING}.", RandomWeightsWarning, stacklevel=3)
    return LivePair(pt, tok, ft, tok, label, note, fallback=True)


def load_pair_or_fallback(model_pt="organism", model_ft=None, fallback: bool = False, *,
                          seed: int = 0, dtype: str = "float32", device: str = "cpu") -> LivePair:
    """Load the pair (:func:`paperlib.models.load_pair`; ``model_ft=None`` = the
    second model of the alias ``model_pt``). If it cannot be loaded
    (ModelLoadError): by default raise ModelLoadError naming the pair and how to
    supply one; only with ``fallback=True`` return the random stand-in pair, with a
    note saying why and a RandomWeightsWarning in the log. ``dtype``: a torch dtype
    name ("float32", "bfloat16", ...)."""
    from paperlib.models import load_pair

    torch_dtype = getattr(torch, str(dtype), None)
    if not isinstance(torch_dtype, torch.dtype):
        raise ParameterError(f"dtype must name a torch dtype (e.g. 'float32'), got {dtype!r}")
    request = describe_request(model_pt, model_ft)
    try:
        m_pt, t_pt, m_ft, t_ft = load_pair(model_pt, model_ft, dtype=torch_dtype, device=device)
    except ModelLoadError as exc:
        if not fallback:
            raise ModelLoadError(f"cannot load the model pair {request}: {exc} -- supply a "
                                 f"pair with: {RUN_HINT} (or pass fallback_to_random=True to "
                                 "continue on labelled random weights)") from exc
        return _fallback_pair(request, exc, seed)
    label = f"pre-trained `{_source(m_pt)}` / tuned `{_source(m_ft)}`"
    note = f"**Model pair loaded** — {request}:\n\n* pre-trained: `{_source(m_pt)}`\n" \
           f"* tuned: `{_source(m_ft)}`"
    return LivePair(m_pt, t_pt, m_ft, t_ft, label, note)
