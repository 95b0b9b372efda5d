"""Finding 2 tables (Fig 2, Table 3) and the paper's published numbers for them.

The explainer is :mod:`paperlib.explainers.attention_pairs`, the statistics
:mod:`paperlib.measures.attention_stats`; figures, the head browser and the
chapter's text are in :mod:`paperlib.book.finding2_report`.

* verb lists: :data:`PAPER_INSTRUCTION_VERBS` (METHOD.md / Table 3) plus the
  imperative verbs of the tuned model's own instruction templates
  (:func:`tuning_verbs`: ``<tuned model folder>/instruction_verbs.json``, which
  the organism pipeline writes beside the tuned model it exports); general verbs:
  :func:`general_verbs` = the most frequent English words (wordfreq) that are
  the base form of a verb per lemminflect's packaged lexicon. The paper used
  WordNet verbs ranked by wordfreq; lemminflect's verb lexicon is a packaged,
  offline substitute with the same role (both list "people", "time" ... as verbs).
* layer groups: ``group_size="auto"`` = max(1, n_layers // 8), i.e. the paper's
  8 groups (of 4 layers for a 32-layer model); 1 layer per group below 8 layers.
* :func:`fig2_table`, :func:`table3` - our numbers; :func:`paper_table3` and
  :func:`table3_comparison` - the paper's beside ours (side by side only when
  the groups are the same; otherwise by relative depth, direction only).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from paperlib.measures.stats import format_mean_std
from paperlib.core.errors import DataError, ParameterError

PAPER_INSTRUCTION_VERBS = (
    "translate", "explain", "summarize", "retrieve", "revise", "generate", "describe",
    "classify", "create", "evaluate", "correct", "develop", "identify", "analyze",
    "compose", "demonstrate", "interpret", "design", "solve", "follow", "clarify", "say",
    "help", "act", "recommend", "estimate", "edit", "format", "repeat", "write", "give",
    "find", "make", "have", "tell", "output", "predict", "detect")
# Beside a tuned model's weights: {"verbs": [...]}, the imperative verbs of the
# instruction templates it was tuned on (the organism pipeline writes it on export).
VERBS_FILE = "instruction_verbs.json"
# Paper Table 3 (LLaMA-7B -> Vicuna-7B, groups of 4 of 32 layers):
# layers, instruct mean, std, general mean, std, p-value.
PAPER_TABLE3 = (("1-4", 78.46, 23.91, 52.45, 35.30, 0.0005),
                ("5-8", 66.89, 23.82, 48.42, 32.71, 0.0045),
                ("9-12", 66.23, 28.85, 51.15, 32.88, 0.0420),
                ("13-16", 64.39, 25.85, 50.11, 32.06, 0.0285),
                ("17-20", 58.25, 40.52, 53.50, 31.61, 0.6181),
                ("21-24", 51.03, 31.58, 51.46, 31.57, 0.9531),
                ("25-28", 39.19, 31.37, 52.32, 32.22, 0.0960),
                ("29-32", 50.49, 36.01, 50.58, 31.65, 0.9919))
PAPER_N_LAYERS = 32
PAPER_FIG2 = ("rises with depth; over 35% of a head's word pairs changed in the last layers "
              "(LLaMA-7B → Vicuna-7B, top-100 pairs, groups of 4 layers)")
PAPER_CHANGED_LAST = 0.35


def _dedupe(words) -> list[str]:
    return list(dict.fromkeys(w.lower() for w in words))


def is_verb_base(word: str) -> bool:
    """True when ``word`` is the base form of a verb in lemminflect's lexicon."""
    from lemminflect import getAllLemmas

    return word.isalpha() and word in getAllLemmas(word, "VERB").get("VERB", ())


def _model_folder(tuned) -> Path | None:
    """The local folder of ``tuned``: a folder path, or a model whose
    ``config._name_or_path`` is a folder (None for a hub id or a random model)."""
    if tuned is None:
        return None
    name = tuned if isinstance(tuned, (str, Path)) else getattr(getattr(tuned, "config", None),
                                                                "_name_or_path", None)
    folder = Path(name).expanduser() if name else None
    return folder if folder is not None and folder.is_dir() else None


