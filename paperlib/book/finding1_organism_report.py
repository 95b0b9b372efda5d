"""Tables, figures and sentences of the chapter "Finding 1 on the organism pair"
(:mod:`paperlib.paper.finding1_live` computes; this module only shows).

Verdicts come from :func:`paperlib.paper.finding1_live.verdicts_live` (the rules of
:mod:`paperlib.paper.verdicts`); :func:`record` writes the landing page's claims.
"""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

from paperlib.book.figures import COLUMN_IN, short_p
from paperlib.book.finding1_report import verdict_html  # noqa: F401  (the chapter calls report.verdict_html)
from paperlib.paper import verdicts
from paperlib.paper.finding1_live import METHOD_NAMES, PAPER_EFFECT

ROLE_NAMES = {"ft": "tuned", "pt": "base", "tuned": "tuned", "base": "base"}
COLOURS = {"tuned": "#ff7f0e", "base": "#1f77b4", "followed": "#2ca02c",
           "unfollowed": "#d62728"}


def _f(x, digits: int = 3) -> str:
    return "–" if x is None or pd.isna(x) else f"{x:.{digits}f}"


def _ms(m, s) -> str:
    return f"{_f(m)} ± {_f(s, 2)}"


def _ci(lo, hi) -> str:
    return "–" if pd.isna(lo) else f"[{lo:.3f}, {hi:.3f}]"


def _groups_frame(t: pd.DataFrame, groups: tuple[tuple[str, str, str], ...]) -> pd.DataFrame:
    """Rows of a Table 1 / 2 analogue; ``groups``: two (column prefix, shown name,
    short n label) for the compared groups, first minus second."""
    (a, a_name, a_n), (b, b_name, b_n) = groups
    return pd.DataFrame({
        "attribution": t["method"].map(METHOD_NAMES),
        a_name: [_ms(m, s) for m, s in zip(t[f"{a}_mean"], t[f"{a}_std"])],
        a_n: t[f"n_{a}"].astype(int),
        b_name: [_ms(m, s) for m, s in zip(t[f"{b}_mean"], t[f"{b}_std"])],
        b_n: t[f"n_{b}"].astype(int),
        "difference": [_f(x - y) for x, y in zip(t[f"{a}_mean"], t[f"{b}_mean"])],
        "95% CI": [_ci(lo, hi) for lo, hi in zip(t.ci_low, t.ci_high)],
        "Hedges' g": [_f(g, 2) for g in t.effect_size], "Welch p": t.p_value.map(short_p)})


def table1_frame(t1: pd.DataFrame) -> pd.DataFrame:
    """One row per attribution of :func:`finding1_live.table1_live` output (concatenated)."""
    frame = _groups_frame(t1, (("followed", "followed (correct)", "n fol."),
                               ("unfollowed", "unfollowed (wrong)", "n unf.")))
    return frame.assign(**{"p within task": t1.p_stratified.map(short_p).to_numpy()})


def table2_frame(t2: pd.DataFrame) -> pd.DataFrame:
    """One row per attribution of :func:`finding1_live.table2_live` output."""
    return _groups_frame(t2, (("tuned", "tuned", "n tuned"), ("base", "base", "n base")))


def by_task_frame(bt: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"task": bt.task, "n followed": bt.n_followed,
                         "n unfollowed": bt.n_unfollowed,
                         "followed mean": bt.followed_mean.map(_f),
                         "unfollowed mean": bt.unfollowed_mean.map(_f),
                         "difference": bt.difference.map(_f)})


def _label(df: pd.DataFrame, table: str, a: str, b: str) -> str:
    r = df.iloc[0]
    v = verdicts.effect_verdict(what="effect", paper=float(np.mean(list(
        PAPER_EFFECT[table].values()))), ours=float(r[f"{a}_mean"] - r[f"{b}_mean"]),
        p_value=float(r["p_value"]))
    return v.label


def side_by_side(results: dict) -> pd.DataFrame:
    """``results``: {(sample, method): (t1, t2)} -> one row each: the two differences, their
    p-values and the verdict each attribution would give (same rules as the chapter's)."""
    rows = []
    for (sample, method), (t1, t2) in results.items():
        r1, r2 = t1.iloc[0], t2.iloc[0]
        rows.append({"sample": sample, "attribution": METHOD_NAMES[method],
                     "Table 1: followed − unfollowed": _f(r1.followed_mean - r1.unfollowed_mean),
                     "p (T1)": short_p(r1.p_value),
                     "verdict (T1)": _label(t1, "table1", "followed", "unfollowed"),
                     "Table 2: tuned − base": _f(r2.tuned_mean - r2.base_mean),
                     "p (T2)": short_p(r2.p_value),
                     "verdict (T2)": _label(t2, "table2", "tuned", "base")})
    return pd.DataFrame(rows)


