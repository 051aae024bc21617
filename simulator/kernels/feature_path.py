"""Numba kernels of the network in feature coordinates (noiseless data, orthogonal M).

With x = M z and M orthogonal, ⟨w_i, x⟩ = ⟨C_i, z⟩ for C = W M, so the pre-activations of
a batch are H = Z Cᵀ and the gradient of the loss in C is Pᵀ Z / n.  Z has about k
non-zeros per row, so both products cost O(n·k·width) instead of O(n·input_dim·width).

C is stored transposed, Ct = Cᵀ of shape (n_features, width): row j of Ct holds the j-th
feature's coefficient in every neuron.  The codes come as the three arrays of a compressed
sparse matrix (``indptr``, ``indices``, ``data``): Z in CSR (the features of each sample)
for the forward pass, in CSC (the samples of each feature) for the update.

A training step splits the units into ``n_parts`` contiguous parts, one per thread
(:func:`part_bounds`), and every kernel of the step gives part t to task t: the forward
pass (:func:`codes_forward_parts`) and the update with the norms of the new neurons
(:func:`codes_update_parts`).  So each thread reads and writes only its own columns of
Ct.  Splitting the forward pass by samples instead made both threads read every row of
Ct, and the update, which writes them, then ran 4–7× slower than alone while the cache
lines moved between the cores.  P is held as the list of active units of each sample in
each part and one coefficient per sample: the update visits only those.

Every parallel kernel has a plain-numpy twin of the same name in
``simulator/reference/features.py``; the helpers they share (:func:`codes_row` and
those of :mod:`simulator.kernels.network`) are tested through them.
"""

import numpy as np
from numba import njit, prange

from .network import active_units_row, logistic_of_sample, n_tasks, task_rows


@njit(cache=True)
def codes_row(indptr, indices, data, Ct, r, c0, c1, o):
    """o[:c1 − c0] = (z_r Ct)[c0:c1]: Σ_p data[p]·Ct[indices[p], c0:c1] over row r of Z.

    Four rows of Ct per sweep over o, in the order of the non-zeros.
    """
    w = c1 - c0
    for i in range(w):
        o[i] = 0.0
    p = indptr[r]
    end = indptr[r + 1]
    while p + 4 <= end:
        c_0 = Ct[indices[p], c0:c1]
        c_1 = Ct[indices[p + 1], c0:c1]
        c_2 = Ct[indices[p + 2], c0:c1]
        c_3 = Ct[indices[p + 3], c0:c1]
        v0, v1, v2, v3 = data[p], data[p + 1], data[p + 2], data[p + 3]
        for i in range(w):
            o[i] += v0 * c_0[i] + v1 * c_1[i] + v2 * c_2[i] + v3 * c_3[i]
        p += 4
    while p < end:
        c_0 = Ct[indices[p], c0:c1]
        v0 = data[p]
        for i in range(w):
            o[i] += v0 * c_0[i]
        p += 1


@njit(cache=True)
def part_bounds(t, n_parts, width):
    """The units [c0, c1) of part t when ``width`` units are split into ``n_parts``."""
    return t * width // n_parts, (t + 1) * width // n_parts


@njit(cache=True, parallel=True)
def codes_soft_threshold_sum(indptr, indices, data, Ct, b, out):
    """f_n = Σ_i soft(⟨C_i, z_n⟩, b_i), without forming the pre-activation matrix.

    Evaluation only reads Ct, so it runs in parallel over samples: each sample's row of
    pre-activations is built in a buffer (it stays in cache) and summed at once, as
    :func:`simulator.kernels.network.soft_threshold_sum` sums a row of H.

    Parameters
    ----------
    indptr : ndarray of int64, shape (n_samples + 1,)   Z in CSR
    indices : ndarray of int64, shape (nnz,)            feature of each non-zero
    data : ndarray, shape (nnz,)                       z values, in Ct's dtype
    Ct : ndarray, shape (n_features, width)
    b : ndarray, shape (width,)
    out : ndarray, shape (n_samples,), float64
    """
    n = indptr.shape[0] - 1
    m = Ct.shape[1]
    for task in prange(n_tasks(n)):
        h = np.empty(m, Ct.dtype)
        scratch = np.empty(m, np.int32)
        lo, hi = task_rows(task, n)
        for r in range(lo, hi):
            codes_row(indptr, indices, data, Ct, r, 0, m, h)
            out[r] = active_units_row(h, b, scratch)[0]


