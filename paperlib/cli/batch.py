"""Resumable, data-parallel generation + attribution of a prompt set, case by case.

Layout of an output folder::

    <out>/parts/<model>/<case>.npz   one finished case (S, I, pieces, its key, timings)
    <out>/cases_<model>.npz          the case set (released-data schema), once all parts exist
    <out>/cases_<model>.json         how it was made (fingerprints, arguments, version)

* **Atomic per case**: a part is written to a temporary file and renamed into
  place (:func:`paperlib.core.io.atomic_path`), so a process killed mid-case
  leaves no partial case, at most a ``.*.tmp`` file that the next run removes.
* **Resumable**: a part is reused only when its stored key equals the key of
  the case now (:func:`case_key`: case id, prompt, model and tokenizer
  fingerprints, generation and attribution arguments); a stale or unreadable
  part is recomputed.
* **Data-parallel**: the prompts are cut into fixed generation batches of
  ``batch_size`` in prompt order; batch b belongs to process b mod K. Every
  process writes its own parts; after a barrier process 0 merges them in prompt
  order. Batches and per-case work do not depend on K, so the case set is the
  same for any number of processes.
"""
from __future__ import annotations

import hashlib
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from paperlib.core.errors import DataError, ParameterError

PART_FORMAT = "paperlib.cli.part/1"


@dataclass(frozen=True)
class RunSpec:
    """Everything besides the model and prompt that changes a case."""

    max_new_tokens: int = 300
    chat_template: object = False  # False, True (the tokenizer's) or a "{prompt}" string
    density_rows: str = "auto"
    engine: str = "fast"
    mode: str = "auto"
    precision: str = "float32"
    chunk_size: int | None = None
    activation_memory_gb: float = 2.0
    batch_size: int = 8

    def rows(self) -> str:
        """"all" or "user" (the user's message only, inside a chat template)."""
        if self.density_rows == "auto":
            return "all" if self.chat_template is False else "user"
        return self.density_rows


def part_path(out: Path, model_name: str, case_id: str) -> Path:
    """``<out>/parts/<model>/<safe id>-<8 hex>.npz`` (the hash keeps odd ids apart)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", case_id)[:80]
    digest = hashlib.sha256(case_id.encode("utf-8")).hexdigest()[:8]
    return Path(out) / "parts" / model_name / f"{safe}-{digest}.npz"


def case_key(spec: RunSpec, item, model_fp: dict, tokenizer_fp: dict) -> str:
    from paperlib.core.io import param_key
    from paperlib.explainers.attribution import ALGORITHM

    return param_key({"format": PART_FORMAT, "id": item.id, "prompt": item.prompt,
                      "model": model_fp, "tokenizer": tokenizer_fp, "algorithm": ALGORITHM,
                      "spec": asdict(spec), "rows": spec.rows()})


def read_part(path: Path) -> dict | None:
    """A part's contents, or None when it is missing or unreadable."""
    from paperlib.core.io import load_npz

    if not path.is_file():
        return None
    try:
        value = load_npz(path)
        if "S" not in value or "key" not in value.get("meta", {}):
            return None
        return value
    except Exception:  # noqa: BLE001 - a damaged part is recomputed, never trusted
        return None


def is_done(out: Path, name: str, item, key: str) -> bool:
    part = read_part(part_path(out, name, item.id))
    return part is not None and part["meta"]["key"] == key


def batches(n_items: int, batch_size: int) -> list[range]:
    """Fixed generation batches over the prompt order (independent of processes)."""
    if batch_size < 1:
        raise ParameterError(f"--batch-size must be >= 1, got {batch_size}")
    return [range(s, min(s + batch_size, n_items)) for s in range(0, n_items, batch_size)]


def my_batches(n_items: int, batch_size: int, world) -> list[range]:
    return [b for i, b in enumerate(batches(n_items, batch_size)) if i % world.size == world.rank]


def remove_stale_tmp(out: Path) -> int:
    """Delete ``.*.tmp`` files of killed writers under ``<out>/parts``; returns the count."""
    n = 0
    for tmp in (Path(out) / "parts").rglob(".*.tmp"):
        tmp.unlink(missing_ok=True)
        n += 1
    return n


def _user_rows(gen, item, tokenizer, spec: RunSpec):
    if spec.rows() != "user":
        return None
    from paperlib.measures.align import message_rows

    return np.asarray(message_rows(gen.prompt_tokens, item.prompt, tokenizer), bool)


