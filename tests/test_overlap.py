"""Graded overlap measures (paperlib.measures.overlap) on hand-worked lists."""
import math

import pytest

from paperlib.core.errors import ParameterError
from paperlib.measures import overlap as O


def test_rbo_hand_worked():
    # depth 3, p = 0.5: agreements 1/1, 1/2, 3/3 -> (1 + 0.5*0.5 + 0.25*1) * 0.5 / (1 - 0.125)
    assert O.rbo([1, 2, 3], [1, 3, 2], p=0.5) == pytest.approx(1.5 * 0.5 / 0.875)
    assert O.rbo("abc", "abc") == pytest.approx(1.0)
    assert O.rbo("abc", "xyz") == 0.0
    assert math.isnan(O.rbo([], []))
    assert O.rbo(["a"], []) == 0.0


def test_rbo_weights_the_top():
    top_swapped = O.rbo(list("bacdefghij"), list("abcdefghij"))
    bottom_swapped = O.rbo(list("abcdefghji"), list("abcdefghij"))
    assert 0 < top_swapped < bottom_swapped < 1


def test_rbo_shorter_list_keeps_its_items():
    # b = [a]: depth 2, agreements 1/1 and 1/2 -> (1 + 0.9 * 0.5) * 0.1 / (1 - 0.81)
    assert O.rbo(["a", "b"], ["a"]) == pytest.approx(1.45 * 0.1 / 0.19)
    with pytest.raises(ParameterError):
        O.rbo("a", "a", p=1.0)


def test_overlap_at_depths():
    a, b = list("abcdef"), list("bxayzf")
    assert O.overlap_at(a, b, (1, 2, 3, 6, 10)) == {1: 0.0, 2: 0.5, 3: 2 / 3, 6: 0.5, 10: 0.5}
    assert math.isnan(O.overlap_at([], [], (5,))[5])
    with pytest.raises(ParameterError):
        O.overlap_at(a, b, (0,))


def test_graded_change_and_groups():
    g = O.graded_change(list("ab"), list("ab"), (1, 2))
    assert g == {"rbo_change": pytest.approx(0.0), "changed@1": 0.0, "changed@2": 0.0}
    pt = {(0, 0): [("a", "b")], (0, 1): [], (1, 0): [("c", "d")]}
    ft = {(0, 0): [("a", "b")], (0, 1): [], (1, 0): [("e", "f")]}
    df = O.graded_change_by_group(pt, ft, [("1-1", (0,)), ("2-2", (1,))], depths=(1,))
    assert df["n"].tolist() == [1, 1]  # the head empty in both models is left out
    assert df["rbo_change"].tolist() == pytest.approx([0.0, 1.0])
    assert df["changed@1"].tolist() == [0.0, 1.0]
    with pytest.raises(ParameterError, match="same keys"):
        O.graded_change_by_group(pt, {(0, 0): []}, [("1-1", (0,))])