def _verdict_changes(side: pd.DataFrame, methods: tuple) -> list[str]:
    """'<sample>, Table k analogue (<method>: <label>; ...)' for every sample and table
    in which the verdicts of ``methods`` (attribution names as shown) differ."""
    out = []
    for sample, part in side.groupby("sample", sort=False):
        part = part[part.attribution.isin(methods)]
        for col, name in (("verdict (T1)", "Table 1"), ("verdict (T2)", "Table 2")):
            labels = dict(zip(part.attribution, part[col]))
            if len(labels) > 1 and len(set(labels.values())) > 1:
                listed = "; ".join(f"{k}: {v}" for k, v in labels.items())
                out.append(f"{sample}, {name} analogue ({listed})")
    return out


def dependence_sentence(side: pd.DataFrame) -> str:
    """Plain words: do the verdicts change when gradient x input is replaced by exact
    leave-one-out (the quantity it approximates), or by integrated gradients?"""
    grad, loo, ig = (METHOD_NAMES[m] for m in ("grad", "loo", "ig"))
    vs_loo = _verdict_changes(side, (grad, loo))
    vs_ig = _verdict_changes(side, (grad, ig))
    first = ("**Against exact leave-one-out** — the quantity the paper's score approximates — "
             + ("every verdict is the same on both samples: on this pair the finding does not "
                "depend on the first-order approximation." if not vs_loo else
                "the verdict changes in: " + "; ".join(vs_loo) + ". That part of the finding "
                "rests on the first-order approximation."))
    second = ("**Against integrated gradients** (a different attribution: it shares the whole "
              "prompt's effect among its tokens, interactions included; small subsample) "
              + ("the verdicts are the same too." if not vs_ig else
                 "the verdict changes in: " + "; ".join(vs_ig) + ". So that part of the "
                 "finding depends on which attribution defines a token's importance (not on "
                 "how well gradient × input approximates leave-one-out)."))
    return first + "\n\n" + second


def faithfulness_frame(faith: pd.DataFrame, cases: dict) -> pd.DataFrame:
    """Per model and approximation: cases, median and quartiles of the per-case
    Spearman ρ with leave-one-out, share of cases with ρ > 0; for integrated gradients
    the median completeness gap (probability units)."""
    rows = []
    for (model, method), part in faith.groupby(["model", "method"], sort=False):
        rho = part.rho.dropna()
        gaps = [c.completeness for c in cases[model] if method == "ig" and "IG" in c.matrices]
        rows.append({"model": ROLE_NAMES.get(model, model), "attribution": METHOD_NAMES[method],
                     "cases": len(rho), "median ρ": _f(rho.median(), 2),
                     "quartiles": f"[{rho.quantile(.25):.2f}, {rho.quantile(.75):.2f}]",
                     "ρ > 0": f"{(rho > 0).mean():.0%}",
                     "completeness gap (median)": _f(np.median(gaps), 3) if gaps else "–"})
    return pd.DataFrame(rows)


def cost_frame(costs: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"model": costs.model.map(ROLE_NAMES), "method": costs.method.map(
        METHOD_NAMES), "cases": costs.cases, "median s / case": costs.median_s.map(
        lambda x: f"{x:.2f}"), "mean s / case": costs.mean_s.map(lambda x: f"{x:.2f}"),
        "total s": costs.total_s.map(lambda x: f"{x:.0f}")})


def _style():
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper", font_scale=0.9)


