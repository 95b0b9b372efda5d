"""Statistics over attention word-pair explanations: Fig 2 and Table 3 (paper Sec 5.1).

Fig 2: share of a head's (or neuron's) top pairs that changed between the
pre-trained and the tuned model, per group of layers. Table 3: for each verb
and layer group, among the heads whose count of pairs containing the verb
changed, the share where the tuned model has more; instruction verbs vs
general verbs with Welch's t-test.
"""
from __future__ import annotations

import numpy as np

from paperlib.core.errors import ParameterError
from paperlib.core.errors import check_count


def changed_share(E_pt, E_ft, ordered: bool = True) -> float:
    """1 - |E_pt & E_ft| / |E_pt | E_ft| for two collections of (a, b) pairs
    (nan when both are empty). ordered=False compares {a, b} sets."""
    norm = (lambda p: tuple(p)) if ordered else (lambda p: frozenset(p))
    a, b = {norm(p) for p in E_pt}, {norm(p) for p in E_ft}
    union = a | b
    return float("nan") if not union else 1.0 - len(a & b) / len(union)


def layer_groups(n_layers: int, group_size: int = 4) -> list[tuple[int, ...]]:
    """Consecutive 0-based layer groups, e.g. [(0,1,2,3), (4,5,6,7), ...]."""
    check_count("n_layers", n_layers, 1)
    check_count("group_size", group_size, 1)
    return [tuple(range(s, min(s + group_size, n_layers))) for s in range(0, n_layers, group_size)]


def _group_label(group) -> str:
    return f"{group[0] + 1}-{group[-1] + 1}"


def changed_share_by_group(pt: dict, ft: dict, n_layers: int, group_size: int = 4,
                           ordered: bool = True):
    """Fig 2: mean changed share per layer group. pt, ft: {key: pairs} where
    key[0] is the 0-based layer ((layer, head) or (layer, head, dim)); the same
    keys in both. Returns a DataFrame: layers, changed (mean), n (units)."""
    import pandas as pd

    if set(pt) != set(ft):
        raise ParameterError("pt and ft explanations must have the same keys")
    rows = []
    for g in layer_groups(n_layers, group_size):
        vals = [changed_share(pt[key], ft[key], ordered) for key in pt if key[0] in g]
        vals = [v for v in vals if v == v]
        rows.append({"layers": _group_label(g), "changed": float(np.mean(vals)) if vals else np.nan,
                     "n": len(vals)})
    return pd.DataFrame(rows)


def verb_pair_counts(head_explanations: dict, verb: str, forms=None) -> dict:
    """{key: number of pairs containing the verb} (a pair contains it when either
    word, lower-cased, is one of ``forms`` (default: {verb}))."""
    forms = {f.lower() for f in (forms or [verb])}
    return {key: sum(a.lower() in forms or b.lower() in forms for a, b in pairs)
            for key, pairs in head_explanations.items()}


def verb_increase_share(pt: dict, ft: dict, verb: str, keys=None, forms=None) -> float:
    """Among heads (of ``keys``, default all) whose count of pairs with the verb
    changed from pt to ft, the percentage where ft has more; nan if none changed."""
    c_pt, c_ft = verb_pair_counts(pt, verb, forms), verb_pair_counts(ft, verb, forms)
    keys = list(pt) if keys is None else list(keys)
    changed = [key for key in keys if c_pt[key] != c_ft[key]]
    if not changed:
        return float("nan")
    return 100.0 * sum(c_ft[key] > c_pt[key] for key in changed) / len(changed)


def verb_shift_table(pt: dict, ft: dict, instruction_verbs, general_verbs, n_layers: int,
                     group_size: int = 4, alternative: str = "two-sided", forms=None):
    """Table 3: per layer group, mean +- std (ddof 0) over verbs of
    :func:`verb_increase_share` for instruction vs general verbs (verbs with no
    changed head are left out), and Welch's t-test p (instruct vs general).
    pt, ft: {(layer, head): pairs}. forms: optional {verb: surface forms}."""
    import pandas as pd

    from paperlib.measures.stats import mean_std, welch_test

    forms = forms or {}
    rows = []
    for g in layer_groups(n_layers, group_size):
        keys = [key for key in pt if key[0] in g]
        share = {name: [s for v in verbs
                        if (s := verb_increase_share(pt, ft, v, keys, forms.get(v))) == s]
                 for name, verbs in (("instruct", instruction_verbs), ("general", general_verbs))}
        row = {"layers": _group_label(g)}
        for name, vals in share.items():
            m, s = mean_std(vals) if vals else (np.nan, np.nan)
            row.update({f"{name}_mean": m, f"{name}_std": s, f"{name}_n": len(vals)})
        ok = min(len(v) for v in share.values()) >= 2
        row["p_value"] = (welch_test(share["instruct"], share["general"], alternative).p_value
                          if ok else np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def busiest_heads(att: dict, layer: int, n: int = 2) -> list[int]:
    """The ``n`` heads of ``layer`` with the most head-level pairs in either model
    (ties: lower head index); ``att``: {model name: {layer: AttentionPairs}}."""
    counts = {}
    for name in att:
        for h, pairs in att[name][layer].head_explanations().items():
            counts[h] = counts.get(h, 0) + len(pairs)
    return sorted(counts, key=lambda h: (-counts[h], h))[:n]
