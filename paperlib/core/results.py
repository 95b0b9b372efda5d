"""Result tables that say how they were made, at paths keyed by their parameters.

:func:`write_result` writes a table (CSV text) of result ``name`` computed with
``params`` to ::

    <results_dir>/<name>/<slug>/<name>.csv     the table
    <results_dir>/<name>/<slug>/<name>.json    its sidecar: parameters, provenance
                                               (input files' SHA-256, model
                                               fingerprints), package version, the
                                               table's own SHA-256, time written

``slug`` reads the parameters (``b7-p4-L10-threshold-...``) and ends in 8 hex
digits of the SHA-256 of all of them, so two runs with different parameters
never write the same file, and a run with the same parameters rewrites the same
one. Each file is written atomically (:mod:`paperlib.core.io`).

The most recent run of a result is also reachable at the fixed paths
``<results_dir>/<name>.csv`` and ``<name>.json``: links through
``<results_dir>/<name>/latest``, itself a link to the last slug folder, swapped
atomically, so the table and sidecar read there always come from the same run
(the sidecar's ``sha256`` lets a reader check it). Where links cannot be made,
``<name>.csv`` / ``<name>.json`` are plain copies.
"""
from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from pathlib import Path

from paperlib.core.errors import ParameterError
from paperlib.core.io import atomic_write_text, param_key, sha256_file
from paperlib.core.paths import results_dir

__all__ = ["file_provenance", "package_version", "read_sidecar", "result_folder",
           "result_slug", "write_result"]

LATEST = "latest"


def package_version() -> str:
    """The installed paperlib version ("unknown" when the metadata is missing)."""
    from importlib import metadata

    try:
        return metadata.version("paperlib")
    except metadata.PackageNotFoundError:
        return "unknown"


def _short(key: str, value) -> str | None:
    """Slug fragment of one parameter: ``<key><number>``, a short text value alone;
    None (left out; the hash still covers it) for None, lists, mappings, long text."""
    if value is None or isinstance(value, (list, tuple, dict)):
        return None
    if isinstance(value, float) and math.isinf(value):
        value = "inf"
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool):
        return f"{key}-{str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"{key}{value}"
    text = re.sub(r"[^A-Za-z0-9.]+", "_", str(value)).strip("_")
    return text if text and len(text) <= 24 else None


def result_slug(params: dict) -> str:
    """``b7-p4-L10-threshold-...-<8 hex>``: the short parameters in the given order
    (:func:`_short`), then the first 8 hex digits of
    :func:`paperlib.core.io.param_key` of all of them."""
    parts = [f for f in (_short(k, v) for k, v in params.items()) if f]
    head = "-".join(parts)[:80].strip("-")
    return f"{head}-{param_key(params)[:8]}" if head else param_key(params)[:8]


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name) \
            or name == LATEST:
        raise ParameterError(f"name must be a plain file stem, got {name!r}")


def result_folder(name: str, params: dict, root=None) -> Path:
    """``<root or results_dir()>/<name>/<slug>``: where :func:`write_result` puts
    result ``name`` computed with ``params``."""
    _check_name(name)
    if not isinstance(params, dict) or not params:
        raise ParameterError(f"result {name!r} needs its parameters (a non-empty dict)")
    base = Path(root) if root is not None else results_dir()
    return base / name / result_slug(params)


def file_provenance(path) -> dict:
    """Identity of an input file: path, size, SHA-256, and the JSON sidecar that
    describes it (``<file>.json`` or ``<stem>.json`` beside it), when present."""
    path = Path(path)
    out = {"path": str(path), "bytes": path.stat().st_size, "sha256": sha256_file(path)}
    for side in (path.with_name(path.name + ".json"), path.with_suffix(".json")):
        if side.is_file():
            try:
                out["sidecar"] = json.loads(side.read_text(encoding="utf-8"))
            except ValueError:
                out["sidecar"] = f"unreadable sidecar {side}"
            break
    return out


def _link(target: str, link: Path) -> None:
    """Make ``link`` a symbolic link to ``target``, replacing it atomically."""
    # unique per process and thread: two writers in one process must not share it
    tmp = link.with_name(f".{link.name}.{os.getpid()}.{threading.get_ident()}.link")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)


def _point_latest(base: Path, name: str, folder: Path, files: dict[str, str]) -> None:
    """``base/name/latest`` -> ``folder``; ``base/<name>.<ext>`` -> through it."""
    try:
        _link(folder.name, base / name / LATEST)
        for ext, fname in files.items():
            top = base / f"{name}.{ext}"
            want = f"{name}/{LATEST}/{fname}"
            if not (top.is_symlink() and os.readlink(top) == want):
                _link(want, top)
    except OSError:  # no symbolic links here: plain copies (each atomic)
        for ext, fname in files.items():
            atomic_write_text(base / f"{name}.{ext}",
                              (folder / fname).read_text(encoding="utf-8"))


def write_result(name: str, text: str, params: dict, *, provenance: dict | None = None,
                 ext: str = "csv", root=None) -> Path:
    """Write result ``name`` (``text``, e.g. a CSV) and its sidecar JSON to
    :func:`result_folder`; point ``<results>/<name>.<ext>`` at it. Returns the path
    of the written table."""
    folder = result_folder(name, params, root)
    table = atomic_write_text(folder / f"{name}.{ext}", text)
    sidecar = {"result": name, "file": table.name, "sha256": sha256_file(table),
               "parameters": params, "provenance": provenance or {},
               "paperlib_version": package_version(),
               "written_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    atomic_write_text(folder / f"{name}.json",
                      json.dumps(sidecar, indent=1, ensure_ascii=False, default=str) + "\n")
    _point_latest(folder.parent.parent, name, folder, {ext: table.name, "json": f"{name}.json"})
    return table


def read_sidecar(table) -> dict:
    """The sidecar JSON of a table written by :func:`write_result` (``<stem>.json``
    beside it; a link is followed)."""
    from paperlib.core.errors import DataError

    path = Path(table).with_suffix(".json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"no readable sidecar {path} for {table} ({exc})") from exc
