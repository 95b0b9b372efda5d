"""paperlib.measures.stats against scipy and known data."""
import numpy as np
import pytest
from scipy import stats as sps

from paperlib.core.errors import ParameterError
from paperlib.measures.stats import (bootstrap_diff_ci, cohens_d, compare_groups, hedges_g, mean_std,
                            welch_test)

X = [1.0, 2.0, 3.0, 4.0]
Y = [3.0, 5.0, 7.0, 9.0, 11.0]


def test_welch_matches_scipy_and_states_h0():
    res = welch_test(X, Y, "less", names=("llama", "vicuna"))
    ref = sps.ttest_ind(X, Y, equal_var=False, alternative="less")
    assert res.p_value == pytest.approx(ref.pvalue)
    assert res.statistic == pytest.approx(ref.statistic)
    assert res.null_hypothesis == "mean(llama) >= mean(vicuna)"
    assert res.alternative_hypothesis == "mean(llama) < mean(vicuna)"
    two = welch_test(X, Y, "two-sided")
    assert two.p_value == pytest.approx(2 * res.p_value)


def test_mean_std_is_population_std():
    assert mean_std(X) == pytest.approx((2.5, np.sqrt(1.25)))
    assert mean_std(X, ddof=1)[1] == pytest.approx(np.std(X, ddof=1))


def test_effect_sizes_hand_worked():
    # var_x(ddof=1) = 5/3, var_y = 10; pooled = (3*5/3 + 4*10)/7 = 45/7
    d = (7.0 - 2.5) / np.sqrt(45 / 7)
    assert cohens_d(X, Y) == pytest.approx(d)
    assert hedges_g(X, Y) == pytest.approx(d * (1 - 3 / (4 * 9 - 9)))


def test_bootstrap_ci_contains_true_difference_and_is_seeded():
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 1.0, 4000)
    y = rng.normal(0.3, 1.0, 4000)
    low, high = bootstrap_diff_ci(x, y, n_boot=2000, seed=0)
    assert low < 0.3 < high and high - low < 0.2
    assert bootstrap_diff_ci(x, y, n_boot=2000, seed=0) == (low, high)
    assert bootstrap_diff_ci(x, y, n_boot=2000, seed=1) != (low, high)


def test_compare_groups_bundles_everything():
    c = compare_groups(X, Y, names=("unfollowed", "followed"), n_boot=500)
    assert (c.n_x, c.n_y) == (4, 5)
    assert c.mean_y - c.mean_x == pytest.approx(4.5)
    assert c.ci_low < 4.5 < c.ci_high
    assert c.null_hypothesis == "mean(unfollowed) >= mean(followed)"
    assert set(c.as_dict()) >= {"p_value", "effect_size", "ci_low"}


@pytest.mark.parametrize("x", [[], [1.0], [1.0, float("nan")], [1.0, float("inf")]])
def test_bad_groups_raise(x):
    with pytest.raises(ParameterError):
        welch_test(x, Y)


def test_bad_parameters_raise():
    with pytest.raises(ParameterError):
        welch_test(X, Y, alternative="smaller")
    with pytest.raises(ParameterError):
        bootstrap_diff_ci(X, Y, level=1.5)
    with pytest.raises(ParameterError):
        cohens_d([1.0, 1.0], [2.0, 2.0])
