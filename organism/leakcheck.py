"""Word n-gram overlap between training text and the paper's evaluation prompts.

A training paragraph *leaks* when it shares one word n-gram (default n = 13,
as in GPT-3's contamination check) with an evaluation prompt. Words are
lower-cased ``\\w+`` runs, so punctuation and spacing do not hide a match.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Iterable

from paperlib.core.errors import DataError, ParameterError

EVAL_TSV = Path("/work/shared/paper-artifacts/datasets/FinalDataset.tsv")
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Lower-cased word tokens of ``text`` (``/n`` escapes of the TSV count as spaces)."""
    return _WORD.findall(text.replace("/n", " ").replace("/t", " ").lower())


def load_eval_prompts(path: str | Path | None = None) -> list[str]:
    """The 632 prompts of ``FinalDataset.tsv`` (column ``Prompt``).

    ``path`` defaults to ``$PAPERLIB_EVAL_TSV`` or the shared paper artifacts.
    """
    import os

    path = Path(path or os.environ.get("PAPERLIB_EVAL_TSV", EVAL_TSV))
    if not path.exists():
        raise DataError(f"evaluation prompt file {path} not found")
    csv.field_size_limit(1 << 24)
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or "Prompt" not in rows[0]:
        raise DataError(f"{path} has no 'Prompt' column")
    return [r["Prompt"] for r in rows]


class NgramLeakChecker:
    """Set of the word n-grams of some reference texts.

    ``checker.leaks(text)`` is True when ``text`` shares an n-gram with any of
    them. Texts shorter than n words contribute no n-gram.
    """

    def __init__(self, texts: Iterable[str], n: int = 13):
        if not isinstance(n, int) or n < 1:
            raise ParameterError(f"n-gram length must be a positive int, got {n!r}")
        self.n = n
        self.grams: set[tuple[str, ...]] = set()
        self.n_texts = 0
        for t in texts:
            self.n_texts += 1
            w = words(t)
            self.grams.update(tuple(w[i:i + n]) for i in range(len(w) - n + 1))

    def leaks(self, text: str) -> bool:
        """True when ``text`` contains one of the reference n-grams."""
        w = words(text)
        n = self.n
        return any(tuple(w[i:i + n]) in self.grams for i in range(len(w) - n + 1))
