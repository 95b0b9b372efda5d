"""Fail if the built HTML needs anything from the network to be viewed.

Usage: ``python tools/check_offline.py [_build/html]`` -> exit 0 when clean,
else 1 with one ``file: kind url`` line per finding.

What counts as a remote *asset* (something the browser fetches by itself):

* HTML: ``<script src>``, ``<link href>`` (stylesheet, preload, icon, ...;
  navigation rels such as canonical/next/prev are not fetched), ``<img src/srcset>``,
  ``<source>``, ``<iframe>``, ``<embed>``, ``<object data>``, ``<video/audio src/poster>``,
  ``<input type=image>``, CSS in ``<style>`` and ``style=""``, and asset-like URLs
  (``.js .css`` fonts) inside inline ``<script>`` code.
* CSS files: ``@import`` and ``url(...)``.
* JS files: URL strings that point at a CDN host or at a ``.js/.css``/font
  file. Vendored bundles contain a few such strings that are never fetched in
  this book; each is allow-listed in ``JS_ALLOWED`` with its reason. The real
  proof that nothing leaves the machine is ``tools/browser_check.py``.

A URL is remote when it starts with ``http:``, ``https:`` or ``//`` (protocol
relative). Plain ``<a href="https://...">`` links are navigation and allowed.
Local ``<script src>``/``<link href>`` targets must exist in the build.
"""
from __future__ import annotations

import argparse
import fnmatch
import re
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

