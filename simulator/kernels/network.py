"""Numba kernels of the two-layer thresholded symmetric-ReLU network.

The network is f(x) = Σ_i soft(⟨w_i, x⟩, b_i) with soft(h, b) = sign(h)·max(|h| − b, 0),
which equals ReLU(h − b) − ReLU(−h − b).  The forward product X Wᵀ is done by BLAS in the
Python callers; the elementwise kernels fuse the work around it so that the
(n_samples, width) pre-activation matrix is read once and overwritten in place by the
backward coefficients P (or, :func:`logistic_active_units`, by the list of active units).
Only the units above their threshold have a non-zero coefficient (a few per cent of them in
a trained network), so the backward products Pᵀ X and P W have two forms: BLAS on the dense
P, or :func:`active_transpose_product` and :func:`active_product`, which visit the non-zero
entries of P only.

All kernels run in parallel (``prange``) over rows or columns that no two threads share
(one compiled variant each); the caller sets the number of threads
(``numba.set_num_threads``, see :mod:`simulator.threads`).  Why idle OpenMP threads must
not spin between kernels: ``simulator/__init__.py``.

Every parallel kernel has a plain-numpy twin of the same name in
``simulator/reference/network.py``; the per-row helpers they share (``*_row``,
:func:`list_active`, :func:`set_listed`, :func:`logistic_of_sample`) are tested through them.
"""

import numpy as np
from numba import njit, prange


# Rows per task of the row-wise kernels that need a scratch list of active units: one list
# (width int32) per task, reused for each of its rows.
ROWS_PER_TASK = 16


@njit(cache=True)
def n_tasks(n):
    """Tasks of ROWS_PER_TASK rows that cover n rows."""
    return (n + ROWS_PER_TASK - 1) // ROWS_PER_TASK


@njit(cache=True)
def task_rows(task, n):
    """The rows [lo, hi) of task ``task``: ROWS_PER_TASK of them (fewer in the last)."""
    return task * ROWS_PER_TASK, min(n, (task + 1) * ROWS_PER_TASK)


@njit(cache=True, parallel=True)
def soft_threshold_sum(H, b, out):
    """f_n = Σ_i soft(H[n, i], b[i]).

    Parameters
    ----------
    H : ndarray, shape (n_samples, width)  pre-activations ⟨w_i, x_n⟩
    b : ndarray, shape (width,)            thresholds b_i ≥ 0
    out : ndarray, shape (n_samples,)      receives f (float64 accumulation)
    """
    n, m = H.shape
    for task in prange(n_tasks(n)):
        scratch = np.empty(m, np.int32)
        lo, hi = task_rows(task, n)
        for r in range(lo, hi):
            out[r] = active_units_row(H[r], b, scratch)[0]


@njit(cache=True)
def list_active(h, b, units):
    """q, with the active units (|h_i| > b_i) written to units[:q] in increasing order.

    Branch-free: every i is written to units[q] and q advances only past the active ones
    (a few per cent: a branch on each would be mispredicted often).  b ≥ 0; a NaN is
    inactive.
    """
    q = 0
    for i in range(h.shape[0]):
        units[q] = i  # q ≤ i: always in bounds
        q += abs(h[i]) > b[i]
    return q


@njit(cache=True)
def active_units_row(h, b, units):
    """(Σ_i soft(h[i], b[i]), q) for one sample's pre-activations h, listing its active units
    (|h_i| > b_i) in units[:q], in increasing order; the sum in float64, in that order.

    Two passes, for speed: :func:`list_active`, then the sum over the listed units only.
    A branch on each unit ran 1.8× slower at 5 % active units.  The kernels that write the
    coefficient matrix P then zero each row and set the listed entries (:func:`set_listed`),
    again without a branch per unit.
    """
    q = list_active(h, b, units)
    acc = 0.0
    for p in range(q):
        i = units[p]
        v = h[i]
        t = b[i]
        acc += v - t if v > t else v + t
    return acc, q


@njit(cache=True)
def set_listed(row, units, value):
    """row[i] = value for i in units, 0 elsewhere: a row of P from its list of active units."""
    for i in range(row.shape[0]):
        row[i] = 0.0
    for p in range(units.shape[0]):
        row[units[p]] = value


@njit(cache=True)
def softplus_and_sigmoid(u):
    """(log(1 + e^u), σ(u)) without overflow for either sign of u."""
    if u > 0.0:
        e = np.exp(-u)
        return u + np.log1p(e), 1.0 / (1.0 + e)
    e = np.exp(u)
    return np.log1p(e), e / (1.0 + e)


