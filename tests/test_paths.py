"""paperlib.core.paths: every location is an environment variable or a default that does not
depend on where the source checkout is."""
import re
from pathlib import Path

import pytest

import paperlib
from paperlib.core import paths
from paperlib.core.errors import ModelLoadError
from paperlib.models.loading import model_aliases, register_model_alias, resolve_alias

PACKAGE = Path(paperlib.__file__).resolve().parent
ENV = ("PAPERLIB_DATA", "PAPERLIB_CACHE", "PAPERLIB_RESULTS", "PAPERLIB_MODELS", "XDG_CACHE_HOME")


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No PAPERLIB_* / XDG_CACHE_HOME, HOME in a temporary folder, cwd = an empty folder."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_defaults(clean_env, tmp_path):
    assert paths.data_dir() == PACKAGE / "paper" / "released" == paths.PACKAGED_DATA
    assert paths.cache_dir() == tmp_path / "home" / ".cache" / "paperlib"
    assert paths.results_dir() == clean_env / "results"
    assert paths.models_dir() == clean_env / "models"
    for f in (paths.data_dir, paths.cache_dir, paths.results_dir, paths.models_dir):
        assert f().is_absolute()


def test_environment_variables_win(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert paths.cache_dir() == tmp_path / "xdg" / "paperlib"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/xdg")  # ignored, as the XDG spec says
    assert paths.cache_dir() == tmp_path / "home" / ".cache" / "paperlib"
    for name, f in (("PAPERLIB_DATA", paths.data_dir), ("PAPERLIB_CACHE", paths.cache_dir),
                    ("PAPERLIB_RESULTS", paths.results_dir),
                    ("PAPERLIB_MODELS", paths.models_dir)):
        monkeypatch.setenv(name, str(tmp_path / name))
        assert f() == tmp_path / name
        monkeypatch.setenv(name, "  ")  # blank = unset
        assert f() != tmp_path / name


def test_models_dir_is_found_from_a_subfolder(clean_env, monkeypatch):
    """A notebook kernel started in notebooks/ still finds the repository's models/."""
    (clean_env / "models" / "organism" / "pt").mkdir(parents=True)
    sub = clean_env / "notebooks" / "deeper"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert paths.models_dir() == clean_env / "models"
    assert resolve_alias("organism", "pt") == str(clean_env / "models" / "organism" / "pt")


def test_organism_alias_follows_models_dir(clean_env, monkeypatch, tmp_path):
    with pytest.raises(ModelLoadError, match=re.escape(
            f"points to {clean_env / 'models' / 'organism' / 'ft'}, which does not exist: the "
            "shipped model pair is missing. paperlib looked in a models/ folder of the working "
            f"directory {clean_env} or its parents ($PAPERLIB_MODELS is not set). Run from the "
            "repository root, set PAPERLIB_MODELS to the folder that holds organism/")):
        resolve_alias("organism", "ft")
    monkeypatch.setenv("PAPERLIB_MODELS", str(tmp_path / "elsewhere"))
    assert model_aliases()["organism"] == {"pt": tmp_path / "elsewhere" / "organism" / "pt",
                                           "ft": tmp_path / "elsewhere" / "organism" / "ft"}
    with pytest.raises(ModelLoadError, match=r"looked under \$PAPERLIB_MODELS=.*elsewhere"):
        resolve_alias("organism", "pt")


def test_registered_alias_overrides_builtin(clean_env, monkeypatch, tmp_path):
    from paperlib.models import loading

    (tmp_path / "mine_pt").mkdir()
    (tmp_path / "mine_ft").mkdir()
    monkeypatch.setattr(loading, "_ALIASES", {})  # restored after the test
    register_model_alias("organism", pt=tmp_path / "mine_pt", ft=tmp_path / "mine_ft")
    assert resolve_alias("organism", "pt") == str(tmp_path / "mine_pt")
    assert model_aliases()["organism"]["ft"] == tmp_path / "mine_ft"


def test_shipped_pair_is_found_from_the_repository_root(monkeypatch):
    """The book and the tests run from the repository root: the alias finds models/."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "models" / "organism" / "pt").is_dir():
        pytest.skip("the shipped organism pair is not in this checkout")
    monkeypatch.delenv("PAPERLIB_MODELS", raising=False)
    monkeypatch.chdir(root)
    assert Path(resolve_alias("organism", "pt")) == root / "models" / "organism" / "pt"


def test_no_location_comes_from_the_checkout():
    """No module of the package derives a folder from the repository layout."""
    offenders = []
    for f in sorted(PACKAGE.rglob("*.py")):
        text = f.read_text(encoding="utf-8")
        if "REPO_ROOT" in text or re.search(r"__file__\)\.resolve\(\)\.parents\[[2-9]\]", text):
            offenders.append(str(f.relative_to(PACKAGE)))
    assert offenders == []