def scores_figure(tuned: pd.DataFrame, base: pd.DataFrame):
    """Two panels of instruction scores (dots, box): tuned model's followed vs unfollowed
    responses; tuned vs base. ``tuned`` / ``base``: ``live_scores`` frames (filtered)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    _style()
    fig, axes = plt.subplots(1, 2, figsize=(COLUMN_IN, 2.8), sharey=True)
    t1 = tuned.assign(group=np.where(tuned.correct, "followed", "unfollowed"))
    t2 = pd.concat([tuned.assign(group="tuned"), base.assign(group="base")])
    for ax, df, order, title in ((axes[0], t1, ["followed", "unfollowed"], "Table 1 analogue"),
                                 (axes[1], t2, ["tuned", "base"], "Table 2 analogue")):
        sns.boxplot(data=df, x="group", y="score", order=order, ax=ax, color="white",
                    showfliers=False, width=0.5)
        sns.stripplot(data=df, x="group", y="score", order=order, ax=ax, hue="group",
                      palette=COLOURS, size=3, alpha=0.6, jitter=0.25, legend=False)
        ax.set(title=title, xlabel="", ylabel="instruction score")
    fig.tight_layout()
    return fig


def profile_figure(sentences: pd.DataFrame):
    """Fig 6 analogue: mean share of a sentence's density per segment, 95% CI, per model."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    _style()
    fig, ax = plt.subplots(figsize=(COLUMN_IN * 0.6, 2.8))
    k = int(sentences.segment.max())
    sns.pointplot(data=sentences, x="segment", y="share", hue="model", palette=COLOURS,
                  hue_order=["base", "tuned"], errorbar=("ci", 95), n_boot=1000, seed=0,
                  dodge=0.2, ax=ax)
    ax.axhline(1 / k, color="grey", lw=0.8, ls="--")
    ax.set(xlabel="segment of the sentence", ylabel="share of the sentence's density")
    ax.legend(title="", loc="upper center", ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def rho_figure(faith: pd.DataFrame):
    """Per-case Spearman ρ with leave-one-out, per approximation and model."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    _style()
    df = faith.assign(model=faith.model.map(ROLE_NAMES),
                      attribution=faith.method.map({"grad": "gradient × input",
                                                    "ig": "integrated gradients"}))
    fig, ax = plt.subplots(figsize=(COLUMN_IN * 0.75, 2.8))
    sns.boxplot(data=df, x="attribution", y="rho", hue="model", palette=COLOURS,
                hue_order=["base", "tuned"], showfliers=False, ax=ax, fill=False)
    sns.stripplot(data=df, x="attribution", y="rho", hue="model", palette=COLOURS,
                  hue_order=["base", "tuned"], dodge=True, size=2.5, alpha=0.5, ax=ax,
                  legend=False)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel="", ylabel="Spearman ρ with leave-one-out", ylim=(-1, 1))
    ax.legend(title="", loc="lower right", ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def record(v: dict, t1: pd.DataFrame, t2: pd.DataFrame, pair: str, page: str) -> None:
    """Claim records ``finding1a_organism`` and ``finding1b_organism`` for the landing page."""
    from paperlib.book.claims import record_claim

    r1, r2 = t1.iloc[0], t2.iloc[0]
    paper1 = " · ".join(f"{d} {x:+.3f}" for d, x in PAPER_EFFECT["table1"].items())
    paper2 = " · ".join(f"{d} {x:+.3f}" for d, x in PAPER_EFFECT["table2"].items())
    record_claim("finding1a_organism", claim="Finding 1 · Table 1 on the organism pair: "
                 "correct answers use the instruction more (labels from exact answers)",
                 paper=paper1, ours=f"{r1.followed_mean - r1.unfollowed_mean:+.3f} "
                 f"(p {short_p(r1.p_value)}; n {int(r1.n_followed)}/{int(r1.n_unfollowed)})",
                 pair=pair, verdict=v["table1"], page=page)
    record_claim("finding1b_organism", claim="Finding 1 · Table 2 on the organism pair: the "
                 "tuned model uses the instruction more than the base model",
                 paper=paper2, ours=f"{r2.tuned_mean - r2.base_mean:+.3f} (p {short_p(r2.p_value)}; "
                 f"n {int(r2.n_tuned)}/{int(r2.n_base)})", pair=pair, verdict=v["table2"],
                 page=page)


def sample_sentence(run, t1: pd.DataFrame) -> str:
    """How large the sample is, why, and what this run cost."""
    from paperlib.paper.finding1_live import n_for_power, paper_effect_sizes, power

    d = paper_effect_sizes()
    smallest = min(d, key=d.get)
    r = t1.iloc[0]
    nf, nu = int(r.n_followed), int(r.n_unfollowed)
    n = len(run.rows)
    tasks = ", ".join(dict.fromkeys(row["task"] for row in run.rows))
    total = sum(len(v) for v in run.cases.values())
    return (
        f"**Sample.** {n} held-out prompts ({run.parameters['per_task']} per task: {tasks}), "
        f"each answered greedily by both models of the pair {html.escape(run.pair)}. The paper's "
        f"smallest Table 1 effect is d = {d[smallest]:.2f} ({smallest}); a one-sided Welch test "
        f"at α = 0.05 needs {n_for_power(d[smallest])} cases per group to detect it with 80% "
        f"power, and {n_for_power(0.75 * d[smallest])} to detect three quarters of it "
        f"(d = {0.75 * d[smallest]:.2f}). The tuned model answered {nf} of the kept prompts "
        f"correctly and {nu} wrongly (responses shorter than 5 tokens dropped): with these "
        f"groups the Table 1 analogue has {power(d[smallest], nu, nf):.0%} power for the "
        f"paper's smallest effect and {power(0.75 * d[smallest], nu, nf):.0%} for three "
        f"quarters of it. Integrated gradients run on the first "
        f"{run.parameters['ig_per_task']} prompts of each task ({len(run.ig_ids)} prompts, "
        f"{run.parameters['ig_steps']} path nodes each) — they cost about as many gradient "
        f"passes as nodes, see the cost table below.\n\n"
        f"**This run** took {run.seconds:.0f} s and computed {run.computed} of {total} "
        f"attribution entries (the rest came from the cache).")
