"""Numba kernels of the network in feature coordinates (noiseless data, orthogonal M).

With x = M z and M orthogonal, ⟨w_i, x⟩ = ⟨C_i, z⟩ for C = W M, so the pre-activations of
a batch are H = Z Cᵀ and the gradient of the loss in C is Pᵀ Z / n.  Z has about k
non-zeros per row, so both products cost O(n·k·width) instead of O(n·input_dim·width).

C is stored transposed, Ct = Cᵀ of shape (n_features, width): row j of Ct holds the j-th
feature's coefficient in every neuron, so both products run over contiguous rows of length
width.  The codes come as the three arrays of a compressed sparse matrix (``indptr``,
``indices``, ``data``): Z in CSR for H = Z Ct (parallel over samples) and in CSC for
Ct += α Zᵀ P (parallel over features), so no two threads write the same row.  P is held
as the list of active units of each sample and one coefficient per sample
(:func:`simulator.kernels.network.logistic_active_units`): the update visits only those.

Every kernel has a plain-numpy twin of the same name in ``simulator/reference/features.py``.
"""

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def codes_product(indptr, indices, data, Ct, out):
    """out = Z Ct, the pre-activations ⟨C_i, z_n⟩, for Z given in CSR.

    ``out[n, :] = Σ_{p ∈ [indptr[n], indptr[n+1])} data[p]·Ct[indices[p], :]``.  Four rows
    of Ct per sweep over out[n, :]: the kernel is bound by reading rows of Ct, and this
    reads and writes out a quarter as often.

    Parameters
    ----------
    indptr : ndarray of int64, shape (n_samples + 1,)
    indices : ndarray of int64, shape (nnz,)   feature of each non-zero
    data : ndarray, shape (nnz,)              z values, in Ct's dtype
    Ct : ndarray, shape (n_features, width)
    out : ndarray, shape (n_samples, width), overwritten
    """
    n = indptr.shape[0] - 1
    m = Ct.shape[1]
    for r in prange(n):
        o = out[r]
        for i in range(m):
            o[i] = 0.0
        p = indptr[r]
        end = indptr[r + 1]
        while p + 4 <= end:
            c0, c1, c2, c3 = Ct[indices[p]], Ct[indices[p + 1]], Ct[indices[p + 2]], Ct[indices[p + 3]]
            v0, v1, v2, v3 = data[p], data[p + 1], data[p + 2], data[p + 3]
            for i in range(m):
                o[i] += v0 * c0[i] + v1 * c1[i] + v2 * c2[i] + v3 * c3[i]
            p += 4
        while p < end:
            c0 = Ct[indices[p]]
            v0 = data[p]
            for i in range(m):
                o[i] += v0 * c0[i]
            p += 1


@njit(cache=True, parallel=True)
def add_codes_transpose_product(indptr, indices, data, coef, units, count, alpha, Ct):
    """Ct += alpha·Zᵀ P, for Z given in CSC: the gradient step in feature coordinates.

    P is the logistic backward coefficient matrix in the form that
    :func:`simulator.kernels.network.logistic_active_units` gives: ``P[n, i] = coef[n]`` on
    the active units ``units[n, :count[n]]`` and 0 elsewhere.  So
    ``Ct[j, i] += alpha·Σ_{p ∈ [indptr[j], indptr[j+1])} data[p]·coef[r_p]`` for each active
    unit i of sample r_p = indices[p]: O(nnz(Z)·active units per sample).  With alpha = −η/n
    this is one step of gradient descent on C.  Parallel over features j: each thread writes
    its own rows of Ct.

    Parameters
    ----------
    indptr : ndarray of int64, shape (n_features + 1,)
    indices : ndarray of int64, shape (nnz,)   sample of each non-zero
    data : ndarray, shape (nnz,)              z values, in Ct's dtype
    coef : ndarray, shape (n_samples,)        the backward coefficient of each sample
    units : ndarray of int32, shape (n_samples, width)
    count : ndarray of int64, shape (n_samples,)
    alpha : scalar of Ct's dtype
    Ct : ndarray, shape (n_features, width), updated in place
    """
    D = indptr.shape[0] - 1
    for j in prange(D):
        row = Ct[j]
        for p in range(indptr[j], indptr[j + 1]):
            r = indices[p]
            c = alpha * data[p] * coef[r]
            ur = units[r]
            for q in range(count[r]):
                row[ur[q]] += c


@njit(cache=True, parallel=True)
def column_norms(A, out):
    """out_i = ‖A[:, i]‖₂ (float64 accumulation): the norms of the neurons C_i = Ct[:, i].

    Parallel over blocks of 256 columns; each thread sweeps the rows of its block in order,
    so the reads are contiguous.

    Parameters
    ----------
    A : ndarray, shape (n_features, width)
    out : ndarray, shape (width,)
    """
    D, m = A.shape
    block = 256
    n_blocks = (m + block - 1) // block
    for blk in prange(n_blocks):
        lo = blk * block
        w = min(block, m - lo)
        acc = np.zeros(w)
        for j in range(D):
            a = A[j, lo:lo + w]
            for t in range(w):
                v = np.float64(a[t])
                acc[t] += v * v
        o = out[lo:lo + w]
        for t in range(w):
            o[t] = np.sqrt(acc[t])
