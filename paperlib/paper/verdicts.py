"""Verdicts: does a claim of the paper hold on the pair a chapter ran on?

Every verdict in the book comes from the rules here, and every rule is tested on
cases with known answers (``tests/test_verdicts.py``). A verdict has a label from
a fixed vocabulary and a sentence that names the numbers it rests on.

Rules, in order of precedence (:func:`effect_verdict`):

1. the measurement is missing (NaN / None)                -> ``cannot be judged``
2. the measure is saturated (:func:`is_saturated`)        -> ``cannot be judged``
3. our effect is zero within ``no_change_tol``
   (a model compared with itself lands here)              -> ``no change — cannot be judged``
4. our effect equals the paper's within ``exact_tol``     -> ``reproduced exactly``
5. same sign as the paper's, and significant
   (``p < alpha``, when a p-value is given)               -> ``reproduced in direction``
6. otherwise (opposite sign, or not significant)          -> ``not seen on this pair``

Effects are signed so that a positive value is the paper's claim (e.g. "instruction
scores are higher for followed than unfollowed answers": ``mean_followed -
mean_unfollowed``). :func:`combine` merges the parts of a claim with several parts;
parts with no change are never counted as support.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

EXACT = "reproduced exactly"
DIRECTION = "reproduced in direction"
PARTIAL = "reproduced in part"
NOT_SEEN = "not seen on this pair"
NO_CHANGE = "no change — cannot be judged"
CANNOT = "cannot be judged"
LABELS = (EXACT, DIRECTION, PARTIAL, NOT_SEEN, NO_CHANGE, CANNOT)
SUPPORT = (EXACT, DIRECTION)


@dataclass(frozen=True)
class Verdict:
    """A label from :data:`LABELS` and the sentence that justifies it."""

    label: str
    sentence: str

    def __post_init__(self):
        if self.label not in LABELS:
            raise ValueError(f"verdict label {self.label!r} is not one of {LABELS}")

    def __str__(self) -> str:
        return f"{self.label}: {self.sentence}"


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _fmt(x: float) -> str:
    return "nan" if _missing(x) else f"{x:.3g}"


def is_saturated(values: Iterable[float], ceiling: float = 1.0, tol: float = 0.05) -> bool:
    """True when every value lies within ``tol`` of ``ceiling`` (e.g. a share of
    changed word pairs at 96-99 % in every layer): such a measure cannot show a
    trend, so no verdict about a trend may rest on it."""
    vals = [float(v) for v in values if not _missing(v)]
    return bool(vals) and all(abs(ceiling - v) <= tol for v in vals)


def _screen(what: str, paper: float, ours: float, p_value, paper_text, no_change_tol: float,
            saturated: bool) -> tuple[Verdict | None, str]:
    """Rules 1-3 shared by every effect verdict: (the verdict if one of them fires,
    else None; the sentence's numbers)."""
    paper_str = paper_text if paper_text is not None else _fmt(paper)
    if _missing(ours) or _missing(paper):
        return Verdict(CANNOT, f"{what}: no measurement (ours {_fmt(ours)}, paper {paper_str})."), ""
    if saturated:
        return Verdict(CANNOT, f"{what}: the measure is saturated (near its ceiling everywhere), "
                               f"so it cannot show the paper's effect (ours {_fmt(ours)})."), ""
    p_txt = "" if _missing(p_value) else f", p = {_fmt(p_value)}"
    nums = f"ours {_fmt(ours)}{p_txt}; paper {paper_str}"
    if abs(ours) <= no_change_tol:
        return Verdict(NO_CHANGE, f"{what} is zero ({nums}): the two models do not differ here."), nums
    return None, nums


def effect_verdict(*, what: str, paper: float, ours: float, p_value: float | None = None,
                   alpha: float = 0.05, exact_tol: float | None = None,
                   no_change_tol: float = 1e-12, saturated: bool = False,
                   paper_text: str | None = None) -> Verdict:
    """The verdict for one signed effect (positive = the paper's claim).

    ``what`` names the effect in the sentence ("followed minus unfollowed mean
    instruction score"). ``exact_tol`` (None: never "exact") is the tolerance on
    ``|ours - paper|`` within which the paper's number is reproduced exactly.
    ``paper_text`` replaces the paper's number in the sentence when the paper gives
    a direction rather than a value (then pass ``paper=1.0`` or ``-1.0``).
    """
    early, nums = _screen(what, paper, ours, p_value, paper_text, no_change_tol, saturated)
    if early is not None:
        return early
    if exact_tol is not None and abs(ours - paper) <= exact_tol:
        return Verdict(EXACT, f"{what} equals the paper's within {exact_tol:g} ({nums}).")
    same_sign = (ours > 0) == (paper > 0)
    significant = _missing(p_value) or p_value < alpha
    if same_sign and significant:
        return Verdict(DIRECTION, f"{what} points the paper's way ({nums}).")
    if same_sign:
        return Verdict(NOT_SEEN, f"{what} points the paper's way but is not significant at "
                                 f"α = {alpha:g} ({nums}).")
    return Verdict(NOT_SEEN, f"{what} goes against the paper ({nums}).")


def stays_verdict(*, what: str, ours: float, p_value: float | None, paper_text: str,
                  alpha: float = 0.05, no_change_tol: float = 1e-12) -> Verdict:
    """The verdict for a claim of *no* change ("the linguistic levels stay the same").

    1. missing measurement -> cannot be judged; 2. zero change (a self-comparison)
    -> no change; 3. a significant change (``p < alpha``) -> not seen (it moved,
    against the claim); 4. otherwise -> in direction, with the sentence saying that
    a non-significant change is all that was shown (not equivalence).
    """
    if _missing(p_value):
        return Verdict(CANNOT, f"{what}: no test (ours {_fmt(ours)}, p = {_fmt(p_value)}).")
    # rules 1 and 3 of effect_verdict (paper=0.0: the claim has no value of its own)
    early, nums = _screen(what, 0.0, ours, p_value, paper_text, no_change_tol, saturated=False)
    if early is not None:
        return early
    if p_value < alpha:
        return Verdict(NOT_SEEN, f"{what} changes significantly at α = {alpha:g} ({nums}), "
                                 "against the paper's claim that it stays.")
    return Verdict(DIRECTION, f"{what} shows no significant change at α = {alpha:g} ({nums}), as "
                              "the paper says; a test of no difference cannot show equivalence.")


def combine(parts: Sequence[Verdict], what: str) -> Verdict:
    """One verdict for a claim made of several parts.

    All parts without change -> no change; all exact -> exact; all supporting ->
    in direction; some supporting and some not -> in part; none supporting -> not
    seen (or cannot be judged when no part could be judged). Parts with no change
    or that cannot be judged never count as support.
    """
    if not parts:
        return Verdict(CANNOT, f"{what}: nothing was measured.")
    labels = [v.label for v in parts]
    detail = " ".join(v.sentence for v in parts)
    if all(lab == NO_CHANGE for lab in labels):
        return Verdict(NO_CHANGE, f"{what}: no part changes. {detail}")
    if all(lab == EXACT for lab in labels):
        return Verdict(EXACT, f"{what}: every part matches. {detail}")
    n_support = sum(lab in SUPPORT for lab in labels)
    if n_support == len(labels):
        return Verdict(DIRECTION, f"{what}: every part points the paper's way. {detail}")
    if n_support:
        return Verdict(PARTIAL, f"{what}: {n_support} of {len(labels)} parts point the paper's "
                                f"way. {detail}")
    if all(lab in (CANNOT, NO_CHANGE) for lab in labels):
        return Verdict(CANNOT, f"{what}: no part could be judged. {detail}")
    return Verdict(NOT_SEEN, f"{what}: no part points the paper's way. {detail}")


# ---- controls: is a change specific to instruction tuning? -----------------------------
#
# With control models (continued pre-training of the base; the tuning repeated with
# another seed) a change base -> tuned counts as *instruction-specific* only where it
# exceeds what each control contrast changes, by a stated one-sided test whose
# p-value is given per control (:class:`ControlCheck`). Rules of
# :func:`beyond_controls`, in order:
#
# 1. missing measurement, or saturated measure              -> cannot be judged
# 2. our effect zero within no_change_tol (a self-comparison) -> no change
# 3. our effect against the paper, or not significant         -> not seen on this pair
# 4. no control given                                         -> the paper's single-contrast
#                                                                verdict, "no control was given"
# 5. every control exceeded (its p < alpha)                   -> reproduced in direction
#                                                                ("instruction-specific")
# 6. some control not exceeded (or its test missing)          -> not seen on this pair
#                                                                ("not specific to instruction tuning")

SPECIFIC = "instruction-specific"


@dataclass(frozen=True)
class ControlCheck:
    """One control contrast of a claim: its name ("base → continued pre-training"),
    its effect on the same measure (signed like ours), and the one-sided p-value
    of the test "our effect exceeds this control's" (None: no test was possible)."""

    name: str
    effect: float
    p_value: float | None


def control_passed(check: ControlCheck, alpha: float = 0.05) -> bool:
    """True when the control's test rejects "our effect does not exceed it" at ``alpha``."""
    return not _missing(check.p_value) and check.p_value < alpha


def beyond_controls(*, what: str, paper: float, ours: float, controls: Sequence[ControlCheck] = (),
                    p_value: float | None = None, alpha: float = 0.05, paper_text: str | None = None,
                    no_change_tol: float = 1e-12, saturated: bool = False) -> Verdict:
    """Verdict for one signed effect (positive = the paper's claim) judged against
    control contrasts (rules above). ``paper_text`` replaces the paper's number in the
    sentence when the paper gives a direction rather than a value."""
    early, nums = _screen(what, paper, ours, p_value, paper_text, no_change_tol, saturated)
    if early is not None:
        return early
    if (ours > 0) != (paper > 0):
        return Verdict(NOT_SEEN, f"{what} goes against the paper ({nums}).")
    if not (_missing(p_value) or p_value < alpha):
        return Verdict(NOT_SEEN, f"{what} points the paper's way but is not significant at "
                                 f"α = {alpha:g} ({nums}).")
    if not controls:
        return Verdict(DIRECTION, f"{what} points the paper's way ({nums}); no control was "
                                  "given, so whether it is specific to instruction tuning is unknown.")
    detail = "; ".join(f"{c.name}: {_fmt(c.effect)} (p = {_fmt(c.p_value)})" for c in controls)
    failed = [c.name for c in controls if not control_passed(c, alpha)]
    if not failed:
        return Verdict(DIRECTION, f"{what} points the paper's way ({nums}) and exceeds every "
                                  f"control at α = {alpha:g} ({detail}): {SPECIFIC}.")
    return Verdict(NOT_SEEN, f"{what} points the paper's way ({nums}) but does not exceed "
                             f"{', '.join(failed)} at α = {alpha:g} ({detail}): not specific to "
                             "instruction tuning.")
