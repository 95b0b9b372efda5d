"""The flat public API: every exported name resolves, unknown names fail clearly."""
import pytest

import paperlib


def test_every_exported_name_resolves():
    for name in paperlib.__all__:
        getattr(paperlib, name)  # AttributeError/ImportError if an export is broken


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        paperlib.no_such_name  # noqa: B018


def test_density_function_is_exported_under_a_distinct_name():
    import numpy as np

    S = np.array([[10, 0], [5, 5]])
    assert paperlib.importance_density(S, p=4).max() == pytest.approx(1.0)


def test_no_export_is_shadowed_by_a_submodule():
    """Importing paperlib.X sets the attribute X on the package, so an export
    named like a submodule would silently turn into that module."""
    import pkgutil

    submodules = {m.name for m in pkgutil.iter_modules(paperlib.__path__)}
    assert not submodules & set(paperlib.__all__)
