"""Captions, numbered salient maps and the App C gallery of the salient-maps chapter.

The paper's Appendix C (Figs 9-14) shows six Self-Instruct cases; their ids in
the released data were found by the prompts the captions print
(:data:`APP_C`). :func:`case_map` draws one case as a numbered, captioned SVG
figure; :func:`gallery` draws a list of cases, numbered on from a given figure.
"""
from __future__ import annotations

import html
from typing import Sequence

from paperlib.book import figures, plots

#: The paper's App C figures: released case id -> figure number (Fig 9 is the Fig 1 prompt).
APP_C = {"user_oriented_task_1": 9, "user_oriented_task_17": 10, "user_oriented_task_4": 11,
         "user_oriented_task_20": 12, "user_oriented_task_21": 13, "user_oriented_task_32": 14}
#: What a reader should know about a case beyond its data.
APP_C_NOTES = {
    "user_oriented_task_17": "The paper's caption prints Vicuna's response to the Fig 4 prompt "
                             "(“Do you have any questions about my rate…”), apparently a copy "
                             "slip; the released matrices hold the response shown here, a list "
                             "of steps for Word.",
}
LOOK_FOR = {
    9: "the instruction rows (navy marks) stay active along Vicuna's whole answer, while the "
       "e-mail rows light up along a diagonal where Vicuna copies the e-mail.",
    10: "a short prompt that is all instruction: every prompt row is an instruction row, and "
        "the importance stays spread over it for the whole list of steps.",
    11: "the rows of “synonyms” and “given word” and of the input word “Sincerely” carry the "
        "importance of the numbered list.",
    12: "a short answer (30 tokens) that leans on the instruction rows and on the input phrase "
        "it must quote.",
    13: "an unfollowed answer (rated 1): Vicuna repeats the input pattern, and the map shows "
        "the same stripes again and again instead of a steady use of the instruction.",
    14: "the product rows of the input matter where the review names the product; the "
        "instruction “Write a review” stays active throughout.",
}
RATING_WORDS = {1: "unfollowed", 2: "followed", 3: "followed", 4: "followed"}


