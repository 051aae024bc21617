"""Unit tests of the certifier (simulator/certify.py) and the exact verifier (simulator/exact.py).

Hand-computed cases first, then the table of invalid arguments. The randomised checks
(soundness, kernel twin, the certified <= exact <= attack sandwich) live in
tests/property/test_certify_properties.py.
"""

import re

import numpy as np
import pytest

from simulator.certification.relaxation import _rule_bounds, certified_accuracy, certified_margin
from simulator.certification.exact import (
    MAX_INPUT_DIM,
    MAX_WIDTH,
    exact_min_margin,
    exact_robust,
    exact_worst_case,
)

NORMS = ["l2", "linf"]
# float64 rounding on hand-computed values of order 1
ATOL = 1e-12


def margin(W, b, x, y):
    """y * f(x) straight from the definition, for one sample."""
    h = np.asarray(W, float) @ np.asarray(x, float)
    return float(y * np.sum(np.sign(h) * np.maximum(np.abs(h) - b, 0.0)))


# ---------------------------------------------------------------- certified margin, by hand


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("y", [1, -1])
def test_stable_neuron_is_certified_exactly(norm, y):
    # soft(2 + s, 0.5) with |s| <= 0.5 (||w||_2 = ||w||_1 = 1): minimum 2 - 0.5 - 0.5 = 1.
    W, b, x = [[1.0, 0.0]], [0.5], np.array([2.0, 0.0]) * y
    assert certified_margin(W, b, [x], [y], 0.5, norm)[0] == pytest.approx(1.0, abs=ATOL)
    assert exact_min_margin(W, b, x, y, 0.5, norm) == pytest.approx(1.0, abs=ATOL)


def test_each_slope_rule_on_an_unstable_neuron():
    # w = 1, b = 1, x = 1, r = 1: t = 1 moves in [0, 2], soft is 0 on [0, 1] and u - 1 after.
    # chord slope 1/2, tightest intercept 0 (at the kink s = 0): 0 - 1 * |1/2| = -1/2;
    # unstable-zero: min soft = 0; unstable-one: intercept 0, 0 - 1 = -1; adaptive (chord >= 1/2):
    # slope 1 as well. The true minimum is 0, so only unstable-zero is exact.
    bounds = _rule_bounds(np.ones((1, 1)), np.ones(1), np.ones((1, 1)), np.ones(1), 1.0, "l2")
    np.testing.assert_allclose(bounds[:, 0], [-0.5, 0.0, -1.0, -1.0], atol=ATOL)
    assert certified_margin([[1.0]], [1.0], [[1.0]], [1], 1.0, "l2")[0] == pytest.approx(0.0)


def test_joint_dual_norm_beats_the_interval_bound():
    # Two stable active neurons, w1 = (1, 1), w2 = (1, -1), b = 0.1, x = (3, 0), l2 radius 0.5.
    # Exact: (3 - 0.1) * 2 - 0.5 * ||w1 + w2|| = 5.8 - 1 = 4.8. The interval bound subtracts each
    # rho_i = 0.5 * sqrt(2) separately: 5.8 - sqrt(2) ~ 4.386.
    W, b, x = [[1.0, 1.0], [1.0, -1.0]], [0.1, 0.1], [3.0, 0.0]
    assert certified_margin(W, b, [x], [1], 0.5, "l2")[0] == pytest.approx(4.8, abs=ATOL)
    assert exact_min_margin(W, b, x, 1, 0.5, "l2") == pytest.approx(4.8, abs=1e-9)


def test_certified_accuracy_counts_strictly_positive_margins():
    # margins at l2 radius 0.5: soft(2 - 0.5) = 1 > 0; soft(0.9 - 0.5) = 0 (not > 0); negative.
    W, b = [[1.0, 0.0]], [0.5]
    X, y = [[2.0, 0.0], [0.9, 0.0], [-2.0, 0.0]], [1, 1, 1]
    np.testing.assert_allclose(certified_margin(W, b, X, y, 0.5, "l2"), [1.0, 0.0, -2.0], atol=ATOL)
    assert certified_accuracy(W, b, X, y, 0.5, "l2") == pytest.approx(1 / 3)


def test_float32_and_integer_inputs_are_converted():
    W32 = np.array([[1.0, 1.0], [1.0, -1.0]], dtype=np.float32)
    b32, X_int, y_int = np.float32([0.1, 0.1]), np.int64([[3, 0]]), np.int64([1])
    got = certified_margin(W32, b32, X_int, y_int, 0.5, "l2")
    assert got.dtype == np.float64
    assert got[0] == pytest.approx(4.8, abs=1e-6)


