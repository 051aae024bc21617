"""Complete verification of the two-layer network at full size, one sample at a time.

Serves the robust accuracy *without a gap* of issue 13 (MODEL.md, "What is measured"): for a
sample that the certifier (``relaxation.py`` of this package) cannot prove robust and the attacks
cannot break, decide the sign of

    m* = min over ||delta|| <= radius of  y * f(x + delta),   f(x) = sum_i soft(<w_i, x>, b_i).

With t_i = y <w_i, x>, g_i = y w_i and rho_i = radius ||w_i||_* (dual norm), neuron i is *stable*
when [t_i - rho_i, t_i + rho_i] lies inside one linear piece of soft (u <= -b, |u| <= b, u >= b):
on the ball it is then an exact linear function of delta. Only the *unstable* neurons (the
interval crosses a kink) need branching, and a trained network at its training radius has few of
them per sample (benchmarks/RESULTS.md). The stable ones collapse into one vector
c = sum_stable e_i g_i (e_i in {0, 1}) and one constant.

- l2: best-first branch and bound over the pieces of the unstable neurons, with the node bound of
  ``exact.py`` (free neurons relaxed by their lower convex envelope, split neurons
  constrained to their piece; the bound is the Lagrangian dual value at SLSQP's multipliers, sound
  for any multipliers, so the split constraints enter the bound with optimised multipliers, as in
  beta-CROWN). The problem is first reduced exactly to the span Q of {c, g_j : j unstable}: the
  objective depends on delta only through Q^T delta, and ||Q^T delta|| <= ||delta||. The rounding
  of that reduction (residuals ||g_j - Q Q^T g_j||, of order 1e-16 ||g_j||) is accounted for: the
  split constraints are loosened and the bound lowered by radius * sum of residuals.
- linf: a mixed-integer linear program (``scipy.optimize.milp``, HiGHS) with the formulation of
  ``exact.py``: a binary only for unstable neurons whose interval crosses -b, stable
  neurons in closed form, big-M constants from the exact intervals. One continuous variable per
  input coordinate (the box does not reduce to a subspace).

Only the sign is wanted, so the search stops as soon as either side is proven: a point of the
ball with y f(x + delta) <= 0 (a *witness*, margin recomputed from the network's definition in
float64), or a lower bound > 0. Lower bounds carry a safety margin scaled to the terms,
S = sum_i (|t_i| + rho_i + b_i): ``ROUNDING_RTOL * S`` for bounds we evaluate ourselves in float64
(certifier, l2 dual values), and ``MILP_RTOL * S'`` for HiGHS's dual bound, S' the same sum
over what the MILP sees (the unstable neurons, the cost of the box and the closed-form constant):
its feasibility and integrality tolerances, 1e-7 and 1e-6 on the unit-scaled problem, enlarge the
feasible set and can lower the optimum by a few 1e-6 S' (an argument from the tolerances, not a
proof: HiGHS returns no certificate). A sample whose bounds do not
separate from 0 in the time limit is *undecided*, reported with both bounds and never counted
either way.
"""

from __future__ import annotations

import heapq
import itertools
import numbers
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from threadpoolctl import threadpool_limits

from ..norms import dual_norms
from .relaxation import (_as_float_array, _check_network, _check_nonnegative_float, _check_norm,
                         _format_value, _rule_bounds)
from .exact import (_bound_relaxed_node, _envelope_slopes, _region_lp, _soft,
                    _tightest_intercepts, _widened_radius)

