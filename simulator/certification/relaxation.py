"""Certified robustness of the two-layer network: a sound lower bound on the robust margin.

Serves the "certified lower bound" on robust accuracy in docs/model.md ("What is measured"), the
counterpart of the attack ensemble's upper bound. The network is

    f(x) = sum_i soft(<w_i, x>, b_i),   soft(h, b) = sign(h) * max(|h| - b, 0),

and for a sample (x, y) and a ball ||delta|| <= radius (norm "l2" or "linf") the certified margin
is a number guaranteed to be <= min over the ball of y * f(x + delta). The relaxation:

1. each neuron's margin-oriented pre-activation t_i = y <w_i, x> moves by
   s_i = y <w_i, delta> with |s_i| <= rho_i = radius * ||w_i||_* (dual norm: l2 for l2, l1 for
   linf);
2. soft(t_i + s_i, b_i) >= a_i s_i + c_i on that interval, for a slope a_i and the tightest
   intercept c_i (``simulator/kernels/certify.py``);
3. sum_i a_i s_i = y <sum_i a_i w_i, delta> >= -radius * ||sum_i a_i w_i||_*.

So y f(x + delta) >= sum_i c_i - radius * ||sum_i a_i w_i||_* for every slope choice; the
certified margin is the best of four slope rules (chord, unstable-zero, unstable-one, adaptive),
per sample. Details and the soundness argument are in docs/certification.md. All arithmetic is
float64 (inputs are converted): the bound is sound in exact arithmetic and carries float64
rounding of relative size ~1e-16 * width.
"""


import numpy as np
import scipy.sparse

from ..kernels.certify import soft_threshold_rule_terms
from ..norms import NORM, dual_norms
from ..validation import POSITIVE_RADIUS, RADIUS, check_param
# Keeps each chunk's slope and intercept arrays (4 rules x rows x width) near 16 MB in float64.
_CHUNK_ELEMENTS = 2**21


# ---------------------------------------------------------------- validation (shared with exact)


def _format_value(value):
    return repr(value) if isinstance(value, str) else str(value)


def _check_norm(norm, owner):
    return check_param(owner, "norm", norm, NORM)


def _check_nonnegative_float(value, name, owner, positive=False):
    return check_param(owner, name, value, POSITIVE_RADIUS if positive else RADIUS)


def _as_float_array(value, name, owner):
    try:
        array = np.ascontiguousarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"The '{name}' parameter of {owner} must be an array of real numbers. "
            f"Got an object of type {type(value).__name__} instead."
        ) from None
    if not np.all(np.isfinite(array)):
        raise ValueError(
            f"The '{name}' parameter of {owner} must contain only finite values. "
            f"Got {np.count_nonzero(~np.isfinite(array))} non-finite entries instead."
        )
    return array


def _check_network(W, b, owner):
    """Validate and convert the weights (width, input_dim) and thresholds (width,)."""
    W = _as_float_array(W, "W", owner)
    if W.ndim != 2 or W.shape[0] < 1 or W.shape[1] < 1:
        raise ValueError(
            f"The 'W' parameter of {owner} must be a 2-D array of shape (width, input_dim) "
            f"with width >= 1 and input_dim >= 1. Got shape {W.shape} instead."
        )
    b = _as_float_array(b, "b", owner)
    if b.shape != (W.shape[0],):
        raise ValueError(
            f"The 'b' parameter of {owner} must be a 1-D array of shape (width,) = "
            f"({W.shape[0]},). Got shape {b.shape} instead."
        )
    if np.any(b < 0):
        raise ValueError(
            f"The 'b' parameter of {owner} must have entries in the range [0, inf). "
            f"Got a minimum of {b.min()} instead."
        )
    return W, b


def _check_labels(y, shape, owner):
    y = _as_float_array(y, "y", owner)
    if y.shape != shape:
        raise ValueError(
            f"The 'y' parameter of {owner} must have shape {shape}. Got shape {y.shape} instead."
        )
    bad = (y != 1) & (y != -1)
    if np.any(bad):
        raise ValueError(
            f"The 'y' parameter of {owner} must have entries in {{-1, +1}}. "
            f"Got {y[bad].flat[0]:g} instead."
        )
    return y


def _check_samples(W, b, X, y, radius, norm, owner):
    norm = _check_norm(norm, owner)
    radius = _check_nonnegative_float(radius, "radius", owner)
    W, b = _check_network(W, b, owner)
    X = _as_float_array(X, "X", owner)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] != W.shape[1]:
        raise ValueError(
            f"The 'X' parameter of {owner} must be a 2-D array of shape (n_samples, input_dim) = "
            f"(n_samples, {W.shape[1]}) with n_samples >= 1. Got shape {X.shape} instead."
        )
    y = _check_labels(y, (X.shape[0],), owner)
    return W, b, X, y, radius, norm


# ---------------------------------------------------------------- the bound


def _rule_bounds(W, b, X, y, radius, norm):
    """The bound of each slope rule on validated float64 arrays.

    Returns
    -------
    ndarray, shape (4, n_samples)
        Row k is sum_i c_i - radius * ||sum_i a_i w_i||_* with the slopes a_i of rule k (chord,
        unstable-zero, unstable-one, adaptive; see ``simulator/kernels/certify.py``). Every row
        is a sound lower bound on min over the ball of y * f(x + delta).
    """
    return _rule_bounds_at_radii(W, b, X, y, [radius], norm)[0]


