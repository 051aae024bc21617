"""Properties of the certifier and the exact verifier that must hold for any network and seed.

Sorted by cost: the kernel against its numpy twin; the per-neuron lines; the certified margin
against closed forms and brute force; then the sandwich certified <= exact <= attack and the
exact solvers against independent enumerations in one and two dimensions.
"""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.certification.relaxation import _rule_bounds, certified_margin, certified_margins, dual_norms
from simulator.certification.exact import (
    _bound_relaxed_node,
    _envelope_slopes,
    _tightest_intercepts,
    exact_worst_case,
)
from simulator.kernels import certify as K
from simulator.reference import certify as R
from tests.tolerances import twin_atol

DTYPES = [np.float64, np.float32]
NORMS = ["l2", "linf"]
# Slack of float64 soundness comparisons, relative to the size of the terms of y f
# (sum_i |t_i| + rho_i + b_i): rounding is ~1e-16 per term, a real violation is O(1).
SOUND_RTOL = 1e-10
# Per-neuron line checks (float64), relative to |t| + rho + b + 1.
LINE_RTOL = 1e-12
# One branch-and-bound node: slack of its bound against grid values (soundness), and the duality
# gap allowed at a leaf relative to 1 + radius ||c|| (tightness; SLSQP stops near 1e-15).
NODE_SOUND_ATOL = 1e-9
NODE_GAP_RTOL = 1e-7
# Points on the circle for the l2 reference in two dimensions.
CIRCLE_POINTS = 20_000


# ---------------------------------------------------------------- helpers (independent oracles)


def soft(u, b):
    return np.sign(u) * np.maximum(np.abs(u) - b, 0.0)


def margins(W, b, x, y, deltas):
    """y * f(x + delta) for each row of deltas, straight from the definition."""
    return y * soft((x + np.atleast_2d(deltas)) @ W.T, b).sum(axis=1)


def term_size(W, b, x, y, radius, norm):
    t = y * (W @ x)
    return float(np.sum(np.abs(t) + radius * dual_norms(W, norm) + b))


def points_in_ball(rng, d, radius, norm, n):
    """Random points of the ball, half of them on its boundary (vertices for linf)."""
    if norm == "l2":
        u = rng.normal(size=(n, d))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        scale = np.where(np.arange(n) % 2 == 0, 1.0, rng.random(n) ** (1 / d))
        return radius * u * scale[:, None]
    inside = rng.uniform(-radius, radius, size=(n, d))
    vertices = radius * rng.choice([-1.0, 1.0], size=(n, d))
    return np.where((np.arange(n) % 2 == 0)[:, None], vertices, inside)


def pgd_min_margin(W, b, x, y, radius, norm, rng, restarts=4, steps=60):
    """Smallest margin found by projected (sub)gradient descent from 0 and random starts."""
    d = x.size
    best = margins(W, b, x, y, np.zeros(d))[0]
    starts = np.vstack([np.zeros(d), points_in_ball(rng, d, radius, norm, restarts)])
    for delta in starts:
        for k in range(steps):
            u = W @ (x + delta)
            grad = y * ((np.abs(u) > b).astype(float) @ W)
            step = radius * (0.5 * (1 - k / steps) + 0.02)
            if norm == "l2":
                g = np.linalg.norm(grad)
                if g == 0:
                    break
                delta = delta - step * grad / g
                delta *= min(1.0, radius / max(np.linalg.norm(delta), 1e-300))
            else:
                delta = np.clip(delta - step * np.sign(grad), -radius, radius)
            best = min(best, margins(W, b, x, y, delta)[0])
    return best


def kink_lines(W, b, x):
    """The lines <w_i, x + delta> = +-b_i as (normal, offset): normal . delta = offset."""
    return [(w, s * bi - w @ x) for w, bi in zip(W, b) if np.any(w != 0) for s in (1, -1)]