# The linf MILP carries one continuous variable per input coordinate and a dense row per unstable
# neuron; beyond this input_dim HiGHS's dense rows dominate and the limit would be meaningless.
MAX_INPUT_DIM = 4096
# The stable part is one (width x input_dim) product per sample; 2**16 x 4096 float64 is 2 GiB.
MAX_WIDTH = 2**16
# Hard cap on unstable neurons per sample: the search is exponential in them, and the l2 node
# problem (SLSQP, dense, in n_unstable + 1 dimensions) grows cubically.
MAX_UNSTABLE = 256
# Default cap: at the default regime the samples left to the exact stage had at most 108
# unstable neurons (clean-trained, linf, benchmarks/RESULTS.md); the time limit is the real guard.
DEFAULT_MAX_UNSTABLE = 128
# Default wall-clock budget per sample, in seconds.
DEFAULT_TIME_LIMIT = 10.0
# Safety margins, relative to S = sum_i (|t_i| + rho_i + b_i): float64 rounding of our own bounds
# is ~1e-16 per term; HiGHS's tolerances move its dual bound by up to ~1e-6 S (module docstring).
ROUNDING_RTOL = 1e-9
MILP_RTOL = 1e-5
STATUSES = ("robust", "broken", "undecided")
# Why a sample is undecided: out of time, more unstable neurons than allowed, or bounds that
# closed on a minimum within the safety margin of 0.
REASONS = ("", "time_limit", "too_many_unstable", "tolerance")


@dataclass(frozen=True)
class Decision:
    """The verdict on one sample and its evidence.

    Attributes
    ----------
    status : {"robust", "broken", "undecided"}
        "robust" iff ``lower_bound > 0``; "broken" iff ``upper_bound <= 0``.
    lower_bound : float
        A proven lower bound on m* (safety margin already subtracted).
    upper_bound : float
        y * f(x + delta) at ``delta`` (float64, from the definition): attained, so >= m*.
    delta : ndarray, shape (input_dim,)
        A point of the ball attaining ``upper_bound`` (the witness when broken).
    n_unstable : int
        Neurons whose pre-activation interval crosses a kink.
    nodes : int
        Branch-and-bound nodes (l2) or MILP nodes (linf) explored.
    seconds : float
        Wall-clock time spent on this sample.
    reason : str
        One of REASONS: empty unless undecided.
    """

    status: str
    lower_bound: float
    upper_bound: float
    delta: np.ndarray = field(compare=False, repr=False)
    n_unstable: int
    nodes: int
    seconds: float
    reason: str = ""


# ---------------------------------------------------------------- validation


def _check_samples_of(X, W, owner):
    """X as float64, shape (n_samples, input_dim) of the network W."""
    X = _as_float_array(X, "X", owner)
    if X.ndim != 2 or X.shape[1] != W.shape[1]:
        raise ValueError(
            f"The 'X' parameter of {owner} must be a 2-D array of shape (n_samples, input_dim) = "
            f"(n_samples, {W.shape[1]}). Got shape {X.shape} instead."
        )
    return X


def _check_count(value, name, owner, upper):
    ok = not isinstance(value, bool) and isinstance(value, numbers.Integral) and 0 <= value <= upper
    if not ok:
        raise ValueError(
            f"The '{name}' parameter of {owner} must be an int in the range [0, {upper}]. "
            f"Got {_format_value(value)} instead."
        )
    return int(value)


def _check_size(W, owner):
    if W.shape[0] > MAX_WIDTH or W.shape[1] > MAX_INPUT_DIM:
        raise ValueError(
            f"The 'W' parameter of {owner} must have width <= {MAX_WIDTH} and input_dim <= "
            f"{MAX_INPUT_DIM} for complete verification (use certified_margin for larger "
            f"networks). Got shape {W.shape} instead."
        )


def _check_common(W, b, radius, norm, time_limit, max_unstable, owner):
    norm = _check_norm(norm, owner)
    radius = _check_nonnegative_float(radius, "radius", owner)
    time_limit = _check_nonnegative_float(time_limit, "time_limit", owner, positive=True)
    max_unstable = _check_count(max_unstable, "max_unstable", owner, MAX_UNSTABLE)
    W, b = _check_network(W, b, owner)
    _check_size(W, owner)
    return W, b, radius, norm, time_limit, max_unstable


