"""Text labels of salient maps: token pieces as text, words, and which rows to label.

* :func:`token_labels` - a readable label per token piece, for sentencepiece
  ("▁", "<0x0A>") and byte-level BPE ("Ġ", "Ċ") alike
  (:func:`paperlib.measures.align.piece_labels`);
* :func:`word_labels` - the whole word a piece belongs to ("Anal|yze" -> "Analyze"
  on both rows), used when only some rows can be labelled;
* :func:`pick_rows` / :func:`every_kth` - which rows / columns get a label so that
  labels never overlap.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

LABEL_CHARS = 14          # longer token labels are cut with "…"
LABEL_GAP_IN = 0.108      # room (inches) one 7-point label needs


def _cut(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "…"


def token_labels(pieces: Sequence[str], scheme: str = "auto") -> list[str]:
    """Readable labels of token pieces (:func:`paperlib.measures.align.piece_labels`:
    sentencepiece "▁" and byte-level "Ġ" spaces dropped, "<0x0A>" / "Ċ" shown as
    "\\n", a blank piece as "␣"), cut to :data:`LABEL_CHARS` characters. ``scheme``
    ("auto", "sentencepiece", "bytelevel") is detected once for the whole list."""
    from paperlib.measures.align import piece_labels

    return [_cut(t) for t in piece_labels([str(p) for p in pieces], scheme)]


def _words(pieces: Sequence[str], scheme: str = "auto") -> tuple[list[str], list]:
    """(labels, keys): for each piece the whole word it belongs to (the run of
    non-blank characters of the decoded text around it) and that word's character
    span as a key (pieces of one word share it; a blank piece gets its own)."""
    from paperlib.measures.align import pieces_to_text

    pieces = [str(p) for p in pieces]
    text, spans = pieces_to_text(pieces, scheme)
    own = token_labels(pieces, scheme)
    labels, keys = [], []
    for i, (start, end) in enumerate(spans.tolist()):
        if start >= end or not text[start:end].strip():
            labels.append(own[i])
            keys.append(("piece", i))
            continue
        while text[start].isspace():
            start += 1
        while text[end - 1].isspace():
            end -= 1
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        while end < len(text) and not text[end].isspace():
            end += 1
        labels.append(_cut(text[start:end].strip()))
        keys.append((start, end))
    return labels, keys


def word_labels(pieces: Sequence[str], scheme: str = "auto") -> list[str]:
    """For each token piece, the whole word it belongs to, so that the row of "yze"
    in "Anal|yze" reads "Analyze"; blank pieces as in :func:`token_labels`."""
    return _words(pieces, scheme)[0]


def token_label(piece: str, scheme: str = "auto") -> str:
    """Readable label of one token piece (see :func:`token_labels`)."""
    return token_labels([piece], scheme)[0]


def pick_rows(importance, instruction=None, min_gap: int = 1, n_top: int | None = None,
              groups=None, first: Sequence[int] = ()) -> list[int]:
    """Rows to label when not all fit: no two chosen rows closer than ``min_gap``.

    Candidates in order: the rows ``first`` (e.g. words the text points at), the
    ``n_top`` most important rows (default: a third of
    what fits), then the instruction rows by importance, then every other row
    by importance; a candidate is taken when no chosen row lies within
    ``min_gap - 1`` rows of it and no chosen row has the same ``groups`` key
    (e.g. the pieces of one word). ``min_gap <= 1`` labels every row. Returns the
    chosen row indices in ascending order (deterministic: ties by position).
    """
    imp = np.asarray(importance, dtype=float)
    n = len(imp)
    instr = np.zeros(n, bool) if instruction is None else np.asarray(instruction, bool)
    if min_gap <= 1:
        return list(range(n))
    fit = max(1, -(-n // min_gap))
    n_top = max(1, fit // 3) if n_top is None else n_top
    by_imp = sorted(range(n), key=lambda i: (-imp[i], i))
    head = list(dict.fromkeys(int(i) for i in first)) + [i for i in by_imp[:n_top]
                                                          if i not in set(first)]
    order = head + [i for i in by_imp if instr[i] and i not in head] + \
        [i for i in by_imp if not instr[i] and i not in head]
    taken, used = np.zeros(n, bool), set()
    for i in order:
        key = None if groups is None else groups[i]
        if key in used or taken[max(0, i - min_gap + 1): i + min_gap].any():
            continue
        taken[i] = True
        if key is not None:
            used.add(key)
    return np.flatnonzero(taken).tolist()


def every_kth(m: int, room_in: float, keys=None) -> list[int]:
    """Evenly spaced column indices whose labels fit into ``room_in`` inches, one per
    word when ``keys`` (word keys of the columns) are given."""
    step = max(1, int(np.ceil(LABEL_GAP_IN / max(room_in / max(m, 1), 1e-9))))
    cols = list(range(0, m, step))
    if keys is None or step == 1:
        return cols
    return [j for i, j in enumerate(cols) if i == 0 or keys[j] != keys[cols[i - 1]]]


def rows_of_words(pieces: Sequence[str], words: Sequence[str]) -> list[int]:
    """The first row of the first occurrence of each of ``words`` in ``pieces`` (case
    and surrounding punctuation ignored), in prompt order."""
    strip = lambda w: w.strip(".,;:!?\"'()[]").lower()
    wanted = {strip(w) for w in words}
    labels, _ = _words(pieces)
    out, seen = [], set()
    for i, label in enumerate(labels):
        word = strip(label)
        if word in wanted and word not in seen:
            out.append(i)
            seen.add(word)
    return out
