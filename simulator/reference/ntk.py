"""Plain-numpy twins of ``simulator/kernels/ntk.py`` (the gold standard in tests).

The twins of the open-gate kernels use the dense products X ΔWᵀ, Pᵀ X and P (W0 + ΔW), in
float64, that the kernels avoid.
"""

import numpy as np


def _soft_and_gate(H0, b):
    gate = np.abs(H0) > b[None, :]
    S = np.where(gate, H0 - np.sign(H0) * b[None, :], 0.0)
    return S, gate


def linearised_soft_threshold_sum(H0, L, b, out):
    """Twin of :func:`simulator.kernels.ntk.linearised_soft_threshold_sum`."""
    S, gate = _soft_and_gate(H0, b)
    out[:] = (S + np.where(gate, L, 0.0)).sum(axis=1, dtype=np.float64)


def linearised_logistic_backward_inplace(H0, L, b, y, f_out, loss_out, coef_out):
    """Twin of :func:`simulator.kernels.ntk.linearised_logistic_backward_inplace`."""
    S, gate = _soft_and_gate(H0, b)
    f = (S + np.where(gate, L, 0.0)).sum(axis=1, dtype=np.float64)
    u = -y.astype(np.float64) * f
    f_out[:] = f
    loss_out[:] = np.logaddexp(0.0, u)
    g = -y * (1.0 / (1.0 + np.exp(-u)))
    coef_out[:] = g
    L[:] = np.where(gate, g[:, None], 0.0)


def linearised_margin_backward_inplace(H0, L, b, y, f_out):
    """Twin of :func:`simulator.kernels.ntk.linearised_margin_backward_inplace`."""
    S, gate = _soft_and_gate(H0, b)
    f_out[:] = (S + np.where(gate, L, 0.0)).sum(axis=1, dtype=np.float64)
    L[:] = np.where(gate, -y[:, None], 0.0)


def open_gate_count(H0, b):
    """Twin of :func:`simulator.kernels.ntk.open_gate_count`."""
    return int(np.count_nonzero(_soft_and_gate(H0, b)[1]))


def _forward(H0, b, X, dW):
    S, gate = _soft_and_gate(H0, b)
    L = X.astype(np.float64) @ dW.astype(np.float64).T
    return (S + np.where(gate, L, 0.0)).sum(axis=1, dtype=np.float64), gate


def open_gate_soft_threshold_sum(H0, b, X, dW, out):
    """Twin of :func:`simulator.kernels.ntk.open_gate_soft_threshold_sum`."""
    out[:] = _forward(H0, b, X, dW)[0]


def open_gate_logistic_backward(H0, b, X, dW, y, f_out, loss_out, coef_out, grad_out):
    """Twin of :func:`simulator.kernels.ntk.open_gate_logistic_backward`."""
    f, gate = _forward(H0, b, X, dW)
    u = -y.astype(np.float64) * f
    f_out[:] = f
    loss_out[:] = np.logaddexp(0.0, u)
    g = -y * (1.0 / (1.0 + np.exp(-u)))
    coef_out[:] = g
    grad_out[:] = np.where(gate, g[:, None], 0.0).T @ X.astype(np.float64)


def open_gate_margin_backward(H0, b, X, W0, dW, y, f_out, G_out):
    """Twin of :func:`simulator.kernels.ntk.open_gate_margin_backward`."""
    f_out[:] = _forward(H0, b, X, dW)[0]
    W = W0.astype(np.float64) + dW.astype(np.float64)
    G_out[:] = np.where(_soft_and_gate(H0, b)[1], -y[:, None].astype(np.float64), 0.0) @ W
