"""Matplotlib salient maps for Finding 1 (summary figures: :mod:`paperlib.book.summary_plots`).

Every function returns a :class:`matplotlib.figure.Figure` and never calls
``plt.show``; figures are built with the object-oriented API (no global state
besides ``plt.subplots``), so they render in notebooks, scripts and tests alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from paperlib.core.errors import ParameterError, check_range

#: LLaMA sentencepiece byte pieces shown as readable glyphs.
_BYTE_GLYPHS = {"<0x0A>": "\\n", "<0x09>": "\\t", "<0x0D>": "\\r", "<0x20>": "␣"}


def book_style(dpi: int = 72) -> None:
    """Set the inline figure resolution for the book (smaller PNGs, faster pages)."""
    import matplotlib.pyplot as plt

    check_range("dpi", dpi, 20, 600)
    plt.rcParams["figure.dpi"] = dpi


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


def token_label(piece: str) -> str:
    """Readable label of one sentencepiece token ("▁" -> leading space dropped)."""
    if piece in _BYTE_GLYPHS:
        return _BYTE_GLYPHS[piece]
    text = piece.replace("▁", " ").strip()
    return text if text else "␣"


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
    return short, f"first {k} of {m} response tokens shown"


def _tick_fontsize(count: int, length_in: float) -> float:
    """Font size (pt) that keeps ``count`` tick labels apart along ``length_in`` inches."""
    per_label_pt = 0.8 * length_in * 72.0 / max(count, 1)
    return float(np.clip(0.85 * per_label_pt, 3.0, 8.0))


def _vmax(L: int, b: int, mode: str) -> int:
    """Top of the colour scale: the largest value S can take after cutoff b."""
    return L if mode == "threshold" else max(L - b, 1)


def _colorbar(fig, image, L: int, b: int, mode: str, ax=None, cax=None):
    top = _vmax(L, b, mode)
    return fig.colorbar(image, ax=ax, cax=cax, label=f"importance S (L={L}, b={b})",
                        shrink=0.5 if cax is None else 1.0,
                        ticks=range(0, top + 1, max(1, top // 5)))


def _check_highlight(highlight, n: int):
    """Validate an optional (N,) bool mask of prompt rows to emphasise."""
    if highlight is None:
        return None
    mask = np.asarray(highlight)
    if mask.dtype != bool or mask.shape != (n,):
        raise ParameterError(f"highlight must be a bool mask of shape ({n},), "
                             f"got {mask.dtype} {mask.shape}")
    return mask


def _label_rows(ax, data: SalientData, highlight, fontsize: float) -> None:
    """Prompt-token tick labels; highlighted (instruction) rows bold and blue."""
    ax.set_yticklabels([token_label(t) for t in data.prompt_tokens], fontsize=fontsize)
    if highlight is not None:
        for label, on in zip(ax.get_yticklabels(), highlight):
            if on:
                label.set_fontweight("bold")
                label.set_color("navy")


def _draw_map(ax, data: SalientData, vmax: int, cmap: str, highlight=None,
              show_prompt_labels: bool = True):
    """Draw the heat map on ``ax``; return the AxesImage."""
    image = ax.imshow(data.S, aspect="auto", cmap=cmap, vmin=0, vmax=vmax,
                      interpolation="nearest")
    n, m = data.S.shape
    fig_w, fig_h = ax.figure.get_size_inches()
    ax.set_xticks(range(m))
    ax.set_xticklabels([token_label(t) for t in data.response_tokens], rotation=90,
                       fontsize=_tick_fontsize(m, fig_w * ax.get_position().width))
    if show_prompt_labels:
        ax.set_yticks(range(n))
        _label_rows(ax, data, highlight, _tick_fontsize(n, fig_h * ax.get_position().height))
    else:
        ax.set_yticks([])
    ax.tick_params(length=0)
    ax.set_xlabel("response token")
    return image


_MARGINS = dict(left=1.2, right=1.1, top=0.9, bottom=1.0, gap=0.3)  # inches


def _map_figure(n_rows: int, col_counts: Sequence[int]):
    """Figure with one heat-map axes per entry of ``col_counts`` plus a colour-bar axes.

    Fixed inch margins instead of constrained layout (which measures every tick
    label several times: seconds for a 180-token prompt). ~0.1 in per row and
    column, the whole figure capped at 16 x 16 in. Returns (fig, axes, cax).
    """
    import matplotlib.pyplot as plt

    g = _MARGINS
    cols = [max(c, 8) for c in col_counts]
    panel_w = min(sum(cols) * 0.1, 16.0 - g["left"] - g["right"] - g["gap"] * (len(cols) - 1))
    map_h = min(max(n_rows * 0.1, 2.0), 16.0 - g["top"] - g["bottom"])
    width = g["left"] + panel_w + g["gap"] * (len(cols) - 1) + g["right"]
    height = g["top"] + map_h + g["bottom"]
    fig = plt.figure(figsize=(width, height))
    x, axes = g["left"], []
    for c in cols:
        w = panel_w * c / sum(cols)
        axes.append(fig.add_axes((x / width, g["bottom"] / height, w / width, map_h / height)))
        x += w + g["gap"]
    bar_h = min(map_h, 4.0)
    cax = fig.add_axes(((x - g["gap"] + 0.2) / width,
                        (g["bottom"] + (map_h - bar_h) / 2) / height, 0.18 / width, bar_h / height))
    return fig, axes, cax


def _prepared(case, L: int, b: int, mode: str, max_response_tokens, title=None, tokens=(None,
              None)) -> tuple[SalientData, str]:
    """Validate, re-normalise and truncate one map: (data, truncation note)."""
    data = as_salient_data(case, tokens[0], tokens[1], title)
    scaled = SalientData(rescale(data.S, L, b, mode), data.prompt_tokens,
                         data.response_tokens, data.title)
    return _truncate(scaled, max_response_tokens)


def salient_map(case_or_S, prompt_tokens=None, response_tokens=None, *, L: int = 10,
                b: int = 0, mode: str = "threshold", ax=None,
                max_response_tokens: int | None = None, highlight=None,
                cmap: str = "Reds", title: str | None = None, colorbar: bool = True):
    """Heat map of S (rows prompt tokens, columns response tokens), colour bar 0..L.

    ``case_or_S`` is a Case (with S (N, M), prompt_tokens, response_tokens) or an
    (N, M) array with the two token lists. The released map (L=10, b=0) is
    re-normalised by :func:`rescale` for other L, b and ``mode`` (the colour bar
    runs 0..L, or 0..L-b in "subtract" mode). ``max_response_tokens`` keeps the
    first K columns and says so in the title; ``highlight`` (N,) bool marks
    instruction rows (bold blue labels). Returns the Figure.
    """
    data, note = _prepared(case_or_S, L, b, mode, max_response_tokens, title,
                           (prompt_tokens, response_tokens))
    highlight = _check_highlight(highlight, data.S.shape[0])
    cax = None
    if ax is None:
        fig, (ax,), cax = _map_figure(data.S.shape[0], [data.S.shape[1]])
    else:
        fig = ax.figure
    image = _draw_map(ax, data, _vmax(L, b, mode), cmap, highlight)
    ax.set_ylabel("prompt token")
    heading = f"{data.title}  (L={L}, b={b})" if data.title else f"L={L}, b={b}"
    ax.set_title(f"{heading}\n[{note}]" if note else heading)
    if colorbar or cax is not None:
        _colorbar(fig, image, L, b, mode, ax=None if cax is not None else ax, cax=cax)
    return fig


def salient_pair(llama_case, vicuna_case, *, L: int = 10, b: int = 0, mode: str = "threshold",
                 max_response_tokens: int | None = None, highlight=None, cmap: str = "Reds",
                 labels: Sequence[str] = ("LLaMA (pre-trained)", "Vicuna (instruction-tuned)")):
    """LLaMA beside Vicuna for one prompt (Fig 1 style), one shared colour bar.

    Both cases must hold the same prompt (same N prompt tokens); their responses
    differ, so each panel has its own column axis (M_llama, M_vicuna). Other
    arguments as in :func:`salient_map`. Returns the Figure: two heat-map axes
    plus the colour-bar axis.
    """
    panels = [_prepared(case, L, b, mode, max_response_tokens, label)
              for case, label in zip((llama_case, vicuna_case), labels)]
    n = panels[0][0].S.shape[0]
    if panels[1][0].S.shape[0] != n:
        raise ParameterError(
            f"the two cases have different prompts ({n} vs {panels[1][0].S.shape[0]} "
            f"prompt tokens); a salient pair needs the same prompt")
    highlight = _check_highlight(highlight, n)
    # no sharey: shared y ticks would build N Tick objects twice (slow for long prompts)
    fig, axes, cax = _map_figure(n, [data.S.shape[1] for data, _ in panels])
    for ax, (data, note), first in zip(axes, panels, (True, False)):
        image = _draw_map(ax, data, _vmax(L, b, mode), cmap, highlight, first)
        ax.set_title(f"{data.title}\n[{note}]" if note else data.title)
    axes[0].set_ylabel("prompt token")
    case_id = getattr(vicuna_case, "id", "")
    fig.suptitle(f"{case_id}  (L={L}, b={b})".strip())
    _colorbar(fig, image, L, b, mode, cax=cax)
    return fig


def instruction_rows(case) -> np.ndarray:
    """(N,) bool mask of the case's instruction tokens (annotated sentences).

    Uses the frozen prompts/annotations (``paperlib.paper.data.load_prompts``) and
    ``paperlib.measures.align.instruction_mask``; raises UnknownCaseError for an id
    without a prompt.
    """
    from paperlib.measures.align import instruction_mask
    from paperlib.paper.data import load_prompts
    from paperlib.core.errors import UnknownCaseError

    prompts = load_prompts().set_index("id")
    if case.id not in prompts.index:
        raise UnknownCaseError(f"no prompt/annotation for case id {case.id!r}")
    row = prompts.loc[case.id]
    return instruction_mask(case.prompt_tokens, row["prompt"], row["annotation"], case.id)


def case_figure(case_id: str, model: str = "both", source=None, *, L: int = 10, b: int = 0,
                mode: str = "threshold", max_response_tokens: int | None = 60,
                highlight_instruction: bool = True):
    """Load ``case_id`` and draw its map: ``model`` "llama", "vicuna" or "both" (pair).

    Unknown ids raise the data layer's UnknownCaseError. Instruction rows are
    labelled bold blue unless ``highlight_instruction`` is False. Returns the Figure.
    """
    from paperlib.paper.data import load_case

    if model not in ("llama", "vicuna", "both"):
        raise ParameterError(f"model must be 'llama', 'vicuna' or 'both', got {model!r}")
    models = ("llama", "vicuna") if model == "both" else (model,)
    cases = [load_case(m, case_id, source) for m in models]
    mask = instruction_rows(cases[0]) if highlight_instruction else None
    style = dict(L=L, b=b, mode=mode, max_response_tokens=max_response_tokens, highlight=mask)
    if model == "both":
        return salient_pair(*cases, **style)
    return salient_map(cases[0], **style)


def case_gallery(case_ids: Sequence[str], source=None, **style) -> list:
    """One :func:`case_figure` (LLaMA beside Vicuna) per id; ``style`` as there."""
    return [case_figure(cid, "both", source, **style) for cid in case_ids]


# --------------------------------------------------------------------------
# Summary figures (Tables 1-2, sensitivity, Fig 6) from tidy DataFrames.


# Summary figures live in their own module; re-exported so ``plots.X`` works.
from paperlib.book.summary_plots import (  # noqa: E402,F401
    MODEL_COLOURS, SEGMENT_LABELS, comparison_table, fig6_figure, sensitivity_figure,
    table_figure,
)
