"""Numba kernels of the network's linearisation at initialisation (its neural tangent kernel).

With pre-activations at initialisation h0 = ⟨w0_i, x⟩, fixed thresholds b0_i and the
update ΔW, the linearised network is

    f_lin(x) = Σ_{i ∈ S(x)} [ soft(h0_i, b0_i) + ⟨Δw_i, x⟩ ],   S(x) = {i : |h0_i| > b0_i},

soft(h, b) = sign(h)·max(|h| − b, 0).  The gate set S(x) is frozen at initialisation, so
f_lin is linear in ΔW.  The product X W0ᵀ, which finds the gates, is done by BLAS in the
callers.  The rest has two forms:

* dense: BLAS also forms L = X ΔWᵀ, Pᵀ X and P (W0 + ΔW), and the ``linearised_*``
  kernels fuse the elementwise work around them, overwriting L with the backward
  coefficients P;
* open gates only (``open_gate_*``): at a random W0 with the relative threshold rule the
  gates are sparse — |⟨w0_i, x⟩| > θ‖w0_i‖ is a tail event of about 2·Φ(−θ√d/‖x‖), 2.3 % of
  the neurons at the default regime — and the dense products would spend ~97 % of their
  work on closed gates.  These kernels take ⟨x, Σ_{i∈S(x)} Δw_i⟩ for the row of X ΔWᵀ,
  gather the gradient in ΔW neuron by neuron (grad_i = Σ_{n : i∈S(x_n)} c_n x_n) for Pᵀ X,
  and −y Σ_{i∈S(x)} (w0_i + Δw_i) for the input gradient P (W0 + ΔW).  Their cost grows
  with the share of open gates: they beat the dense form below about 10 % (see
  :data:`simulator.lower_bounds.ntk.OPEN_GATE_SHARE_MAX`), which :func:`open_gate_count` measures.

Sums over gates accumulate in float64, whatever the dtype of the arrays.  The kernels run in
parallel (``prange``) over samples, or over neurons where they write rows of ΔW's gradient,
so no two threads write the same row; the caller sets the number of threads
(``numba.set_num_threads``, see :mod:`simulator.threads`).

Every parallel kernel has a plain-numpy twin of the same name in
``simulator/reference/ntk.py``; the helpers they share (:func:`linearised_row` and those of
:mod:`simulator.kernels.network`) are tested through them.
"""

import numpy as np
from numba import njit, prange

from .network import (active_units_row, list_active, logistic_of_sample, n_tasks, set_listed,
                      task_rows)


# ----------------------------------------------------------------------------------------
# Dense form: L = X ΔWᵀ from BLAS
# ----------------------------------------------------------------------------------------

@njit(cache=True)
def linearised_row(h0, l, b, units):
    """(Σ_{i∈S} [soft(h0_i, b_i) + l_i], q) for one sample, its open gates S = {i : |h0_i| > b_i}
    listed in units[:q] (:func:`simulator.kernels.network.list_active`); the sum in float64,
    in increasing i."""
    q = list_active(h0, b, units)
    acc = 0.0
    for p in range(q):
        i = units[p]
        v = h0[i]
        t = b[i]
        acc += (v - t if v > t else v + t) + l[i]
    return acc, q


@njit(cache=True, parallel=True)
def linearised_soft_threshold_sum(H0, L, b, out):
    """f_n = Σ_i [soft(H0[n, i], b[i]) + 1{|H0[n, i]| > b[i]}·L[n, i]].

    Parameters
    ----------
    H0 : ndarray, shape (n_samples, width)  pre-activations at initialisation ⟨w0_i, x_n⟩
    L : ndarray, shape (n_samples, width)   pre-activations of the update ⟨Δw_i, x_n⟩
    b : ndarray, shape (width,)             thresholds b0_i ≥ 0, fixed at initialisation
    out : ndarray, shape (n_samples,)       receives f (float64 accumulation)
    """
    n, m = H0.shape
    for task in prange(n_tasks(n)):
        scratch = np.empty(m, np.int32)
        lo, hi = task_rows(task, n)
        for r in range(lo, hi):
            out[r] = linearised_row(H0[r], L[r], b, scratch)[0]


