"""Glue for the chapter "Explainers on any model pair": load a pair (or a random stand-in),
run the attribution explainer on a few prompts, score them with the Finding-1 code.

The chapter ``notebooks/explainers_live_pair.md`` only calls these helpers
(and those of :mod:`paperlib.book.live_explainers` for the attention / FFN explainers).

* :func:`load_pair_or_fallback` - the requested pair, or a clearly labelled random
  stand-in (defined in :mod:`paperlib.book.standin`; re-exported here with the pair
  helpers of :mod:`paperlib.models.pair`, so the chapter calls ``live.<name>``).
* :func:`resolve_prompts` - prompt texts or FinalDataset case ids -> {case id: text};
  a prompt of the paper's data set keeps its id (so its annotated instruction
  sentences are known), any other text becomes ``custom_<i>``.
* :func:`explain_pair_cases` - :func:`paperlib.explainers.attribution.explain_cases` for
  both models, case sets ``cases_pt.npz`` / ``cases_ft.npz`` in :func:`live_dir`;
  :func:`instruction_scores` runs :func:`paperlib.paper.finding1.scores` on them.
"""
from __future__ import annotations

import re
from pathlib import Path

from paperlib.book.standin import (FALLBACK_VOCAB, RUN_HINT, fallback_tokenizer,  # noqa: F401
                                   load_pair_or_fallback)
from paperlib.models.pair import (NAMES, RANDOM_WARNING, ROLE_LABELS, LivePair,  # noqa: F401
                                  describe_request, pair_summary, perturbed_copy,
                                  quiet_progress_bars)
from paperlib.core.errors import ParameterError, PaperlibError


def resolve_prompts(prompts) -> dict[str, str]:
    """{case id: prompt text} for a list of prompts.

    An item that is a FinalDataset case id, or equal (up to whitespace) to a
    FinalDataset prompt, keeps that id; any other text becomes ``custom_<i>``
    (i = its position). Raises ParameterError for an empty list, a non-string
    or blank item, or the same prompt twice.
    """
    from paperlib.paper.data import load_prompts

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


def live_dir(pair: LivePair, root=None, params: dict | None = None) -> Path:
    """Folder of the live case sets: ``<root or results>/live/<slug>``, the slug
    being the pair label made file-safe (60 chars) plus 8 hex digits of its SHA-256;
    a random stand-in pair's slug starts with ``RANDOM-``. With ``params`` (what
    changes the case sets: prompts, max_new_tokens, chat template ...) one more
    level keyed by them (:func:`paperlib.core.results.result_slug`), so runs with
    other parameters never overwrite these case sets."""
    import hashlib

    from paperlib.core.paths import results_dir
    from paperlib.core.results import result_slug

    slug = re.sub(r"[^A-Za-z0-9]+", "-", pair.label).strip("-")[:60].strip("-")
    digest = hashlib.sha256(pair.label.encode("utf-8")).hexdigest()[:8]
    base = Path(root) if root is not None else results_dir()
    folder = base / "live" / f"{'RANDOM-' if pair.fallback else ''}{slug}-{digest}"
    return folder / result_slug(params) if params else folder


def explain_pair_cases(pair: LivePair, prompts: dict, out_dir, *, max_new_tokens: int = 40,
                       attribution_mode: str = "auto", chat_template=False,
                       density_rows: str = "auto") -> dict[str, Path]:
    """Generate + attribute every prompt on both models (cached) and write the
    case sets ``out_dir/cases_pt.npz`` and ``cases_ft.npz``; returns {name: path}.
    ``density_rows``: see :func:`paperlib.explainers.attribution.explain_prompt`
    ("auto": only the user's message rows when a chat template is used)."""
    from paperlib.explainers.attribution import explain_cases

    out_dir = Path(out_dir)
    return {n: explain_cases(*pair.model(n), prompts, n, out_dir / f"cases_{n}.npz",
                             max_new_tokens=max_new_tokens, chat_template=chat_template,
                             density_rows=density_rows, progress=False, mode=attribution_mode)
            for n in NAMES}


def load_live_cases(path, model: str) -> list:
    """The cases of a live case set as :class:`paperlib.paper.data.Case` (ids outside the
    paper's data sets get dataset "custom")."""
    from paperlib.core.caseset import read_case_set
    from paperlib.paper.data import Case, dataset_of

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
    from paperlib.book.plots import instruction_rows

    try:
        return instruction_rows(case)
    except PaperlibError:
        return None


def salient_figure(case_pt, case_ft, pair: LivePair, max_response_tokens: int | None = 40):
    """Pre-trained beside tuned salient maps of one prompt (instruction rows bold
    blue when annotated), titled with the pair. An empty response (the model
    stopped at once) is left out and named in the title. Returns the Figure."""
    from paperlib.book.plots import salient_map, salient_pair

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
    from paperlib.core.caseset import RawCase, read_case_set, write_case_set
    from paperlib.core.io import atomic_write_text
    from paperlib.paper.data import load_prompts

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
        side = Path(paths[n]).with_suffix(".json")  # how the cases were made (explain_cases)
        if side.is_file():
            atomic_write_text(out / f"cases_{n}.json", side.read_text(encoding="utf-8"))
    return out, dropped


def instruction_scores(paths: dict, b: float = 7, p: float = 4):
    """Instruction score (Sec 4.2, :func:`paperlib.paper.finding1.scores`) of every
    annotated live case, pre-trained beside tuned.

    Returns (DataFrame or None, note). Columns: id, dataset, then n_response,
    n_instruction and score per model (suffixes _pt, _ft). None when no case
    is annotated or the annotation cannot be aligned to the tokenizer's pieces
    (the note says why); custom prompts are listed in the note.
    """
    from paperlib.paper import finding1

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
    from paperlib.core.caseset import read_case_set

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
