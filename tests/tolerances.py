"""Every numeric tolerance of the test suite, in one place (relative, per dtype)."""

import numpy as np

# kernel vs numpy twin: same operations, different summation order
TWIN_RTOL = {np.float64: 1e-12, np.float32: 2e-5}
# central finite differences of a piecewise-linear function away from its kinks
FD_RTOL = {np.float64: 1e-6, np.float32: 5e-2}


def twin_atol(dtype, scale):
    """Absolute tolerance for sums whose terms have magnitude about ``scale``."""
    return TWIN_RTOL[np.dtype(dtype).type] * max(float(scale), 1.0)
