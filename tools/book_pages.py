"""Steps of ``tools/build_book.py`` that prepare the pages after the chapters ran.

* :func:`collapse_code` - every code cell of an executed chapter gets the
  ``hide-input`` tag (collapsed behind a "Show code cell source" toggle);
* :func:`write_landing` - the landing page's results-at-a-glance table and the
  organism box (``paperlib.book.landing``), from the claim records the book's
  own chapter runs wrote, into ``book/_generated/results_at_a_glance.md``
  (included by ``book/intro.md``).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from paperlib.core.io import atomic_write_text

GENERATED_LANDING = Path("book") / "_generated" / "results_at_a_glance.md"
KEEP_TAGS = ("remove-cell", "remove-input", "hide-input", "hide-cell")


def write_landing(root: Path, jobs, build: Path) -> Path:
    """Render the landing page's results table and organism box into
    :data:`GENERATED_LANDING`, from the claim records the book's own chapter runs
    wrote (their snapshots ``build/results/<name>/claims/``): a record left in
    ``results/`` by a ``make notebook`` run with other parameters never reaches
    the landing page. ``jobs``: the book's notebook jobs (``.name``)."""
    from paperlib.book import landing

    env = os.environ.get("PAPERLIB_MODELS", "").strip()
    models = (root / Path(env).expanduser()) if env else root / "models"
    claims = landing.gather_claims(build / "results" / job.name for job in jobs)
    return atomic_write_text(root / GENERATED_LANDING, landing.render(claims, models))


def collapse_code(path: Path) -> bool:
    """Tag every code cell of the notebook at ``path`` ``hide-input`` (collapsed with a
    toggle in the HTML) unless it already has one of :data:`KEEP_TAGS`; returns
    whether the file changed (written atomically)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    changed = False
    for cell in nb.get("cells", []):
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if cell.get("cell_type") == "code" and not set(tags) & set(KEEP_TAGS):
            tags.append("hide-input")
            changed = True
    if changed:
        atomic_write_text(path, json.dumps(nb, ensure_ascii=False, indent=1) + "\n")
    return changed
