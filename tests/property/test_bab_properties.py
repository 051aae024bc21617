"""Complete verification at full size (simulator/bab.py) and the staged evaluation
(simulator/staged.py), on random networks.

Held against independent references: the exact solvers of simulator/exact.py (where both
apply), a PGD attack written here, sampled points of the ball, and the margin recomputed from the
network's definition. Sorted by cost.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.attacks import AttackSettings, robust_accuracy_table
from simulator.certification.bab import ROUNDING_RTOL, MILP_RTOL, count_unstable, decide_robust
from simulator.certification.relaxation import certified_margin
from simulator.certification.exact import exact_worst_case
from simulator.norms import radius_in_norm
from simulator.staged import float_error_bound, staged_robust_accuracy_table
from tests.property.test_certify_properties import (
    margins,
    networks,
    pgd_min_margin,
    points_in_ball,
    radii,
    seeds,
    term_size,
)
from tests.unit.test_attacks import setup as attack_setup

NORMS = ["l2", "linf"]
SAFETY = {"l2": ROUNDING_RTOL, "linf": MILP_RTOL}
# Slack of float64 soundness comparisons relative to the size of the terms (as in
# test_certify_properties): rounding is ~1e-16 per term, a real violation is O(1).
SOUND_RTOL = 1e-10


def in_ball(delta, radius, norm):
    size = np.linalg.norm(delta) if norm == "l2" else np.abs(delta).max()
    return size <= radius


def check_witness(W, b, x, y, radius, norm, decision):
    """The decision's point lies in the ball and attains its upper bound; statuses follow bounds."""
    assert in_ball(decision.delta, radius, norm)
    attained = margins(W, b, x, y, decision.delta)[0]
    scale = term_size(W, b, x, y, radius, norm)
    assert abs(attained - decision.upper_bound) <= SOUND_RTOL * scale
    assert decision.lower_bound <= decision.upper_bound
    assert (decision.status == "broken") == (decision.upper_bound <= 0)
    if decision.status != "broken":
        assert (decision.status == "robust") == (decision.lower_bound > 0)
    assert (decision.status == "undecided") == (decision.reason != "")


@pytest.mark.parametrize("norm", NORMS)
@settings(deadline=None, max_examples=60)
@given(net=networks(max_width=8, max_dim=6, n_samples=1), radius=radii)
def test_agrees_with_the_small_exact_solver(norm, net, radius):
    W, b, X, y = net
    x, label = X[0], float(y[0])
    exact = exact_worst_case(W, b, x, label, radius, norm)
    decision = decide_robust(W, b, x, label, radius, norm, time_limit=30.0)
    check_witness(W, b, x, label, radius, norm, decision)
    scale = term_size(W, b, x, label, radius, norm)
    # both sides are bounds on the same minimum
    assert decision.lower_bound <= exact.min_margin + SOUND_RTOL * scale
    assert decision.upper_bound >= exact.lower_bound - SOUND_RTOL * scale
    # undecided only when the minimum is within the safety margins of 0
    near_zero = abs(exact.min_margin) <= exact.tolerance + SAFETY[norm] * scale
    if not near_zero:
        assert decision.status == ("robust" if exact.min_margin > 0 else "broken")


@pytest.mark.parametrize("norm", NORMS)
@settings(deadline=None, max_examples=40)
@given(net=networks(max_width=8, max_dim=6, n_samples=1), radius=radii, seed=seeds)
def test_certified_implies_robust_implies_attacks_fail(norm, net, radius, seed):
    W, b, X, y = net
    x, label = X[0], float(y[0])
    decision = decide_robust(W, b, x, label, radius, norm, time_limit=30.0)
    scale = term_size(W, b, x, label, radius, norm)
    if certified_margin(W, b, X[:1], y[:1], radius, norm)[0] > ROUNDING_RTOL * scale:
        assert decision.status == "robust"
    if decision.status == "robust":
        rng = np.random.default_rng(seed)
        assert pgd_min_margin(W, b, x, label, radius, norm, rng) > 0
        assert margins(W, b, x, label, points_in_ball(rng, x.size, radius, norm, 200)).min() > 0


@st.composite
def wide_instances(draw):
    """A network far beyond exact.py's limits (width 200, input_dim 80), thresholds at 0.8 of
    the row norms so that, as in a trained network, most neurons are stable on small balls."""
    rng = np.random.default_rng(draw(seeds))
    d, m = 80, 200
    W = rng.normal(size=(m, d)) / np.sqrt(d)
    b = 0.8 * np.linalg.norm(W, axis=1)
    x = rng.normal(size=d)
    y = float(rng.choice([-1.0, 1.0]))
    if margins(W, b, x, y, np.zeros(d))[0] <= 0:
        x = -x  # start from a correctly classified point
    return W, b, x, y


def certified_radius(W, b, x, y, norm):
    """The largest radius (to 1e-3 relative) at which the certifier still proves the sample."""
    lo, hi = 0.0, 1.0
    while certified_margin(W, b, x[None], [y], hi, norm)[0] > 0:
        lo, hi = hi, 2 * hi
    while hi - lo > 1e-3 * hi:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if certified_margin(W, b, x[None], [y], mid, norm)[0] > 0 else (lo, mid)
    return hi