def _check_delta(delta, d, radius, norm, name, owner):
    delta = _as_float_array(delta, name, owner)
    if delta.shape[-1:] != (d,):
        raise ValueError(
            f"The '{name}' parameter of {owner} must have last dimension input_dim = {d}. "
            f"Got shape {delta.shape} instead."
        )
    size = np.linalg.norm(delta, axis=-1) if norm == "l2" else np.abs(delta).max(axis=-1)
    if np.any(size > radius):
        raise ValueError(
            f"The '{name}' parameter of {owner} must lie inside the {norm} ball of radius "
            f"{radius!r}. Got a norm of {float(np.max(size))!r} instead."
        )
    return delta


def _check_label(y, owner):
    if isinstance(y, (bool, np.bool_)) or not isinstance(y, numbers.Real) or y not in (-1, 1):
        raise ValueError(
            f"The 'y' parameter of {owner} must be one of {{-1, +1}}. "
            f"Got {_format_value(y)} instead."
        )
    return float(y)


# ---------------------------------------------------------------- shared maths


def _margin(W, b, x, y):
    """y * f(x) for one sample, straight from the definition of the network (float64)."""
    return float(y * _soft(W @ x, b).sum())


def _into_ball(delta, radius, norm):
    """Move a point that rounding put just outside the ball back onto it."""
    if norm == "linf":
        return np.clip(delta, -radius, radius)
    size = np.linalg.norm(delta)
    while size > radius:  # one rescaling can leave the norm an ulp above the radius
        delta = delta * (radius / size) * (1 - 2 * np.finfo(np.float64).eps)
        size = np.linalg.norm(delta)
    return delta


def count_unstable(W, b, X, y, radius, norm):
    """Number of unstable neurons of each sample: those whose interval crosses a kink.

    Parameters
    ----------
    W : array_like, shape (width, input_dim)
    b : array_like, shape (width,)
    X : array_like, shape (n_samples, input_dim)
    y : array_like, shape (n_samples,)
        Labels in {-1, +1} (the count does not depend on them).
    radius : float
    norm : {"l2", "linf"}

    Returns
    -------
    ndarray of int, shape (n_samples,)
        Neurons i with [t_i - rho_i, t_i + rho_i] containing -b_i or +b_i in its interior
        (widened by a few ulps, as the solvers do).
    """
    owner = "count_unstable"
    norm = _check_norm(norm, owner)
    radius = _check_nonnegative_float(radius, "radius", owner)
    W, b = _check_network(W, b, owner)
    X = _check_samples_of(X, W, owner)
    y = _as_float_array(y, "y", owner)
    rho = radius * dual_norms(W, norm)
    counts = np.empty(X.shape[0], dtype=np.int64)
    for start in range(0, X.shape[0], 256):
        t = y[start:start + 256, None] * (X[start:start + 256] @ W.T)
        wide = _widened_radius(t, rho[None, :], b[None, :])
        lo, hi = t - wide, t + wide
        crosses = ((lo < -b) & (-b < hi)) | ((lo < b) & (b < hi))
        counts[start:start + 256] = crosses.sum(axis=1)
    return counts


# ---------------------------------------------------------------- l2: branch and bound


