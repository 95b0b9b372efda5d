"""A loaded pre-trained / tuned model pair, or a clearly labelled random stand-in.

* :func:`load_pair_or_fallback` - the requested pair (:func:`paperlib.models.load_pair`),
  or (``fallback=True``) a tiny random-weight LLaMA pair when the pair cannot be
  loaded: "pre-trained" = :func:`paperlib.models.tiny.tiny_model` with a LLaMA-style
  byte-fallback BPE tokenizer (:func:`fallback_tokenizer`), "tuned" = the same
  weights plus seeded Gaussian noise (:func:`perturbed_copy`). Random weights
  show the mechanics only: nothing they produce means anything linguistically.
* :class:`LivePair` names the pair in captions and titles; :func:`pair_summary`
  tabulates both configs.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from paperlib.core.errors import ModelLoadError, ParameterError, PaperlibError, check_range

NAMES = ("pt", "ft")  # model names inside the live case sets
ROLE_LABELS = {"pt": "pre-trained", "ft": "tuned"}
FALLBACK_NOISE = 0.1  # std of the "tuned" perturbation, relative to each tensor's std
FALLBACK_VOCAB = 2048  # pieces of the stand-in tokenizer
FALLBACK_SHAPE = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                      num_attention_heads=4, num_key_value_heads=2)
RUN_HINT = ("papermill notebooks/explainers_live_pair.ipynb out.ipynb "
            "-p model_pt PATH -p model_ft PATH")
RANDOM_WARNING = ("random weights: this shows the mechanics only; the words, maps and "
                  "numbers mean nothing linguistically")


@dataclass
class LivePair:
    """A loaded pre-trained / tuned pair and how to name it in captions.

    label: short name for titles; note: Markdown paragraph on where the pair
    comes from (and, for the fallback, why); fallback: True for the random pair.
    """

    model_pt: torch.nn.Module = field(repr=False)
    tokenizer_pt: object = field(repr=False)
    model_ft: torch.nn.Module = field(repr=False)
    tokenizer_ft: object = field(repr=False)
    label: str
    note: str
    fallback: bool = False

    def model(self, name: str):
        """(model, tokenizer) of ``name`` ("pt" or "ft")."""
        if name not in NAMES:
            raise ParameterError(f"name must be one of {NAMES}, got {name!r}")
        return ((self.model_pt, self.tokenizer_pt) if name == "pt"
                else (self.model_ft, self.tokenizer_ft))

    def caption(self, what: str) -> str:
        """Markdown caption: ``what``, the pair that produced it, the random-weight warning."""
        text = f"**{what}** — pair: {self.label}."
        return f"{text} ⚠️ *{RANDOM_WARNING}.*" if self.fallback else text

    def title(self, what: str) -> str:
        """One-line figure title naming the pair."""
        return f"{what}\n{self.label}" + (" — RANDOM WEIGHTS" if self.fallback else "")


def quiet_progress_bars() -> None:
    """Turn off transformers' per-load progress bars ("Loading weights ...") in
    this process, so that executed notebooks keep clean outputs."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def describe_request(model_pt, model_ft=None) -> str:
    """Human-readable name of the requested pair (an alias with its folders, or two sources)."""
    from paperlib.models import model_aliases

    if model_ft is None:
        entry = model_aliases().get(str(model_pt), {})
        if "pt" in entry:
            return f"alias {model_pt!r} (pre-trained {entry['pt']}, tuned {entry['ft']})"
        return f"{model_pt!r} (no tuned model given)"
    return f"pre-trained {str(model_pt)!r}, tuned {str(model_ft)!r}"


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
        lambda s, p: p.write_text(s, encoding="utf-8"),
        lambda p: p.read_text(encoding="utf-8"))
    from tokenizers import Tokenizer

    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(blob), bos_token="<s>",
                                   eos_token="</s>", unk_token="<unk>", pad_token="</s>")


@torch.no_grad()
def perturbed_copy(model: torch.nn.Module, noise: float = FALLBACK_NOISE, seed: int = 0):
    """A deep copy of ``model`` with every parameter p replaced by
    p + noise * std(p) * N(0, 1) (seeded; a 1-element or constant tensor uses
    |mean| as its scale). The original is untouched."""
    check_range("noise", noise, 0, None)
    out = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(int(seed))
    for p in out.parameters():
        scale = p.float().std() if p.numel() > 1 else p.float().abs().mean()
        if not torch.isfinite(scale) or scale == 0:
            scale = p.float().abs().mean()
        p.add_((noise * scale * torch.randn(p.shape, generator=gen)).to(p.dtype))
    return out.eval()


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
    return LivePair(pt, tok, ft, tok, label, note, fallback=True)


def load_pair_or_fallback(model_pt="organism", model_ft=None, fallback: bool = True, *,
                          seed: int = 0, dtype: str = "float32", device: str = "cpu") -> LivePair:
    """Load the pair (:func:`paperlib.models.load_pair`; ``model_ft=None`` = the
    second model of the alias ``model_pt``). If it cannot be loaded
    (ModelLoadError): with ``fallback`` return the random stand-in pair with a
    note saying why; without, raise ModelLoadError naming the pair and how to
    supply one. ``dtype``: a torch dtype name ("float32", "bfloat16", ...)."""
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
                                 f"pair with: {RUN_HINT}") from exc
        return _fallback_pair(request, exc, seed)
    label = f"pre-trained `{_source(m_pt)}` / tuned `{_source(m_ft)}`"
    note = f"**Model pair loaded** — {request}:\n\n* pre-trained: `{_source(m_pt)}`\n" \
           f"* tuned: `{_source(m_ft)}`"
    return LivePair(m_pt, t_pt, m_ft, t_ft, label, note)


def _source(model) -> str:
    return str(getattr(model.config, "_name_or_path", "") or "(in memory)")


def model_summary(model, tokenizer) -> dict:
    """Config summary of one model: family, layers, D, heads, kv heads, head dim,
    FFN width, vocabulary (model / tokenizer), parameters, dtype, source."""
    from paperlib.models import canonical_view

    view = canonical_view(model)
    return {"family": view.model_type, "layers": view.n_layers, "D": view.d_model,
            "heads": view.n_heads, "kv heads": view.n_kv_heads, "head dim": view.d_head,
            "FFN width": int(view.layer(0).W_down.shape[0]),
            "vocab (model)": int(view.embed_in.shape[0]), "vocab (tokenizer)": len(tokenizer),
            "parameters": f"{sum(p.numel() for p in model.parameters()):,}",
            "dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
            "source": _source(model)}


def pair_summary(pair: LivePair):
    """DataFrame: one column per model (pre-trained, tuned), rows of :func:`model_summary`."""
    import pandas as pd

    return pd.DataFrame({ROLE_LABELS[n]: model_summary(*pair.model(n)) for n in NAMES})


