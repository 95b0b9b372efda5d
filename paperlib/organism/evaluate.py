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
- ``uses_word``: the response is one sentence of 4..40 words that contains
  the target word (or an inflection of it sharing its first 5 letters) and is
  not a copy of the instruction (use a word in a sentence).
"""
from __future__ import annotations

import re
from typing import Iterable

from paperlib.errors import ParameterError

TASK_METRIC = {"define": "keyword", "use": "uses_word", "synonym": "exact", "antonym": "exact",
               "python_function": "keyword", "python_module": "keyword", "shell_command": "keyword",
               "c_function": "keyword", "arithmetic": "number", "word_problem": "number",
               "to_foreign": "exact", "to_english": "exact"}
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
    if metric == "uses_word":
        return uses_word(response, pair["item"], pair["instruction"])
    raise ParameterError(f"unknown metric {metric!r} (known: exact, number, keyword, uses_word)")


def clean_response(text: str) -> str:
    """Cut a generated continuation at a blank line or the next '###' header."""
    return re.split(r"\n\s*\n|###", text, maxsplit=1)[0].strip()


def generate(model, tokenizer, instructions: list[str], max_new_tokens: int = 48,
             batch_size: int = 32) -> list[str]:
    """Greedy responses to ``instructions`` in the organism's prompt format."""
    import torch

    from paperlib.organism.data import format_prompt

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


def evaluate_pairs(model, tokenizer, pairs: list[dict], **gen_kw) -> dict:
    """Accuracy per scenario and per task on held-out ``pairs``.

    Returns ``{"scenario": {name: acc}, "task": {name: acc}, "mean": float,
    "responses": [...]}``; ``mean`` averages the scenarios (not the pairs).
    """
    responses = generate(model, tokenizer, [p["instruction"] for p in pairs], **gen_kw)
    hits: dict[str, dict[str, list[bool]]] = {"scenario": {}, "task": {}}
    for p, r in zip(pairs, responses):
        ok = score(p, r)
        hits["scenario"].setdefault(p["scenario"], []).append(ok)
        hits["task"].setdefault(p["task"], []).append(ok)
    acc = {lvl: {k: sum(v) / len(v) for k, v in sorted(d.items())} for lvl, d in hits.items()}
    acc["mean"] = sum(acc["scenario"].values()) / max(1, len(acc["scenario"]))
    acc["responses"] = responses
    return acc
