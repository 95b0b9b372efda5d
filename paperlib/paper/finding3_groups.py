"""Per-layer-group tables of Finding 3 (Fig 3, Fig 7, Fig 8, Tables 4/10/11, Tables 6-9).

All functions read the annotation table of :func:`paperlib.paper.finding3.annotate_concepts`
(one row per model, layer, rank, seed) or the FFNConcepts themselves. Layer
groups are :func:`paperlib.measures.attention_stats.layer_groups` (labels "1-4", 1-based);
groups with no explained layer are dropped.

* :func:`level_by_group` (Fig 3): % of each linguistic level among the
  describable concepts of a group, mean over seeds.
* :func:`describable_by_group` (Fig 7): % of word lists of rank <= cut that
  are describable, per group and cut (cuts capped by R).
* :func:`variance_table` (Fig 8): cumulative explained variance at R, at the
  paper's relative rank 300/4096 and at D/2, per model and layer.
* :func:`description_words` / :func:`word_shift` (Tables 6-9): how often each
  meaningful word (>= 4 letters, not a stopword) occurs in the concept
  descriptions of a model in a group (all seeds, "Cannot Tell" excluded), and
  the words whose count rose / fell most from pre-trained to tuned.
* :func:`examples` (Tables 4/10/11): the first describable concepts of a layer.
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np

from paperlib.annotate import LEVELS, TASKS
from paperlib.core.errors import ParameterError
from paperlib.paper.finding3 import PAPER_D, PAPER_R, check_annotations
from paperlib.models.pair import NAMES

RANK_CUTS = (30, 100, 200, 300)  # the paper's Fig 7
# Common English function words (the paper: "not a stopword"); >= 4 letters only matter.
STOPWORDS = frozenset("""
about above after again against also among another anything because been before being
below between both could does doing down during each either else even every from further
have having here hers herself himself into itself just like made make many more most much
must myself neither only other ours ourselves over same should some such than that their
theirs them themselves then there these they this those through under until upon very
were what when where which while whom whose will with within without would your yours
yourself yourselves words word""".split())
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'/\-]*[A-Za-z]")


def groups_of(layers, n_layers: int, group_size: int) -> list[tuple[str, tuple[int, ...]]]:
    """[(label "a-b", explained layers of the group)] for groups holding an explained layer."""
    from paperlib.measures.attention_stats import layer_groups

    have = set(int(l) for l in layers)
    return [(f"{g[0] + 1}-{g[-1] + 1}", tuple(l for l in g if l in have))
            for g in layer_groups(n_layers, group_size) if have & set(g)]


def _with_groups(ann, n_layers: int, group_size: int):
    """Copy of ``ann`` with a "layers" column (group label)."""
    check_annotations(ann)
    label = {l: lab for lab, g in groups_of(ann["layer"].unique(), n_layers, group_size)
             for l in g}
    out = ann.copy()
    out["layers"] = out["layer"].map(label)
    return out


def level_by_group(ann, n_layers: int, group_size: int):
    """Fig 3: columns model, layers, n (describable concepts, per seed), then LEVELS
    (% of the describable concepts, mean over seeds; NaN when none)."""
    from paperlib.paper.finding3 import shares

    df = _with_groups(ann, n_layers, group_size)
    per = shares(df, ("model", "layers", "seed"))
    out = per.groupby(["model", "layers"], sort=False)[["n", *LEVELS]].mean().reset_index()
    order = {lab: i for i, (lab, _) in enumerate(groups_of(ann["layer"].unique(), n_layers,
                                                           group_size))}
    out["_o"] = out["layers"].map(order) + 100 * (out["model"] == "ft")
    return out.sort_values("_o").drop(columns="_o").reset_index(drop=True)


def rank_cuts(R: int, cuts=RANK_CUTS) -> list[int]:
    """The rank cuts capped by R, deduplicated, ascending (R itself always included)."""
    from paperlib.core.errors import check_count

    check_count("R", R, 1)
    return sorted({min(int(check_count("rank cut", c, 1)), R) for c in cuts} | {R})


def describable_by_group(ann, n_layers: int, group_size: int, cuts=RANK_CUTS):
    """Fig 7: columns model, layers, cut, n (lists per seed), describable (% of the
    word lists of rank <= cut that the annotator could describe, mean over seeds)."""
    import pandas as pd

    df = _with_groups(ann, n_layers, group_size)
    rows = []
    for cut in rank_cuts(int(df["rank"].max()), cuts):
        sub = df[df["rank"] <= cut]
        g = sub.groupby(["model", "layers", "seed"], sort=False)["describable"]
        per = pd.DataFrame({"n": g.size(), "describable": 100.0 * g.mean()}).reset_index()
        agg = per.groupby(["model", "layers"], sort=False)[["n", "describable"]].mean()
        rows.append(agg.reset_index().assign(cut=cut))
    out = pd.concat(rows, ignore_index=True)
    return out[["model", "layers", "cut", "n", "describable"]]


def variance_table(concepts: dict, R: int):
    """Fig 8 numbers: per model and layer, D, the cumulative explained variance (%) of
    the top R components, of the top round(D * 300/4096) (the paper's relative
    rank) and of the top D/2. concepts: {name: {layer: FFNConcepts}} with the full
    spectrum (explained_variance_ratio of length D)."""
    import pandas as pd

    from paperlib.explainers.ffn_concepts import cumulative_variance_at

    rows = []
    for n in NAMES:
        for layer, c in sorted(concepts[n].items()):
            D = c.components.shape[1]
            if len(c.cumulative_variance) != D:
                raise ParameterError("variance_table needs FFNConcepts with full_spectrum=True")
            rel = max(1, round(D * PAPER_R / PAPER_D))
            at = cumulative_variance_at(c, (min(R, D), rel, max(1, D // 2)))
            rows.append({"model": n, "layer": layer + 1, "D": D, "R": min(R, D),
                         "cum_at_R": 100 * at[min(R, D)], "rel_rank": rel,
                         "cum_at_rel_rank": 100 * at[rel],
                         "cum_at_half_D": 100 * at[max(1, D // 2)]})
    return pd.DataFrame(rows)


def cumulative_curves(concepts: dict, name: str) -> np.ndarray:
    """(layers, D) cumulative explained-variance ratios of one model's explained layers."""
    return np.stack([c.cumulative_variance.numpy() for _, c in sorted(concepts[name].items())])


