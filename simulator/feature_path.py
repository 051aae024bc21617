"""Clean training and evaluation in feature coordinates, for noiseless data and orthogonal M.

When σ = 0 and the dictionary is unitary (D = d, M orthogonal), every input is x = M z
with a k-sparse code z, and the network needs only C = W M (row i: the feature profile of
neuron i, docs/model.md):

* ⟨w_i, x⟩ = ⟨w_i, M z⟩ = ⟨C_i, z⟩, so the pre-activations of a batch are H = Z Cᵀ;
* ∇_W loss = Pᵀ X / n = Pᵀ Z Mᵀ / n, so ∇_C loss = (∇_W loss) M = Pᵀ Z / n: a gradient step
  on W is the same step on C, and W = C Mᵀ at any time;
* the relative thresholds are unchanged: b_i = θ‖w_i‖ = θ‖C_i‖ (M orthogonal).

Both products cost O(n·k·width) instead of O(n·input_dim·width), and the inputs X are
never formed.  The results equal the dense path's up to rounding
(tests/unit/test_features.py checks it).  With noise (σ > 0) or an overcomplete dictionary
(D > d) x is not M z and none of this holds: :func:`use_feature_path` refuses ``'on'``
and ``'auto'`` falls back to the dense path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse as sp

from .config import FEATURE_PATH_MODES, feature_path_refusal
from .kernels import feature_path as KF

def feature_path_applies(problem) -> bool:
    """True when every input of ``problem`` is exactly x = M z with M orthogonal."""
    return problem.config.noise == 0 and problem.config.unitary


def use_feature_path(mode: str, problem) -> bool:
    """Whether clean training runs in feature coordinates.

    Parameters
    ----------
    mode : 'auto' (when it applies), 'on' (required: a ConfigError when it does not
        apply) or 'off' (never).
    problem : SparseCodingProblem
    """
    if mode not in FEATURE_PATH_MODES:
        raise ValueError(f"The 'feature_path' parameter must be one of "
                         f"{{'auto', 'on', 'off'}}. Got {mode!r} instead.")
    if mode == "off":
        return False
    applies = feature_path_applies(problem)
    if mode == "on" and not applies:
        raise feature_path_refusal(problem.config)
    return applies


@dataclass(frozen=True)
class Codes:
    """A batch of sparse codes z in the two layouts the kernels read.

    Attributes
    ----------
    n_samples, n_features : int
    row_ptr, row_features, row_values : the codes in CSR (the features of each sample);
        shapes (n_samples + 1,), (nnz,), (nnz,)
    col_ptr, col_samples, col_values : the codes in CSC (the samples of each feature);
        shapes (n_features + 1,), (nnz,), (nnz,)
    """

    n_samples: int
    n_features: int
    row_ptr: np.ndarray
    row_features: np.ndarray
    row_values: np.ndarray
    col_ptr: np.ndarray
    col_samples: np.ndarray
    col_values: np.ndarray

    @classmethod
    def from_sparse(cls, Z, dtype) -> "Codes":
        """From a scipy sparse matrix Z, shape (n_samples, n_features); values cast to ``dtype``."""
        csr = sp.csr_matrix(Z)
        csr.sort_indices()
        csc = csr.tocsc()
        csc.sort_indices()
        idx = np.int64
        return cls(
            n_samples=csr.shape[0], n_features=csr.shape[1],
            row_ptr=np.ascontiguousarray(csr.indptr, dtype=idx),
            row_features=np.ascontiguousarray(csr.indices, dtype=idx),
            row_values=np.ascontiguousarray(csr.data, dtype=dtype),
            col_ptr=np.ascontiguousarray(csc.indptr, dtype=idx),
            col_samples=np.ascontiguousarray(csc.indices, dtype=idx),
            col_values=np.ascontiguousarray(csc.data, dtype=dtype),
        )


def to_feature_coordinates(W: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Ct = (W M)ᵀ = Mᵀ Wᵀ, shape (n_features, width), in W's dtype (computed in float64).

    Parameters
    ----------
    W : ndarray, shape (width, input_dim)
    M : ndarray, shape (input_dim, n_features), orthogonal
    """
    Ct = M.astype(np.float64).T @ W.astype(np.float64).T
    return np.ascontiguousarray(Ct, dtype=W.dtype)