@njit(cache=True, parallel=True)
def codes_forward_parts(indptr, indices, data, Ct, b, f_parts, units, count):
    """Each part's share of f and its active units, for every sample.

    Task t builds, for each sample n, the pre-activations h = (z_n Ct)[c0:c1] of its part
    (:func:`part_bounds`) and lists the active ones (|h_i| > b_i):
    ``f_parts[t, n] = Σ_{i in part} soft(h_i, b_i)`` and the active units i − c0, in
    increasing order, in ``units[n, c0:c0 + count[t, n]]``.  The number of parts is
    ``f_parts.shape[0]``; each task writes its own rows of f_parts and count (no two
    threads share a cache line of them).

    Parameters
    ----------
    indptr, indices, data : Z in CSR, as in :func:`codes_soft_threshold_sum`
    Ct : ndarray, shape (n_features, width)
    b : ndarray, shape (width,)
    f_parts : ndarray, shape (n_parts, n_samples), float64
    units : ndarray of int32, shape (n_samples, width); entries past the counts are unset
    count : ndarray of int64, shape (n_parts, n_samples)
    """
    n = indptr.shape[0] - 1
    m = Ct.shape[1]
    n_parts = f_parts.shape[0]
    for t in prange(n_parts):
        c0, c1 = part_bounds(t, n_parts, m)
        h = np.empty(c1 - c0, Ct.dtype)
        bt = b[c0:c1]
        for r in range(n):
            codes_row(indptr, indices, data, Ct, r, c0, c1, h)
            acc, q = active_units_row(h, bt, units[r, c0:c1])
            f_parts[t, r] = acc
            count[t, r] = q


@njit(cache=True)
def logistic_from_parts(f_parts, y, f_out, loss_out, coef_out):
    """f_n = Σ_t f_parts[t, n] (in order of t), then the loss and the backward coefficient
    of each sample (:func:`simulator.kernels.network.logistic_of_sample`).  Serial: O(n).
    """
    for r in range(f_parts.shape[1]):
        acc = 0.0
        for t in range(f_parts.shape[0]):
            acc += f_parts[t, r]
        logistic_of_sample(acc, y, r, f_out, loss_out, coef_out)


@njit(cache=True, parallel=True)
def codes_update_parts(indptr, indices, data, coef, units, count, alpha, Ct, norms_out):
    """Ct += alpha·Zᵀ P for Z in CSC, by parts; then the new column norms ‖C_i‖.

    P[n, i] = coef[n] on the active units listed by :func:`codes_forward_parts` and 0
    elsewhere, so ``Ct[j, i] += alpha·Σ_{p ∈ [indptr[j], indptr[j+1])} data[p]·coef[r_p]``
    for each active unit i of sample r_p = indices[p]: O(nnz(Z)·active units per sample).
    With alpha = −η/n this is one step of gradient descent on C.  Task t updates the
    columns of its part, row by row, and adds each updated row's squares to the norms of
    its columns while the row is in cache (float64): ``norms_out[i] = ‖Ct[:, i]‖₂`` after
    the update, the thresholds' and the finiteness check's input.

    Parameters
    ----------
    indptr : ndarray of int64, shape (n_features + 1,)   Z in CSC
    indices : ndarray of int64, shape (nnz,)             sample of each non-zero
    data : ndarray, shape (nnz,)                        z values, in Ct's dtype
    coef : ndarray, shape (n_samples,)                  backward coefficients, Ct's dtype
    units, count : the active units, as written by :func:`codes_forward_parts`
    alpha : scalar of Ct's dtype
    Ct : ndarray, shape (n_features, width), updated in place
    norms_out : ndarray, shape (width,)
    """
    D, m = Ct.shape
    n_parts = count.shape[0]
    for t in prange(n_parts):
        c0, c1 = part_bounds(t, n_parts, m)
        acc = np.zeros(c1 - c0)
        for j in range(D):
            row = Ct[j, c0:c1]
            for p in range(indptr[j], indptr[j + 1]):
                r = indices[p]
                c = alpha * data[p] * coef[r]
                ur = units[r, c0:c1]
                for q in range(count[t, r]):
                    row[ur[q]] += c
            for i in range(c1 - c0):
                v = np.float64(row[i])
                acc[i] += v * v
        for i in range(c1 - c0):
            norms_out[c0 + i] = np.sqrt(acc[i])


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
