"""Tests of the book tooling: offline scanner, toc -> notebook mapping, reuse stamp,
chapter parameters (papermill's view of them, make notebook), browser-check logic."""
from __future__ import annotations

import ast
import json
import logging
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import browser_check  # noqa: E402
import build_book  # noqa: E402
import check_offline as co  # noqa: E402
import run_notebook  # noqa: E402
from paperlib.book import params  # noqa: E402


def urls(findings):
    return sorted(f.url for f in findings)


# --------------------------------------------------------------------------- scanner

def test_detects_remote_script():
    html = '<html><head><script src="https://cdn.example.org/x.js"></script></head></html>'
    assert urls(co.scan_html(html)) == ["https://cdn.example.org/x.js"]


def test_detects_remote_stylesheet_and_preload():
    html = ('<link rel="stylesheet" href="http://fonts.example.com/a.css">'
            '<link rel="preload" as="font" href="https://x.org/f.woff2">')
    assert urls(co.scan_html(html)) == ["http://fonts.example.com/a.css", "https://x.org/f.woff2"]


def test_detects_protocol_relative_src():
    html = '<img src="//images.example.com/p.png"><iframe src="//x.org/embed"></iframe>'
    assert urls(co.scan_html(html)) == ["//images.example.com/p.png", "//x.org/embed"]


def test_detects_css_import_and_url():
    css = ('@import url("https://fonts.googleapis.com/css?family=Roboto");\n'
           "@import 'http://x.org/b.css';\n"
           ".a { background: url(https://x.org/bg.png) }\n"
           ".b { background: url('img/local.png') }\n"
           "/* url(https://commented.out/x.png) */")
    assert urls(co.scan_css(css)) == ["http://x.org/b.css", "https://fonts.googleapis.com/css?family=Roboto",
                                      "https://x.org/bg.png"]


def test_detects_css_in_style_block_attribute_and_srcset():
    html = ('<style>@font-face { src: url(//fonts.x.org/f.woff) }</style>'
            '<div style="background:url(https://x.org/a.png)"></div>'
            '<img src="ok.png" srcset="local.png 1x, https://x.org/big.png 2x">')
    assert urls(co.scan_html(html)) == ["//fonts.x.org/f.woff", "https://x.org/a.png", "https://x.org/big.png"]


def test_detects_asset_url_in_inline_script_but_not_data_json():
    html = ('<script>const U = "https://unpkg.com/thebe@0.8.2/lib/index.js";</script>'
            '<script type="application/vnd.jupyter.widget-state+json">'
            '{"value": "<a href=\'https://x.org/lib.js\'>x</a>"}</script>')
    assert urls(co.scan_html(html)) == ["https://unpkg.com/thebe@0.8.2/lib/index.js"]


def test_ignores_hyperlinks_navigation_links_and_local_assets():
    html = ('<a href="https://arxiv.org/abs/2310.00492">paper</a>'
            '<link rel="canonical" href="https://example.org/book/">'
            '<link rel="next" href="https://example.org/next.html">'
            '<script src="_static/x.js"></script><img src="data:image/png;base64,AAAA">')
    assert co.scan_html(html) == []


def test_js_scan_flags_cdn_and_asset_urls_and_honours_allow_list():
    js = ('var a="https://cdn.jsdelivr.net/npm/";var b="https://example.org/page";'
          'var c="//static.x.org/lib.js";var d="webpack://./../../node_modules/a.css";')
    assert urls(co.scan_js(js, "other.js")) == ["//static.x.org/lib.js", "https://cdn.jsdelivr.net/npm/"]
    # the same CDN root string is allow-listed (with a reason) in the vendored html-manager only
    assert urls(co.scan_js(js, "_static/vendor/html-manager/embed-amd.js")) == ["//static.x.org/lib.js"]
    assert all(reason for _, _, reason in co.JS_ALLOWED)


