"""Names, prompt format, numbered tables and figures, and computed sentences of the
chapter "Explainers on any model pair" (the helpers that run the explainers are in
:mod:`paperlib.book.live` and :mod:`paperlib.book.live_explainers`).

* :func:`pair_name` - a short name of the pair for captions ("organism pt → organism
  ft", a folder's name, a hub id): never a file-system path;
* :func:`resolve_template` - how each model is prompted: ``chat_template="auto"``
  gives the organism pair its instruction template (:data:`ORGANISM_TEMPLATE`, the
  format it was tuned on), a chat model its tokenizer's chat template, any other
  pair the plain prompt;
* tables and figures numbered L1, L2, ... and the sentences that read their numbers.
"""
from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from paperlib.book import figures
from paperlib.core.errors import ParameterError

#: The organism's instruction template (organism/data.py PROMPT_TEMPLATE, same text).
ORGANISM_TEMPLATE = "### Instruction:\n{prompt}\n\n### Response:\n"
ORGANISM_ALIAS = "organism"


def _short(source) -> str:
    text = str(source)
    if "/" in text and (text.startswith(("/", ".", "~")) or Path(text).exists()):
        path = Path(text)
        return f"{path.parent.name} {path.name}".strip() if path.parent.name else path.name
    return text


def pair_name(model_pt, model_ft=None, pair=None) -> str:
    """Short name of the pair for captions: "organism pt → organism ft" for the
    alias, the last two parts of a local folder, a hub id as given; the random
    stand-in says so."""
    if pair is not None and getattr(pair, "fallback", False):
        return "random stand-in pair (random weights)"
    if model_ft is None and str(model_pt) == ORGANISM_ALIAS:
        return "organism pt → organism ft"
    return f"{_short(model_pt)} → {_short(model_ft)}"


def is_organism(model_pt, model_ft, pair) -> bool:
    """Whether the pair is the organism (its alias, or its folders ``.../organism/{pt,ft}``)."""
    if str(model_pt) == ORGANISM_ALIAS and model_ft is None:
        return True
    source = str(getattr(getattr(pair.model_ft, "config", None), "_name_or_path", "") or model_ft)
    return Path(source).parent.name == ORGANISM_ALIAS


def resolve_template(chat_template, model_pt, model_ft, pair):
    """(template, Markdown sentence): the prompt format both models get.

    ``"auto"``: the organism's instruction template for the organism pair, else the
    tuned tokenizer's chat template when it has one (a chat model), else the plain
    prompt. ``False``, ``True`` or a format string with ``{prompt}`` are used as given.
    """
    if chat_template == "auto":
        if is_organism(model_pt, model_ft, pair):
            chosen, why = ORGANISM_TEMPLATE, "the instruction template the organism was tuned on"
        elif getattr(pair.tokenizer_ft, "chat_template", None):
            chosen, why = True, "the tuned model's own chat template (a chat model)"
        else:
            chosen, why = False, "the plain prompt (the tuned tokenizer has no chat template)"
    elif chat_template is True or chat_template is False or isinstance(chat_template, str):
        chosen, why = chat_template, "as set by the parameter `chat_template`"
    else:
        raise ParameterError(f"chat_template must be 'auto', False, True or a str with "
                             f"'{{prompt}}', got {chat_template!r}")
    shown = ("none: the prompt as is" if chosen is False else
             "the tokenizer's chat template" if chosen is True else
             "`" + chosen.replace("\n", "\\n") + "`")
    return chosen, (f"**Prompt format:** {shown} — {why}. Both models get the same text; "
                    "the pre-trained model never saw any template, so it may only continue it.")


def random_note(pair) -> str:
    """The caution about random weights, only for the random stand-in pair."""
    if not getattr(pair, "fallback", False):
        return ""
    return ("**Note on random weights:** the pairs below can *look* meaningful even for the "
            "random pair, because the similarity filter only ever keeps word pairs that are "
            "similar — the filter, not the model, supplies much of the apparent meaning of a "
            "single pair. What the weights decide is *which* pairs survive.")


def summary_table(summary: pd.DataFrame, label: str, name: str):
    """``live.pair_summary`` as a numbered table, without the file-system source row."""
    frame = summary.drop(index=[i for i in summary.index if str(i) == "source"])
    frame = frame.reset_index().rename(columns={"index": "property"})
    frame.columns = [str(c) for c in frame.columns]
    return figures.table(frame.astype(str), label, f"Configuration of the two models ({html.escape(name)}).")


def _text(tokens, tokenizer) -> str:
    special = set(getattr(tokenizer, "all_special_tokens", []) or [])
    kept = [t for t in tokens if t not in special]
    text = " ".join(tokenizer.convert_tokens_to_string(kept).split()) if kept else ""
    if text:
        return text
    return (f"(only blanks or special tokens: {len(tokens)} tokens)" if len(tokens)
            else "(empty: stopped at once)")


def responses_frame(cases: dict, pair, width: int = 90) -> pd.DataFrame:
    """id, prompt and each model's greedy response (special tokens left out, cut to
    ``width`` characters, an empty response said in words)."""
    cut = lambda t: t if len(t) <= width else t[: width - 1] + "…"
    rows = []
    for c_pt, c_ft in zip(cases["pt"], cases["ft"]):
        rows.append({"case": c_pt.id, "prompt": cut(_text(c_pt.prompt_tokens, pair.tokenizer_pt)),
                     "pre-trained": cut(_text(c_pt.response_tokens, pair.tokenizer_pt)),
                     "tuned": cut(_text(c_ft.response_tokens, pair.tokenizer_ft))})
    return pd.DataFrame(rows)


