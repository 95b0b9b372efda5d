"""Glue for the chapter "Explainers on any model pair": load a pair (or a random stand-in),
run the attribution explainer on a few prompts, score them with the Finding-1 code.

The notebook ``notebooks/explainers_live_pair.ipynb`` only calls these helpers
(and those of :mod:`paperlib.live_explainers` for the attention / FFN explainers).

* :func:`load_pair_or_fallback` - the requested pair, or (``fallback=True``)
  a clearly labelled tiny random-weight LLaMA pair when the pair cannot be
  loaded: "pre-trained" = :func:`paperlib.testing.tiny_model` with a LLaMA-style
  byte-fallback BPE tokenizer (:func:`fallback_tokenizer`), "tuned" = the same
  weights plus seeded Gaussian noise (:func:`perturbed_copy`). Random weights
  show the mechanics only: nothing they produce means anything linguistically.
* :func:`resolve_prompts` - prompt texts or FinalDataset case ids -> {case id: text};
  a prompt of the paper's data set keeps its id (so its annotated instruction
  sentences are known), any other text becomes ``custom_<i>``.
* :func:`explain_pair_cases` - :func:`paperlib.attribution.explain_cases` for
  both models, case sets ``cases_pt.npz`` / ``cases_ft.npz`` in :func:`live_dir`;
  :func:`instruction_scores` runs :func:`paperlib.finding1.scores` on them.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from paperlib.errors import ModelLoadError, ParameterError, PaperlibError, check_range

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
    """LLaMA-style byte-fallback BPE (``paperlib.organism.tokenizer``) trained on the
    632 FinalDataset prompts and the 2000 most frequent ShareGPT words (< 1 s),
    cached as ``tokenizer.json`` under the paperlib cache. Returns a
    ``PreTrainedTokenizerFast`` (<unk>=0, <s>=1, </s>=2, pad = </s>)."""
    from transformers import PreTrainedTokenizerFast

    from paperlib.io import ResultCache

    def compute() -> str:
        from paperlib.data import load_prompts
        from paperlib.organism.tokenizer import train_tokenizer
        from paperlib.vocab import load_vocab_words

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
    from paperlib.testing import tiny_model

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


def resolve_prompts(prompts) -> dict[str, str]:
    """{case id: prompt text} for a list of prompts.

    An item that is a FinalDataset case id, or equal (up to whitespace) to a
    FinalDataset prompt, keeps that id; any other text becomes ``custom_<i>``
    (i = its position). Raises ParameterError for an empty list, a non-string
    or blank item, or the same prompt twice.
    """
    from paperlib.data import load_prompts

    if isinstance(prompts, str) or not prompts:
        raise ParameterError("prompts must be a non-empty list of prompt strings")
    table = load_prompts()
    by_id = dict(zip(table["id"], table["prompt"]))
    by_text = {_squash(t): i for i, t in zip(table["id"], table["prompt"])}
    out: dict[str, str] = {}
    for i, item in enumerate(prompts):
        if not isinstance(item, str) or not item.strip():
            raise ParameterError(f"prompt {i} must be a non-blank string, got {item!r}")
        cid = item if item in by_id else by_text.get(_squash(item), f"custom_{i}")
        if cid in out:
            raise ParameterError(f"prompt {i} repeats an earlier prompt ({cid})")
        out[cid] = by_id.get(cid, item)
    return out


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def live_dir(pair: LivePair, root=None) -> Path:
    """Folder of the live case sets: ``<root or results>/live/<slug>``, the slug
    being the pair label made file-safe (60 chars) plus 8 hex digits of its SHA-256."""
    import hashlib

    from paperlib.io import results_dir

    slug = re.sub(r"[^A-Za-z0-9]+", "-", pair.label).strip("-")[:60].strip("-")
    digest = hashlib.sha256(pair.label.encode("utf-8")).hexdigest()[:8]
    base = Path(root) if root is not None else results_dir()
    return base / "live" / f"{slug}-{digest}"


def explain_pair_cases(pair: LivePair, prompts: dict, out_dir, *, max_new_tokens: int = 40,
                       attribution_mode: str = "auto", chat_template=False) -> dict[str, Path]:
    """Generate + attribute every prompt on both models (cached) and write the
    case sets ``out_dir/cases_pt.npz`` and ``cases_ft.npz``; returns {name: path}."""
    from paperlib.attribution import explain_cases

    out_dir = Path(out_dir)
    return {n: explain_cases(*pair.model(n), prompts, n, out_dir / f"cases_{n}.npz",
                             max_new_tokens=max_new_tokens, chat_template=chat_template,
                             progress=False, mode=attribution_mode)
            for n in NAMES}


def load_live_cases(path, model: str) -> list:
    """The cases of a live case set as :class:`paperlib.data.Case` (ids outside the
    paper's data sets get dataset "custom")."""
    from paperlib.caseset import read_case_set
    from paperlib.data import Case, dataset_of

    cs = read_case_set(path)
    out = []
    for i, cid in enumerate(cs.ids):
        raw = cs.get(i)
        try:
            ds = dataset_of(cid)
        except PaperlibError:
            ds = "custom"
        out.append(Case(cid, model, ds, list(raw.prompt_tokens), list(raw.response_tokens),
                        raw.reference, raw.S))
    return out


def instruction_rows_or_none(case):
    """(N,) bool instruction mask of an annotated case; None when the case has no
    annotation or its sentences cannot be located in the token pieces."""
    from paperlib.plots import instruction_rows

    try:
        return instruction_rows(case)
    except PaperlibError:
        return None


def salient_figure(case_pt, case_ft, pair: LivePair, max_response_tokens: int | None = 40):
    """Pre-trained beside tuned salient maps of one prompt (instruction rows bold
    blue when annotated), titled with the pair. An empty response (the model
    stopped at once) is left out and named in the title. Returns the Figure."""
    from paperlib.plots import salient_map, salient_pair

    mask = instruction_rows_or_none(case_pt)
    labels = [f"{ROLE_LABELS[n]}: {len(c.response_tokens)} response tokens"
              for n, c in zip(NAMES, (case_pt, case_ft))]
    shown = [(c, lab) for c, lab in zip((case_pt, case_ft), labels) if c.response_tokens]
    style = dict(max_response_tokens=max_response_tokens, highlight=mask)
    if len(shown) == 2 and len(case_pt.prompt_tokens) == len(case_ft.prompt_tokens):
        fig = salient_pair(case_pt, case_ft, labels=labels, **style)
    elif shown:  # one empty response, or different tokenizers: one map
        fig = salient_map(shown[0][0], title=shown[0][1], **style)
    else:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 1))
        ax.axis("off")
    empty = [ROLE_LABELS[n] for n, c in zip(NAMES, (case_pt, case_ft)) if not c.response_tokens]
    extra = f" (empty response: {', '.join(empty)})" if empty else ""
    fig.suptitle(pair.title(f"Salient map · {case_pt.id}{extra}"), fontsize=9)
    return fig


