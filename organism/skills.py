"""Skill tasks of the organism's instruction data: the answer follows from the
instruction by a rule the tuning can teach (inflect a word, spell it, write a
small Python function, evaluate an expression, count, round, write a number
in words), as opposed to the *recall* tasks of
``organism/make_instructions.py`` (define a word, say what a library
function does, translate a word), whose answers are facts about the item.

A held-out item (a word, a function name, a number) is never seen in
training, so the tuned model can answer it only by applying the rule; a
7M-parameter model cannot store the facts the recall tasks ask for (see
the organism chapter). Each generator yields ``(task, item, instruction,
response, answers)``; ``make_instructions.py`` adds the scenario and the
train/test split. All answers are computed (``lemminflect``, ``num2words``,
Python itself), never typed by hand.
"""
from __future__ import annotations

import hashlib
from typing import Iterator

Row = tuple  # (task, item, instruction, response, answers)


def stable_hash(text: str) -> int:
    """64-bit hash of ``text`` (SHA-1 prefix): the same on every machine and run."""
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "big")


def pick(options, key: str):
    """Deterministic choice among ``options`` (varies templates and operations per item)."""
    return options[stable_hash(key) % len(options)]


# ------------------------------------------------------------------ writing
PLURAL = ["What is the plural of \"{w}\"?", "Give the plural form of \"{w}\".",
          "Write the plural of the noun \"{w}\".", "Write \"{w}\" in the plural."]
PAST = ["What is the past tense of \"{w}\"?", "Give the past tense of the verb \"{w}\".",
        "Write the past tense of \"{w}\".", "Put the verb \"{w}\" in the past tense."]
SPELL = ["Spell the word \"{w}\".", "Spell \"{w}\" letter by letter.",
         "Write the letters of \"{w}\" separated by hyphens."]


def inflect(word: str, tag: str) -> str | None:
    """``lemminflect``'s first inflection of ``word`` for Penn tag ``tag`` (NNS, VBD)."""
    from lemminflect import getInflection

    got = getInflection(word, tag)
    return got[0] if got and got[0].isalpha() and got[0] != word else None


def writing_skills(nouns: list[str], verbs: list[str], words: list[str]) -> Iterator[Row]:
    """Plural of nouns, past tense of verbs, spelling of 3..10-letter words."""
    for w in nouns:
        if (pl := inflect(w, "NNS")):
            yield "plural", w, pick(PLURAL, "pl" + w).format(w=w), pl, [pl]
    for w in verbs:
        if (past := inflect(w, "VBD")):
            yield "past_tense", w, pick(PAST, "vbd" + w).format(w=w), past, [past]
    for w in words:
        if 3 <= len(w) <= 10:
            spelled = "-".join(w)
            yield "spell", w, pick(SPELL, "sp" + w).format(w=w), spelled, [spelled]


# ------------------------------------------------------------------- coding
FUNC = ["Write a Python function named {name} that {desc}.",
        "Define a Python function called {name} which {desc}.",
        "Write a function {name}({params}) in Python that {desc}.",
        "Implement {name} in Python: it {desc}."]
TWO_ARG = [("returns the sum of {p} and {q}", "{p} + {q}"), ("returns the difference of {p} and {q}", "{p} - {q}"),
           ("returns the product of {p} and {q}", "{p} * {q}"), ("returns the larger of {p} and {q}", "max({p}, {q})"),
           ("returns the smaller of {p} and {q}", "min({p}, {q})"), ("returns {p} divided by {q}", "{p} / {q}"),
           ("returns True if {p} equals {q}", "{p} == {q}")]
TWO_PARAMS = [("a", "b"), ("x", "y"), ("m", "n"), ("first", "second"), ("left", "right")]
ONE_ARG = {"number": (["x", "n", "value", "num"],
                      [("returns the square of {p}", "{p} * {p}"), ("returns the absolute value of {p}", "abs({p})"),
                       ("returns True if {p} is even", "{p} % 2 == 0"), ("returns {p} plus one", "{p} + 1"),
                       ("returns twice {p}", "2 * {p}"), ("returns half of {p}", "{p} / 2")]),
           "string": (["s", "text", "word", "name"],
                      [("returns {p} in upper case", "{p}.upper()"), ("returns {p} in lower case", "{p}.lower()"),
                       ("returns the length of {p}", "len({p})"), ("returns {p} reversed", "{p}[::-1]"),
                       ("returns the first character of {p}", "{p}[0]")]),
           "list": (["items", "values", "numbers", "data"],
                    [("returns the first element of {p}", "{p}[0]"), ("returns the last element of {p}", "{p}[-1]"),
                     ("returns the number of elements in {p}", "len({p})"), ("returns the sum of {p}", "sum({p})"),
                     ("returns {p} sorted", "sorted({p})"), ("returns the largest element of {p}", "max({p})")])}
