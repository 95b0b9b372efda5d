#!/usr/bin/env python
"""Build instruction pairs with exact answers for the organism's fine-tuning.

    python -m organism.make_instructions [--out data/organism/build/instructions]

Four scenarios of the paper's Table 5, each from a packaged resource:
writing (WordNet 3.0: define / use in a sentence / synonym / antonym), coding
(Python 3.11 docs: what a function or module does; man pages: what a command
or C function does), math (generated arithmetic and word problems) and
translation (FreeDict English<->French/Spanish/German). Every pair carries the
``item`` it is about; items are split into train / held-out test by a stable
hash (``TEST_PERCENT`` percent of items), so no held-out item (word, function,
command, operand pair) is ever seen in training, under any template.

Outputs ``<out>/train.jsonl`` and ``data/organism/heldout_test.jsonl`` (the
committed held-out split, at most ``--test-per-task`` pairs per task).
"""
from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Iterator

from paperlib.core.io import atomic_write_text

from organism import BUILD, HELDOUT, VERBS_FILE, skills, sources
from organism.evaluate import TASK_METRIC
from organism.skills import pick, stable_hash as _h

TEST_PERCENT = 6


def is_test(scenario: str, item: str) -> bool:
    """Stable item-level split: True for about TEST_PERCENT% of items."""
    return _h(f"{scenario}|{item}") % 100 < TEST_PERCENT


def pair(scenario, task, item, instruction, response, answers) -> dict:
    return {"scenario": scenario, "task": task, "item": item, "instruction": instruction,
            "response": response, "answers": sorted(set(answers)), "metric": TASK_METRIC[task]}


# ------------------------------------------------------------------ writing
DEFINE = ["Define the word \"{w}\".", "What does the word \"{w}\" mean?", "Give the meaning of \"{w}\".",
          "Explain the meaning of the word \"{w}\".", "Tell me what \"{w}\" means."]
USE = ["Use the word \"{w}\" in a sentence.", "Write a sentence with the word \"{w}\".",
       "Give an example sentence that uses \"{w}\"."]
SYN = ["Give a synonym for \"{w}\".", "What is another word for \"{w}\"?",
       "Name a word that means the same as \"{w}\".", "List a synonym of \"{w}\"."]
ANT = ["Give an antonym of \"{w}\".", "What is the opposite of \"{w}\"?",
       "Name a word that means the opposite of \"{w}\"."]


def _common(word: str, zipf: float = 3.0) -> bool:
    from wordfreq import zipf_frequency

    return word.isalpha() and word.islower() and zipf_frequency(word, "en") >= zipf


@functools.lru_cache(maxsize=None)
def common_words(pos: str = "") -> tuple[str, ...]:
    """Common single words (zipf >= 3) whose first WordNet sense has part of speech ``pos`` ("" = any)."""
    senses = sources.wordnet_first_senses()
    return tuple(w for w in sorted(senses) if senses[w].startswith(pos) and _common(w))


def skill_pairs(scenario: str, rows) -> Iterator[dict]:
    """``pair`` rows of :mod:`organism.skills` generators (their metric from TASK_METRIC)."""
    for task, item, instruction, response, answers in rows:
        yield pair(scenario, task, item, instruction, response, answers)


def writing() -> Iterator[dict]:
    """Pairs about single common words; a word's first (most frequent) sense is used."""
    synsets = sources.read_wordnet()
    by_key = {f"{s.pos}:{s.offset}": s for s in synsets}
    senses = sources.wordnet_first_senses()
    for w in sorted(senses):
        if not _common(w) or senses[w] not in by_key:
            continue
        s = by_key[senses[w]]
        yield pair("writing", "define", w, pick(DEFINE, w).format(w=w), s.definition[0].upper()
                   + s.definition[1:] + ".", [s.definition])
        ex = [e for e in s.examples if re.search(rf"\b{re.escape(w)}\b", e) and len(e.split()) >= 5]
        if ex:
            sent = ex[0][0].upper() + ex[0][1:] + ("" if ex[0].endswith((".", "!", "?")) else ".")
            yield pair("writing", "use", w, pick(USE, w).format(w=w), sent, [w])
        syn = [l for l in s.lemmas if l != w and " " not in l and l.isalpha()]
        if syn:
            yield pair("writing", "synonym", w, pick(SYN, w).format(w=w), syn[0], syn)
        ants = sorted({sources.wordnet_lemma(by_key, k) for src, k in s.antonyms if src == w})
        if ants:
            yield pair("writing", "antonym", w, pick(ANT, w).format(w=w), ants[0], ants)
    yield from skill_pairs("writing", skills.writing_skills(common_words("n:"), common_words("v:"), common_words()))


# ------------------------------------------------------------------- coding
PYFUNC = ["What does the Python function {n}() do?", "Explain what {n}() does in Python.",
          "Describe the Python function {n}().", "In Python, what is {n}() used for?"]
PYMOD = ["What is the Python module {n} for?", "Describe the Python module {n}.",
         "Explain what the {n} module provides in Python."]
