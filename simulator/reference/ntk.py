"""Plain-numpy twins of ``simulator/kernels/ntk.py`` (the gold standard in tests)."""

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
