"""Build the Jupyter Book: execute every notebook in the toc, render HTML, scan it.

Steps (``make book`` runs them after ``make venv`` and ``tools/vendor_assets.sh``):

1. Read ``_toc.yml``. Every toc entry ``book/notebooks/<name>`` is a notebook
   chapter whose source is the MyST Markdown notebook ``notebooks/<name>.md``
   (jupytext); adding a chapter to the book is one toc line. Other entries
   (``book/intro``...) are plain pages.
2. Check that papermill's ``python3`` kernel runs this interpreter (the venv).
3. Convert each source with jupytext (in memory) and execute it with papermill
   on its default parameters (working directory = repository root) into
   ``book/notebooks/<name>.ipynb`` (git-ignored); the copy is written
   atomically, a failed run is kept under ``_build/failed/`` for inspection.
   The result files the run wrote (``PAPERLIB_RESULTS``, default ``results/``)
   are also copied to ``_build/results/<name>/``, so the tests can reuse the
   executed copy and its files (``tests/nbrun.py``). ``--reuse`` keeps an
   executed copy whose source, library code (``paperlib/**/*.py`` and
   ``organism/**/*.py``, tests aside) and input environment variables
   (``INPUT_ENV``) are unchanged (hashes in its metadata).
4. The landing page's results table: after every chapter ran, the claim
   records they wrote (``paperlib.book.claims``; read from the snapshots
   ``_build/results/<name>/claims/``) are rendered by
   ``paperlib.book.landing`` into ``book/_generated/results_at_a_glance.md``,
   which ``book/intro.md`` includes (so the landing page always shows the
   verdicts of this build). Every code cell of the executed copies gets the
   ``hide-input`` tag (collapsed, with a toggle) unless it is tagged
   ``remove-*`` or ``hide-*`` already.
5. ``jupyter-book build`` with execution off, ``--all -W -n --keep-going``.
6. ``tools/check_offline.py`` on ``_build/html``.

Timings go to stdout and ``_build/book_build_report.json``. Exit status 1 on any
failure, after trying every notebook.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

TOOLS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TOOLS_DIR.parent
sys.path.insert(0, str(TOOLS_DIR))

import check_offline  # noqa: E402  (sibling module in tools/)
from book_pages import GENERATED_LANDING, collapse_code, write_landing  # noqa: E402,F401
from paperlib.book import params  # noqa: E402
from paperlib.core.io import atomic_write_text  # noqa: E402

NOTEBOOK_PREFIX = "book/notebooks/"
STAMP_KEY = "paperlib_book"
CODE_DIRS = ("paperlib", "organism")  # library code in the reuse stamp (organism/: if present)
# environment variables that choose a chapter's inputs (part of the reuse stamp)
INPUT_ENV = ("PAPERLIB_DATA", "PAPERLIB_MODELS", "PAPERLIB_EVAL_TSV")


class BookBuildError(RuntimeError):
    """The book could not be built; the message names the problem."""


@dataclass(frozen=True)
class NotebookJob:
    """One notebook to execute: toc docname ``book/notebooks/<name>``."""

    name: str
    source: Path
    target: Path


def toc_documents(toc: dict) -> list[str]:
    """All docnames of a jb-book toc, in reading order (root first)."""
    if not isinstance(toc, dict) or "root" not in toc:
        raise BookBuildError("_toc.yml must be a mapping with a 'root' entry (format: jb-book)")
    docs = [str(toc["root"])]

    def walk(node) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if "file" in node:
                docs.append(str(node["file"]))
            for key in ("parts", "chapters", "sections"):
                walk(node.get(key))

    walk(toc)
    return docs


def strip_suffix(docname: str) -> str:
    """``book/notebooks/x.ipynb`` -> ``book/notebooks/x`` (toc files may carry a suffix)."""
    for suffix in (".ipynb", ".md"):
        if docname.endswith(suffix):
            return docname[: -len(suffix)]
    return docname


def notebook_jobs(docnames: list[str], root: Path, nb_dir: str = "notebooks") -> list[NotebookJob]:
    """Notebook chapters of the toc, each mapped to its source ``nb_dir/<name>.md``.

    Raises BookBuildError naming every toc entry whose source notebook is missing.
    """
    jobs, missing = [], []
    for doc in map(strip_suffix, docnames):
        if not doc.startswith(NOTEBOOK_PREFIX):
            continue
        name = doc[len(NOTEBOOK_PREFIX):]
        source = root / nb_dir / f"{name}.md"
        if not source.is_file():
            missing.append(f"{doc} (expected source {source.relative_to(root)})")
        jobs.append(NotebookJob(name, source, root / f"{doc}.ipynb"))
    if missing:
        raise BookBuildError("toc entries without a source notebook: " + "; ".join(missing))
    return jobs


def unlisted_notebooks(jobs: list[NotebookJob], root: Path, nb_dir: str = "notebooks") -> list[str]:
    """Source notebooks that no toc entry uses (reported, not built)."""
    listed = {job.source.resolve() for job in jobs}
    return sorted(p.name for p in (root / nb_dir).glob("*.md") if p.resolve() not in listed)


def sha256_files(root: Path, paths: list[Path]) -> str:
    """SHA-256 over the root-relative names and the contents of ``paths`` (sorted)."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