@pytest.mark.parametrize("norm", NORMS)
@settings(deadline=None, max_examples=10)
@given(inst=wide_instances(), excess=st.floats(0.02, 0.5), seed=seeds)
def test_full_size_decisions_have_valid_witnesses(norm, inst, excess, seed):
    W, b, x, y = inst
    # just beyond the certified radius: the certifier fails, so the search has to decide
    radius = certified_radius(W, b, x, y, norm) * (1 + excess)
    decision = decide_robust(W, b, x, y, radius, norm, time_limit=2.0, max_unstable=96)
    check_witness(W, b, x, y, radius, norm, decision)
    assert decision.n_unstable == count_unstable(W, b, x[None], [y], radius, norm)[0]
    if decision.status == "robust":
        assert pgd_min_margin(W, b, x, y, radius, norm, np.random.default_rng(seed)) > 0


@pytest.mark.parametrize("norm, tau", [("l2", 0.05), ("linf", 0.1)])
def test_many_unstable_neurons_hit_the_time_limit_and_stay_undecided(norm, tau):
    # 120 neurons with thresholds near |t|: at these radii 48 (l2) and 65 (linf) neurons cross a
    # kink, the certifier cannot conclude, and 0.1 ms is far too little for the search.
    rng = np.random.default_rng(7)
    d, m = 40, 120
    W = rng.normal(size=(m, d)) / np.sqrt(d)
    x = rng.normal(size=d)
    b = np.abs(W @ x) * rng.uniform(0.7, 1.3, size=m)
    y = 1.0 if margins(W, b, x, 1.0, np.zeros(d))[0] > 0 else -1.0
    radius = radius_in_norm(tau, norm, d)
    assert certified_margin(W, b, x[None], [y], radius, norm)[0] < 0
    decision = decide_robust(W, b, x, y, radius, norm, time_limit=1e-4, max_unstable=256)
    assert decision.n_unstable > 40
    assert decision.status == "undecided" and decision.reason == "time_limit"
    assert decision.lower_bound <= 0 < decision.upper_bound
    check_witness(W, b, x, y, radius, norm, decision)
    capped = decide_robust(W, b, x, y, radius, norm, max_unstable=10)
    assert capped.status == "undecided" and capped.reason == "too_many_unstable"
    assert capped.nodes == 0


# ---------------------------------------------------------------- floating-point error bound


@pytest.mark.parametrize("norm", NORMS)
@settings(deadline=None, max_examples=20)
@given(net=networks(max_width=40, max_dim=30, n_samples=4), radius=radii, seed=seeds)
def test_float_error_bound_covers_float32_evaluation(norm, net, radius, seed):
    W, b, X, y = net
    W32, b32 = W.astype(np.float32), b.astype(np.float32)
    W64, b64 = W32.astype(np.float64), b32.astype(np.float64)
    bound = float_error_bound(W64, b64, X.astype(np.float32), radius, norm, np.float32)
    rng = np.random.default_rng(seed)
    for n in range(X.shape[0]):
        x32 = X[n].astype(np.float32)
        deltas = points_in_ball(rng, x32.size, radius, norm, 50).astype(np.float32)
        h32 = (x32 + deltas) @ W32.T  # the whole evaluation in float32
        f32 = (np.sign(h32) * np.maximum(np.abs(h32) - b32, np.float32(0))).sum(axis=1)
        exact = margins(W64, b64, x32.astype(np.float64), 1.0, deltas.astype(np.float64))
        assert np.all(np.abs(f32.astype(np.float64) - exact) <= bound[n])


# ---------------------------------------------------------------- staged evaluation


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("restarts", [0, 2])
@settings(deadline=None, max_examples=3)
@given(seed=st.integers(0, 2**31))
def test_staged_table_equals_the_plain_one_on_the_same_seed(norm, restarts, seed):
    P, net, batch = attack_setup(seed)
    radii = [radius_in_norm(t, norm, 24) for t in (0.0, 0.05, 0.2, 0.6)]
    # with restarts, skipped samples must still draw their random starts for the tables to agree
    s = AttackSettings(8, restarts, 0.3)
    clean, plain = robust_accuracy_table(net, P, batch, radii, norm, s, np.random.default_rng(seed))
    clean_s, rows, stages = staged_robust_accuracy_table(
        net, P, batch, radii, norm, s, np.random.default_rng(seed), exact_radii=radii[1:3],
        time_limit=5.0)
    assert clean_s == clean
    assert [r for r in rows if r["attack"] not in ("certified", "exact")] == plain
    # the test can fail: some samples were certified and skipped by the attacks
    assert stages[1]["n_certified"] > 0
    ensemble = {r["radius"]: r["robust_acc"] for r in plain if r["attack"] == "ensemble"}
    for r in rows:
        if r["attack"] == "exact":
            cert = [q["robust_acc"] for q in rows
                    if q["attack"] == "certified" and q["radius"] == r["radius"]][0]
            assert cert <= r["robust_acc"] <= r["robust_acc_upper"] <= ensemble[r["radius"]]
    # every exact decision carries its witness
    W, b = np.asarray(net.W, float), np.asarray(net.b, float)
    for k in (1, 2):
        for n, decision in stages[k]["decisions"].items():
            check_witness(W, b, batch.X[n], float(batch.y[n]), radii[k], norm, decision)
