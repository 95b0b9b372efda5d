"""Shared helpers of the notebook tests: check a chapter's MyST source, run it under
papermill (or reuse the book's executed copy), read its outputs.

Imported as ``from nbrun import ...`` (pytest puts tests/ on sys.path). A test
that executes a notebook must be marked ``@pytest.mark.notebook`` (``make
test-fast`` deselects those); :func:`run_notebook` fails a test that is not.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
TEXT_MIMES = ("text/markdown", "text/plain")
CHECK_CALL = "params.check_injected(globals())"
sys.path.insert(0, str(ROOT / "tools"))

import build_book  # noqa: E402  (tools/build_book.py)

# Set by tests/conftest.py around each test: True when it is marked `notebook`,
# False when not, None outside a test of tests/ (no check).
NOTEBOOK_MARKED: bool | None = None


@contextlib.contextmanager
def env(**values):
    """Set environment variables for the duration of the block, then restore them."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update({k: str(v) for k, v in values.items()})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def read_source(notebook: Path):
    """The notebook of the MyST source ``notebook`` (jupytext), as tools/build_book.py reads it."""
    return build_book.read_source(Path(notebook))


def check_source(notebook: Path, names: list[str]) -> None:
    """Assert the chapter source is clean MyST: jupytext header, python3 kernel,
    first code cell tagged ``parameters`` assigning exactly ``names`` (in order),
    the unknown-parameter check right after it, no outputs, and the file exactly as
    jupytext writes it (so saving it from Jupyter changes nothing)."""
    import jupytext

    from paperlib.book import params

    text = Path(notebook).read_text(encoding="utf-8")
    assert Path(notebook).suffix == ".md" and text.startswith("---\njupytext:\n")
    nb = read_source(notebook)
    assert nb.metadata.jupytext.text_representation.format_name == "myst"
    assert nb.metadata.kernelspec.name == "python3"
    assert list(params.declared_parameters(nb)) == names
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert CHECK_CALL in code[1].source, "the cell after the parameters cell checks injected names"
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert jupytext.writes(nb, fmt="md:myst") == text, "not in jupytext's form: re-save it"


def book_copy(notebook: Path) -> tuple[dict, Path] | None:
    """``(executed notebook, result-file snapshot)`` of the book's copy of ``notebook``
    when ``make book`` executed it from the current source and code (the reuse stamp
    of tools/build_book.py) and its snapshot exists; else None."""
    source = Path(notebook).resolve()
    job = build_book.NotebookJob(source.stem, source,
                                 ROOT / build_book.NOTEBOOK_PREFIX / f"{source.stem}.ipynb")
    snapshot = ROOT / "_build" / "results" / job.name
    if source.parent != NOTEBOOKS.resolve() or not snapshot.is_dir():
        return None
    if not build_book.is_reusable(job, build_book.build_stamp(job, ROOT)):
        return None
    return json.loads(job.target.read_text(encoding="utf-8")), snapshot


def run_notebook(notebook: Path, out_dir: Path, cache: Path | None = None, reuse: bool = True,
                 **parameters) -> dict:
    """Execute ``notebook`` (a MyST source) with papermill into ``out_dir/out.ipynb``,
    results and (unless given) the cache under ``out_dir``; return the executed
    notebook as JSON. Run on its defaults (no ``parameters``, ``reuse``), a
    current executed copy of the book is returned instead and its result files
    are copied to ``out_dir/results``, so CI does not execute a chapter twice."""
    assert NOTEBOOK_MARKED is not False, "a test that executes a notebook needs @pytest.mark.notebook"
    out_dir.mkdir(parents=True, exist_ok=True)
    copy = book_copy(notebook) if reuse and not parameters else None
    if copy is not None:
        shutil.copytree(copy[1], out_dir / "results", dirs_exist_ok=True)
        return copy[0]
    out = out_dir / "out.ipynb"
    cache = out_dir / "cache" if cache is None else cache
    build_book.use_venv_kernelspecs()
    with env(PAPERLIB_CACHE=cache, PAPERLIB_RESULTS=out_dir / "results"):
        build_book.execute_source(Path(notebook), out, ROOT, parameters, cell_timeout=600)
    return json.loads(out.read_text(encoding="utf-8"))


def output_text(nb: dict, tag: str | None = None, mimes=TEXT_MIMES, streams: bool = True) -> str:
    """The text of the outputs of the cells tagged ``tag`` (all cells when None):
    every listed mime type of rich outputs, and stream text when ``streams``."""
    parts = []
    for cell in nb["cells"]:
        if tag is not None and tag not in cell.get("metadata", {}).get("tags", []):
            continue
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            parts += ["".join(data.get(m, [])) for m in mimes if m in data]
            if streams:
                parts.append("".join(o.get("text", [])))
    return "\n".join(p for p in parts if p)
