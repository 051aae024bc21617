"""Numba kernels of the two-layer thresholded symmetric-ReLU network.

The network is f(x) = Σ_i soft(⟨w_i, x⟩, b_i) with soft(h, b) = sign(h)·max(|h| − b, 0),
which equals ReLU(h − b) − ReLU(−h − b).  The matrix products (X Wᵀ, Pᵀ X, P W) are done
by BLAS in the Python callers; these kernels fuse the elementwise work around them so that
the (n_samples, width) pre-activation matrix is read once and overwritten in place by the
backward coefficients.

Every kernel has a plain-numpy twin of the same name in ``simulator/reference/network.py``.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def soft_threshold_sum(H, b, out):
    """f_n = Σ_i soft(H[n, i], b[i]).

    Parameters
    ----------
    H : ndarray, shape (n_samples, width)  pre-activations ⟨w_i, x_n⟩
    b : ndarray, shape (width,)            thresholds b_i ≥ 0
    out : ndarray, shape (n_samples,)      receives f (float64 accumulation)
    """
    n, m = H.shape
    for r in range(n):
        acc = 0.0
        for i in range(m):
            h = H[r, i]
            t = b[i]
            if h > t:
                acc += h - t
            elif h < -t:
                acc += h + t
        out[r] = acc


@njit(cache=True)
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
    for r in range(n):
        acc = 0.0
        for i in range(m):
            h = H[r, i]
            t = b[i]
            if h > t:
                acc += h - t
            elif h < -t:
                acc += h + t
        f_out[r] = acc
        u = -y[r] * acc  # the loss is softplus(u)
        if u > 0.0:
            loss_out[r] = u + np.log1p(np.exp(-u))
            s = 1.0 / (1.0 + np.exp(-u))
        else:
            eu = np.exp(u)
            loss_out[r] = np.log1p(eu)
            s = eu / (1.0 + eu)
        g = -y[r] * s  # dℓ/df
        coef_out[r] = g
        for i in range(m):
            h = H[r, i]
            t = b[i]
            if h > t or h < -t:
                H[r, i] = g
            else:
                H[r, i] = 0.0


@njit(cache=True)
def margin_backward_inplace(H, b, y, f_out):
    """Forward f and the backward coefficient of the margin loss −y f; H is overwritten.

    On return ``H[n, i] = −y_n·1{|h_ni| > b_i}`` so that ``H[n, :] W = ∇_x(−y_n f(x_n))``:
    the direction attacks ascend (it never saturates, unlike the logistic loss, and has
    the same sign so FGM directions agree).
    """
    n, m = H.shape
    for r in range(n):
        acc = 0.0
        for i in range(m):
            h = H[r, i]
            t = b[i]
            if h > t:
                acc += h - t
                H[r, i] = -y[r]
            elif h < -t:
                acc += h + t
                H[r, i] = -y[r]
            else:
                H[r, i] = 0.0
        f_out[r] = acc


@njit(cache=True)
def row_norms(W, out):
    """out_i = ‖W[i, :]‖₂ (float64 accumulation).

    Parameters
    ----------
    W : ndarray, shape (width, input_dim)
    out : ndarray, shape (width,)
    """
    m, d = W.shape
    for i in range(m):
        acc = 0.0
        for j in range(d):
            acc += W[i, j] * W[i, j]
        out[i] = np.sqrt(acc)
