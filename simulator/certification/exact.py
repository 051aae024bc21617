"""Exact worst-case margin of the two-layer network on small instances.

Serves as the reference the certified bound (``simulator/certify.py``) and the attacks are held
against: for one sample (x, y) it computes

    min over ||delta|| <= radius of  y * f(x + delta),   f(x) = sum_i soft(<w_i, x>, b_i),

to a stated tolerance, for the l2 and linf balls. With t_i = y <w_i, x> and G = y W the objective
is F(delta) = sum_i soft(t_i + <g_i, delta>, b_i), continuous and piecewise linear: linear inside
each *activation region* (every neuron on one of its pieces u <= -b, |u| <= b, u >= b).

- linf: a mixed-integer linear program (``scipy.optimize.milp``, HiGHS). soft(u, b) =
  relu(u - b) - relu(-u - b); the convex first term needs no binary (it is minimised), the
  concave second term takes one binary per neuron that can cross -b, with big-M constants from
  the exact pre-activation interval over the box. The solver's point is then re-optimised by a
  linear program over its activation region.
- l2: best-first branch and bound over activation pieces. A node fixes the piece of some
  neurons (linear constraints on delta: its activation region) and relaxes the others by the
  lower convex envelope of soft on their pre-activation interval (at most two lines each). The
  node's relaxed problem, convex, is solved by SLSQP; the node's lower bound is the Lagrangian
  dual value at the solver's multipliers, sound for any multipliers by weak duality; regions
  that miss the ball are pruned on a Farkas-type certificate from a least-distance (NNLS)
  problem. Every node's point, a genuine point of the ball, updates the incumbent. A leaf
  (every neuron fixed) is exactly "minimise a linear function over the ball intersected with a
  polyhedron", so the bounds close on the true minimum.

Both report the margin at a point of the ball (attained, so >= the true minimum) and a proven
lower bound; the result is accepted only if the two are within ``GAP_RTOL`` times the size of the
terms, sum_i (|t_i| + rho_i + b_i) (rho_i = radius * ||w_i||_*), and an error is raised otherwise.
The lower bounds hold up to the solvers' floating-point feasibility tolerances (HiGHS: 1e-7 on
the scaled problem; the dual value is evaluated exactly). See docs/certification.md.
"""

import heapq
import itertools
import numbers
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp, minimize, nnls
from threadpoolctl import threadpool_limits

from .relaxation import (
    _as_float_array,
    _check_network,
    _check_nonnegative_float,
    _check_norm,
    _format_value,
    dual_norms,
)

# Exact verification is exponential in the width; beyond these sizes use the certified bound.
MAX_WIDTH = 32
MAX_INPUT_DIM = 64
# Accepted gap between the attained margin and the proven lower bound, relative to the size of
# the terms of F. HiGHS stops at an absolute gap of 1e-6 on its (unit-scaled) objective, so this
# cannot be much smaller for linf.
GAP_RTOL = 1e-5
# The l2 branch and bound prunes at this fraction of the tolerance: closing nodes this tightly
# costs few extra nodes and makes the attained margin typically exact to ~1e-9 of the scale.
_PRUNE_FRACTION = 1e-3
# Default wall-clock budget of one exact solve, in seconds.
DEFAULT_TIME_LIMIT = 60.0
# Pre-activation intervals are widened by this many ulps of the terms before neurons are called
# stable, so that a rounding error can never mislabel a neuron that crosses a kink.
_INTERVAL_SLACK_ULPS = 8


@dataclass(frozen=True)
class ExactResult:
    """The exact worst-case margin of one sample and the evidence for it.

    Attributes
    ----------
    min_margin : float
        y * f(x + delta) at ``delta``: attained, so an upper bound on the true minimum.
    lower_bound : float
        A proven lower bound on the true minimum; ``min_margin - lower_bound <= tolerance``.
    tolerance : float
        The accepted gap, ``GAP_RTOL * sum_i (|t_i| + rho_i + b_i)``.
    delta : ndarray, shape (input_dim,)
        A worst-case perturbation, inside the ball.
    nodes : int
        Branch-and-bound nodes (l2) or MILP nodes (linf) explored.
    """

    min_margin: float
    lower_bound: float
    tolerance: float
    delta: np.ndarray = field(compare=False, repr=False)
    nodes: int


