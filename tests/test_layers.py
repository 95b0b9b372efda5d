"""The library's layering, checked over the import graph (every import, including
those inside functions): ``core`` <- toolbox (``models``, ``explainers``,
``measures``, ``words``, ``annotate``) <- ``paper`` <- ``book`` | ``cli`` (the command
line: a peer of ``book``, neither imports the other). A module may import
its own layer and the layers below it, never one above; nothing in ``paperlib``
imports the organism pipeline; the flat API exposes no ``book`` name."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import paperlib

PKG = Path(paperlib.__file__).resolve().parent
TOOLBOX = ("models", "explainers", "measures", "words", "annotate")
RANK = {"core": 0, **{name: 1 for name in TOOLBOX}, "paper": 2, "book": 3, "cli": 3}
# same rank, kept apart: the command line (cli) and the chapters' helpers (book) never
# import each other, so nothing in paperlib imports cli
APART = {"book", "cli"}


def layer_of(module: str) -> str | None:
    """Layer of a dotted ``paperlib.*`` module name (None for the package root)."""
    parts = module.split(".")
    if parts[0] != "paperlib" or len(parts) == 1:
        return None
    return parts[1]


def imported_modules(path: Path, root: Path = PKG) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in a source file under ``root``
    (the package folder); ``from X import y`` also yields ``X.y`` so that
    ``from paperlib import book`` is seen."""
    tree = ast.parse(path.read_text(), filename=str(path))
    pkg = ".".join(("paperlib", *path.relative_to(root).with_suffix("").parts[:-1]))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            out.append((node.lineno, base))
            out += [(node.lineno, f"{base}.{a.name}") for a in node.names]
    return out


def violations(root: Path = PKG) -> list[str]:
    """Every import that goes up a layer, or into the organism pipeline."""
    bad = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        own = rel.parts[0] if len(rel.parts) > 1 else None
        for line, mod in imported_modules(path, root):
            if mod == "organism" or mod.startswith("organism."):
                bad.append(f"{rel}:{line} imports the organism pipeline ({mod})")
            target = layer_of(mod)
            if own not in RANK or target not in RANK:
                continue
            if RANK[target] > RANK[own] or (own != target and {own, target} == APART):
                bad.append(f"{rel}:{line} ({own}) imports {mod} ({target})")
    return bad


def test_every_subpackage_has_a_layer():
    subpackages = {p.parent.name for p in PKG.glob("*/__init__.py")}
    assert subpackages == set(RANK), "a new subpackage needs a place in RANK"


def test_no_module_imports_a_higher_layer():
    assert violations() == []


def test_the_rule_catches_an_upward_import(tmp_path):
    """The check itself can fail: a toolbox module importing the book is reported."""
    fake = tmp_path / "words"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "x.py").write_text("def f():\n    from paperlib.book import plots\n")
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "y.py").write_text("from ..paper import data\n")
    found = violations(tmp_path)
    assert len(found) == 4, found  # each as the module and as module.name


@pytest.mark.parametrize("name", sorted(paperlib.__all__))
def test_flat_api_exposes_toolbox_and_paper_only(name):
    if name == "__version__":
        return
    target = paperlib._EXPORTS[name]
    module = target[0] if isinstance(target, tuple) else target
    assert module.split(".")[0] in RANK and module.split(".")[0] not in APART, (name, module)


def test_the_rule_keeps_cli_and_book_apart(tmp_path):
    """A chapter helper importing the command line is reported (and the reverse)."""
    for layer, other in (("book", "cli"), ("cli", "book")):
        (tmp_path / layer).mkdir()
        (tmp_path / layer / "x.py").write_text(f"from paperlib.{other} import explain\n")
    found = violations(tmp_path)
    assert len(found) == 4, found
