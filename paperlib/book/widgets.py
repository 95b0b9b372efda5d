"""ipywidgets for Finding 1: kernel-free case explorer and static pickers.

* :func:`case_explorer` works everywhere, in Jupyter and on the static page: every
  case as LLaMA / Vicuna heat maps at any cutoff b, computed in the reader's
  browser (:class:`paperlib.book.explorer.Finding1Explorer`, maps only).
* :func:`static_case_picker` and :func:`static_threshold_picker` work in a static
  HTML page: a Dropdown whose ``index`` is ``jslink``-ed to a ``Stack``'s
  ``selected_index``; the Stack's children are pre-rendered PNG images (base64
  in a ``widgets.HTML``). When a notebook is executed with nbclient/papermill
  (``store_widget_state=True``, the default) the widget state lands in the
  notebook metadata, and Jupyter Book renders it with the widget HTML manager,
  so switching cases works in the browser with no kernel.
"""
from __future__ import annotations

import base64
import html
import io
from typing import Callable, Sequence

from paperlib.core.errors import ParameterError, check_range


def figure_to_html(fig, caption: str = "", *, dpi: int = 80, close: bool = True) -> str:
    """An ``<figure>`` HTML snippet holding ``fig`` as a base64 PNG and a caption.

    The figure is closed afterwards (``close=True``) so that it is not also shown
    as a notebook output.
    """
    check_range("dpi", dpi, 20, 600)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    if close:
        import matplotlib.pyplot as plt

        plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return (f'<figure style="margin:0"><img src="data:image/png;base64,{data}" '
            f'style="max-width:100%;height:auto" alt="{html.escape(caption)}"/>{cap}</figure>')


def _rendered(result) -> tuple:
    """Split ``render``'s return value into (figure, caption)."""
    if isinstance(result, tuple):
        if len(result) != 2:
            raise ParameterError("render must return a Figure or a (Figure, caption) pair")
        return result
    return result, ""


def static_picker(labels: Sequence[str], render: Callable, *, description: str = "Case:",
                  dpi: int = 80):
    """A kernel-free picker: Dropdown ``index`` jslink-ed to a Stack of images.

    ``render(label)`` returns a Figure or a ``(Figure, caption)`` pair; it is called
    once per label here (pre-rendering). Returns a ``VBox([dropdown, stack])`` with
    attributes ``dropdown``, ``stack`` and ``link`` (the jslink).
    """
    import ipywidgets as widgets

    labels = [str(x) for x in labels]
    if not labels:
        raise ParameterError("a static picker needs at least one entry")
    if len(set(labels)) != len(labels):
        raise ParameterError(f"static picker entries must be distinct, got {labels}")
    pages = []
    for label in labels:
        fig, caption = _rendered(render(label))
        pages.append(widgets.HTML(value=figure_to_html(fig, caption, dpi=dpi)))
    dropdown = widgets.Dropdown(options=labels, index=0, description=description,
                                style={"description_width": "initial"},
                                layout=widgets.Layout(width="max-content"))
    stack = widgets.Stack(children=pages, selected_index=0)
    link = widgets.jslink((dropdown, "index"), (stack, "selected_index"))
    box = widgets.VBox([dropdown, stack])
    box.dropdown, box.stack, box.link = dropdown, stack, link
    return box


def static_case_picker(case_ids: Sequence[str], render: Callable, *, dpi: int = 80,
                       description: str = "Case:"):
    """:func:`static_picker` over case ids; ``render(case_id)`` draws one case.

    Unknown ids raise the data layer's UnknownCaseError from ``render``.
    """
    return static_picker(case_ids, render, description=description, dpi=dpi)


def static_threshold_picker(b_values: Sequence[int], render: Callable, *, dpi: int = 80):
    """:func:`static_picker` over thresholds; ``render(b)`` draws the map at threshold b."""
    values = [int(b) for b in b_values]
    box = static_picker([f"b = {b}" for b in values], lambda label: render(int(label[4:])),
                        description="Threshold:", dpi=dpi)
    return box


def _case_caption(case_id: str, limit: int = 240) -> str:
    """'<id> (<dataset>, Vicuna rating r): <prompt start>' for a picker caption."""
    from paperlib.paper.data import dataset_of, load_prompts, load_ratings

    prompts = load_prompts().set_index("id")
    prompt = prompts.at[case_id, "prompt"] if case_id in prompts.index else ""
    prompt = " ".join(prompt.split())
    prompt = prompt if len(prompt) <= limit else prompt[:limit] + "…"
    ratings = load_ratings()
    hit = ratings[(ratings.id == case_id) & (ratings.model == "vicuna")].rating
    rating = f", Vicuna rating {int(hit.iloc[0])}" if len(hit) and hit.iloc[0] > 0 else ""
    return f"{case_id} ({dataset_of(case_id)}{rating}). Prompt: {prompt}"