# ---------------------------------------------------------------- validation


def _check_instance(W, b, x, y, radius, norm, time_limit, owner):
    norm = _check_norm(norm, owner)
    radius = _check_nonnegative_float(radius, "radius", owner)
    time_limit = _check_nonnegative_float(time_limit, "time_limit", owner, positive=True)
    W, b = _check_network(W, b, owner)
    if W.shape[0] > MAX_WIDTH or W.shape[1] > MAX_INPUT_DIM:
        raise ValueError(
            f"The 'W' parameter of {owner} must have width <= {MAX_WIDTH} and input_dim <= "
            f"{MAX_INPUT_DIM} for exact verification (use certified_margin for larger "
            f"networks). Got shape {W.shape} instead."
        )
    x = _as_float_array(x, "x", owner)
    if x.shape != (W.shape[1],):
        raise ValueError(
            f"The 'x' parameter of {owner} must be a 1-D array of shape (input_dim,) = "
            f"({W.shape[1]},). Got shape {x.shape} instead."
        )
    if isinstance(y, bool) or not isinstance(y, numbers.Real) or y not in (-1, 1):
        raise ValueError(
            f"The 'y' parameter of {owner} must be one of {{-1, +1}}. "
            f"Got {_format_value(y)} instead."
        )
    return W, b, x, float(y), radius, norm, time_limit


# ---------------------------------------------------------------- shared maths


def _soft(u, b):
    return np.sign(u) * np.maximum(np.abs(u) - b, 0.0)


def _margin(W, b, x, y):
    """y * f(x) for one sample, straight from the definition of the network."""
    return float(y * _soft(W @ x, b).sum())


def _widened_radius(t, rho, b):
    """Half-width of the pre-activation interval, widened by a few ulps where it is not 0."""
    slack = _INTERVAL_SLACK_ULPS * np.finfo(np.float64).eps * (np.abs(t) + rho + b)
    return np.where(rho > 0, rho + slack, 0.0)


# ---------------------------------------------------------------- linf: MILP


def _region_lp(t, G, b, radius, delta):
    """Minimise F over the activation region of ``delta`` intersected with the linf box."""
    m, d = G.shape
    u = t + G @ delta
    moving = np.any(G != 0, axis=1)
    upper = moving & (u > b)
    lower = moving & (u < -b)
    dead = moving & ~upper & ~lower
    objective = G[upper | lower].sum(axis=0)
    rows = np.vstack([-G[upper], G[lower], G[dead], -G[dead]])
    rhs = np.concatenate([t[upper] - b[upper], -b[lower] - t[lower],
                          b[dead] - t[dead], b[dead] + t[dead]])
    result = linprog(
        objective,
        A_ub=rows if rows.shape[0] else None,
        b_ub=rhs if rows.shape[0] else None,
        bounds=[(-radius, radius)] * d,
        method="highs",
    )
    if result.status != 0:
        return None
    return np.clip(result.x, -radius, radius)


