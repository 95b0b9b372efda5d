"""Check the kernel-free explorer widgets of the built book in headless Chromium.

``make browser-check`` runs it after ``tools/browser_check.py``. With Debian
chromium and the vendored playwright-core (``tools/browser_widgets.cjs``) it

1. opens the Finding 1 explorer page served from 127.0.0.1 (gzip, as static
   hosts serve), selects three cases (:data:`CASES`, ``lima_author_144`` among
   them), sets (b, p) to each of :data:`SETTINGS` through the page's own
   controls, reads every number the page shows (its exact value is the cell's
   ``data-value``) and compares it with ``paperlib`` computed here at the same
   parameters: Tables 1-2 (means, stds to 1e-9 relative, n exactly, Welch
   one-sided p to 1e-6 relative), the Fig 6 shares, the case's instruction scores,
   the sensitivity grid's p-values;
2. hovers one heat-map cell and checks the tooltip's S and instruction flag;
3. times the slider's handler (recompute + redraw) over b = 0..10: each must
   take < 300 ms;
4. opens the same page from ``file://`` and checks one setting again;
5. opens the Finding 2 / 3 browsers, picks their last layer, and checks the
   numbers shown against the data packed into the page, recomputed in Python;
6. weighs the pages (bytes on the wire with gzip, and decoded): each <= 6 MB on
   the wire;
7. fails on any console error, page error, request that leaves the machine
   or fails.

Screenshots of the explorer at two settings and of the browsers go to
``_build/browser-check/``, the comparison table and timings to
``_build/browser-check/widgets.json``. Exit status 0 when all hold, else 1.
"""
from __future__ import annotations

import argparse
import gzip
import http.server
import io
import json
import sys
from pathlib import Path
from urllib.parse import urlsplit

TOOLS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS_DIR))

import browser_check  # noqa: E402  (sibling module: chromium, playwright, flags)
from browser_widgets_expected import (browser_rows, compare, hover_problems,  # noqa: E402
                                      hover_target, page_blob, shown_mismatches)
from paperlib.core.io import atomic_write_text  # noqa: E402

REPO_ROOT = TOOLS_DIR.parent
EXPLORER = "book/notebooks/finding1_explorer.html"
BROWSERS = (("book/notebooks/fig2_table3_attention_pairs.html", "PairBrowser"),
            ("book/notebooks/table5_fig3_ffn_concepts.html", "ConceptBrowser"))
WEIGHED = (EXPLORER, "book/notebooks/fig1_salient_maps.html") + tuple(p for p, _ in BROWSERS)
CASES = ("lima_author_144", "user_oriented_task_1", "mtbench_stem_144")
SETTINGS = ((7, "4"), (5, "2"), (0, "1"), (9, "inf"))
SHOTS = {("lima_author_144", 7, "4"): "explorer_b7_p4.png",
         ("lima_author_144", 0, "1"): "explorer_b0_p1.png"}
BUDGET_BYTES = 6_000_000
TIME_BUDGET_MS = 300.0
GZIP_TYPES = (".html", ".js", ".css", ".json", ".svg", ".txt", ".map", ".cjs", ".mjs")


class _GzipHandler(http.server.SimpleHTTPRequestHandler):
    """Static files, gzip-encoded for text types when the browser accepts it."""

    cache: dict = {}

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        pass

    def send_head(self):
        path = Path(self.translate_path(self.path))
        gz = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (gz and path.is_file() and path.suffix in GZIP_TYPES):
            return super().send_head()
        body = self.cache.get(path)
        if body is None:
            body = self.cache[path] = gzip.compress(path.read_bytes(), 6)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)


def serve(directory: Path):
    """Serve ``directory`` gzip-compressed (as static hosts do), via browser_check's server."""
    return browser_check.serve(directory, _GzipHandler)


# ---- running it ----------------------------------------------------------------------

def node_config(html_dir: Path, base: str, out: Path, timeout: float) -> dict:
    specs = []
    for path, widget in BROWSERS:
        spec = {"path": path, "shot": str(out / f"{widget.lower()}.png")}
        if widget == "PairBrowser":
            meta, _ = page_blob(html_dir / path, widget)
            spec["head"] = min(3, meta["heads"] - 1)
        specs.append(spec)
    return {"chromium": browser_check.ensure_chromium(), "flags": browser_check.CHROMIUM_FLAGS,
            "base": base, "fileBase": html_dir.resolve().as_uri() + "/", "explorer": EXPLORER,
            "cases": list(CASES), "settings": [list(s) for s in SETTINGS], "hover": hover_target(),
            "screenshots": [{"case": c, "b": b, "p": p, "path": str(out / name)}
                            for (c, b, p), name in SHOTS.items()],
            "fullShot": str(out / "explorer_page.png"), "browsers": specs,
            "weights": list(WEIGHED), "timeoutMs": int(timeout * 1000)}


def page_errors(name: str, part: dict) -> list[str]:
    """Every console error and page error of one opened page (none is tolerated)."""
    return ([f"{name}: console error: {e}" for e in part.get("consoleErrors", [])]
            + [f"{name}: page error: {e}" for e in part.get("pageErrors", [])])


def weight_rows(result: dict) -> list[dict]:
    rows = []
    for w in result["weights"]:
        html = [r for r in w["rows"] if urlsplit(r["url"]).path.endswith(w["path"])]
        rows.append({"page": w["path"], "requests": len(w["rows"]),
                     "transferred": sum(max(r["transferred"], 0) for r in w["rows"]),
                     "decoded": sum(r["raw"] for r in w["rows"]),
                     "html_transferred": sum(max(r["transferred"], 0) for r in html),
                     "html_decoded": sum(r["raw"] for r in html)})
    return rows


