"""The two-layer thresholded symmetric-ReLU network (MODEL.md, "Learner").

f(x) = Σ_{i=1..m} [ReLU(⟨w_i, x⟩ − b_i) − ReLU(−⟨w_i, x⟩ − b_i)], output layer fixed to ones.

The thresholds b_i are not trained by gradient: with the relative rule b_i = θ‖w_i‖ they
are recomputed from W before every forward pass and held constant in the backward pass.

Every model that the attacks and reports handle (this network, the ideal purified network,
the lower-bound models) offers the same two methods:

* ``decision_function(X) -> f`` of shape (n_samples,);
* ``margin_gradient(X, y) -> (f, G)`` with G = ∇_x(−y f(x)) of shape (n_samples, input_dim),
  the direction an attack ascends.
"""

from __future__ import annotations

import numpy as np

from .config import NetworkConfig
from .kernels import network as K


def thresholds(W: np.ndarray, rule: str, theta: float, fixed_bias: float, kernels=K) -> np.ndarray:
    """The thresholds b, shape (width,), for weights W (width, input_dim).

    ``kernels`` selects the numba kernels (default) or their numpy twins
    (``simulator.reference.network``), for tests and benchmarks.
    """
    if rule == "relative":
        b = np.empty(W.shape[0], dtype=W.dtype)
        kernels.row_norms(W, b)
        b *= W.dtype.type(theta)
        return b
    return np.full(W.shape[0], fixed_bias, dtype=W.dtype)


def loss_and_gradient(W, b, X, y, kernels=K):
    """Mean logistic loss over the batch and its gradient in W.

    Two BLAS products (H = X Wᵀ, G = Pᵀ X) around one fused numba pass.

    Parameters
    ----------
    W : ndarray, shape (width, input_dim)
    b : ndarray, shape (width,)
    X : ndarray, shape (n_samples, input_dim)
    y : ndarray, shape (n_samples,)

    Returns
    -------
    loss : float, mean over the batch
    grad : ndarray, shape (width, input_dim)
    f : ndarray, shape (n_samples,) (float64)
    """
    n = X.shape[0]
    H = X @ W.T
    f = np.empty(n)
    loss = np.empty(n)
    coef = np.empty(n)
    kernels.logistic_backward_inplace(H, b, y, f, loss, coef)
    grad = H.T @ X
    grad *= W.dtype.type(1.0 / n)
    return float(loss.mean()), grad, f


def margin_gradient(W, b, X, y, kernels=K):
    """f(X) and ∇_x(−y f(x)) per sample, shape (n_samples, input_dim)."""
    H = X @ W.T
    f = np.empty(X.shape[0])
    kernels.margin_backward_inplace(H, b, y, f)
    return f, H @ W


def decision_function(W, b, X):
    """f(X), shape (n_samples,), float64."""
    H = X @ W.T
    f = np.empty(X.shape[0])
    K.soft_threshold_sum(H, b, f)
    return f


class ThresholdNetwork:
    """A two-layer network with thresholded symmetric ReLU and output weights fixed to 1.

    Parameters
    ----------
    W : ndarray, shape (width, input_dim)
    threshold_rule, threshold, fixed_bias : as in :class:`~simulator.config.NetworkConfig`.
    batch_size : rows per BLAS call in evaluation (bounds memory to batch × width).
    """

    def __init__(self, W, *, threshold_rule="relative", threshold=0.35, fixed_bias=0.0,
                 batch_size=2048, name="network"):
        W = np.asarray(W)
        if W.ndim != 2:
            raise ValueError(f"The 'W' parameter of ThresholdNetwork must be a 2-d array "
                             f"(width, input_dim). Got shape {W.shape} instead.")
        if W.dtype not in (np.float32, np.float64):
            W = W.astype(np.float64)
        if not np.all(np.isfinite(W)):
            raise ValueError("The 'W' parameter of ThresholdNetwork must be finite. Got NaN or inf.")
        self.W = np.ascontiguousarray(W)
        self.threshold_rule = threshold_rule
        self.threshold = float(threshold)
        self.fixed_bias = float(fixed_bias)
        self.batch_size = int(batch_size)
        self.name = name

    @classmethod
    def from_config(cls, W, config: NetworkConfig, **kw):
        return cls(W, threshold_rule=config.threshold_rule, threshold=config.threshold,
                   fixed_bias=config.fixed_bias, **kw)

    @property
    def dtype(self):
        return self.W.dtype

    @property
    def input_dim(self) -> int:
        return self.W.shape[1]

    @property
    def width(self) -> int:
        return self.W.shape[0]

    @property
    def b(self) -> np.ndarray:
        """Current thresholds, shape (width,)."""
        return thresholds(self.W, self.threshold_rule, self.threshold, self.fixed_bias)

    def _coerce(self, X):
        X = np.ascontiguousarray(X, dtype=self.W.dtype)
        if X.ndim != 2 or X.shape[1] != self.input_dim:
            raise ValueError(f"X must have shape (n_samples, {self.input_dim}). Got {X.shape}.")
        return X

    def decision_function(self, X) -> np.ndarray:
        """f(X), shape (n_samples,)."""
        X = self._coerce(X)
        b = self.b
        out = np.empty(X.shape[0])
        for s in range(0, X.shape[0], self.batch_size):
            out[s:s + self.batch_size] = decision_function(self.W, b, X[s:s + self.batch_size])
        return out

    def margin_gradient(self, X, y):
        """(f, ∇_x(−y f)) with shapes (n_samples,), (n_samples, input_dim)."""
        X = self._coerce(X)
        y = np.ascontiguousarray(y, dtype=self.W.dtype)
        b = self.b
        f = np.empty(X.shape[0])
        G = np.empty_like(X)
        for s in range(0, X.shape[0], self.batch_size):
            sl = slice(s, s + self.batch_size)
            f[sl], G[sl] = margin_gradient(self.W, b, X[sl], y[sl])
        return f, G

    def predict(self, X) -> np.ndarray:
        return np.where(self.decision_function(X) > 0, 1.0, -1.0)


def init_weights(config: NetworkConfig, input_dim: int, rng: np.random.Generator) -> np.ndarray:
    """w_i ~ N(0, σ₀²/d · I), shape (width, input_dim)."""
    W = rng.standard_normal((config.width, input_dim)) * (config.init_scale / np.sqrt(input_dim))
    return np.ascontiguousarray(W, dtype=config.dtype)


def ideal_network(problem, config: NetworkConfig, **kw) -> ThresholdNetwork:
    """The ideal purified network: one neuron per feature, w_j = w*_j M_j, same threshold rule.

    Serves as the reference for what a robust network of this family achieves (MODEL.md).
    """
    W = (problem.M * problem.w_star[None, :]).T
    return ThresholdNetwork(np.ascontiguousarray(W, dtype=config.dtype),
                            threshold_rule=config.threshold_rule, threshold=config.threshold,
                            fixed_bias=config.fixed_bias, name="ideal", **kw)
