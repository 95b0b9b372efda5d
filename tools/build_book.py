"""Build the Jupyter Book: execute every notebook in the toc, render HTML, scan it.

Steps (``make book`` runs them after ``make venv`` and ``tools/vendor_assets.sh``):

1. Read ``_toc.yml``. Every toc entry ``book/notebooks/<name>`` is a notebook
   chapter whose source is ``notebooks/<name>.ipynb``; adding a notebook to the
   book is one toc line. Other entries (``book/intro``...) are plain pages.
2. Check that papermill's ``python3`` kernel runs this interpreter (the venv).
3. Execute each source notebook with papermill on its default parameters
   (working directory = repository root) into ``book/notebooks/<name>.ipynb``
   (git-ignored); the copy is written atomically, a failed run is kept under
   ``_build/failed/`` for inspection. ``--reuse`` keeps an executed copy whose
   source notebook and ``paperlib`` code are unchanged (hashes in its metadata).
4. ``jupyter-book build`` with execution off, ``--all -W -n --keep-going``.
5. ``tools/check_offline.py`` on ``_build/html``.

Timings go to stdout and ``_build/book_build_report.json``. Exit status 1 on any
failure, after trying every notebook.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
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
from paperlib.core.io import atomic_write_text  # noqa: E402

NOTEBOOK_PREFIX = "book/notebooks/"
STAMP_KEY = "paperlib_book"


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
    """Notebook chapters of the toc, each mapped to its source in ``nb_dir``.

    Raises BookBuildError naming every toc entry whose source notebook is missing.
    """
    jobs, missing = [], []
    for doc in map(strip_suffix, docnames):
        if not doc.startswith(NOTEBOOK_PREFIX):
            continue
        name = doc[len(NOTEBOOK_PREFIX):]
        source = root / nb_dir / f"{name}.ipynb"
        if not source.is_file():
            missing.append(f"{doc} (expected source {source.relative_to(root)})")
        jobs.append(NotebookJob(name, source, root / f"{doc}.ipynb"))
    if missing:
        raise BookBuildError("toc entries without a source notebook: " + "; ".join(missing))
    return jobs


def unlisted_notebooks(jobs: list[NotebookJob], root: Path, nb_dir: str = "notebooks") -> list[str]:
    """Source notebooks that no toc entry uses (reported, not built)."""
    listed = {job.source.resolve() for job in jobs}
    return sorted(p.name for p in (root / nb_dir).glob("*.ipynb") if p.resolve() not in listed)


def sha256_files(root: Path, paths: list[Path]) -> str:
    """SHA-256 over the root-relative names and the contents of ``paths`` (sorted)."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_stamp(job: NotebookJob, root: Path) -> dict[str, str]:
    """Hashes that decide whether an executed copy is still valid (for --reuse)."""
    code = sorted((root / "paperlib").rglob("*.py"))
    return {"source_sha256": sha256_files(root, [job.source]),
            "code_sha256": sha256_files(root, code)}


def is_reusable(job: NotebookJob, stamp: dict[str, str]) -> bool:
    """True when ``job.target`` exists and was executed from the same source and code."""
    if not job.target.is_file():
        return False
    try:
        meta = json.loads(job.target.read_text(encoding="utf-8"))["metadata"]
    except (ValueError, KeyError, OSError):
        return False
    return meta.get(STAMP_KEY) == stamp


def ensure_venv_kernel() -> None:
    """Make papermill's ``python3`` kernel run ``sys.executable`` and check that it does.

    ``sys.prefix/share/jupyter`` goes first on JUPYTER_PATH so a user-level
    kernelspec cannot shadow the venv's; jupyter_client replaces a spec's
    ``python`` argv with the launching interpreter. A one-cell notebook proves it.
    """
    venv_data = str(Path(sys.prefix) / "share" / "jupyter")
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = venv_data + (os.pathsep + old if old else "")
    import nbformat
    import papermill

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys; print(sys.executable)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    out = papermill.execute_notebook(nb, None, kernel_name="python3", progress_bar=False)
    printed = "".join(o.get("text", "") for o in out.cells[0].outputs).strip()
    if Path(printed).resolve() != Path(sys.executable).resolve():
        raise BookBuildError(f"the python3 kernel runs {printed!r}, not this venv's {sys.executable}")


def execute(job: NotebookJob, root: Path, stamp: dict[str, str], failed_dir: Path,
            cell_timeout: float | None) -> None:
    """Run ``job.source`` with papermill into ``job.target`` (atomic); keep failures.

    ``cell_timeout`` (seconds, None = no limit) turns a hung cell into a failure.
    """
    import nbformat
    import papermill

    job.target.parent.mkdir(parents=True, exist_ok=True)
    tmp = job.target.with_name(f".{job.target.name}.{os.getpid()}.tmp.ipynb")
    try:
        papermill.execute_notebook(str(job.source), str(tmp), kernel_name="python3",
                                   cwd=str(root), progress_bar=False,
                                   execution_timeout=cell_timeout)
    except Exception:
        if tmp.exists():
            failed_dir.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, failed_dir / job.target.name)
        raise
    nb = nbformat.read(tmp, as_version=4)
    nb.metadata[STAMP_KEY] = stamp
    nbformat.write(nb, tmp)
    os.replace(tmp, job.target)


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
            execute(job, root, stamp, out / "failed", cell_timeout)
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
                        help="keep executed copies whose notebook and paperlib code are unchanged")
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
