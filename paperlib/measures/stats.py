"""Group comparisons as in the paper, plus what reviewers asked for.

* :func:`welch_test` - Welch's unequal-variance t-test, one-sided by default
  (the paper: H0 mean(x) >= mean(y) against H1 mean(x) < mean(y)); the result
  carries the null hypothesis in words.
* :func:`mean_std` - mean and POPULATION standard deviation (ddof=0, numpy's
  default, which the authors' scripts used for the "mean ± std" of the tables).
* :func:`bootstrap_diff_ci` - seeded percentile bootstrap CI of mean(y) - mean(x).
* :func:`hedges_g` / :func:`cohens_d` - standardised effect sizes of y - x.
* :func:`compare_groups` - all of it at once.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as sps

from paperlib.core.errors import ParameterError, check_range

_ALTERNATIVES = {
    "less": ("mean({x}) >= mean({y})", "mean({x}) < mean({y})"),
    "greater": ("mean({x}) <= mean({y})", "mean({x}) > mean({y})"),
    "two-sided": ("mean({x}) == mean({y})", "mean({x}) != mean({y})"),
}


def _sample(x, name: str, min_size: int = 1) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if a.size < min_size:
        raise ParameterError(f"group {name!r} needs at least {min_size} value(s), got {a.size}")
    if not np.all(np.isfinite(a)):
        raise ParameterError(f"group {name!r} holds NaN or inf")
    return a


@dataclass(frozen=True)
class WelchResult:
    statistic: float
    p_value: float
    df: float
    alternative: str
    null_hypothesis: str
    alternative_hypothesis: str


def welch_test(x, y, alternative: str = "less", names=("x", "y")) -> WelchResult:
    """Welch's t-test of x against y (scipy ``ttest_ind(x, y, equal_var=False)``).

    alternative "less" (paper): H0 mean(x) >= mean(y), H1 mean(x) < mean(y).
    x, y: 1-D samples with >= 2 values each.
    """
    if alternative not in _ALTERNATIVES:
        raise ParameterError(f"alternative must be one of {tuple(_ALTERNATIVES)}, "
                             f"got {alternative!r}")
    a, b = _sample(x, names[0], 2), _sample(y, names[1], 2)
    res = sps.ttest_ind(a, b, equal_var=False, alternative=alternative)
    h0, h1 = (t.format(x=names[0], y=names[1]) for t in _ALTERNATIVES[alternative])
    return WelchResult(float(res.statistic), float(res.pvalue), float(res.df),
                       alternative, h0, h1)


def mean_std(x, ddof: int = 0) -> tuple[float, float]:
    """(mean, std) of a sample; ddof=0 (population std) as in the paper."""
    a = _sample(x, "x", 1)
    return float(a.mean()), float(a.std(ddof=ddof))


def bootstrap_diff_ci(x, y, n_boot: int = 10000, seed: int = 0,
                      level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of mean(y) - mean(x) (resampling each group).

    Vectorised: draws (n_boot, len(x)) and (n_boot, len(y)) indices from
    ``np.random.default_rng(seed)``. Returns (low, high).
    """
    check_range("n_boot", n_boot, 100, None)
    check_range("level", level, 0.5, 0.999)
    a, b = _sample(x, "x"), _sample(y, "y")
    rng = np.random.default_rng(seed)
    ma = a[rng.integers(0, a.size, size=(n_boot, a.size))].mean(axis=1)
    mb = b[rng.integers(0, b.size, size=(n_boot, b.size))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(mb - ma, [tail, 1.0 - tail])
    return float(low), float(high)


def cohens_d(x, y) -> float:
    """(mean(y) - mean(x)) / pooled sample std (ddof=1)."""
    a, b = _sample(x, "x", 2), _sample(y, "y", 2)
    pooled = ((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2)
    if pooled <= 0:
        raise ParameterError("both groups are constant: the effect size is undefined")
    return float((b.mean() - a.mean()) / math.sqrt(pooled))


def hedges_g(x, y) -> float:
    """Cohen's d times the small-sample correction 1 - 3 / (4 (n_x + n_y) - 9)."""
    n = np.size(x) + np.size(y)
    return cohens_d(x, y) * (1.0 - 3.0 / (4.0 * n - 9.0))


@dataclass(frozen=True)
class Comparison:
    """Summary of x (e.g. unfollowed / LLaMA) against y (followed / Vicuna)."""

    n_x: int
    n_y: int
    mean_x: float
    std_x: float
    mean_y: float
    std_y: float
    p_value: float
    t_statistic: float
    null_hypothesis: str
    ci_low: float
    ci_high: float
    effect_size: float  # Hedges' g of y - x

    def as_dict(self) -> dict:
        return asdict(self)


def compare_groups(x, y, alternative: str = "less", names=("x", "y"), n_boot: int = 10000,
                   seed: int = 0, level: float = 0.95) -> Comparison:
    """Welch test, mean ± std (ddof=0), bootstrap CI of mean(y)-mean(x), Hedges' g."""
    test = welch_test(x, y, alternative, names)
    (mx, sx), (my, sy) = mean_std(x), mean_std(y)
    low, high = bootstrap_diff_ci(x, y, n_boot, seed, level)
    return Comparison(int(np.size(x)), int(np.size(y)), mx, sx, my, sy, test.p_value,
                      test.statistic, test.null_hypothesis, low, high, hedges_g(x, y))


def format_mean_std(m, s, digits: int = 2) -> str:
    """"m ± s" with ``digits`` decimals; "–" when the mean is NaN."""
    return "–" if m != m else f"{m:.{digits}f} ± {s:.{digits}f}"


def two_proportion_test(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided pooled z-test p of H0 "the two proportions x1/n1 and x2/n2 are
    equal" (concepts treated as independent). NaN when undefined."""
    from scipy.stats import norm

    if n1 == 0 or n2 == 0:
        return np.nan
    p = (x1 + x2) / (n1 + n2)
    se = np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    return float(2 * norm.sf(abs(x1 / n1 - x2 / n2) / se))
