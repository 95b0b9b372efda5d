"""The pure-Python judgements of the browser check (tools/browser_layout.py) on
hand-made measurements; the browser run itself is ``make browser-check``."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import browser_layout as bl  # noqa: E402

CHECKOUT = "/srv/checkout/paperlib"


def test_text_problems_find_reprs_paths_tracebacks_and_issue_numbers():
    text = ("Case sets: PosixPath('/srv/checkout/paperlib/results/x.npz') and "
            "<Figure size 640x480 with 2 Axes> and <paperlib.models.pair.LivePair object at 0x7f00ab> "
            "Traceback (most recent call last): ... as agreed in issue 4 and Issue #12. "
            "A cache in /root/.cache/paperlib/x. UserWarning: Glyph 9251 missing")
    found = bl.text_problems(text, [CHECKOUT])
    kinds = " ".join(found)
    assert "the checkout's location (/srv/checkout/paperlib)" in kinds
    assert "repr 'PosixPath('" in kinds and "<Figure size 640x480 with 2 Axes>" in kinds
    assert "object at 0x7f00ab>" in kinds and "traceback 'Traceback'" in kinds
    assert "issue number 'issue 4'" in kinds and "issue number 'Issue #12'" in kinds
    assert "absolute path '/root/.cache/paperlib/x.'" in kinds
    assert "warning 'UserWarning: '" in kinds


def test_text_problems_leave_ordinary_prose_alone():
    text = ("The licences come from /usr/share/doc/<package>/copyright; see data/organism/"
            "manifest.json and https://example.org/work/x. Tissue 4 and issues remain; "
            "the model prints True when asked.")
    assert bl.text_problems(text, [CHECKOUT]) == []


def test_wide_problems_report_sideways_scroll_and_overwide_boxes():
    wide = [{"what": "div.output", "scrollWidth": 900, "clientWidth": 784, "width": 784,
             "column": 784, "section": "Table 1"},
            {"what": "table", "scrollWidth": 800, "clientWidth": 800, "width": 800, "column": 784,
             "section": ""}]
    out = bl.wide_problems(wide)
    assert out[0] == "div.output scrolls sideways (900 px of content in 784 px) [section: Table 1]"
    assert out[1] == "table is 800 px wide, the column 784 px"


def test_image_problems_spare_svg_and_images_shown_at_their_size():
    images = [{"src": "a.png", "natural": 1000, "displayed": 784, "svg": False},
              {"src": "b.png", "natural": 800, "displayed": 784, "svg": False},
              {"src": "data:image/svg+xml;base64,x", "natural": 2000, "displayed": 784, "svg": True}]
    out = bl.image_problems(images)
    assert out == ["image shown at 78% of its natural width (784 of 1000 px): a.png"]


def test_layout_problems_prefix_the_page():
    layout = {"wide": [], "images": [], "text": "see issue 17"}
    assert bl.layout_problems("book/x.html", layout) == [
        "book/x.html: issue number 'issue 17' in: …see issue 17…"]


def test_layout_js_is_one_function_expression():
    js = bl.LAYOUT_JS.strip()
    assert js.startswith("() => {") and js.endswith("}")
    for key in ("scrollWidth", "clientWidth", "naturalWidth", "cell_input", "details:not([open])"):
        assert key in js
