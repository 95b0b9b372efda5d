"""Packaging invariants: environment.yml and pyproject.toml list the same pins."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pyproject_requirements() -> set[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"])
    for extra in meta.get("optional-dependencies", {}).values():
        reqs.extend(extra)
    return {r.replace(" ", "").lower() for r in reqs}


def _environment_requirements() -> set[str]:
    text = (ROOT / "environment.yml").read_text()
    pip_block = text.split("- pip:", 1)[1]
    reqs = re.findall(r"^\s*-\s*(\S+)\s*$", pip_block, flags=re.M)
    return {r.lower() for r in reqs if not r.startswith("-e")}


def test_environment_yml_matches_pyproject():
    py, env = _pyproject_requirements(), _environment_requirements()
    assert py == env, f"only in pyproject: {sorted(py - env)}; only in environment.yml: {sorted(env - py)}"


def test_torch_is_pinned_exactly():
    pins = [r for r in _pyproject_requirements() if r.startswith("torch")]
    assert pins == ["torch==2.13.0"], pins


def test_every_dependency_is_pinned_or_bounded():
    for req in _pyproject_requirements():
        assert re.search(r"(==|<|~=)", req), f"{req} is neither pinned nor bounded"


def test_python_version_floor():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["requires-python"] == ">=3.11"