def test_scan_tree_reports_missing_local_script(tmp_path):
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "ok.js").write_text("var x = 1;")
    (tmp_path / "index.html").write_text('<script src="_static/ok.js?v=1"></script>'
                                         '<script src="_static/gone.js"></script>')
    findings, counts = co.scan_tree(tmp_path)
    assert counts == {"html": 1, "css": 0, "js": 1}
    assert [(f.kind, f.url) for f in findings] == [("missing local <script src>", "_static/gone.js")]


def test_main_exit_codes(tmp_path, capsys):
    (tmp_path / "index.html").write_text('<a href="https://x.org">x</a>')
    assert co.main([str(tmp_path)]) == 0
    (tmp_path / "style.css").write_text("@import url(https://x.org/a.css);")
    assert co.main([str(tmp_path)]) == 1
    assert "style.css: css url()/@import https://x.org/a.css" in capsys.readouterr().err
    assert co.main([str(tmp_path / "nothing")]) == 1


# --------------------------------------------------------------------------- toc -> notebooks

TOC = {"format": "jb-book", "root": "book/intro",
       "parts": [{"caption": "A", "chapters": [{"file": "book/methods"}]},
                 {"caption": "B", "chapters": [{"file": "book/notebooks/nb_one",
                                                "sections": [{"file": "book/notebooks/nb_two.ipynb"}]}]}]}


def test_toc_documents_in_reading_order():
    assert build_book.toc_documents(TOC) == ["book/intro", "book/methods", "book/notebooks/nb_one",
                                             "book/notebooks/nb_two.ipynb"]
    with pytest.raises(build_book.BookBuildError, match="root"):
        build_book.toc_documents({"chapters": []})


def test_notebook_jobs_map_toc_entries_to_sources(tmp_path):
    (tmp_path / "notebooks").mkdir()
    for name in ("nb_one", "nb_two", "not_in_toc"):
        (tmp_path / "notebooks" / f"{name}.md").write_text("---\n---\n")
    jobs = build_book.notebook_jobs(build_book.toc_documents(TOC), tmp_path)
    assert [(j.name, j.source.name, j.target.relative_to(tmp_path).as_posix()) for j in jobs] == [
        ("nb_one", "nb_one.md", "book/notebooks/nb_one.ipynb"),
        ("nb_two", "nb_two.md", "book/notebooks/nb_two.ipynb")]
    assert build_book.unlisted_notebooks(jobs, tmp_path) == ["not_in_toc.md"]


def test_missing_source_notebook_is_one_clear_error(tmp_path):
    (tmp_path / "notebooks").mkdir()
    with pytest.raises(build_book.BookBuildError, match=r"book/notebooks/nb_one .*notebooks/nb_one\.md"):
        build_book.notebook_jobs(build_book.toc_documents(TOC), tmp_path)


def test_reuse_stamp_follows_source_and_code(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "paperlib" / "sub").mkdir(parents=True)
    (tmp_path / "paperlib" / "a.py").write_text("x = 1\n")
    src = tmp_path / "notebooks" / "n.md"
    src.write_text("# n\n")
    job = build_book.NotebookJob("n", src, tmp_path / "book" / "notebooks" / "n.ipynb")
    stamp = build_book.build_stamp(job, tmp_path)
    assert not build_book.is_reusable(job, stamp)          # no executed copy yet
    job.target.parent.mkdir(parents=True)
    job.target.write_text(json.dumps({"metadata": {build_book.STAMP_KEY: stamp}}))
    assert build_book.is_reusable(job, stamp)
    (tmp_path / "paperlib" / "a.py").write_text("x = 2\n")  # code changed -> re-execute
    assert not build_book.is_reusable(job, build_book.build_stamp(job, tmp_path))
    src.write_text("# n, edited\n")                         # source changed too
    assert build_book.build_stamp(job, tmp_path)["source_sha256"] != stamp["source_sha256"]
    for path, counts in (("paperlib/sub/b.py", True), ("organism/c.py", True),  # subpackages
                         ("organism/tests/d.py", False), ("paperlib/x.txt", False)):
        before = build_book.build_stamp(job, tmp_path)["code_sha256"]
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("y = 1\n")
        assert (build_book.build_stamp(job, tmp_path)["code_sha256"] != before) == counts, path
    before = build_book.build_stamp(job, tmp_path)
    monkeypatch.setenv("PAPERLIB_MODELS", str(tmp_path / "other-models"))  # other inputs
    assert build_book.build_stamp(job, tmp_path)["env_sha256"] != before["env_sha256"]