def annotated_source(paths: dict, out_dir=None) -> tuple[Path, list[str]]:
    """A folder of case sets (``cases_pt.npz``, ``cases_ft.npz``) holding only the
    cases with a FinalDataset annotation, and the ids left out. ``paths``:
    {name: case-set path}; without custom cases their own folder is returned."""
    from paperlib.caseset import RawCase, read_case_set, write_case_set
    from paperlib.data import load_prompts

    known = set(load_prompts()["id"])
    sets = {n: read_case_set(p) for n, p in paths.items()}
    dropped = sorted({c for cs in sets.values() for c in cs.ids if c not in known})
    folders = {Path(p).parent for p in paths.values()}
    if not dropped and len(folders) == 1:
        return folders.pop(), []
    out = Path(out_dir) if out_dir else Path(next(iter(paths.values()))).parent / "annotated"
    for n, cs in sets.items():
        keep = [cs.get(i) for i, c in enumerate(cs.ids) if c in known]
        write_case_set(out / f"cases_{n}.npz", n,
                       [RawCase(r.id, r.prompt_tokens, r.response_tokens, r.reference, r.S)
                        for r in keep])
    return out, dropped


def instruction_scores(paths: dict, b: float = 7, p: float = 4):
    """Instruction score (Sec 4.2, :func:`paperlib.finding1.scores`) of every
    annotated live case, pre-trained beside tuned.

    Returns (DataFrame or None, note). Columns: id, dataset, then n_response,
    n_instruction and score per model (suffixes _pt, _ft). None when no case
    is annotated or the annotation cannot be aligned to the tokenizer's pieces
    (the note says why); custom prompts are listed in the note.
    """
    from paperlib import finding1

    source, dropped = annotated_source(paths)
    note = (f"Not scored (no instruction annotation): {', '.join(dropped)}. "
            if dropped else "")
    if all(len(cs) == 0 for cs in _read_all(source)):
        return None, note + "No prompt of the paper's data set: nothing to score."
    try:
        frames = {n: finding1.scores(n, b=b, p=p, source=source) for n in NAMES}
    except PaperlibError as exc:
        return None, note + f"The Finding-1 scores cannot be computed for this tokenizer: {exc}"
    merged = frames["pt"].merge(frames["ft"], on=["id", "dataset"], suffixes=("_pt", "_ft"))
    return merged, note


def _read_all(folder: Path):
    from paperlib.caseset import read_case_set

    return [read_case_set(Path(folder) / f"cases_{n}.npz") for n in NAMES]


def responses_table(cases: dict, pair: LivePair, width: int = 90):
    """DataFrame: id, dataset, prompt, then each model's response (decoded with
    its tokenizer, cut to ``width`` characters). cases: {name: [Case]} in the same order."""
    import pandas as pd

    def cut(text: str) -> str:
        text = " ".join(text.split())
        return text if len(text) <= width else text[:width - 1] + "…"

    rows = []
    for c_pt, c_ft in zip(cases["pt"], cases["ft"]):
        row = {"id": c_pt.id, "dataset": c_pt.dataset,
               "prompt": cut(pair.tokenizer_pt.convert_tokens_to_string(c_pt.prompt_tokens))}
        for n, c in zip(NAMES, (c_pt, c_ft)):
            row[ROLE_LABELS[n]] = cut(pair.model(n)[1].convert_tokens_to_string(
                list(c.response_tokens)))
        rows.append(row)
    return pd.DataFrame(rows)