# ---------------------------------------------------------------- exact verifier, by hand


def test_exact_linear_network_matches_closed_form():
    # b = 0 makes f linear: min y<w, x + delta> = y<w, x> - r ||w||_* (dual norm).
    W, b, x = [[1.0, 1.0]], [0.0], [0.1, 0.0]
    assert exact_min_margin(W, b, x, 1, 0.5, "l2") == pytest.approx(0.1 - 0.5 * np.sqrt(2))
    assert exact_min_margin(W, b, x, 1, 0.5, "linf") == pytest.approx(0.1 - 1.0)
    # radius 0.04 leaves 0.1 - 0.08 > 0; radius 0.5 leaves -0.9
    assert exact_robust(W, b, x, 1, 0.04, "linf") and not exact_robust(W, b, x, 1, 0.5, "linf")


@pytest.mark.parametrize("norm", NORMS)
def test_exact_worst_case_reports_an_attaining_perturbation(norm):
    rng = np.random.default_rng(3)
    W, b, x = rng.normal(size=(5, 3)), 0.3 * np.abs(rng.normal(size=5)), rng.normal(size=3)
    result = exact_worst_case(W, b, x, -1, 0.7, norm)
    size = np.linalg.norm(result.delta) if norm == "l2" else np.abs(result.delta).max()
    assert size <= 0.7 * (1 + 1e-12)
    assert result.min_margin == pytest.approx(margin(W, b, x + result.delta, -1), abs=ATOL)
    assert result.lower_bound <= result.min_margin <= result.lower_bound + result.tolerance
    # the certified bound sits below, the clean margin above
    assert certified_margin(W, b, [x], [-1], 0.7, norm)[0] <= result.lower_bound + 1e-9
    assert result.min_margin <= margin(W, b, x, -1)


@pytest.mark.parametrize("norm", NORMS)
def test_exact_at_radius_zero_is_the_clean_margin(norm):
    W, b, x = [[1.0, -2.0], [0.5, 0.5]], [0.2, 0.0], [0.3, -0.4]
    result = exact_worst_case(W, b, x, 1, 0.0, norm)
    assert result.min_margin == margin(W, b, x, 1) and result.nodes == 0


def test_exact_l2_raises_timeout_when_out_of_time():
    rng = np.random.default_rng(0)
    W, b, x = rng.normal(size=(8, 4)), 0.2 * np.ones(8), rng.normal(size=4)
    with pytest.raises(TimeoutError, match="time limit of 1e-09 s"):
        exact_min_margin(W, b, x, 1, 2.0, "l2", time_limit=1e-9)


# ---------------------------------------------------------------- invalid arguments

GOOD = dict(W=np.ones((3, 2)), b=np.zeros(3), X=np.ones((4, 2)), y=np.ones(4), radius=0.1,
            norm="l2")
GOOD_EXACT = dict(W=np.ones((3, 2)), b=np.zeros(3), x=np.ones(2), y=1, radius=0.1, norm="l2")