REMOTE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)|@import\s+(['"])([^'"]+)\3""", re.IGNORECASE)
CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
ASSET_EXT = r"(?:m?js|css|woff2?|ttf|otf|eot)"
CDN_HOSTS = r"(?:cdn\.jsdelivr\.net|unpkg\.com|cdnjs\.cloudflare\.com|fonts\.googleapis\.com|" \
            r"fonts\.gstatic\.com|code\.jquery\.com|ajax\.googleapis\.com|cdn\.plot\.ly|" \
            r"cdn\.bokeh\.org|use\.fontawesome\.com|kit\.fontawesome\.com|plausible\.io|" \
            r"www\.googletagmanager\.com|www\.google-analytics\.com)"
# In JS, a protocol-relative URL must follow a quote or "(" (so "webpack://./x.css"
# source names do not count), and its host must start with a letter or digit.
JS_URL = re.compile(r"""(?:https?://|(?<=["'`(])//)[A-Za-z0-9][^\s"'`<>)\\]*""", re.IGNORECASE)
JS_ASSET = re.compile(r"^(?:https?:)?//%s|\.%s(?:[?#]|$)" % (CDN_HOSTS, ASSET_EXT), re.IGNORECASE)
NAV_RELS = {"canonical", "alternate", "next", "prev", "previous", "index", "search", "author",
            "license", "help", "bookmark", "external", "nofollow", "noopener", "noreferrer",
            "me", "top", "contents", "home"}
ASSET_ATTRS = {"script": ("src",), "img": ("src", "srcset"), "source": ("src", "srcset"),
               "iframe": ("src",), "frame": ("src",), "embed": ("src",), "object": ("data",),
               "video": ("src", "poster"), "audio": ("src",), "track": ("src",),
               "input": ("src",), "image": ("href", "xlink:href"), "use": ("href", "xlink:href")}

# (file glob under the html root, URL regex, reason). Keep this list short and justified.
JS_ALLOWED: tuple[tuple[str, str, str], ...] = (
    ("_static/vendor/html-manager/embed-amd.js", r"^https://cdn\.jsdelivr\.net/npm/$",
     "html-manager's fallback CDN for third-party widget modules; _config.yml sets "
     "data-jupyter-widgets-cdn to a local folder, and the book only uses the bundled "
     "base/controls/output widgets"),
    ("_static/vendor/html-manager/embed-amd.js",
     r"^https://fonts\.googleapis\.com/css\?family=Roboto\+Mono$",
     "only inside a commented-out CSS @import in the bundled widget styles"),
    ("_static/vendor/*", r"^https://github\.com/[^/]+/[^/]+/blob/",
     "provenance notes in comments; a GitHub blob URL is a web page, never loaded as an asset"),
    ("_static/vendor/mathjax/es5/*",
     r"^https://cdn\.jsdelivr\.net/npm/(?:speech-rule-engine@|sre-mathmaps-ie@|wicked-good-xpath@)",
     "defaults of the speech-rule-engine bundled in MathJax: MathJax loads SRE's maps "
     "through its own loader from [mathjax]/sre/mathmaps (vendored); the IE-only polyfills "
     "are never requested by a current browser; speech is off by default"),
)

@dataclass(frozen=True)
class Finding:
    """One remote (or missing) asset reference: ``file: kind url``."""

    file: str
    kind: str
    url: str

    def __str__(self) -> str:
        return f"{self.file}: {self.kind} {self.url}"


def is_remote(url: str | None) -> bool:
    """True for ``http(s)://...`` and protocol-relative ``//host/...`` URLs."""
    return bool(url) and bool(REMOTE.match(url))


def srcset_urls(value: str) -> list[str]:
    """URLs of a ``srcset`` attribute (``"a.png 1x, b.png 2x"`` -> ``[a.png, b.png]``)."""
    return [part.strip().split()[0] for part in value.split(",") if part.strip()]


def css_remote_urls(css: str) -> list[str]:
    """Remote URLs in CSS ``url(...)`` and ``@import`` (comments ignored)."""
    found = []
    for match in CSS_URL.finditer(CSS_COMMENT.sub("", css)):
        url = match.group(2) or match.group(4)
        if is_remote(url):
            found.append(url.strip())
    return found


def js_remote_urls(js: str) -> list[str]:
    """CDN or asset-file URL strings in JavaScript source."""
    return [u for u in (m.group(0) for m in JS_URL.finditer(js)) if JS_ASSET.search(u)]


class _AssetParser(HTMLParser):
    """Collects (kind, url) of assets referenced by one HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.assets: list[tuple[str, str]] = []   # every referenced asset, remote or local
        self._script_js = False
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k.lower(): (v or "") for k, v in attrs}
        if tag == "link":
            rels = set(attr.get("rel", "").lower().split())
            if attr.get("href") and not (rels and rels <= NAV_RELS):
                self.assets.append((f"<link rel={'/'.join(sorted(rels)) or '?'}>", attr["href"]))
        for name in ASSET_ATTRS.get(tag, ()):
            value = attr.get(name)
            if value and tag == "input" and attr.get("type", "").lower() != "image":
                continue
            urls = srcset_urls(value) if value and name == "srcset" else [value] if value else []
            self.assets.extend((f"<{tag} {name}>", url) for url in urls)
        if "style" in attr:
            self.assets.extend(("style attribute url()", u) for u in css_remote_urls(attr["style"]))
        self._in_style = tag == "style"
        kind = attr.get("type", "text/javascript").lower()
        self._script_js = tag == "script" and not attr.get("src") and (
            "javascript" in kind or kind in ("module", ""))

    def handle_endtag(self, tag: str) -> None:
        self._script_js = self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.assets.extend(("<style> url()", u) for u in css_remote_urls(data))
        elif self._script_js:
            self.assets.extend(("inline <script> asset URL", u) for u in js_remote_urls(data))


def html_assets(html: str) -> list[tuple[str, str]]:
    """All (kind, url) asset references of an HTML document, local and remote."""
    parser = _AssetParser()
    parser.feed(html)
    parser.close()
    return parser.assets


def scan_html(html: str, name: str = "<html>") -> list[Finding]:
    """Remote asset references of an HTML document."""
    return [Finding(name, kind, url) for kind, url in html_assets(html) if is_remote(url)]


def scan_css(css: str, name: str = "<css>") -> list[Finding]:
    """Remote ``@import``/``url()`` references of a stylesheet."""
    return [Finding(name, "css url()/@import", url) for url in css_remote_urls(css)]


def js_allowed(rel: str, url: str) -> bool:
    """True when (file, url) matches an entry of ``JS_ALLOWED``."""
    return any(fnmatch.fnmatch(rel, glob) and re.search(rx, url) for glob, rx, _ in JS_ALLOWED)


def scan_js(js: str, name: str = "<js>") -> list[Finding]:
    """Remote asset URL strings in a JS file that are not allow-listed."""
    return [Finding(name, "js asset URL", url) for url in js_remote_urls(js)
            if not js_allowed(name, url)]


def missing_local(html: str, page: Path, root: Path) -> list[Finding]:
    """Local <script src>/<link href> targets of ``page`` that do not exist under ``root``."""
    found = []
    for kind, url in html_assets(html):
        if not (kind.startswith("<script") or kind.startswith("<link")) or is_remote(url):
            continue
        parts = urlsplit(url)
        if parts.scheme or not parts.path or "{{" in url:  # "{{": a Jinja template, not a page
            continue
        target = (page.parent / unquote(parts.path)).resolve()
        if not target.is_file() or root.resolve() not in target.parents:
            found.append(Finding(page.relative_to(root).as_posix(), f"missing local {kind}", url))
    return found


def scan_tree(root: Path) -> tuple[list[Finding], dict[str, int]]:
    """Scan every .html/.css/.js file under ``root``; returns findings and file counts."""
    findings: list[Finding] = []
    counts = {"html": 0, "css": 0, "js": 0}
    for path in sorted(root.rglob("*")):
        ext = path.suffix.lower().lstrip(".")
        if ext not in counts or not path.is_file():
            continue
        counts[ext] += 1
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8", errors="replace")
        if ext == "html":
            findings += scan_html(text, rel) + missing_local(text, path, root)
        elif ext == "css":
            findings += scan_css(text, rel)
        else:
            findings += scan_js(text, rel)
    return findings, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fail on remote asset references in built HTML.")
    parser.add_argument("html_dir", nargs="?", default="_build/html", type=Path)
    args = parser.parse_args(argv)
    if not (args.html_dir / "index.html").is_file():
        print(f"check_offline: ERROR: no built book at {args.html_dir} (run make book)", file=sys.stderr)
        return 1
    findings, counts = scan_tree(args.html_dir)
    summary = ", ".join(f"{n} {ext}" for ext, n in counts.items())
    for finding in findings:
        print(f"check_offline: {finding}", file=sys.stderr)
    if findings:
        print(f"check_offline: FAILED: {len(findings)} remote/missing asset reference(s) "
              f"in {summary} files", file=sys.stderr)
        return 1
    print(f"check_offline: OK: no remote asset references ({summary} files scanned)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