def linf_vertex_minimum(W, b, x, y, radius):
    """Exact min over the box in one or two dimensions: F is piecewise linear, so its minimum
    over the box is at a vertex of the arrangement of kink lines and box edges."""
    d = x.size
    lines = kink_lines(W, b, x)
    candidates = [np.array(c, float) for c in itertools.product([-radius, radius], repeat=d)]
    for normal, offset in lines:
        if d == 1:
            candidates.append(np.array([offset / normal[0]]))
            continue
        for k, v in itertools.product(range(2), (-radius, radius)):
            other = 1 - k
            if normal[other] != 0:
                p = np.empty(2)
                p[k], p[other] = v, (offset - normal[k] * v) / normal[other]
                candidates.append(p)
    if d == 2:
        for (n1, c1), (n2, c2) in itertools.combinations(lines, 2):
            A = np.array([n1, n2])
            if abs(np.linalg.det(A)) > 1e-12:
                candidates.append(np.linalg.solve(A, [c1, c2]))
    C = np.array(candidates)
    C = C[np.all(np.abs(C) <= radius * (1 + 1e-12), axis=1)]
    return margins(W, b, x, y, np.clip(C, -radius, radius)).min()


def l2_disk_minimum(W, b, x, y, radius):
    """Min over the disk in two dimensions from a dense sample of the circle, the points where
    kink lines cross it, the vertices inside it, and the tangent points -r c/||c|| of the
    gradients c seen along the circle: every candidate for the minimum of a piecewise-linear
    function over a disk."""
    angles = np.linspace(0, 2 * np.pi, CIRCLE_POINTS, endpoint=False)
    circle = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    active = (np.abs((x + circle) @ W.T) > b).astype(float)
    gradients = y * active @ W
    norms = np.linalg.norm(gradients, axis=1, keepdims=True)
    candidates = [circle, -radius * gradients / np.where(norms > 0, norms, 1.0)]
    lines = kink_lines(W, b, x)
    for normal, offset in lines:
        n = np.linalg.norm(normal)
        distance = offset / n
        if abs(distance) <= radius:
            foot = normal / n * distance
            along = np.array([-normal[1], normal[0]]) / n * np.sqrt(radius**2 - distance**2)
            candidates.append(np.array([foot + along, foot - along]))
    for (n1, c1), (n2, c2) in itertools.combinations(lines, 2):
        A = np.array([n1, n2])
        if abs(np.linalg.det(A)) > 1e-12:
            p = np.linalg.solve(A, [c1, c2])
            if np.linalg.norm(p) <= radius:
                candidates.append(p[None, :])
    C = np.vstack(candidates)
    C *= np.minimum(1.0, radius / np.maximum(np.linalg.norm(C, axis=1), 1e-300))[:, None]
    return margins(W, b, x, y, C).min()


# ---------------------------------------------------------------- strategies


@st.composite
def networks(draw, max_width=6, max_dim=4, n_samples=8, input_dim=None):
    """(W, b, X, y): Gaussian weights, thresholds from 0 (linear) to large, some zero rows."""
    width = draw(st.integers(1, max_width))
    d = input_dim or draw(st.integers(1, max_dim))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    W = rng.normal(size=(width, d))
    if width > 1 and draw(st.booleans()):
        W[rng.integers(width)] = 0.0
    b = draw(st.sampled_from([0.0, 0.3, 1.0])) * np.abs(rng.normal(size=width))
    X = rng.normal(size=(n_samples, d))
    y = rng.choice([-1.0, 1.0], size=n_samples)
    return W, b, X, y


radii = st.floats(0.02, 1.5)
seeds = st.integers(0, 2**32 - 1)


@st.composite
def neuron_intervals(draw, dtype):
    """(t, rho, b) with many intervals that end exactly on a kink (dyadic values are exact in
    float32 and float64), some degenerate (rho = 0), and shapes down to 1 x 1."""
    n, m = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    dyadic = st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0])
    real = st.floats(0.0, 3.0, width=32)
    rho = np.array(draw(st.lists(st.one_of(dyadic, real), min_size=m, max_size=m)), dtype=dtype)
    b = np.array(draw(st.lists(st.one_of(dyadic, real), min_size=m, max_size=m)), dtype=dtype)
    t = np.array(draw(st.lists(st.one_of(dyadic, real), min_size=n * m, max_size=n * m)),
                 dtype=dtype).reshape(n, m)
    t *= np.array(draw(st.lists(st.sampled_from([-1, 1]), min_size=n * m, max_size=n * m)),
                  dtype=dtype).reshape(n, m)
    # put t exactly on a kink, or an end of the interval exactly on one
    for k in range(draw(st.integers(0, n * m))):
        i, j = divmod(k, m)
        sign = dtype(draw(st.sampled_from([-1, 1])))
        t[i, j] = draw(st.sampled_from([sign * b[j], sign * b[j] + rho[j], sign * b[j] - rho[j]]))
    return t, rho, b