FUNC_VERBS = ["get", "compute", "find", "make", "calc", "check", "build", "combine", "count", "total", "do",
              "apply", "eval", "handle", "process", "show"]


def _function_spec(name: str) -> tuple[str, str, str]:
    """``(params, description, body)`` chosen by hash of the function name."""
    kinds = [("two", None)] * 3 + [("one", k) for k in ONE_ARG]
    kind, sub = pick(kinds, "kind" + name)
    if kind == "two":
        p, q = pick(TWO_PARAMS, "par" + name)
        desc, body = pick(TWO_ARG, "op" + name)
        return f"{p}, {q}", desc.format(p=p, q=q), body.format(p=p, q=q)
    params, ops = ONE_ARG[sub]
    p = pick(params, "par" + name)
    desc, body = pick(ops, "op" + name)
    return p, desc.format(p=p), body.format(p=p)


def write_functions(nouns: list[str]) -> Iterator[Row]:
    """One small function per name ``<verb>_<noun>``; answer ``def name(params):\\n    return body``."""
    for verb in FUNC_VERBS:
        for noun in nouns:
            name = f"{verb}_{noun}"
            params, desc, body = _function_spec(name)
            code = f"def {name}({params}):\n    return {body}"
            yield ("write_function", name, pick(FUNC, name).format(name=name, desc=desc, params=params),
                   code, [code])


EVAL = ["What does the Python expression {e} evaluate to?", "In Python, what is the value of {e}?",
        "Evaluate {e} in Python.", "What is the result of {e} in Python?"]


def _expressions(words: list[str]) -> Iterator[str]:
    """Small deterministic expressions: max/min, list length and indexing, sums, strings."""
    for a in range(0, 100, 3):
        for b in range(1, 100, 7):
            yield f"max({a}, {b})"
            yield f"min({a}, {b})"
            yield f"sum([{a}, {b}])"
    for n in range(2000):
        k = 1 + n % 6
        xs = [(stable_hash(f"x{n}{i}") % 90) + 1 for i in range(k)]
        yield f"len({xs})"
        yield f"{xs}[{stable_hash(f'i{n}') % k}]"
        yield f"abs(-{xs[0]})"
    for w in words[:3000]:
        yield f"'{w}'[0]"
        yield f"len('{w}')"


def evaluate_expressions(words: list[str]) -> Iterator[Row]:
    """``(expression, value)`` pairs; the value is Python's own (``eval`` on generated literals only)."""
    seen = set()
    for e in _expressions(words):
        if e in seen:
            continue
        seen.add(e)
        value = eval(e, {"__builtins__": {}}, {"max": max, "min": min, "len": len, "sum": sum, "abs": abs})
        ans = repr(value)
        yield "evaluate_expression", e, pick(EVAL, e).format(e=e), ans, [ans]


# --------------------------------------------------------------------- math
NEXT = [("What number comes after {n}?", 1), ("What is one more than {n}?", 1),
        ("What number comes before {n}?", -1), ("What is one less than {n}?", -1)]
ROUND = ["Round {n} to the nearest ten.", "What is {n} rounded to the nearest ten?"]


def math_skills() -> Iterator[Row]:
    """Successor / predecessor and rounding to tens, 1..999 (rounding half up)."""
    for n in range(1, 1000):
        tpl, d = pick(NEXT, f"next{n}")
        yield "next_number", str(n), tpl.format(n=n), str(n + d), [str(n + d)]
        if n % 10:
            r = (n + 5) // 10 * 10
            yield "round_number", str(n), pick(ROUND, f"r{n}").format(n=n), str(r), [str(r)]


# -------------------------------------------------------------- translation
LANGS = {"English": "en", "French": "fr", "Spanish": "es", "German": "de"}
TO_WORDS = ["Write the number {n} in {lang} words.", "How do you write {n} in {lang}?",
            "Translate the number {n} into {lang}.", "Say {n} in {lang}."]
FROM_WORDS = ["Write the {lang} number \"{w}\" in digits.", "What number is \"{w}\" in {lang}?",
              "Translate the {lang} number \"{w}\" into digits."]


def number_words(n: int, lang: str) -> str:
    """``num2words`` spelling of ``n`` in ``lang`` (English, French, Spanish, German)."""
    from num2words import num2words

    return num2words(n, lang=LANGS[lang])


def translation_skills() -> Iterator[Row]:
    """0..999 into number words of four languages, and French/Spanish/German words back to digits."""
    for n in range(1000):
        for lang in LANGS:
            w = number_words(n, lang)
            yield "number_to_words", str(n), pick(TO_WORDS, f"{lang}{n}").format(n=n, lang=lang), w, [w]
            if lang != "English" and stable_hash(f"back{lang}{n}") % 2 == 0:
                yield ("words_to_number", str(n), pick(FROM_WORDS, f"b{lang}{n}").format(w=w, lang=lang),
                       str(n), [str(n)])
