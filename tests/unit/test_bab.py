"""Unit tests of complete verification at full size (simulator/bab.py) and the staged table.

Hand-computed cases first, then the table of invalid arguments. The randomised checks live in
tests/property/test_bab_properties.py.
"""

import re

import numpy as np
import pytest

from simulator.attacks import AttackSettings, robust_accuracy_table
from simulator.certification.bab import (MAX_INPUT_DIM, MAX_UNSTABLE, MAX_WIDTH, count_unstable,
                                         decide_robust, decide_samples)
from simulator.staged import staged_robust_accuracy_table
from tests.unit.test_attacks import setup as attack_setup

NORMS = ["l2", "linf"]
ATOL = 1e-12


def margin(W, b, x, y):
    h = np.asarray(W, float) @ np.asarray(x, float)
    return float(y * np.sum(np.sign(h) * np.maximum(np.abs(h) - b, 0.0)))


@pytest.mark.parametrize("norm, dual", [("l2", np.sqrt(2)), ("linf", 2.0)])
def test_linear_network_is_decided_by_its_closed_form(norm, dual):
    # b = 0: y f(x + delta) = <w, x> + <w, delta>, minimum 1 - r ||w||_*; w = (1, 1), x = (0.5, 0.5)
    W, b, x = [[1.0, 1.0]], [0.0], [0.5, 0.5]
    robust = decide_robust(W, b, x, 1, 0.9 / dual, norm)
    assert robust.status == "robust" and robust.lower_bound == pytest.approx(0.1, abs=1e-8)
    broken = decide_robust(W, b, x, 1, 1.1 / dual, norm)
    assert broken.status == "broken"
    assert broken.upper_bound == pytest.approx(-0.1, abs=1e-8)
    assert broken.upper_bound == pytest.approx(margin(W, b, np.add(x, broken.delta), 1), abs=ATOL)


def test_sample_between_certifier_and_exact_is_decided_by_the_search():
    # Two neurons, l2 radius 1, x = (1, 0), y = +1, b = 0.5: w1 = (1, 0) has t = 1 in [0, 2] and
    # crosses +b; w2 = (0, 1) has t = 0 in [-1, 1] and crosses both kinks. The clean margin is
    # 0.5 and the certifier cannot conclude; delta = (-0.436, -0.9) (norm 1) gives
    # soft(0.564, .5) + soft(-0.9, .5) = 0.064 - 0.4 < 0, so the search must find a break.
    W, b, x = [[1.0, 0.0], [0.0, 1.0]], [0.5, 0.5], [1.0, 0.0]
    decision = decide_robust(W, b, x, 1, 1.0, "l2")
    assert decision.status == "broken" and decision.n_unstable == 2
    assert np.linalg.norm(decision.delta) <= 1.0
    assert margin(W, b, np.add(x, decision.delta), 1) <= 0


@pytest.mark.parametrize("norm", NORMS)
def test_radius_zero_is_the_clean_margin(norm):
    W, b, x = [[1.0, -2.0], [0.5, 0.5]], [0.2, 0.0], [0.3, -0.4]
    decision = decide_robust(W, b, x, 1, 0.0, norm)
    assert decision.status == "robust" and decision.nodes == 0 and decision.n_unstable == 0
    assert decision.upper_bound == margin(W, b, x, 1)


def test_count_unstable_counts_intervals_that_cross_a_kink():
    # t = (2, 0.6, -0.6, 0) with b = 0.5 and rho = 0.3 (unit rows, l2 radius 0.3):
    # [1.7, 2.3] stable, [0.3, 0.9] crosses +b, [-0.9, -0.3] crosses -b, [-0.3, 0.3] stable.
    W = np.eye(4)
    x = np.array([2.0, 0.6, -0.6, 0.0])
    assert count_unstable(W, 0.5 * np.ones(4), x[None], [1.0], 0.3, "l2").tolist() == [2]


def test_decide_samples_returns_one_decision_per_sample():
    W, b = [[1.0, 1.0]], [0.0]
    X = [[0.5, 0.5], [0.5, 0.5], [-1.0, 0.0]]
    out = decide_samples(W, b, X, [1, 1, 1], 0.5, "l2", deltas=np.zeros((3, 2)))
    assert [d.status for d in out] == ["robust", "robust", "broken"]


def test_staged_table_rejects_exact_radii_outside_radii():
    P, net, batch = attack_setup(0)
    with pytest.raises(ValueError, match="'exact_radii' parameter of staged_robust"):
        staged_robust_accuracy_table(net, P, batch, [0.1], "l2", AttackSettings(2, 0, 0.3),
                                     np.random.default_rng(0), exact_radii=[0.2])