# ---------------------------------------------------------------- kernel and lines


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(data=st.data())
def test_kernel_matches_numpy_twin(dtype, data):
    t, rho, b = data.draw(neuron_intervals(dtype))
    slopes_k, intercepts_k = K.soft_threshold_lower_lines(t, rho, b)
    slopes_r, intercepts_r = R.soft_threshold_lower_lines(t, rho, b)
    assert slopes_k.dtype == slopes_r.dtype == intercepts_k.dtype == dtype
    assert slopes_k.shape == intercepts_k.shape == (4, *t.shape)
    tol = twin_atol(dtype, np.max(np.abs(t) + rho + b))
    np.testing.assert_allclose(slopes_k, slopes_r, rtol=0, atol=twin_atol(dtype, 1.0))
    np.testing.assert_allclose(intercepts_k, intercepts_r, rtol=0, atol=tol)


@settings(deadline=None)
@given(data=st.data())
def test_lines_are_below_soft_and_touch_it(data):
    t, rho, b = data.draw(neuron_intervals(np.float64))
    slopes, intercepts = K.soft_threshold_lower_lines(t, rho, b)
    fractions = np.linspace(-1.0, 1.0, 201)
    for n, i in np.ndindex(t.shape):
        kinks = [k - t[n, i] for k in (b[i], -b[i]) if abs(k - t[n, i]) <= rho[i]]
        s = np.concatenate([fractions * rho[i], kinks])
        lines = slopes[:, n, i] * s[:, None] + intercepts[:, n, i]
        gaps = soft(t[n, i] + s[:, None], b[i]) - lines
        atol = LINE_RTOL * (abs(t[n, i]) + rho[i] + b[i] + 1.0)
        assert gaps.min() >= -atol  # sound: below soft on the whole interval
        np.testing.assert_allclose(gaps.min(axis=0), 0.0, atol=atol)  # tightest
        stable = t[n, i] - rho[i] >= b[i] or t[n, i] + rho[i] <= -b[i] or (
            t[n, i] - rho[i] >= -b[i] and t[n, i] + rho[i] <= b[i])
        if stable:  # a stable neuron's line is exact everywhere on its interval
            np.testing.assert_allclose(gaps, 0.0, atol=atol)


# ---------------------------------------------------------------- certified margin


@pytest.mark.parametrize("norm", NORMS)
@settings(deadline=None)
@given(net=networks())
def test_radius_zero_gives_the_clean_margin(norm, net):
    W, b, X, y = net
    clean = np.array([margins(W, b, x, yi, np.zeros(x.size))[0] for x, yi in zip(X, y)])
    scale = np.abs(X @ W.T).sum(axis=1) + b.sum()
    np.testing.assert_allclose(certified_margin(W, b, X, y, 0.0, norm), clean, rtol=0,
                               atol=SOUND_RTOL * scale.max())


@pytest.mark.parametrize("norm", NORMS)
@settings(deadline=None)
@given(net=networks(), radius=radii)
def test_linear_network_is_certified_exactly(norm, net, radius):
    # b = 0: f(x) = <sum_i w_i, x>, whose worst case is y<v, x> - r ||v||_* with v = sum_i w_i.
    W, _, X, y = net
    v = W.sum(axis=0)
    exact = y * (X @ v) - radius * dual_norms(v[None, :], norm)[0]
    scale = (np.abs(X @ W.T).sum(axis=1) + radius * dual_norms(W, norm).sum()).max()
    got = certified_margin(W, np.zeros(W.shape[0]), X, y, radius, norm)
    np.testing.assert_allclose(got, exact, rtol=0, atol=SOUND_RTOL * scale)


