"""Numba kernels of the network's linearisation at initialisation (its neural tangent kernel).

With pre-activations at initialisation h0 = ⟨w0_i, x⟩, fixed thresholds b0_i and the
update's pre-activations l = ⟨Δw_i, x⟩, the linearised network is

    f_lin(x) = Σ_i [ soft(h0_i, b0_i) + 1{|h0_i| > b0_i}·l_i ],

soft(h, b) = sign(h)·max(|h| − b, 0).  The gate 1{|h0| > b0} is frozen at initialisation, so
f_lin is linear in ΔW.  As in ``simulator/kernels/network.py`` the matrix products
(X W0ᵀ, X ΔWᵀ, Pᵀ X, P W) are done by BLAS in the callers; these kernels fuse the elementwise
work and overwrite the (n_samples, width) matrix L with the backward coefficients.

Every kernel has a plain-numpy twin of the same name in ``simulator/reference/ntk.py``.
"""

import numpy as np
from numba import njit


@njit(cache=True)
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
    for r in range(n):
        acc = 0.0
        for i in range(m):
            h = H0[r, i]
            t = b[i]
            if h > t:
                acc += h - t + L[r, i]
            elif h < -t:
                acc += h + t + L[r, i]
        out[r] = acc


@njit(cache=True)
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
    for r in range(n):
        acc = 0.0
        for i in range(m):
            h = H0[r, i]
            t = b[i]
            if h > t:
                acc += h - t + L[r, i]
            elif h < -t:
                acc += h + t + L[r, i]
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
            h = H0[r, i]
            t = b[i]
            if h > t or h < -t:
                L[r, i] = g
            else:
                L[r, i] = 0.0


@njit(cache=True)
def linearised_margin_backward_inplace(H0, L, b, y, f_out):
    """Forward f_lin and the backward coefficient of the margin loss −y f_lin; L is overwritten.

    On return ``L[n, i] = −y_n·1{|H0[n, i]| > b_i}`` so that ``L[n, :] (W0 + ΔW)`` is
    ∇_x(−y_n f_lin(x_n)) away from the gate boundaries (where f_lin jumps).
    """
    n, m = H0.shape
    for r in range(n):
        acc = 0.0
        for i in range(m):
            h = H0[r, i]
            t = b[i]
            if h > t:
                acc += h - t + L[r, i]
                L[r, i] = -y[r]
            elif h < -t:
                acc += h + t + L[r, i]
                L[r, i] = -y[r]
            else:
                L[r, i] = 0.0
        f_out[r] = acc