def attribute_case(model, tokenizer, gen, item, spec: RunSpec):
    """(AttributionResult, seconds) of one generated case (M = 0 kept)."""
    from paperlib.explainers.attribution import AttributionResult, attribute

    t0 = time.perf_counter()
    if not gen.response_ids:
        empty = np.zeros((len(gen.prompt_tokens), 0), np.float32)
        res = AttributionResult(gen.prompt_tokens, [], empty, empty[:gen.n_prefix])
    else:
        kw = {} if spec.engine == "reference" else dict(
            mode=spec.mode, chunk_size=spec.chunk_size, precision=spec.precision,
            max_memory_gb=spec.activation_memory_gb)
        res = attribute(model, tokenizer, gen.prompt_ids, gen.response_ids,
                        n_prefix=gen.n_prefix, engine=spec.engine, **kw)
    res.user_rows = _user_rows(gen, item, tokenizer, spec)
    return res, time.perf_counter() - t0


def write_part(path: Path, key: str, item, gen, res, seconds: dict, rank: int) -> None:
    from paperlib.core.io import atomic_path, save_npz

    S = res.S.astype(np.uint8) if res.I.size else np.zeros(res.I.shape, np.uint8)
    meta = {"format": PART_FORMAT, "key": key, "id": item.id,
            "prompt_tokens": list(res.prompt_tokens), "response_tokens": list(res.response_tokens),
            "response_ids": list(gen.response_ids), "stopped_at_eos": gen.stopped_at_eos,
            "seconds": seconds, "rank": rank}
    with atomic_path(path) as tmp:
        save_npz({"S": S, "I": res.I.astype(np.float32), "meta": meta}, tmp)


def run_model(model, tokenizer, name: str, items, spec: RunSpec, out: Path, world, keys: dict,
              progress: bool = True) -> dict:
    """This process's share of ``items`` on one model; returns counts and seconds."""
    from tqdm.auto import tqdm

    from paperlib.models.generation import generate_batch

    mine = my_batches(len(items), spec.batch_size, world)
    n_mine = sum(len(b) for b in mine)
    stats = {"cases": n_mine, "skipped": 0, "computed": 0, "seconds": 0.0}
    t_start = time.perf_counter()
    bar = tqdm(total=n_mine, desc=f"{name} [{world.rank + 1}/{world.size}]", disable=not progress,
               position=world.rank, leave=True, dynamic_ncols=True)
    for batch in mine:
        todo = [i for i in batch if not is_done(out, name, items[i], keys[items[i].id])]
        stats["skipped"] += len(batch) - len(todo)
        bar.update(len(batch) - len(todo))
        if not todo:
            continue
        t0 = time.perf_counter()
        gens = generate_batch(model, tokenizer, [items[i].prompt for i in batch],
                              spec.max_new_tokens, chat_template=spec.chat_template,
                              batch_size=len(batch))
        t_gen = (time.perf_counter() - t0) / len(batch)
        for i in todo:
            gen = gens[i - batch.start]
            res, t_attr = attribute_case(model, tokenizer, gen, items[i], spec)
            write_part(part_path(out, name, items[i].id), keys[items[i].id], items[i], gen, res,
                       {"generate": t_gen, "attribute": t_attr}, world.rank)
            stats["computed"] += 1
            bar.update(1)
    bar.close()
    stats["seconds"] = time.perf_counter() - t_start
    return stats


def merge(out: Path, name: str, items, keys: dict) -> Path:
    """Write ``<out>/cases_<name>.npz`` from the parts, in prompt order."""
    from paperlib.core.caseset import RawCase, write_case_set

    cases, missing = [], []
    for it in items:
        part = read_part(part_path(out, name, it.id))
        if part is None or part["meta"]["key"] != keys[it.id]:
            missing.append(it.id)
            continue
        meta = part["meta"]
        cases.append(RawCase(it.id, meta["prompt_tokens"], meta["response_tokens"],
                             it.reference, part["S"]))
    if missing:
        raise DataError(f"{len(missing)} case(s) of model {name!r} are not finished "
                        f"(e.g. {missing[:3]}); run the same command again to finish them")
    return write_case_set(Path(out) / f"cases_{name}.npz", name, cases)


def part_seconds(out: Path, name: str, items, keys: dict) -> list[float]:
    """Measured seconds (generation + attribution) of the finished cases."""
    secs = []
    for it in items:
        part = read_part(part_path(out, name, it.id))
        if part is not None and part["meta"]["key"] == keys[it.id]:
            s = part["meta"].get("seconds", {})
            secs.append(float(s.get("generate", 0)) + float(s.get("attribute", 0)))
    return secs
