"""Shared helpers of the notebook tests: run a notebook under papermill, read its outputs.

Imported as ``from nbrun import ...`` (pytest puts tests/ on sys.path).
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
TEXT_MIMES = ("text/markdown", "text/plain")


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


def run_notebook(notebook: Path, out_dir: Path, cache: Path | None = None, **parameters) -> dict:
    """Execute ``notebook`` with papermill into ``out_dir/out.ipynb`` (results and,
    unless given, the cache under ``out_dir``); return the executed notebook as JSON."""
    import papermill

    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "out.ipynb"
    cache = out_dir / "cache" if cache is None else cache
    with env(PAPERLIB_CACHE=cache, PAPERLIB_RESULTS=out_dir / "results"):
        papermill.execute_notebook(str(notebook), str(out), parameters=parameters,
                                   kernel_name="python3", cwd=str(NOTEBOOKS),
                                   progress_bar=False, execution_timeout=600)
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


def load_tool(tool: str):
    """Import ``tools/<tool>.py`` (a notebook generator) as a module."""
    spec = importlib.util.spec_from_file_location(tool, ROOT / "tools" / f"{tool}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generated_cells(tool: str) -> list:
    """The cells that ``tools/<tool>.py``'s ``notebook(CELLS)`` generates."""
    module = load_tool(tool)
    return module.notebook(module.CELLS).cells