def test_attack_table_rejects_a_certified_mask_of_the_wrong_shape():
    P, net, batch = attack_setup(0)
    message = re.escape("must have shape (n_radii, n_samples) = (1, 64)")
    with pytest.raises(ValueError, match=message):
        robust_accuracy_table(net, P, batch, [0.1], "l2", AttackSettings(2, 0, 0.3),
                              np.random.default_rng(0), certified=np.zeros((2, 64), bool))


# ---------------------------------------------------------------- invalid arguments

GOOD = dict(W=np.ones((3, 2)), b=np.zeros(3), x=np.ones(2), y=1, radius=0.1, norm="l2")
GOOD_BATCH = dict(W=np.ones((3, 2)), b=np.zeros(3), X=np.ones((4, 2)), y=np.ones(4), radius=0.1,
                  norm="l2")

INVALID = [
    ("norm", decide_robust, dict(norm="l1"),
     "The 'norm' parameter of decide_robust must be one of {'l2', 'linf'}. Got 'l1' instead."),
    ("radius-negative", decide_robust, dict(radius=-1.0),
     "The 'radius' parameter of decide_robust must be a float in the range [0, inf). "
     "Got -1.0 instead."),
    ("time-limit-zero", decide_robust, dict(time_limit=0.0),
     "The 'time_limit' parameter of decide_robust must be a float in the range (0, inf). "
     "Got 0.0 instead."),
    ("max-unstable-too-large", decide_robust, dict(max_unstable=MAX_UNSTABLE + 1),
     f"The 'max_unstable' parameter of decide_robust must be an int in the range "
     f"[0, {MAX_UNSTABLE}]. Got {MAX_UNSTABLE + 1} instead."),
    ("max-unstable-float", decide_robust, dict(max_unstable=3.0),
     f"The 'max_unstable' parameter of decide_robust must be an int in the range "
     f"[0, {MAX_UNSTABLE}]. Got 3.0 instead."),
    ("too-wide", decide_robust, dict(W=np.ones((MAX_WIDTH + 1, 2)), b=np.zeros(MAX_WIDTH + 1)),
     f"The 'W' parameter of decide_robust must have width <= {MAX_WIDTH} and input_dim <= "
     f"{MAX_INPUT_DIM} for complete verification (use certified_margin for larger networks). "
     f"Got shape ({MAX_WIDTH + 1}, 2) instead."),
    ("too-many-inputs", decide_robust,
     dict(W=np.ones((1, MAX_INPUT_DIM + 1)), b=np.zeros(1), x=np.ones(MAX_INPUT_DIM + 1)),
     f"The 'W' parameter of decide_robust must have width <= {MAX_WIDTH} and input_dim <= "
     f"{MAX_INPUT_DIM} for complete verification (use certified_margin for larger networks). "
     f"Got shape (1, {MAX_INPUT_DIM + 1}) instead."),
    ("x-shape", decide_robust, dict(x=np.ones(3)),
     "The 'x' parameter of decide_robust must be a 1-D array of shape (input_dim,) = (2,). "
     "Got shape (3,) instead."),
    ("y-zero", decide_robust, dict(y=0),
     "The 'y' parameter of decide_robust must be one of {-1, +1}. Got 0 instead."),
    ("b-negative", decide_robust, dict(b=np.array([0.0, -1.0, 0.0])),
     "The 'b' parameter of decide_robust must have entries in the range [0, inf). "
     "Got a minimum of -1.0 instead."),
    ("delta0-outside", decide_robust, dict(delta0=np.array([0.2, 0.0])),
     "The 'delta0' parameter of decide_robust must lie inside the l2 ball of radius 0.1. "
     "Got a norm of 0.2 instead."),
    ("batch-X-shape", decide_samples, dict(X=np.ones((4, 3))),
     "The 'X' parameter of decide_samples must be a 2-D array of shape (n_samples, input_dim) = "
     "(n_samples, 2). Got shape (4, 3) instead."),
    ("batch-y", decide_samples, dict(y=np.array([1, 1, 0, 1])),
     "The 'y' parameter of decide_samples must have shape (4,) and entries in {-1, +1}. "
     "Got shape (4,) instead."),
    ("batch-deltas-shape", decide_samples, dict(deltas=np.zeros((3, 2))),
     "The 'deltas' parameter of decide_samples must have shape (4, 2). Got shape (3, 2) instead."),
    ("count-norm", count_unstable, dict(norm="l3"),
     "The 'norm' parameter of count_unstable must be one of {'l2', 'linf'}. Got 'l3' instead."),
]


@pytest.mark.parametrize("function, overrides, message", [c[1:] for c in INVALID],
                         ids=[c[0] for c in INVALID])
def test_invalid_arguments_are_rejected_with_a_clear_message(function, overrides, message):
    kwargs = {**(GOOD if function is decide_robust else GOOD_BATCH), **overrides}
    with pytest.raises(ValueError, match=re.escape(message) + "$"):
        function(**kwargs)
