"""What a reader would trip on, judged from what headless Chromium measured on a page.

``tools/browser_check.py`` collects, per page (``LAYOUT_JS`` runs in the page):

* ``wide``: every output, table, figure or image of the article whose content is
  wider than its box (``scrollWidth > clientWidth``: a horizontal scroll bar) or
  whose box is wider than the content column;
* ``images``: every displayed image with its natural and displayed width and
  whether it is an SVG;
* ``text``: the article's text without the (collapsed) code cells' source.

The functions here turn that into problems (pure Python, tested in
``tests/test_browser_layout.py``): overflowing outputs, raster images shown at
less than 90% of their natural width (blurry, shrunk text), reprs such as
``PosixPath(``, absolute file-system paths (the checkout's location above all),
tracebacks, Python warnings printed into an output and internal issue numbers.
"""
from __future__ import annotations

import re
from typing import Iterable

MIN_IMAGE_SCALE = 0.9   # a raster image must be shown at >= 90% of its natural width
SLACK_PX = 1            # rounding of layout widths

# Runs in the page (a function expression: playwright's page.evaluate ships it alone).
LAYOUT_JS = r"""() => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main')
                  || document.body;
  const column = article.clientWidth;
  const shown = (el) => el.getClientRects().length > 0 && !el.closest('details:not([open])');
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (typeof el.className === 'string' && el.className.trim()
       ? '.' + el.className.trim().split(/\s+/).slice(0, 2).join('.') : '');
  const where = (el) => {
    const sec = el.closest('section');
    const h = sec && sec.querySelector('h1, h2, h3');
    return h ? h.textContent.replace(/[#¶]/g, '').trim().slice(0, 70) : '';
  };
  const wide = [];
  const sel = '.cell_output, .cell_output .output, pre, table, figure, img, .pl-table-box';
  for (const el of article.querySelectorAll(sel)) {
    if (!shown(el)) continue;
    const width = el.getBoundingClientRect().width;
    const scroll = el.scrollWidth - el.clientWidth;
    if (scroll > 1 || width > column + 1) {
      wide.push({what: name(el), scrollWidth: el.scrollWidth, clientWidth: el.clientWidth,
                 width: Math.round(width), column, section: where(el)});
    }
  }
  const images = [];
  for (const img of article.querySelectorAll('img')) {
    if (!shown(img) || img.naturalWidth === 0) continue;
    const src = img.currentSrc || img.src || '';
    images.push({src: src.slice(0, 100), natural: img.naturalWidth,
                 displayed: Math.round(img.getBoundingClientRect().width),
                 svg: src.startsWith('data:image/svg+xml') || /\.svg(\?|#|$)/i.test(src),
                 section: where(img)});
  }
  const clone = article.cloneNode(true);
  clone.querySelectorAll('.cell_input, script, style, .headerlink, .toggle-details__summary')
       .forEach((e) => e.remove());
  return {column, wide, images, text: clone.textContent};
}"""

REPRS = re.compile(
    r"PosixPath\(|WindowsPath\(|PurePath\(|<Figure size [\d.]+x[\d.]+ with \d+ Axes>"
    r"|<[A-Za-z_][\w.]* object at 0x[0-9a-fA-F]+>|<IPython\.core\.display\.\w+ object>"
    r"|<pandas\.io\.formats\.style\.Styler")
ABS_PATH = re.compile(r"(?<![\w.~/-])/(?:home|root|tmp|work|Users|var/folders|mnt|opt/conda)"
                      r"/[^\s'\"<>)\]]*")
ISSUE = re.compile(r"\bissues?\s*(?:#\s*)?\d+\b", re.IGNORECASE)
TRACEBACK = re.compile(r"\bTraceback\b")
WARNING = re.compile(r"\b[A-Z]\w*Warning: ")


def _context(text: str, start: int, end: int, width: int = 40) -> str:
    snippet = text[max(0, start - width): end + width]
    return " ".join(snippet.split())


def text_problems(text: str, forbidden: Iterable[str] = ()) -> list[str]:
    """Reprs, absolute paths (``forbidden`` strings first: the checkout's location),
    tracebacks, printed warnings and issue numbers in a page's reader-visible text, each with its
    context; one entry per kind and distinct match."""
    found: dict[str, str] = {}
    for needle in (f for f in forbidden if f):
        i = text.find(needle)
        if i >= 0:
            found.setdefault(f"checkout path {needle}",
                             f"the checkout's location ({needle}) in: …{_context(text, i, i + len(needle))}…")
    for kind, rx in (("repr", REPRS), ("absolute path", ABS_PATH), ("traceback", TRACEBACK),
                     ("warning", WARNING), ("issue number", ISSUE)):
        for m in rx.finditer(text):
            key = f"{kind} {m.group(0)}"
            if kind == "absolute path" and any(m.group(0).startswith(f) or f.startswith(m.group(0))
                                               for f in forbidden if f):
                continue
            found.setdefault(key, f"{kind} {m.group(0)!r} in: …{_context(text, m.start(), m.end())}…")
    return list(found.values())


def wide_problems(wide: list[dict]) -> list[str]:
    """One line per element wider than the column or scrolling sideways."""
    out = []
    for w in wide:
        why = (f"scrolls sideways ({w['scrollWidth']} px of content in {w['clientWidth']} px)"
               if w["scrollWidth"] - w["clientWidth"] > SLACK_PX else
               f"is {w['width']} px wide, the column {w['column']} px")
        out.append(f"{w['what']} {why}" + (f" [section: {w['section']}]" if w.get("section") else ""))
    return out


def image_problems(images: list[dict], min_scale: float = MIN_IMAGE_SCALE) -> list[str]:
    """Raster images shown at less than ``min_scale`` of their natural width (SVG exempt)."""
    out = []
    for img in images:
        if img["svg"] or img["natural"] <= 0:
            continue
        scale = img["displayed"] / img["natural"]
        if scale < min_scale:
            out.append(f"image shown at {scale:.0%} of its natural width ({img['displayed']} of "
                       f"{img['natural']} px): {img['src'][:60]}"
                       + (f" [section: {img['section']}]" if img.get("section") else ""))
    return out


def layout_problems(where: str, layout: dict, forbidden: Iterable[str] = ()) -> list[str]:
    """Every layout and text problem of one page, prefixed with the page's path."""
    problems = (wide_problems(layout["wide"]) + image_problems(layout["images"])
                + text_problems(layout["text"], forbidden))
    return [f"{where}: {p}" for p in problems]
