"""Candidate vocabulary of the explainers and word embeddings as sub-token means.

The paper (Sec 5.2, App F) describes attention heads and FFN components with
words from a cleaned ShareGPT vocabulary (``SingleShareGPT_Vocab.tsv``: word,
relative frequency; 26,497 words, punctuation and case kept) instead of raw
sub-tokens. A word's embedding is the mean of the embedding rows of its
sub-tokens under the model's tokenizer.

Tokenisation choice (documented, tested): a word is tokenised *as it appears
after a space inside a sentence* -- the form LLaMA's sentencepiece gives
("▁word") and GPT-2-style byte-level BPE gives ("Ġword"). We encode
``anchor + " " + word`` and drop the anchor's ids, which avoids each
tokenizer's own handling of a text-initial space (sentencepiece's dummy
prefix would otherwise turn " word" into "▁▁word" or "▁" + "▁word"). If the
anchor's ids are not a prefix of the result (a merge across the space), we fall
back to encoding ``" " + word`` and stripping whitespace-only tokens. Words
that give no token, or the tokenizer's unknown token, are dropped and listed in
:attr:`WordIndex.dropped` (never silently mis-embedded).
"""
from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from paperlib.core.errors import DataError, ParameterError, check_count

DEFAULT_ANCHOR = "a"
VOCAB_FILE = "SingleShareGPT_Vocab.tsv.gz"  # the paper's ShareGPT word list (frozen data)


@dataclass(frozen=True)
class WordIndex:
    """Ragged sub-token index of a word list.

    words: the W kept words; token_ids: (T,) long, the concatenated sub-token
    ids; offsets: (W,) long, start of word i's ids in ``token_ids``;
    dropped: words left out (no token / unknown token).
    """

    words: tuple[str, ...]
    token_ids: torch.Tensor
    offsets: torch.Tensor
    dropped: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.words)

    def tokens_of(self, i: int) -> list[int]:
        """Sub-token ids of word ``i``."""
        end = self.offsets[i + 1] if i + 1 < len(self.words) else len(self.token_ids)
        return self.token_ids[self.offsets[i]:end].tolist()


def words_hash(words) -> str:
    """SHA-256 of a word list (order matters), for cache keys."""
    return hashlib.sha256("\n".join(words).encode("utf-8")).hexdigest()


def _read_tsv(path: Path) -> list[tuple[str, float]]:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="\n") as f:
            lines = f.read().split("\n")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read vocabulary file {path}: {exc}") from exc
    rows = []
    for n, line in enumerate(lines, 1):
        if not line:
            continue
        parts = line.split("\t")
        try:
            rows.append((parts[0], float(parts[1])))
        except (IndexError, ValueError):
            raise DataError(f"{path}: line {n} is not 'word<TAB>frequency': {line[:60]!r}") from None
        if len(parts) != 2 or not parts[0]:
            raise DataError(f"{path}: line {n} is not 'word<TAB>frequency': {line[:60]!r}")
    return rows


def load_vocab_words(path=None, top_n: int | None = None) -> list[str]:
    """The candidate words, most frequent first.

    path: a ``word<TAB>freq`` TSV (optionally .gz); default: the frozen copy
    ``SingleShareGPT_Vocab.tsv.gz`` of the frozen paper data (checksummed,
    :func:`paperlib.core.registry.tsv_rows`).
    top_n: keep only the ``top_n`` most frequent words (None = all).
    """
    if top_n is not None:
        check_count("top_n", top_n)
    if path is None:
        from paperlib.core.registry import tsv_rows

        rows = [(w, float(f)) for w, f in tsv_rows(VOCAB_FILE, 2, header=False)]
    else:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"vocabulary file {path} does not exist")
        rows = _read_tsv(path)
    if len({w for w, _ in rows}) != len(rows):
        raise DataError(f"vocabulary {path or 'SingleShareGPT_Vocab'} has duplicate words")
    rows.sort(key=lambda r: -r[1])
    words = [w for w, _ in rows]
    return words[:top_n] if top_n is not None else words


