"""Per-neuron linear lower bounds of the thresholded symmetric ReLU (numba kernel).

Serves the certified robust accuracy of docs/model.md ("What is measured"): a lower bound on the
robust accuracy of the two-layer network, to set beside the attack upper bound.

For one sample and one neuron write ``t = y * <w, x>`` (the margin-oriented pre-activation) and
``s = y * <w, delta>`` for the shift a perturbation causes. Over the ball ``|s| <= rho`` with
``rho = radius * ||w||_*`` (dual norm). Because ``soft(., b)`` is odd,
``y * soft(<w, x + delta>, b) = soft(t + s, b)``, a nondecreasing, piecewise-linear function of
``s`` with kinks where ``t + s = +-b``. For a slope ``a`` the tightest line below it on the
interval is ``a * s + c`` with

    c = min over s in {-rho, +rho, b - t, -b - t} (the last two only if inside [-rho, rho])
        of soft(t + s, b) - a * s,

since the minimum of a piecewise-linear function on an interval is at an end or a kink.
``c`` is the line's value at ``s = 0``: the *intercept* returned here.

Slope rules (the first axis of the outputs, in this order):

0. chord: the secant of ``soft`` over ``[t - rho, t + rho]``;
1. unstable-zero: slope 0 for neurons whose interval crosses a kink;
2. unstable-one: slope 1 for them;
3. adaptive: 1 if the chord slope is at least 1/2, else 0.

In every rule a *stable* neuron (interval inside one linear piece) takes the exact slope of its
piece (1 on the active pieces, 0 in the dead zone), so its line is exact. The plain interval bound
(every slope 0) is dominated by rule 1 and is not computed: see docs/certification.md.

Every literal is cast to the input dtype so that float32 inputs are computed in float32, like the
numpy twin in ``simulator/reference/certify.py``.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def _soft_threshold(h, b):
    """sign(h) * max(|h| - b, 0) for scalars, in the dtype of ``h``."""
    if h > b:
        return h - b
    if h < -b:
        return h + b
    return type(h)(0)


@njit(cache=True)
def _tightest_intercept(t, rho, b, lo, hi, soft_lo, soft_hi, slope):
    """min over s in [-rho, rho] of soft(t + s, b) - slope * s, from the interval's vertices."""
    best = min(soft_lo + slope * rho, soft_hi - slope * rho)
    if lo <= b and b <= hi:
        # s = b - t reaches the upper kink, where soft = 0.
        best = min(best, slope * (t - b))
    if lo <= -b and -b <= hi:
        best = min(best, slope * (t + b))
    return best


@njit(cache=True)
def _neuron_rules(tn, rh, bi):
    """One neuron's interval [tn - rh, tn + rh] and its four rule slopes (module docstring):
    (unstable, (chord, unstable-zero, unstable-one, adaptive), lo, hi, soft_lo, soft_hi)."""
    zero = type(tn)(0)
    one = type(tn)(1)
    half = type(tn)(0.5)
    lo = tn - rh
    hi = tn + rh
    soft_lo = _soft_threshold(lo, bi)
    soft_hi = _soft_threshold(hi, bi)
    stable_active = lo >= bi or hi <= -bi
    stable_dead = lo >= -bi and hi <= bi
    if stable_active or stable_dead:
        exact = one if stable_active else zero
        return False, (exact, exact, exact, exact), lo, hi, soft_lo, soft_hi
    # An unstable neuron crosses a kink, so hi > lo and the chord is defined.
    chord = (soft_hi - soft_lo) / (hi - lo)
    adaptive = one if chord >= half else zero
    return True, (chord, zero, one, adaptive), lo, hi, soft_lo, soft_hi


@njit(cache=True)
def soft_threshold_lower_lines(t, rho, b):
    """Sound linear lower bounds of soft(t + s, b) over |s| <= rho, for four slope rules.

    Parameters
    ----------
    t : ndarray, shape (n_samples, width)
        Margin-oriented pre-activations ``y * <w_i, x>``.
    rho : ndarray, shape (width,)
        Half-width of each neuron's pre-activation interval, ``radius * ||w_i||_*`` (>= 0).
    b : ndarray, shape (width,)
        Thresholds (>= 0).

    Returns
    -------
    slopes : ndarray, shape (4, n_samples, width)
        Slope of the line for each rule (see the module docstring for the order).
    intercepts : ndarray, shape (4, n_samples, width)
        Value of the line at ``s = 0``; ``soft(t + s, b) >= slopes * s + intercepts`` for every
        ``|s| <= rho``, with equality at some ``s`` (the line is the tightest of its slope).
    """
    n_samples, width = t.shape
    slopes = np.empty((4, n_samples, width), dtype=t.dtype)
    intercepts = np.empty((4, n_samples, width), dtype=t.dtype)
    for n in range(n_samples):
        for i in range(width):
            tn, rh, bi = t[n, i], rho[i], b[i]
            _, rule_slopes, lo, hi, soft_lo, soft_hi = _neuron_rules(tn, rh, bi)
            for k in range(4):
                slope = rule_slopes[k]
                slopes[k, n, i] = slope
                intercepts[k, n, i] = _tightest_intercept(
                    tn, rh, bi, lo, hi, soft_lo, soft_hi, slope
                )
    return slopes, intercepts


@njit(cache=True)
def soft_threshold_rule_terms(t, rho, b):
    """What the four slope rules of :func:`soft_threshold_lower_lines` need, without their
    (4, n_samples, width) arrays: the rules differ only at unstable neurons.

    Parameters are those of :func:`soft_threshold_lower_lines`.

    Returns
    -------
    base : ndarray, shape (n_samples, width)
        Rule 1's slopes: the exact slope of a stable neuron (1 active, 0 dead), 0 for an
        unstable one.  Rule 2 adds 1 at every unstable neuron, rule 3 adds 1 where the chord
        slope is at least 1/2, rule 0 adds the chord slope.
    intercept_sums : ndarray, shape (4, n_samples)
        Sum over neurons of each rule's intercept (summed in neuron order).
    indptr, cols, chords : the unstable (sample, neuron) pairs in CSR layout — sample n's are
        ``cols[indptr[n]:indptr[n + 1]]`` with chord slopes ``chords[...]``.
    """
    n_samples, width = t.shape
    indptr = np.zeros(n_samples + 1, dtype=np.int64)
    for n in range(n_samples):  # count first, so the pair arrays are only as long as needed
        count = 0
        for i in range(width):
            if _neuron_rules(t[n, i], rho[i], b[i])[0]:
                count += 1
        indptr[n + 1] = indptr[n] + count
    base = np.empty((n_samples, width), dtype=t.dtype)
    sums = np.zeros((4, n_samples), dtype=t.dtype)
    cols = np.empty(indptr[n_samples], dtype=np.int64)
    chords = np.empty(indptr[n_samples], dtype=t.dtype)
    for n in range(n_samples):
        pos = indptr[n]
        for i in range(width):
            tn, rh, bi = t[n, i], rho[i], b[i]
            unstable, rule_slopes, lo, hi, soft_lo, soft_hi = _neuron_rules(tn, rh, bi)
            base[n, i] = rule_slopes[1]  # the exact slope if stable, 0 if not
            for k in range(4):
                sums[k, n] += _tightest_intercept(tn, rh, bi, lo, hi, soft_lo, soft_hi,
                                                  rule_slopes[k])
            if unstable:
                cols[pos] = i
                chords[pos] = rule_slopes[0]
                pos += 1
    return base, sums, indptr, cols, chords
