"""Numbered, captioned figures and tables for the book's pages.

Every figure of a chapter goes through :func:`figure` and every table through
:func:`table`, so that a reader finds the same layout everywhere:

* a **label** that cannot be confused with the paper's numbering: a chapter
  letter and a number ("Figure S1", "Table D2"); the caption says which item of
  the paper it reproduces;
* a **caption** and a **"What to look for"** line;
* figures as **SVG** (vector text, legible at any zoom), sized to the book's
  content column (:data:`COLUMN_IN` inches fill it), optionally
  click-to-enlarge (a CSS-only overlay, ``book/_static/paperlib-figures.css``);
* tables as plain HTML **without the DataFrame index**, never truncated,
  narrow enough for the column (long ones scroll vertically), with an optional
  collapsible block for secondary statistics.

Both return an :class:`IPython.display.HTML` object (displayed by the notebook).
"""
from __future__ import annotations

import base64
import html
import io
import re
from typing import Mapping

from paperlib.core.errors import ParameterError

#: Figure width (inches) that fills the book's content column (about 690-780 px).
COLUMN_IN = 7.2
#: Smallest font size (pt) used on figures that fill the column.
MIN_FONT_PT = 7.0
_LABEL = re.compile(r"^(Figure|Table) [A-Z]{1,2}\d{1,2}[a-z]?$")


def check_label(label: str) -> str:
    """``label`` if it is "Figure X1" / "Table X12" (a chapter letter, a number)."""
    if not isinstance(label, str) or not _LABEL.match(label):
        raise ParameterError(f"label must look like 'Figure S1' or 'Table D2' (chapter letters and "
                             f"a number, never the paper's own numbering), got {label!r}")
    return label


def _anchor(label: str) -> str:
    return "pl-" + re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def svg_bytes(fig, *, close: bool = True) -> bytes:
    """``fig`` as SVG: glyphs as paths (no font needed), deterministic ids, no date."""
    import matplotlib
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "paperlib"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight", pad_inches=0.05,
                    metadata={"Date": None, "Creator": None})
    if close:
        plt.close(fig)
    return buffer.getvalue()


def svg_size_px(svg: bytes) -> tuple[float, float]:
    """(width, height) in CSS px of an SVG written by matplotlib (sizes in pt)."""
    head = svg[:2000].decode("utf-8", "replace")
    found = {k: re.search(rf'\b{k}="([\d.]+)(pt|px)?"', head) for k in ("width", "height")}
    if not all(found.values()):
        raise ParameterError("the SVG has no width/height attributes")
    unit = {"pt": 4 / 3, "px": 1.0, None: 1.0}
    return tuple(float(m.group(1)) * unit[m.group(2)] for m in found.values())


def _caption_html(label: str, caption: str, look_for: str, extra: str = "") -> str:
    look = f' <span class="pl-look"><em>What to look for:</em> {look_for}</span>' if look_for else ""
    return f"<strong>{html.escape(label)}.</strong> {caption}{look}{extra}"


def figure_html(fig, label: str, caption: str, look_for: str, *, zoom: bool = False,
                alt: str | None = None, close: bool = True) -> str:
    """HTML ``<figure>`` of ``fig`` (SVG in an ``<img>``), label, caption, look-for line.

    ``caption`` and ``look_for`` are HTML (escape user text yourself). ``zoom``:
    clicking the figure opens it at nearly the window's width (for tall maps).
    The image is never wider than the column, and never shown larger than its
    own size unless zoomed.
    """
    check_label(label)
    if not caption or not look_for:
        raise ParameterError(f"{label}: a figure needs a caption and a 'what to look for' line")
    svg = svg_bytes(fig, close=close)
    width, _ = svg_size_px(svg)
    src = "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
    alt_text = html.escape(alt or f"{label}: {re.sub('<[^>]+>', '', caption)}", quote=True)
    img = (f'<img class="pl-img" src="{src}" alt="{alt_text}" '
           f'style="width:{width:.0f}px;max-width:100%;height:auto">')
    anchor = _anchor(label)
    if zoom:
        img = (f'<input type="checkbox" class="pl-zoom-toggle" id="{anchor}-zoom">'
               f'<label class="pl-zoom" for="{anchor}-zoom" title="click to enlarge / close">'
               f"{img}</label>")
    extra = ' <span class="pl-hint">(Click the figure to enlarge it; click again to close.)</span>' if zoom else ""
    return (f'<figure class="pl-figure" id="{anchor}">{img}'
            f"<figcaption>{_caption_html(label, caption, look_for, extra)}</figcaption></figure>")