def description_words(concepts) -> Counter:
    """Counter of the meaningful words (lower-cased, >= 4 letters, not in
    :data:`STOPWORDS`, "cannot tell" never counted) of concept descriptions."""
    out: Counter = Counter()
    for text in concepts:
        if not isinstance(text, str) or text.strip().lower() == "cannot tell":
            continue
        out.update(w for w in (m.lower() for m in _WORD_RE.findall(text))
                   if len(w) >= 4 and w not in STOPWORDS)
    return out


def _ranks(counts: Counter) -> dict:
    """word -> frequency rank (1 = most frequent; ties share the best rank)."""
    values = sorted(set(counts.values()), reverse=True)
    pos, seen = {}, 0
    for v in values:
        pos[v] = seen + 1
        seen += sum(1 for c in counts.values() if c == v)
    return {w: pos[c] for w, c in counts.items()}


def word_shift(ann, n_layers: int, group_size: int, top: int = 10):
    """Tables 6-9: per group the ``top`` words whose count in the concept
    descriptions rose most (direction "↑") and fell most ("↓") from pre-trained
    to tuned. Columns layers, direction, word, pt, ft (counts over all seeds),
    change (ft - pt), rank_shift (pt rank - ft rank; positive = moved up; NaN
    when absent in one model). Ties: alphabetical."""
    import pandas as pd

    df = _with_groups(ann, n_layers, group_size)
    rows = []
    for lab, _ in groups_of(ann["layer"].unique(), n_layers, group_size):
        g = df[(df["layers"] == lab) & df["describable"]]
        c = {n: description_words(g.loc[g.model == n, "concept"]) for n in NAMES}
        rk = {n: _ranks(c[n]) for n in NAMES}
        change = {w: c["ft"][w] - c["pt"][w] for w in set(c["pt"]) | set(c["ft"])}
        for direction, sign in (("↑", 1), ("↓", -1)):
            words = sorted((w for w, d in change.items() if sign * d > 0),
                           key=lambda w: (-sign * change[w], w))[:top]
            for w in words:
                shift = (rk["pt"][w] - rk["ft"][w] if w in rk["pt"] and w in rk["ft"]
                         else np.nan)
                rows.append({"layers": lab, "direction": direction, "word": w,
                             "pt": c["pt"][w], "ft": c["ft"][w], "change": change[w],
                             "rank_shift": shift})
    return pd.DataFrame(rows, columns=["layers", "direction", "word", "pt", "ft", "change",
                                       "rank_shift"])


def _fmt_tasks(row) -> str:
    return "; ".join(t for t in TASKS if row[t]) or "none"


def examples(ann, layer: int, n: int = 5, n_words: int = 15):
    """Tables 4/10/11: for each model, the ``n`` describable concepts of ``layer``
    with the lowest rank (first seed), or the first ``n`` ranks if fewer are
    describable. Columns model, rank, scenario, linguistic, concept, words (first
    ``n_words``), rule (the annotator's evidence for the concept)."""
    import pandas as pd

    check_annotations(ann)
    first = ann[(ann["seed"] == ann["seed"].min()) & (ann["layer"] == layer)]
    if first.empty:
        raise ParameterError(f"layer {layer} was not annotated")
    rows = []
    for m in NAMES:
        d = first[first.model == m].sort_values("rank")
        pick = d[d["describable"]].head(n)
        for r in (pick if len(pick) else d.head(n)).itertuples(index=False):
            r = r._asdict()
            rows.append({"model": m, "rank": r["rank"], "scenario": _fmt_tasks(r),
                         "linguistic": r["level"] or "–", "concept": r["concept"],
                         "words": ", ".join(r["words"][:n_words]),
                         "rule": r["evidence"].get("concept", "")})
    return pd.DataFrame(rows)
