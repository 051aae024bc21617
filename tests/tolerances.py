"""Every numeric tolerance of the test suite, in one place (relative, per dtype)."""

import numpy as np

# kernel vs numpy twin: same operations, different summation order
TWIN_RTOL = {np.float64: 1e-12, np.float32: 2e-5}
# a norm in float64 accumulation, stored in the array's dtype, against numpy's
NORM_RTOL = {np.float64: 1e-14, np.float32: 1e-6}
# central finite differences of a piecewise-linear function away from its kinks
FD_RTOL = {np.float64: 1e-6, np.float32: 5e-2}


def twin_atol(dtype, scale):
    """Absolute tolerance for sums whose terms have magnitude about ``scale``."""
    return TWIN_RTOL[np.dtype(dtype).type] * max(float(scale), 1.0)


# dense path (x = M z) vs feature path (C = W M) over a short training run: the same sums in
# another order, each step's rounding carried into the next; relative to the weights' size
PATH_RTOL = {np.float64: 1e-14, np.float32: 1e-6}


def path_atol(dtype, scale, steps):
    """Absolute tolerance for weights of magnitude ``scale`` after ``steps`` steps on both paths.

    A unit that flips across its threshold on one path only would move a row by about
    η·|ℓ'|·‖x‖/n, far above this: the test would see it.
    """
    return PATH_RTOL[np.dtype(dtype).type] * max(float(scale), 1e-30) * max(int(steps), 1)