def _bab_l2(W, b, x, y, radius, deadline, unstable, rho_wide, best, best_delta, threshold):
    """Branch and bound over the unstable neurons' pieces, in the span of the moving directions.

    Parameters
    ----------
    unstable : ndarray of bool, shape (width,)
    rho_wide : ndarray, shape (width,)
        Widened interval half-widths (``_widened_radius``).
    best, best_delta : float, ndarray (input_dim,)
        Incumbent: the smallest margin seen so far and its point.
    threshold : float
        The safety margin: a node whose bound exceeds it is proven robust.

    Returns
    -------
    (lower, best, best_delta, nodes, reason): ``lower`` is a proven lower bound on m*
    (before the safety margin); ``reason`` is "time_limit" if the search was cut short.
    """
    G = y * W
    t = G @ x
    U = np.flatnonzero(unstable)
    stable = ~unstable
    lo, hi = t - rho_wide, t + rho_wide
    slope = np.where((lo >= b) | (hi <= -b), 1.0, 0.0)[stable]
    c = G[stable].T @ slope
    constant = float(_soft(t[stable], b[stable]).sum())

    # Exact reduction to the span of {c, g_j}: y f(x + Q v) depends on v only, ||v|| = ||Q v||.
    Q, _ = np.linalg.qr(np.vstack([c[None, :], G[U]]).T)
    c_red, G_red = Q.T @ c, G[U] @ Q
    res_c = float(np.linalg.norm(c - Q @ c_red))
    res_g = np.linalg.norm(G[U] - G_red @ Q.T, axis=1)
    # <g_j, delta> = <G_red_j, Q^T delta> + e_j with |e_j| <= radius * res_g[j]; F is 1-Lipschitz
    # in each pre-activation, so the reduced minimum is at most this far above the true one.
    correction = radius * (res_c + float(res_g.sum()))
    tU, bU = t[U], b[U]
    rhoU = np.maximum(rho_wide[U], _widened_radius(tU, radius * np.linalg.norm(G_red, axis=1), bU))
    loU, hiU = tU - rhoU, tU + rhoU
    envelope = []
    for j in range(U.size):
        slopes = np.array(_envelope_slopes(tU[j], rhoU[j], bU[j]))
        envelope.append((slopes, _tightest_intercepts(tU[j], rhoU[j], bU[j], slopes)))
    scale = float(np.sum(np.abs(t) + rho_wide + b))
    region_ulps = 8 * np.finfo(np.float64).eps * (np.abs(tU) + rhoU + bU)
    k = Q.shape[1]

    def pieces(j):
        """Pieces of unstable neuron j the ball reaches: -1 (u <= -b), 0 (|u| <= b), +1."""
        reachable = []
        if loU[j] < -bU[j]:
            reachable.append(-1)
        if loU[j] < bU[j] and hiU[j] > -bU[j]:
            reachable.append(0)
        if hiU[j] > bU[j]:
            reachable.append(1)
        return reachable

    def solve_node(fixed, free):
        lin, const = c_red.copy(), constant
        rows, rhs = [], []
        for j, piece in fixed.items():
            # Loosen: the reduced region must contain the projection of the true one (reduction
            # residual), and an emptiness test decided by rounding must not drop a sliver.
            slack = radius * res_g[j] + region_ulps[j]
            if piece == 1:
                lin += G_red[j]
                const += tU[j] - bU[j]
                rows.append(-G_red[j]), rhs.append(tU[j] - bU[j] + slack)
            elif piece == -1:
                lin += G_red[j]
                const += tU[j] + bU[j]
                rows.append(G_red[j]), rhs.append(-bU[j] - tU[j] + slack)
            else:
                rows += [G_red[j], -G_red[j]]
                rhs += [bU[j] - tU[j] + slack, bU[j] + tU[j] + slack]
        lines = [(*envelope[j], tU[j], rhoU[j], bU[j]) for j in free]
        A = np.array(rows).reshape(len(rows), k)
        return _bound_relaxed_node(lin, const, G_red[free].reshape(len(free), k), lines, A,
                                   np.array(rhs), radius, max(scale, 1e-300))

    closed = np.inf  # smallest bound of a node closed without children
    counter = itertools.count()
    queue = [(-np.inf, next(counter), ())]
    nodes = 0
    reason = ""
    while queue and best > 0:
        if time.monotonic() > deadline:
            reason = "time_limit"
            break
        parent_bound, _, fixed_items = heapq.heappop(queue)
        if parent_bound - correction > threshold:
            closed = min(closed, parent_bound)
            continue
        fixed = dict(fixed_items)
        free = [j for j in range(U.size) if j not in fixed]
        nodes += 1
        solved = solve_node(fixed, free)
        if solved is None:
            continue  # the region misses the ball (certified by the node solver)
        bound, v = solved
        delta = _into_ball(Q @ v, radius, "l2")
        value = _margin(W, b, x + delta, y)
        if value < best:
            best, best_delta = value, delta
        bound = max(bound, parent_bound)  # a child's minimum is >= its parent's
        if bound - correction > threshold or not free:
            # Proven robust on this node, or a leaf whose convex problem is solved to its bound.
            closed = min(closed, bound)
            continue
        s = G_red[free] @ v
        gap = [_soft(tU[j] + sj, bU[j]) - np.max(envelope[j][0] * sj + envelope[j][1])
               for j, sj in zip(free, s)]
        branch = free[int(np.argmax(gap))]
        for piece in pieces(branch):
            child = tuple(sorted({**fixed, branch: piece}.items()))
            heapq.heappush(queue, (bound, next(counter), child))
    open_bound = min(entry[0] for entry in queue) if queue else np.inf
    return min(closed, open_bound) - correction, best, best_delta, nodes, reason


