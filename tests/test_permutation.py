"""Max-T permutation test over a grid (paperlib.measures.permutation): against brute force
on small examples, known answers, and the orderings every correction must respect."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats as sps

from paperlib.core.errors import ParameterError
from paperlib.measures.permutation import holm, max_t_test, max_t_test_blocks, welch_t_batch


def _welch_t(x, y) -> float:
    return float(sps.ttest_ind(y, x, equal_var=False).statistic)


def _brute_force(X, labels):
    """Exact max-T and per-point p by looping over every relabelling with scipy."""
    n, n_y = labels.size, int(labels.sum())
    t_obs = np.array([_welch_t(row[~labels], row[labels]) for row in X])
    hits_point, hits_max, total = np.zeros(len(X)), np.zeros(len(X)), 0
    for idx in itertools.combinations(range(n), n_y):
        lab = np.zeros(n, bool)
        lab[list(idx)] = True
        t = np.array([_welch_t(row[~lab], row[lab]) for row in X])
        hits_point += t >= t_obs - 1e-9
        hits_max += t.max() >= t_obs - 1e-9
        total += 1
    return t_obs, hits_point / total, hits_max / total


def _grid(seed, n=9, n_y=4, G=5, shift=0.0):
    rng = np.random.default_rng(seed)
    labels = np.zeros(n, bool)
    labels[:n_y] = True
    base = rng.normal(size=n)
    X = np.stack([base + 0.7 * rng.normal(size=n) + shift * labels for _ in range(G)])
    return X, labels


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exhaustive_equals_brute_force(seed):
    X, labels = _grid(seed)
    t_obs, p_point, p_max = _brute_force(X, labels)
    res = max_t_test(X, labels, exhaustive=True)
    assert res.n_perm == 126  # C(9, 4)
    np.testing.assert_allclose(res.t, t_obs, rtol=1e-9)
    np.testing.assert_allclose(res.p_perm, p_point)
    np.testing.assert_allclose(res.p_maxt, p_max)


def test_random_shuffles_approach_the_exact_answer():
    X, labels = _grid(3, shift=0.8)
    exact = max_t_test(X, labels, exhaustive=True)
    sampled = max_t_test(X, labels, n_perm=20_000, seed=5)
    # Monte Carlo error of a proportion from 20000 draws: < 0.004 (1 sd); allow 5 sd
    np.testing.assert_allclose(sampled.p_maxt, exact.p_maxt, atol=0.02)
    np.testing.assert_allclose(sampled.p_perm, exact.p_perm, atol=0.02)


def test_vectorised_welch_equals_scipy():
    X, labels = _grid(4, n=12, n_y=5, G=3)
    rng = np.random.default_rng(0)
    Y = np.stack([rng.permutation(labels) for _ in range(7)], axis=1).astype(float)
    got = welch_t_batch(X - X.mean(axis=1, keepdims=True), Y)
    for g in range(3):
        for j in range(7):
            lab = Y[:, j].astype(bool)
            assert got[g, j] == pytest.approx(_welch_t(X[g, ~lab], X[g, lab]), rel=1e-10)


def test_identical_groups_give_large_p():
    # every grid point: the two groups hold exactly the same values
    row = np.array([0.1, 0.5, 0.9, 1.3, 2.0, 2.2])
    X = np.stack([np.r_[row, row] * k for k in (1.0, 2.0, 3.0)])
    labels = np.r_[np.zeros(6, bool), np.ones(6, bool)]
    res = max_t_test(X, labels, n_perm=5000, seed=0)
    assert np.all(res.t == pytest.approx(0.0, abs=1e-12))
    assert np.all(res.p_perm > 0.4) and np.all(res.p_maxt > 0.4)
    assert np.all(res.p_welch == pytest.approx(0.5))


def test_well_separated_groups_give_small_p():
    rng = np.random.default_rng(1)
    labels = np.r_[np.zeros(30, bool), np.ones(30, bool)]
    X = np.stack([rng.normal(size=60) + 3.0 * labels for _ in range(10)])
    res = max_t_test(X, labels, n_perm=2000, seed=0)
    assert np.all(res.p_maxt == 1 / 2001)  # no shuffle reaches the observed statistic
    assert np.all(res.p_welch < 1e-10)


def test_correction_orderings_and_determinism():
    X, labels = _grid(7, n=40, n_y=18, G=12, shift=0.5)
    a = max_t_test(X, labels, n_perm=3000, seed=11)
    b = max_t_test(X, labels, n_perm=3000, seed=11)
    c = max_t_test(X, labels, n_perm=3000, seed=12)
    np.testing.assert_array_equal(a.p_maxt, b.p_maxt)
    assert not np.array_equal(a.max_null, c.max_null)
    assert np.all(a.p_maxt >= a.p_perm)  # max-T p >= plain permutation p, point by point
    assert np.all(a.p_holm >= a.p_welch)
    assert a.best == int(np.argmax(a.t))
    # the best point's corrected p is the smallest corrected p
    assert a.p_maxt[a.best] == a.p_maxt.min()


def test_max_t_over_blocks_is_stricter_than_each_block():
    X1, l1 = _grid(8, n=30, n_y=12, G=6, shift=0.6)
    X2, l2 = _grid(9, n=24, n_y=10, G=6, shift=0.6)
    whole = max_t_test_blocks([(X1, l1), (X2, l2)], n_perm=3000, seed=0)
    alone = max_t_test_blocks([(X1, l1)], n_perm=3000, seed=0)
    assert np.all(whole.p_maxt[whole.block == 0] >= alone.p_maxt - 1e-12)
    assert list(np.unique(whole.block)) == [0, 1]


def test_stratified_shuffles_keep_labels_inside_strata():
    # y is larger only because stratum B is larger and mostly y: within strata no effect
    strata = np.array(["A"] * 10 + ["B"] * 10)
    labels = np.array([True] * 1 + [False] * 9 + [True] * 9 + [False] * 1)
    rng = np.random.default_rng(0)
    scores = rng.normal(size=20) * 0.1 + (strata == "B") * 5.0
    pooled = max_t_test(scores[None], labels, n_perm=4000, seed=0)
    within = max_t_test(scores[None], labels, n_perm=4000, seed=0, strata=strata)
    assert pooled.p_perm[0] < 0.01
    assert within.p_perm[0] > 0.05


def test_holm_known_answer():
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.5]), [0.04, 0.09, 0.09, 0.5])
    out = holm([np.nan, 0.02, 0.01])
    assert np.isnan(out[0]) and out[1:] == pytest.approx([0.02, 0.02])


def test_constant_row_is_left_out_of_the_family():
    X, labels = _grid(2, n=20, n_y=8, G=3, shift=1.0)
    X = np.vstack([X, np.full(20, 0.7)])
    res = max_t_test(X, labels, n_perm=500, seed=0)
    assert np.isnan(res.t[-1]) and np.isnan(res.p_maxt[-1]) and np.isnan(res.p_holm[-1])
    assert np.all(np.isfinite(res.p_maxt[:-1]))


@pytest.mark.parametrize("bad,match", [
    (dict(labels=np.ones(6, bool)), "at least 2"),
    (dict(labels=np.array([0, 1, 0, 1, 0, 1])), "bool"),
    (dict(X=np.full((2, 6), np.nan)), "NaN"),
    (dict(X=np.zeros((2, 5))), "shape|\\(G, n\\)"),
    (dict(n_perm=0), "n_perm"),
])
def test_bad_input_is_one_clear_error(bad, match):
    kw = dict(X=np.arange(12.0).reshape(2, 6), labels=np.array([True, False] * 3), n_perm=10)
    kw.update(bad)
    with pytest.raises(ParameterError, match=match):
        max_t_test(kw["X"], kw["labels"], n_perm=kw["n_perm"])


def test_exhaustive_refuses_huge_enumerations():
    labels = np.r_[np.zeros(20, bool), np.ones(20, bool)]
    with pytest.raises(ParameterError, match="relabellings"):
        max_t_test(np.random.default_rng(0).normal(size=(1, 40)), labels, exhaustive=True)
