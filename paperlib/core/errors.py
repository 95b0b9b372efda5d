"""Exceptions raised by paperlib.

Every error a user can trigger with bad input is one of these, with a message
that names the problem (the file, the case id, the parameter and its range).
"""


class PaperlibError(Exception):
    """Base class of all paperlib errors."""


class DataError(PaperlibError):
    """A data file is missing, truncated, corrupt or of an unexpected format."""


class UnknownCaseError(PaperlibError, KeyError):
    """A case id that the data set does not hold."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ParameterError(PaperlibError, ValueError):
    """A parameter outside its allowed range or set."""


class UnsupportedArchitectureError(PaperlibError, ValueError):
    """A model family the canonical weight view does not know."""


class ModelLoadError(PaperlibError, OSError):
    """A model or tokenizer that cannot be loaded (missing path, no hub access)."""


class RandomWeightsWarning(UserWarning):
    """A run continues on random weights (the opt-in stand-in pair): its numbers mean nothing."""


def check_range(name: str, value, low=None, high=None, *, allow_inf: bool = False):
    """Raise ParameterError unless low <= value <= high; return value."""
    import math

    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"{name} must be a number, got {value!r}")
    if isinstance(value, float) and math.isnan(value):
        raise ParameterError(f"{name} must not be NaN")
    if math.isinf(value) and not (allow_inf and value > 0):
        raise ParameterError(f"{name}={value} is out of range")
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ParameterError(f"{name}={value} is out of range [{lo}, {hi}]")
    return value


def check_count(name: str, value, low: int = 1, high: int | None = None) -> int:
    """Raise ParameterError unless ``value`` is an int (Python or NumPy) in [low, high];
    return it as a Python int."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterError(f"{name} must be an integer, got {value!r}")
    return int(check_range(name, int(value), low, high))