INVALID = [
    # (id, function, overrides, message)
    ("norm-l1", certified_margin, dict(norm="l1"),
     "The 'norm' parameter of certified_margin must be one of {'l2', 'linf'}. Got 'l1' instead."),
    ("norm-None", certified_accuracy, dict(norm=None),
     "The 'norm' parameter of certified_accuracy must be one of {'l2', 'linf'}. Got None instead."),
    ("radius-negative", certified_margin, dict(radius=-0.1),
     "The 'radius' parameter of certified_margin must be a float in the range [0, inf). "
     "Got -0.1 instead."),
    ("radius-nan", certified_margin, dict(radius=float("nan")),
     "The 'radius' parameter of certified_margin must be a float in the range [0, inf). "
     "Got nan instead."),
    ("radius-inf", certified_accuracy, dict(radius=np.inf),
     "The 'radius' parameter of certified_accuracy must be a float in the range [0, inf). "
     "Got inf instead."),
    ("radius-string", certified_margin, dict(radius="0.1"),
     "The 'radius' parameter of certified_margin must be a float in the range [0, inf). "
     "Got '0.1' instead."),
    ("radius-bool", certified_margin, dict(radius=True),
     "The 'radius' parameter of certified_margin must be a float in the range [0, inf). "
     "Got True instead."),
    ("W-1d", certified_margin, dict(W=np.ones(3)),
     "The 'W' parameter of certified_margin must be a 2-D array of shape (width, input_dim) "
     "with width >= 1 and input_dim >= 1. Got shape (3,) instead."),
    ("W-no-neurons", certified_margin, dict(W=np.ones((0, 2)), b=np.zeros(0)),
     "The 'W' parameter of certified_margin must be a 2-D array of shape (width, input_dim) "
     "with width >= 1 and input_dim >= 1. Got shape (0, 2) instead."),
    ("W-nan", certified_margin, dict(W=np.array([[1.0, np.nan], [0, 0], [0, 0]])),
     "The 'W' parameter of certified_margin must contain only finite values. "
     "Got 1 non-finite entries instead."),
    ("W-not-numbers", certified_margin, dict(W="weights"),
     "The 'W' parameter of certified_margin must be an array of real numbers. "
     "Got an object of type str instead."),
    ("b-wrong-shape", certified_margin, dict(b=np.zeros(2)),
     "The 'b' parameter of certified_margin must be a 1-D array of shape (width,) = (3,). "
     "Got shape (2,) instead."),
    ("b-negative", certified_margin, dict(b=np.array([0.0, -0.5, 1.0])),
     "The 'b' parameter of certified_margin must have entries in the range [0, inf). "
     "Got a minimum of -0.5 instead."),
    ("X-wrong-dim", certified_margin, dict(X=np.ones((4, 3))),
     "The 'X' parameter of certified_margin must be a 2-D array of shape (n_samples, input_dim) "
     "= (n_samples, 2) with n_samples >= 1. Got shape (4, 3) instead."),
    ("X-1d", certified_margin, dict(X=np.ones(2)),
     "The 'X' parameter of certified_margin must be a 2-D array of shape (n_samples, input_dim) "
     "= (n_samples, 2) with n_samples >= 1. Got shape (2,) instead."),
    ("X-no-samples", certified_accuracy, dict(X=np.ones((0, 2)), y=np.ones(0)),
     "The 'X' parameter of certified_accuracy must be a 2-D array of shape (n_samples, "
     "input_dim) = (n_samples, 2) with n_samples >= 1. Got shape (0, 2) instead."),
    ("y-wrong-shape", certified_margin, dict(y=np.ones(3)),
     "The 'y' parameter of certified_margin must have shape (4,). Got shape (3,) instead."),
    ("y-zero", certified_margin, dict(y=np.array([1, 0, 1, 1])),
     "The 'y' parameter of certified_margin must have entries in {-1, +1}. Got 0 instead."),
    ("exact-norm", exact_min_margin, dict(norm="l1"),
     "The 'norm' parameter of exact_min_margin must be one of {'l2', 'linf'}. Got 'l1' instead."),
    ("exact-time-limit-zero", exact_min_margin, dict(time_limit=0),
     "The 'time_limit' parameter of exact_min_margin must be a float in the range "
     "(0, inf). Got 0 instead."),
    ("exact-too-wide", exact_worst_case, dict(W=np.ones((MAX_WIDTH + 1, 2)), b=np.zeros(33)),
     f"The 'W' parameter of exact_worst_case must have width <= {MAX_WIDTH} and input_dim <= "
     f"{MAX_INPUT_DIM} for exact verification (use certified_margin for larger networks). "
     f"Got shape ({MAX_WIDTH + 1}, 2) instead."),
    ("exact-x-shape", exact_robust, dict(x=np.ones((1, 2))),
     "The 'x' parameter of exact_robust must be a 1-D array of shape (input_dim,) = (2,). "
     "Got shape (1, 2) instead."),
    ("exact-y-zero", exact_min_margin, dict(y=0),
     "The 'y' parameter of exact_min_margin must be one of {-1, +1}. Got 0 instead."),
    ("exact-y-bool", exact_worst_case, dict(y=True),
     "The 'y' parameter of exact_worst_case must be one of {-1, +1}. Got True instead."),
    ("exact-b-negative", exact_robust, dict(b=np.array([0.0, 0.0, -1.0])),
     "The 'b' parameter of exact_robust must have entries in the range [0, inf). "
     "Got a minimum of -1.0 instead."),
]


@pytest.mark.parametrize(
    "function, overrides, message", [case[1:] for case in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_arguments_are_rejected_with_a_clear_message(function, overrides, message):
    exact = function in (exact_min_margin, exact_robust, exact_worst_case)
    kwargs = {**(GOOD_EXACT if exact else GOOD), **overrides}
    with pytest.raises(ValueError, match=re.escape(message) + "$"):
        function(**kwargs)
