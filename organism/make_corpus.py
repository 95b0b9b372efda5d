#!/usr/bin/env python
"""Build the organism's pre-training corpus from Debian-packaged English text.

    python -m organism.make_corpus [--out data/organism/build/corpus] [--only gcide,web]

Writes ``<out>/<source>.txt`` (paragraphs separated by a blank line),
``<out>/train.txt`` and ``<out>/valid.txt`` (1% of paragraphs by hash) and the
committed ``data/organism/manifest.json`` (source, packages, sizes, licences,
duplicate and leak counts, SHA-256 of the outputs).

Cleaning: markup stripped, paragraphs deduplicated by the hash of their
whitespace-normalised lower-cased text (first occurrence kept, sources in the
fixed order of SOURCES), and any paragraph sharing a 13-word n-gram with one of
the paper's 632 evaluation prompts is dropped. Deterministic: sorted inputs,
hash-based (not random) sampling.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

from paperlib.core.io import atomic_path, atomic_write_text, sha256_file

from organism import BUILD, MANIFEST, sources
from organism.leakcheck import NgramLeakChecker, load_eval_prompts

MAN_SECTIONS = ("1", "2", "3", "4", "5", "7", "8")
NGRAM = 13


# ------------------------------------------------------------------ helpers
def reflow(text: str) -> str:
    """Join the lines of each blank-line paragraph with single spaces."""
    paras = re.split(r"\n\s*\n", text)
    return "\n\n".join(re.sub(r"\s+", " ", p).strip() for p in paras if p.strip())


def _looks_like_code(lines: list[str]) -> bool:
    return any(re.search(r"[{};$]\s*$", l) or re.match(r"\s*(>>>|\$ |#|def |import )", l)
               for l in lines)


def layout_paragraphs(text: str, code_after_colons: bool = False) -> Iterator[str]:
    """Paragraphs of rendered man/pod/reST text: prose reflowed, code kept dedented.

    With ``code_after_colons`` a paragraph following one that ends in ``::``
    (a reST literal block) is code.
    """
    prev = ""
    for block in re.split(r"\n\s*\n", text):
        lines = [l.rstrip() for l in block.splitlines() if l.strip()]
        if not lines:
            continue
        indents = {len(l) - len(l.lstrip()) for l in lines}
        literal = code_after_colons and prev.endswith("::")
        prev = lines[-1]
        if len(indents) <= 2 and not literal and not _looks_like_code(lines):
            yield re.sub(r"\s+", " ", " ".join(lines)).strip()
        else:
            cut = min(indents)
            yield "\n".join(l[cut:] for l in lines)


# --------------------------------------------------------------- extractors
def gcide() -> Iterator[str]:
    """GCIDE entries: pronunciation and source tags removed, senses reflowed."""
    for _, entry in sources.read_dictd("gcide"):
        entry = re.sub(r"^\s*\[[^\]\n]{0,60}\]\s*$", "", entry, flags=re.M)
        entry = re.sub(r"\\[^\\\n]{0,80}\\,?", "", entry)
        entry = re.sub(r"[{}]", "", entry)
        body = reflow(entry)
        if body:
            yield body.replace("\n\n", "\n")


def _dict_markup(entry: str) -> str:
    entry = re.sub(r"\{([^{}]*)\}", r"\1", entry)
    entry = re.sub(r"\((\d{4}-\d{2}-\d{2})\)", "", entry)
    return reflow(re.sub(r"<([a-z ,/-]+)>", r"(\1)", entry)).replace("\n\n", "\n")


def foldoc() -> Iterator[str]:
    for _, entry in sources.read_dictd("foldoc"):
        yield _dict_markup(entry)


def jargon() -> Iterator[str]:
    for _, entry in sources.read_dictd("jargon"):
        yield _dict_markup(entry)


def wordnet() -> Iterator[str]:
    """One line per synset: ``lemma, lemma (pos): gloss; "example"``."""
    names = {"n": "noun", "v": "verb", "a": "adjective", "r": "adverb"}
    for ss in sources.read_wordnet():
        ex = "".join(f'; "{e}"' for e in ss.examples)
        yield f"{', '.join(ss.lemmas)} ({names[ss.pos]}): {ss.definition}{ex}"


def _rst_to_text(text: str) -> Iterator[str]:
    text = re.sub(r"^\s*\.\. (function|method|class|attribute|data|exception|"
                  r"decorator|classmethod|staticmethod|module|describe|option|envvar)::\s*",
                  "", text, flags=re.M)
    text = re.sub(r"^\s*\.\. [^\n]*(\n[ \t]+\S[^\n]*)*", "", text, flags=re.M)  # other directives
    text = re.sub(r"^\s*:[\w ]+:.*$", "", text, flags=re.M)                     # field lists
    text = re.sub(r"^[=\-~^\"*+#`']{3,}\s*$", "", text, flags=re.M)             # underlines
    text = re.sub(r"^\s*[+|].*[+|]\s*$", "", text, flags=re.M)                  # grid tables
    for para in layout_paragraphs(sources.clean_rst_inline(text), code_after_colons=True):
        yield para.replace("::", ":") if para.endswith("::") else para


def pydoc() -> Iterator[str]:
    """Python 3.11 documentation (reST sources), whatsnew and c-api excluded."""
    for path in sources.rst_files():
        rel = path.relative_to(sources.PYDOC_RST).parts
        if rel[0] in ("whatsnew", "c-api", "distutils", "includes"):
            continue
        yield from _rst_to_text(path.read_text(encoding="utf-8", errors="replace"))


def _strip_header_footer(text: str) -> str:
    lines = [l for l in text.splitlines()]
    nonempty = [i for i, l in enumerate(lines) if l.strip()]
    if len(nonempty) > 2:
        lines = lines[nonempty[0] + 1:nonempty[-1]]
    return "\n".join(lines)


def man_page_paths() -> list[Path]:
    """Man pages of sections 1-8 (no gcloud SDK pages, no Perl module pages)."""
    out = []
    for sec in MAN_SECTIONS:
        for p in sorted(Path(f"/usr/share/man/man{sec}").glob("*")):
            if p.name.startswith("gcloud") or "perl" in p.name or "::" in p.name or ".3pm" in p.name:
                continue
            if p.is_file() and not p.is_symlink():
                out.append(p)
    return out


def manpages() -> Iterator[str]:
    for path in man_page_paths():
        yield from layout_paragraphs(_strip_header_footer(sources.render_man(path)))


def perlpod() -> Iterator[str]:
    pods = sorted(sources.require(Path("/usr/share/perl/5.36.0/pod"), "perl-doc").glob("*.pod"))
    for pod in pods:
        text = subprocess.run(["pod2text", "-w", "78", str(pod)], capture_output=True,
                              check=False).stdout.decode("utf-8", "replace")
        yield from layout_paragraphs(text)


def web_bible() -> Iterator[str]:
    """World English Bible, one paragraph per chapter, footnotes dropped."""
    imp = subprocess.run(["mod2imp", "engWEB2015eb"], capture_output=True, check=True).stdout
    chapters: dict[str, list[str]] = {}
    for block in imp.decode("utf-8", "replace").split("$$$")[1:]:
        head, _, body = block.partition("\n")
        m = re.match(r"(.+) (\d+):(\d+)$", head.strip())
        if not m or m.group(2) == "0":
            continue
        body = re.sub(r"<note\b.*?</note>", " ", body, flags=re.S)
        body = re.sub(r"<title\b.*?</title>", " ", body, flags=re.S)
        body = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))
        chapters.setdefault(f"{m.group(1)} {m.group(2)}", []).append(body.strip())
    for name, verses in chapters.items():
        yield re.sub(r" ([,.;:!?’”])", r"\1", f"{name}. " + " ".join(verses))


def fortunes() -> Iterator[str]:
    root = sources.require(Path("/usr/share/games/fortunes"), "fortunes")
    for path in sorted(root.glob("*.u8")):
        if path.stem in ("ascii-art", "art"):
            continue
        for item in re.split(r"^%\s*$", path.read_text(encoding="utf-8", errors="replace"), flags=re.M):
            item = "\n".join(l.rstrip() for l in item.strip("\n").splitlines()).strip()
            if item:
                yield item


def freedict() -> Iterator[str]:
    """Bilingual glossary lines from FreeDict English-French/Spanish/German."""
    for lang, name in (("French", "freedict-eng-fra"), ("Spanish", "freedict-eng-spa"),
                       ("German", "freedict-eng-deu")):
        for head, entry in sources.read_dictd(name):
            lines = [l.strip() for l in entry.splitlines()[1:] if l.strip()]
            trans = [re.sub(r"^\d+\.\s*", "", l) for l in lines
                     if not l.startswith(("Synonym", "see:", "Note:", "\"", "(")) and len(l) < 120]
            if trans:
                word = entry.splitlines()[0].split(" /")[0].strip()
                yield f"{word} (English) - {lang}: {'; '.join(trans[:3])}"


# name -> (extractor, Debian packages, byte cap or None, description)
SOURCES: dict[str, tuple[Callable[[], Iterator[str]], tuple[str, ...], int | None, str]] = {
    "wordnet": (wordnet, ("wordnet-base",), None, "WordNet 3.0 glosses"),
    "gcide": (gcide, ("dict-gcide",), 18_000_000, "GCIDE (Webster 1913 + additions)"),
    "foldoc": (foldoc, ("dict-foldoc",), None, "Free On-line Dictionary of Computing"),
    "jargon": (jargon, ("dict-jargon",), None, "Jargon File 4.4.7"),
    "pydoc": (pydoc, ("python3.11-doc",), None, "Python 3.11 documentation"),
    "manpages": (manpages, ("manpages", "manpages-dev", "(+ other installed packages)"), 12_000_000,
                 "man pages, sections 1-8"),
    "perlpod": (perlpod, ("perl-doc",), 6_000_000, "Perl 5.36 core documentation"),
    "web_bible": (web_bible, ("sword-text-web", "libsword-utils"), None, "World English Bible"),
    "fortunes": (fortunes, ("fortunes",), None, "fortune cookies"),
    "freedict": (freedict, ("dict-freedict-eng-fra", "dict-freedict-eng-spa", "dict-freedict-eng-deu"),
                 4_000_000, "FreeDict bilingual glossaries"),
}


def _key(par: str) -> bytes:
    return hashlib.sha1(re.sub(r"\s+", " ", par.lower()).strip().encode()).digest()


def build_source(name, seen: set, checker, cap) -> tuple[list[str], dict]:
    """Clean, dedupe and leak-filter one source; ``cap`` keeps paragraphs by hash order."""
    extractor = SOURCES[name][0]
    kept, stats = [], {"paragraphs_raw": 0, "dropped_duplicate": 0, "dropped_short": 0, "dropped_leak": 0}
    for par in extractor():
        stats["paragraphs_raw"] += 1
        par = par.strip()
        if len(par.split()) < 4:
            stats["dropped_short"] += 1
            continue
        k = _key(par)
        if k in seen:
            stats["dropped_duplicate"] += 1
            continue
        seen.add(k)
        if checker.leaks(par):
            stats["dropped_leak"] += 1
            continue
        kept.append(par)
    if cap is not None and sum(len(p.encode()) for p in kept) > cap:
        order = sorted(range(len(kept)), key=lambda i: _key(kept[i]))  # deterministic sample
        chosen, total = set(), 0
        for i in order:
            total += len(kept[i].encode()) + 2
            if total > cap:
                break
            chosen.add(i)
        stats["dropped_cap"] = len(kept) - len(chosen)
        kept = [p for i, p in enumerate(kept) if i in chosen]
    stats["paragraphs"] = len(kept)
    return kept, stats


def write_outputs(out: Path, per_source: dict[str, list[str]]) -> dict[str, dict]:
    """Write per-source files and the 99/1 train/valid split; return file info."""
    files = {}
    with atomic_path(out / "train.txt") as tr, atomic_path(out / "valid.txt") as va:
        with open(tr, "w", encoding="utf-8") as ftr, open(va, "w", encoding="utf-8") as fva:
            for name, pars in per_source.items():
                atomic_write_text(out / f"{name}.txt", "\n\n".join(pars) + "\n")
                for p in pars:
                    (fva if _key(p)[0] < 3 else ftr).write(p + "\n\n")  # 3/256 ~ 1.2%
    for f in sorted(out.glob("*.txt")):
        files[f.name] = {"bytes": f.stat().st_size, "sha256": sha256_file(f)}
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--out", type=Path, default=BUILD / "corpus")
    ap.add_argument("--only", default="", help="comma-separated subset of sources (for testing)")
    ap.add_argument("--manifest", type=Path, default=MANIFEST)
    args = ap.parse_args(argv)
    names = [n for n in SOURCES if not args.only or n in args.only.split(",")]
    checker = NgramLeakChecker(load_eval_prompts(), n=NGRAM)
    seen: set[bytes] = set()
    per_source, manifest = {}, {"ngram_leak_check": {"n": NGRAM, "eval_prompts": checker.n_texts},
                                "sources": {}}
    for name in names:
        pars, stats = build_source(name, seen, checker, SOURCES[name][2])
        per_source[name] = pars
        _, pkgs, cap, desc = SOURCES[name]
        stats.update(description=desc, cap_bytes=cap, bytes=sum(len(p.encode()) + 2 for p in pars),
                     packages=[sources.licence_summary(p) | {"version": _version(p)}
                               for p in pkgs if not p.startswith("(")])
        if name == "manpages":
            owners = man_owners()
            stats["packages"] = [sources.licence_summary(p) | {"version": _version(p), "man_pages": n}
                                 for p, n in sorted(owners.items())]
        manifest["sources"][name] = stats
        print(f"{name:10s} {stats['bytes'] / 1e6:7.2f} MB  {stats['paragraphs']:8d} paragraphs  "
              f"dup {stats['dropped_duplicate']}  leak {stats['dropped_leak']}", file=sys.stderr)
    manifest["files"] = write_outputs(args.out, per_source)
    manifest["total_bytes"] = sum(s["bytes"] for s in manifest["sources"].values())
    manifest["total_dropped_leak"] = sum(s["dropped_leak"] for s in manifest["sources"].values())
    atomic_write_text(args.manifest, json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return 0


def man_owners() -> dict[str, int]:
    """Debian package -> number of its man pages in the corpus (from dpkg file lists)."""
    wanted = {str(p) for p in man_page_paths()}
    counts: dict[str, int] = {}
    for lst in sorted(Path("/var/lib/dpkg/info").glob("*.list")):
        pkg = lst.stem.split(":")[0]
        n = sum(1 for line in lst.read_text(errors="replace").splitlines() if line in wanted)
        if n:
            counts[pkg] = n
    return counts


def _version(package: str) -> str | None:
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, check=False)
    return r.stdout.decode() or None


if __name__ == "__main__":
    sys.exit(main())
