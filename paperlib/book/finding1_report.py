"""Tables, sentences and verdicts of the Finding 1 chapters (Tables 1-2, Fig 6).

* :func:`comparison` - one compact table per claim (paper | ours | Δ | p paper |
  p ours, no index), the secondary statistics (difference, 95% CI, Hedges' g,
  n, std) in a collapsible block under it;
* :func:`implied_p` - the p-value that the paper's OWN printed means and
  standard deviations give under its stated test (Welch, one-sided), beside
  the paper's printed p and ours: this measures where the p-value gaps come from;
* :func:`table_verdict`, :func:`fig6_verdict` - verdicts from
  :mod:`paperlib.paper.verdicts` only; :func:`table_sentence` says in words what
  matched and what did not; :func:`record` writes the landing page's claim record.
"""
from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from paperlib.book.figures import short_p
from paperlib.core.errors import ParameterError
from paperlib.paper import verdicts
from paperlib.paper.finding1 import PAPER_TABLE1, PAPER_TABLE2

PAIR_PAPER = "LLaMA-7B → Vicuna-7B (the authors' released attribution matrices)"
#: two means printed to 4 decimals: their difference may be off by up to 1e-4
EXACT_TOL = 1e-4
SHORT = {"self-instruct": "SI", "lima": "LIMA", "mt-bench": "MT"}
TABLES = {
    "table1": dict(groups=("followed", "unfollowed"), paper=PAPER_TABLE1,
                   names={"followed": "followed", "unfollowed": "unfollowed"},
                   effect="followed − unfollowed mean instruction score"),
    "table2": dict(groups=("vicuna", "llama"), paper=PAPER_TABLE2,
                   names={"vicuna": "Vicuna", "llama": "LLaMA"},
                   effect="Vicuna − LLaMA mean instruction score"),
}


def _spec(table: str) -> dict:
    if table not in TABLES:
        raise ParameterError(f"table must be one of {tuple(TABLES)}, got {table!r}")
    return TABLES[table]


def _num(x, digits: int = 4) -> str:
    return "–" if x is None or pd.isna(x) else f"{x:.{digits}f}"


def _delta(x) -> str:
    if x is None or pd.isna(x):
        return "–"
    return "0.0000" if abs(x) < 5e-5 else f"{x:+.4f}"


