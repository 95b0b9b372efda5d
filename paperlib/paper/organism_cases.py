"""Finding-1 case sets of a live pair on held-out instructions with automatic labels.

The organism pair's held-out instructions (``data/organism/heldout_test.jsonl``)
have exact answers, and each one names its input item (field ``item``: the word,
number or function name the instruction is about). So, with no human rater:

* **followed** = the tuned model's greedy answer is correct (:func:`answer_correct`,
  the same rules as the organism's evaluation: exact match, number, Python syntax
  tree, a sentence using the word), **unfollowed** = it is wrong;
* **instruction tokens** = the prompt tokens of the instruction text that do not
  touch the input item (:func:`mark_prompt`); the item's tokens are the *input*;
  the template's scaffold ("### Instruction:", "### Response:") is neither.

The prompt format is read from ``prompt_template.json`` in the tuned model's folder
(:func:`read_template`), never from the organism pipeline. Greedy responses are
generated in batches and cached (:func:`generate_greedy`);
:mod:`paperlib.paper.organism_attribution` attributes them and writes the case sets.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

from paperlib.core.errors import DataError, ParameterError, check_count

TEMPLATE_FILE = "prompt_template.json"
#: tasks with exact, automatically checkable answers and responses of >= 5 tokens
DEFAULT_TASKS = ("number_to_words", "spell", "write_function", "use")
METRICS = ("exact", "number", "code", "uses_word")
ROLE_CODES = {"template": "t", "instruction": "i", "input": "x"}
LABELS_SCHEMA = "paperlib.organism-labels/1"
_W = re.compile(r"[^\W\d_]+")
_FIELDS = ("task", "instruction", "response", "metric")


def read_template(model_dir) -> dict:
    """The prompt format of a tuned model folder (``prompt_template.json``): keys
    template (with ``{instruction}``), instruction_field, input_field, response_cut
    (regex where a response is cut before scoring)."""
    path = Path(model_dir) / TEMPLATE_FILE
    if not path.is_file():
        raise DataError(f"{path} does not exist: the tuned model's folder must describe its "
                        f"prompt format in {TEMPLATE_FILE}")
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON ({exc})") from exc
    need = ("template", "instruction_field", "input_field", "response_cut")
    missing = [k for k in need if k not in spec]
    if missing or "{instruction}" not in str(spec.get("template", "")):
        raise DataError(f"{path}: needs keys {list(need)} and a template with "
                        f"'{{instruction}}' (missing {missing})")
    return spec


def load_heldout(path, tasks=DEFAULT_TASKS, per_task: int | None = None) -> list[dict]:
    """Held-out pairs of ``tasks`` in file order, the first ``per_task`` of each (all when
    None); each gets an ``id`` "<task>_<k>" (k = its rank within its task in the file)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"held-out file {path} does not exist")
    rows, seen = [], {}
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{line_no}: not a JSON object ({exc})") from exc
        missing = [k for k in _FIELDS if k not in row]
        if missing:
            raise DataError(f"{path}:{line_no}: missing fields {missing}")
        k = seen.get(row["task"], 0)
        seen[row["task"]] = k + 1
        if row["task"] in tasks and (per_task is None or k < per_task):
            rows.append({**row, "id": f"{row['task']}_{k}"})
    unknown = sorted(set(tasks) - set(seen))
    if unknown:
        raise ParameterError(f"tasks {unknown} do not occur in {path} (known: {sorted(seen)})")
    bad = sorted({r["metric"] for r in rows} - set(METRICS))
    if bad:
        raise ParameterError(f"tasks with metrics {bad} cannot be labelled automatically here "
                             f"(supported: {METRICS})")
    return rows


# --------------------------------------------------------------------------- answers


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0].strip()


def _normal(text: str) -> str:
    t = text.strip().lower().strip(" \t.,;:!?\"'()[]«»“”‘’")
    return re.sub(r"^(a|an|the|to|le|la|les|l'|el|los|las|un|une|der|die|das|ein|eine)\s+", "", t)


def _tree(code: str) -> str | None:
    try:
        return ast.dump(ast.parse(code.strip()))
    except (SyntaxError, ValueError):
        return None


def _uses_word(response: str, word: str, instruction: str) -> bool:
    line = _first_line(response)
    words = _W.findall(line.lower())
    if not 4 <= len(words) <= 40 or _normal(line) == _normal(instruction):
        return False
    return any(w == word.lower() or (len(word) > 5 and w[:5] == word.lower()[:5]) for w in words)