def _min_margin_linf(W, b, x, y, radius, time_limit):
    """(attained margin, proven lower bound, delta, MILP nodes) over the linf ball."""
    G = y * W
    t = G @ x
    m, d = G.shape
    rho = radius * dual_norms(G, "linf")
    rho_wide = _widened_radius(t, rho, b)
    lo, hi = t - rho_wide, t + rho_wide
    # Unit scale for HiGHS: delta = radius * v with v in [-1, 1]^d, values divided by sigma.
    sigma = np.max(np.abs(t) + rho + b)
    Gs, ts, bs, los, his = radius * G / sigma, t / sigma, b / sigma, lo / sigma, hi / sigma

    # soft(u, b) = relu(u - b) - relu(-u - b), each term classified on its own.
    p_linear = los >= bs  # relu(u - b) = u - b on the whole interval
    p_var = (los < bs) & (his > bs)  # p >= u - b, p >= 0: exact, since p is minimised
    q_linear = his <= -bs  # relu(-u - b) = -u - b on the whole interval
    q_var = (los < -bs) & (his > -bs)  # q = relu(-u - b) is maximised: needs a binary z
    P, Q = np.flatnonzero(p_var), np.flatnonzero(q_var)
    n_p, n_q = P.size, Q.size
    n_vars = d + n_p + 2 * n_q
    iv, ip, iq, iz = 0, d, d + n_p, d + n_p + n_q

    cost = np.zeros(n_vars)
    cost[iv:ip] = Gs[p_linear | q_linear].sum(axis=0)
    constant = (ts - bs)[p_linear].sum() + (ts + bs)[q_linear].sum()
    cost[ip:iq] = 1.0
    cost[iq:iz] = -1.0

    big_m_up = his[Q] + bs[Q]  # >= max of u + b: q <= -u - b + M (1 - z) is slack at z = 0
    big_m_q = -los[Q] - bs[Q]  # >= max of -u - b: q <= M' z is slack at z = 1
    rows, rhs = [], []
    for k, i in enumerate(P):
        row = np.zeros(n_vars)
        row[iv:ip], row[ip + k] = Gs[i], -1.0
        rows.append(row)
        rhs.append(bs[i] - ts[i])
    for k, i in enumerate(Q):
        row = np.zeros(n_vars)
        row[iv:ip], row[iq + k], row[iz + k] = Gs[i], 1.0, big_m_up[k]
        rows.append(row)
        rhs.append(-ts[i] - bs[i] + big_m_up[k])
        row = np.zeros(n_vars)
        row[iq + k], row[iz + k] = 1.0, -big_m_q[k]
        rows.append(row)
        rhs.append(0.0)

    lower = np.concatenate([-np.ones(d), np.zeros(n_p + 2 * n_q)])
    upper = np.concatenate([np.ones(d), his[P] - bs[P], big_m_q, np.ones(n_q)])
    integrality = np.concatenate([np.zeros(d + n_p + n_q), np.ones(n_q)])
    constraints = LinearConstraint(np.array(rows), -np.inf, np.array(rhs)) if rows else None
    # Presolve off: on these tiny models it saves nothing, and HiGHS's MIP presolve has failed
    # on some of them ("Solve error"; compare scipy issues 17379 and 18907, HiGHS issue 2204).
    result = milp(
        cost,
        integrality=integrality,
        bounds=Bounds(lower, upper),
        constraints=constraints,
        options={"time_limit": time_limit, "mip_rel_gap": 1e-9, "presolve": False},
    )
    if result.status == 1:
        raise TimeoutError(
            f"exact linf verification hit its time limit of {time_limit} s "
            f"(width {m}, input_dim {d}, {n_q} binary variables)."
        )
    if result.status != 0:
        raise RuntimeError(f"exact linf verification failed: HiGHS says {result.message!r}.")
    dual_bound = result.mip_dual_bound if result.mip_dual_bound is not None else result.fun
    lower_bound = sigma * (dual_bound + constant)

    delta = radius * np.clip(result.x[:d], -1.0, 1.0)
    value = _margin(W, b, x + delta, y)
    polished = _region_lp(t, G, b, radius, delta)
    if polished is not None:
        polished_value = _margin(W, b, x + polished, y)
        if polished_value < value:
            delta, value = polished, polished_value
    nodes = int(getattr(result, "mip_node_count", 0) or 0)
    return value, lower_bound, delta, nodes


# ---------------------------------------------------------------- l2: branch and bound


def _tightest_intercepts(t, rho, b, slopes):
    """min over |s| <= rho of soft(t + s, b) - slopes * s, elementwise, from the vertices."""
    lo, hi = t - rho, t + rho
    candidates = [
        _soft(lo, b) + slopes * rho,
        _soft(hi, b) - slopes * rho,
        np.where((lo <= b) & (b <= hi), slopes * (t - b), np.inf),
        np.where((lo <= -b) & (-b <= hi), slopes * (t + b), np.inf),
    ]
    return np.min(candidates, axis=0)


