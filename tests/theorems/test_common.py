"""Statistics and verdict logic of the theorem checks."""

import math

import numpy as np
import pytest
from scipy import stats

from theorems.common import CRITERIA, CheckResult, Quantity, confidence_interval


def test_confidence_interval_matches_scipy():
    v = [0.91, 0.88, 0.95, 0.9]
    lo, hi = confidence_interval(v)
    ref = stats.t.interval(0.95, len(v) - 1, loc=np.mean(v), scale=stats.sem(v))
    assert lo == pytest.approx(ref[0]) and hi == pytest.approx(ref[1])
    assert all(math.isnan(x) for x in confidence_interval([0.5]))


@pytest.mark.parametrize("criterion,values,verdict", [
    ("adv_robust_acc", [0.95, 0.9, 0.85], "PASS"),  # mean exactly 0.90 meets ≥ 0.90
    ("adv_robust_acc", [0.95, 0.9, 0.84], "FAIL"),
    ("clean_robust_acc", [0.5, 0.7], "PASS"),
    ("clean_robust_acc", [0.61, 0.61], "FAIL"),
    ("share_beta_ratio_above_1", [0.5], "FAIL"),  # strict >
    (None, [0.1], "REPORT"),
])
def test_verdict_is_the_criterion_on_the_mean(criterion, values, verdict):
    assert Quantity("q", values, criterion).verdict == verdict


def test_check_fails_if_any_quantity_fails():
    ok = Quantity("a", [1.0], "adv_clean_acc")
    bad = Quantity("b", [0.0], "adv_clean_acc")
    info = Quantity("c", [0.0], None)
    assert CheckResult("x", "l2", 0.1, [0], [ok, info]).verdict == "PASS"
    assert CheckResult("x", "l2", 0.1, [0], [ok, bad, info]).verdict == "FAIL"


def test_criteria_are_the_issue_targets():
    assert CRITERIA["adv_robust_acc"] == (">=", 0.90)
    assert CRITERIA["clean_robust_acc"] == ("<=", 0.60)
    assert CRITERIA["lower_bound_robust_acc"] == ("<=", 0.60)
    assert CRITERIA["dense_mixture_reduction"] == (">=", 3.0)
    assert CRITERIA["ideal_robust_acc"] == (">=", 0.95)
