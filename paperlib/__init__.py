"""paperlib: reproduce Wu et al. (arXiv 2310.00492) and run its explainers on any model pair.

Flat public API. Names are resolved lazily so that ``import paperlib`` stays
cheap (torch and transformers load only when a model-facing name is used).
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    # errors
    "PaperlibError": "errors", "DataError": "errors", "UnknownCaseError": "errors",
    "ParameterError": "errors", "UnsupportedArchitectureError": "errors",
    "ModelLoadError": "errors",
    # io / cache
    "ResultCache": "io", "atomic_write_text": "io", "results_dir": "io",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'paperlib' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"paperlib.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