@njit(cache=True, parallel=True)
def linearised_logistic_backward_inplace(H0, L, b, y, f_out, loss_out, coef_out):
    """Forward and backward of the logistic loss of f_lin, fused; L is overwritten.

    On return ``L[n, i] = ℓ'(y_n f_n)·y_n·1{|H0[n, i]| > b_i}``, so that
    ∇_ΔW (per-sample loss) = L[n, :]ᵀ x_n.  ``coef_out[n] = −y_n σ(−y_n f_n)`` and
    ``loss_out[n] = log(1 + e^{−y_n f_n})``.

    Parameters
    ----------
    H0, L : ndarray, shape (n_samples, width)  (L is overwritten)
    b : ndarray, shape (width,)
    y : ndarray, shape (n_samples,)            labels ±1
    f_out, loss_out, coef_out : ndarray, shape (n_samples,)
    """
    n, m = H0.shape
    for task in prange(n_tasks(n)):
        scratch = np.empty(m, np.int32)
        lo, hi = task_rows(task, n)
        for r in range(lo, hi):
            acc, q = linearised_row(H0[r], L[r], b, scratch)
            logistic_of_sample(acc, y, r, f_out, loss_out, coef_out)
            set_listed(L[r], scratch[:q], coef_out[r])


@njit(cache=True, parallel=True)
def linearised_margin_backward_inplace(H0, L, b, y, f_out):
    """Forward f_lin and the backward coefficient of the margin loss −y f_lin; L is overwritten.

    On return ``L[n, i] = −y_n·1{|H0[n, i]| > b_i}`` so that ``L[n, :] (W0 + ΔW)`` is
    ∇_x(−y_n f_lin(x_n)) away from the gate boundaries (where f_lin jumps).
    """
    n, m = H0.shape
    for task in prange(n_tasks(n)):
        scratch = np.empty(m, np.int32)
        lo, hi = task_rows(task, n)
        for r in range(lo, hi):
            f_out[r], q = linearised_row(H0[r], L[r], b, scratch)
            set_listed(L[r], scratch[:q], -y[r])


@njit(cache=True, parallel=True)
def open_gate_count(H0, b):
    """Number of open gates, #{(n, i) : |H0[n, i]| > b[i]}."""
    n, m = H0.shape
    total = 0
    for r in prange(n):
        for i in range(m):
            if H0[r, i] > b[i] or H0[r, i] < -b[i]:
                total += 1
    return total


# ----------------------------------------------------------------------------------------
# Open-gate form: only the gates with |h0| > b0
# ----------------------------------------------------------------------------------------

@njit(cache=True)
def _sum_rows(A, idx, count, v):
    """v = Σ_{j < count} A[idx[j]] (float64 accumulation)."""
    v[:] = 0.0
    for j in range(count):
        row = A[idx[j]]
        for k in range(v.shape[0]):
            v[k] += row[k]


@njit(cache=True)
def _dot(x, v):
    acc = 0.0
    for k in range(x.shape[0]):
        acc += x[k] * v[k]
    return acc


@njit(cache=True, parallel=True)
def open_gate_soft_threshold_sum(H0, b, X, dW, out):
    """f_n = Σ_{i∈S_n} [soft(H0[n, i], b[i]) + ⟨Δw_i, x_n⟩],  S_n = {i : |H0[n, i]| > b[i]}.

    Parameters
    ----------
    H0 : ndarray, shape (n_samples, width)  pre-activations at initialisation ⟨w0_i, x_n⟩
    b : ndarray, shape (width,)             thresholds b0_i ≥ 0, fixed at initialisation
    X : ndarray, shape (n_samples, input_dim)
    dW : ndarray, shape (width, input_dim)  the update ΔW
    out : ndarray, shape (n_samples,)       receives f (float64 accumulation)
    """
    n, m = H0.shape
    d = X.shape[1]
    for r in prange(n):
        idx = np.empty(m, np.int32)
        v = np.empty(d)  # Σ_{i∈S_n} Δw_i
        soft, count = active_units_row(H0[r], b, idx)
        _sum_rows(dW, idx, count, v)
        out[r] = soft + _dot(X[r], v)


