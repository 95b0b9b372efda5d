"""Held-out instruction following of the organism, per scenario.

Metrics (``response`` is the model's greedy continuation, cut at ``</s>`` or a
blank line):

- ``exact``: the response's first line, normalised (lower case, outer
  punctuation and a leading article removed), equals one accepted answer
  (synonym, antonym, translation).
- ``number``: the first integer in the response equals the answer (math).
- ``keyword``: at least one of the reference's ``k`` rarest content words
  (by ``wordfreq``; words of the instruction itself excluded) occurs in the
  response, compared on 5-letter stems (definitions, what a function or
  command does).
- ``code``: the response parses as Python with the same syntax tree as an
  accepted answer (``ast.dump``; spacing may differ; nothing is executed).
- ``uses_word``: the response is one sentence of 4..40 words that contains
  the target word (or an inflection of it sharing its first 5 letters) and is
  not a copy of the instruction (use a word in a sentence).

Beside these answer metrics, :func:`form_ok` checks only that the response
has the form the instruction asks for (a word, a number, a one-sentence
description): the behaviour shift from continuing text to answering.
"""
from __future__ import annotations

import re
from typing import Iterable

from paperlib.core.errors import ParameterError

#: Where a generated response ends: a blank line or the next '###' header.
RESPONSE_CUT = r"\n\s*\n|###"

TASK_METRIC = {"define": "keyword", "use": "uses_word", "synonym": "exact", "antonym": "exact",
               "python_function": "keyword", "python_module": "keyword", "shell_command": "keyword",
               "c_function": "keyword", "arithmetic": "number", "word_problem": "number",
               "to_foreign": "exact", "to_english": "exact",
               "plural": "exact", "past_tense": "exact", "spell": "exact", "write_function": "code",
               "evaluate_expression": "exact", "next_number": "number", "round_number": "number",
               "number_to_words": "exact", "words_to_number": "number"}
METRICS = ("exact", "number", "keyword", "code", "uses_word")
# Recall tasks ask for a fact about the held-out item (a word's meaning, synonym or
# translation, what a library function does); skill tasks for a rule applied to it.
RECALL_TASKS = frozenset({"define", "synonym", "antonym", "python_function", "python_module",
                          "shell_command", "c_function", "to_foreign", "to_english"})


def task_kind(task: str) -> str:
    """``"recall"`` or ``"skill"`` (see :data:`RECALL_TASKS`)."""
    if task not in TASK_METRIC:
        raise ParameterError(f"unknown task {task!r} (known: {', '.join(sorted(TASK_METRIC))})")
    return "recall" if task in RECALL_TASKS else "skill"
STOP = frozenset("""a an the of to in on for from by with and or not is are be been being was were it its
this that these those as at into than then such which who whom whose what when where how any all some
one two used use uses using can may might must should would will shall do does did done has have had
return returns given give also other another each more most less very only same used if else out up""".split())
_W = re.compile(r"[^\W\d_]+")


def first_line(response: str) -> str:
    """The response up to its first newline, stripped."""
    return response.strip().split("\n", 1)[0].strip()


def normalise(text: str) -> str:
    """Lower case, outer punctuation/quotes stripped, one leading article dropped."""
    t = text.strip().lower().strip(" \t.,;:!?\"'()[]«»“”‘’")
    return re.sub(r"^(a|an|the|to|le|la|les|l'|el|los|las|un|une|der|die|das|ein|eine)\s+", "", t)


def exact_match(response: str, answers: Iterable[str]) -> bool:
    """True when the first line of ``response`` equals one of ``answers`` (normalised)."""
    got = normalise(first_line(response))
    return bool(got) and got in {normalise(a) for a in answers}


def number_match(response: str, answers: Iterable[str]) -> bool:
    """True when the first integer in ``response`` equals the (integer) answer."""
    m = re.search(r"-?\d+", response.replace(",", ""))
    return m is not None and any(int(m.group()) == int(a) for a in answers)


def _tree(code: str) -> str | None:
    import ast

    try:
        return ast.dump(ast.parse(code.strip()))
    except (SyntaxError, ValueError):
        return None


def code_match(response: str, answers: Iterable[str]) -> bool:
    """True when ``response`` parses to the same Python syntax tree as one of ``answers``."""
    got = _tree(response)
    return got is not None and any(got == _tree(a) for a in answers)


def _stem(w: str) -> str:
    return w.lower()[:5]


def key_words(reference: str, instruction: str = "", k: int = 3) -> list[str]:
    """The ``k`` rarest content words of ``reference`` (not in ``instruction``)."""
    from wordfreq import zipf_frequency

    banned = {_stem(w) for w in _W.findall(instruction)}
    words = []
    for w in _W.findall(reference):
        lw = w.lower()
        if len(lw) >= 3 and lw not in STOP and _stem(lw) not in banned and lw not in words:
            words.append(lw)
    return sorted(words, key=lambda w: (zipf_frequency(w, "en"), w))[:k]


def keyword_match(response: str, reference: str, instruction: str = "", k: int = 3) -> bool:
    """True when one of the reference's ``k`` key words occurs in ``response`` (5-letter stems)."""
    keys = {_stem(w) for w in key_words(reference, instruction, k)}
    got = {_stem(w) for w in _W.findall(response)}
    return bool(keys & got)


def uses_word(response: str, word: str, instruction: str = "") -> bool:
    """True for a 4..40-word sentence containing ``word`` that is not the instruction."""
    line = first_line(response)
    words = _W.findall(line.lower())
    if not 4 <= len(words) <= 40 or normalise(line) == normalise(instruction):
        return False
    return any(w == word.lower() or (len(word) > 5 and _stem(w) == _stem(word)) for w in words)