def _short(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _response_text(case) -> str:
    from paperlib.measures.align import pieces_to_text

    return pieces_to_text(list(case.response_tokens))[0] if len(case.response_tokens) else ""


def case_caption(case_id: str, source=None, *, model: str = "vicuna", prompt_chars: int = 220,
                 response_chars: int = 160) -> str:
    """HTML: id, data set, the human rating of Vicuna's response, the prompt and the
    start of ``model``'s response (escaped, shortened)."""
    from paperlib.paper.data import dataset_of, load_case, load_prompts, load_ratings

    prompts = load_prompts().set_index("id")
    prompt = prompts.at[case_id, "prompt"] if case_id in prompts.index else ""
    ratings = load_ratings()
    hit = ratings[(ratings.id == case_id) & (ratings.model == "vicuna")].rating
    rating = int(hit.iloc[0]) if len(hit) and hit.iloc[0] > 0 else None
    rated = (f"; Vicuna's response rated {rating} of 4 ({RATING_WORDS[rating]})"
             if rating in RATING_WORDS else "")
    case = load_case(model, case_id, source)
    name = "Vicuna" if model == "vicuna" else "LLaMA" if model == "llama" else model
    return (f"<code>{html.escape(case_id)}</code> ({html.escape(dataset_of(case_id))}{rated}). "
            f"Prompt: “{html.escape(_short(prompt, prompt_chars))}” {name}: "
            f"“{html.escape(_short(_response_text(case), response_chars))}”")


def case_map(case_id: str, label: str, what: str, look_for: str, source=None, *,
             model: str = "both", L: int = 10, b: int = 0,
             max_response_tokens: int | None = 60, zoom: bool = True,
             label_words: Sequence[str] = ()):
    """One case as a numbered figure: ``what`` (HTML) opens the caption, the case's
    :func:`case_caption` follows; instruction rows are marked, the rows of
    ``label_words`` (words the text points at) always labelled."""
    fig = plots.case_figure(case_id, model, source, L=L, b=b,
                            max_response_tokens=max_response_tokens, label_words=label_words)
    shown = "vicuna" if model == "both" else model
    caption = (f"{what} {case_caption(case_id, source, model=shown)} Maps with L = {L}, "
               f"b = {b}; navy marks: instruction tokens (the rows of the labelled ones in bold).")
    return figures.figure(fig, label, caption, look_for, zoom=zoom)


def gallery(case_ids: Sequence[str], letter: str, first: int, source=None, *, L: int = 10,
            b: int = 0, max_response_tokens: int | None = None) -> list:
    """Vicuna's map of every case (the paper's App C shows Vicuna's responses), numbered
    ``<letter><first>``, ``<letter><first + 1>``, ...; cases of the paper's App C say
    which figure they reproduce. Returns the displayable figures."""
    out = []
    for i, cid in enumerate(case_ids):
        number = APP_C.get(cid)
        what = (f"The paper's Fig {number} (App C)." if number else
                "A case outside the paper's App C.")
        if cid in APP_C_NOTES:
            what += " " + html.escape(APP_C_NOTES[cid])
        look = LOOK_FOR.get(number, "whether the instruction rows (navy marks) keep their "
                                    "importance along the response, or only the context rows.")
        out.append(case_map(cid, f"Figure {letter}{first + i}", what, look, source,
                            model="vicuna", L=L, b=b, max_response_tokens=max_response_tokens))
    return out


def scores_table(scores, label: str, caption: str):
    """The per-case instruction scores (``widgets.case_scores``) as a numbered table."""
    import pandas as pd

    frame = pd.DataFrame({
        "case": scores["id"], "data set": scores["dataset"], "prompt tokens": scores["n_prompt"],
        "instruction tokens": scores["n_instruction"],
        "response tokens LLaMA / Vicuna": [f"{a} / {b}" for a, b in
                                           zip(scores["m_llama"], scores["m_vicuna"])],
        "score LLaMA": scores["score_llama"].map(lambda x: f"{x:.4f}"),
        "score Vicuna": scores["score_vicuna"].map(lambda x: f"{x:.4f}")})
    return figures.table(frame, label, caption)


def instruction_use(case_id: str, words=(), source=None, *, max_response_tokens: int | None = 60,
                    strong: int = 7) -> str:
    """Markdown sentence with the numbers behind a map's reading, per model (LLaMA,
    Vicuna): the share of the shown response tokens that draw a strong importance
    (S ≥ ``strong``) from at least one instruction token, and the mean S of the row
    of each word of ``words`` (its first occurrence)."""
    from paperlib.book.map_labels import _words, rows_of_words
    from paperlib.paper.data import load_case

    cases = {m: load_case(m, case_id, source) for m in ("llama", "vicuna")}
    mask = plots.instruction_rows(cases["vicuna"])
    S = {m: c.S[:, :max_response_tokens] for m, c in cases.items()}
    share = {m: float((s[mask] >= strong).any(axis=0).mean()) if s.shape[1] else float("nan")
             for m, s in S.items()}
    shown = "all" if max_response_tokens is None else f"the first {max_response_tokens} (at most)"
    out = [f"Of {shown} response tokens shown, {share['llama']:.0%} of LLaMA's and "
           f"{share['vicuna']:.0%} of Vicuna's draw a strong importance (S ≥ {strong}) from "
           "at least one instruction token."]
    keys = _words(cases["vicuna"].prompt_tokens)[1]
    parts = []
    for w in words:
        first = rows_of_words(cases["vicuna"].prompt_tokens, [w])
        if first:
            rows = [i for i, k in enumerate(keys) if k == keys[first[0]]]
            parts.append(f"“{w}” {S['llama'][rows].mean():.2f} vs {S['vicuna'][rows].mean():.2f}")
    if parts:
        out.append("Mean importance S of a word's rows (its first occurrence), LLaMA vs Vicuna: "
                   + "; ".join(parts) + ".")
    return " ".join(out)