@pytest.mark.parametrize("norm", NORMS)
@settings(deadline=None)
@given(net=networks(max_width=1), radius=radii)
def test_single_neuron_is_certified_exactly(norm, net, radius):
    # One neuron: soft is nondecreasing, so the minimum is soft(t - rho) at the far end.
    W, b, X, y = net
    exact = soft(y * (X @ W[0]) - radius * dual_norms(W, norm)[0], b[0])
    np.testing.assert_allclose(certified_margin(W, b, X, y, radius, norm), exact, atol=1e-12)


@pytest.mark.parametrize("norm", NORMS)
@settings(deadline=None)
@given(net=networks(), radius=radii, seed=seeds)
def test_every_rule_is_sound_against_sampled_and_attack_points(norm, net, radius, seed):
    W, b, X, y = net
    rng = np.random.default_rng(seed)
    bounds = _rule_bounds(W, b, X, y, radius, norm)
    for k, (x, yi) in enumerate(zip(X[:3], y[:3])):
        sampled = margins(W, b, x, yi, points_in_ball(rng, x.size, radius, norm, 200)).min()
        attacked = pgd_min_margin(W, b, x, yi, radius, norm, rng, restarts=2, steps=30)
        slack = SOUND_RTOL * term_size(W, b, x, yi, radius, norm)
        assert np.all(bounds[:, k] <= min(sampled, attacked) + slack)


@pytest.mark.parametrize("norm", NORMS)
@settings(deadline=None)
@given(net=networks(), radius=radii)
def test_never_looser_than_the_interval_bound(norm, net, radius):
    # Interval bound: every neuron at the low end of its own interval, sum_i soft(t_i - rho_i).
    W, b, X, y = net
    interval = soft(y[:, None] * (X @ W.T) - radius * dual_norms(W, norm), b).sum(axis=1)
    scale = (np.abs(X @ W.T).sum(axis=1) + radius * dual_norms(W, norm).sum() + b.sum()).max()
    assert np.all(certified_margin(W, b, X, y, radius, norm) >= interval - SOUND_RTOL * scale)


@pytest.mark.parametrize("norm", NORMS)
@settings(deadline=None)
@given(net=networks(), radius_list=st.lists(st.floats(0.0, 2.0), min_size=2, max_size=6))
def test_radius_independent_rules_are_non_increasing_in_radius(norm, net, radius_list):
    # Rules unstable-zero and unstable-one fix the slope of an unstable neuron whatever the
    # radius, so their bounds can only fall as the ball grows. (The chord and adaptive rules,
    # hence the maximum over rules, carry no such guarantee: see docs/certification.md.)
    W, b, X, y = net
    radius_list = sorted(radius_list)
    bounds = np.array([_rule_bounds(W, b, X, y, r, norm)[1:3] for r in radius_list])
    scale = (np.abs(X @ W.T).sum(axis=1) + 2.0 * dual_norms(W, norm).sum() + b.sum()).max()
    assert np.all(np.diff(bounds, axis=0) <= SOUND_RTOL * scale)


# ---------------------------------------------------------------- exact verification


