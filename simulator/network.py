"""The two-layer thresholded symmetric-ReLU network (docs/model.md, "Learner").

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

import math

import numpy as np

from .config import ConfigError, NetworkConfig
from .kernels import network as K


def weight_limit(dtype) -> float:
    """Largest |w| that training accepts: √(largest float of ``dtype``) / 10³.

    Norms, pre-activations and the metrics square weights or multiply them by inputs of
    norm ≈ √k; beyond √max the squares overflow (float32: |w| ≈ 1.8e19).  The factor 10³
    leaves room for sums over input_dim and for the inputs.  A trained neuron has
    ‖w‖ of order 1–10, so weights this large mean a runaway step, not learning.
    """
    return math.sqrt(float(np.finfo(dtype).max)) / 1e3


def weights_in_range(W) -> bool:
    """True when every entry of W is finite and |w| ≤ :func:`weight_limit` (no temporaries)."""
    lim = weight_limit(W.dtype)
    return bool(W.size == 0 or (W.max() <= lim and W.min() >= -lim))  # NaN fails both


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


# Share of active units up to which the backward products visit the active units only;
# above it BLAS on the dense coefficient matrix is faster (measured crossover at d = 512,
# one thread: ≈ 0.2 in float32, ≈ 0.3 in float64).  A trained network has 3–11 % active.
ACTIVE_SHARE_CUTOFF = 0.15
# Rows of P counted to estimate its share of non-zeros (a full count costs a pass over P).
_SHARE_SAMPLE_ROWS = 64


def active_share(P: np.ndarray) -> float:
    """Estimated share of non-zero entries of P, shape (n_samples, width).

    Counts the first 64 rows (the samples of a batch are i.i.d.): a deterministic estimate,
    good to about a per cent, that decides only which product (BLAS or the active-unit
    kernels) computes the same result.
    """
    rows = P[:_SHARE_SAMPLE_ROWS]
    return np.count_nonzero(rows) / max(rows.size, 1)


def _use_active_kernels(P, skip_inactive) -> bool:
    if skip_inactive is None:
        return active_share(P) <= ACTIVE_SHARE_CUTOFF
    return bool(skip_inactive)


def _logistic_backward(W, b, X, y, kernels):
    """P (the BLAS product X Wᵀ, turned in place into the backward coefficients), f and the
    per-sample losses (:func:`simulator.kernels.network.logistic_backward_inplace`)."""
    n = X.shape[0]
    P = X @ W.T
    f, loss, coef = np.empty(n), np.empty(n), np.empty(n)
    kernels.logistic_backward_inplace(P, b, y, f, loss, coef)
    return P, f, loss


def loss_and_gradient(W, b, X, y, kernels=K, skip_inactive=None):
    """Mean logistic loss over the batch and its gradient in W.

    The BLAS product H = X Wᵀ, one fused numba pass that turns H into the backward
    coefficients P, and the product Pᵀ X: by BLAS, or by a kernel that visits the active
    units only when few are active (``skip_inactive``: None decides by the share of
    active units, see ``ACTIVE_SHARE_CUTOFF``; True / False force one form).  Both forms
    compute the same sum up to rounding.

    Parameters
    ----------
    W : ndarray, shape (width, input_dim)
    b : ndarray, shape (width,)
    X : ndarray, shape (n_samples, input_dim)
    y : ndarray, shape (n_samples,)
    kernels : the numba kernels (default) or their numpy twins (``simulator.reference.network``)
    skip_inactive : bool or None

    Returns
    -------
    loss : float, mean over the batch
    grad : ndarray, shape (width, input_dim)
    f : ndarray, shape (n_samples,) (float64)
    """
    n = X.shape[0]
    P, f, loss = _logistic_backward(W, b, X, y, kernels)
    alpha = W.dtype.type(1.0 / n)
    if _use_active_kernels(P, skip_inactive):
        grad = np.empty_like(W)
        kernels.active_transpose_product(P, X, alpha, W.dtype.type(0), grad)
    else:
        grad = P.T @ X
        grad *= alpha
    return float(loss.mean()), grad, f


def logistic_step(W, b, X, y, step_size, kernels=K, skip_inactive=None) -> float:
    """One gradient-descent step on the mean logistic loss, in place: W ← W − η ∇_W loss.

    The same step as ``W -= η · loss_and_gradient(...)[1]`` up to rounding.  When the
    active-unit kernel computes the backward product it adds −η/n · Pᵀ X straight into W
    (beta = 1): no gradient array, one pass over W.  Returns the mean loss before the step.
    """
    n = X.shape[0]
    P, _, loss = _logistic_backward(W, b, X, y, kernels)
    alpha = W.dtype.type(-step_size / n)
    if _use_active_kernels(P, skip_inactive):
        kernels.active_transpose_product(P, X, alpha, W.dtype.type(1), W)
    else:
        # numpy's BLAS has no in-place gemm; scipy.linalg.blas's does, but it loads a second
        # OpenBLAS, and with it the dense-products steps of one bench run took 2.4× longer
        grad = P.T @ X
        grad *= -alpha
        W -= grad
    return float(loss.mean())


# Rows per BLAS call of the evaluation products.  OpenBLAS's sgemm/dgemm does not round a
# row the same way wherever it falls in the call (its kernels for the tail of a block
# accumulate in another order), so a sample evaluated alone, or among the undecided samples
# of the staged evaluation, could differ in its last bits from the same sample evaluated
# within the whole test set — and PGD, which follows signs and normalised steps, can turn
# such a difference into another end point.  Calls on stacks of exactly ROW_BLOCK rows (the
# last one zero-padded) give every row the same bits whatever batch it is in: checked for
# float32 / float64, widths 384–4096, d = 128–2048, 1 and 2 threads, by
# tests/unit/test_row_invariance.py; they cost 1.5–4.5× one large GEMM (benchmarks/row_invariance.py,
# benchmarks/RESULTS.md).
ROW_BLOCK = 8


def rowwise_pre_activations(X, W) -> np.ndarray:
    """X Wᵀ, shape (n_samples, width), each row's bits independent of the other rows of X."""
    n, d = X.shape
    pad = (-n) % ROW_BLOCK
    if pad:
        X = np.concatenate([X, np.zeros((pad, d), dtype=X.dtype)])
    return np.matmul(X.reshape(-1, ROW_BLOCK, d), W.T).reshape(-1, W.shape[0])[:n]


