"""The explorer widgets: anywidget classes whose front-ends compute in the browser.

Front-ends are ES modules in ``static/`` (package data). Each widget's module is
one bundle (:func:`esm_source`): the files of :data:`BUNDLES` concatenated, their
relative ``import`` lines dropped (anywidget loads a module from a string, so
it cannot resolve relative imports; the files keep them so that each is also a
valid module on its own, which the tests import in node).

**Static pages.** In the built book, html-manager (vendored) asks RequireJS for
the module ``anywidget``; the book's ``_static/widget-support.js`` (loaded before
RequireJS on every page with widgets) maps that name to
``_static/vendor/anywidget/index.js`` (vendored by ``tools/vendor_assets.sh`` from
the pinned anywidget wheel), so a widget displays as any ipywidget, with nothing
page-specific in its output. In Jupyter, anywidget's own front-end loads it.
"""
from __future__ import annotations

import functools
import math
import re
from pathlib import Path

import anywidget
import traitlets

from paperlib.core.errors import ParameterError, check_count, check_range

STATIC = Path(__file__).resolve().parent / "static"
BUNDLES = {
    "finding1": ("common.js", "stats.js", "finding1_compute.js", "finding1_maps.js",
                 "finding1_view.js"),
    "pairs": ("common.js", "pairs.js"),
    "concepts": ("common.js", "concepts.js"),
}
_RELATIVE_IMPORT = re.compile(r'^import \{[^}]*\} from "\./[\w.]+\.js";[ \t]*\n', re.MULTILINE)
SECTIONS = ("maps", "tables", "profile", "grid")
P_CHOICES = ("1", "2", "4", "8", "inf")


@functools.lru_cache(maxsize=None)
def esm_source(name: str) -> str:
    """The ES module text of widget ``name`` (a key of :data:`BUNDLES`)."""
    if name not in BUNDLES:
        raise ParameterError(f"no explorer front-end {name!r}; known: {sorted(BUNDLES)}")
    parts = []
    for file in BUNDLES[name]:
        text = _RELATIVE_IMPORT.sub("", (STATIC / file).read_text(encoding="utf-8"))
        if re.search(r"^\s*import\b", text, re.MULTILINE):
            raise ParameterError(f"{file}: an import the bundler cannot drop (one line, "
                                 "named imports from './x.js' only)")
        parts.append(f"// ---- {file}\n{text}")
    return "\n".join(parts)


@functools.lru_cache(maxsize=None)
def css_source() -> str:
    return (STATIC / "explorer.css").read_text(encoding="utf-8")


class _BrowserWidget(anywidget.AnyWidget):
    """Base: one compressed data blob (``data``)."""

    _css = css_source()
    data = traitlets.Bytes(b"").tag(sync=True)


def _p_trait(p) -> str:
    if isinstance(p, str):
        p = math.inf if p.strip().lower() in ("inf", "∞") else float(p)
    check_range("p", p, 1, None, allow_inf=True)
    text = "inf" if math.isinf(p) else f"{p:g}"
    if text not in P_CHOICES:
        raise ParameterError(f"p={p} is not one of the explorer's norms {P_CHOICES}")
    return text