def _envelope_slopes(t, rho, b):
    """Slopes of lines whose maximum is the lower convex envelope of soft(t + s, b), |s| <= rho.

    For one neuron that crosses a kink. soft is concave across -b and convex across +b: if only
    -b is crossed the envelope is the chord; otherwise it is the maximum of the last piece
    (slope 1) and the line from (lo, soft(lo)) to (b, 0), which is the zero line if lo >= -b.
    """
    lo, hi = t - rho, t + rho
    if hi <= b:
        return [(_soft(hi, b) - _soft(lo, b)) / (hi - lo)]
    if lo >= -b:
        return [1.0, 0.0]
    return [1.0, -(lo + b) / (b - lo)]


def _bound_relaxed_node(c, constant, G_free, lines, A, beta, radius, scale):
    """Lower-bound one branch-and-bound node of the l2 problem.

    The node's relaxed problem is

        min  <c, delta> + constant + sum_j max_k (slope_jk <g_j, delta> + intercept_jk)
        s.t. ||delta||_2 <= radius,  A delta <= beta,

    the maxima being the lower convex envelopes of the free neurons. SLSQP solves it in epigraph
    form; the bound is then the Lagrangian dual value at its multipliers: each free neuron gets the
    convex combination of its lines weighted by their multipliers (a valid lower line), and

        bound = constant + sum_j intercept_j - radius ||c + sum_j a_j g_j + A^T lam|| - beta^T lam,

    which is <= the node's minimum for any lam >= 0 (weak duality), however accurate SLSQP is.

    Parameters
    ----------
    c : ndarray, shape (input_dim,)
        Gradient of the fixed neurons' (exact) linear part.
    constant : float
        Value of that linear part at delta = 0.
    G_free : ndarray, shape (n_free, input_dim)
        Rows g_j of the free (relaxed) neurons.
    lines : list of (slopes, intercepts, t_j, rho_j, b_j)
        Per free neuron: its envelope lines and its interval data (for the intercept of any
        other slope).
    A : ndarray, shape (n_rows, input_dim)
        Activation-region constraints A delta <= beta, rows of norm > 0.
    beta : ndarray, shape (n_rows,)
    radius : float
    scale : float
        Size of the objective's terms, for SLSQP's units.

    Returns
    -------
    None if the node's region misses the ball (certified), else ``(bound, delta)``, ``delta``
    being SLSQP's point moved into the ball.
    """
    d = c.size
    n_rows, n_free = A.shape[0], G_free.shape[0]
    row_norms = np.linalg.norm(A, axis=1)
    An, bn = A / row_norms[:, None], beta / row_norms
    start = np.zeros(d)
    if n_rows:
        # Least-distance point of {An delta <= bn} (Lawson & Hanson's LDP through NNLS). Its
        # multipliers u certify that the region misses the ball when -bn.u > radius ||An^T u||:
        # the dual value then grows without bound along u.
        E = np.vstack([-An.T, -bn[None, :]])
        f = np.zeros(d + 1)
        f[d] = 1.0
        u, _ = nnls(E, f, maxiter=50 * (d + 1 + n_rows))
        if -bn @ u > radius * np.linalg.norm(An.T @ u):
            return None
        residual = E @ u - f
        if residual[d] != 0:
            start = -residual[:d] / residual[d]

    slope_list = [line[0] for line in lines]
    owner = np.array([j for j, slopes in enumerate(slope_list) for _ in slopes], dtype=int)
    all_slopes = np.concatenate(slope_list) if n_free else np.zeros(0)
    all_intercepts = np.concatenate([line[1] for line in lines]) if n_free else np.zeros(0)

    # SLSQP on (v, z): delta = radius * v, z_j = the j-th envelope / scale.
    start_v = start / radius
    if np.linalg.norm(start_v) > 1:
        start_v /= np.linalg.norm(start_v)
    line_v = (all_slopes[:, None] * G_free[owner]) * (radius / scale)  # (n_lines, d)
    line_z = np.zeros((owner.size, n_free))
    line_z[np.arange(owner.size), owner] = 1.0
    line_0 = all_intercepts / scale
    start_z = np.full(n_free, -np.inf)
    np.maximum.at(start_z, owner, line_v @ start_v + line_0)
    cost = np.concatenate([radius * c / scale, np.ones(n_free)])
    constraints = [{
        "type": "ineq",
        "fun": lambda x: np.array([1.0 - x[:d] @ x[:d]]),
        "jac": lambda x: np.concatenate([-2.0 * x[:d], np.zeros(n_free)])[None, :],
    }]
    if n_rows:
        region_jac = np.hstack([-radius * An, np.zeros((n_rows, n_free))])
        constraints.append({"type": "ineq", "fun": lambda x: bn - radius * (An @ x[:d]),
                            "jac": lambda x: region_jac})
    if n_free:
        line_jac = np.hstack([-line_v, line_z])
        constraints.append({"type": "ineq", "fun": lambda x: x[d:][owner] - line_v @ x[:d] - line_0,
                            "jac": lambda x: line_jac})
    result = minimize(
        lambda x: cost @ x,
        np.concatenate([start_v, start_z]),
        jac=lambda x: cost,
        constraints=constraints,
        method="SLSQP",
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    x = result.x if np.all(np.isfinite(result.x)) else np.concatenate([start_v, start_z])
    v = x[:d]
    delta = radius * v / max(1.0, np.linalg.norm(v))

    multipliers = getattr(result, "multipliers", None)
    if multipliers is None or not np.all(np.isfinite(multipliers)):
        multipliers = np.zeros(1 + n_rows + owner.size)
    multipliers = np.maximum(np.asarray(multipliers, dtype=float), 0.0)
    # SLSQP's Lagrangian is f - mu^T g(x); in the original units lam = scale * mu.
    lam = scale * multipliers[1:1 + n_rows]
    weights = multipliers[1 + n_rows:]
    slopes = np.empty(n_free)
    for j in range(n_free):
        w = weights[owner == j]
        slopes[j] = w @ slope_list[j] / w.sum() if w.sum() > 0 else slope_list[j][0]
    free_t, free_rho, free_b = (np.array([line[k] for line in lines]) for k in (2, 3, 4))
    free_constant = constant + _tightest_intercepts(free_t, free_rho, free_b, slopes).sum()
    direction = c + G_free.T @ slopes

    def dual_value(lam):
        return free_constant - radius * np.linalg.norm(direction + An.T @ lam) - bn @ lam

    bound = dual_value(lam)
    relaxed = constant + c @ delta
    if n_free:
        values = np.full(n_free, -np.inf)
        np.maximum.at(values, owner, all_slopes * (G_free[owner] @ delta) + all_intercepts)
        relaxed += values.sum()
    if n_rows and relaxed - bound > 1e-9 * scale:
        # Polish the region multipliers (slopes fixed) when SLSQP's leave a visible gap.
        def negative_dual(lam):
            vector = direction + An.T @ lam
            norm = np.linalg.norm(vector)
            grad = radius * (An @ vector) / norm if norm > 0 else np.zeros_like(lam)
            return radius * norm + bn @ lam - free_constant, grad + bn

        polished = minimize(
            negative_dual, lam, jac=True, method="L-BFGS-B",
            bounds=[(0.0, None)] * n_rows, options={"maxiter": 500, "ftol": 1e-15},
        )
        if np.all(np.isfinite(polished.x)):
            bound = max(bound, dual_value(np.maximum(polished.x, 0.0)))
    return bound, delta


def _min_margin_l2(W, b, x, y, radius, time_limit, prune_tolerance):
    """(attained margin, proven lower bound, delta, nodes) over the l2 ball, by branch and bound."""
    deadline = time.monotonic() + time_limit
    G = y * W
    t = G @ x
    m, d = G.shape
    rho = radius * dual_norms(G, "l2")
    rho_wide = _widened_radius(t, rho, b)
    lo, hi = t - rho_wide, t + rho_wide
    scale = float(np.sum(np.abs(t) + rho + b))
    unstable = ((lo < -b) & (-b < hi)) | ((lo < b) & (b < hi))
    # Stable neurons are linear on the ball: slope 1 on the active pieces, 0 in the dead zone.
    stable_slope = np.where(unstable, 0.0, np.where((lo >= b) | (hi <= -b), 1.0, 0.0))
    stable_intercept = np.where(unstable, 0.0, _soft(t, b))
    envelope = {}  # neuron -> (slopes, intercepts) of its envelope lines
    for i in np.flatnonzero(unstable):
        slopes = np.array(_envelope_slopes(t[i], rho_wide[i], b[i]))
        envelope[i] = (slopes, _tightest_intercepts(t[i], rho_wide[i], b[i], slopes))

    def pieces(i):
        """Pieces of neuron i the ball reaches: -1 (u <= -b), 0 (|u| <= b), +1 (u >= b)."""
        reachable = []
        if lo[i] < -b[i]:
            reachable.append(-1)
        if lo[i] < b[i] and hi[i] > -b[i]:
            reachable.append(0)
        if hi[i] > b[i]:
            reachable.append(1)
        return reachable

    def solve_node(fixed, free):
        a, c = stable_slope.copy(), stable_intercept.copy()
        rows, rhs = [], []
        for i, piece in fixed.items():
            if piece == 1:
                a[i], c[i] = 1.0, t[i] - b[i]
                rows.append(-G[i]), rhs.append(t[i] - b[i])
            elif piece == -1:
                a[i], c[i] = 1.0, t[i] + b[i]
                rows.append(G[i]), rhs.append(-b[i] - t[i])
            else:
                rows += [G[i], -G[i]]
                rhs += [b[i] - t[i], b[i] + t[i]]
        lines = [(*envelope[i], t[i], rho_wide[i], b[i]) for i in free]
        A = np.array(rows).reshape(len(rows), d)
        return _bound_relaxed_node(
            G.T @ a, c.sum(), G[free].reshape(len(free), d), lines, A, np.array(rhs), radius, scale
        )

    best_delta = np.zeros(d)
    best_value = _margin(W, b, x, y)
    closed_bound = np.inf  # min of the bounds of nodes closed so far
    counter = itertools.count()
    queue = [(-np.inf, next(counter), ())]
    nodes = 0
    while queue:
        if queue[0][0] >= best_value - prune_tolerance:
            break  # best-first: every open node is already within tolerance
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"exact l2 verification hit its time limit of {time_limit} s after {nodes} "
                f"nodes (width {m}, input_dim {d}, {int(unstable.sum())} unstable neurons)."
            )
        _, _, fixed_items = heapq.heappop(queue)
        fixed = dict(fixed_items)
        free = [int(i) for i in np.flatnonzero(unstable) if i not in fixed]
        nodes += 1
        solved = solve_node(fixed, free)
        if solved is None:
            continue  # this activation region misses the ball
        bound, delta = solved
        value = _margin(W, b, x + delta, y)
        if value < best_value:
            best_value, best_delta = value, delta
        if bound >= best_value - prune_tolerance:
            closed_bound = min(closed_bound, bound)
            continue
        if not free:
            # A leaf whose convex problem the solvers could not close: keep its bound honest.
            closed_bound = min(closed_bound, bound)
            continue
        # Branch on the neuron whose envelope lies furthest below soft at the node's point.
        s = G[free] @ delta
        envelope_gap = [
            _soft(t[i] + si, b[i]) - np.max(envelope[i][0] * si + envelope[i][1])
            for i, si in zip(free, s)
        ]
        branch = free[int(np.argmax(envelope_gap))]
        for piece in pieces(branch):
            child = tuple(sorted({**fixed, branch: piece}.items()))
            heapq.heappush(queue, (bound, next(counter), child))

    open_bound = queue[0][0] if queue else np.inf
    lower_bound = min(closed_bound, open_bound, best_value)
    return best_value, lower_bound, best_delta, nodes