def score(pair: dict, response: str) -> bool:
    """Apply the pair's metric (``pair['metric']``) to a model response."""
    metric = pair.get("metric") or TASK_METRIC.get(pair.get("task", ""))
    answers = pair.get("answers") or [pair["response"]]
    if metric == "exact":
        return exact_match(response, answers)
    if metric == "number":
        return number_match(response, answers)
    if metric == "keyword":
        return keyword_match(response, pair["response"], pair["instruction"])
    if metric == "code":
        return code_match(response, answers)
    if metric == "uses_word":
        return uses_word(response, pair["item"], pair["instruction"])
    raise ParameterError(f"unknown metric {metric!r} (known: {', '.join(METRICS)})")


def clean_response(text: str) -> str:
    """Cut a generated continuation at a blank line or the next '###' header."""
    return re.split(RESPONSE_CUT, text, maxsplit=1)[0].strip()


def generate(model, tokenizer, instructions: list[str], max_new_tokens: int = 48,
             batch_size: int = 32) -> list[str]:
    """Greedy responses to ``instructions`` in the organism's prompt format."""
    import torch

    from organism.data import format_prompt

    tokenizer.padding_side = "left"
    out = []
    model.eval()
    for i in range(0, len(instructions), batch_size):
        prompts = [format_prompt(t) for t in instructions[i:i + batch_size]]
        enc = tokenizer(prompts, return_tensors="pt", padding=True)
        with torch.no_grad():
            gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                 eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.eos_token_id)
        texts = tokenizer.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        out += [clean_response(t) for t in texts]
    return out


def _aggregate(pairs: list[dict], oks: list[bool]) -> dict:
    """Share of ``oks`` per scenario and per task; ``mean`` averages the scenarios;
    ``kind`` averages the tasks of each kind (``skill``, ``recall``: :func:`task_kind`)."""
    hits: dict[str, dict[str, list[bool]]] = {"scenario": {}, "task": {}}
    for p, ok in zip(pairs, oks):
        hits["scenario"].setdefault(p["scenario"], []).append(ok)
        hits["task"].setdefault(p["task"], []).append(ok)
    acc = {lvl: {k: sum(v) / len(v) for k, v in sorted(d.items())} for lvl, d in hits.items()}
    acc["mean"] = sum(acc["scenario"].values()) / max(1, len(acc["scenario"]))
    kinds: dict[str, list[float]] = {}
    for task, share in acc["task"].items():
        kinds.setdefault(task_kind(task), []).append(share)
    acc["kind"] = {k: sum(v) / len(v) for k, v in sorted(kinds.items())}
    return acc


def evaluate_pairs(model, tokenizer, pairs: list[dict], **gen_kw) -> dict:
    """Accuracy per scenario and per task on held-out ``pairs``.

    Returns ``{"scenario": {name: acc}, "task": {name: acc}, "kind": {"skill"|"recall": acc},
    "mean": float,
    "form": {same keys, for :func:`form_ok`}, "responses": [...]}``; ``mean``
    averages the scenarios (not the pairs). The top-level shares need the right
    answer (:func:`score`); ``form`` only the requested form of answer.
    """
    responses = generate(model, tokenizer, [p["instruction"] for p in pairs], **gen_kw)
    acc = _aggregate(pairs, [score(p, r) for p, r in zip(pairs, responses)])
    acc["form"] = _aggregate(pairs, [form_ok(p, r) for p, r in zip(pairs, responses)])
    acc["responses"] = responses
    return acc


def _is_copy(line: str, instruction: str) -> bool:
    return normalise(line) == normalise(instruction)


def _shape_ok(line: str, answer: str) -> bool:
    """A short answer shaped like ``answer``: 1..max(3, 2x its words) words, with
    letters and digits exactly where the answer has them (a word, a number, a list)."""
    has = lambda t, pat: re.search(pat, t) is not None
    return (1 <= len(line.split()) <= max(3, 2 * len(answer.split()))
            and has(line, r"\d") == has(answer, r"\d") and has(line, r"[^\W\d_]") == has(answer, r"[^\W\d_]"))


def form_ok(pair: dict, response: str) -> bool:
    """Does the response have the FORM the instruction asks for, right or wrong?

    A second, weaker measure of instruction following than :func:`score`
    (which needs the right answer): a short-answer task (synonym, plural,
    translation, spelling, an expression's value) answers with a few words shaped
    like the reference (:func:`_shape_ok`); a number task starts
    with an integer; a describe task (definition, function, command) answers
    with one sentence of 2-40 words ending in a full stop; "use in a sentence"
    is :func:`uses_word`. A copy of the instruction never counts.
    """
    metric = pair.get("metric") or TASK_METRIC.get(pair.get("task", ""))
    line = first_line(response)
    if not line or _is_copy(line, pair["instruction"]):
        return False
    words = _W.findall(line)
    if metric == "exact":
        return _shape_ok(line, (pair.get("answers") or [pair["response"]])[0])
    if metric == "number":
        return re.match(r"-?\d", line.replace(",", "")) is not None
    if metric == "keyword":
        return 2 <= len(words) <= 40 and line.endswith(".") and line.count(".") <= 2
    if metric == "code":
        return response.strip().startswith("def ") and _tree(response) is not None
    if metric == "uses_word":
        return uses_word(response, pair["item"], pair["instruction"])
    raise ParameterError(f"unknown metric {metric!r} (known: {', '.join(METRICS)})")