def _ids(tokenizer, texts: list[str]) -> list[list[int]]:
    return tokenizer(texts, add_special_tokens=False)["input_ids"]


def _strip_space(tokenizer, ids: list[int]) -> list[int]:
    """Drop leading tokens that decode to whitespace only (fallback path)."""
    while ids and not tokenizer.decode([ids[0]]).strip():
        ids = ids[1:]
    return ids


def _word_ids(tokenizer, words: list[str], anchor: str) -> list[list[int]]:
    """Sub-token ids of each word in its after-a-space form (see module doc)."""
    head = _ids(tokenizer, [anchor])[0]
    full = _ids(tokenizer, [f"{anchor} {w}" for w in words])
    out: list[list[int]] = []
    for w, ids in zip(words, full):
        if ids[:len(head)] == head:
            out.append(ids[len(head):])
        else:
            out.append(_strip_space(tokenizer, _ids(tokenizer, [" " + w])[0]))
    return out


def word_token_index(tokenizer, words, anchor: str = DEFAULT_ANCHOR,
                     warn: bool = True) -> WordIndex:
    """Build the ragged (W x sub-tokens) index of ``words`` under ``tokenizer``.

    tokenizer: a Hugging Face tokenizer (fast or slow). Words giving no token or
    containing the unknown token are dropped (a warning gives the count).
    """
    words = list(words)
    if not words:
        raise ParameterError("the word list is empty")
    unk = getattr(tokenizer, "unk_token_id", None)
    kept, dropped, flat, offsets = [], [], [], []
    for w, ids in zip(words, _word_ids(tokenizer, words, anchor)):
        if not ids or (unk is not None and unk in ids):
            dropped.append(w)
            continue
        offsets.append(len(flat))
        flat.extend(ids)
        kept.append(w)
    if not kept:
        raise ParameterError("no word of the list is known to the tokenizer")
    if dropped and warn:
        warnings.warn(f"{len(dropped)} of {len(words)} words have no usable sub-token "
                      f"under this tokenizer and were dropped (e.g. {dropped[:3]})",
                      stacklevel=2)
    return WordIndex(tuple(kept), torch.tensor(flat, dtype=torch.long),
                     torch.tensor(offsets, dtype=torch.long), tuple(dropped))


def word_embeddings(emb: torch.Tensor, index: WordIndex,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Mean sub-token embedding of each word.

    emb: (V, D) embedding matrix (input or output embeddings);
    returns (W, D) in ``dtype``, row i = mean of emb[ids of word i].
    """
    if emb.ndim != 2:
        raise ParameterError(f"emb must be a (V, D) matrix, got shape {tuple(emb.shape)}")
    top = int(index.token_ids.max())
    if top >= emb.shape[0]:
        raise ParameterError(f"token id {top} is outside the embedding matrix of "
                             f"{emb.shape[0]} rows: tokenizer and model do not match")
    ids = index.token_ids.to(emb.device)
    offsets = index.offsets.to(emb.device)
    return torch.nn.functional.embedding_bag(ids, emb.to(dtype), offsets, mode="mean")


def resolve_word_index(tokenizer, words=None) -> "WordIndex":
    """A prepared :class:`WordIndex` as given, else one built for ``words``
    (default: the ShareGPT vocabulary) under ``tokenizer``."""
    if isinstance(words, WordIndex):
        return words
    if tokenizer is None:
        raise ParameterError("a tokenizer is needed to build the word index")
    return word_token_index(tokenizer, load_vocab_words() if words is None else words)


def word_index(tokenizer, vocab_size: int | None = 2000):
    """WordIndex of the ``vocab_size`` most frequent ShareGPT words (None = all
    26,497) under ``tokenizer``; words it cannot spell are dropped."""
    from paperlib.words.vocab import load_vocab_words, word_token_index

    return word_token_index(tokenizer, load_vocab_words(top_n=vocab_size), warn=False)
