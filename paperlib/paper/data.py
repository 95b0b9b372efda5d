"""Access to the frozen paper data and to live case sets.

The frozen data are the authors' released attribution matrices and data sets
(GPL-3.0, see ``paperlib/paper/released/README.md``), converted once by
``tools/make_paper_data.py`` into pickle-free files listed with their SHA-256
in ``manifest.json``. They ship inside the package (package data of
``paperlib.paper``, folder ``released/``), so an installed wheel has them.
Every load checks the checksum, so a truncated or altered file raises
:class:`DataError` instead of giving silently wrong numbers. The folder is
``$PAPERLIB_DATA`` or the packaged copy (:func:`paperlib.core.paths.data_dir`).

``source`` (in every loader of cases): ``None`` = the frozen paper data; a
folder holding ``cases_<model>.npz``; a single case-set file; or a mapping
``{model: path}``.
"""
from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import pandas as pd

from paperlib.core.caseset import CaseSet, read_case_set
from paperlib.core.errors import DataError, ParameterError, UnknownCaseError
from paperlib.core.paths import data_dir
from paperlib.core.registry import tsv_rows, verify_file

DATASETS = ("self-instruct", "lima", "mt-bench")
MODELS = ("llama", "vicuna")
_PREFIXES = (("user_oriented_task_", "self-instruct"), ("lima_author_", "lima"),
             ("mtbench_", "mt-bench"))


@dataclass(frozen=True)
class Case:
    """One prompt/response pair of one model.

    S: (N, M) float64 attribution matrix, rows = prompt tokens, columns =
    response tokens (released data: S with L=10, b=0, integers 0..10).
    """

    id: str
    model: str
    dataset: str
    prompt_tokens: list[str]
    response_tokens: list[str]
    reference: str
    S: np.ndarray = field(repr=False)


def dataset_of(case_id: str) -> str:
    """'self-instruct', 'lima' or 'mt-bench' from the case id's prefix."""
    for prefix, name in _PREFIXES:
        if isinstance(case_id, str) and case_id.startswith(prefix):
            return name
    raise UnknownCaseError(
        f"case id {case_id!r} belongs to no data set (expected a prefix "
        f"user_oriented_task_, lima_author_ or mtbench_)")


def _check_dataset(dataset: str | None) -> None:
    if dataset is not None and dataset not in DATASETS:
        raise ParameterError(f"dataset must be one of {DATASETS} or None, got {dataset!r}")


@functools.lru_cache(maxsize=16)
def _case_set_cached(path: str, mtime_ns: int, size: int) -> CaseSet:
    return read_case_set(path)


def case_set_path(model: str, source=None) -> Path:
    """The case-set file for ``model`` in ``source`` (see module docstring)."""
    if isinstance(source, Mapping):
        if model not in source:
            raise ParameterError(f"source mapping has no entry for model {model!r}")
        return Path(source[model])
    if source is None and model not in MODELS:
        raise ParameterError(f"model must be one of {MODELS} for the paper data, got {model!r}")
    base = data_dir() if source is None else Path(source)
    return base / f"cases_{model}.npz" if base.is_dir() or source is None else base


def load_case_set(model: str, source=None) -> CaseSet:
    """The verified, in-memory cached :class:`CaseSet` of ``model``."""
    path = verify_file(case_set_path(model, source))
    st = path.stat()
    cs = _case_set_cached(str(path.resolve()), st.st_mtime_ns, st.st_size)
    if source is not None and not isinstance(source, Mapping) and Path(source).is_file() \
            and cs.model != model:
        raise DataError(f"{path} holds model {cs.model!r}, not {model!r}")
    return cs


def _to_case(raw, model: str) -> Case:
    return Case(raw.id, model, dataset_of(raw.id), list(raw.prompt_tokens),
                list(raw.response_tokens), raw.reference, raw.S)


def load_case(model: str, case_id: str, source=None) -> Case:
    """One case; an unknown id raises UnknownCaseError with close suggestions."""
    cs = load_case_set(model, source)
    i = cs.index.get(case_id)
    if i is None:
        close = difflib.get_close_matches(str(case_id), cs.ids, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownCaseError(f"unknown case id {case_id!r} for model {model!r}{hint}")
    return _to_case(cs.get(i), model)


def iter_cases(model: str, dataset: str | None = None, source=None) -> Iterator[Case]:
    """All cases of ``model`` (optionally of one data set), in file order."""
    _check_dataset(dataset)
    cs = load_case_set(model, source)
    for i, cid in enumerate(cs.ids):
        if dataset is None or dataset_of(cid) == dataset:
            yield _to_case(cs.get(i), model)


def case_ids(dataset: str | None = None, model: str = "vicuna", source=None) -> list[str]:
    """Case ids (of the frozen data unless ``source``), optionally of one data set."""
    _check_dataset(dataset)
    ids = load_case_set(model, source).ids
    return [c for c in ids if dataset is None or dataset_of(c) == dataset]


def decode_field(text: str) -> str:
    """Decode a TSV field as the authors do: '/t' -> tab, '/n' -> newline,
    surrounding double quotes removed, doubled quotes undone."""
    text = text.replace("/t", "\t").replace("/n", "\n")
    if text.startswith('"') and text.endswith('"'):
        text = text[1:-1]
    return text.replace('""', '"')


def load_prompts() -> pd.DataFrame:
    """The 632 prompts: columns id, dataset, prompt, reference, annotation
    (decoded text; annotation = the raw 'Instruct&Context' column, decoded)."""
    rows = tsv_rows("FinalDataset.tsv.gz", 4)
    return pd.DataFrame({
        "id": [r[0] for r in rows], "dataset": [dataset_of(r[0]) for r in rows],
        "prompt": [decode_field(r[1]) for r in rows],
        "reference": [decode_field(r[2]) for r in rows],
        "annotation": [decode_field(r[3]) for r in rows]})


def load_ratings() -> pd.DataFrame:
    """Human helpfulness ratings: columns id, model ('vicuna'/'alpaca'), rating
    (int: 1..4, -1 = not rated)."""
    rows = tsv_rows("AnnotatedDataset.tsv.gz", 7)
    ids = [r[0].removesuffix(".pkl") for r in rows]
    return pd.DataFrame({"id": ids,
                         "model": [r[1].removesuffix("_7B") for r in rows],
                         "rating": np.array([int(r[6]) for r in rows], dtype=np.int64)})


def load_vocab() -> pd.DataFrame:
    """The ShareGPT vocabulary: columns word, freq (relative frequency)."""
    rows = tsv_rows("SingleShareGPT_Vocab.tsv.gz", 2, header=False)
    return pd.DataFrame({"word": [r[0] for r in rows],
                         "freq": np.array([float(r[1]) for r in rows])})