CODE_SUFFIXES = (".py", ".js", ".css")


def library_code(root: Path) -> list[Path]:
    """Every ``*.py`` (and widget front-end ``*.js`` / ``*.css``) under the
    ``CODE_DIRS`` of ``root`` that exist, recursively, except in ``tests`` folders
    (a chapter's output does not depend on them)."""
    return sorted(p for d in CODE_DIRS if (root / d).is_dir() for ext in CODE_SUFFIXES
                  for p in (root / d).rglob(f"*{ext}")
                  if "tests" not in p.relative_to(root / d).parts)


def build_stamp(job: NotebookJob, root: Path) -> dict[str, str]:
    """Hashes that decide whether an executed copy is still valid (for --reuse)."""
    inputs = json.dumps({k: os.environ.get(k, "") for k in INPUT_ENV}, sort_keys=True)
    return {"source_sha256": sha256_files(root, [job.source]),
            "code_sha256": sha256_files(root, library_code(root)),
            "env_sha256": hashlib.sha256(inputs.encode()).hexdigest()}


def is_reusable(job: NotebookJob, stamp: dict[str, str]) -> bool:
    """True when ``job.target`` exists and was executed from the same source and code."""
    if not job.target.is_file():
        return False
    try:
        meta = json.loads(job.target.read_text(encoding="utf-8"))["metadata"]
    except (ValueError, KeyError, OSError):
        return False
    return meta.get(STAMP_KEY) == stamp


def use_venv_kernelspecs() -> None:
    """Put ``sys.prefix/share/jupyter`` first on JUPYTER_PATH, so papermill's ``python3``
    kernel is the venv's (a user-level kernelspec cannot shadow it)."""
    venv_data = str(Path(sys.prefix) / "share" / "jupyter")
    old = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p and p != venv_data]
    os.environ["JUPYTER_PATH"] = os.pathsep.join([venv_data, *old])


def ensure_venv_kernel() -> None:
    """Make papermill's ``python3`` kernel run ``sys.executable`` and check that it does.

    jupyter_client replaces a spec's ``python`` argv with the launching
    interpreter; a one-cell notebook proves it.
    """
    use_venv_kernelspecs()
    import nbformat
    import papermill

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys; print(sys.executable)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    out = papermill.execute_notebook(nb, None, kernel_name="python3", progress_bar=False)
    printed = "".join(o.get("text", "") for o in out.cells[0].outputs).strip()
    if Path(printed).resolve() != Path(sys.executable).resolve():
        raise BookBuildError(f"the python3 kernel runs {printed!r}, not this venv's {sys.executable}")


