"""Calling a numba kernel and its numpy twin on the same inputs, each on its own copies."""

import numpy as np


def call_both(kernels, twins, name, *args):
    """Call ``name`` from the kernel module and from the twin module, each on its own copies
    of the array arguments (the kernels overwrite some inputs and fill their outputs in
    place); returns the two lists of arguments after the calls: (kernel's, twin's)."""
    results = []
    for module in (kernels, twins):
        own = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        getattr(module, name)(*own)
        results.append(own)
    return results


def assert_logistic_outputs(kernel, twin, tol):
    """The (P, f, loss, coef) of a fused logistic kernel against its twin's: f to ``tol``,
    the rest also to 1e-6 relative (the sigmoid of float32 sums); loss ≥ 0 and |coef| ≤ 1."""
    (Pk, fk, lk, ck), (Pr, fr, lr, cr) = kernel, twin
    np.testing.assert_allclose(fk, fr, rtol=0, atol=tol)
    np.testing.assert_allclose(lk, lr, rtol=1e-6, atol=tol)
    np.testing.assert_allclose(ck, cr, rtol=1e-6, atol=tol)
    np.testing.assert_allclose(Pk, Pr, rtol=1e-6, atol=tol)
    assert np.all(lk >= 0) and np.all(np.abs(ck) <= 1)
