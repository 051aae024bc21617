"""Plain-numpy twins of ``simulator/kernels/features.py`` (the gold standard in tests)."""

import numpy as np
import scipy.sparse as sp

from .network import soft_threshold_sum


def _preactivations(indptr, indices, data, Ct):
    """H = Z Ct for Z in CSR, in float64."""
    Z = sp.csr_matrix((data.astype(np.float64), indices, indptr),
                      shape=(indptr.shape[0] - 1, Ct.shape[0]))
    return np.asarray(Z @ Ct.astype(np.float64))


def _part_bounds(t, n_parts, width):
    return t * width // n_parts, (t + 1) * width // n_parts


def codes_soft_threshold_sum(indptr, indices, data, Ct, b, out):
    """Twin of :func:`simulator.kernels.feature_path.codes_soft_threshold_sum`."""
    soft_threshold_sum(_preactivations(indptr, indices, data, Ct), b.astype(np.float64), out)


def codes_forward_parts(indptr, indices, data, Ct, b, f_parts, units, count):
    """Twin of :func:`simulator.kernels.feature_path.codes_forward_parts`."""
    H = _preactivations(indptr, indices, data, Ct)
    n_parts = f_parts.shape[0]
    for t in range(n_parts):
        c0, c1 = _part_bounds(t, n_parts, Ct.shape[1])
        Ht, bt = H[:, c0:c1], b[c0:c1].astype(np.float64)
        soft_threshold_sum(Ht, bt, f_parts[t])
        active = np.abs(Ht) > bt[None, :]
        for r in range(H.shape[0]):
            local = np.flatnonzero(active[r])
            units[r, c0:c0 + local.size] = local
            count[t, r] = local.size


def logistic_from_parts(f_parts, y, f_out, loss_out, coef_out):
    """Twin of :func:`simulator.kernels.feature_path.logistic_from_parts`."""
    f = f_parts.sum(axis=0)
    u = -y.astype(np.float64) * f
    f_out[:] = f
    loss_out[:] = np.logaddexp(0.0, u)
    coef_out[:] = -y * (1.0 / (1.0 + np.exp(-u)))


def codes_update_parts(indptr, indices, data, coef, units, count, alpha, Ct, norms_out):
    """Twin of :func:`simulator.kernels.feature_path.codes_update_parts`."""
    n_parts, n = count.shape
    D, m = Ct.shape
    P = np.zeros((n, m))
    for t in range(n_parts):
        c0, _ = _part_bounds(t, n_parts, m)
        for r in range(n):
            P[r, c0 + units[r, c0:c0 + count[t, r]]] = coef[r]
    Zt = sp.csc_matrix((data.astype(np.float64), indices, indptr), shape=(n, D)).T
    Ct += (alpha * np.asarray(Zt @ P)).astype(Ct.dtype)
    column_norms(Ct, norms_out)


def column_norms(A, out):
    """Twin of :func:`simulator.kernels.feature_path.column_norms`."""
    out[:] = np.sqrt((A.astype(np.float64) ** 2).sum(axis=0))
