"""Open the built book in headless Chromium and check that it works offline.

``make browser-check`` runs this after ``make book``. It

1. installs Debian ``chromium`` if missing (``apt-get``, needs root) and
   playwright-core (``tools/vendor_assets.sh browser``, pinned npm tarball);
2. serves ``_build/html`` on ``127.0.0.1:<free port>`` (stopped at the end);
3. opens the Fig 1 page, the methods page and every other page under book/ in
   headless Chromium with a fresh profile and network-quiet flags, saves
   full-page screenshots to ``_build/browser-check/`` (``fig1.png``,
   ``methods.png``, ...), and asserts, after the page's JavaScript ran:

   * every widget placeholder became a rendered widget (``.widget-subarea``
     with ``.jupyter-widgets`` inside), none shows "Error displaying widget";
   * each jslink-ed Dropdown (per the page's widget state) changes the page
     when used, without a kernel; Dropdowns wired to Python callbacks, which
     cannot work in a static page, are listed as a note;
   * every ``<img>`` loaded (``naturalWidth > 0``);
   * MathJax typeset the methods page (``mjx-container``, no ``mjx-merror``);
   * no request went anywhere but ``127.0.0.1`` (data:/blob: URLs aside),
     no request failed or got HTTP >= 400, no uncaught page error and no
     console error (none is tolerated);
   * what a reader would trip on (``tools/browser_layout.py``), at a 1400 px
     wide window: no output, table, figure or image wider than the content
     column (``scrollWidth`` vs ``clientWidth``), every raster image shown at
     >= 90% of its natural width (SVG exempt), and in the text no repr
     (``PosixPath(``...), no absolute file-system path (the checkout's location
     above all), no ``Traceback``, no issue number.

Exit status 0 when all hold, else 1 with the reasons; details go to
``_build/browser-check/report.json``.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from paperlib.core.io import atomic_write_text

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tools"))
import browser_layout  # noqa: E402  (sibling module in tools/)

VIEWPORT = {"width": 1400, "height": 900}
NODE_MODULES = REPO_ROOT / "tools" / "vendor" / "node_modules"
# Playwright adds --headless and takes the profile folder as userDataDir itself.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-domain-reliability", "--no-default-browser-check"]
LOCAL_SCHEMES = ("data:", "blob:", "about:")

NODE_SCRIPT = r"""
const { chromium } = require('playwright-core');
const cfg = JSON.parse(process.argv[2]);

function pageState() {
  // (page.evaluate ships this function alone: helpers must live inside it)
  function linkedDropdownModels() {
    // Dropdown models that a jslink (LinkModel / DirectionalLinkModel) connects.
    const models = {};
    for (const el of document.querySelectorAll('script[type="application/vnd.jupyter.widget-state+json"]')) {
      Object.assign(models, JSON.parse(el.textContent).state || {});
    }
    const linked = new Set();
    for (const m of Object.values(models)) {
      if (!/LinkModel$/.test(m.model_name)) continue;
      for (const end of [m.state.source, m.state.target]) {
        if (end) linked.add(String(end[0]).replace('IPY_MODEL_', ''));
      }
    }
    return Object.keys(models).filter((id) => models[id].model_name === 'DropdownModel' && linked.has(id)).length;
  }
  const q = (s) => document.querySelectorAll(s);
  const subareas = Array.from(q('.widget-subarea'));
  return {
    placeholders: q('script[type="application/vnd.jupyter.widget-view+json"]').length,
    subareas: subareas.length,
    rendered: subareas.filter((d) => d.querySelector('.jupyter-widgets')).length,
    dropdowns: q('.widget-dropdown select').length,
    linkedDropdowns: linkedDropdownModels(),
    widgetErrors: subareas.filter((d) => d.textContent.includes('Error displaying widget')).length,
    images: Array.from(q('img')).map((i) => ({src: i.currentSrc || i.src,
                                             naturalWidth: i.naturalWidth})),
    mathjax: q('mjx-container').length,
    mathErrors: q('mjx-merror').length,
  };
}

