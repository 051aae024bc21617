"""Plain-numpy twin of ``simulator/kernels/certify.py`` (the gold standard in tests).

Same function name, same arguments, same results: see the kernel module's docstring for the
maths and the order of the slope rules. Every operation keeps the input dtype.
"""

import numpy as np


def _soft_threshold(h, b):
    """sign(h) * max(|h| - b, 0), elementwise, in the dtype of ``h``."""
    return np.where(h > b, h - b, np.where(h < -b, h + b, np.zeros_like(h)))


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
        Slope of the line for each rule: chord, unstable-zero, unstable-one, adaptive.
    intercepts : ndarray, shape (4, n_samples, width)
        Value of the line at ``s = 0``; ``soft(t + s, b) >= slopes * s + intercepts`` for every
        ``|s| <= rho``, with equality at some ``s``.
    """
    dtype = t.dtype
    zero = np.zeros((), dtype=dtype)
    one = np.ones((), dtype=dtype)
    rho = np.broadcast_to(rho, t.shape)
    b = np.broadcast_to(b, t.shape)
    lo = t - rho
    hi = t + rho
    soft_lo = _soft_threshold(lo, b)
    soft_hi = _soft_threshold(hi, b)

    stable_active = (lo >= b) | (hi <= -b)
    stable_dead = (lo >= -b) & (hi <= b)
    unstable = ~(stable_active | stable_dead)
    exact = np.where(stable_active, one, zero)
    # Unstable neurons cross a kink, so hi > lo there; elsewhere the divisor is a dummy 1.
    chord = (soft_hi - soft_lo) / np.where(unstable, hi - lo, one)
    adaptive = np.where(chord >= dtype.type(0.5), one, zero)
    slopes = np.stack(
        [
            np.where(unstable, chord, exact),
            np.where(unstable, zero, exact),
            np.where(unstable, one, exact),
            np.where(unstable, adaptive, exact),
        ]
    )

    inf = np.array(np.inf, dtype=dtype)
    upper_kink = (lo <= b) & (b <= hi)
    lower_kink = (lo <= -b) & (-b <= hi)
    intercepts = np.minimum(soft_lo + slopes * rho, soft_hi - slopes * rho)
    intercepts = np.minimum(intercepts, np.where(upper_kink, slopes * (t - b), inf))
    intercepts = np.minimum(intercepts, np.where(lower_kink, slopes * (t + b), inf))
    return slopes, intercepts