def case_picker(case_ids: Sequence[str], source=None, *, model: str = "both", L: int = 10,
                b: int = 0, max_response_tokens: int | None = 40, dpi: int = 60):
    """Static picker over curated cases: each page is ``plots.case_figure`` + caption.

    Pre-renders one PNG per case (keep the list short: ~10 cases). Unknown ids
    raise UnknownCaseError before anything is drawn.
    """
    from paperlib.paper.data import load_case
    from paperlib.book.plots import case_figure

    for cid in case_ids:
        load_case("vicuna", cid, source)

    def render(cid):
        fig = case_figure(cid, model, source, L=L, b=b, max_response_tokens=max_response_tokens)
        return fig, _case_caption(cid)

    return static_case_picker(case_ids, render, dpi=dpi)


def threshold_picker(case_id: str, b_values: Sequence[int] = (0, 5, 7), source=None, *,
                     model: str = "both", L: int = 10, max_response_tokens: int | None = 40,
                     dpi: int = 60):
    """Static picker over cutoffs b for one case (same map at each b, pre-rendered)."""
    from paperlib.book.plots import case_figure

    for b in b_values:
        check_range("b", b, 0, L)

    def render(b):
        fig = case_figure(case_id, model, source, L=L, b=b,
                          max_response_tokens=max_response_tokens)
        return fig, f"{case_id} at L={L}, b={b}: cells with S <= b are blank"

    return static_threshold_picker(b_values, render, dpi=dpi)


def case_explorer(case_id: str | None = None, source=None, *, b: int = 0, p: float = 4,
                  max_response_tokens: int | None = 60):
    """Kernel-free browser over every case (the ``maps`` section of
    :class:`paperlib.book.explorer.Finding1Explorer`): data set, searchable case
    list, LLaMA beside Vicuna heat maps with token labels and hover, cutoff b
    (0..10) and norm p of the instruction scores shown. ``max_response_tokens``:
    columns packed and shown (None or more than 120: 120, the explorer's most);
    the scores use the whole responses either way. Fewer columns, lighter page:
    about 1.5 MB of data at 60 columns, 2.5 MB at 120."""
    from paperlib.book.explorer import Finding1Explorer

    columns = 120 if max_response_tokens is None else min(int(max_response_tokens), 120)
    check_range("max_response_tokens", columns, 1, 120)
    return Finding1Explorer(source, case_id=case_id, b=b, p=p, sections=("maps",),
                            columns=columns, map_columns=columns)


# --------------------------------------------------------------------------
# Per-case instruction score (shown by the gallery tables).

def case_instruction_score(case, *, L: int = 10, b: float = 7, p: float = 4,
                           mode: str = "threshold") -> float:
    """Instruction score of one case: S (N, M) -> rescale(L, b) -> density(p) ->
    sum over instruction tokens / log2(2 + their count) (Sec 4.2)."""
    from paperlib.measures.density import density, instruction_score
    from paperlib.book.plots import instruction_rows, rescale

    a = density(rescale(case.S, L=L, b=b, mode=mode), p=p)
    return instruction_score(a, instruction_rows(case))


def case_scores(case_ids: Sequence[str], source=None, *, L: int = 10, b: float = 7,
                p: float = 4, mode: str = "threshold"):
    """DataFrame, one row per case: id, dataset, n_prompt, n_instruction,
    m_llama, m_vicuna, score_llama, score_vicuna (scores as in
    :func:`case_instruction_score`). Unknown ids raise UnknownCaseError."""
    import pandas as pd

    from paperlib.paper.data import dataset_of, load_case
    from paperlib.book.plots import instruction_rows

    rows = []
    for cid in case_ids:
        llama, vicuna = load_case("llama", cid, source), load_case("vicuna", cid, source)
        row = {"id": cid, "dataset": dataset_of(cid), "n_prompt": len(vicuna.prompt_tokens),
               "n_instruction": int(instruction_rows(vicuna).sum()),
               "m_llama": len(llama.response_tokens), "m_vicuna": len(vicuna.response_tokens)}
        for name, case in (("llama", llama), ("vicuna", vicuna)):
            row[f"score_{name}"] = case_instruction_score(case, L=L, b=b, p=p, mode=mode)
        rows.append(row)
    return pd.DataFrame(rows)