def _rule_bounds_at_radii(W, b, X, y, radii, norm):
    """:func:`_rule_bounds` at several radii, shape (n_radii, 4, n_samples): the
    pre-activations y X Wᵀ, which do not depend on the radius, are formed once per chunk."""
    width = W.shape[0]
    dual = dual_norms(W, norm)
    rows_per_chunk = max(1, _CHUNK_ELEMENTS // (4 * width))
    bounds = np.empty((len(radii), 4, X.shape[0]))
    for start in range(0, X.shape[0], rows_per_chunk):
        rows = slice(start, start + rows_per_chunk)
        t = y[rows, None] * (X[rows] @ W.T)
        for k, radius in enumerate(radii):
            base, sums, indptr, cols, chords = soft_threshold_rule_terms(t, radius * dual, b)
            for rule, direction in enumerate(_rule_directions(base, indptr, cols, chords, W)):
                bounds[k, rule, rows] = sums[rule] - radius * dual_norms(direction, norm)
            del base  # before the next radius's is allocated
    return bounds


# Above this share of unstable (sample, neuron) pairs the rules' directions are dense
# products; below it, one dense product and a sparse one per rule (benchmarks/RESULTS.md).
_SPARSE_UNSTABLE_SHARE = 0.03


def _rule_directions(base, indptr, cols, chords, W):
    """Yield sum_i a_i w_i for each rule in turn, shape (n_samples, input_dim).

    The rules differ only at unstable neurons (:func:`soft_threshold_rule_terms`): rule 1's
    slopes are ``base``; the others add, at the unstable pairs, the chord slope (rule 0), 1
    (rule 2) or 1 where the chord is at least 1/2 (rule 3).  With few unstable pairs a
    direction is rule 1's (one GEMM) plus a sparse product over the pairs.
    """
    extras = (chords, None, np.ones_like(chords), (chords >= 0.5).astype(chords.dtype))
    if cols.size > _SPARSE_UNSTABLE_SHARE * base.size:
        pair_rows = np.repeat(np.arange(base.shape[0]), np.diff(indptr))
        for rule in range(4):
            if rule == 1:
                yield base @ W
                continue
            slopes = base.copy()
            slopes[pair_rows, cols] = extras[rule]  # base is 0 at the unstable pairs
            yield slopes @ W
        return
    common = base @ W
    for rule in range(4):
        if rule == 1 or not cols.size:
            yield common
            continue
        extra = scipy.sparse.csr_matrix((extras[rule], cols, indptr), shape=base.shape)
        yield common + extra @ W


def certified_margin(W, b, X, y, radius, norm):
    """A sound lower bound on each sample's worst-case margin over a perturbation ball.

    Parameters
    ----------
    W : array_like, shape (width, input_dim)
        Hidden weights w_i (rows).
    b : array_like, shape (width,)
        Thresholds b_i >= 0 (numeric values, already computed by the caller's threshold rule).
    X : array_like, shape (n_samples, input_dim)
        Inputs.
    y : array_like, shape (n_samples,)
        Labels in {-1, +1}.
    radius : float
        Radius of the ball, >= 0, in the ball's own norm.
    norm : {"l2", "linf"}
        The perturbation ball: ||delta||_2 <= radius or ||delta||_inf <= radius.

    Returns
    -------
    ndarray, shape (n_samples,)
        A value <= min over the ball of y * f(x + delta), for each sample. At radius 0 it equals
        y * f(x) up to rounding.

    Notes
    -----
    The bound is the best of four slope rules, some of which adapt their slopes to the radius;
    such a maximum is not guaranteed to be non-increasing in the radius (docs/certification.md
    gives a counterexample). A bound at a larger radius is also a bound at a smaller one, so over
    a grid of increasing radii ``np.maximum.accumulate(margins[::-1])[::-1]`` is sound, monotone
    and at least as tight.
    """
    arrays = _check_samples(W, b, X, y, radius, norm, "certified_margin")
    return _rule_bounds(*arrays).max(axis=0)


def certified_margins(W, b, X, y, radii, norm):
    """:func:`certified_margin` at each radius of ``radii``, shape (n_radii, n_samples): the
    same values, with the radius-free product X Wᵀ formed once instead of once per radius.

    Parameters are those of ``certified_margin``, with ``radii`` a sequence of radii >= 0.
    """
    radii = list(radii)
    if not radii:
        raise ValueError("The 'radii' parameter of certified_margins must be a non-empty sequence "
                         "of radii >= 0. Got an empty one instead.")
    radii = [_check_nonnegative_float(r, "radii", "certified_margins") for r in radii]
    W, b, X, y, _, norm = _check_samples(W, b, X, y, radii[0], norm, "certified_margins")
    return _rule_bounds_at_radii(W, b, X, y, radii, norm).max(axis=1)


def certified_accuracy(W, b, X, y, radius, norm):
    """Share of samples certified robust: those whose certified margin is > 0.

    Parameters are those of ``certified_margin``. The result is a lower bound on the robust
    accuracy at this radius (a sample with certified margin > 0 is classified correctly at every
    point of the ball).

    Returns
    -------
    float
        In [0, 1].
    """
    arrays = _check_samples(W, b, X, y, radius, norm, "certified_accuracy")
    return float(np.mean(_rule_bounds(*arrays).max(axis=0) > 0))