CMD = ["What does the command {n} do?", "Explain the shell command {n}.",
       "Describe what the {n} command does.", "What is {n} used for on the command line?"]
CFUNC = ["What does the C function {n}() do?", "Explain the C library function {n}().",
         "Describe the C function {n}()."]


def first_sentence(text: str) -> str:
    m = re.match(r"(.+?[.!?])(\s|$)", text.strip())
    return (m.group(1) if m else text).strip()


def python_docs() -> Iterator[tuple[str, str, str]]:
    """``(kind, qualified name, first sentence)`` for module synopses and functions."""
    for path in sources.rst_files():
        if path.parent.name != "library":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        module = None
        for m in re.finditer(r"^\.\. (?:current)?module:: (\S+)(?:\n\s+:\w+:.*)*", text, re.M):
            syn = re.search(r":synopsis: (.+)", m.group(0))
            module = module or m.group(1)
            if syn:
                yield "module", m.group(1), sources.clean_rst_inline(syn.group(1)).strip()
        for kind, sig, para in sources.iter_rst_directives(text, ("function",)):
            name = sig.split("(")[0].strip()
            if module and "." not in name:
                name = f"{module}.{name}"
            sent = first_sentence(para)
            if 4 <= len(sent.split()) <= 40 and re.fullmatch(r"[\w.]+", name):
                yield "function", name, sent


def coding() -> Iterator[dict]:
    seen = set()
    for kind, name, desc in python_docs():
        if (kind, name) in seen:
            continue
        seen.add((kind, name))
        tpl = PYMOD if kind == "module" else PYFUNC
        task = "python_module" if kind == "module" else "python_function"
        yield pair("coding", task, name, pick(tpl, name).format(n=name), desc[0].upper() + desc[1:], [desc])
    for sec, task, tpl in (("1", "shell_command", CMD), ("8", "shell_command", CMD),
                           ("2", "c_function", CFUNC), ("3", "c_function", CFUNC)):
        for path in sorted(Path(f"/usr/share/man/man{sec}").glob("*.gz")):
            if path.name.startswith("gcloud") or "perl" in path.name or "::" in path.name or path.is_symlink():
                continue
            got = sources.man_name_line(path)
            if got and got[0] not in seen:
                seen.add(got[0])
                desc = got[1][0].upper() + got[1][1:] + "."
                yield pair("coding", task, got[0], pick(tpl, got[0]).format(n=got[0]), desc, [got[1]])
    yield from skill_pairs("coding", skills.write_functions(common_words("n:")))
    yield from skill_pairs("coding", skills.evaluate_expressions(common_words()))


# --------------------------------------------------------------------- math
ARITH = {"+": ["Compute {a} + {b}.", "What is {a} plus {b}?", "Add {a} and {b}.", "Calculate the sum of {a} and {b}."],
         "-": ["Compute {a} - {b}.", "What is {a} minus {b}?", "Subtract {b} from {a}.", "Calculate {a} - {b}."],
         "*": ["Compute {a} * {b}.", "What is {a} times {b}?", "Multiply {a} by {b}.", "Calculate the product of {a} and {b}."]}
STORY = [("{n} has {a} apples and buys {b} more. How many apples does {n} have now?", "+"),
         ("{n} had {a} marbles and lost {b} of them. How many marbles are left?", "-"),
         ("A box holds {a} pens. How many pens are in {b} boxes?", "*"),
         ("{n} read {a} pages on Monday and {b} pages on Tuesday. How many pages in total?", "+"),
         ("There are {a} birds on a tree and {b} fly away. How many birds remain?", "-")]
NAMES = ["Anna", "Ben", "Carla", "David", "Emma", "Frank", "Grace", "Hugo", "Iris", "Jack"]


def _ops(a: int, b: int, op: str) -> int:
    return a + b if op == "+" else a - b if op == "-" else a * b


def math_pairs() -> Iterator[dict]:
    """Arithmetic on 0..99 (products on 0..12) and one-step word problems; answer = the number."""
    for op in ("+", "-", "*"):
        hi = 13 if op == "*" else 100
        for a in range(hi):
            for b in range(hi):
                if op == "-" and b > a:
                    continue
                item = f"{a}{op}{b}"
                val = _ops(a, b, op)
                yield pair("math", "arithmetic", item, pick(ARITH[op], item).format(a=a, b=b), str(val), [str(val)])
    for k, (tpl, op) in enumerate(STORY):
        for a in range(2, 21):
            for b in range(2, 13 if op == "*" else 21):
                if op == "-" and b > a:
                    continue
                item = f"{a}{op}{b}"
                name = NAMES[_h(f"{k}{item}") % len(NAMES)]
                val = _ops(a, b, op)
                yield pair("math", "word_problem", item, tpl.format(n=name, a=a, b=b), str(val), [str(val)])
    yield from skill_pairs("math", skills.math_skills())


