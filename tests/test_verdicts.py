"""Verdict rules on cases with known answers."""
import math

import pytest

from paperlib.book.claims import load_claims, record_claim
from paperlib.paper import verdicts as V


def test_self_comparison_is_no_change_never_holds():
    v = V.effect_verdict(what="gain", paper=0.2, ours=0.0, p_value=1.0)
    assert v.label == V.NO_CHANGE
    parts = [v, V.effect_verdict(what="other", paper=-1.0, ours=0.0)]
    assert V.combine(parts, "claim").label == V.NO_CHANGE


@pytest.mark.parametrize("ours,p,label", [
    (0.2, 0.01, V.DIRECTION), (0.2, 0.5, V.NOT_SEEN), (-0.2, 0.01, V.NOT_SEEN),
    (math.nan, 0.01, V.CANNOT), (0.3001, 0.01, V.EXACT)])
def test_effect_rules(ours, p, label):
    v = V.effect_verdict(what="gain", paper=0.3, ours=ours, p_value=p, exact_tol=1e-3)
    assert v.label == label
    if label != V.CANNOT:
        assert f"{ours:.3g}" in v.sentence  # the sentence names its numbers


def test_saturated_measure_cannot_be_judged():
    assert V.is_saturated([0.96, 0.99, 0.98]) and not V.is_saturated([0.5, 0.99])
    v = V.effect_verdict(what="rise", paper=0.1, ours=0.02, saturated=True)
    assert v.label == V.CANNOT


def test_combine_partial_and_not_seen():
    yes = V.Verdict(V.DIRECTION, "a")
    no = V.Verdict(V.NOT_SEEN, "b")
    same = V.Verdict(V.NO_CHANGE, "c")
    assert V.combine([yes, no], "x").label == V.PARTIAL
    assert V.combine([no, same], "x").label == V.NOT_SEEN
    assert V.combine([yes, yes], "x").label == V.DIRECTION
    with pytest.raises(ValueError):
        V.Verdict("holds", "s")


def test_claim_records_round_trip(tmp_path):
    v = V.effect_verdict(what="gain", paper=0.3, ours=0.2, p_value=0.01)
    record_claim("finding2", claim="c2", paper="1", ours="2", pair="organism pt/ft",
                 verdict=v, page="p", root=tmp_path)
    record_claim("finding1a", claim="c1", paper="1", ours="2", pair="released",
                 verdict=v, page="p", root=tmp_path)
    df = load_claims(tmp_path)
    assert list(df.claim_id) == ["finding1a", "finding2"]
    assert df.verdict.tolist() == [V.DIRECTION] * 2
    with pytest.raises(ValueError):
        record_claim("Bad id", claim="", paper="", ours="", pair="", verdict=v, page="",
                     root=tmp_path)


def test_stays_verdict_known_cases():
    """A claim of no change: the paper's linguistic levels 'stay the same'."""
    kw = dict(what="semantic share change (pp)", paper_text="+0.04 pp, stays")
    assert V.stays_verdict(ours=0.0, p_value=1.0, **kw).label == V.NO_CHANGE       # self-comparison
    moved = V.stays_verdict(ours=18.1, p_value=0.002, **kw)                           # the organism's move
    assert moved.label == V.NOT_SEEN and "18.1" in moved.sentence and "0.002" in moved.sentence
    assert V.stays_verdict(ours=-11.4, p_value=0.001, **kw).label == V.NOT_SEEN       # either sign
    kept = V.stays_verdict(ours=1.5, p_value=0.6, **kw)
    assert kept.label == V.DIRECTION and "cannot show equivalence" in kept.sentence
    assert V.stays_verdict(ours=1.5, p_value=0.04, alpha=0.01, **kw).label == V.DIRECTION
    assert V.stays_verdict(ours=math.nan, p_value=0.5, **kw).label == V.CANNOT
    assert V.stays_verdict(ours=2.0, p_value=None, **kw).label == V.CANNOT
