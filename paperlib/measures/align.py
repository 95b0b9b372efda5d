"""Align annotated instruction sentences to prompt tokens, without a tokenizer.

The decoded prompt text and each token's character span are rebuilt from the
token pieces alone (:func:`pieces_to_text`). Two piece conventions are known:

* sentencepiece (LLaMA, the paper's data): "▁" is a space, ``<0xNN>`` is a raw
  byte (``<0x0A>`` newline; runs of byte pieces form multi-byte UTF-8
  characters), the leading "▁" of the first piece is the dummy prefix;
* byte-level BPE (GPT-2 style: "Ġ" space, "Ċ" newline, every byte mapped to
  one printable character).

With the tokenizer at hand, :func:`tokenizer_scheme` reads the convention from
its decoder / pre-tokenizer (``ByteLevel`` vs ``Metaspace`` / byte fallback);
from pieces alone, :func:`detect_scheme` takes byte-level only when every
character is a byte-level character and the bytes form valid UTF-8 (so a
one-word "Résumé" prompt decodes right, not as "RÃ©sumÃ©").
:func:`piece_labels` gives readable per-token labels (salient-map ticks) and
:func:`message_rows` the tokens of the user's message inside a chat template.

Sentences follow the authors' rule: split the text on newlines, then after
``.``, ``!``, ``?`` or ``:`` followed by whitespace. An annotation (the
"Instruct&Context" column) lists instruction fragments joined by "|||", then
"&&&", then the context; every fragment (split into sentences, newlines read as
"|||") selects the WHOLE first prompt sentence containing it, a leading
"Input:" is stripped, a bare "Output:" dropped. The tokens overlapping the
first occurrence of each selected sentence form the instruction mask, less
blank tokens and a lone '▁"' quote piece at its edges (the authors tokenized
each sentence, stripped those edge pieces and searched the first occurrence
of the token sequence; on the released data both give the same Table 1).

Faithful quirk of the authors' mapping, kept because it produced the paper's
numbers: an empty sub-fragment (e.g. from a trailing "|||") is contained in
every sentence and so selects the first prompt sentence. ("Input:" followed by
whitespace is a sentence of its own under the splitting rule, so the usual
annotated "Input: " fragment selects only that label, which is then dropped.)
"""
from __future__ import annotations

import codecs
import re
from typing import Sequence

import numpy as np

from paperlib.core.errors import DataError, ParameterError