@njit(cache=True, parallel=True)
def open_gate_logistic_backward(H0, b, X, dW, y, f_out, loss_out, coef_out, grad_out):
    """Forward and backward of the logistic loss of f_lin, over the open gates only.

    ``f_out[n] = f_lin(x_n)``, ``loss_out[n] = log(1 + e^{−y_n f_n})``,
    ``coef_out[n] = ℓ'(y_n f_n)·y_n = −y_n σ(−y_n f_n)`` and

        grad_out[i] = Σ_{n : i∈S_n} coef_n x_n,

    the *sum* over the batch of the per-sample gradients in ΔW (the caller divides by n).
    The gate pattern is transposed by a counting sort, so that the gradient is gathered
    neuron by neuron and each row of ``grad_out`` is written once, by one thread.

    Parameters
    ----------
    H0 : ndarray, shape (n_samples, width)
    b : ndarray, shape (width,)
    X : ndarray, shape (n_samples, input_dim)
    dW : ndarray, shape (width, input_dim)
    y : ndarray, shape (n_samples,)            labels ±1
    f_out, loss_out, coef_out : ndarray, shape (n_samples,)
    grad_out : ndarray, shape (width, input_dim)  overwritten
    """
    n, m = H0.shape
    d = X.shape[1]
    gates = np.empty((n, m), np.int32)  # open gates of sample r: gates[r, :count[r]]
    count = np.empty(n, np.int64)
    for r in prange(n):
        v = np.empty(d)
        soft, c = active_units_row(H0[r], b, gates[r])
        count[r] = c
        _sum_rows(dW, gates[r], c, v)
        logistic_of_sample(soft + _dot(X[r], v), y, r, f_out, loss_out, coef_out)
    # the samples whose gate i is open: samples[first[i]:first[i + 1]], in increasing order
    first = np.zeros(m + 1, np.int64)
    for r in range(n):
        for j in range(count[r]):
            first[gates[r, j] + 1] += 1
    for i in range(m):
        first[i + 1] += first[i]
    fill = first[:m].copy()
    samples = np.empty(first[m], np.int64)
    for r in range(n):
        for j in range(count[r]):
            i = gates[r, j]
            samples[fill[i]] = r
            fill[i] += 1
    for i in prange(m):
        acc_row = np.zeros(d)
        for j in range(first[i], first[i + 1]):
            r = samples[j]
            g = coef_out[r]
            for k in range(d):
                acc_row[k] += g * X[r, k]
        for k in range(d):
            grad_out[i, k] = acc_row[k]


@njit(cache=True, parallel=True)
def open_gate_margin_backward(H0, b, X, W0, dW, y, f_out, G_out):
    """f_lin and the input gradient of the margin loss −y f_lin, over the open gates only.

    ``f_out[n] = f_lin(x_n)`` and ``G_out[n] = −y_n Σ_{i∈S_n} (w0_i + Δw_i)``, which is
    ∇_x(−y_n f_lin(x_n)) away from the gate boundaries (where f_lin jumps).

    Parameters
    ----------
    H0 : ndarray, shape (n_samples, width)
    b : ndarray, shape (width,)
    X : ndarray, shape (n_samples, input_dim)
    W0, dW : ndarray, shape (width, input_dim)
    y : ndarray, shape (n_samples,)
    f_out : ndarray, shape (n_samples,)
    G_out : ndarray, shape (n_samples, input_dim)  overwritten
    """
    n, m = H0.shape
    d = X.shape[1]
    for r in prange(n):
        idx = np.empty(m, np.int32)
        u = np.empty(d)  # Σ_{i∈S_n} w0_i
        v = np.empty(d)  # Σ_{i∈S_n} Δw_i
        soft, count = active_units_row(H0[r], b, idx)
        _sum_rows(W0, idx, count, u)
        _sum_rows(dW, idx, count, v)
        f_out[r] = soft + _dot(X[r], v)
        yr = y[r]
        for k in range(d):
            G_out[r, k] = -yr * (u[k] + v[k])
