"""Session-wide test settings for tests/ and organism/tests/: no test reads or writes
the user's ~/.cache/paperlib or ./results (models: PAPERLIB_MODELS, or the
checkout's models/ found upward from the working directory)."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent


@pytest.fixture(scope="session", autouse=True)
def _paperlib_locations(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("PAPERLIB_CACHE", str(tmp_path_factory.mktemp("paperlib-default-cache")))
    mp.setenv("PAPERLIB_RESULTS", str(tmp_path_factory.mktemp("paperlib-results")))
    mp.delenv("PAPERLIB_DATA", raising=False)
    yield
    mp.undo()