def margin_gradient(W, b, X, y, kernels=K, skip_inactive=None, row_invariant=False):
    """f(X) and ∇_x(−y f(x)) per sample, shape (n_samples, input_dim).

    As :func:`loss_and_gradient`: the product P W by BLAS or over the active units only.
    ``row_invariant``: each sample's f and gradient do not depend on the other rows of X
    (:func:`rowwise_pre_activations`, then the row-wise active-unit product) — what the
    evaluation uses; training keeps the faster batch products.
    """
    H = rowwise_pre_activations(X, W) if row_invariant else X @ W.T
    f = np.empty(X.shape[0])
    kernels.margin_backward_inplace(H, b, y, f)
    if row_invariant or _use_active_kernels(H, skip_inactive):
        G = np.empty_like(X)
        kernels.active_product(H, W, G)
        return f, G
    return f, H @ W


def decision_function(W, b, X, row_invariant=False):
    """f(X), shape (n_samples,), float64 (``row_invariant``: as in :func:`margin_gradient`)."""
    H = rowwise_pre_activations(X, W) if row_invariant else X @ W.T
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
            out[s:s + self.batch_size] = decision_function(self.W, b, X[s:s + self.batch_size],
                                                            row_invariant=True)
        return out

    def decision_function_codes(self, Z, problem) -> np.ndarray:
        """f(M z) for codes Z of noiseless inputs, shape (n_samples,), without forming X.

        Works in feature coordinates (:mod:`simulator.feature_path`): O(width·input_dim²) once
        for C = W M, then O(k·width) per sample instead of O(input_dim·width).  Equal to
        ``decision_function(Z @ problem.M.T)`` up to rounding; only for problems whose
        inputs are exactly x = M z with M orthogonal (σ = 0, D = d).

        Parameters
        ----------
        Z : scipy sparse matrix, shape (n_samples, n_features)
        problem : SparseCodingProblem with noise 0 and a unitary dictionary
        """
        from .feature_path import (Codes, codes_decision_function, feature_path_applies,
                               to_feature_coordinates)

        if not feature_path_applies(problem):
            raise ValueError("decision_function_codes needs noiseless inputs x = M z with an "
                             "orthogonal M (data.noise == 0, n_features == input_dim). Got "
                             f"noise={problem.config.noise!r}, n_features="
                             f"{problem.config.dictionary_size} (input_dim={problem.config.input_dim}).")
        Ct = to_feature_coordinates(self.W, problem.M)
        b = self.b
        out = np.empty(Z.shape[0])
        for s in range(0, Z.shape[0], self.batch_size):
            codes = Codes.from_sparse(Z[s:s + self.batch_size], self.W.dtype)
            out[s:s + self.batch_size] = codes_decision_function(Ct, b, codes)
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
            f[sl], G[sl] = margin_gradient(self.W, b, X[sl], y[sl], row_invariant=True)
        return f, G

    def predict(self, X) -> np.ndarray:
        return np.where(self.decision_function(X) > 0, 1.0, -1.0)


def init_weights(config: NetworkConfig, input_dim: int, rng: np.random.Generator) -> np.ndarray:
    """w_i ~ N(0, σ₀²/d · I), shape (width, input_dim).

    Raises ConfigError naming ``network.init_scale`` when the weights are not finite or
    beyond :func:`weight_limit` in the network's dtype (training could only diverge, and
    would blame the step size).
    """
    with np.errstate(over="ignore"):  # an overflow to inf is reported below
        W = rng.standard_normal((config.width, input_dim)) * (config.init_scale / np.sqrt(input_dim))
        W = np.ascontiguousarray(W, dtype=config.dtype)
    if not weights_in_range(W):
        raise ConfigError(
            f"The 'init_scale' parameter of NetworkConfig gives initial weights beyond "
            f"±{weight_limit(W.dtype):.3g} or not finite in {config.dtype} (largest |w| = "
            f"{float(np.max(np.abs(W.astype(np.float64)))):.3g} at input_dim = {input_dim}). "
            f"Lower network.init_scale. Got {config.init_scale!r} instead.")
    return W


def ideal_network(problem, config: NetworkConfig, **kw) -> ThresholdNetwork:
    """The ideal purified network: one neuron per feature, w_j = w*_j M_j, same threshold rule.

    Serves as the reference for what a robust network of this family achieves (docs/model.md).
    """
    W = (problem.M * problem.w_star[None, :]).T
    return ThresholdNetwork(np.ascontiguousarray(W, dtype=config.dtype),
                            threshold_rule=config.threshold_rule, threshold=config.threshold,
                            fixed_bias=config.fixed_bias, name="ideal", **kw)