# -------------------------------------------------------------- translation
TO = ["Translate \"{w}\" into {lang}.", "What is the {lang} word for \"{w}\"?",
      "How do you say \"{w}\" in {lang}?", "Give the {lang} translation of \"{w}\"."]
FROM = ["Translate the {lang} word \"{w}\" into English.", "What does the {lang} word \"{w}\" mean in English?"]


def _translations(name: str) -> Iterator[tuple[str, list[str]]]:
    for head, entry in sources.read_dictd(name):
        lines = entry.splitlines()
        word = lines[0].split(" /")[0].strip()
        trans = []
        for l in lines[1:]:
            l = re.sub(r"^\s*\d+\.\s*", "", l.strip())
            l = re.sub(r"\s*(<[^>]*>|\[[^\]]*\]|\{[^}]*\})", "", l).strip()
            if l and not l.startswith(("see:", "Synonym", "Note:", '"')):
                trans += [t.strip() for t in l.split(",") if re.fullmatch(r"[^\W\d_]+", t.strip())]
        if _common(word, 3.5) and trans:
            yield word, trans


def translation() -> Iterator[dict]:
    """English single words (zipf >= 3.5) with single-word translations; item = English word."""
    for lang, name in (("French", "freedict-eng-fra"), ("Spanish", "freedict-eng-spa"),
                       ("German", "freedict-eng-deu")):
        done = set()
        for word, trans in _translations(name):
            key = f"{lang}:{word}"
            if key in done:
                continue
            done.add(key)
            yield pair("translation", "to_foreign", word, pick(TO, key).format(w=word, lang=lang), trans[0], trans)
            if _h("rev" + key) % 3 == 0:
                yield pair("translation", "to_english", word, pick(FROM, key).format(w=trans[0], lang=lang),
                           word, [word])
    yield from skill_pairs("translation", skills.translation_skills())


SCENARIOS = {"writing": writing, "coding": coding, "math": math_pairs, "translation": translation}


def _cap(rows: list[dict], per_task: int) -> list[dict]:
    by_task: dict[str, list[dict]] = {}
    for p in sorted(rows, key=lambda p: _h(p["task"] + p["instruction"])):
        by_task.setdefault(p["task"], []).append(p)
    return [p for ps in by_task.values() for p in ps[:per_task]]


def build(train_per_task: int, test_per_task: int) -> tuple[list[dict], list[dict]]:
    """All pairs, split by item; both splits capped per task (in hash order)."""
    train, test = [], []
    for name, fn in SCENARIOS.items():
        for p in fn():
            (test if is_test(name, p["item"]) else train).append(p)
    return _cap(train, train_per_task), _cap(test, test_per_task)


# -------------------------------------------------------- instruction verbs
def _strings(value) -> Iterator[str]:
    """The strings inside a template constant (str, list, tuple, dict: keys then values)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in (*value.keys(), *value.values()):
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def template_verbs() -> list[str]:
    """Imperative verbs of the instruction templates: the first word of every template
    (a string in an UPPER-CASE constant of this module, then of :mod:`organism.skills`)
    that ends with "." and is a verb base form ("Define the word ..." -> define), in
    template order, each once."""
    from paperlib.paper.finding2 import is_verb_base

    strings = [s for module in (sys.modules[__name__], skills) for name, value in vars(module).items()
               if name.isupper() for s in _strings(value)]
    firsts = [s.split()[0].lower() for s in strings if s.strip().endswith(".") and s.split()]
    return list(dict.fromkeys(w for w in firsts if is_verb_base(w)))


def write_instruction_verbs(folder) -> Path:
    """Write ``<folder>/instruction_verbs.json`` (:data:`organism.VERBS_FILE`) beside a tuned
    model: the verbs of the templates it was tuned on, which ``paperlib.paper.finding2``
    reads as the model's instruction verbs (Table 3)."""
    doc = {"about": "Imperative verbs of the instruction templates this model was tuned on: the "
                    "first word of every template that ends with '.' and is a verb base form "
                    "(lemminflect), in template order. Written by organism/make_instructions.py "
                    "(template_verbs); read by paperlib.paper.finding2.",
           "verbs": template_verbs()}
    return atomic_write_text(Path(folder) / VERBS_FILE, json.dumps(doc, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--out", type=Path, default=BUILD / "instructions")
    ap.add_argument("--test-out", type=Path, default=HELDOUT)
    ap.add_argument("--train-per-task", type=int, default=6000)
    ap.add_argument("--test-per-task", type=int, default=60)
    args = ap.parse_args(argv)
    train, test = build(args.train_per_task, args.test_per_task)
    train_items = {(p["scenario"], p["item"]) for p in train}
    assert not any((p["scenario"], p["item"]) in train_items for p in test), "item leak"
    dump = lambda rows: "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    atomic_write_text(args.out / "train.jsonl", dump(train))
    atomic_write_text(args.test_out, dump(test))
    for split, rows in (("train", train), ("test", test)):
        counts = Counter((p["scenario"], p["task"]) for p in rows)
        print(split, dict(sorted(counts.items())), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