async function tryDropdowns(page) {
  // Change every multi-option widget Dropdown; the page must change each time
  // (a jslink to a Stack/selection works without a kernel; a Python callback does not).
  const selects = page.locator('.widget-subarea .widget-dropdown select');
  const results = [];
  for (let i = 0; i < await selects.count(); i++) {
    const select = selects.nth(i);
    const options = await select.locator('option').count();
    if (options < 2) { results.push({index: i, options, tested: false}); continue; }
    const before = await page.evaluate(() => document.body.innerHTML);
    const current = await select.evaluate((s) => s.selectedIndex);
    await select.selectOption({index: current === 0 ? 1 : 0});
    await page.waitForTimeout(300);
    const changed = (await page.evaluate(() => document.body.innerHTML)) !== before;
    results.push({index: i, options, tested: true, changed});
  }
  return results;
}

(async () => {
  const ctx = await chromium.launchPersistentContext(cfg.userDataDir, {
    executablePath: cfg.chromium, headless: true, args: cfg.flags,
    viewport: cfg.viewport});
  const net = {requests: [], failures: []};
  ctx.on('request', (r) => net.requests.push(r.url()));
  ctx.on('requestfailed', (r) => net.failures.push(`${r.url()} ${(r.failure() || {}).errorText}`));
  ctx.on('response', (r) => { if (r.status() >= 400) net.failures.push(`${r.url()} HTTP ${r.status()}`); });
  const pages = [];
  for (const spec of cfg.pages) {
    const page = await ctx.newPage();
    const errors = [];
    const t = {start: Date.now()};
    const consoleErrors = [];
    page.on('pageerror', (e) => errors.push(String(e.message || e)));
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(`${m.text()} [${(m.location() || {}).url || ''}]`);
    });
    await page.goto(cfg.base + spec.path, {waitUntil: 'load', timeout: cfg.timeoutMs});
    t.load = Date.now();
    const hasWidgets = await page.evaluate(() => document.querySelector(
      'script[type="application/vnd.jupyter.widget-view+json"]') !== null);
    if (hasWidgets) await page.waitForSelector('.widget-subarea .jupyter-widgets',
                                                  {state: 'attached', timeout: cfg.timeoutMs}).catch(() => {});
    if (await page.evaluate(() => document.querySelector('.math') !== null)) await page.waitForSelector('mjx-container', {state: 'attached', timeout: cfg.timeoutMs}).catch(() => {});
    await page.waitForLoadState('networkidle', {timeout: cfg.timeoutMs}).catch(() => {});
    t.rendered = Date.now();
    const state = await page.evaluate(pageState);
    const layout = await page.evaluate(`(${cfg.layoutJs})()`);
    const dropdowns = await tryDropdowns(page);
    t.dropdowns = Date.now();
    await page.screenshot({path: spec.screenshot, fullPage: true});
    t.screenshot = Date.now();
    const ms = {load: t.load - t.start, render: t.rendered - t.load,
                dropdowns: t.dropdowns - t.rendered, screenshot: t.screenshot - t.dropdowns};
    pages.push({path: spec.path, widgets: spec.widgets, math: spec.math, state, layout, dropdowns,
                errors, consoleErrors, ms});
    await page.close();
  }
  await ctx.close();
  console.log(JSON.stringify({pages, net}));
})().catch((e) => { console.log(JSON.stringify({fatal: String((e && e.stack) || e)})); process.exit(2); });
"""


class BrowserCheckError(RuntimeError):
    """The check could not run (missing chromium/node/book); the message says why."""


def ensure_chromium() -> str:
    """Path of Debian chromium; installs it with apt-get when missing (root only)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() != 0:
        raise BrowserCheckError("chromium is not installed; run: sudo apt-get install -y chromium")
    print("browser_check: installing chromium with apt-get ...", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
        if subprocess.run(cmd, env=env).returncode != 0:
            raise BrowserCheckError(f"{' '.join(cmd)} failed")
    found = shutil.which("chromium")
    if not found:
        raise BrowserCheckError("apt-get installed chromium but it is not on PATH")
    return found


def ensure_playwright() -> None:
    """Vendor playwright-core (pinned) unless it is already there."""
    if shutil.which("node") is None:
        raise BrowserCheckError("node is not installed (apt-get install -y nodejs npm)")
    if not (NODE_MODULES / "playwright-core" / "package.json").is_file():
        subprocess.run(["bash", str(REPO_ROOT / "tools" / "vendor_assets.sh"), "browser"], check=True)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        pass


@contextlib.contextmanager
def serve(directory: Path, handler_class: type = _QuietHandler) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 at a free port with ``handler_class``
    (a ``SimpleHTTPRequestHandler``); yields the base URL."""
    handler = functools.partial(handler_class, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def run_node(script: Path, config: dict, timeout_s: float) -> dict:
    """Run the playwright ``script`` (node, vendored playwright-core) with ``config`` (a
    fresh Chromium profile folder added as ``userDataDir``); the JSON line it prints last."""
    with tempfile.TemporaryDirectory(prefix="browser-check-") as tmp:
        config = dict(config, userDataDir=str(Path(tmp) / "profile"))
        env = dict(os.environ, NODE_PATH=str(NODE_MODULES))
        proc = subprocess.run(["node", str(script), json.dumps(config)], env=env, text=True,
                              capture_output=True, timeout=timeout_s)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise BrowserCheckError(f"{script.name} gave no result (rc {proc.returncode}):\n"
                                f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    result = json.loads(lines[-1])
    if "fatal" in result:
        raise BrowserCheckError(f"{script.name} failed: {result['fatal']}")
    return result


def run_chromium(config: dict, timeout_s: float) -> dict:
    """Run this module's playwright script (:data:`NODE_SCRIPT`) with ``config``."""
    with tempfile.TemporaryDirectory(prefix="browser-check-script-") as tmp:
        script = Path(tmp) / "check.cjs"
        script.write_text(NODE_SCRIPT, encoding="utf-8")
        return run_node(script, config, timeout_s)


def report_outcome(prefix: str, problems: list[str], notes: list[str], ok: str) -> int:
    """End of a run: each note as ``<prefix>: note: ...``, each problem as ``<prefix>: FAIL:
    ...`` on stderr, or ``<prefix>: OK (<ok>)``; returns the exit status (1 on a problem)."""
    for note in notes:
        print(f"{prefix}: note: {note}")
    for problem in problems:
        print(f"{prefix}: FAIL: {problem}", file=sys.stderr)
    if not problems:
        print(f"{prefix}: OK ({ok})")
    return 1 if problems else 0


def page_problems(page: dict) -> list[str]:
    """Reasons a page failed (empty when it passed).

    Every page: widget views present must all render, jslink-ed Dropdowns must
    work, images must load, formulas must typeset without error, no page or console error.
    ``page["widgets"]`` / ``page["math"]``: the page must also *have* widgets / formulas.
    """
    s, where, problems = page["state"], page["path"], []
    if page["widgets"] and s["placeholders"] == 0:
        problems.append(f"{where}: no widget views in the page (expected widgets)")
    if s["rendered"] < s["placeholders"] or s["widgetErrors"]:
        problems.append(f"{where}: {s['rendered']}/{s['placeholders']} widgets rendered, "
                        f"{s['widgetErrors']} 'Error displaying widget'")
    live = sum(1 for d in page["dropdowns"] if d["tested"] and d["changed"])
    if live < s["linkedDropdowns"]:
        problems.append(f"{where}: {s['linkedDropdowns']} Dropdown(s) are jslink-ed but only "
                        f"{live} change the page when used")
    broken = [img["src"][:120] for img in s["images"] if img["naturalWidth"] == 0]
    if broken:
        problems.append(f"{where}: {len(broken)} image(s) did not load: {broken[:5]}")
    if (page["math"] and s["mathjax"] == 0) or s["mathErrors"]:
        problems.append(f"{where}: MathJax typeset {s['mathjax']} formulas, {s['mathErrors']} errors")
    problems += [f"{where}: page error: {e}" for e in page["errors"]]
    problems += [f"{where}: console error: {e}" for e in page["consoleErrors"]]
    return problems


def kernel_only_dropdowns(page: dict) -> list[int]:
    """Dropdowns that change nothing without a kernel (Python callbacks): a warning only."""
    return [d["index"] for d in page["dropdowns"] if d["tested"] and not d["changed"]]


def network_problems(net: dict, base: str) -> list[str]:
    """Requests that left 127.0.0.1, failed, or got HTTP >= 400."""
    host = urlsplit(base).netloc
    remote = sorted({u for u in net["requests"]
                     if not u.startswith(LOCAL_SCHEMES) and urlsplit(u).netloc != host})
    return ([f"request left 127.0.0.1: {u}" for u in remote]
            + [f"request failed: {u}" for u in sorted(set(net["failures"]))])


def check_pages(html_dir: Path, widget_page: str, math_page: str, out: Path) -> list[dict]:
    """Pages to open: the widget page, the math page, then every other book page.

    Screenshots: ``fig1.png`` (first word of the widget page's name), ``methods.png``, ...
    """
    def spec(rel: str, widgets: bool, math: bool) -> dict:
        name = Path(rel).stem.split("_")[0] if widgets else Path(rel).stem
        return {"path": rel, "widgets": widgets, "math": math, "screenshot": str(out / f"{name}.png")}

    others = sorted(p.relative_to(html_dir).as_posix() for p in (html_dir / "book").rglob("*.html"))
    return ([spec(widget_page, True, False), spec(math_page, False, True)]
            + [spec(rel, False, False) for rel in others if rel not in (widget_page, math_page)])


def base_parser(description: str, timeout: float) -> argparse.ArgumentParser:
    """The options every browser check takes: --html-dir, --out, --timeout (seconds)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--html-dir", type=Path, default=REPO_ROOT / "_build" / "html")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "_build" / "browser-check")
    parser.add_argument("--timeout", type=float, default=timeout, help="seconds per page load")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = base_parser("Headless-Chromium check of the built book.", 60.0)
    parser.add_argument("--page", default="book/notebooks/fig1_salient_maps.html",
                        help="page with widgets and figures (relative to html dir)")
    parser.add_argument("--math-page", default="book/methods.html", help="page with formulas")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        for rel in (args.page, args.math_page):
            if not (args.html_dir / rel).is_file():
                raise BrowserCheckError(f"{args.html_dir / rel} does not exist (run make book first)")
        chromium = ensure_chromium()
        ensure_playwright()
        args.out.mkdir(parents=True, exist_ok=True)
        pages = check_pages(args.html_dir, args.page, args.math_page, args.out)
        with serve(args.html_dir) as base:
            config = {"base": base, "chromium": chromium, "flags": CHROMIUM_FLAGS,
                      "pages": pages, "timeoutMs": int(args.timeout * 1000),
                      "viewport": VIEWPORT, "layoutJs": browser_layout.LAYOUT_JS}
            result = run_chromium(config, timeout_s=args.timeout * (len(pages) + 2))
    except BrowserCheckError as exc:
        print(f"browser_check: ERROR: {exc}", file=sys.stderr)
        return 1
    forbidden = sorted({str(REPO_ROOT), str(REPO_ROOT.resolve())})
    problems = [p for page in result["pages"] for p in page_problems(page)]
    layout = {page["path"]: browser_layout.layout_problems(page["path"], page["layout"], forbidden)
              for page in result["pages"]}
    problems += [p for found in layout.values() for p in found]
    problems += network_problems(result["net"], base)
    atomic_write_text(args.out / "report.json", json.dumps(result, indent=2) + "\n")
    for page in result["pages"]:
        s = page["state"]
        live = sum(1 for d in page["dropdowns"] if d["tested"] and d["changed"])
        tested = sum(1 for d in page["dropdowns"] if d["tested"])
        print(f"browser_check: {page['path']}: widgets {s['rendered']}/{s['placeholders']} rendered, "
              f"dropdowns {live}/{tested} live ({s['linkedDropdowns']} jslink-ed), images {len(s['images'])} loaded "
              f"{sum(1 for i in s['images'] if i['naturalWidth'] > 0)}, formulas {s['mathjax']}, "
              f"layout/text problems {len(layout[page['path']])}")
    print(f"browser_check: {len(result['net']['requests'])} requests, all to 127.0.0.1"
          if not network_problems(result["net"], base) else "browser_check: network problems")
    notes = [f"{page['path']}: Dropdown(s) #{kernel_only_dropdowns(page)} change nothing in "
             "the static page (they need a running kernel)"
             for page in result["pages"] if kernel_only_dropdowns(page)]
    return report_outcome("browser_check", problems, notes, f"screenshots in {args.out}")

if __name__ == "__main__":
    sys.exit(main())
