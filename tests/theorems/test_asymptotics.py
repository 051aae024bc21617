"""The asymptotic verdict rule (theorems/asymptotics.py) on constructed trends: met, approaching,
moving away, flat — for both directions of criterion — and the per-d intervals."""

import math

import numpy as np
import pytest

from theorems.asymptotics import (DOES_NOT, HOLDS, HOLDS_IN_LIMIT, REPORT, ClaimQuantity,
                                  assess, asymptotic_verdict, claim_quantities, fit_log_trend,
                                  per_d_summary)
from theorems.common import CRITERIA

D = np.array([256, 512, 1024, 2048])
SEED_NOISE = np.array([-0.004, 0.0, 0.004])  # three seeds, a small symmetric spread


def _points(values_per_d):
    """(d, value) points: each d's value plus the three seed offsets."""
    d = np.repeat(D, SEED_NOISE.size)
    v = np.concatenate([val + SEED_NOISE for val in values_per_d])
    return d, v


def _verdict(values_per_d, criterion):
    d, v = _points(values_per_d)
    q = ClaimQuantity("robust_acc_x", "x", "c", "robust", "x", criterion)
    return assess(q, d, v)


def test_trend_recovers_an_exact_line_in_log_d():
    t = fit_log_trend(D, 0.3 + 0.05 * np.log(D))
    assert math.isclose(t.slope, 0.05, rel_tol=1e-9) and math.isclose(t.intercept, 0.3, rel_tol=1e-9)
    assert t.n_points == 4 and t.n_d == 4


@pytest.mark.parametrize("values, criterion, verdict, direction", [
    # adv_robust_acc: >= 0.90
    ([0.93, 0.93, 0.93, 0.93], "adv_robust_acc", HOLDS, "flat"),  # met, flat
    ([0.91, 0.92, 0.93, 0.94], "adv_robust_acc", HOLDS, "toward"),  # met, improving
    ([0.80, 0.83, 0.86, 0.89], "adv_robust_acc", HOLDS_IN_LIMIT, "toward"),  # approaching
    ([0.99, 0.97, 0.95, 0.93], "adv_robust_acc", DOES_NOT, "away"),  # met now, moving away
    ([0.85, 0.85, 0.85, 0.85], "adv_robust_acc", DOES_NOT, "flat"),  # not met, flat
    ([0.89, 0.87, 0.85, 0.83], "adv_robust_acc", DOES_NOT, "away"),  # not met, moving away
    # clean_robust_acc: <= 0.60 (the toward side is down)
    ([0.70, 0.66, 0.62, 0.58], "clean_robust_acc", HOLDS, "toward"),
    ([0.80, 0.75, 0.70, 0.65], "clean_robust_acc", HOLDS_IN_LIMIT, "toward"),
    ([0.40, 0.45, 0.50, 0.55], "clean_robust_acc", DOES_NOT, "away"),
    ([0.70, 0.70, 0.70, 0.70], "clean_robust_acc", DOES_NOT, "flat"),
], ids=["met-flat", "met-improving", "approaching", "met-moving-away", "flat-not-met",
        "away-not-met", "le-met", "le-approaching", "le-away", "le-flat"])
def test_verdict_on_constructed_trends(values, criterion, verdict, direction):
    out = assess(ClaimQuantity("robust_acc_x", "x", "c", "robust", "x", criterion), *_points(values))
    assert out["verdict"].verdict == verdict, out["verdict"].reason
    assert out["verdict"].direction == direction


def test_approaching_gives_where_the_fit_reaches_the_threshold():
    d = np.repeat(D, 3)
    v = np.repeat(0.80 + 0.03 * np.log2(D / 256), 3) + np.tile(SEED_NOISE, 4)
    out = assess(ClaimQuantity("robust_acc_x", "x", "c", "robust", "x", "adv_robust_acc"), d, v)
    # 0.80 + 0.03 log2(d/256) = 0.90 at log2(d/256) = 10/3
    assert out["verdict"].verdict == HOLDS_IN_LIMIT
    assert math.isclose(out["verdict"].d_reach, 256 * 2 ** (10 / 3), rel_tol=1e-6)


def test_a_slope_whose_interval_holds_zero_is_flat_even_if_it_points_toward():
    d = np.repeat(D, 3)
    rng = np.random.default_rng(0)
    v = 0.85 + 0.001 * np.log(d) + rng.normal(0, 0.05, d.size)  # tiny slope, large noise
    t = fit_log_trend(d, v)
    assert t.ci_low < 0 < t.ci_high
    v_ = asymptotic_verdict(float(v[-3:].mean()), 2048, t, "adv_robust_acc")
    assert v_.verdict == DOES_NOT and v_.direction == "flat"


def test_without_a_slope_interval_the_largest_d_decides():
    two = ClaimQuantity("robust_acc_x", "x", "c", "robust", "x", "adv_robust_acc")
    met = assess(two, [256, 512], [0.80, 0.95])
    assert met["trend"].has_interval is False
    assert met["verdict"].verdict == HOLDS and met["verdict"].direction == "unknown"
    assert assess(two, [256, 512], [0.95, 0.80])["verdict"].verdict == DOES_NOT
    assert assess(two, [256], [0.95])["verdict"].verdict == HOLDS


def test_no_criterion_reports_the_direction_only():
    out = _verdict([0.5, 0.6, 0.7, 0.8], None)
    assert out["verdict"].verdict == REPORT and out["verdict"].direction == "up"


def test_per_d_interval_is_clipped_to_the_quantity_range():
    rows = per_d_summary([512] * 3, [1.0, 1.0, 0.9], "robust_acc_x")
    assert rows[0]["ci_high"] == 1.0 and rows[0]["ci_low"] < rows[0]["mean"] < 1.0
    unbounded = per_d_summary([512] * 3, [1.0, 1.0, 0.9], "something_else")
    assert unbounded[0]["ci_high"] > 1.0


def test_marginal_when_the_largest_d_interval_straddles_the_threshold():
    d = np.repeat(D, 3)
    v = np.concatenate([[0.95, 0.95, 0.95]] * 3 + [[0.86, 0.90, 0.95]])
    out = assess(ClaimQuantity("robust_acc_x", "x", "c", "robust", "x", "adv_robust_acc"), d, v)
    assert out["marginal"]


def test_every_quantity_uses_an_existing_criterion_and_lower_bounds_are_added():
    qs = claim_quantities(["ideal", "clean", "adversarial", "poly2_clean", "poly2_adv", "ntk_adv",
                           "linear_oracle"])
    assert all(q.criterion is None or q.criterion in CRITERIA for q in qs)
    lb = [q for q in qs if q.field in ("poly2_clean", "poly2_adv", "ntk_adv", "linear_oracle")]
    assert [q.criterion for q in lb] == ["lower_bound_robust_acc"] * 4
    assert {q.claim for q in lb} == {"polynomial_lower_bound", "ntk_lower_bound", "linear_lower_bound"}
