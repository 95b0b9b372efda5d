"""Attribute a live pair's greedy responses to the organism's held-out instructions and
write them as Finding-1 case sets (released-data schema) with automatic labels.

:func:`run_pair` is the whole step for a chapter: load the pair, read its prompt
format and the held-out pairs (:mod:`paperlib.paper.organism_cases`), generate, and
attribute every response with gradient x input (the paper's I) and exact
leave-one-out, and a fixed subsample also with integrated gradients
(:mod:`paperlib.explainers.faithfulness`). Every attribution is cached per case on the
model and tokenizer fingerprints, the prompt and response ids and the method
parameters (:class:`paperlib.core.io.ResultCache`), so a warm run only reads.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from paperlib.core.errors import ParameterError, check_count
from paperlib.paper.organism_cases import (DEFAULT_TASKS, LABELS_SCHEMA, ROLE_CODES, MarkedPrompt,
                                           answer_correct, cut_response, generate_greedy,
                                           load_heldout, mark_prompt, read_template)

METHODS = {"grad": "I", "loo": "LOO", "ig": "IG"}  # file suffix -> attribute_three name

@dataclass
class LiveCase:
    """One prompt answered by one model: pieces, token roles, the automatic label and
    the raw attribution matrices (N x M, prefix rows dropped) by method name."""

    id: str
    task: str
    model: str
    prompt_tokens: list[str]
    response_tokens: list[str]
    roles: str
    correct: bool
    reference: str
    response_text: str
    matrices: dict = field(repr=False)
    seconds: dict = field(default_factory=dict)
    completeness: float = float("nan")
    fresh: bool = False

    @property
    def instruction_mask(self) -> np.ndarray:
        return np.array([c == ROLE_CODES["instruction"] for c in self.roles])


def attribute_case(model, prompt: MarkedPrompt, response_ids: list[int], *, fingerprint: dict,
                   tokenizer_fp: dict, ig: bool, ig_steps: int) -> dict:
    """I and LOO (and IG when ``ig``) of one case, cached on everything they depend on;
    "seconds" holds each method's time when the entry was computed, "fresh" whether it
    was computed by this call."""
    from paperlib.core.io import ResultCache, load_npz, save_npz
    from paperlib.explainers import faithfulness as fa
    from paperlib.explainers.attribution import ALGORITHM

    methods = ("I", "LOO", "IG") if ig else ("I", "LOO")
    params = {"model": fingerprint, "tokenizer": tokenizer_fp, "prompt_ids": prompt.ids,
              "response_ids": list(response_ids), "n_prefix": prompt.n_prefix,
              "methods": methods, "ig_steps": ig_steps, "ig_rule": "adaptive",
              "algorithms": [ALGORITHM, fa.LOO_ALGORITHM, fa.IG_ALGORITHM],
              "dtype": str(next(model.parameters()).dtype)}

    def compute():
        return fa.attribute_three(model, prompt.ids, response_ids, n_prefix=prompt.n_prefix,
                                  steps=ig_steps, methods=methods)

    cache = ResultCache("organism_attribution")
    fresh = not cache.path(params, "npz").exists()
    value = cache.get_or_compute(params, compute, save_npz, load_npz, ext="npz")
    return {**value, "fresh": fresh}


def build_cases(models: dict, rows: list[dict], template: dict, *, max_new_tokens: int = 32,
                ig_ids=(), ig_steps: int = 24, progress: bool = True) -> dict[str, list[LiveCase]]:
    """{model name: [LiveCase]} for ``models`` = {name: (model, tokenizer)} on ``rows``.

    Each model answers every prompt greedily (:func:`generate_greedy`); empty
    responses are kept without matrices (M = 0). Cases whose id is in ``ig_ids`` also
    get integrated gradients with ``ig_steps`` nodes.
    """
    from tqdm.auto import tqdm

    from paperlib.models.loading import model_fingerprint, tokenizer_fingerprint

    if not rows:
        raise ParameterError("no held-out rows: nothing to attribute")
    out, ig_ids = {}, set(ig_ids)
    for name, (model, tok) in models.items():
        fp, tfp = model_fingerprint(model), tokenizer_fingerprint(tok)
        marked = [mark_prompt(tok, template, r) for r in rows]
        responses = generate_greedy(model, tok, [m.text for m in marked], max_new_tokens,
                                    fingerprint=fp)
        cases = []
        for row, mp, resp in tqdm(list(zip(rows, marked, responses)), desc=name,
                                  disable=not progress):
            text = tok.decode(resp, skip_special_tokens=True)
            value = {} if not resp else attribute_case(
                model, mp, resp, fingerprint=fp, tokenizer_fp=tfp,
                ig=row["id"] in ig_ids, ig_steps=ig_steps)
            mats = {k: np.asarray(value[k]) for k in ("I", "LOO", "IG") if k in value}
            cases.append(LiveCase(
                id=row["id"], task=row["task"], model=name,
                prompt_tokens=tok.convert_ids_to_tokens(mp.ids[mp.n_prefix:]),
                response_tokens=tok.convert_ids_to_tokens(resp), roles=mp.roles,
                correct=answer_correct(row, cut_response(text, template)),
                reference=str(row["response"]), response_text=text, matrices=mats,
                seconds=dict(value.get("seconds", {})),
                completeness=float(value.get("completeness", float("nan"))),
                fresh=bool(value.get("fresh", False))))
        out[name] = cases
    return out


def write_case_sets(cases: dict[str, list[LiveCase]], out_dir) -> dict[str, Path]:
    """Write ``cases_<model>_<grad|loo|ig>.npz`` (released-data schema, S with L = 10,
    b = 0) and ``labels_<model>.json`` (task, correct, token roles per case) into
    ``out_dir``; a method's file holds the cases that have it. Returns {stem: path}."""
    from paperlib.core.caseset import RawCase, write_case_set
    from paperlib.core.io import atomic_write_text
    from paperlib.measures.density import normalise

    out_dir = Path(out_dir)
    paths = {}
    for model, items in cases.items():
        for suffix, key in METHODS.items():
            raw = [RawCase(c.id, c.prompt_tokens, c.response_tokens, c.reference,
                           normalise(c.matrices[key], L=10, b=0).astype(np.uint8)
                           if key in c.matrices else np.zeros((len(c.roles), 0), np.uint8))
                   for c in items if key in c.matrices or (not c.response_tokens and key != "IG")]
            if raw:
                stem = f"cases_{model}_{suffix}"
                paths[stem] = write_case_set(out_dir / f"{stem}.npz", model, raw)
        labels = {"schema": LABELS_SCHEMA, "model": model, "roles": ROLE_CODES,
                  "cases": {c.id: {"task": c.task, "correct": bool(c.correct), "roles": c.roles,
                                   "response": c.response_text} for c in items}}
        paths[f"labels_{model}"] = atomic_write_text(
            out_dir / f"labels_{model}.json", json.dumps(labels, ensure_ascii=False, indent=1))
    return paths


