"""The frozen-data registry: files of the data folder checked against the SHA-256
and sizes in its ``manifest.json`` (plenoptic style), and cached readers.

A file of the frozen folder (:func:`paperlib.core.paths.data_dir`) must be listed
in the manifest and match it, so a truncated or altered file raises
:class:`~paperlib.core.errors.DataError` naming it instead of giving silently
wrong numbers; a file elsewhere (a live case set) is checked only if its own
folder has a manifest listing it.
"""
from __future__ import annotations

import functools
import gzip
import json
import os
from pathlib import Path

from paperlib.core.errors import DataError
from paperlib.core.io import sha256_file
from paperlib.core.paths import ENV_DATA, data_dir

_REBUILD = ("reinstall paperlib, or rebuild it in a source checkout with "
            "python tools/make_paper_data.py")


def _missing_source(path: Path) -> str:
    """Message for a case-set file of a user-given ``source`` that is not there."""
    folder = path.parent
    if path.suffix != ".npz":
        what = f"{path} does not exist"
    elif not folder.is_dir():
        what = f"the folder {folder} does not exist"
    else:
        have = sorted(p.name for p in folder.glob("cases_*.npz"))
        what = (f"{folder} holds no {path.name}"
                + (f" (it holds {', '.join(have)})" if have else " (no cases_<model>.npz at all)"))
    return (f"source not found: {what}. A source is a folder of case sets "
            "cases_<model>.npz (or one such file), written by paperlib.explain_cases or the "
            "chapter explainers_live_pair (results/live/<pair>/); source=None reads the "
            "paper's data.")


@functools.lru_cache(maxsize=64)
def _sha256_cached(path: str, mtime_ns: int, size: int) -> str:
    return sha256_file(path)


def verify_file(path) -> Path:
    """Check ``path`` against the ``manifest.json`` of its folder, if listed there.

    Files of the frozen folder must be listed; a live case set without a
    manifest entry is accepted as is (its structure is still validated).
    """
    path = Path(path)
    frozen = path.parent.resolve() == data_dir().resolve()
    if not path.is_file():
        if not frozen:  # a live source given by the user, not the packaged data
            raise DataError(_missing_source(path))
        env = os.environ.get(ENV_DATA)
        where = f" (the frozen data folder is ${ENV_DATA}={env})" if env else ""
        raise DataError(f"data file {path} does not exist{where}; {_REBUILD}")
    manifest = path.parent / "manifest.json"
    if not manifest.is_file():
        if frozen:
            raise DataError(f"{manifest} is missing; {_REBUILD}")
        return path
    try:
        entries = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    except (ValueError, KeyError) as exc:
        raise DataError(f"{manifest} is unreadable ({exc}); {_REBUILD}") from exc
    entry = entries.get(path.name)
    if entry is None:
        if frozen:
            raise DataError(f"{path} is not listed in {manifest}; {_REBUILD}")
        return path
    st = path.stat()
    if st.st_size != entry["bytes"] or _sha256_cached(str(path), st.st_mtime_ns,
                                                       st.st_size) != entry["sha256"]:
        raise DataError(f"{path} is truncated or corrupt (sha256 mismatch); {_REBUILD}")
    return path


@functools.lru_cache(maxsize=8)
def _tsv_rows_cached(path: str, mtime_ns: int, size: int) -> tuple[tuple[str, ...], ...]:
    try:
        with gzip.open(path, "rt", encoding="utf-8", newline="\n") as f:
            lines = f.read().split("\n")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is truncated or corrupt ({exc}); {_REBUILD}") from exc
    return tuple(tuple(line.split("\t")) for line in lines if line)


def tsv_rows(name: str, ncols: int, header: bool = True) -> list[tuple[str, ...]]:
    """Non-blank lines of a frozen gzip'd TSV split on tabs (header dropped)."""
    path = verify_file(data_dir() / name)
    st = path.stat()
    rows = _tsv_rows_cached(str(path), st.st_mtime_ns, st.st_size)
    bad = [i for i, r in enumerate(rows) if len(r) != ncols]
    if bad:
        raise DataError(f"{path}: row {bad[0] + 1} has {len(rows[bad[0]])} fields, "
                        f"expected {ncols}")
    return list(rows[1:] if header else rows)