# ---------------------------------------------------------------- public API


def _solve(W, b, x, y, radius, norm, time_limit):
    G = y * W
    t = G @ x
    rho = radius * dual_norms(G, norm)
    tolerance = GAP_RTOL * float(np.sum(np.abs(t) + rho + b))
    clean = _margin(W, b, x, y)
    if radius == 0 or not np.any(rho > 0):
        # Nothing moves: the margin is constant on the ball.
        return ExactResult(clean, clean, tolerance, np.zeros(x.size), 0)
    # The solvers work on tiny matrices: threaded BLAS only adds overhead there, and on a busy
    # machine its spinning threads slowed the branch and bound a hundredfold.
    with threadpool_limits(limits=1, user_api="blas"):
        if norm == "linf":
            value, lower_bound, delta, nodes = _min_margin_linf(W, b, x, y, radius, time_limit)
        else:
            value, lower_bound, delta, nodes = _min_margin_l2(
                W, b, x, y, radius, time_limit, _PRUNE_FRACTION * tolerance
            )
    if value - lower_bound > tolerance:
        raise RuntimeError(
            f"exact {norm} verification could not close the gap: attained margin {value!r}, "
            f"proven lower bound {lower_bound!r}, tolerance {tolerance!r}."
        )
    return ExactResult(float(value), float(min(lower_bound, value)), tolerance, delta, nodes)