def problems_of(result: dict, rows: list[dict], weights: list[dict], base: str,
                hover: dict) -> list[str]:
    ex = result["explorer"]
    out = [f"{r['case']} b={r['b']} p={r['p']} {r['key']}: page {r['page']!r}, "
           f"python {r['python']!r}" for r in rows if not r["ok"]]
    out += [f"shown: {m}" for reading in ex["readings"] for m in shown_mismatches(reading)]
    out += hover_problems(ex["tip"], hover)
    out += [f"changing b to {s['b']} took {s['handler']:.1f} ms (budget {TIME_BUDGET_MS:.0f} ms)"
            for s in ex["sweep"] if s["handler"] > TIME_BUDGET_MS]
    out += [f"{w['page']}: {w['transferred'] / 1e6:.2f} MB on the wire "
            f"(budget {BUDGET_BYTES / 1e6:.0f} MB)"
            for w in weights if w["transferred"] > BUDGET_BYTES]
    out += page_errors("explorer", ex) + page_errors("explorer from file://", result["file"])
    for part in result["browsers"]:
        out += page_errors(part["path"], part)
    served = {"requests": [u for u in result["net"]["requests"] if not u.startswith("file:")],
              "failures": result["net"]["failures"]}
    out += browser_check.network_problems(served, base)
    local = (base, "file:", *browser_check.LOCAL_SCHEMES)
    remote = {r["url"] for w in result["weights"] for r in w["rows"]
              if not r["url"].startswith(local)}
    remote |= {u for u in result["net"]["requests"] if not u.startswith(local)}
    out += [f"request left the machine: {u}" for u in sorted(remote)]
    return out


def file_rows(result: dict) -> list[dict]:
    """The file:// reading, compared like the served ones."""
    f = result["file"]
    return compare({"case": f["case"], "b": f["b"], "p": f["p"], "values": f["values"]})


def print_report(rows: list[dict], result: dict, weights: list[dict]) -> None:
    print(f"{'case':<22}{'b':>3} {'p':>4}  {'number':<42}{'page':>24}{'python':>24}"
          f"{'rel. diff':>10}  ok")
    for r in rows:
        if r["key"].startswith(("table", "case.", "pairs", "concepts")) or r["key"].endswith(".1"):
            print(f"{r['case']:<22}{r['b']!s:>3} {r['p']:>4}  {r['key']:<42}{r['page']!r:>24}"
                  f"{r['python']!r:>24}{r['rel']:>10.1e}  {'ok' if r['ok'] else 'FAIL'}")
    ex = result["explorer"]
    handler = sorted(s["handler"] for s in ex["sweep"])
    recompute = sorted(s["recompute"] for s in ex["sweep"])
    print(f"browser_widgets: {len(rows)} numbers compared, {sum(not r['ok'] for r in rows)} differ")
    print(f"browser_widgets: explorer ready {ex['readyMs']} ms after navigation (served), "
          f"{result['file']['readyMs']} ms from file://; in the page: data decoded and first "
          f"tables drawn in {ex['opened']['openMs']:.1f} ms, of which the computation "
          f"{ex['opened']['recomputeMs']:.1f} ms")
    print(f"browser_widgets: changing b: handler median {handler[len(handler) // 2]:.1f} ms, "
          f"max {handler[-1]:.1f} ms; table recomputation median "
          f"{recompute[len(recompute) // 2]:.1f} ms, max {recompute[-1]:.1f} ms")
    for w in weights:
        print(f"browser_widgets: {w['page']}: {w['requests']} requests, "
              f"{w['transferred'] / 1e6:.2f} MB on the wire (gzip), "
              f"{w['decoded'] / 1e6:.2f} MB decoded; the HTML itself "
              f"{w['html_transferred'] / 1e6:.2f} / {w['html_decoded'] / 1e6:.2f} MB")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return browser_check.base_parser("Headless-Chromium check of the explorer widgets.",
                                     120.0).parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        for rel in (EXPLORER, *(p for p, _ in BROWSERS)):
            if not (args.html_dir / rel).is_file():
                raise browser_check.BrowserCheckError(
                    f"{args.html_dir / rel} does not exist (run make book first)")
        browser_check.ensure_playwright()
        args.out.mkdir(parents=True, exist_ok=True)
        with serve(args.html_dir) as base:
            config = node_config(args.html_dir, base, args.out, args.timeout)
            result = browser_check.run_node(TOOLS_DIR / "browser_widgets.cjs", config,
                                            timeout_s=args.timeout * 12)
    except browser_check.BrowserCheckError as exc:
        print(f"browser_widgets: ERROR: {exc}", file=sys.stderr)
        return 1
    rows = [r for reading in result["explorer"]["readings"] for r in compare(reading)]
    rows += file_rows(result)
    for part, (_, widget) in zip(result["browsers"], BROWSERS):
        rows += browser_rows(args.html_dir, part, widget)
    weights = weight_rows(result)
    problems = problems_of(result, rows, weights, base, config["hover"])
    report = {"rows": rows, "weights": weights, "sweep": result["explorer"]["sweep"],
              "ready_ms": {"served": result["explorer"]["readyMs"],
                           "file": result["file"]["readyMs"]},
              "opened": result["explorer"]["opened"],
              "screenshots": result["explorer"]["shots"] + [s["shot"] for s in config["browsers"]],
              "tip": result["explorer"]["tip"], "problems": problems}
    atomic_write_text(args.out / "widgets.json", json.dumps(report, indent=2, default=str) + "\n")
    print_report(rows, result, weights)
    return browser_check.report_outcome("browser_widgets", problems, [],
                                        f"screenshots and widgets.json in {args.out}")


if __name__ == "__main__":
    sys.exit(main())