def tuning_verbs(tuned=None) -> list[str]:
    """Imperative verbs of the instruction templates a tuned model was tuned on, from
    ``<its folder>/instruction_verbs.json`` (:data:`VERBS_FILE`, key ``verbs``; the
    organism pipeline writes it beside the tuned model it exports).

    tuned: the tuned model's folder, or a model whose ``config._name_or_path`` is
    a folder. Empty when there is no such file (None, a hub id, a random model)."""
    folder = _model_folder(tuned)
    path = folder / VERBS_FILE if folder is not None else None
    if path is None or not path.is_file():
        return []
    try:
        verbs = json.loads(path.read_text(encoding="utf-8"))["verbs"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: not a JSON object with a 'verbs' list ({exc})") from exc
    if isinstance(verbs, str) or not all(isinstance(v, str) and v.strip() for v in verbs):
        raise DataError(f"{path}: 'verbs' must be a list of non-empty strings")
    return _dedupe(v.strip() for v in verbs)


def instruction_verbs(verbs=None, tuned=None) -> list[str]:
    """``verbs`` (lower-cased, deduplicated) or, for None, the paper's list plus the
    verbs of the tuned model's own templates (:func:`tuning_verbs` of ``tuned``; the
    paper's list alone when it has none)."""
    if verbs is None:
        return _dedupe(list(PAPER_INSTRUCTION_VERBS) + tuning_verbs(tuned))
    if isinstance(verbs, str) or not all(isinstance(v, str) and v.strip() for v in verbs):
        raise ParameterError(f"verbs must be a list of non-empty strings, got {verbs!r}")
    out = _dedupe(v.strip() for v in verbs)
    if not out:
        raise ParameterError("the verb list is empty")
    return out


def general_verbs(n: int = 300, exclude=(), verbs=None, scan: int = 20000) -> list[str]:
    """``verbs`` if given (checked), else the ``n`` most frequent English words
    (wordfreq ``top_n_list``, first ``scan`` words) that are verb base forms
    (:func:`is_verb_base`) and not in ``exclude``."""
    from paperlib.core.errors import check_count

    if verbs is not None:
        out = instruction_verbs(verbs)
        return [v for v in out if v not in set(exclude)]
    check_count("n_general_verbs", n, 1)
    from wordfreq import top_n_list

    excluded = {e.lower() for e in exclude}
    out = [w for w in top_n_list("en", scan) if w not in excluded and is_verb_base(w)]
    if len(out) < n:
        raise ParameterError(f"only {len(out)} general verbs among the {scan} most frequent "
                             f"words; ask for at most that many")
    return out[:n]


def resolve_group_size(group_size, n_layers: int) -> int:
    """"auto" -> max(1, n_layers // 8) (the paper's 8 groups); else a positive int."""
    from paperlib.core.errors import check_count

    if group_size == "auto":
        return max(1, n_layers // 8)
    return check_count("group_size", group_size, 1, n_layers)


def resolve_layers(layers, n_layers: int) -> list[int]:
    """None -> all layers; else :func:`paperlib.models.canonical.check_layers` (sorted)."""
    from paperlib.models.canonical import check_layers

    return list(range(n_layers)) if layers is None else sorted(check_layers(layers, n_layers))


def verb_coverage(words, verbs) -> tuple[list[str], list[str]]:
    """(verbs among the candidate ``words`` (case-insensitive), verbs missing)."""
    lower = {w.lower() for w in words}
    return [v for v in verbs if v in lower], [v for v in verbs if v not in lower]


# ---- Fig 2 ---------------------------------------------------------------------------

def fig2_table(att: dict, n_layers: int, group_size: int):
    """Fig 2: mean changed share 1 - |E_pt ∩ E_ft| / |E_pt ∪ E_ft| per layer group,
    head level and neuron level. att: {"pt"|"ft": {layer: AttentionPairs}}.
    Columns: layers (1-based range), heads_changed, n_heads, neurons_changed,
    n_neurons (units with a pair in either model); groups with no unit dropped."""
    from paperlib.explainers.attention_pairs import head_explanations_by_layer, neuron_explanations_by_layer
    from paperlib.measures.attention_stats import changed_share_by_group

    parts = []
    for level, fn in (("heads", head_explanations_by_layer),
                      ("neurons", neuron_explanations_by_layer)):
        df = changed_share_by_group(fn(att["pt"]), fn(att["ft"]), n_layers, group_size)
        parts.append(df.rename(columns={"changed": f"{level}_changed", "n": f"n_{level}"})
                     .set_index("layers"))
    out = parts[0].join(parts[1]).reset_index()
    return out[(out.n_heads > 0) | (out.n_neurons > 0)].reset_index(drop=True)


# ---- Table 3 -------------------------------------------------------------------------

def table3(att: dict, instruct, general, n_layers: int, group_size: int):
    """Table 3 on head-level pairs: per group, mean ± std (%) over verbs of the share
    of heads (whose count of pairs with the verb changed) where the tuned model
    has more; Welch p (two-sided). Groups with no explained layer are dropped."""
    from paperlib.explainers.attention_pairs import head_explanations_by_layer
    from paperlib.measures.attention_stats import layer_groups, verb_shift_table

    pt, ft = head_explanations_by_layer(att["pt"]), head_explanations_by_layer(att["ft"])
    df = verb_shift_table(pt, ft, instruct, general, n_layers, group_size)
    keep = [any(l in att["pt"] for l in g) for g in layer_groups(n_layers, group_size)]
    return df[keep].reset_index(drop=True)


def paper_table3():
    """The paper's Table 3 as a DataFrame (same columns as :func:`table3`, no counts)."""
    import pandas as pd

    return pd.DataFrame(PAPER_TABLE3, columns=["layers", "instruct_mean", "instruct_std",
                                               "general_mean", "general_std", "p_value"])


def _depth_group(label: str, n_layers: int) -> int:
    """Index of the paper's group (of 8) holding the relative depth of our group's
    centre; a centre on a boundary goes to the lower group (32 layers in groups of
    4 map onto themselves; layer 1 of 4 -> paper layers 1-4, layer 4 -> 25-28)."""
    a, b = (int(x) for x in label.split("-"))
    centre = (a - 1 + b) / 2 / n_layers * 8  # in units of the paper's groups
    return min(7, max(0, int(np.ceil(centre)) - 1))


def table3_comparison(ours, n_layers: int):
    """Ours beside the paper: instruct / general as "mean ± std" (%), p, direction.
    Same groups as the paper (32 layers, groups of 4): the paper's row of the same
    layers; otherwise the paper's row at the same relative depth (compare the
    direction only). Returns (DataFrame, same_groups: bool)."""
    import pandas as pd

    paper = paper_table3()
    same = n_layers == PAPER_N_LAYERS and set(ours["layers"]) <= set(paper["layers"])
    rows = []
    for _, r in ours.iterrows():
        p = paper.iloc[_depth_group(r["layers"], n_layers)]
        diff = r["instruct_mean"] - r["general_mean"]
        rows.append({"layers": r["layers"],
                     "instruct (ours)": format_mean_std(r["instruct_mean"], r["instruct_std"]),
                     "general (ours)": format_mean_std(r["general_mean"], r["general_std"]),
                     "p (ours)": r["p_value"], "verbs (instr/gen)":
                     f"{r['instruct_n']}/{r['general_n']}",
                     "ours: instruct higher": "–" if diff != diff else bool(diff > 0),
                     ("paper layers" if same else "paper group at same depth"): p["layers"],
                     "paper: instruct higher": bool(p["instruct_mean"] > p["general_mean"]),
                     "p (paper)": p["p_value"]})
    return pd.DataFrame(rows), same


# ---- verdict against controls (paperlib.paper.contrasts) -------------------------------

GRADED_ORDER = ("changed", "rbo_change")  # the verdict's measure: the first not saturated


def verdict_measure(fig2c) -> tuple[str, bool]:
    """(measure, saturated): the first of :data:`GRADED_ORDER` whose base -> tuned values
    are not saturated (:func:`paperlib.paper.verdicts.is_saturated`); the last one and
    True when all are."""
    from paperlib.paper.contrasts import TUNING
    from paperlib.paper.verdicts import is_saturated

    tuned = fig2c[fig2c.contrast == TUNING.key]
    for m in GRADED_ORDER:
        if not is_saturated(tuned[m]):
            return m, False
    return GRADED_ORDER[-1], True


def fig2_parts(units, fig2c, groups, measure: str, saturated: bool, alpha: float = 0.05) -> list:
    """Two verdicts (:func:`paperlib.paper.verdicts.beyond_controls`) on ``measure``:
    the heads of the last group change (paper: over 35%), and the change rises from
    the first to the last group; each against the control contrasts present."""
    from paperlib.core.errors import check_range
    from paperlib.paper import contrasts as C
    from paperlib.paper.verdicts import CANNOT, ControlCheck, Verdict, beyond_controls

    check_range("alpha", alpha, 0.0, 1.0)
    present = [c for c in C.CONTROLS if c.key in set(units["contrast"])]
    mean = lambda key, label: float(fig2c[(fig2c.contrast == key) & (fig2c.layers == label)][measure].iloc[0])
    first, last = groups[0][0], groups[-1][0]
    tests = C.fig2_tests(units, groups[-1:], measure).iloc[0]
    last_part = beyond_controls(
        what=f"heads' pair change ({measure}, as a fraction) in layers {last}", paper=PAPER_CHANGED_LAST,
        ours=mean(C.TUNING.key, last), alpha=alpha, saturated=saturated,
        paper_text="over 0.35 of a head's pairs changed in the last layers",
        controls=[ControlCheck(c.label, mean(c.key, last), tests[f"p vs {c.key}"]) for c in present])
    if len(groups) < 2:
        return [last_part, Verdict(CANNOT, "rise with depth: one layer group only.")]
    rise = lambda key: mean(key, last) - mean(key, first)
    _, p_rise = C.rise_check(units, groups, measure)
    rise_part = beyond_controls(
        what=f"rise of the pair change ({measure}) from layers {first} to {last}", paper=1.0,
        ours=rise(C.TUNING.key), p_value=p_rise, alpha=alpha, saturated=saturated,
        paper_text="rises with depth",
        controls=[ControlCheck(c.label, rise(c.key), C.rise_check(units, groups, measure, c)[1])
                  for c in present])
    return [last_part, rise_part]


def table3_parts(t3c, n_layers: int, alpha: float = 0.05) -> list:
    """One verdict per lower-half group: instruction minus general verb share (pp) of
    base -> tuned, Welch p, against the paper's difference at the same depth and the
    control contrasts present in ``t3c`` (:func:`paperlib.paper.contrasts.table3_contrasts`)."""
    from paperlib.core.errors import check_range
    from paperlib.paper import contrasts as C
    from paperlib.paper.verdicts import ControlCheck, beyond_controls

    check_range("alpha", alpha, 0.0, 1.0)
    paper = paper_table3()
    out = []
    for _, r in t3c.iterrows():
        if int(r["layers"].split("-")[0]) > n_layers / 2:
            continue
        p = paper.iloc[_depth_group(r["layers"], n_layers)]
        checks = [ControlCheck(c.label, r[f"{c.label}: Δ pp"], r[f"p vs {c.key}"])
                  for c in C.CONTROLS if f"p vs {c.key}" in r]
        out.append(beyond_controls(
            what=f"instruction minus general verbs, layers {r['layers']} (pp)",
            paper=p["instruct_mean"] - p["general_mean"], ours=r[f"{C.TUNING.label}: Δ pp"],
            p_value=r[f"{C.TUNING.label}: p"], alpha=alpha, controls=checks))
    return out


def attention_of_models(models: dict, layers, *, K: int, max_pairs: int, vocab_size, similarity,
                        tables: dict | None = None) -> dict:
    """{role: {layer: AttentionPairs}} for every (model, tokenizer) of ``models`` {role: ...}
    (e.g. the control models beside a pair). Candidate words: the ``vocab_size`` most
    frequent ShareGPT words each tokenizer can spell; the similarity table of a word
    list is taken from ``tables`` {words: SimilarityTable} when there, else built with
    ``similarity.table(words)`` (a :class:`paperlib.words.similarity.WordSimilarity`)."""
    from paperlib.explainers.attention_pairs import AttentionPairsExplainer
    from paperlib.models import canonical_view
    from paperlib.words.vocab import word_index

    tables = dict(tables or {})
    out = {}
    for role, (model, tok) in models.items():
        idx = word_index(tok, vocab_size)
        if idx.words not in tables:
            tables[idx.words] = similarity.table(idx.words)
        out[role] = AttentionPairsExplainer(canonical_view(model), words=idx, sim=tables[idx.words],
                                            K=K, max_pairs=max_pairs)(layers)
    return out