# ---------------------------------------------------------------- linf: MILP


def _milp_linf(W, b, x, y, radius, deadline, rho_wide, best, best_delta):
    """The MILP of ``exact.py`` with binaries only where needed, within the deadline.

    The objective is the margin itself (its constant rides on a column fixed at 1), so that a
    relative MIP gap means a relative gap on the margin: a first solve stops at a gap of 1/2,
    which settles the sign of any margin that is not near 0 (the dual bound is then at least half
    the attained margin); only if that leaves the sign open is the gap closed to 1e-9.

    Returns
    -------
    (lower, best, best_delta, nodes, reason, size): ``lower`` is HiGHS's dual bound in the
    original units (before the safety margin), -inf if it has none; ``reason`` "time_limit" if cut
    short; ``size`` the sum of the magnitudes HiGHS's tolerances act on (for the safety margin).
    """
    G = y * W
    t = G @ x
    m, d = G.shape
    lo, hi = t - rho_wide, t + rho_wide
    sigma = float(np.max(np.abs(t) + rho_wide + b))
    Gs, ts, bs, los, his = radius * G / sigma, t / sigma, b / sigma, lo / sigma, hi / sigma
    # soft(u, b) = relu(u - b) - relu(-u - b), each term classified on its own.
    p_linear = los >= bs
    p_var = (los < bs) & (his > bs)  # p >= u - b, p >= 0: exact, since p is minimised
    q_linear = his <= -bs
    q_var = (los < -bs) & (his > -bs)  # q = relu(-u - b) is maximised: needs a binary z
    P, Qi = np.flatnonzero(p_var), np.flatnonzero(q_var)
    n_p, n_q = P.size, Qi.size
    n_vars = d + n_p + 2 * n_q + 1
    ip, iq, iz, ic = d, d + n_p, d + n_p + n_q, d + n_p + 2 * n_q
    cost = np.zeros(n_vars)
    cost[:ip] = Gs[p_linear | q_linear].sum(axis=0)
    constant = (ts - bs)[p_linear].sum() + (ts + bs)[q_linear].sum()
    cost[ip:iq] = 1.0
    cost[iq:iz] = -1.0
    cost[ic] = constant
    big_m_up = his[Qi] + bs[Qi]
    big_m_q = -los[Qi] - bs[Qi]
    A = np.zeros((n_p + 2 * n_q, n_vars))
    rhs = np.zeros(n_p + 2 * n_q)
    A[:n_p, :d] = Gs[P]
    A[np.arange(n_p), ip + np.arange(n_p)] = -1.0
    rhs[:n_p] = bs[P] - ts[P]
    r1 = n_p + np.arange(n_q)
    A[r1, :d] = Gs[Qi]
    A[r1, iq + np.arange(n_q)] = 1.0
    A[r1, iz + np.arange(n_q)] = big_m_up
    rhs[r1] = -ts[Qi] - bs[Qi] + big_m_up
    r2 = n_p + n_q + np.arange(n_q)
    A[r2, iq + np.arange(n_q)] = 1.0
    A[r2, iz + np.arange(n_q)] = -big_m_q
    lower = np.concatenate([-np.ones(d), np.zeros(n_p + 2 * n_q), [1.0]])
    upper = np.concatenate([np.ones(d), his[P] - bs[P], big_m_q, np.ones(n_q), [1.0]])
    integrality = np.concatenate([np.zeros(d + n_p + n_q), np.ones(n_q), [0]])
    # What HiGHS's absolute tolerances act on: the rows and binaries of the unstable terms, the
    # box through the cost of v, and the fixed column of the constant.
    involved = p_var | q_var
    size = sigma * (float(np.abs(cost[:ip]).sum()) + abs(constant)) + float(
        np.sum((np.abs(t) + rho_wide + b)[involved]))
    lower_bound, nodes, reason = -np.inf, 0, ""
    for gap in (0.5, 1e-9):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            reason = "time_limit"
            break
        # Presolve off, as in exact.py: HiGHS's MIP presolve has failed on such models.
        result = milp(
            cost, integrality=integrality, bounds=Bounds(lower, upper),
            constraints=LinearConstraint(A, -np.inf, rhs) if A.shape[0] else None,
            options={"time_limit": remaining, "mip_rel_gap": gap, "presolve": False},
        )
        nodes += int(getattr(result, "mip_node_count", 0) or 0)
        dual = getattr(result, "mip_dual_bound", None)
        if result.status == 0 and dual is None:
            dual = result.fun
        if result.status in (0, 1) and dual is not None and np.isfinite(dual):
            lower_bound = max(lower_bound, sigma * float(dual))
        if result.x is not None:
            delta = radius * np.clip(result.x[:d], -1.0, 1.0)
            value = _margin(W, b, x + delta, y)
            if value < best:
                best, best_delta = value, delta
        if result.status == 1:
            reason = "time_limit"
            break
        if best <= 0 or lower_bound - MILP_RTOL * size > 0:
            break  # the sign is settled
    return lower_bound, best, best_delta, nodes, reason, size


