"""Salient maps of Finding 1, legible at the book's column width.

A map has one row per prompt token and one column per response token; with
180-token prompts not every row can carry a readable label, so a map labels
the **most important rows and the instruction rows** (as many as fit at a
7-point font; :func:`pick_rows`), marks every instruction row with a navy tick
beside the axis, and shows token pieces as text for both sentencepiece ("▁",
"<0x0A>") and byte-level BPE ("Ġ", "Ċ") tokenizers (:func:`token_labels`).
Figures are sized to the column (:data:`paperlib.book.figures.COLUMN_IN`) and meant
to be shown as SVG through :func:`paperlib.book.figures.figure`.

Every function returns a :class:`matplotlib.figure.Figure` and never calls
``plt.show``. Summary figures (Tables 1-2, sensitivity, Fig 6) live in
:mod:`paperlib.book.summary_plots`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from paperlib.book.figures import COLUMN_IN, MIN_FONT_PT
from paperlib.core.errors import ParameterError, check_range

from paperlib.book.map_labels import (  # noqa: F401  (re-exported: plots.token_label works)
    LABEL_GAP_IN, _words, every_kth, pick_rows, rows_of_words, token_label, token_labels,
    word_labels,
)


def book_style(fmt: str = "svg") -> None:
    """Inline figures of a chapter as SVG (vector text: legible at the column width
    and any zoom; glyphs as paths, deterministic ids). ``fmt="png"`` gives 150 dpi."""
    import matplotlib
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    if fmt not in ("svg", "png"):
        raise ParameterError(f"fmt must be 'svg' or 'png', got {fmt!r}")
    matplotlib.rcParams.update({"svg.fonttype": "path", "svg.hashsalt": "paperlib",
                                "figure.dpi": 150, "savefig.dpi": 150})
    set_matplotlib_formats(fmt)


@dataclass(frozen=True)
class SalientData:
    """What a salient map shows.

    S: (N, M) importance matrix; prompt_tokens: N pieces; response_tokens: M
    pieces; title: a caption such as ``"vicuna · user_oriented_task_1"``.
    """

    S: np.ndarray
    prompt_tokens: tuple
    response_tokens: tuple
    title: str = ""


def as_salient_data(case_or_S, prompt_tokens=None, response_tokens=None,
                    title: str | None = None) -> SalientData:
    """Normalise a Case, or ``S`` (N, M) plus token lists, into :class:`SalientData`.

    Raises ParameterError if S is not 2-D or the token counts do not match its shape.
    """
    if hasattr(case_or_S, "S") and hasattr(case_or_S, "prompt_tokens"):
        case = case_or_S
        S, prompt_tokens, response_tokens = case.S, case.prompt_tokens, case.response_tokens
        if title is None:
            title = f"{getattr(case, 'model', '')} · {getattr(case, 'id', '')}".strip(" ·")
    else:
        S = case_or_S
    S = np.asarray(S, dtype=float)
    if S.ndim != 2:
        raise ParameterError(f"S must be a 2-D (prompt x response) matrix, got shape {S.shape}")
    n, m = S.shape
    prompt_tokens = tuple(prompt_tokens) if prompt_tokens is not None else tuple(map(str, range(n)))
    response_tokens = (tuple(response_tokens) if response_tokens is not None
                       else tuple(map(str, range(m))))
    if len(prompt_tokens) != n or len(response_tokens) != m:
        raise ParameterError(
            f"S has shape {S.shape} but got {len(prompt_tokens)} prompt tokens and "
            f"{len(response_tokens)} response tokens")
    return SalientData(S, prompt_tokens, response_tokens, title or "")


RELEASED_L = 10  # the released maps are S with L = 10, b = 0


def rescale(S: np.ndarray, L: int = 10, b: int = 0, mode: str = "threshold") -> np.ndarray:
    """Re-normalise a released map S (N, M; L=10, b=0) to another L and cutoff b.

    As ``paperlib.paper.finding1``: for L = 10 only the cutoff is applied; another L
    re-quantises each column first (``ceil(L * S / max_n S)``,
    :func:`paperlib.measures.density.normalise`). Cutoff ``mode``: "threshold" zeroes
    values <= b and keeps the rest (authors' code), "subtract" is the paper's
    ReLU(S - b). With L=10, b=0 the map comes back unchanged. Returns (N, M).
    """
    from paperlib.measures.density import apply_cutoff, normalise

    check_range("L", L, 1, 1000)
    check_range("b", b, 0, L)
    S = np.asarray(S, dtype=float)
    if L != RELEASED_L:
        S = normalise(S, L=L, b=0)
    return apply_cutoff(S, b, mode)


def _truncate(data: SalientData, max_response_tokens: int | None) -> tuple[SalientData, str]:
    """Keep the first K response columns; return the data and a note ('' if none)."""
    m = len(data.response_tokens)
    if max_response_tokens is None or max_response_tokens >= m:
        return data, ""
    check_range("max_response_tokens", max_response_tokens, 1, None)
    k = int(max_response_tokens)
    short = SalientData(data.S[:, :k], data.prompt_tokens, data.response_tokens[:k], data.title)
    return short, f"first {k} of {m} response tokens"


def _vmax(L: int, b: int, mode: str) -> int:
    """Top of the colour scale: the largest value S can take after cutoff b."""
    return L if mode == "threshold" else max(L - b, 1)


def _check_highlight(highlight, n: int):
    """Validate an optional (N,) bool mask of prompt rows to emphasise."""
    if highlight is None:
        return None
    mask = np.asarray(highlight)
    if mask.dtype != bool or mask.shape != (n,):
        raise ParameterError(f"highlight must be a bool mask of shape ({n},), "
                             f"got {mask.dtype} {mask.shape}")
    return mask


# ---------------------------------------------------------------- layout

_MARGIN = dict(left=1.05, right=0.85, top=0.45, bottom=0.95, gap=0.12)  # inches


def map_height(n_rows: int) -> float:
    """Map height (in): 0.11 in per row up to 40 rows (every row labelled), then
    0.03 in per further row, at most 9.5 in (the figure is click-to-enlarge)."""
    return float(np.clip(0.11 * min(n_rows, 40) + 0.03 * max(n_rows - 40, 0), 1.2, 9.5))


def _map_figure(n_rows: int, col_counts: Sequence[int], width: float = COLUMN_IN):
    """Figure ``width`` inches wide with one heat-map axes per entry of ``col_counts``
    (widths proportional to the columns) and a colour-bar axes. Returns
    (fig, axes, cax, panel widths in inches, map height in inches)."""
    import matplotlib.pyplot as plt

    g = _MARGIN
    cols = [max(c, 6) for c in col_counts]
    panels_w = width - g["left"] - g["right"] - g["gap"] * (len(cols) - 1)
    map_h = map_height(n_rows)
    height = g["top"] + map_h + g["bottom"]
    fig = plt.figure(figsize=(width, height))
    x, axes, widths = g["left"], [], []
    for c in cols:
        w = panels_w * c / sum(cols)
        axes.append(fig.add_axes((x / width, g["bottom"] / height, w / width, map_h / height)))
        widths.append(w)
        x += w + g["gap"]
    bar_h = min(map_h, 3.0)
    cax = fig.add_axes(((x - g["gap"] + 0.12) / width, (g["bottom"] + map_h - bar_h) / height,
                        0.13 / width, bar_h / height))
    return fig, axes, cax, widths, map_h


_STRIP_PT = (1.0, 4.0)  # the instruction marks: from 1 to 4 points left of the map


def _mark_instruction(ax, highlight, width_in: float) -> None:
    """Navy marks just left of the map on every instruction row (labelled or not),
    between the axis and the row labels (which sit 7 points away)."""
    from matplotlib.patches import Rectangle
    from matplotlib.transforms import blended_transform_factory

    if highlight is None:
        return
    trans = blended_transform_factory(ax.transAxes, ax.transData)
    x0, x1 = (-pt / 72.0 / width_in for pt in reversed(_STRIP_PT))
    for i in np.flatnonzero(highlight):
        ax.add_patch(Rectangle((x0, i - 0.5), x1 - x0, 1.0, transform=trans, clip_on=False,
                               color="navy", linewidth=0))


def _labels(pieces, chosen: list[int]) -> list[str]:
    """Piece labels when every token is labelled, else the word each chosen token is in."""
    return token_labels(pieces) if len(chosen) == len(pieces) else word_labels(pieces)


def _label_rows(ax, data: SalientData, rows: list[int], highlight) -> None:
    labels = _labels(data.prompt_tokens, rows)
    ax.set_yticks(rows, [labels[i] for i in rows], fontsize=MIN_FONT_PT)
    ax.tick_params(axis="y", pad=7)
    if highlight is not None:
        for label, i in zip(ax.get_yticklabels(), rows):
            if highlight[i]:
                label.set_fontweight("bold")
                label.set_color("navy")


def _draw_map(ax, data: SalientData, vmax: int, cmap: str, width_in: float, rows=None,
              highlight=None):
    """Draw the heat map on ``ax`` (``rows``: prompt rows to label, None: none);
    return the AxesImage."""
    image = ax.imshow(data.S, aspect="auto", cmap=cmap, vmin=0, vmax=vmax,
                      interpolation="nearest")
    m = data.S.shape[1]
    cols = every_kth(m, width_in, _words(data.response_tokens)[1])
    labels = _labels(data.response_tokens, cols)
    ax.set_xticks(cols, [labels[j] for j in cols], rotation=90, fontsize=MIN_FONT_PT)
    if rows is None:
        ax.set_yticks([])
    else:
        _label_rows(ax, data, rows, highlight)
    _mark_instruction(ax, highlight, width_in)
    ax.tick_params(length=0)
    ax.set_xlabel("response token", fontsize=8)
    return image


def _colorbar(fig, image, L: int, b: int, mode: str, cax):
    top = _vmax(L, b, mode)
    bar = fig.colorbar(image, cax=cax, ticks=range(0, top + 1, max(1, top // 5)))
    bar.ax.tick_params(labelsize=MIN_FONT_PT)
    bar.set_label(f"importance S\n(L={L}, b={b})", fontsize=MIN_FONT_PT)
    return bar


def _rows_to_label(panels: Sequence[SalientData], highlight, map_h: float,
                   label_words: Sequence[str] = ()) -> list[int]:
    n = panels[0].S.shape[0]
    importance = sum(d.S.sum(axis=1) / max(d.S.sum(), 1e-12) for d in panels)
    gap = int(np.ceil(LABEL_GAP_IN / (map_h / n)))
    first = rows_of_words(panels[0].prompt_tokens, label_words) if label_words else ()
    return pick_rows(importance, highlight, gap, groups=_words(panels[0].prompt_tokens)[1],
                     first=first)


def _prepared(case, L: int, b: int, mode: str, max_response_tokens, title=None, tokens=(None,
              None)) -> tuple[SalientData, str]:
    """Validate, re-normalise and truncate one map: (data, truncation note)."""
    data = as_salient_data(case, tokens[0], tokens[1], title)
    scaled = SalientData(rescale(data.S, L, b, mode), data.prompt_tokens,
                         data.response_tokens, data.title)
    return _truncate(scaled, max_response_tokens)


def _panel_title(data: SalientData, note: str) -> str:
    return f"{data.title}\n({note})" if note else data.title


def salient_map(case_or_S, prompt_tokens=None, response_tokens=None, *, L: int = 10,
                b: int = 0, mode: str = "threshold", max_response_tokens: int | None = None,
                highlight=None, cmap: str = "Reds", title: str | None = None,
                width: float = COLUMN_IN, label_words: Sequence[str] = ()):
    """Heat map of S (rows prompt tokens, columns response tokens), colour bar 0..L.

    ``case_or_S`` is a Case (with S (N, M), prompt_tokens, response_tokens) or an
    (N, M) array with the two token lists. The released map (L=10, b=0) is
    re-normalised by :func:`rescale` for other L, b and ``mode`` (the colour bar
    runs 0..L, or 0..L-b in "subtract" mode). ``max_response_tokens`` keeps the
    first K columns and says so in the title; ``highlight`` (N,) bool marks
    instruction rows (navy ticks, bold navy labels); the rows of ``label_words``
    (words the text points at) are labelled first. Returns the Figure.
    """
    data, note = _prepared(case_or_S, L, b, mode, max_response_tokens, title,
                           (prompt_tokens, response_tokens))
    highlight = _check_highlight(highlight, data.S.shape[0])
    fig, (ax,), cax, (w,), map_h = _map_figure(data.S.shape[0], [data.S.shape[1]], width)
    rows = _rows_to_label([data], highlight, map_h, label_words)
    image = _draw_map(ax, data, _vmax(L, b, mode), cmap, w, rows, highlight)
    ax.set_ylabel("prompt token", fontsize=8)
    ax.set_title(_panel_title(data, note), fontsize=8)
    _colorbar(fig, image, L, b, mode, cax)
    return fig


def salient_pair(llama_case, vicuna_case, *, L: int = 10, b: int = 0, mode: str = "threshold",
                 max_response_tokens: int | None = None, highlight=None, cmap: str = "Reds",
                 labels: Sequence[str] = ("LLaMA (pre-trained)", "Vicuna (instruction-tuned)"),
                 width: float = COLUMN_IN, label_words: Sequence[str] = ()):
    """LLaMA beside Vicuna for one prompt (Fig 1 style), one shared colour bar.

    Both cases must hold the same prompt (same N prompt tokens); their responses
    differ, so each panel has its own column axis (M_llama, M_vicuna). Rows are
    labelled once, on the left panel. Other arguments as in :func:`salient_map`.
    Returns the Figure: two heat-map axes plus the colour-bar axis.
    """
    panels = [_prepared(case, L, b, mode, max_response_tokens, label)
              for case, label in zip((llama_case, vicuna_case), labels)]
    n = panels[0][0].S.shape[0]
    if panels[1][0].S.shape[0] != n:
        raise ParameterError(
            f"the two cases have different prompts ({n} vs {panels[1][0].S.shape[0]} "
            f"prompt tokens); a salient pair needs the same prompt")
    highlight = _check_highlight(highlight, n)
    fig, axes, cax, widths, map_h = _map_figure(n, [d.S.shape[1] for d, _ in panels], width)
    rows = _rows_to_label([d for d, _ in panels], highlight, map_h, label_words)
    for ax, (data, note), w, first in zip(axes, panels, widths, (True, False)):
        image = _draw_map(ax, data, _vmax(L, b, mode), cmap, w, rows if first else None,
                          highlight if first else None)
        ax.set_title(_panel_title(data, note), fontsize=8)
    axes[0].set_ylabel("prompt token", fontsize=8)
    _colorbar(fig, image, L, b, mode, cax)
    return fig


def instruction_rows(case) -> np.ndarray:
    """(N,) bool mask of the case's instruction tokens (annotated sentences).

    Uses the frozen prompts/annotations (``paperlib.paper.data.load_prompts``) and
    ``paperlib.measures.align.instruction_mask``; raises UnknownCaseError for an id
    without a prompt.
    """
    from paperlib.core.errors import UnknownCaseError
    from paperlib.measures.align import instruction_mask
    from paperlib.paper.data import load_prompts

    prompts = load_prompts().set_index("id")
    if case.id not in prompts.index:
        raise UnknownCaseError(f"no prompt/annotation for case id {case.id!r}")
    row = prompts.loc[case.id]
    return instruction_mask(case.prompt_tokens, row["prompt"], row["annotation"], case.id)


def case_figure(case_id: str, model: str = "both", source=None, *, L: int = 10, b: int = 0,
                mode: str = "threshold", max_response_tokens: int | None = 60,
                highlight_instruction: bool = True, width: float = COLUMN_IN,
                label_words: Sequence[str] = ()):
    """Load ``case_id`` and draw its map: ``model`` "llama", "vicuna" or "both" (pair).

    Unknown ids raise the data layer's UnknownCaseError. Instruction rows are
    marked unless ``highlight_instruction`` is False. Returns the Figure.
    """
    from paperlib.paper.data import load_case

    if model not in ("llama", "vicuna", "both"):
        raise ParameterError(f"model must be 'llama', 'vicuna' or 'both', got {model!r}")
    models = ("llama", "vicuna") if model == "both" else (model,)
    cases = [load_case(m, case_id, source) for m in models]
    mask = instruction_rows(cases[0]) if highlight_instruction else None
    style = dict(L=L, b=b, mode=mode, max_response_tokens=max_response_tokens, highlight=mask,
                 width=width, label_words=label_words)
    if model == "both":
        return salient_pair(*cases, **style)
    return salient_map(cases[0], title="LLaMA (pre-trained)" if model == "llama"
                       else "Vicuna (instruction-tuned)", **style)


def case_gallery(case_ids: Sequence[str], source=None, **style) -> list:
    """One :func:`case_figure` (LLaMA beside Vicuna) per id; ``style`` as there."""
    return [case_figure(cid, "both", source, **style) for cid in case_ids]


# Summary figures live in their own module; re-exported so ``plots.X`` works.
from paperlib.book.summary_plots import (  # noqa: E402,F401
    MODEL_COLOURS, SEGMENT_LABELS, fig6_figure, pvalue_heatmap, sensitivity_figure,
    sensitivity_heatmap, table_figure,
)