def test_snapshot_keeps_only_the_files_a_run_wrote(tmp_path):
    results = tmp_path / "results"
    (results / "live" / "x").mkdir(parents=True)
    old = results / "old.csv"
    old.write_text("old")
    os.utime(old, (time.time() - 60, time.time() - 60))
    since = time.time() - 0.05
    (results / "table1.csv").write_text("new")
    (results / "live" / "x" / "cases_pt.npz").write_bytes(b"npz")
    dest = tmp_path / "_build" / "results" / "chapter"
    dest.mkdir(parents=True)
    (dest / "stale.csv").write_text("stale")
    build_book.snapshot_results(results, since, dest)
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == [
        "live/x/cases_pt.npz", "table1.csv"]
    build_book.snapshot_results(tmp_path / "missing", since, dest)   # nothing written: empty
    assert list(dest.iterdir()) == []


def test_papermill_kernel_is_this_venv():
    build_book.ensure_venv_kernel()  # raises BookBuildError when the kernel is another python


# --------------------------------------------------------------------------- repository book files

def test_repository_toc_pages_and_notebook_sources_exist():
    docs = build_book.toc_documents(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    pages = [d for d in docs if not d.startswith(build_book.NOTEBOOK_PREFIX)]
    assert all((ROOT / f"{d}.md").is_file() for d in pages), pages
    build_book.notebook_jobs(docs, ROOT)  # every notebook chapter has notebooks/<name>.md


def test_intro_links_only_to_toc_pages():
    docs = set(build_book.toc_documents(yaml.safe_load((ROOT / "_toc.yml").read_text())))
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", (ROOT / "book" / "intro.md").read_text())
    local = [t for t in targets if "://" not in t and not t.startswith("mailto:")]
    assert local, "the intro links to the book's pages"
    for target in local:
        doc = build_book.strip_suffix((Path("book") / target).as_posix().replace("book/./", "book/"))
        assert doc in docs, f"book/intro.md links to {target}, which is not in _toc.yml"


def test_config_references_no_remote_asset():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    local = [config["mathjax_path"], *config["nb_ipywidgets_js"]]
    assert not [u for u in local if co.is_remote(u)], local
    assert "sphinx_thebe" not in config["extensions"]
    assert "data-jupyter-widgets-cdn" in config["nb_ipywidgets_js"]["vendor/html-manager/embed-amd.js"]


# --------------------------------------------------------------------------- chapter parameters

CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.md"))


def _converted(name: str, folder: Path) -> Path:
    """notebooks/<name>.md converted with jupytext, as the runners convert it."""
    import nbformat

    path = folder / f"{name}.ipynb"
    nbformat.write(build_book.read_source(ROOT / "notebooks" / f"{name}.md"), path)
    return path


def test_every_toc_chapter_is_a_myst_source_and_nothing_else_is():
    docs = build_book.toc_documents(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    jobs = build_book.notebook_jobs(docs, ROOT)
    assert sorted(j.name for j in jobs) == CHAPTERS
    assert not list((ROOT / "notebooks").glob("*.ipynb")), "the .md files are the only sources"
    assert not list((ROOT / "tools").glob("make_notebook*.py")), "no notebook generators"


@pytest.mark.parametrize("name", CHAPTERS)
def test_papermill_lists_every_parameter_with_its_default(name, tmp_path, caplog):
    """papermill --help-notebook (papermill.inspect_notebook) sees exactly the names the
    parameters cell assigns (read with ast), with the same defaults, and warns of no line."""
    import papermill

    path = _converted(name, tmp_path)
    with caplog.at_level(logging.WARNING, logger="papermill"):
        inferred = papermill.inspect_notebook(str(path))
    declared = params.declared_parameters(build_book.read_source(ROOT / "notebooks" / f"{name}.md"))
    assert list(inferred) == list(declared)
    for pname, default in declared.items():
        assert ast.literal_eval(inferred[pname]["default"]) == ast.literal_eval(default), pname
    assert not [r for r in caplog.records if "Unable to parse" in r.getMessage()]


def test_papermill_help_notebook_command_line(tmp_path):
    path = _converted("explainers_live_pair", tmp_path)  # a multi-line list parameter
    out = subprocess.run([str(Path(sys.executable).parent / "papermill"), "--help-notebook", str(path)],
                         capture_output=True, text=True, check=True).stdout
    listed = re.findall(r"^  (\w+): .*\(default ", out, flags=re.M)
    source = build_book.read_source(ROOT / "notebooks" / "explainers_live_pair.md")
    assert listed == list(params.declared_parameters(source))


def test_make_notebook_rejects_an_unknown_parameter_before_running(capsys):
    assert run_notebook.main(["table1_table2_density", "-p", "bb", "5", "-p", "b", "3"]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter(s) for table1_table2_density.md: 'bb' (did you mean 'b'?)" in err
    assert "Its parameters are: b, p, L, min_response, mode, n_boot, source" in err
    assert run_notebook.main(["no_such_chapter"]) == 2
    assert "chapters: appD_appE_interpretability" in capsys.readouterr().err


def test_make_notebook_help_and_parameter_types(capsys):
    assert run_notebook.main(["fig6_lost_in_the_middle", "--help-notebook"]) == 0
    assert "  b = 7\n" in capsys.readouterr().out
    args = run_notebook.parse_args(["x", "-p", "b", "5", "-p", "mode", "subtract", "-p", "source", "None",
                                    "-p", "f", "0.5", "-r", "s", "5", "-y", "layers: [0, 1]"])
    assert run_notebook.gather(args) == {"b": 5, "mode": "subtract", "source": None, "f": 0.5,
                                         "s": "5", "layers": [0, 1]}
    assert run_notebook.output_path(ROOT / "notebooks" / "x.md", None).parts[-2:] == ("notebooks", "x.ipynb")


@pytest.mark.notebook
def test_make_notebook_runs_a_chapter_with_a_parameter(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERLIB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("PAPERLIB_CACHE", str(tmp_path / "cache"))
    assert run_notebook.main(["fig6_lost_in_the_middle", "-p", "b", "5"]) == 0
    out = tmp_path / "results" / "notebooks" / "fig6_lost_in_the_middle.ipynb"
    cells = json.loads(out.read_text())["cells"]
    injected = [c for c in cells if "injected-parameters" in c["metadata"].get("tags", [])]
    assert "b = 5" in "".join(injected[0]["source"])
    assert (tmp_path / "results" / "fig6.csv").is_file()


@pytest.mark.notebook
def test_plain_papermill_fails_on_a_misspelt_parameter(tmp_path):
    """Outside the supported runners (the jupytext | papermill pipe), the chapter's
    second cell stops the run and names the known parameters."""
    from papermill.exceptions import PapermillExecutionError

    path = _converted("fig6_lost_in_the_middle", tmp_path)
    build_book.use_venv_kernelspecs()
    with pytest.raises(PapermillExecutionError) as info:
        import papermill

        papermill.execute_notebook(str(path), str(tmp_path / "out.ipynb"), parameters={"segments": 3},
                                   kernel_name="python3", cwd=str(ROOT), progress_bar=False)
    assert info.value.ename == "ParameterError"
    assert "'segments' (did you mean 'n_segments'?)" in info.value.evalue
    assert "Its parameters are: b, p, L, n_segments" in info.value.evalue


# --------------------------------------------------------------------------- browser-check logic

def _page(**state):
    base = {"placeholders": 1, "rendered": 1, "dropdowns": 2, "linkedDropdowns": 1, "widgetErrors": 0,
            "images": [{"src": "a.png", "naturalWidth": 640}], "mathjax": 0, "mathErrors": 0}
    return {"path": "p.html", "widgets": True, "math": False, "errors": [], "consoleErrors": [],
            "dropdowns": [{"index": 0, "options": 3, "tested": True, "changed": True},
                          {"index": 1, "options": 1, "tested": False}],
            "state": {**base, **state}}


def test_page_problems_pass_and_each_failure():
    assert browser_check.page_problems(_page()) == []
    noisy = {**_page(), "consoleErrors": ["Got invalid theme mode: . [x.js]"]}
    assert browser_check.page_problems(noisy) == ["p.html: console error: Got invalid theme mode: . [x.js]"]
    assert "1/2 widgets rendered" in browser_check.page_problems(_page(placeholders=2))[0]
    assert "image(s) did not load" in browser_check.page_problems(
        _page(images=[{"src": "b.png", "naturalWidth": 0}]))[0]
    assert "no widget views" in browser_check.page_problems(_page(placeholders=0, rendered=0))[0]
    unlinked = _page()
    unlinked["dropdowns"][0]["changed"] = False
    assert "1 Dropdown(s) are jslink-ed but only 0" in browser_check.page_problems(unlinked)[0]
    assert browser_check.kernel_only_dropdowns(unlinked) == [0]
    kernel_bound = _page(linkedDropdowns=0)      # a Python-callback Dropdown is only a note
    kernel_bound["dropdowns"][0]["changed"] = False
    assert browser_check.page_problems(kernel_bound) == []
    math = {**_page(), "widgets": False, "math": True}
    assert "MathJax typeset 0" in browser_check.page_problems(math)[0]


def test_network_problems_flag_requests_leaving_localhost():
    base = "http://127.0.0.1:8000/"
    net = {"requests": [base + "index.html", "data:image/png;base64,AA", "https://cdn.x.org/a.js"],
           "failures": []}
    assert browser_check.network_problems(net, base) == ["request left 127.0.0.1: https://cdn.x.org/a.js"]
    net = {"requests": [base + "a.js"], "failures": [base + "gone.js HTTP 404"]}
    assert browser_check.network_problems(net, base) == [f"request failed: {base}gone.js HTTP 404"]


def test_report_outcome_prints_notes_failures_or_ok(capsys):
    assert browser_check.report_outcome("x", [], ["look"], "all good") == 0
    out = capsys.readouterr()
    assert out.out.splitlines() == ["x: note: look", "x: OK (all good)"] and out.err == ""
    assert browser_check.report_outcome("x", ["p1", "p2"], [], "unused") == 1
    out = capsys.readouterr()
    assert out.err.splitlines() == ["x: FAIL: p1", "x: FAIL: p2"] and "OK" not in out.out


def test_widget_check_fails_on_every_console_error():
    """No console error is tolerated, the theme's and the favicon's included."""
    import browser_widgets

    part = {"consoleErrors": ["Got invalid theme mode: . Resetting to auto. [x.js]",
                              "Failed to load resource: 404 [http://127.0.0.1:1/favicon.ico]"],
            "pageErrors": ["boom"]}
    assert browser_widgets.page_errors("p", part) == [
        "p: console error: Got invalid theme mode: . Resetting to auto. [x.js]",
        "p: console error: Failed to load resource: 404 [http://127.0.0.1:1/favicon.ico]",
        "p: page error: boom"]


def test_serve_is_local_and_stops(tmp_path):
    (tmp_path / "index.html").write_text("hello")
    with browser_check.serve(tmp_path) as base:
        assert base.startswith("http://127.0.0.1:")
        assert urllib.request.urlopen(base + "index.html", timeout=5).read() == b"hello"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(base + "index.html", timeout=2)
