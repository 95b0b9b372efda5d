"""Readers for the Debian-packaged text resources behind the model organism.

Used by ``organism/make_corpus.py`` (pre-training text) and
``organism/make_instructions.py`` (instruction pairs with exact answers).
Every reader is deterministic: files are visited in sorted order.

Resources (Debian bookworm packages): dictd databases (``dict-gcide``,
``dict-foldoc``, ``dict-jargon``, ``dict-freedict-eng-*``), WordNet 3.0
(``wordnet-base``), the Python 3.11 reST sources (``python3.11-doc``), man pages,
Perl pods (``perl-doc``), the World English Bible (``sword-text-web`` read with
``mod2imp`` from ``libsword-utils``) and ``fortunes``.
"""
from __future__ import annotations

import gzip
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from paperlib.core.errors import DataError

DICTD = Path("/usr/share/dictd")
WORDNET = Path("/usr/share/wordnet")
PYDOC_RST = Path("/usr/share/doc/python3.11/html/_sources")
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def require(path: Path, package: str) -> Path:
    """Return ``path`` or raise DataError naming the Debian package to install."""
    if not path.exists():
        raise DataError(f"{path} not found: install the Debian package {package!r}")
    return path


# --------------------------------------------------------------------- dictd
def _b64_int(s: str) -> int:
    n = 0
    for ch in s:
        n = n * 64 + _B64.index(ch)
    return n


def read_dictd(name: str) -> Iterator[tuple[str, str]]:
    """Yield ``(headword, entry_text)`` of the dictd database ``name``.

    Reads ``/usr/share/dictd/<name>.index`` and ``<name>.dict.dz`` (gzip
    readable); entries in index order, ``00database*`` meta entries skipped.
    """
    index = require(DICTD / f"{name}.index", f"dict-{name}")
    body = gzip.open(require(DICTD / f"{name}.dict.dz", f"dict-{name}")).read()
    seen: set[tuple[int, int]] = set()
    for line in index.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or parts[0].startswith("00database"):
            continue
        span = (_b64_int(parts[1]), _b64_int(parts[2]))
        if span in seen:  # several headwords may point at one entry
            continue
        seen.add(span)
        yield parts[0], body[span[0]:span[0] + span[1]].decode("utf-8", "replace")


# ------------------------------------------------------------------- wordnet
@dataclass
class Synset:
    """One WordNet synset: lemmas (spaces, not underscores), POS, gloss parts."""

    offset: str
    pos: str
    lemmas: list[str]
    definition: str
    examples: list[str]
    antonyms: list[tuple[str, str]] = field(default_factory=list)  # (lemma, target key)


_POS = {"noun": "n", "verb": "v", "adj": "a", "adv": "r"}


def _parse_synset(line: str, pos: str) -> Synset:
    head, _, gloss = line.partition(" | ")
    f = head.split()
    n_words = int(f[3], 16)
    words = [f[4 + 2 * i].replace("_", " ") for i in range(n_words)]
    words = [re.sub(r"\((a|p|ip)\)$", "", w) for w in words]
    k = 4 + 2 * n_words
    n_ptr = int(f[k])
    ants = []
    for j in range(n_ptr):
        sym, off, ppos, st = f[k + 1 + 4 * j:k + 5 + 4 * j]
        if sym == "!":
            src, tgt = int(st[:2], 16), int(st[2:], 16)
            ppos = "a" if ppos == "s" else ppos
            ants.append((words[src - 1] if src else words[0], f"{ppos}:{off}:{tgt}"))
    quoted = re.findall(r'"([^"]+)"', gloss)
    definition = re.split(r';\s*"', gloss, maxsplit=1)[0].strip().rstrip(";").strip()
    return Synset(f[0], pos, words, definition, [q.strip() for q in quoted], ants)


def read_wordnet() -> list[Synset]:
    """All synsets of WordNet 3.0 from ``/usr/share/wordnet/data.*`` (117,659)."""
    out = []
    for name, pos in sorted(_POS.items()):
        path = require(WORDNET / f"data.{name}", "wordnet-base")
        with open(path, encoding="latin-1") as f:
            for line in f:
                if not line.startswith("  "):
                    out.append(_parse_synset(line.rstrip("\n"), pos))
    return out


def wordnet_first_senses() -> dict[str, str]:
    """Lemma -> key ``"pos:offset"`` of its most frequent sense (WordNet index files).

    Among parts of speech, the one with the most sense-tagged occurrences wins
    (ties: noun, verb, adjective, adverb); within it, the first listed synset.
    """
    best: dict[str, tuple[int, int, str]] = {}
    for rank, (name, pos) in enumerate((("noun", "n"), ("verb", "v"), ("adj", "a"), ("adv", "r"))):
        path = require(WORDNET / f"index.{name}", "wordnet-base")
        for line in path.read_text(encoding="latin-1").splitlines():
            if line.startswith(" "):
                continue
            f = line.split()
            n_syn, n_ptr = int(f[2]), int(f[3])
            tagged = int(f[5 + n_ptr])
            offsets = f[6 + n_ptr:6 + n_ptr + n_syn]
            cand = (tagged, -rank, f"{pos}:{offsets[0]}")
            if f[0] not in best or cand[:2] > best[f[0]][:2]:
                best[f[0]] = cand
    return {lemma: key for lemma, (_, _, key) in best.items()}