def from_feature_coordinates(Ct: np.ndarray, M: np.ndarray) -> np.ndarray:
    """W = C Mᵀ = (M Ct)ᵀ, shape (width, input_dim), in Ct's dtype (computed in float64)."""
    W = (M.astype(np.float64) @ Ct.astype(np.float64)).T
    return np.ascontiguousarray(W, dtype=Ct.dtype)


def thresholds_from_norms(norms, rule: str, theta: float, fixed_bias: float) -> np.ndarray:
    """The thresholds b, shape (width,): θ‖C_i‖ = θ‖w_i‖ (relative rule) or the fixed bias.

    ``norms`` holds ‖C_i‖ in the weights' dtype, which b takes.
    """
    if rule == "relative":
        return norms * norms.dtype.type(theta)
    return np.full(norms.shape[0], fixed_bias, dtype=norms.dtype)


def column_norms(Ct) -> np.ndarray:
    """‖C_i‖ for each neuron, shape (width,), in Ct's dtype (accumulated in float64)."""
    norms = np.empty(Ct.shape[1], dtype=Ct.dtype)
    KF.column_norms(Ct, norms)
    return norms


def codes_decision_function(Ct, b, codes: Codes) -> np.ndarray:
    """f(M z) for each code, shape (n_samples,), float64 (without forming H)."""
    f = np.empty(codes.n_samples)
    KF.codes_soft_threshold_sum(codes.row_ptr, codes.row_features, codes.row_values, Ct, b, f)
    return f