@dataclass
class LiveRun:
    """What :func:`run_pair` did: cases by model ("ft", "pt"), the case-set folder, the
    held-out rows, the integrated-gradients subsample, the pair's label, the wall time
    of this run and how many attribution entries it computed (the rest were cached)."""

    cases: dict
    folder: Path
    rows: list
    ig_ids: list
    pair: str
    seconds: float
    computed: int
    parameters: dict = field(default_factory=dict)


def _label(path) -> str:
    parts = Path(str(path)).parts
    return "/".join(parts[-2:]) if len(parts) >= 2 else str(path)


def run_pair(model_pt="organism", model_ft=None, *, heldout, tasks=DEFAULT_TASKS,
             per_task: int = 30, max_new_tokens: int = 32, ig_per_task: int = 4,
             ig_steps: int = 24, out_dir=None, threads: int = 1,
             progress: bool = True) -> LiveRun:
    """Generate, attribute and write the case sets of a pair on held-out instructions.

    ``model_pt`` / ``model_ft``: as :func:`paperlib.models.load_pair` (a pair alias
    alone, or two folders); the prompt format comes from the tuned model's folder.
    ``per_task`` prompts per task (file order), of which the first ``ig_per_task`` also
    get integrated gradients (``ig_steps`` nodes). ``threads``: torch threads during
    the run (1 is fastest on a shared, loaded machine). Writes into ``out_dir``
    (default ``<results>/finding1_organism``).
    """
    import torch

    from paperlib.core.paths import results_dir
    from paperlib.models.loading import load_pair
    from paperlib.models.pair import quiet_progress_bars

    per_task = check_count("per_task", per_task, 2)
    ig_per_task = check_count("ig_per_task", ig_per_task, 0, per_task)
    threads = check_count("threads", threads, 1, 256)
    if not progress:
        quiet_progress_bars()
    start, old_threads = time.perf_counter(), torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        pt, tok_pt, ft, tok_ft = load_pair(model_pt, model_ft)
        folder_ft = Path(str(ft.config._name_or_path))
        template = read_template(folder_ft)
        rows = load_heldout(heldout, tasks, per_task)
        ig_ids = [r["id"] for r in rows if int(r["id"].rsplit("_", 1)[1]) < ig_per_task]
        cases = build_cases({"ft": (ft, tok_ft), "pt": (pt, tok_pt)}, rows, template,
                            max_new_tokens=max_new_tokens, ig_ids=ig_ids, ig_steps=ig_steps,
                            progress=progress)
    finally:
        torch.set_num_threads(old_threads)
    folder = Path(out_dir) if out_dir is not None else results_dir() / "finding1_organism"
    write_case_sets(cases, folder)
    computed = sum(c.fresh for items in cases.values() for c in items)
    params = dict(tasks=list(tasks), per_task=per_task, max_new_tokens=max_new_tokens,
                  ig_per_task=ig_per_task, ig_steps=ig_steps, threads=threads)
    return LiveRun(cases, folder, rows, ig_ids,
                   f"{_label(pt.config._name_or_path)} → {_label(folder_ft)}",
                   time.perf_counter() - start, computed, params)