_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")
_SENT_SPLIT = re.compile(r"(?<=[.!?:])\s+")


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table."""
    keep = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
            + list(range(ord("®"), ord("ÿ") + 1)))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


_UNICODE_TO_BYTE = {c: b for b, c in _bytes_to_unicode().items()}


SCHEMES = ("sentencepiece", "bytelevel")


def _component_types(node) -> list[str]:
    """Types of a tokenizers component (decoder / pre-tokenizer JSON), Sequences flattened."""
    if not isinstance(node, dict):
        return []
    inner = node.get("decoders") or node.get("pretokenizers") or []
    return [str(node.get("type"))] + [t for child in inner for t in _component_types(child)]


def tokenizer_scheme(tokenizer) -> str | None:
    """'bytelevel' or 'sentencepiece' from the tokenizer's decoder / pre-tokenizer
    types (a slow tokenizer: its byte encoder or sentencepiece model); None when
    it is neither (e.g. a word-level tokenizer)."""
    import json

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        if hasattr(tokenizer, "byte_encoder"):
            return "bytelevel"
        return "sentencepiece" if hasattr(tokenizer, "sp_model") else None
    state = json.loads(backend.to_str())
    types = _component_types(state.get("decoder")) + _component_types(state.get("pre_tokenizer"))
    if "ByteLevel" in types:
        return "bytelevel"
    model = state.get("model") or {}
    if "Metaspace" in types or "ByteFallback" in types or model.get("byte_fallback"):
        return "sentencepiece"
    return None


def _bytelevel_text(pieces: Sequence[str]) -> str | None:
    """The text of ``pieces`` read as byte-level BPE, or None when they are not."""
    try:
        data = b"".join(bytes(_UNICODE_TO_BYTE[c] for c in p) for p in pieces)
        return data.decode("utf-8")
    except (KeyError, UnicodeDecodeError):
        return None


def detect_scheme(pieces: Sequence[str], tokenizer=None) -> str:
    """'sentencepiece' or 'bytelevel': from ``tokenizer`` when given and decisive
    (:func:`tokenizer_scheme`), else from the pieces: a "▁" or ``<0xNN>`` piece means
    sentencepiece; pieces made only of byte-level characters whose bytes are valid
    UTF-8 mean byte-level; anything else sentencepiece."""
    if tokenizer is not None:
        scheme = tokenizer_scheme(tokenizer)
        if scheme is not None:
            return scheme
    if any("▁" in p or _BYTE_PIECE.fullmatch(p) for p in pieces):
        return "sentencepiece"
    return "bytelevel" if _bytelevel_text(pieces) is not None else "sentencepiece"


def _piece_bytes(piece: str, scheme: str) -> tuple[bytes, bool]:
    """(bytes of the piece, whether it is a raw byte piece)."""
    if scheme == "bytelevel":
        try:
            return bytes(_UNICODE_TO_BYTE[c] for c in piece), True
        except KeyError:
            return piece.encode("utf-8"), False
    m = _BYTE_PIECE.fullmatch(piece)
    if m:
        return bytes([int(m.group(1), 16)]), True
    return piece.replace("▁", " ").encode("utf-8"), False


def pieces_to_text(pieces: Sequence[str], scheme: str = "auto",
                   tokenizer=None) -> tuple[str, np.ndarray]:
    """Decode token pieces into text and per-token character spans.

    Returns (text, spans) with spans (N, 2) int64 [start, end) into text. The
    tokens of one multi-byte character all get that character's span.
    ``scheme="auto"``: :func:`detect_scheme` (from ``tokenizer`` when given).
    """
    if scheme == "auto":
        scheme = detect_scheme(pieces, tokenizer)
    if scheme not in SCHEMES:
        raise ParameterError(f"scheme must be 'auto', 'sentencepiece' or 'bytelevel', got {scheme!r}")
    dec = codecs.getincrementaldecoder("utf-8")(errors="replace")
    out: list[str] = []
    pending: list[int] = []
    spans = np.zeros((len(pieces), 2), dtype=np.int64)
    pos = 0

    def emit(chunk: str, owners: list[int]) -> int:
        spans[owners] = (pos, pos + len(chunk))
        out.append(chunk)
        return pos + len(chunk)

    for i, piece in enumerate(pieces):
        data, is_byte = _piece_bytes(piece, scheme)
        if not is_byte:
            if pending:  # an unfinished byte sequence -> replacement characters
                pos = emit(dec.decode(b"", final=True), pending)
                pending = []
            dec.reset()
            pos = emit(data.decode("utf-8"), [i])
            continue
        pending.append(i)
        chunk = dec.decode(data)
        if chunk:
            pos = emit(chunk, pending)
            pending = []
    if pending:
        pos = emit(dec.decode(b"", final=True), pending)
    text = "".join(out)
    if scheme == "sentencepiece" and pieces and pieces[0].startswith("▁"):
        text = text[1:]  # sentencepiece dummy prefix
        spans = np.maximum(spans - 1, 0)
    return text, spans


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (authors' rule; blank lines
    give empty sentences)."""
    spans, line_start = [], 0
    for line in text.split("\n"):
        start = 0
        for m in _SENT_SPLIT.finditer(line):
            spans.append((line_start + start, line_start + m.start()))
            start = m.end()
        spans.append((line_start + start, line_start + len(line)))
        line_start += len(line) + 1
    return spans


def sentences(text: str) -> list[str]:
    """The sentence strings of ``text`` (see :func:`split_sentences`)."""
    return [text[s:e] for s, e in split_sentences(text)]


def instruction_sentences(prompt_text: str, annotation: str, case_id: str = "") -> list[str]:
    """Whole prompt sentences selected by the annotation's instruction part.

    Order of first selection, duplicates removed; "Input:" stripped, a bare
    "Output:" and empty sentences dropped. A fragment found in no sentence
    raises DataError.
    """
    prompts = sentences(prompt_text)
    inst_part = annotation.split("&&&")[0].replace("\n", "|||")
    chosen: list[str] = []
    for fragment in inst_part.split("|||"):
        for piece in _SENT_SPLIT.split(fragment):
            sent = next((p for p in prompts if piece in p), None)
            if sent is None:
                raise DataError(f"case {case_id}: annotated fragment {piece!r} is in no "
                                f"sentence of the prompt")
            if sent.startswith("Input:"):
                sent = sent[len("Input:"):].strip()
            if sent and sent != "Output:" and sent not in chosen:
                chosen.append(sent)
    return chosen


_QUOTE_PIECES = frozenset({'▁"', 'Ġ"'})