@njit(cache=True)
def logistic_of_sample(acc, y, r, f_out, loss_out, coef_out):
    """Sample r's f = acc, loss softplus(−y f) and coefficient dℓ/df = −y σ(−y f)."""
    f_out[r] = acc
    loss, s = softplus_and_sigmoid(-y[r] * acc)
    loss_out[r] = loss
    coef_out[r] = -y[r] * s


@njit(cache=True, parallel=True)
def logistic_backward_inplace(H, b, y, f_out, loss_out, coef_out):
    """Forward and backward of the logistic loss, fused; H is overwritten.

    On return ``H[n, i] = ℓ'(y_n f_n)·y_n·1{|h_ni| > b_i}``, the coefficient such that
    ∇_W (per-sample loss) = H[n, :]ᵀ x_n and ∇_x loss_n = H[n, :] W.
    ``coef_out[n] = ℓ'(y_n f_n)·y_n = −y_n σ(−y_n f_n)`` and ``loss_out[n] = log(1 + e^{−y_n f_n})``.

    Parameters
    ----------
    H : ndarray, shape (n_samples, width)  pre-activations, overwritten
    b : ndarray, shape (width,)
    y : ndarray, shape (n_samples,)        labels ±1
    f_out, loss_out, coef_out : ndarray, shape (n_samples,)
    """
    n, m = H.shape
    for task in prange(n_tasks(n)):
        scratch = np.empty(m, np.int32)
        lo, hi = task_rows(task, n)
        for r in range(lo, hi):
            acc, q = active_units_row(H[r], b, scratch)
            logistic_of_sample(acc, y, r, f_out, loss_out, coef_out)
            set_listed(H[r], scratch[:q], coef_out[r])


@njit(cache=True, parallel=True)
def logistic_active_units(H, b, y, f_out, loss_out, coef_out, units_out, count_out):
    """Forward and backward of the logistic loss, fused, listing the active units; H is read only.

    The same f, loss and coefficients as :func:`logistic_backward_inplace`, whose P has
    ``P[n, i] = coef_out[n]`` exactly on the active units i (|h_ni| > b_i) and 0 elsewhere:
    instead of writing P this lists them, ``units_out[n, :count_out[n]]`` in increasing
    order.  A few per cent of the units are active, so products with P can visit them only.

    Parameters
    ----------
    H : ndarray, shape (n_samples, width)  pre-activations
    b : ndarray, shape (width,)
    y : ndarray, shape (n_samples,)        labels ±1
    f_out, loss_out, coef_out : ndarray, shape (n_samples,)
    units_out : ndarray of int32, shape (n_samples, width); entries past the count are unset
    count_out : ndarray of int64, shape (n_samples,)
    """
    for r in prange(H.shape[0]):
        acc, q = active_units_row(H[r], b, units_out[r])
        count_out[r] = q
        logistic_of_sample(acc, y, r, f_out, loss_out, coef_out)


@njit(cache=True, parallel=True)
def margin_backward_inplace(H, b, y, f_out):
    """Forward f and the backward coefficient of the margin loss −y f; H is overwritten.

    On return ``H[n, i] = −y_n·1{|h_ni| > b_i}`` so that ``H[n, :] W = ∇_x(−y_n f(x_n))``:
    the direction attacks ascend (it never saturates, unlike the logistic loss, and has
    the same sign so FGM directions agree).
    """
    n, m = H.shape
    for task in prange(n_tasks(n)):
        scratch = np.empty(m, np.int32)
        lo, hi = task_rows(task, n)
        for r in range(lo, hi):
            f_out[r], q = active_units_row(H[r], b, scratch)
            set_listed(H[r], scratch[:q], -y[r])


# 'reassoc' only, on this pure-arithmetic leaf: it lets LLVM vectorise the sum of squares
# (8× faster); no NaN/inf assumptions, so a non-finite W still gives a non-finite norm.
@njit(cache=True, parallel=True, fastmath={"reassoc"})
def row_norms(W, out):
    """out_i = ‖W[i, :]‖₂ (float64 accumulation).

    Parameters
    ----------
    W : ndarray, shape (width, input_dim)
    out : ndarray, shape (width,)
    """
    m, d = W.shape
    for i in prange(m):
        acc = 0.0
        for j in range(d):
            v = np.float64(W[i, j])
            acc += v * v
        out[i] = np.sqrt(acc)


