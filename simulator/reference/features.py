"""Plain-numpy twins of ``simulator/kernels/features.py`` (the gold standard in tests)."""

import numpy as np
import scipy.sparse as sp


def codes_product(indptr, indices, data, Ct, out):
    """Twin of :func:`simulator.kernels.features.codes_product`."""
    n = indptr.shape[0] - 1
    Z = sp.csr_matrix((data, indices, indptr), shape=(n, Ct.shape[0]))
    out[:] = Z @ Ct


def add_codes_transpose_product(indptr, indices, data, coef, units, count, alpha, Ct):
    """Twin of :func:`simulator.kernels.features.add_codes_transpose_product`."""
    n = coef.shape[0]
    D = indptr.shape[0] - 1
    P = np.zeros((n, Ct.shape[1]), dtype=np.float64)
    for r in range(n):
        P[r, units[r, :count[r]]] = coef[r]
    Zt = sp.csc_matrix((data.astype(np.float64), indices, indptr), shape=(n, D)).T
    Ct += (alpha * np.asarray(Zt @ P)).astype(Ct.dtype)


def column_norms(A, out):
    """Twin of :func:`simulator.kernels.features.column_norms`."""
    out[:] = np.sqrt((A.astype(np.float64) ** 2).sum(axis=0))
