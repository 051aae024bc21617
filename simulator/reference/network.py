"""Plain-numpy twins of ``simulator/kernels/network.py`` (the gold standard in tests)."""

import numpy as np


def soft_threshold_sum(H, b, out):
    """Twin of :func:`simulator.kernels.network.soft_threshold_sum`."""
    S = np.sign(H) * np.maximum(np.abs(H) - b[None, :], 0.0)
    out[:] = S.sum(axis=1, dtype=np.float64)


def logistic_backward_inplace(H, b, y, f_out, loss_out, coef_out):
    """Twin of :func:`simulator.kernels.network.logistic_backward_inplace`."""
    active = np.abs(H) > b[None, :]
    S = np.where(active, H - np.sign(H) * b[None, :], 0.0)
    f = S.sum(axis=1, dtype=np.float64)
    u = -y.astype(np.float64) * f
    f_out[:] = f
    loss_out[:] = np.logaddexp(0.0, u)
    g = -y * (1.0 / (1.0 + np.exp(-u)))
    coef_out[:] = g
    H[:] = np.where(active, g[:, None], 0.0)


def logistic_active_units(H, b, y, f_out, loss_out, coef_out, units_out, count_out):
    """Twin of :func:`simulator.kernels.network.logistic_active_units`."""
    P = H.copy()
    logistic_backward_inplace(P, b, y, f_out, loss_out, coef_out)
    active = np.abs(H) > b[None, :]
    for r in range(H.shape[0]):
        units = np.flatnonzero(active[r])
        units_out[r, :units.size] = units
        count_out[r] = units.size


def margin_backward_inplace(H, b, y, f_out):
    """Twin of :func:`simulator.kernels.network.margin_backward_inplace`."""
    active = np.abs(H) > b[None, :]
    S = np.where(active, H - np.sign(H) * b[None, :], 0.0)
    f_out[:] = S.sum(axis=1, dtype=np.float64)
    H[:] = np.where(active, -y[:, None], 0.0)


def row_norms(W, out):
    """Twin of :func:`simulator.kernels.network.row_norms`."""
    out[:] = np.sqrt((W.astype(np.float64) ** 2).sum(axis=1))


def active_product(P, W, out):
    """Twin of :func:`simulator.kernels.network.active_product`."""
    out[:] = P @ W


def active_transpose_product(P, X, alpha, beta, out):
    """Twin of :func:`simulator.kernels.network.active_transpose_product`."""
    if beta == 0:
        out[:] = alpha * (P.T @ X)
    else:
        out[:] = beta * out + alpha * (P.T @ X)
