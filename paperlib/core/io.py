"""Atomic writes and a small results cache keyed by a hash of parameters.

Results are written to a temporary file in the destination folder and renamed
into place, so a crash never leaves a half-written file behind. Cache entries
live under ``<cache_dir>/<namespace>/<key>.<ext>`` (``cache_dir``: see
:mod:`paperlib.core.paths`) where ``key`` is the SHA-256
of the canonical JSON of the parameters (plenoptic-style registry): a change in
any parameter gives a new key, so a cached result is never silently stale.
An entry that cannot be read back (a truncated ``.npz``, broken JSON) is
reported once with its path (:class:`CorruptCacheWarning`), moved aside to
``<name>.corrupt-<timestamp>`` and recomputed.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator

from paperlib.core.paths import cache_dir

__all__ = ["CorruptCacheWarning", "ResultCache", "atomic_path", "atomic_write_bytes",
           "atomic_write_text", "load_npz", "move_aside", "param_key", "save_npz", "sha256_file"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():  # mkstemp makes 0600 files; results are meant to be shared
            os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def _default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"cannot hash parameter of type {type(obj).__name__}")


def param_key(params: dict) -> str:
    """SHA-256 hex digest of the canonical JSON of ``params``."""
    blob = json.dumps(params, sort_keys=True, default=_default, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


# Part of every cache key: bump it when the stored format of entries changes, so that
# entries written in an older format are never read as the new one (2: save_npz).
CACHE_FORMAT = 2
_JSON_KEY = "__json__"  # save_npz: the non-array values, as one JSON string


def save_npz(data: dict, path: str | os.PathLike) -> None:
    """Write ``data`` ({name: array or JSON-able value}) as an uncompressed .npz:
    NumPy arrays as arrays, every other value in one JSON string. No pickles."""
    import numpy as np

    arrays = {k: v for k, v in data.items() if isinstance(v, np.ndarray)}
    other = {k: v for k, v in data.items() if k not in arrays}
    if other:
        arrays[_JSON_KEY] = np.array(json.dumps(other, ensure_ascii=False, default=_default))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def load_npz(path: str | os.PathLike) -> dict:
    """Read a file of :func:`save_npz` back into a dict (``allow_pickle=False``)."""
    import numpy as np

    with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:  # f: closed on errors too
        out = {k: z[k] for k in z.files if k != _JSON_KEY}
        if _JSON_KEY in z.files:
            out.update(json.loads(str(z[_JSON_KEY])))
    return out


class CorruptCacheWarning(UserWarning):
    """A cache entry could not be read; it was moved aside and is recomputed."""


# What a truncated or altered entry raises when read back (np.load, json, zipfile, ...).
UNREADABLE = (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile,
              zlib.error)


def move_aside(path: str | os.PathLike, tag: str = "corrupt") -> Path | None:
    """Rename ``path`` to ``<name>.<tag>-<UTC timestamp>-<pid>`` in its folder; return
    the new path (None when the file is already gone, e.g. another process moved it)."""
    path = Path(path)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    moved = path.with_name(f"{path.name}.{tag}-{stamp}-{os.getpid()}")
    try:
        os.replace(path, moved)
    except FileNotFoundError:
        return None
    return moved


class ResultCache:
    """A folder of results keyed by parameter hashes.

    ``cache.get_or_compute(params, compute, save, load, ext)`` returns the stored
    result for ``params`` or computes, stores (atomically, with a sidecar JSON of
    the parameters) and returns it. An entry that ``load`` cannot read is moved
    aside (:func:`move_aside`), reported once by a :class:`CorruptCacheWarning`
    naming both paths, and recomputed.
    """

    def __init__(self, namespace: str, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else cache_dir()
        self.dir = self.root / namespace

    def path(self, params: dict, ext: str) -> Path:
        return self.dir / f"{param_key({**params, '_cache_format': CACHE_FORMAT})}.{ext}"

    def _read(self, target: Path, load: Callable[[Path], Any]) -> tuple[bool, Any]:
        """(True, value) for a readable entry; (False, None) when there is none or it
        was unreadable (then moved aside and reported)."""
        if not target.exists():
            return False, None
        try:
            return True, load(target)
        except UNREADABLE as exc:
            moved = move_aside(target)
            where = f"moved aside to {moved}" if moved else "already moved by another process"
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            warnings.warn(f"unreadable cache entry {target} ({reason}); {where}; recomputing it",
                          CorruptCacheWarning, stacklevel=3)
            return False, None

    def get_or_compute(
        self,
        params: dict,
        compute: Callable[[], Any],
        save: Callable[[Any, Path], None],
        load: Callable[[Path], Any],
        ext: str = "json",
    ) -> Any:
        target = self.path(params, ext)
        found, value = self._read(target, load)
        if found:
            return value
        value = compute()
        with atomic_path(target) as tmp:
            save(value, tmp)
        atomic_write_text(target.with_suffix(target.suffix + ".params.json"),
                          json.dumps(params, sort_keys=True, indent=1, default=_default))
        return value