def compact_table(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Display frame of Table 1 or 2: per data set and group the paper's mean, ours
    and Δ = ours − paper; the paper's and our p-value on the first row of each data
    set. ``df``: ``finding1.table1()`` / ``table2()``. All cells are strings."""
    spec, rows = _spec(table), []
    for _, r in df.iterrows():
        for i, g in enumerate(spec["groups"]):
            paper = r.get(f"paper_{g}_mean")
            rows.append({"data set": r["dataset"] if i == 0 else "", "mean of": spec["names"][g],
                         "paper": _num(paper), "ours": _num(r[f"{g}_mean"]),
                         "Δ": _delta(None if paper is None else r[f"{g}_mean"] - paper),
                         "p paper": short_p(r.get("paper_p_value")) if i == 0 else "",
                         "p ours": short_p(r["p_value"]) if i == 0 else ""})
    return pd.DataFrame(rows)


def secondary_table(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Secondary statistics: difference of means, bootstrap 95% CI, Hedges' g, n
    and the population std of each group (strings)."""
    a, b = _spec(table)["groups"]
    names = _spec(table)["names"]
    return pd.DataFrame({
        "data set": df["dataset"],
        "difference": [_num(x) for x in df[f"{a}_mean"] - df[f"{b}_mean"]],
        "95% CI": [f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(df["ci_low"], df["ci_high"])],
        "Hedges' g": [_num(g, 2) for g in df["effect_size"]],
        f"n {names[a]}": df[f"n_{a}"].astype(int).astype(str),
        f"n {names[b]}": df[f"n_{b}"].astype(int).astype(str),
        f"std {names[a]}": [_num(s, 2) for s in df[f"{a}_std"]],
        f"std {names[b]}": [_num(s, 2) for s in df[f"{b}_std"]],
    })


def comparison(df: pd.DataFrame, table: str, label: str, caption: str):
    """The compact table with the secondary statistics in a collapsible block."""
    from paperlib.book.figures import table as show

    return show(compact_table(df, table), label, caption,
                details=("Secondary statistics: difference of means, 95% bootstrap CI, "
                         "Hedges' g, group sizes, std", secondary_table(df, table)))


STD_ROUNDING = 0.005  # the paper prints standard deviations to 2 decimals


def _welch_from_stats(paper: dict, x: str, y: str, nx: int, ny: int, shift: float = 0.0,
                      alternative: str = "less") -> float:
    from scipy.stats import ttest_ind_from_stats

    sx, sy = ((paper[f"{g}_std"] + shift) * math.sqrt(n / (n - 1)) for g, n in ((x, nx), (y, ny)))
    return float(ttest_ind_from_stats(paper[f"{x}_mean"], sx, nx, paper[f"{y}_mean"], sy, ny,
                                      equal_var=False, alternative=alternative).pvalue)


def implied_p(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Per data set: the paper's printed p, the p-value that the paper's own printed
    means and (population) stds give with our group sizes under Welch's test
    (one-sided, with its range over the rounding of the printed stds, ±0.005;
    and two-sided), and our p. Columns p_paper, p_implied, p_implied_low,
    p_implied_high, p_implied_two_sided, p_ours, and ``reading``: which test the
    printed p fits ("one-sided", "two-sided" or "neither")."""
    spec = _spec(table)
    y, x = spec["groups"]
    rows = []
    for _, r in df.iterrows():
        paper = spec["paper"][r["dataset"]]
        n = (int(r[f"n_{x}"]), int(r[f"n_{y}"]))
        one = [_welch_from_stats(paper, x, y, *n, s) for s in (-STD_ROUNDING, 0.0, STD_ROUNDING)]
        two = [_welch_from_stats(paper, x, y, *n, s, "two-sided")
               for s in (-STD_ROUNDING, 0.0, STD_ROUNDING)]
        p = paper["p_value"]
        reading = ("one-sided" if one[0] <= p <= one[2] else
                   "two-sided" if two[0] <= p <= two[2] else "neither")
        rows.append(dict(dataset=r["dataset"], p_paper=p, p_implied=one[1], p_implied_low=one[0],
                         p_implied_high=one[2], p_implied_two_sided=two[1],
                         p_ours=float(r["p_value"]), reading=reading))
    return pd.DataFrame(rows)


def implied_p_table(imp: pd.DataFrame, label: str, caption: str):
    """:func:`implied_p` shown as a numbered table."""
    from paperlib.book.figures import table as show

    frame = pd.DataFrame({
        "data set": imp["dataset"], "p printed in the paper": imp["p_paper"].map(short_p),
        "p from the paper's own means and stds": [
            f"{short_p(m)} [{short_p(lo)}, {short_p(hi)}]" for m, lo, hi in
            zip(imp["p_implied"], imp["p_implied_low"], imp["p_implied_high"])],
        "same, two-sided": imp["p_implied_two_sided"].map(short_p),
        "p ours": imp["p_ours"].map(short_p), "printed p fits": imp["reading"]})
    return show(frame, label, caption)


def table_verdict(df: pd.DataFrame, table: str, alpha: float = 0.05) -> verdicts.Verdict:
    """One verdict per data set (:func:`table_parts`), combined over the data sets."""
    return verdicts.combine(table_parts(df, table, alpha),
                            "Table 1" if table == "table1" else "Table 2")


def table_parts(df: pd.DataFrame, table: str, alpha: float = 0.05) -> list[verdicts.Verdict]:
    """One verdict per data set: signed effect = difference of the two group means,
    paper vs ours, exact within :data:`EXACT_TOL`."""
    spec = _spec(table)
    a, b = spec["groups"]
    parts = []
    for _, r in df.iterrows():
        paper = spec["paper"].get(r["dataset"], {})
        paper_effect = (paper[f"{a}_mean"] - paper[f"{b}_mean"]) if paper else float("nan")
        parts.append(verdicts.effect_verdict(
            what=f"{r['dataset']}: {spec['effect']}", paper=paper_effect,
            ours=float(r[f"{a}_mean"] - r[f"{b}_mean"]), p_value=float(r["p_value"]),
            alpha=alpha, exact_tol=EXACT_TOL))
    return parts


def _ratio_words(ours: float, paper: float) -> str:
    r = ours / paper
    if 1 / 1.15 <= r <= 1.15:
        return "about the paper's"
    return f"{r:.1f}× the paper's" if r > 1 else f"1/{1 / r:.1f} of the paper's"


def _names(items: list[str]) -> str:
    return ", ".join(items) if items else "none"


def table_sentence(df: pd.DataFrame, table: str, imp: pd.DataFrame, alpha: float = 0.05) -> str:
    """Markdown: what matched (means: largest |Δ|), what did not (p-values and
    significance at ``alpha``), and the measured cause (:func:`implied_p`)."""
    spec = _spec(table)
    deltas = [abs(r[f"{g}_mean"] - spec["paper"][r["dataset"]][f"{g}_mean"])
              for _, r in df.iterrows() for g in spec["groups"]]
    out = [f"**Means.** The largest difference between our {len(deltas)} group means and the "
           f"paper's is {max(deltas):.4f}"
           + (" — they agree to the paper's four printed decimals." if max(deltas) < 5.1e-5
              else ".")]
    ps = []
    for (_, r), (_, m) in zip(df.iterrows(), imp.iterrows()):
        sig_ours, sig_paper = r["p_value"] < alpha, m["p_paper"] < alpha
        flip = "" if sig_ours == sig_paper else (
            " — **significant here, not in the paper**" if sig_ours else
            " — **not significant here, significant in the paper**")
        if flip and m["reading"] == "two-sided":
            flip += (f"; the paper's own means and stds give p = {short_p(m['p_implied'])} under its "
                     f"stated one-sided test (its printed {short_p(m['p_paper'])} is the two-sided "
                     "value)")
        ps.append(f"{r['dataset']}: ours {short_p(r['p_value'])} vs paper {short_p(m['p_paper'])} "
                  f"({_ratio_words(r['p_value'], m['p_paper'])}){flip}")
    out.append(f"**p-values** (one-sided Welch, α = {alpha:g}): " + "; ".join(ps) + ".")
    ours_fit = [m["dataset"] for _, m in imp.iterrows()
                if m["p_implied_low"] <= m["p_ours"] <= m["p_implied_high"]]
    by = {k: [m["dataset"] for _, m in imp.iterrows() if m["reading"] == k]
          for k in ("one-sided", "two-sided", "neither")}
    fits = [f"for {_names(by['one-sided'])} it is what the stated one-sided test gives"
            if by["one-sided"] else "",
            f"for {_names(by['two-sided'])} it is the two-sided value" if by["two-sided"] else "",
            f"for {_names(by['neither'])} it follows from neither test" if by["neither"] else ""]
    out.append("**Why they differ** (measured: the table below recomputes each p from the "
               "paper's *own* printed means and standard deviations, allowing for their "
               "rounding). Our p-values lie inside that range in "
               f"{len(ours_fit)} of {len(imp)} data sets ({_names(ours_fit)}). As for the "
               f"paper's printed p: {'; '.join(f for f in fits if f)}. Where the printed p "
               "disagrees with the paper's own printed statistics, the gap is in the paper's "
               "reporting, not in the data (methods page, *Where the paper and the authors' "
               "code differ*).")
    return "\n\n".join(out)


def record(claim_id: str, v: verdicts.Verdict, *, claim: str, paper: str, ours: str,
           page: str, pair: str = PAIR_PAPER, note: str = "") -> None:
    """Write the claim record for the landing page (:func:`paperlib.book.claims.record_claim`;
    returns nothing, so that a chapter cell shows no file path). ``note`` is appended
    to the verdict's sentence."""
    from paperlib.book.claims import record_claim

    if note:
        v = verdicts.Verdict(v.label, f"{v.sentence} {note}")
    record_claim(claim_id, claim=claim, paper=paper, ours=ours, pair=pair, verdict=v, page=page)


def p_gap_note(df: pd.DataFrame, table: str) -> str:
    """A sentence on how far our p-values are from the paper's printed ones (the
    verdict judges the effect; the p-values are reported beside it)."""
    spec = _spec(table)
    ratio = [max(q / pp, pp / q) for q, pp in
             zip(df["p_value"], (spec["paper"][d]["p_value"] for d in df["dataset"])) if q > 0 and pp > 0]
    if not ratio:
        return ""
    return (f"The p-values differ from the paper's printed ones by up to {max(ratio):.1f}× "
            "(the chapter traces where the paper's p-values come from).")


def effects_summary(df: pd.DataFrame, table: str) -> tuple[str, str]:
    """(paper, ours) short strings for the landing page: the difference of means per
    data set and the p-values."""
    spec = _spec(table)
    a, b = spec["groups"]
    paper = [spec["paper"][d][f"{a}_mean"] - spec["paper"][d][f"{b}_mean"] for d in df["dataset"]]
    ours = (df[f"{a}_mean"] - df[f"{b}_mean"]).tolist()
    pp = [spec["paper"][d]["p_value"] for d in df["dataset"]]
    short = [SHORT.get(d, d) for d in df["dataset"]]
    fmt = lambda xs, ps: " · ".join(f"{n} {x:+.3f} (p {short_p(q)})" for n, x, q in zip(short, xs, ps))
    return fmt(paper, pp), fmt(ours, df["p_value"].tolist())


def group_scores(groups: dict, table: str) -> pd.DataFrame:
    """Long frame (dataset, group, score) of ``finding1.table1_groups()`` /
    ``table2_groups()`` output ({dataset: (x scores, y scores)})."""
    spec = _spec(table)
    y, x = (spec["names"][g] for g in spec["groups"])
    rows = [pd.DataFrame({"dataset": ds, "group": g, "score": np.asarray(vals, float)})
            for ds, (xs, ys) in groups.items() for g, vals in ((y, ys), (x, xs))]
    return pd.concat(rows, ignore_index=True)


def paper_means(table: str) -> dict:
    """{dataset: {group name as shown: the paper's mean}} of Table 1 or 2."""
    spec = _spec(table)
    return {ds: {spec["names"][g]: row[f"{g}_mean"] for g in spec["groups"]}
            for ds, row in spec["paper"].items()}


def verdict_html(v: verdicts.Verdict, parts=()):
    """The verdict as the page prints it: the label and the summary of its sentence,
    then (collapsed) the sentence of every part with the numbers it rests on."""
    from IPython.display import HTML

    head = v.sentence.split(". ")[0].rstrip(".") + "."
    items = "".join(f"<li><em>{html.escape(p.label)}</em>: {html.escape(p.sentence)}</li>"
                    for p in parts)
    more = (f'<details class="pl-details"><summary>Each part, the rule applied and its '
            f"numbers</summary><ul>{items}</ul></details>" if items else "")
    return HTML(f'<p class="pl-verdict"><strong>Verdict: {html.escape(v.label)}.</strong> '
                f"{html.escape(head)}</p>{more}")


def pair_name(source) -> str:
    """The pair a Finding-1 chapter ran on: the paper's, or the named case-set folder."""
    from pathlib import Path

    return PAIR_PAPER if source is None else f"the case sets “{Path(str(source)).name}”"