def exact_worst_case(W, b, x, y, radius, norm, time_limit=DEFAULT_TIME_LIMIT):
    """The exact worst-case margin of one sample over a perturbation ball, with its evidence.

    Parameters
    ----------
    W : array_like, shape (width, input_dim)
        Hidden weights; width <= MAX_WIDTH and input_dim <= MAX_INPUT_DIM.
    b : array_like, shape (width,)
        Thresholds >= 0.
    x : array_like, shape (input_dim,)
        The input.
    y : {-1, +1}
        Its label.
    radius : float
        Radius of the ball (>= 0) in the ball's own norm.
    norm : {"l2", "linf"}
        The perturbation ball.
    time_limit : float
        Wall-clock budget in seconds (> 0).

    Returns
    -------
    ExactResult
        ``min_margin`` is y * f(x + delta) at a point ``delta`` of the ball and is within
        ``tolerance`` of the true minimum (``lower_bound`` is proven).

    Raises
    ------
    TimeoutError
        If the time limit is reached before the gap is closed.
    RuntimeError
        If a solver fails or the gap cannot be closed to the tolerance.
    """
    return _solve(*_check_instance(W, b, x, y, radius, norm, time_limit, "exact_worst_case"))


def exact_min_margin(W, b, x, y, radius, norm, time_limit=DEFAULT_TIME_LIMIT):
    """min over the ball of y * f(x + delta), to the tolerance of ``exact_worst_case``.

    Parameters and errors are those of ``exact_worst_case``.

    Returns
    -------
    float
        The attained worst-case margin (within ``GAP_RTOL * sum_i (|t_i| + rho_i + b_i)`` of
        the true minimum, from above).
    """
    arrays = _check_instance(W, b, x, y, radius, norm, time_limit, "exact_min_margin")
    return _solve(*arrays).min_margin


def exact_robust(W, b, x, y, radius, norm, time_limit=DEFAULT_TIME_LIMIT):
    """Whether every point of the ball is classified correctly (worst-case margin > 0).

    Parameters and errors are those of ``exact_worst_case``. The answer is exact unless the true
    minimum lies within the tolerance of 0, where it follows the attained margin.

    Returns
    -------
    bool
    """
    arrays = _check_instance(W, b, x, y, radius, norm, time_limit, "exact_robust")
    return bool(_solve(*arrays).min_margin > 0)