def read_source(path: Path):
    """The notebook of the MyST source ``path`` (jupytext, in memory), checked: a
    ``python3`` kernelspec and a first code cell tagged ``parameters`` that parses."""
    import jupytext

    nb = jupytext.read(path)
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    if kernel != "python3":
        raise BookBuildError(f"{path}: kernelspec {kernel!r}, expected 'python3'")
    try:
        params.declared_parameters(nb)
    except (ValueError, SyntaxError) as exc:
        raise BookBuildError(f"{path}: {exc}") from exc
    return nb


def checked_source(source: Path, parameters: dict | None = None):
    """:func:`read_source`, and BookBuildError (listing the known names) when a name
    of ``parameters`` is not declared by the parameters cell."""
    nb = read_source(source)
    try:
        params.check_names(parameters or {}, params.declared_parameters(nb), source.name)
    except ValueError as exc:
        raise BookBuildError(str(exc)) from exc
    return nb


def execute_source(source: Path, target: Path, root: Path, parameters: dict | None = None,
                   cell_timeout: float | None = None, failed_dir: Path | None = None,
                   metadata: dict | None = None) -> None:
    """Convert ``source`` and run it with papermill into ``target`` (atomic), cwd ``root``.

    A parameter name that the parameters cell does not declare raises
    BookBuildError (with the known names) before anything runs. A failed run's
    partial notebook goes to ``failed_dir``; ``metadata`` is merged into the
    executed copy's notebook metadata.
    """
    import nbformat
    import papermill

    nb = checked_source(source, parameters)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp.ipynb")
    try:
        papermill.execute_notebook(nb, str(tmp), parameters=parameters or None,
                                   kernel_name="python3", cwd=str(root), progress_bar=False,
                                   execution_timeout=cell_timeout)
    except Exception:
        if tmp.exists() and failed_dir is not None:
            failed_dir.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, failed_dir / target.name)
        tmp.unlink(missing_ok=True)
        raise
    if metadata:
        executed = nbformat.read(tmp, as_version=4)
        executed.metadata.update(metadata)
        nbformat.write(executed, tmp)
    os.replace(tmp, target)


def results_folder(root: Path) -> Path:
    """Where a chapter run from ``root`` writes result files: $PAPERLIB_RESULTS or root/results."""
    env = os.environ.get("PAPERLIB_RESULTS", "").strip()
    return (root / Path(env).expanduser()).resolve() if env else root / "results"