def wordnet_lemma(synsets_by_key: dict[str, Synset], key: str) -> str:
    """Resolve an antonym target ``"pos:offset:word_no"`` to its lemma."""
    pos, off, num = key.split(":")
    ss = synsets_by_key[f"{pos}:{off}"]
    return ss.lemmas[int(num) - 1] if int(num) else ss.lemmas[0]


# ----------------------------------------------------------------------- rst
_ROLE = re.compile(r":[a-zA-Z:]+:`~?!?([^`<]*?)(?:\s*<[^>]*>)?`")


def clean_rst_inline(text: str) -> str:
    """Strip reST inline markup: roles, literals, emphasis, link targets."""
    text = _ROLE.sub(r"\1", text)
    text = re.sub(r"``([^`]*)``", r"\1", text)
    text = re.sub(r"`([^`<]*?)\s*(?:<[^>]*>)?`_{0,2}", r"\1", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\1", text)
    text = re.sub(r"(?<!\w)\*([^*\s][^*]*)\*", r"\1", text)
    text = re.sub(r"\|([\w-]+)\|_?", r"\1", text)
    return text


def rst_files() -> list[Path]:
    """Sorted ``*.rst.txt`` sources of the Python 3.11 documentation."""
    return sorted(require(PYDOC_RST, "python3.11-doc").rglob("*.rst.txt"))


def iter_rst_directives(text: str, kinds: tuple[str, ...]) -> Iterator[tuple[str, str, str]]:
    """Yield ``(kind, signature, first_paragraph)`` for ``.. kind:: signature``.

    The body paragraph is the first indented paragraph below the directive,
    with inline markup removed and lines joined.
    """
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"\s*\.\. (" + "|".join(kinds) + r"):: (.+)$", line)
        if not m:
            continue
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or re.match(r"\s+:\w+:", lines[j])
                                  or re.match(r"\s{3,}\w[\w.]*\(.*\)$", lines[j])):
            j += 1  # skip blank lines, options (:noindex:) and extra signatures
        para = []
        while j < len(lines) and lines[j].strip() and not lines[j].strip().startswith(".. "):
            para.append(lines[j].strip())
            j += 1
        yield m.group(1), m.group(2).strip(), clean_rst_inline(" ".join(para))


# ------------------------------------------------------------------- man pages
def render_man(path: Path) -> str:
    """Plain text of a (gzipped) man page via ``groff -Tutf8 -mandoc | col -bx``."""
    raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    groff = subprocess.run(["groff", "-Tutf8", "-mandoc", "-P-c", "-rLL=78n"], input=raw,
                           capture_output=True, check=False, env={"MANWIDTH": "78", "PATH": "/usr/bin:/bin"})
    col = subprocess.run(["col", "-bx"], input=groff.stdout, capture_output=True, check=False)
    return col.stdout.decode("utf-8", "replace")


def man_name_line(path: Path) -> tuple[str, str] | None:
    """``(command, one-line description)`` from the NAME section of a man page source."""
    raw = (gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()).decode("utf-8", "replace")
    m = re.search(r"^\.S[Hh]\s+\"?(?:NAME|Name)\"?\s*\n(.*?)(?=^\.S[Hh])", raw, re.M | re.S)
    if not m:
        return None
    body = " ".join(l for l in m.group(1).splitlines() if not l.startswith(('.\\"', "'\\\"")))
    body = re.sub(r"^\.[A-Za-z]+\s*", "", body)
    body = re.sub(r"\s\.[A-Za-z]+\s", " ", body)
    body = re.sub(r"\\f[BIRP]|\\f\(..|\\&|\\\*\(..|\\s[-+]?\d", "", body).replace("\\-", "-").replace("\\(em", "-")
    parts = re.split(r"\s+\\?-{1,2}\s+", body, maxsplit=1)
    if len(parts) != 2:
        return None
    name, desc = parts[0].strip(), re.sub(r"\s+", " ", parts[1]).strip().rstrip(".")
    if not re.fullmatch(r"[\w.+-]+(, [\w.+-]+)*", name) or len(desc) < 8:
        return None
    return name.split(",")[0].strip(), desc


# ----------------------------------------------------------------- licences
def licence_summary(package: str) -> dict:
    """Licence identifiers of ``/usr/share/doc/<package>/copyright``.

    DEP-5 files give ``License:`` ids (sorted, unique); free-form files fall
    back to well-known licence names found in the text.
    """
    path = Path("/usr/share/doc") / package / "copyright"
    if not path.exists():
        return {"package": package, "copyright_file": None, "licences": []}
    text = path.read_text(encoding="utf-8", errors="replace")
    tok = r"[A-Za-z][\w.+\-]*"
    ids = {m.strip().rstrip(",") for m in re.findall(
        rf"^License:[ \t]*({tok}(?:,? (?:or|and) {tok})*,?)[ \t]*$", text, re.M)}
    if not ids:
        pats = {"GPL": r"GNU General Public License|\bGPL\b", "GFDL": r"Free Documentation License",
                "PSF": r"PYTHON SOFTWARE FOUNDATION LICENSE", "public-domain": r"public domain",
                "BSD": r"\bBSD\b", "Artistic": r"Artistic License"}
        ids = {k for k, p in pats.items() if re.search(p, text, re.I)}
    return {"package": package, "copyright_file": str(path), "licences": sorted(ids)}