@njit(cache=True, parallel=True)
def active_product(P, W, out):
    """out = P W, visiting only the non-zero entries of P (the active units).

    ``out[n, :] = Σ_{i: P[n, i] ≠ 0} P[n, i]·W[i, :]``: with P from
    :func:`margin_backward_inplace` this is the input gradient ∇_x(−y_n f(x_n)).  Costs
    O(n·width + nnz(P)·input_dim) against BLAS's O(n·width·input_dim); parallel over the
    rows of P.  Each row first lists its active units, then adds their rows of W four at a
    time (one pass over out[n, :] per four rows of W).

    Parameters
    ----------
    P : ndarray, shape (n_samples, width)
    W : ndarray, shape (width, input_dim)
    out : ndarray, shape (n_samples, input_dim), overwritten
    """
    n, m = P.shape
    d = W.shape[1]
    for r in prange(n):
        o = out[r]
        for j in range(d):
            o[j] = 0.0
        pr = P[r]
        active = np.empty(m, np.int64)
        q = 0
        for i in range(m):
            if pr[i] != 0.0:
                active[q] = i
                q += 1
        t = 0
        while t + 4 <= q:
            i0, i1, i2, i3 = active[t], active[t + 1], active[t + 2], active[t + 3]
            c0, c1, c2, c3 = pr[i0], pr[i1], pr[i2], pr[i3]
            w0, w1, w2, w3 = W[i0], W[i1], W[i2], W[i3]
            for j in range(d):
                o[j] += c0 * w0[j] + c1 * w1[j] + c2 * w2[j] + c3 * w3[j]
            t += 4
        while t < q:
            i0 = active[t]
            c0 = pr[i0]
            w0 = W[i0]
            for j in range(d):
                o[j] += c0 * w0[j]
            t += 1


# Columns of P per block of active_transpose_product: one block's lists stay in cache.
_UNIT_BLOCK = 64


@njit(cache=True, parallel=True)
def active_transpose_product(P, X, alpha, beta, out):
    """out = beta·out + alpha·Pᵀ X, visiting only the non-zero entries of P (the active units).

    ``out[i, :] = beta·out[i, :] + alpha·Σ_{n: P[n, i] ≠ 0} P[n, i]·X[n, :]``: with P from
    :func:`logistic_backward_inplace`, beta = 0 and alpha = 1/n_samples this is the gradient
    of the mean loss in W; with out = W, beta = 1 and alpha = −η/n_samples it is a gradient
    step taken in place (no gradient array, one pass over W).  beta = 0 ignores what out
    held (NaN included), as BLAS does.  Costs O(n·width + nnz(P)·input_dim).  Parallel over blocks of 64
    columns of P (rows of out), so no two threads write the same row: each block lists the
    samples where each of its units is active (a counting sort over a contiguous scan of
    P), then adds their rows of X four at a time.

    Parameters
    ----------
    P : ndarray, shape (n_samples, width)
    X : ndarray, shape (n_samples, input_dim)
    alpha, beta : scalars of X's dtype (a Python float would make the products float64)
    out : ndarray, shape (width, input_dim), updated in place
    """
    n, m = P.shape
    d = X.shape[1]
    n_blocks = (m + _UNIT_BLOCK - 1) // _UNIT_BLOCK
    for blk in prange(n_blocks):
        lo = blk * _UNIT_BLOCK
        w = min(_UNIT_BLOCK, m - lo)
        start = np.zeros(w + 1, np.int64)
        for r in range(n):
            pr = P[r, lo:lo + w]
            for t in range(w):
                if pr[t] != 0.0:
                    start[t + 1] += 1
        for t in range(w):
            start[t + 1] += start[t]
        rows = np.empty(start[w], np.int64)
        fill = start[:w].copy()
        for r in range(n):
            pr = P[r, lo:lo + w]
            for t in range(w):
                if pr[t] != 0.0:
                    rows[fill[t]] = r
                    fill[t] += 1
        for t in range(w):
            i = lo + t
            o = out[i]
            if beta == 0.0:
                for j in range(d):
                    o[j] = 0.0
            elif beta != 1.0:
                for j in range(d):
                    o[j] *= beta
            q = start[t]
            end = start[t + 1]
            while q + 4 <= end:
                r0, r1, r2, r3 = rows[q], rows[q + 1], rows[q + 2], rows[q + 3]
                c0, c1 = alpha * P[r0, i], alpha * P[r1, i]
                c2, c3 = alpha * P[r2, i], alpha * P[r3, i]
                x0, x1, x2, x3 = X[r0], X[r1], X[r2], X[r3]
                for j in range(d):
                    o[j] += c0 * x0[j] + c1 * x1[j] + c2 * x2[j] + c3 * x3[j]
                q += 4
            while q < end:
                r0 = rows[q]
                c0 = alpha * P[r0, i]
                x0 = X[r0]
                for j in range(d):
                    o[j] += c0 * x0[j]
                q += 1