@settings(deadline=None, max_examples=60)
@given(seed=seeds, n_rows=st.integers(0, 3), n_free=st.integers(0, 2), radius=radii)
def test_branch_and_bound_node_bound_is_sound_and_tight(seed, n_rows, n_free, radius):
    # One node of the l2 branch and bound in two dimensions: minimise <c, delta> plus n_free
    # relaxed neurons over the disk cut by A delta <= beta. Its bound must lie below the true
    # objective on every sampled feasible point, a region reported empty must have none, and
    # without relaxed neurons (a leaf) the bound must meet the value at the solver's point.
    rng = np.random.default_rng(seed)
    c = rng.normal(size=2)
    A, beta = rng.normal(size=(n_rows, 2)), 0.5 * radius * rng.normal(size=n_rows)
    G, t, b = rng.normal(size=(n_free, 2)), rng.normal(size=n_free), 0.3 * np.ones(n_free)
    rho = radius * np.linalg.norm(G, axis=1)
    lines = []
    for j in range(n_free):
        slopes = np.array(_envelope_slopes(t[j], rho[j], b[j]))
        lines.append((slopes, _tightest_intercepts(t[j], rho[j], b[j], slopes), t[j], rho[j], b[j]))
    solved = _bound_relaxed_node(c, 0.0, G, lines, A, beta, radius, 1.0 + np.abs(t).sum())

    axis = np.linspace(-radius, radius, 301)
    grid = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    angles = np.linspace(0, 2 * np.pi, 2000, endpoint=False)
    grid = np.vstack([grid[np.linalg.norm(grid, axis=1) <= radius],
                      radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)])
    feasible = grid[np.all(grid @ A.T <= beta, axis=1)]
    objective = feasible @ c + soft(t + feasible @ G.T, b).sum(axis=1)
    if solved is None:
        assert feasible.shape[0] == 0
        return
    bound, delta = solved
    assert np.linalg.norm(delta) <= radius * (1 + 1e-12)
    if feasible.shape[0]:
        assert bound <= objective.min() + NODE_SOUND_ATOL
    if n_free == 0 and np.all(A @ delta <= beta + NODE_SOUND_ATOL):
        assert bound >= c @ delta - NODE_GAP_RTOL * (1 + radius * np.linalg.norm(c))



@pytest.mark.parametrize("norm", NORMS)
@settings(deadline=None, max_examples=60)
@given(net=networks(max_width=8, max_dim=8, n_samples=1), radius=radii, seed=seeds)
def test_certified_below_exact_below_attack(norm, net, radius, seed):
    W, b, X, y = net
    x, yi = X[0], y[0]
    result = exact_worst_case(W, b, x, yi, radius, norm)
    certified = certified_margin(W, b, X, y, radius, norm)[0]
    attacked = pgd_min_margin(W, b, x, yi, radius, norm, np.random.default_rng(seed))
    slack = SOUND_RTOL * term_size(W, b, x, yi, radius, norm)
    # the true minimum lies in [lower_bound, min_margin] (the solver's gap); a sound
    # certificate is below the true minimum, so below the attained min_margin, but it may sit
    # above the solver's proven lower_bound: with b = 0 (a linear network) the certificate is
    # exact, -8.3031608, while the linf MILP proved only -8.3031614
    assert certified <= result.min_margin + slack
    assert result.lower_bound <= result.min_margin <= result.lower_bound + result.tolerance
    assert result.min_margin <= attacked + slack
    # the reported value is attained inside the ball
    size = np.linalg.norm(result.delta) if norm == "l2" else np.abs(result.delta).max()
    assert size <= radius * (1 + 1e-12)
    assert abs(margins(W, b, x, yi, result.delta)[0] - result.min_margin) <= slack


@settings(deadline=None, max_examples=80)
@given(net=networks(max_width=6, max_dim=2, n_samples=1), radius=radii)
def test_exact_linf_matches_vertex_enumeration(net, radius):
    W, b, X, y = net
    reference = linf_vertex_minimum(W, b, X[0], y[0], radius)
    result = exact_worst_case(W, b, X[0], y[0], radius, "linf")
    assert abs(result.min_margin - reference) <= result.tolerance


@settings(deadline=None, max_examples=80)
@given(net=networks(max_width=6, max_dim=2, n_samples=1), radius=radii)
def test_exact_l2_matches_dense_sampling_of_the_disk(net, radius):
    W, b, X, y = net
    x, yi = X[0], y[0]
    # in one dimension the l2 ball is the interval [-r, r]: the vertex enumeration is exact
    if x.size == 1:
        reference = linf_vertex_minimum(W, b, x, yi, radius)
    else:
        reference = l2_disk_minimum(W, b, x, yi, radius)
    result = exact_worst_case(W, b, x, yi, radius, "l2")
    assert abs(result.min_margin - reference) <= result.tolerance


# ---------------------------------------------------------------- several radii, sparse directions


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), norm=st.sampled_from(NORMS),
       width=st.integers(1, 40), d=st.integers(1, 12), n=st.integers(1, 30))