def answer_correct(row: dict, response: str) -> bool:
    """Is ``response`` (already cut, :func:`cut_response`) a correct answer to ``row``?

    exact: first line equals an accepted answer after normalisation (case, outer
    punctuation, a leading article); number: first integer equals the answer; code:
    same Python syntax tree (nothing executed); uses_word: a 4-40 word sentence with
    the item word (or a form sharing its first 5 letters) that is not the instruction.
    """
    metric = row["metric"]
    answers = row.get("answers") or [row["response"]]
    if metric == "exact":
        got = _normal(_first_line(response))
        return bool(got) and got in {_normal(a) for a in answers}
    if metric == "number":
        m = re.search(r"-?\d+", response.replace(",", ""))
        return m is not None and any(int(m.group()) == int(a) for a in answers)
    if metric == "code":
        got = _tree(response)
        return got is not None and any(got == _tree(a) for a in answers)
    if metric == "uses_word":
        return _uses_word(response, str(row["item"]), row["instruction"])
    raise ParameterError(f"unknown metric {metric!r} (supported: {METRICS})")


def cut_response(text: str, template: dict) -> str:
    """The scored part of a generated text: up to the template's ``response_cut``."""
    return re.split(template["response_cut"], text, maxsplit=1)[0].strip()


# --------------------------------------------------------------------------- prompts


@dataclass(frozen=True)
class MarkedPrompt:
    """text fed to the model; ids (BOS included); n_prefix special ids; roles: one
    code per prompt token after the prefix (t = template, i = instruction, x = input)."""

    text: str
    ids: list[int]
    n_prefix: int
    roles: str


def _spans(template: dict, row: dict) -> tuple[str, tuple[int, int], list[tuple[int, int]]]:
    instruction = str(row[template["instruction_field"]])
    if template.get("strip_instruction", True):
        instruction = instruction.strip()
    head, _, _ = template["template"].partition("{instruction}")
    text = template["template"].replace("{instruction}", instruction)
    start = len(head)
    item = str(row.get(template["input_field"], "") or "")
    items, at = [], instruction.find(item) if item else -1
    while item and at >= 0:
        items.append((start + at, start + at + len(item)))
        at = instruction.find(item, at + len(item))
    return text, (start, start + len(instruction)), items


def mark_prompt(tokenizer, template: dict, row: dict) -> MarkedPrompt:
    """Tokenise the prompt of ``row`` and give each token a role from character offsets:
    a token overlapping an occurrence of the item is input, another token overlapping
    the instruction text is instruction, the rest template. Needs a fast tokenizer."""
    text, (i0, i1), items = _spans(template, row)
    enc = tokenizer(text, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    special = set(tokenizer.all_special_ids)
    n_prefix = 0
    while n_prefix < len(ids) and ids[n_prefix] in special:
        n_prefix += 1
    codes = []
    for s, e in offsets[n_prefix:]:
        if any(s < b and a < e for a, b in items):
            codes.append(ROLE_CODES["input"])
        elif s < i1 and i0 < e:
            codes.append(ROLE_CODES["instruction"])
        else:
            codes.append(ROLE_CODES["template"])
    if ROLE_CODES["instruction"] not in codes:
        raise DataError(f"case {row.get('id')}: no instruction token found in {text!r}")
    return MarkedPrompt(text, list(ids), n_prefix, "".join(codes))


# --------------------------------------------------------------------------- models


def generate_greedy(model, tokenizer, texts: list[str], max_new_tokens: int,
                    batch_size: int = 16, fingerprint: dict | None = None) -> list[list[int]]:
    """Greedy responses (ids, cut before the first EOS) to ``texts``, batched with left
    padding; cached on the model and tokenizer fingerprints, texts and arguments."""
    from paperlib.core.io import ResultCache
    from paperlib.models.loading import model_fingerprint, tokenizer_fingerprint

    max_new_tokens = check_count("max_new_tokens", max_new_tokens, 1, 4096)
    batch_size = check_count("batch_size", batch_size, 1)
    params = {"model": fingerprint or model_fingerprint(model),
              "tokenizer": tokenizer_fingerprint(tokenizer), "texts": list(texts),
              "max_new_tokens": max_new_tokens, "batch_size": batch_size,
              "dtype": str(next(model.parameters()).dtype), "algorithm": "greedy-left-pad/1"}

    def compute():
        return {"responses": _generate(model, tokenizer, texts, max_new_tokens, batch_size)}

    out = ResultCache("organism_generation").get_or_compute(
        params, compute, lambda v, p: Path(p).write_text(json.dumps(v)),
        lambda p: json.loads(Path(p).read_text()), ext="json")
    return out["responses"]


def _generate(model, tokenizer, texts, max_new_tokens, batch_size) -> list[list[int]]:
    """Response ids of :func:`paperlib.models.generation.generate_batch` (greedy, left
    padding, cut before the first EOS), for ``texts`` fed as they are."""
    from paperlib.models.generation import generate_batch

    return [g.response_ids for g in generate_batch(model, tokenizer, list(texts), max_new_tokens,
                                                   batch_size=batch_size)]