def step_parts(width: int) -> int:
    """Parts the units are split into for a step: one per numba thread, ≥ 16 units each."""
    return max(1, min(numba.get_num_threads(), width // 16))


class _StepBuffers:
    """What the step's kernels pass each other, for batches of n samples in ``parts`` parts.

    Kept across steps: the lists of active units are n × width int32 (6 MB at n = 512,
    width 3072), and a fresh array of that size every step cost as much as the step's
    arithmetic in page faults.
    """

    def __init__(self, n: int, width: int, parts: int, dtype):
        self.key = (n, width, parts)
        self.f, self.loss, self.coef = np.empty(n), np.empty(n), np.empty(n)
        self.f_parts = np.empty((parts, n))
        self.units = np.empty((n, width), dtype=np.int32)
        self.count = np.empty((parts, n), dtype=np.int64)
        self.norms = np.empty(width, dtype=dtype)


def _add_gradient(Ct, b, codes: Codes, y, alpha, out, B: _StepBuffers) -> float:
    """out += alpha·Zᵀ P, then B.norms = the column norms of out; returns the mean loss.

    alpha = 1/n adds the (transposed) gradient of the mean loss, alpha = −η/n takes a step.
    Three kernels: the forward pass, each thread on its part of the units (f by parts and
    the active units); f, the losses and the backward coefficients; then the product Zᵀ P
    over the active units, each thread on its part again.  ``out`` may be Ct itself: the
    forward pass has finished reading Ct before the update writes it.  f and the rest are
    left in ``B``.
    """
    KF.codes_forward_parts(codes.row_ptr, codes.row_features, codes.row_values, Ct, b,
                           B.f_parts, B.units, B.count)
    KF.logistic_from_parts(B.f_parts, y, B.f, B.loss, B.coef)
    KF.codes_update_parts(codes.col_ptr, codes.col_samples, codes.col_values,
                          B.coef.astype(Ct.dtype), B.units, B.count, alpha, out, B.norms)
    return float(B.loss.mean())


def codes_loss_and_gradient(Ct, b, codes: Codes, y):
    """Mean logistic loss and its gradient in feature coordinates.

    Parameters
    ----------
    Ct : ndarray, shape (n_features, width)
    b : ndarray, shape (width,)
    codes : Codes of n_samples codes
    y : ndarray, shape (n_samples,)

    Returns
    -------
    loss : float, mean over the batch
    grad : ndarray, shape (n_features, width): (∇_C loss)ᵀ = Zᵀ P / n; ∇_W loss = gradᵀ Mᵀ
    f : ndarray, shape (n_samples,) (float64)
    """
    grad = np.zeros_like(Ct)
    B = _StepBuffers(codes.n_samples, Ct.shape[1], step_parts(Ct.shape[1]), Ct.dtype)
    y = np.ascontiguousarray(y, dtype=Ct.dtype)
    loss = _add_gradient(Ct, b, codes, y, Ct.dtype.type(1.0 / codes.n_samples), grad, B)
    return loss, grad, B.f


class FeatureCoordinates:
    """The network's weights held as Ct = (W M)ᵀ, trained on codes z instead of inputs M z.

    Parameters
    ----------
    W : ndarray, shape (width, input_dim), the starting weights (not modified)
    M : ndarray, shape (input_dim, n_features), orthogonal

    Ct is changed only by :meth:`clean_step`, whose last kernel also leaves the norms of
    the new neurons: the next step's thresholds, and a check that every weight is finite
    at no extra cost (:meth:`weights_finite`).
    """

    def __init__(self, W, M):
        self.M = M
        self.dtype = np.dtype(W.dtype)
        self.Ct = to_feature_coordinates(W, M)
        self.norms = column_norms(self.Ct)  # ‖C_i‖ of the current Ct, kept by each step
        self._buffers = None

    def weights(self) -> np.ndarray:
        """The current W = C Mᵀ, shape (width, input_dim) (a new array)."""
        return from_feature_coordinates(self.Ct, self.M)

    def thresholds(self, net_cfg) -> np.ndarray:
        """b of the current weights under ``net_cfg``'s rule, shape (width,)."""
        return thresholds_from_norms(self.norms, net_cfg.threshold_rule, net_cfg.threshold,
                                     net_cfg.fixed_bias)

    def weights_finite(self) -> bool:
        """Whether every entry of Ct is finite.

        From the norms: ‖C_i‖ is NaN or infinite exactly when column i holds a NaN or an
        infinity, or when it overflows the dtype; only then is the whole array scanned.
        """
        return bool(np.isfinite(self.norms).all() or np.isfinite(self.Ct).all())

    def clean_step(self, Z, y, net_cfg, lr) -> float:
        """One gradient step on the mean logistic loss of the batch with codes Z, in place.

        The same step as :func:`simulator.training.clean_step` on X = Z Mᵀ.  Z is a scipy
        sparse matrix (n_samples, n_features) or :class:`Codes`.  Returns the loss.
        """
        codes = Z if isinstance(Z, Codes) else Codes.from_sparse(Z, self.dtype)
        y = np.ascontiguousarray(y, dtype=self.dtype)
        width = self.Ct.shape[1]
        key = (codes.n_samples, width, step_parts(width))
        if self._buffers is None or self._buffers.key != key:
            self._buffers = _StepBuffers(*key, self.dtype)
        B = self._buffers
        alpha = self.dtype.type(-lr / codes.n_samples)
        loss = _add_gradient(self.Ct, self.thresholds(net_cfg), codes, y, alpha, self.Ct, B)
        self.norms, B.norms = B.norms, self.norms  # the new norms; the old array is reused
        return loss


def code_batches(problem, batch_size: int, train_size, rng: np.random.Generator):
    """Endless (Z, y) batches: fresh every step (online), or one finite set every step.

    Z is a scipy sparse matrix, or :class:`Codes` for the finite set.

    Draws from ``rng`` exactly what the dense path's batches draw at σ = 0, so both paths
    see the same data.
    """
    if train_size is not None:
        fixed = problem.sample_codes(train_size, rng)
        codes = Codes.from_sparse(fixed.Z, problem.dtype)  # converted once, not every step
        while True:
            yield codes, fixed.y
    while True:
        batch = problem.sample_codes(batch_size, rng)
        yield batch.Z, batch.y