def _trim_edge(text: str, span, piece: str | None) -> bool:
    """Edge tokens left out of a sentence: blank ones, and (authors' rule for the
    instruction mask) a lone opening quote piece '▁"'."""
    return text[span[0]:span[1]].strip() == "" or (piece is not None and piece in _QUOTE_PIECES)


def tokens_in_range(text: str, spans: np.ndarray, start: int, end: int,
                    pieces: Sequence[str] | None = None) -> np.ndarray:
    """Indices of tokens overlapping chars [start, end), edge tokens trimmed.

    spans: (N, 2). Blank tokens at either edge are removed; with ``pieces``
    also a quote piece '▁"' at an edge (as the authors did when they located
    instruction sentences). Returns (K,) int64, possibly empty.
    """
    idx = np.nonzero((spans[:, 0] < end) & (spans[:, 1] > start))[0]

    def piece(i):
        return None if pieces is None else pieces[i]

    while len(idx) and _trim_edge(text, spans[idx[0]], piece(idx[0])):
        idx = idx[1:]
    while len(idx) and _trim_edge(text, spans[idx[-1]], piece(idx[-1])):
        idx = idx[:-1]
    return idx


def instruction_mask(prompt_tokens: Sequence[str], prompt_text: str, annotation: str,
                     case_id: str = "") -> np.ndarray:
    """(N,) bool: tokens covering the first occurrence of each instruction sentence.

    prompt_text is the prompt as annotated (sentences are taken from it) and
    each sentence is searched in the text decoded from ``prompt_tokens``.
    """
    text, spans = pieces_to_text(prompt_tokens)
    mask = np.zeros(len(prompt_tokens), dtype=bool)
    for sent in instruction_sentences(prompt_text, annotation, case_id):
        start = text.find(sent)
        if start < 0:
            raise DataError(f"case {case_id}: instruction sentence {sent[:60]!r} cannot be "
                            f"located in the decoded prompt tokens")
        mask[tokens_in_range(text, spans, start, start + len(sent), prompt_tokens)] = True
    return mask


def sentence_token_spans(prompt_tokens: Sequence[str]) -> list[tuple[int, int]]:
    """[start, end) token ranges of the prompt's sentences (Fig 6).

    Sentences are split by the authors' rule on the decoded text; blank
    tokens at a sentence's edges are left out; sentences without tokens skipped.
    """
    text, spans = pieces_to_text(prompt_tokens)
    out = []
    for s, e in split_sentences(text):
        idx = tokens_in_range(text, spans, s, e)
        if len(idx):
            out.append((int(idx[0]), int(idx[-1]) + 1))
    return out


_GLYPHS = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def piece_labels(pieces: Sequence[str], scheme: str = "auto", tokenizer=None) -> list[str]:
    """A readable label per token piece (salient-map ticks), for sentencepiece
    ("▁the" -> "the", "<0x0A>" -> "\\n") and byte-level BPE ("Ġthe" -> "the",
    "Ċ" -> "\\n", "Ã©" -> "é") alike: the token's decoded text, surrounding
    spaces dropped; a blank token shows its whitespace as "\\n", "\\t" or "␣".
    The pieces of one multi-byte character each show that character."""
    if scheme == "auto":
        scheme = detect_scheme(pieces, tokenizer)
    text, spans = pieces_to_text(pieces, scheme)
    out = []
    for piece, (start, end) in zip(pieces, spans.tolist()):
        raw = text[start:end]
        if not raw:  # a lone dummy-prefix "▁": its own text
            raw = _piece_bytes(piece, scheme)[0].decode("utf-8", errors="replace")
        label = raw.strip()
        if not label:
            label = "".join(_GLYPHS.get(c, "␣") for c in raw) or piece
        out.append(label)
    return out


def message_rows(prompt_tokens: Sequence[str], message: str, tokenizer=None) -> np.ndarray:
    """(N,) bool: the tokens of the user's ``message`` inside a templated prompt
    (system prompt, role markers and template text excluded): the tokens covering
    the LAST occurrence of the message (stripped) in the decoded prompt. Raises
    DataError when the message is not found there."""
    text, spans = pieces_to_text(prompt_tokens, tokenizer=tokenizer)
    needle = message.strip()
    start = text.rfind(needle) if needle else -1
    if start < 0:
        raise DataError(f"the user's message {needle[:40]!r} cannot be located in the templated "
                        "prompt tokens; use density_rows='all'")
    mask = np.zeros(len(prompt_tokens), dtype=bool)
    mask[tokens_in_range(text, spans, start, start + len(needle))] = True
    return mask