class Finding1Explorer(_BrowserWidget):
    """Every case of the paper data, and Finding 1's statistics at any (b, p).

    ``sections``: any of :data:`SECTIONS` — ``maps`` (case search, LLaMA beside
    Vicuna heat maps with token labels and hover), ``tables`` (Tables 1-2 with
    the paper's numbers), ``profile`` (Fig 6), ``grid`` (the sensitivity grid
    with the paper's (b, p) marked). ``b`` (0..10), ``p`` (1, 2, 4, 8, "inf")
    and ``case_id`` follow the reader's choices (and can be set from Python).
    ``columns``: response tokens shown per map at first (30, 60 or 120);
    ``map_columns``: how many are packed (<= 300). ``source``: None for the
    frozen paper data, or a live case-set folder (same case ids for both models).
    """

    _esm = esm_source("finding1")
    sections = traitlets.List(traitlets.Unicode(), list(SECTIONS)).tag(sync=True)
    case_id = traitlets.Unicode("user_oriented_task_1").tag(sync=True)
    b = traitlets.Int(7).tag(sync=True)
    p = traitlets.Union([traitlets.Unicode(), traitlets.Float()], default_value="4").tag(sync=True)
    columns = traitlets.Int(60).tag(sync=True)

    def __init__(self, source=None, *, case_id: str | None = None, b: int = 7, p=4,
                 sections=SECTIONS, columns: int = 60, map_columns: int = 120):
        from paperlib.book.explorer.finding1_data import packed
        from paperlib.paper.data import load_case

        bad = sorted(set(sections) - set(SECTIONS))
        if bad or not sections:
            raise ParameterError(f"sections must be a non-empty subset of {SECTIONS}, "
                                 f"got {list(sections)}")
        check_count("b", b, 0, 10)
        check_count("columns", columns, 1, map_columns)
        if case_id is not None:
            load_case("vicuna", case_id, source)  # UnknownCaseError with suggestions
        super().__init__(data=packed(source, map_columns), sections=list(sections),
                         b=int(b), p=_p_trait(p), columns=int(columns),
                         case_id=case_id or "")

    @traitlets.validate("b")
    def _valid_b(self, proposal):
        return check_count("b", proposal["value"], 0, 10)

    @traitlets.validate("p")
    def _valid_p(self, proposal):
        return _p_trait(proposal["value"])


def _check_layer(layer: int, explained: list[int]) -> None:
    if layer not in explained:
        raise ParameterError(f"layer {layer} (0-based) was not explained; explained: {explained}")


class PairBrowser(_BrowserWidget):
    """Word pairs of any explained layer and head, pre-trained beside tuned; pairs
    only in the tuned list are highlighted as gained, only in the pre-trained
    list as lost. ``att``: {"pt"|"ft": {layer: AttentionPairs}}; ``top``: pairs
    listed at first (the reader can show all)."""

    _esm = esm_source("pairs")
    layer = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(0).tag(sync=True)
    top = traitlets.Int(20).tag(sync=True)

    def __init__(self, att: dict, *, layer: int | None = None, head: int = 0, top: int = 20):
        from paperlib.book.explorer.binpack import pack
        from paperlib.book.explorer.finding23_data import pairs_arrays

        meta, arrays = pairs_arrays(att)
        layer = meta["layers"][0] if layer is None else layer
        _check_layer(layer, meta["layers"])
        check_count("head", head, 0, meta["heads"] - 1)
        check_count("top", top, 1)
        super().__init__(data=pack(meta, arrays), layer=int(layer), head=int(head), top=int(top))


class ConceptBrowser(_BrowserWidget):
    """Concepts of any explained FFN layer and component, pre-trained beside tuned:
    explained variance, top words, the annotator's labels (first seed) and the
    rule that fired. ``concepts``: {"pt"|"ft": {layer: FFNConcepts}}; ``ann``: the
    annotation table (``paperlib.paper.finding3.annotate_concepts``); ``top``:
    components listed at first."""

    _esm = esm_source("concepts")
    layer = traitlets.Int(0).tag(sync=True)
    top = traitlets.Int(40).tag(sync=True)

    def __init__(self, concepts: dict, ann, *, layer: int | None = None, top: int = 40):
        from paperlib.book.explorer.binpack import pack
        from paperlib.book.explorer.finding23_data import concepts_arrays

        meta, arrays = concepts_arrays(concepts, ann)
        layer = meta["layers"][0] if layer is None else layer
        _check_layer(layer, meta["layers"])
        check_count("top", top, 1)
        super().__init__(data=pack(meta, arrays), layer=int(layer), top=int(top))
