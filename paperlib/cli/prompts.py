"""Prompt sets for ``paperlib explain``: the paper's 632 prompts, or a file of one's own.

* ``paper`` - FinalDataset (ids ``user_oriented_task_*``, ``lima_author_*``,
  ``mtbench_*``), with references and instruction annotations;
* a ``.tsv`` file with a header row: columns ``id`` and ``prompt`` (required),
  ``reference`` and ``annotation`` (optional; annotation: instruction sentences
  joined by ``|||``, as in FinalDataset). Fields may be quoted (CSV rules, so a
  quoted field can hold tabs and newlines);
* a ``.jsonl`` file: one object per line with the same keys.

Case ids must be unique; a prompt must not be blank. Finding-1 tables
(``paperlib tables``) need ids of the paper's data set (they use its annotations
and ratings); other ids are explained and stored all the same.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from paperlib.core.errors import DataError, ParameterError


@dataclass(frozen=True)
class PromptItem:
    id: str
    prompt: str
    reference: str = ""
    annotation: str = ""


def _paper_items() -> list[PromptItem]:
    from paperlib.paper.data import load_prompts

    table = load_prompts()
    return [PromptItem(str(r.id), r.prompt, r.reference, r.annotation)
            for r in table.itertuples(index=False)]


def _item(row: dict, where: str) -> PromptItem:
    missing = [k for k in ("id", "prompt") if not str(row.get(k) or "").strip()]
    if missing:
        raise DataError(f"{where}: missing or empty {', '.join(missing)}")
    return PromptItem(str(row["id"]).strip(), str(row["prompt"]),
                      str(row.get("reference") or ""), str(row.get("annotation") or ""))


def _tsv_items(path: Path) -> list[PromptItem]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        header = reader.fieldnames or []
        if "id" not in header or "prompt" not in header:
            raise DataError(f"{path}: the header row must name the columns 'id' and 'prompt' "
                            f"(found {header})")
        return [_item(row, f"{path} row {i + 2}") for i, row in enumerate(reader)]


def _jsonl_items(path: Path) -> list[PromptItem]:
    out = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise DataError(f"{path} line {i}: not JSON ({exc})") from exc
            if not isinstance(row, dict):
                raise DataError(f"{path} line {i}: expected a JSON object")
            out.append(_item(row, f"{path} line {i}"))
    return out


def read_items(source: str) -> list[PromptItem]:
    """All prompts of ``source`` ("paper", a .tsv or a .jsonl file)."""
    if source == "paper":
        return _paper_items()
    path = Path(source)
    if not path.is_file():
        raise DataError(f"prompt file {path} does not exist (give 'paper', a .tsv or a .jsonl)")
    try:
        if path.suffix == ".tsv":
            items = _tsv_items(path)
        elif path.suffix == ".jsonl":
            items = _jsonl_items(path)
        else:
            raise ParameterError(f"prompt file {path}: the name must end in .tsv or .jsonl")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text ({exc})") from exc
    if not items:
        raise DataError(f"{path} holds no prompt")
    seen: set[str] = set()
    for it in items:
        if it.id in seen:
            raise DataError(f"{path}: case id {it.id!r} appears twice")
        seen.add(it.id)
    return items


def select(items: list[PromptItem], *, datasets=None, ids=None, limit=None) -> list[PromptItem]:
    """Filter by data set (id prefix), by explicit ids (in the file's order), then
    keep the first ``limit``. Unknown ids and empty selections are errors."""
    from paperlib.paper.data import DATASETS, dataset_of

    if datasets:
        bad = [d for d in datasets if d not in DATASETS]
        if bad:
            raise ParameterError(f"--dataset {bad[0]!r}: choose from {', '.join(DATASETS)}")

        def ds(cid):
            try:
                return dataset_of(cid)
            except KeyError:
                return None
        items = [it for it in items if ds(it.id) in datasets]
    if ids:
        known = {it.id for it in items}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise ParameterError(f"--ids: unknown case id(s) {unknown[:3]} in the prompt set")
        wanted = set(ids)
        items = [it for it in items if it.id in wanted]
    if limit is not None:
        if limit < 1:
            raise ParameterError(f"--limit must be >= 1, got {limit}")
        items = items[:limit]
    if not items:
        raise ParameterError("the selection holds no prompt")
    return items