def snapshot_results(results: Path, since: float, dest: Path) -> None:
    """Copy the files under ``results`` modified at or after ``since`` to ``dest``
    (relative paths kept; ``dest`` replaced as a whole, so it is complete or absent)."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    files = [p for p in results.rglob("*") if p.is_file()] if results.is_dir() else []
    for path in files:
        if path.stat().st_mtime >= since:
            copy = tmp / path.relative_to(results)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)


def execute(job: NotebookJob, root: Path, stamp: dict[str, str], build: Path,
            cell_timeout: float | None) -> None:
    """Run ``job`` on its defaults into ``job.target`` (stamped); snapshot its result
    files into ``build/results/<name>``; keep a failed run under ``build/failed``.

    ``cell_timeout`` (seconds, None = no limit) turns a hung cell into a failure.
    """
    snapshot = build / "results" / job.name
    shutil.rmtree(snapshot, ignore_errors=True)
    results = results_folder(root)
    since = time.time() - 0.05  # file times come from a coarser clock
    old = os.environ.get("PAPERLIB_RESULTS")
    os.environ["PAPERLIB_RESULTS"] = str(results)  # the kernel inherits it
    try:
        execute_source(job.source, job.target, root, None, cell_timeout, build / "failed",
                       {STAMP_KEY: stamp})
    finally:
        if old is None:
            os.environ.pop("PAPERLIB_RESULTS")
        else:
            os.environ["PAPERLIB_RESULTS"] = old
    snapshot_results(results, since, snapshot)


def run_notebooks(jobs: list[NotebookJob], root: Path, out: Path, reuse: bool,
                  cell_timeout: float | None) -> list[dict]:
    """Execute every job, printing progress; returns one report row per notebook."""
    rows = []
    for i, job in enumerate(jobs, 1):
        stamp = build_stamp(job, root)
        label = f"[{i}/{len(jobs)}] {job.name}"
        if reuse and is_reusable(job, stamp):
            print(f"{label}: unchanged, reusing {job.target.relative_to(root)}", flush=True)
            rows.append({"notebook": job.name, "status": "reused", "seconds": 0.0})
            continue
        print(f"{label}: executing ...", flush=True)
        start = time.perf_counter()
        try:
            execute(job, root, stamp, out, cell_timeout)
            status, error = "ok", ""
        except Exception as exc:  # noqa: BLE001 - report every notebook, then fail
            status, error = "FAILED", f"{type(exc).__name__}: {str(exc)[-2000:]}"
        seconds = round(time.perf_counter() - start, 1)
        print(f"{label}: {status} in {seconds:.1f} s" + (f"\n{error}" if error else ""), flush=True)
        rows.append({"notebook": job.name, "status": status, "seconds": seconds, "error": error})
    return rows


def jupyter_book_html(root: Path, toc: Path, config: Path) -> None:
    """``jupyter-book build`` into ``root/_build/html`` (execution off), warnings are errors."""
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb), "build", str(root), "--path-output", str(root), "--toc", str(toc),
           "--config", str(config), "--builder", "html", "--all",
           "--warningiserror", "--nitpick", "--keep-going"]
    print("$ " + " ".join(cmd), flush=True)
    if subprocess.run(cmd, cwd=root).returncode != 0:
        raise BookBuildError("jupyter-book build failed (warnings count as errors; see above)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="book source root")
    parser.add_argument("--toc", type=Path, help="toc file (default ROOT/_toc.yml)")
    parser.add_argument("--config", type=Path, help="config file (default ROOT/_config.yml)")
    parser.add_argument("--notebooks", default="notebooks", help="source notebook folder under ROOT")
    parser.add_argument("--reuse", action="store_true",
                        help="keep executed copies whose source and library code are unchanged")
    parser.add_argument("--cell-timeout", type=float, default=900.0,
                        help="seconds one cell may run before the notebook fails (0 = no limit)")
    parser.add_argument("--skip-execute", action="store_true", help="render existing executed copies")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    root = args.root.resolve()
    toc = (args.toc or root / "_toc.yml").resolve()
    config = (args.config or root / "_config.yml").resolve()
    build = root / "_build"
    t0 = time.perf_counter()
    try:
        jobs = notebook_jobs(toc_documents(yaml.safe_load(toc.read_text(encoding="utf-8"))),
                             root, args.notebooks)
        for name in unlisted_notebooks(jobs, root, args.notebooks):
            print(f"note: {args.notebooks}/{name} is not in {toc.name}; not built")
        rows = []
        if not args.skip_execute:
            ensure_venv_kernel()
            rows = run_notebooks(jobs, root, build, args.reuse, args.cell_timeout or None)
        failed = [r["notebook"] for r in rows if r["status"] == "FAILED"]
        if failed:
            raise BookBuildError(f"notebooks failed: {', '.join(failed)} (partial outputs in {build / 'failed'})")
        for job in jobs:
            if job.target.is_file():
                collapse_code(job.target)
        print(f"landing page: {write_landing(root, jobs, build).relative_to(root)}", flush=True)
        t1 = time.perf_counter()
        jupyter_book_html(root, toc, config)
        t2 = time.perf_counter()
        if check_offline.main([str(build / "html")]) != 0:
            raise BookBuildError("the HTML references remote assets (see above)")
    except BookBuildError as exc:
        print(f"build_book: ERROR: {exc}", file=sys.stderr)
        return 1
    report = {"notebooks": rows, "execute_s": round(t1 - t0, 1), "html_s": round(t2 - t1, 1),
              "total_s": round(time.perf_counter() - t0, 1)}
    atomic_write_text(build / "book_build_report.json", json.dumps(report, indent=2) + "\n")
    print(f"build_book: done in {report['total_s']:.1f} s (notebooks {report['execute_s']:.1f} s, "
          f"html {report['html_s']:.1f} s) -> {build / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
