"""Fixtures shared by the test files."""
import pytest


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    """One paperlib cache for every notebook run of the session: entries are keyed
    by a hash of their parameters, so the MiniLM similarity tables and the
    annotations are computed once and shared safely (the repository's own
    .cache is never touched)."""
    return tmp_path_factory.mktemp("paperlib-cache")
