"""Glue of the chapter "Finding 2: attention heads learn instruction verbs" (Fig 2, Table 3).

The notebook ``notebooks/fig2_table3_attention_pairs.ipynb`` only calls these
helpers; the explainer is :mod:`paperlib.explainers.attention_pairs`, the statistics
:mod:`paperlib.measures.attention_stats`, the pair loading :mod:`paperlib.book.live`.

* verb lists: :data:`PAPER_INSTRUCTION_VERBS` (METHOD.md / Table 3) plus the
  imperative verbs of the shipped pair's tuning templates
  (:func:`organism_instruction_verbs`, read from
  ``data/organism/make_instructions.py`` by ``ast``, no import); general verbs:
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

import ast
import html
from pathlib import Path

import numpy as np

from paperlib.core.errors import ParameterError
from paperlib.core.io import REPO_ROOT
from paperlib.models.pair import NAMES, ROLE_LABELS, LivePair

PAPER_INSTRUCTION_VERBS = (
    "translate", "explain", "summarize", "retrieve", "revise", "generate", "describe",
    "classify", "create", "evaluate", "correct", "develop", "identify", "analyze",
    "compose", "demonstrate", "interpret", "design", "solve", "follow", "clarify", "say",
    "help", "act", "recommend", "estimate", "edit", "format", "repeat", "write", "give",
    "find", "make", "have", "tell", "output", "predict", "detect")
# Used when data/organism/make_instructions.py cannot be read (e.g. an installed package).
ORGANISM_VERBS_FALLBACK = ("define", "write", "translate", "explain", "compute", "list", "give",
                           "describe", "name", "tell", "use", "solve", "calculate", "add",
                           "subtract", "multiply")
INSTRUCTIONS_SCRIPT = REPO_ROOT / "data" / "organism" / "make_instructions.py"
SKILLS_MODULE = Path(__file__).resolve().parent / "organism" / "skills.py"  # its skill-task templates
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


def _template_strings(tree: ast.Module) -> list[str]:
    """String constants of the module's UPPER-CASE top-level assignments."""
    out = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) and t.id.isupper()
                                                for t in node.targets):
            out += [n.value for n in ast.walk(node.value)
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return out


def organism_instruction_verbs(path=None) -> list[str]:
    """Imperative verbs of the organism's instruction templates: the first word of
    every template that ends with "." and is a verb base form ("Define the word
    ..." -> define), in file order. path: default :data:`INSTRUCTIONS_SCRIPT`
    then :data:`SKILLS_MODULE`; a missing script gives :data:`ORGANISM_VERBS_FALLBACK`."""
    paths = [Path(path)] if path is not None else [INSTRUCTIONS_SCRIPT, SKILLS_MODULE]
    if not paths[0].is_file():
        return list(ORGANISM_VERBS_FALLBACK)
    strings = [s for p in paths if p.is_file() for s in _template_strings(ast.parse(p.read_text(encoding="utf-8")))]
    firsts = [s.split()[0].lower() for s in strings if s.strip().endswith(".") and s.split()]
    return _dedupe(w for w in firsts if is_verb_base(w))


def instruction_verbs(verbs=None) -> list[str]:
    """``verbs`` (lower-cased, deduplicated) or, for None, the paper's list plus
    :func:`organism_instruction_verbs`."""
    if verbs is None:
        return _dedupe(list(PAPER_INSTRUCTION_VERBS) + organism_instruction_verbs())
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
    from paperlib.words.vocab import check_count

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
    from paperlib.words.vocab import check_count

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


def fig2_figure(table, pair: LivePair):
    """Line plot of :func:`fig2_table` (changed share in %, head and neuron level)
    with the paper's 35% mark. Returns the Figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.0))
    x = np.arange(len(table))
    for col, style, label in (("heads_changed", "o-", "head level"),
                              ("neurons_changed", "s--", "neuron level")):
        ax.plot(x, 100 * table[col].to_numpy(dtype=float), style, label=label)
    ax.axhline(100 * PAPER_CHANGED_LAST, color="grey", lw=0.8, ls=":",
               label="paper: last layers > 35%")
    ax.set_xticks(x, table["layers"], rotation=45 if len(x) > 8 else 0)
    ax.set_xlabel("layers")
    ax.set_ylabel("changed word pairs (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    ax.set_title(pair.title("Fig 2 · share of changed word pairs"), fontsize=9)
    fig.tight_layout()
    return fig


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


def _fmt_ms(m, s) -> str:
    return "–" if m != m else f"{m:.2f} ± {s:.2f}"


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
                     "instruct (ours)": _fmt_ms(r["instruct_mean"], r["instruct_std"]),
                     "general (ours)": _fmt_ms(r["general_mean"], r["general_std"]),
                     "p (ours)": r["p_value"], "verbs (instr/gen)":
                     f"{r['instruct_n']}/{r['general_n']}",
                     "ours: instruct higher": "–" if diff != diff else bool(diff > 0),
                     ("paper layers" if same else "paper group at same depth"): p["layers"],
                     "paper: instruct higher": bool(p["instruct_mean"] > p["general_mean"]),
                     "p (paper)": p["p_value"]})
    return pd.DataFrame(rows), same


# ---- App F examples and the browser --------------------------------------------------

def example_layers(att: dict) -> list[int]:
    """First and last explained layer (one if they coincide)."""
    layers = sorted(att["pt"])
    return list(dict.fromkeys([layers[0], layers[-1]]))


def browse_choices(att: dict, per_layer: int = 2, limit: int = 16) -> list[tuple[int, int]]:
    """(layer, head) choices of the browser: the ``per_layer`` busiest heads
    (:func:`paperlib.measures.attention_stats.busiest_heads`) of each explained layer,
    at most ``limit`` in all (evenly spread over the layers when cut)."""
    from paperlib.measures.attention_stats import busiest_heads
    from paperlib.words.vocab import check_count

    check_count("per_layer", per_layer, 1)
    check_count("limit", limit, 1)
    layers = sorted(att["pt"])
    if len(layers) * per_layer > limit:
        keep = np.linspace(0, len(layers) - 1, max(1, limit // per_layer)).round().astype(int)
        layers = [layers[i] for i in dict.fromkeys(keep.tolist())]
    return [(l, h) for l in layers for h in busiest_heads(att, l, per_layer)]


def pairs_html(att: dict, layer: int, head: int, top: int = 20) -> str:
    """HTML table of one head's top ``top`` head-level pairs, pre-trained beside
    tuned; a pair in both lists is marked with "=" (unchanged)."""
    lists = [att[n][layer].head_pairs(head)[:top] for n in NAMES]
    both = set(lists[0]) & set(lists[1])
    cell = lambda p: ("" if p is None else html.escape(f"{p[0]} → {p[1]}")
                      + (" =" if p in both else ""))
    rows = "".join(f"<tr><td>{r + 1}</td>" + "".join(
        f"<td>{cell(x[r] if r < len(x) else None)}</td>" for x in lists) + "</tr>"
        for r in range(max(1, max(len(x) for x in lists))))
    head_row = "".join(f"<th>{ROLE_LABELS[n]} ({len(x)})</th>" for n, x in zip(NAMES, lists))
    return (f"<p>layer {layer + 1}, head {head} — '=' marks a pair in both lists</p>"
            f"<table><tr><th>rank</th>{head_row}</tr>{rows}</table>")


def pair_browser(att: dict, choices, top: int = 20):
    """Kernel-free browser: a Dropdown whose index is jslink-ed to a Stack of the
    pre-rendered :func:`pairs_html` tables of ``choices`` [(layer, head), ...]
    (same pattern as :func:`paperlib.book.widgets.static_picker`). Returns the VBox."""
    import ipywidgets as widgets

    choices = list(choices)
    if not choices:
        raise ParameterError("the pair browser needs at least one (layer, head)")
    labels = [f"layer {l + 1}, head {h}" for l, h in choices]
    pages = [widgets.HTML(value=pairs_html(att, l, h, top)) for l, h in choices]
    dropdown = widgets.Dropdown(options=labels, index=0, description="Head:")
    stack = widgets.Stack(children=pages, selected_index=0)
    widgets.jslink((dropdown, "index"), (stack, "selected_index"))
    box = widgets.VBox([dropdown, stack])
    box.dropdown, box.stack = dropdown, stack
    return box


# ---- the closing paragraph ----------------------------------------------------------

def _pct(x) -> str:
    return "n/a" if x != x else f"{100 * x:.1f}%"


def fig2_sentence(fig2) -> str:
    """Does the head-level changed share rise with depth (Spearman rho over groups)
    and pass 35% in the last group?"""
    from scipy.stats import spearmanr

    vals = fig2["heads_changed"].to_numpy(dtype=float)
    first, last = fig2["layers"].iloc[0], fig2["layers"].iloc[-1]
    text = (f"**Fig 2.** Head-level pairs changed: {_pct(vals[0])} in layers {first}, "
            f"{_pct(vals[-1])} in layers {last}")
    ok = vals[np.isfinite(vals)]
    if len(ok) >= 3 and np.ptp(ok) > 0:
        rho = spearmanr(np.arange(len(vals))[np.isfinite(vals)], ok).statistic
        trend = "rises with depth" if rho > 0.5 else "does not clearly rise with depth"
        text += f"; the share {trend} (Spearman ρ = {rho:.2f} over {len(ok)} groups)"
    elif len(ok) == 2:
        text += "; " + ("higher" if ok[-1] > ok[0] else "not higher") + " in the last group"
    above = "above" if vals[-1] > PAPER_CHANGED_LAST else "below"
    return text + f"; the last group is {above} the paper's 35%. Paper: {PAPER_FIG2}."


def lower_groups(t3, n_layers: int):
    """Rows of a Table 3 whose first layer lies in the lower half of the model."""
    first = t3["layers"].map(lambda s: int(s.split("-")[0]))
    return t3[first <= n_layers / 2]


def table3_sentence(t3, n_layers: int, alpha: float = 0.05) -> str:
    """Does the paper's direction hold: instruction verbs gain pairs more often than
    general verbs (instruct mean > general mean) in the lower half of the layers?"""
    low = lower_groups(t3, n_layers)
    valid = low[np.isfinite(low["instruct_mean"]) & np.isfinite(low["general_mean"])]
    if valid.empty:
        return ("**Table 3.** No lower-layer group has a verb whose head count changed, so "
                "the paper's direction cannot be judged on this pair.")
    higher = valid[valid["instruct_mean"] > valid["general_mean"]]
    sig = higher[higher["p_value"] < alpha]
    detail = "; ".join(f"layers {r.layers}: {r.instruct_mean:.1f}% vs {r.general_mean:.1f}% "
                       f"(p = {r.p_value:.3g})" for r in valid.itertuples())
    verdict = ("holds" if len(higher) == len(valid) else "holds in part" if len(higher)
               else "does not hold")
    return (f"**Table 3.** In the lower half of the layers, the share of heads that gained "
            f"pairs with the verb is, instruction vs general verbs, {detail}. The paper's "
            f"direction (instruction verbs gain word pairs in lower layers) **{verdict}** on "
            f"this pair: instruction verbs are ahead in {len(higher)} of {len(valid)} lower "
            f"groups, significantly (Welch, p < {alpha}) in {len(sig)}. Paper: 78.46% vs "
            f"52.45% in layers 1–4, p < 0.05 in each of the first 16 of 32 layers.")


def conclusion(fig2, t3, n_layers: int, pair: LivePair) -> str:
    """The closing paragraph (Markdown), built from the results."""
    text = fig2_sentence(fig2) + "\n\n" + table3_sentence(t3, n_layers)
    if pair.fallback:
        text += ("\n\n⚠️ *These numbers come from the random stand-in pair: they test the "
                 "pipeline, not the paper's claim.*")
    return text
