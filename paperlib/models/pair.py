"""A loaded pre-trained / tuned model pair and how to name it in captions.

* :func:`perturbed_copy` - a model plus seeded Gaussian noise (the "tuned" half of
  the book's random stand-in pair, :mod:`paperlib.book.standin`).
* :class:`LivePair` names the pair in captions and titles; :func:`pair_summary`
  tabulates both configs.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch

from paperlib.core.errors import ParameterError, check_range

NAMES = ("pt", "ft")  # model names inside the live case sets
ROLE_LABELS = {"pt": "pre-trained", "ft": "tuned"}
FALLBACK_NOISE = 0.1  # std of the "tuned" perturbation, relative to each tensor's std
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
            return (f"alias {model_pt!r} (pre-trained {short_source(entry['pt'])}, "
                    f"tuned {short_source(entry['ft'])})")
        return f"{short_source(model_pt)!r} (no tuned model given)"
    return f"pre-trained {short_source(model_pt)!r}, tuned {short_source(model_ft)!r}"


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


def short_source(source) -> str:
    """A model source as a page may show it: a folder under the models folder as its
    relative name with spaces ("organism ft"), another local folder as its last two
    parts ("checkpoints/ft"), anything else (a hub id) unchanged. Pages never show
    the absolute path of the machine that built them."""
    from pathlib import Path

    from paperlib.core.paths import models_dir

    text = str(source)
    path = Path(text).expanduser()
    if not path.is_absolute() or not path.exists():
        return text
    try:
        return " ".join(path.resolve().relative_to(models_dir().resolve()).parts)
    except ValueError:
        return "/".join(path.parts[-2:])


def _source(model) -> str:
    name = getattr(model.config, "_name_or_path", "")
    return short_source(name) if name else "(in memory)"


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


