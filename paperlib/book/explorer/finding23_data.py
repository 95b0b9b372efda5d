"""Packed data of the Finding 2 and Finding 3 browsers (every layer, head and component).

* :func:`pairs_arrays`: the head-level word pairs (query word -> key word, most
  common first) of every explained layer and head of both models, from the
  chapter's ``att`` = {name: {layer: AttentionPairs}}; words as indices into one
  string table. Arrays per model ``n``: ``n_q``, ``n_k`` (word indices) and
  ``n_start`` ((layers * heads + 1,) offsets, layer-major).
* :func:`concepts_arrays`: every component of every explained FFN layer of both
  models: explained-variance ratio, top words, and the first seed's annotation
  (concept, scenarios as a bit mask over TASKS, level, and the annotator's
  evidence: the rule that fired). From the chapter's ``concepts`` =
  {name: {layer: FFNConcepts}} and annotation table ``ann``.
"""
from __future__ import annotations

import numpy as np

from paperlib.book.explorer.binpack import string_table
from paperlib.core.errors import ParameterError
from paperlib.models.pair import NAMES, ROLE_LABELS


def _indices(values, table: dict) -> np.ndarray:
    return np.array([table.setdefault(v, len(table)) for v in values], np.int64)


def _narrow(a: np.ndarray, size: int) -> np.ndarray:
    return a.astype(np.uint16 if size < 1 << 16 else np.uint32)


def _layers(per_model: dict, what: str) -> list[int]:
    layers = [sorted(int(l) for l in per_model[n]) for n in NAMES]
    if not layers[0]:
        raise ParameterError(f"the {what} browser needs at least one explained layer")
    if layers[0] != layers[1]:
        raise ParameterError(f"the two models' explained layers differ: {layers[0]} vs {layers[1]}")
    return layers[0]


def pairs_arrays(att: dict) -> tuple[dict, dict]:
    """(meta, arrays) of the pair browser for ``att`` (see the module docstring)."""
    missing = [n for n in NAMES if n not in att]
    if missing:
        raise ParameterError(f"att needs the models {NAMES}; missing {missing}")
    layers = _layers(att, "pair")
    heads = len(att[NAMES[0]][layers[0]].head_explanations())
    words: dict[str, int] = {}
    arrays = {}
    for n in NAMES:
        q, k, counts = [], [], []
        for layer in layers:
            lists = att[n][layer].head_explanations()
            if len(lists) != heads:
                raise ParameterError(f"layer {layer + 1} of {n} has {len(lists)} heads, "
                                     f"not {heads}")
            for h in range(heads):
                pairs = list(lists[h])
                q += [a for a, _ in pairs]
                k += [b for _, b in pairs]
                counts.append(len(pairs))
        arrays[f"{n}_q"], arrays[f"{n}_k"] = _indices(q, words), _indices(k, words)
        arrays[f"{n}_start"] = np.concatenate([[0], np.cumsum(counts)]).astype(np.uint32)
    for n in NAMES:
        for side in "qk":
            arrays[f"{n}_{side}"] = _narrow(arrays[f"{n}_{side}"], len(words))
    meta = {"kind": "pairs", "names": list(NAMES), "roles": ROLE_LABELS, "layers": layers,
            "heads": heads, "words": string_table(words)[0]}
    return meta, arrays


def _first_seed(ann):
    from paperlib.paper.finding3 import check_annotations

    check_annotations(ann)
    return ann[ann["seed"] == ann["seed"].min()], int(ann["seed"].min())


def _evidence_text(evidence: dict, prefix: str) -> str:
    parts = [f"{k.split(':', 1)[1]}: {v}" if ":" in k else str(v)
             for k, v in sorted(evidence.items()) if k == prefix or k.startswith(prefix + ":")]
    return "; ".join(parts)


def _concept_rows(rows, tables: dict) -> dict:
    """Annotation arrays of one model's components (rows in layer, rank order)."""
    from paperlib.annotate.base import LEVELS, TASKS

    ev = [r["evidence"] if isinstance(r["evidence"], dict) else {} for r in rows]
    return {
        "concept": _indices([r["concept"] for r in rows], tables["text"]),
        "describable": np.array([bool(r["describable"]) for r in rows], np.uint8),
        "tasks": np.array([sum(1 << i for i, t in enumerate(TASKS) if r[t]) for r in rows],
                          np.uint8),
        "level": np.array([LEVELS.index(r["level"]) if r["level"] in LEVELS else -1 for r in rows],
                          np.int8),
        "rule": _indices([_evidence_text(e, "concept") for e in ev], tables["text"]),
        "rule_level": _indices([_evidence_text(e, "level") for e in ev], tables["text"]),
        "rule_tasks": _indices([_evidence_text(e, "task") for e in ev], tables["text"]),
        "words": _indices([w for r in rows for w in r["words"]], tables["words"]),
    }


def concepts_arrays(concepts: dict, ann) -> tuple[dict, dict]:
    """(meta, arrays) of the concept browser (see the module docstring)."""
    from paperlib.annotate.base import LEVELS, TASKS

    layers = _layers(concepts, "concept")
    first, seed = _first_seed(ann)
    tables: dict[str, dict[str, int]] = {"text": {}, "words": {}}
    arrays, K = {}, None
    for n in NAMES:
        mine = first[first["model"] == n].sort_values(["layer", "rank"])
        rows, starts, var = [], [0], []
        for layer in layers:
            part = mine[mine["layer"] == layer].to_dict("records")
            if not part:
                raise ParameterError(f"no annotation for layer {layer + 1} of {n}")
            ratio = np.asarray(concepts[n][layer].explained_variance_ratio, np.float64)
            ranks = [int(r["rank"]) for r in part]
            if ranks != list(range(1, len(part) + 1)) or len(part) > len(ratio):
                raise ParameterError(f"layer {layer + 1} of {n}: annotated ranks {ranks[:5]}... do "
                                     "not match the components")
            K = K or len(part[0]["words"])
            if any(len(r["words"]) != K for r in part):
                raise ParameterError("every component needs the same number of words")
            rows += part
            var.append(ratio[:len(part)])
            starts.append(starts[-1] + len(part))
        arrays.update({f"{n}_{k}": v for k, v in _concept_rows(rows, tables).items()})
        arrays[f"{n}_var"] = np.concatenate(var)
        arrays[f"{n}_cum"] = np.concatenate([np.cumsum(v) for v in var])
        arrays[f"{n}_start"] = np.array(starts, np.uint32)
    for n in NAMES:
        arrays[f"{n}_words"] = _narrow(arrays[f"{n}_words"], len(tables["words"]))
        for key in ("concept", "rule", "rule_level", "rule_tasks"):
            arrays[f"{n}_{key}"] = _narrow(arrays[f"{n}_{key}"], len(tables["text"]))
    meta = {"kind": "concepts", "names": list(NAMES), "roles": ROLE_LABELS, "layers": layers,
            "K": K, "seed": seed, "tasks": list(TASKS), "levels": list(LEVELS),
            "words": string_table(tables["words"])[0], "text": string_table(tables["text"])[0]}
    return meta, arrays
