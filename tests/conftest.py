"""Fixtures shared by the test files, and the `notebook` marker guard."""
import pytest

import nbrun


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before any fixture of ``item`` runs: tell nbrun whether the test is marked
    ``notebook`` (nbrun.run_notebook refuses to execute for an unmarked test, so
    ``make test-fast``, which deselects the marker, never executes a notebook)."""
    nbrun.NOTEBOOK_MARKED = item.get_closest_marker("notebook") is not None


def pytest_runtest_teardown(item, nextitem):
    nbrun.NOTEBOOK_MARKED = None


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    """One paperlib cache for every notebook run of the session: entries are keyed
    by a hash of their parameters, so the MiniLM similarity tables and the
    annotations are computed once and shared safely (the repository's own
    .cache is never touched)."""
    return tmp_path_factory.mktemp("paperlib-cache")
