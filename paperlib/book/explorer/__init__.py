"""Kernel-free widgets: they compute in the reader's browser.

Each widget is an ``anywidget.AnyWidget``: in Jupyter it is an ordinary ipywidget
(its front-end, an ES module shipped in ``static/``, runs in the notebook page);
in the built book the same front-end runs from the widget state embedded in the
page (the vendored ipywidgets html-manager loads anywidget's AMD build). The
data travels once, as one compressed binary blob per widget
(:mod:`paperlib.book.explorer.binpack`), and every number is computed by the
page's JavaScript: no kernel is needed.

* :class:`Finding1Explorer`: every case of the paper data as LLaMA / Vicuna heat
  maps; Tables 1-2, the Fig 6 profile and the sensitivity grid at any (b, p).
* :class:`PairBrowser`: word pairs of any layer and head, pre-trained beside tuned.
* :class:`ConceptBrowser`: FFN concepts of any layer and component.
"""
from paperlib.book.explorer.widgets import (ConceptBrowser, Finding1Explorer, PairBrowser,
                                            esm_source)

__all__ = ["ConceptBrowser", "Finding1Explorer", "PairBrowser", "esm_source"]
