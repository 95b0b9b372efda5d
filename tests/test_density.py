"""Hand-worked cases for paperlib.measures.density."""
import math

import numpy as np
import pytest

from paperlib.measures.density import (apply_cutoff, density, instruction_score, normalise,
                              segment_profile, segment_shares)
from paperlib.core.errors import ParameterError


def test_normalise_hand_worked_with_negatives_and_zero_column():
    # column 0: relu -> [2, 0, 1], max 2 -> ceil(10*[1, 0, .5]) = [10, 0, 5]
    # column 1: all <= 0 -> zeros (no NaN); column 2: [0.3, 0.1, 0.2] -> [10, 4, 7]
    I = np.array([[2.0, -1.0, 0.3],
                  [-3.0, 0.0, 0.1],
                  [1.0, -2.0, 0.2]])
    S = normalise(I, L=10, b=0)
    np.testing.assert_array_equal(S, [[10, 0, 10], [0, 0, 4], [5, 0, 7]])


def test_normalise_cutoff_modes():
    I = np.array([[2.0], [1.0], [1.7]])  # -> ceil(10*[1, .5, .85]) = [10, 5, 9]
    np.testing.assert_array_equal(normalise(I, b=7, mode="subtract"), [[3], [0], [2]])
    np.testing.assert_array_equal(normalise(I, b=7, mode="threshold"), [[10], [0], [9]])
    np.testing.assert_array_equal(normalise(I, L=4, b=1), [[3], [1], [3]])  # ceil(4*.)=[4,2,4]


def test_apply_cutoff_on_released_values():
    S = np.array([[7.0, 8.0, 10.0, 0.0]])
    np.testing.assert_array_equal(apply_cutoff(S, 7, "subtract"), [[0, 1, 3, 0]])
    np.testing.assert_array_equal(apply_cutoff(S, 7, "threshold"), [[0, 8, 10, 0]])


@pytest.mark.parametrize("kw", [dict(L=0), dict(b=-1), dict(b=11), dict(mode="x"),
                                dict(L=float("nan"))])
def test_normalise_rejects_bad_parameters(kw):
    with pytest.raises(ParameterError):
        normalise(np.ones((2, 2)), **kw)


def test_density_p4_hand_worked():
    # row 0: [1,1,1,1]: l1=4, l4=4**.25 -> 4**.75 = 2.8284; row 1: [2,0,0,0] -> 1;
    # row 2 zeros -> 0.  Normalised by max: [1, 1/2.8284, 0]
    S = np.array([[1, 1, 1, 1], [2, 0, 0, 0], [0, 0, 0, 0]], dtype=float)
    np.testing.assert_allclose(density(S, p=4), [1.0, 4 ** -0.75, 0.0])


def test_density_p_inf_and_p1():
    S = np.array([[1, 2, 3], [3, 0, 0]], dtype=float)
    # p=inf: l1/max = [6/3, 3/3] = [2, 1] -> [1, .5]
    np.testing.assert_allclose(density(S, p=math.inf), [1.0, 0.5])
    # p=1: every non-zero row gives 1
    np.testing.assert_allclose(density(S, p=1), [1.0, 1.0])


def test_density_edge_cases_and_errors():
    np.testing.assert_array_equal(density(np.zeros((3, 2))), [0, 0, 0])
    np.testing.assert_array_equal(density(np.zeros((3, 0))), [0, 0, 0])
    for p in (0.5, -1, float("nan"), -math.inf):
        with pytest.raises(ParameterError):
            density(np.ones((2, 2)), p=p)
    with pytest.raises(ParameterError):
        density(np.ones(3))


def test_density_large_values_do_not_overflow():
    S = np.array([[1e100, 1e100], [1e100, 0.0]])
    np.testing.assert_allclose(density(S, p=8), [1.0, 2 ** (-7 / 8)])


def test_instruction_score():
    a = np.array([1.0, 0.5, 0.25, 0.0])
    mask = np.array([True, True, False, False])
    assert instruction_score(a, mask) == pytest.approx(1.5 / 2.0)  # log2(2+2)=2
    assert instruction_score(a, np.zeros(4, bool)) == 0.0
    with pytest.raises(ParameterError):
        instruction_score(a, np.array([1, 1, 0, 0]))


def test_segment_shares_hand_worked():
    a = np.array([4.0, 1, 1, 2, 9, 9, 1, 1, 1])
    # sentence 1: tokens 0..3 -> one token per segment: [4,1,1,2]/8
    # sentence 2: tokens 4..8 (5 tokens) -> array_split sizes 2,1,1,1: [18,1,1,1]/21
    rows = segment_shares(a, [(0, 4), (4, 9)])
    np.testing.assert_allclose(rows, [[.5, .125, .125, .25], [18 / 21, 1 / 21, 1 / 21, 1 / 21]])
    np.testing.assert_allclose(segment_profile(a, [(0, 4), (4, 9)]), rows.mean(axis=0))


def test_segment_shares_skips_short_and_zero_sentences():
    a = np.array([1.0, 1, 1, 0, 0, 0, 0, 5])
    # (0,3) has 3 < 4 tokens, (3,7) is all zero: both skipped
    assert segment_shares(a, [(0, 3), (3, 7)]).shape == (0, 4)
    assert np.isnan(segment_profile(a, [(0, 3)])).all()
    with pytest.raises(ParameterError):
        segment_shares(a, [(5, 20)])