# ---------------------------------------------------------------- one sample


def _decide(W, b, x, y, radius, norm, time_limit, max_unstable, delta0):
    """Verdict on one validated sample (float64 arrays); see ``decide_robust``."""
    start = time.monotonic()
    deadline = start + time_limit
    G = y * W
    t = G @ x
    rho = radius * dual_norms(G, norm)
    terms = float(np.sum(np.abs(t) + rho + b))
    rounding = ROUNDING_RTOL * terms
    best_delta = np.zeros(x.size)
    best = _margin(W, b, x, y)
    if delta0 is not None:
        value = _margin(W, b, x + delta0, y)
        if value < best:
            best, best_delta = value, delta0.copy()
    lower = float(_rule_bounds(W, b, x[None, :], np.array([y]), radius, norm).max()) - rounding
    rho_wide = _widened_radius(t, rho, b)
    lo, hi = t - rho_wide, t + rho_wide
    unstable = ((lo < -b) & (-b < hi)) | ((lo < b) & (b < hi))
    n_unstable = int(unstable.sum())

    def verdict(nodes, reason):
        status = "broken" if best <= 0 else "robust" if lower > 0 else "undecided"
        if status == "undecided" and not reason:
            reason = "tolerance"
        return Decision(status, float(lower), float(best), best_delta, n_unstable, nodes,
                        time.monotonic() - start, reason if status == "undecided" else "")

    if best <= 0 or lower > 0 or not np.any(rho > 0):
        return verdict(0, "")  # decided, or nothing moves (the bound is then y f(x) itself)
    if n_unstable > max_unstable:
        return verdict(0, "too_many_unstable")
    # The solvers work on small dense matrices: threaded BLAS only adds overhead there.
    with threadpool_limits(limits=1, user_api="blas"):
        if norm == "l2":
            bound, best, best_delta, nodes, reason = _bab_l2(
                W, b, x, y, radius, deadline, unstable, rho_wide, best, best_delta, rounding)
            lower = max(lower, bound - rounding)
        else:
            bound, best, best_delta, nodes, reason, size = _milp_linf(
                W, b, x, y, radius, deadline, rho_wide, best, best_delta)
            lower = max(lower, bound - MILP_RTOL * size)
            if best > 0 and lower <= 0 and time.monotonic() < deadline:
                # HiGHS's point can sit a tolerance away from its region's optimum: re-optimise
                # over its activation region before calling the sample undecided.
                polished = _region_lp(t, G, b, radius, best_delta)
                if polished is not None:
                    value = _margin(W, b, x + polished, y)
                    if value < best:
                        best, best_delta = value, polished
    return verdict(nodes, reason)