def figure(fig, label: str, caption: str, look_for: str, *, zoom: bool = False,
           alt: str | None = None):
    """:func:`figure_html` as a displayable object (the Figure is closed)."""
    from IPython.display import HTML

    return HTML(figure_html(fig, label, caption, look_for, zoom=zoom, alt=alt))


def short_p(x) -> str:
    """A p-value to two significant digits for a sentence or a cell ("–" when undefined)."""
    import math

    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2g}"


def _mixed(x) -> str:
    """A cell of a mixed column: yes / no for booleans (never True / False on a page),
    floats to 6 significant digits, anything else as text."""
    import numbers

    if isinstance(x, (bool,)) or type(x).__name__ == "bool_":
        return "yes" if x else "no"
    if isinstance(x, numbers.Real) and not isinstance(x, numbers.Integral):
        return f"{x:.6g}"
    return str(x)


def _formatted(df, formats: Mapping[str, object] | None, na_rep: str, digits: int = 4) -> str:
    """``df`` as an HTML table: no index, every row, cells formatted and escaped
    (float columns to ``digits`` decimals unless ``formats`` says otherwise)."""
    fmt = {c: (f"{{:.{digits}f}}" if str(df[c].dtype).startswith("float") else _mixed)
           for c in df.columns}
    fmt.update(formats or {})
    styler = df.style.hide(axis="index").format(fmt, na_rep=na_rep, escape="html")
    return styler.to_html(exclude_styles=True)


def table_html(df, label: str, caption: str, *, formats: Mapping[str, object] | None = None,
               na_rep: str = "–", scroll: bool | None = None, note: str = "",
               details: tuple[str, object] | None = None, details_formats=None,
               digits: int = 4) -> str:
    """HTML of a numbered table: caption above, ``df`` without its index, every row.

    ``formats``: {column: format string or callable} (pandas Styler.format); float
    columns default to ``digits`` decimals.
    ``scroll``: a vertical scroll box (default: when ``df`` has more than 20
    rows). ``note``: HTML under the table. ``details``: (summary, second frame)
    shown in a collapsible block under the table (secondary statistics),
    formatted with ``details_formats``.
    """
    check_label(label)
    if df is None or len(df.columns) == 0:
        raise ParameterError(f"{label}: nothing to show (empty table)")
    scroll = len(df) > 20 if scroll is None else scroll
    body = _formatted(df, formats, na_rep, digits)
    box = "pl-table-box pl-scroll" if scroll else "pl-table-box"
    parts = [f'<div class="pl-table-wrap" id="{_anchor(label)}">',
             f'<p class="pl-caption">{_caption_html(label, caption, "")}</p>',
             f'<div class="{box}">{body}</div>']
    if note:
        parts.append(f'<p class="pl-note">{note}</p>')
    if details is not None:
        summary, frame = details
        parts.append(f"<details class=\"pl-details\"><summary>{html.escape(summary)}</summary>"
                     f'<div class="pl-table-box">{_formatted(frame, details_formats, na_rep, digits)}'
                     "</div></details>")
    parts.append("</div>")
    return "".join(parts)


def table(df, label: str, caption: str, **kw):
    """:func:`table_html` as a displayable object."""
    from IPython.display import HTML

    return HTML(table_html(df, label, caption, **kw))


def sentence(text: str):
    """A computed paragraph (Markdown) for the page."""
    from IPython.display import Markdown

    return Markdown(text)


def show(value, label: str | None = None, caption: str = "", look_for: str = "", *,
         keep_index: bool = False, **kw):
    """Display ``value`` the book's way: a DataFrame as a numbered :func:`table` (its
    index dropped, or made the first column with ``keep_index``), a Figure as a
    numbered :func:`figure`, a string as Markdown (nothing for an empty one).
    ``label`` / ``caption`` are needed for tables and figures."""
    import pandas as pd
    from IPython.display import Markdown, display

    if isinstance(value, str):
        if value:
            display(Markdown(value))
        return
    if label is None:
        raise ParameterError("show: a table or figure needs a label such as 'Table O1'")
    if isinstance(value, pd.DataFrame):
        frame = value.reset_index() if keep_index else value.reset_index(drop=True)
        frame.columns = ["" if str(c) == "index" else str(c) for c in frame.columns]
        display(table(frame, label, caption, **kw))
    elif hasattr(value, "savefig"):
        display(figure(value, label, caption, look_for, **kw))
    else:
        display(value)
