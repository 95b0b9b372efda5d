"""Fig 6 (lost in the middle) of the Finding 1 chapters: per-sentence shares (so the
figure can show confidence intervals), the U depth, the verdict (from
:mod:`paperlib.paper.verdicts` only), the table and the sentences of the page.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from paperlib.book.figures import short_p
from paperlib.book.summary_plots import MODEL_NAMES
from paperlib.core.errors import ParameterError
from paperlib.paper import verdicts


def fig6_sentences(b: float = 7, p: float = 4, L: int = 10, mode: str = "threshold",
                   min_response: int = 5, n_segments: int = 4, source=None,
                   models=("llama", "vicuna")) -> pd.DataFrame:
    """Fig 6 per sentence: dataset, model, sentence (running number), segment, share.

    The same computation as :func:`paperlib.paper.finding1.fig6`, keeping every
    sentence (its means per segment are exactly ``fig6``'s shares), so that the
    figure can show confidence intervals and the verdict can test the U shape."""
    from paperlib.measures.align import sentence_token_spans
    from paperlib.measures.density import apply_cutoff, density, normalise, segment_shares
    from paperlib.paper.data import dataset_of, load_case_set

    frames = []
    for model in models:
        cs = load_case_set(model, source)
        for i, cid in enumerate(cs.ids):
            raw = cs.get(i)
            if raw.S.shape[1] < max(min_response, 1):
                continue
            S = normalise(raw.S, L=L, b=0) if L != 10 else raw.S
            shares = segment_shares(density(apply_cutoff(S, b, mode), p),
                                    sentence_token_spans(raw.prompt_tokens), n_segments)
            if len(shares):
                frames.append(pd.DataFrame({"dataset": dataset_of(cid), "model": model,
                                            "case": cid, "row": np.arange(len(shares)),
                                            **{str(k + 1): shares[:, k] for k in range(n_segments)}}))
    wide = pd.concat(frames, ignore_index=True)
    wide["sentence"] = np.arange(len(wide))
    long = wide.melt(id_vars=["dataset", "model", "case", "row", "sentence"],
                     var_name="segment", value_name="share")
    long["segment"] = long["segment"].astype(int)
    return long.sort_values(["model", "sentence", "segment"], ignore_index=True)


def u_depth(sentences: pd.DataFrame) -> pd.DataFrame:
    """Per sentence: dataset, model, depth = mean share of the first and last
    segments minus the mean share of the middle ones (> 0: a U)."""
    k = int(sentences["segment"].max())
    if k < 3:
        raise ParameterError("a U shape needs at least 3 segments per sentence")
    edge = sentences["segment"].isin([1, k])
    keys = ["dataset", "model", "sentence"]
    e = sentences[edge].groupby(keys)["share"].mean()
    m = sentences[~edge].groupby(keys)["share"].mean()
    return (e - m).rename("depth").reset_index()


def fig6_verdict(depth: pd.DataFrame, base: str = "llama", tuned: str = "vicuna",
                 alpha: float = 0.05) -> tuple[verdicts.Verdict, pd.DataFrame]:
    """Verdict on "a U shape in both models, deeper for the pre-trained one", per data
    set; the paper gives the shape only (no number), so its sign stands for it.

    Tests: one-sample t-test of the per-sentence depth > 0 (each model), Welch's test
    of base depth > tuned depth. When the two models do not differ at all (a model
    compared with itself) the verdict is "no change", whatever the shape. Returns
    (combined verdict, table of the parts)."""
    from scipy.stats import ttest_1samp, ttest_ind

    parts, rows, tuning = [], [], []
    for ds in [d for d in ("self-instruct", "lima", "mt-bench") if d in set(depth["dataset"])]:
        part = depth[depth["dataset"] == ds]
        d = {m: part.loc[part["model"] == m, "depth"].to_numpy() for m in (base, tuned)}
        name = lambda m: MODEL_NAMES.get(m, m)
        tests = [(f"{ds}: U depth of {name(m)}", d[m].mean(),
                  ttest_1samp(d[m], 0.0, alternative="greater").pvalue) for m in (base, tuned)]
        tests.append((f"{ds}: {name(base)}'s U minus {name(tuned)}'s", d[base].mean() - d[tuned].mean(),
                      ttest_ind(d[base], d[tuned], equal_var=False, alternative="greater").pvalue))
        for what, value, pv in tests:
            v = verdicts.effect_verdict(what=what, paper=1.0, ours=float(value),
                                        p_value=float(pv), alpha=alpha,
                                        paper_text="positive, shape only")
            parts.append(v)
            if "minus" in what:
                tuning.append(v)
            rows.append({"part": what, "ours": f"{value:+.4f}", "p": short_p(float(pv)),
                         "verdict": v.label})
    what = "Fig 6 (U shape, deeper before tuning)"
    if tuning and all(v.label == verdicts.NO_CHANGE for v in tuning):
        return verdicts.combine(tuning, what), pd.DataFrame(rows)   # a model against itself
    return verdicts.combine(parts, what), pd.DataFrame(rows)


def fig6_table(f6: pd.DataFrame) -> pd.DataFrame:
    """Display frame of ``finding1.fig6()``: data set, model, sentences, one column per
    segment (shares to 4 decimals)."""
    wide = f6.pivot_table(index=["dataset", "model", "n_sentences"], columns="segment",
                          values="share", sort=False).reset_index()
    out = pd.DataFrame({"data set": wide["dataset"],
                        "model": wide["model"].map(lambda m: MODEL_NAMES.get(m, m)),
                        "sentences": wide["n_sentences"].astype(int).astype(str)})
    for k in [c for c in wide.columns if isinstance(c, (int, np.integer))]:
        out[f"segment {k}"] = wide[k].map(lambda x: f"{x:.4f}")
    return out


def fig6_summary(parts: pd.DataFrame) -> str:
    """Short string for the landing page: how many parts of the Fig 6 claim hold."""
    u = parts[parts["part"].str.contains("U depth")]
    deeper = parts[~parts["part"].str.contains("U depth")]
    ok = lambda df: int((df["verdict"].isin(verdicts.SUPPORT)).sum())
    return (f"U in {ok(u)} of {len(u)} model × data-set cells; LLaMA's U deeper and "
            f"significant in {ok(deeper)} of {len(deeper)} data sets")


def fig6_sentence(parts: pd.DataFrame) -> str:
    """Markdown: the reading of Fig 6 from the verdict parts (no number typed by hand)."""
    u = parts[parts["part"].str.contains("U depth")]
    deeper = parts[~parts["part"].str.contains("U depth")]
    fails = [f"{r['part']} ({r['ours']}, p = {r['p']})" for _, r in parts.iterrows()
             if r["verdict"] not in verdicts.SUPPORT]
    text = (f"**Reading.** A U shape (ends above the middle, significant) in "
            f"{int(u['verdict'].isin(verdicts.SUPPORT).sum())} of {len(u)} model × data-set "
            f"cells; LLaMA's U deeper than Vicuna's in "
            f"{int(deeper['verdict'].isin(verdicts.SUPPORT).sum())} of {len(deeper)} data sets. ")
    return text + ("Every part holds." if not fails else "Not seen: " + "; ".join(fails) + ".")
