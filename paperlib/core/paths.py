"""Where paperlib reads and writes: the one module of locations.

Nothing here depends on where the source checkout is, so an installed wheel
behaves like the checkout. Each folder is an environment variable or a default:

=================  ====================  ==========================================
function           variable              default
=================  ====================  ==========================================
``data_dir()``     ``PAPERLIB_DATA``     the frozen paper data shipped inside the
                                         package (``paperlib/paper/released/``)
``cache_dir()``    ``PAPERLIB_CACHE``    ``$XDG_CACHE_HOME/paperlib``, else
                                         ``~/.cache/paperlib``
``results_dir()``  ``PAPERLIB_RESULTS``  ``./results`` in the working directory
``models_dir()``   ``PAPERLIB_MODELS``   ``./models`` in the working directory, or
                                         in the nearest parent folder that has one
=================  ====================  ==========================================

The variables are read at every call (not at import), so setting them in a
running process takes effect at once. A relative value is taken relative to
the working directory. ``models_dir()`` looks upwards so that a notebook
whose kernel starts in ``notebooks/`` (Jupyter's default) still finds the
repository's ``models/`` folder; the model aliases (``"organism"`` ->
``<models_dir>/organism/{pt,ft}``) live under it.
"""
from __future__ import annotations

import os
from pathlib import Path

ENV_DATA, ENV_CACHE, ENV_RESULTS, ENV_MODELS = (
    "PAPERLIB_DATA", "PAPERLIB_CACHE", "PAPERLIB_RESULTS", "PAPERLIB_MODELS")

# The frozen paper data are package data of paperlib.paper (see pyproject.toml).
PACKAGED_DATA = Path(__file__).resolve().parent.parent / "paper" / "released"


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """Folder of the frozen paper data: ``$PAPERLIB_DATA`` or the packaged copy."""
    return _env_path(ENV_DATA) or PACKAGED_DATA


def cache_dir() -> Path:
    """Cache folder: ``$PAPERLIB_CACHE``, else ``$XDG_CACHE_HOME/paperlib``, else
    ``~/.cache/paperlib``."""
    env = _env_path(ENV_CACHE)
    if env is not None:
        return env
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "paperlib"


def results_dir() -> Path:
    """Folder for result CSVs: ``$PAPERLIB_RESULTS`` or ``./results`` (working directory)."""
    return _env_path(ENV_RESULTS) or Path("results").absolute()


def models_dir() -> Path:
    """Folder of local model folders named by aliases: ``$PAPERLIB_MODELS``, else the
    ``models`` folder of the working directory or of its nearest parent that has one
    (``./models`` when none does; it need not exist)."""
    env = _env_path(ENV_MODELS)
    if env is not None:
        return env
    cwd = Path.cwd()
    for folder in (cwd, *cwd.parents):
        if (folder / "models").is_dir():
            return folder / "models"
    return cwd / "models"