def live_map(case_pt, case_ft, label: str, name: str, max_response_tokens: int | None = 40):
    """Pre-trained beside tuned salient map of one prompt as a numbered figure (one
    panel when a response is empty or the tokenizers differ)."""
    import matplotlib.pyplot as plt

    from paperlib.book import plots
    from paperlib.book.live import instruction_rows_or_none

    mask = instruction_rows_or_none(case_pt)
    labels = [f"{who}: {len(c.response_tokens)} response tokens"
              for who, c in (("pre-trained", case_pt), ("tuned", case_ft))]
    shown = [(c, lab) for c, lab in zip((case_pt, case_ft), labels) if len(c.response_tokens)]
    style = dict(max_response_tokens=max_response_tokens, highlight=mask)
    if len(shown) == 2 and len(case_pt.prompt_tokens) == len(case_ft.prompt_tokens):
        fig = plots.salient_pair(case_pt, case_ft, labels=labels, **style)
    elif shown:
        fig = plots.salient_map(shown[0][0], title=shown[0][1], **style)
    else:
        fig, ax = plt.subplots(figsize=(4, 0.6))
        ax.axis("off")
        ax.text(0, 0.5, "both responses are empty", fontsize=9)
    empty = [who for who, c in (("pre-trained", case_pt), ("tuned", case_ft))
             if not len(c.response_tokens)]
    extra = f" Empty response: {', '.join(empty)} (not drawn)." if empty else ""
    return figures.figure(
        fig, label, f"Salient map of <code>{html.escape(case_pt.id)}</code>, {html.escape(name)}: "
        f"rows are prompt tokens (navy marks: the annotated instruction), columns the response "
        f"tokens each model generated.{extra}",
        "whether the tuned model's columns draw on the instruction rows (navy) more than the "
        "pre-trained model's do.", zoom=True)


def scores_sentence(scores: pd.DataFrame | None) -> str:
    """What the per-case instruction scores show (computed, never typed)."""
    if scores is None or not len(scores):
        return "No case could be scored, so this chapter makes no claim about instruction scores."
    higher = int((scores["score_ft"] > scores["score_pt"]).sum())
    empty = int((scores["n_response_ft"] == 0).sum())
    text = (f"**On this pair** the tuned model's instruction score is higher than the "
            f"pre-trained model's for {higher} of {len(scores)} scored prompts (mean "
            f"{scores['score_ft'].mean():.3f} tuned vs {scores['score_pt'].mean():.3f} "
            f"pre-trained).")
    if empty:
        text += f" {empty} tuned response(s) are empty and score 0."
    return text + (" A handful of prompts is an illustration, not a test of the paper's claim; "
                   "Tables 1–2 test it on 632 prompts.")


def changed_share_sentence(table: pd.DataFrame) -> str:
    """The changed share per layer, and whether it is saturated (then it cannot show
    the paper's rise with depth; :func:`paperlib.paper.verdicts.is_saturated`)."""
    from paperlib.paper.verdicts import is_saturated

    heads = table["heads_changed"].astype(float)
    per = "; ".join(f"layer {int(l)}: {v:.0%}" for l, v in zip(table["layer"], heads))
    text = f"**On this pair** the share of changed head-level pairs is {per}."
    if is_saturated(heads.tolist()):
        text += (" Nearly every pair changes in every layer: the measure is saturated, so it "
                 "cannot show the paper's rise with depth on this pair.")
    elif len(heads) > 1:
        trend = "rises" if np.diff(heads.to_numpy()).min() > 0 else "does not rise steadily"
        text += f" It {trend} from the first to the last explained layer"
        gap = 1 - heads.min()
        text += (f", but every layer is within {gap:.0%} of 100%, near the ceiling, where a "
                 "rise says little." if gap <= 0.1 else ".")
    return text


def variance_block(fig, label: str, name: str):
    """The cumulative explained-variance figure (``live_explainers.variance_figure``)
    as a numbered figure; its own title (which names the pair by its folders) is
    replaced by the caption."""
    if fig._suptitle is not None:
        fig._suptitle.set_text("")
    return figures.figure(
        fig, label, f"Cumulative explained variance of the FFN down-projection rows "
        f"(the paper's Fig 8), per explained layer, pre-trained and tuned, {html.escape(name)}.",
        "how many components it takes to explain most of the variance, and whether tuning "
        "moves the curve.")


def fig7_wide(desc: pd.DataFrame) -> pd.DataFrame:
    """Fig 7 as a flat table: layer group, then one column per model and rank cut
    ("pt ≤ 30", ...), shares in %."""
    wide = desc.pivot_table(index="layers", columns=["model", "cut"], values="describable",
                            sort=False)
    wide.columns = [f"{m} ≤ {c}" for m, c in wide.columns]
    return wide.reset_index().rename(columns={"layers": "layer group"})


def scores_frame(scores: pd.DataFrame) -> pd.DataFrame:
    """``live.instruction_scores`` output for display: short headers that fit the column."""
    return pd.DataFrame({
        "case": scores["id"], "data set": scores["dataset"],
        "instruction tokens": scores["n_instruction_pt"],
        "response tokens pre-trained / tuned": [f"{a} / {b}" for a, b in
                                                zip(scores["n_response_pt"], scores["n_response_ft"])],
        "score pre-trained": scores["score_pt"].map(lambda x: f"{x:.4f}"),
        "score tuned": scores["score_ft"].map(lambda x: f"{x:.4f}")})