def test_certified_margins_at_several_radii_equal_one_radius_at_a_time(seed, norm, width, d, n):
    """The multi-radius entry point gives exactly the single-radius bounds (same arithmetic)."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((width, d))
    b = rng.uniform(0, 1, width)
    X = rng.standard_normal((n, d))
    y = rng.choice([-1.0, 1.0], n)
    radii = [0.0, 0.05, 0.3, 1.0]
    M = certified_margins(W, b, X, y, radii, norm)
    assert M.shape == (len(radii), n)
    for k, r in enumerate(radii):
        np.testing.assert_array_equal(M[k], certified_margin(W, b, X, y, r, norm))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), norm=st.sampled_from(NORMS), radius=st.floats(0.0, 2.0))
def test_sparse_rule_directions_equal_the_dense_products(seed, norm, radius):
    """With few unstable pairs the rules' directions come from one dense and one sparse product
    per rule; forced either way they agree up to float64 rounding, and so do the bounds."""
    import simulator.certification.relaxation as Rl

    rng = np.random.default_rng(seed)
    W = rng.standard_normal((30, 8))
    b = rng.uniform(0, 2, 30)
    X = rng.standard_normal((20, 8))
    y = rng.choice([-1.0, 1.0], 20)
    old = Rl._SPARSE_UNSTABLE_SHARE
    try:
        Rl._SPARSE_UNSTABLE_SHARE = 2.0  # always sparse
        sparse = _rule_bounds(W, b, X, y, radius, norm)
        Rl._SPARSE_UNSTABLE_SHARE = -1.0  # always dense
        dense = _rule_bounds(W, b, X, y, radius, norm)
    finally:
        Rl._SPARSE_UNSTABLE_SHARE = old
    scale = np.array([term_size(W, b, X[i], y[i], radius, norm) for i in range(20)])
    np.testing.assert_array_less(np.abs(sparse - dense), np.broadcast_to(SOUND_RTOL * scale + 1e-300, dense.shape))


def test_certified_margins_refuses_bad_radii():
    W, b, X, y = np.ones((2, 3)), np.zeros(2), np.ones((4, 3)), np.ones(4)
    with pytest.raises(ValueError, match="'radii'.*non-empty"):
        certified_margins(W, b, X, y, [], "l2")
    with pytest.raises(ValueError, match="radii"):
        certified_margins(W, b, X, y, [0.1, -1.0], "l2")


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), dtype=st.sampled_from(DTYPES), n=st.integers(1, 12),
       width=st.integers(1, 30), spread=st.floats(0.0, 3.0))
def test_rule_terms_kernel_matches_the_four_rules_lines(seed, dtype, n, width, spread):
    """soft_threshold_rule_terms gives what the four slope arrays of soft_threshold_lower_lines
    hold: rule 1's slopes, the unstable pairs (where rules 1 and 2 differ) with rule 0's chord
    slopes, and each rule's intercepts summed over neurons."""
    rng = np.random.default_rng(seed)
    t = (spread * rng.standard_normal((n, width))).astype(dtype)
    rho = (spread * rng.uniform(0, 1, width)).astype(dtype)
    b = rng.uniform(0, 1, width).astype(dtype)
    slopes, intercepts = K.soft_threshold_lower_lines(t, rho, b)
    base, sums, indptr, cols, chords = K.soft_threshold_rule_terms(t, rho, b)
    np.testing.assert_array_equal(base, slopes[1])
    rows, cs = np.nonzero(slopes[2] != slopes[1])
    np.testing.assert_array_equal(np.repeat(np.arange(n), np.diff(indptr)), rows)
    np.testing.assert_array_equal(cols, cs)
    np.testing.assert_array_equal(chords, slopes[0][rows, cs])
    np.testing.assert_array_equal(slopes[3][rows, cs], (chords >= 0.5).astype(dtype))
    np.testing.assert_allclose(sums, intercepts.sum(axis=2), rtol=0,
                               atol=twin_atol(dtype, np.abs(intercepts).sum(axis=2).max() + 1.0))