# ---------------------------------------------------------------- public API


def decide_robust(W, b, x, y, radius, norm, *, time_limit=DEFAULT_TIME_LIMIT,
                  max_unstable=DEFAULT_MAX_UNSTABLE, delta0=None):
    """Decide whether one sample is robust on the ball, with a witness either way.

    Parameters
    ----------
    W : array_like, shape (width, input_dim)
        Hidden weights; width <= MAX_WIDTH, input_dim <= MAX_INPUT_DIM.
    b : array_like, shape (width,)
        Thresholds >= 0.
    x : array_like, shape (input_dim,)
    y : {-1, +1}
    radius : float
        Radius of the ball (>= 0) in its own norm.
    norm : {"l2", "linf"}
    time_limit : float
        Wall-clock budget in seconds (> 0); on expiry the sample is undecided.
    max_unstable : int
        In [0, MAX_UNSTABLE]. A sample with more unstable neurons is reported undecided
        (reason "too_many_unstable") without a search.
    delta0 : array_like, shape (input_dim,), optional
        A known point of the ball (e.g. the best attack's) to start the incumbent from.

    Returns
    -------
    Decision
        ``lower_bound <= m* <= upper_bound``; status "robust" iff the lower bound is > 0,
        "broken" iff ``delta`` (inside the ball) gives y f(x + delta) <= 0.
    """
    owner = "decide_robust"
    W, b, radius, norm, time_limit, max_unstable = _check_common(
        W, b, radius, norm, time_limit, max_unstable, owner)
    x = _as_float_array(x, "x", owner)
    if x.shape != (W.shape[1],):
        raise ValueError(
            f"The 'x' parameter of {owner} must be a 1-D array of shape (input_dim,) = "
            f"({W.shape[1]},). Got shape {x.shape} instead."
        )
    y = _check_label(y, owner)
    if delta0 is not None:
        delta0 = _check_delta(delta0, W.shape[1], radius, norm, "delta0", owner)
    return _decide(W, b, x, y, radius, norm, time_limit, max_unstable, delta0)


def decide_samples(W, b, X, y, radius, norm, *, time_limit=DEFAULT_TIME_LIMIT,
                   max_unstable=DEFAULT_MAX_UNSTABLE, deltas=None):
    """``decide_robust`` for each row of X, each with its own time limit.

    Parameters
    ----------
    X : array_like, shape (n_samples, input_dim)
    y : array_like, shape (n_samples,), labels in {-1, +1}
    deltas : array_like, shape (n_samples, input_dim), optional
        Starting incumbents, each inside the ball.
    Other parameters are those of ``decide_robust``.

    Returns
    -------
    list of Decision, one per sample.
    """
    owner = "decide_samples"
    W, b, radius, norm, time_limit, max_unstable = _check_common(
        W, b, radius, norm, time_limit, max_unstable, owner)
    X = _check_samples_of(X, W, owner)
    y = _as_float_array(y, "y", owner)
    if y.shape != (X.shape[0],) or np.any((y != 1) & (y != -1)):
        raise ValueError(
            f"The 'y' parameter of {owner} must have shape ({X.shape[0]},) and entries in "
            f"{{-1, +1}}. Got shape {y.shape} instead."
        )
    if deltas is not None:
        deltas = _check_delta(deltas, W.shape[1], radius, norm, "deltas", owner)
        if deltas.shape != X.shape:
            raise ValueError(
                f"The 'deltas' parameter of {owner} must have shape {X.shape}. "
                f"Got shape {deltas.shape} instead."
            )
    return [_decide(W, b, X[n], float(y[n]), radius, norm, time_limit, max_unstable,
                    None if deltas is None else deltas[n]) for n in range(X.shape[0])]
