"""The controls rule (paperlib.paper.verdicts.beyond_controls) on cases with known answers."""
import math

import pytest

from paperlib.paper import verdicts as V

PASS = V.ControlCheck("base → continued pre-training", 0.1, 0.01)
FAIL = V.ControlCheck("tuned → tuned, second seed", 0.5, 0.4)


def test_exceeding_every_control_is_instruction_specific():
    v = V.beyond_controls(what="change", paper=0.35, ours=0.6, controls=[PASS, PASS])
    assert v.label == V.DIRECTION and V.SPECIFIC in v.sentence and "0.6" in v.sentence


def test_one_control_not_exceeded_is_not_specific():
    v = V.beyond_controls(what="change", paper=0.35, ours=0.6, controls=[PASS, FAIL])
    assert v.label == V.NOT_SEEN and "not specific" in v.sentence and FAIL.name in v.sentence
    missing = V.ControlCheck("c", 0.1, None)  # no test possible: never counts as exceeded
    assert V.beyond_controls(what="x", paper=1, ours=1, controls=[missing]).label == V.NOT_SEEN


def test_without_controls_the_single_contrast_verdict_says_so():
    v = V.beyond_controls(what="change", paper=0.35, ours=0.6, p_value=0.01)
    assert v.label == V.DIRECTION and "no control was given" in v.sentence


@pytest.mark.parametrize("ours,p,sat,label", [
    (0.0, None, False, V.NO_CHANGE), (math.nan, None, False, V.CANNOT),
    (0.6, None, True, V.CANNOT), (-0.2, 0.01, False, V.NOT_SEEN), (0.2, 0.3, False, V.NOT_SEEN)])
def test_precedence(ours, p, sat, label):
    v = V.beyond_controls(what="change", paper=0.35, ours=ours, p_value=p, saturated=sat,
                          controls=[PASS])
    assert v.label == label


def test_self_comparison_is_no_change_even_with_controls():
    v = V.beyond_controls(what="change", paper=1.0, ours=0.0, controls=[PASS],
                          paper_text="rises with depth")
    assert v.label == V.NO_CHANGE and "rises with depth" in v.sentence
    assert V.combine([v, v], "Finding 2").label == V.NO_CHANGE


def test_control_passed_threshold():
    assert V.control_passed(PASS) and not V.control_passed(FAIL)
    assert not V.control_passed(V.ControlCheck("c", 0.0, 0.05))  # p must be below alpha
