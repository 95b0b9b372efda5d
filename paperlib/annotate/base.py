"""Interface of the machine annotators of FFN concept word lists (paper App D).

An annotator answers three questions about a top-K word list (K = 15 words of
one FFN principal component, :mod:`paperlib.explainers.ffn_concepts`):

1. ``concept``: one short description, or :data:`CANNOT_TELL` (``describable``
   is then False);
2. ``tasks``: the user tasks the concept serves, a subset of :data:`TASKS`
   (writing, math, coding, translation; empty = "None");
3. ``level``: one linguistic level of :data:`LEVELS`.

As in the paper (App D.2: a list whose description holds "Cannot Tell" failed
to be interpreted), an undescribable list gets no tasks and ``level=None``:
the paper's Table 5 shares are then shares of the describable concepts.
``evidence`` maps each label (``"concept"``, ``"task:<name>"``,
``"level:<name>"``) to a human-readable reason (the rule that fired and its
supporting words, or the model's raw answer).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from paperlib.core.errors import ParameterError, PaperlibError

TASKS: tuple[str, ...] = ("writing", "math", "coding", "translation")
LEVELS: tuple[str, ...] = ("phonology", "morphology", "syntax", "semantic")
CANNOT_TELL = "Cannot Tell"
DEFAULT_SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)  # the paper repeats 5 times
MAX_WORDS = 200


class AnnotationParseError(PaperlibError, ValueError):
    """An annotator's answer that cannot be read as a concept, task list or level."""


@dataclass(frozen=True)
class Annotation:
    """The three answers for one word list and one seed.

    concept: short description or ``"Cannot Tell"``; describable: False iff
    the concept is "Cannot Tell"; tasks: subset of TASKS; level: one of LEVELS
    (None when not describable); evidence: label -> reason; seed: the
    annotation seed; annotator: name of the annotator that produced it.
    """

    concept: str
    describable: bool
    tasks: frozenset[str]
    level: str | None
    evidence: dict[str, str] = field(default_factory=dict, compare=False)
    seed: int = 0
    annotator: str = ""

    def __post_init__(self):
        bad = set(self.tasks) - set(TASKS)
        if bad:
            raise ParameterError(f"unknown task(s) {sorted(bad)}; allowed: {TASKS}")
        if self.level is not None and self.level not in LEVELS:
            raise ParameterError(f"unknown level {self.level!r}; allowed: {LEVELS}")
        if self.describable and self.level is None:
            raise ParameterError("a describable concept needs a level")
        object.__setattr__(self, "tasks", frozenset(self.tasks))

    @property
    def labels(self) -> tuple:
        """(concept, describable, tasks, level): the answers without seed and evidence."""
        return (self.concept, self.describable, self.tasks, self.level)

    def to_dict(self) -> dict:
        """JSON-ready dict (tasks as a sorted list)."""
        return {"concept": self.concept, "describable": self.describable,
                "tasks": sorted(self.tasks), "level": self.level,
                "evidence": dict(self.evidence), "seed": self.seed,
                "annotator": self.annotator}

    @classmethod
    def from_dict(cls, d: dict) -> "Annotation":
        return cls(concept=d["concept"], describable=d["describable"],
                   tasks=frozenset(d["tasks"]), level=d["level"],
                   evidence=dict(d.get("evidence", {})), seed=int(d.get("seed", 0)),
                   annotator=d.get("annotator", ""))


def check_words(words) -> list[str]:
    """Validate a word list: a non-empty sequence (<= MAX_WORDS) of strings, at
    least one non-blank. Returns the words stripped of blanks and of the
    sentencepiece/BPE space markers ``▁``/``Ġ``, blanks dropped."""
    if isinstance(words, str) or not isinstance(words, Sequence):
        raise ParameterError(f"words must be a list of strings, got {type(words).__name__}")
    if len(words) > MAX_WORDS:
        raise ParameterError(f"words has {len(words)} entries; at most {MAX_WORDS} allowed")
    out = []
    for i, w in enumerate(words):
        if not isinstance(w, str):
            raise ParameterError(f"words[{i}] is {type(w).__name__}, not a string")
        w = w.strip().lstrip("▁Ġ").strip()
        if w:
            out.append(w)
    if not out:
        raise ParameterError("words is empty (no non-blank word)")
    return out


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"seed must be a non-negative int, got {seed!r}")
    return seed


class Annotator:
    """Base class: subclasses implement :meth:`annotate`."""

    name = "annotator"

    def annotate(self, words: Sequence[str], seed: int = 0) -> Annotation:
        raise NotImplementedError

    def annotate_many(self, lists: Iterable[Sequence[str]],
                      seeds: Iterable[int] = DEFAULT_SEEDS, *,
                      progress: bool = True) -> list[list[Annotation]]:
        """Annotate every list with every seed; ``result[i][j]`` is list i, seed j.

        Shows a tqdm progress bar over (list, seed) pairs unless ``progress=False``.
        """
        from tqdm.auto import tqdm

        lists = [list(words) for words in lists]
        seeds = [check_seed(s) for s in seeds]
        if not seeds:
            raise ParameterError("seeds is empty")
        bar = tqdm(total=len(lists) * len(seeds), desc=f"annotate ({self.name})",
                   disable=not progress)
        out = []
        try:
            for words in lists:
                row = []
                for seed in seeds:
                    row.append(self.annotate(words, seed=seed))
                    bar.update(1)
                out.append(row)
        finally:
            bar.close()
        return out
