"""The neural tangent kernel (NTK) model of the network at initialisation (docs/model.md, claim 3).

The network f(x; W) = Σ_i soft(⟨w_i, x⟩, b_i) linearised in W around its random
initialisation W0, with the thresholds frozen at b0 = thresholds(W0):

    f_lin(x; ΔW) = f(x; W0) + Σ_i 1{|⟨w0_i, x⟩| > b0_i}·⟨Δw_i, x⟩.

It is linear in ΔW (shape width × input_dim), i.e. a kernel machine with the network's
tangent features φ_i(x) = 1{|⟨w0_i, x⟩| > b0_i}·x, and wherever no gate changes it equals
the network at W0 + ΔW with thresholds b0.  Its input gradient, away from the gate
boundaries (where f_lin jumps), is Σ_i A_i(x)(w0_i + Δw_i) with A_i the frozen gate.

Training mirrors the network's (:mod:`simulator.training`): online gradient descent on the
logistic loss from ΔW = 0, then FGM adversarial training from the clean ΔW, the FGM
perturbation computed through f_lin's own input gradient.
"""

from __future__ import annotations

import copy
import time

import numpy as np

from ..kernels import ntk as K
from ..network import thresholds
from ..norms import steepest_step
from .linear import _check_norm, _check_radius
from .reuse import check_clean, clean_record, digest


# The open-gate kernels beat BLAS's dense products below about 10 % of open gates (d = 512,
# width 1536, batch 512, one thread: 7 against ~18 ms at 5 % open, even at 15 %, 3× slower at
# 100 %).  At a random W0 the relative threshold opens ≈ 2.3 % of the gates in the default
# regime and ≈ 11 % in the quick one; a fixed threshold near 0 opens nearly all of them.
OPEN_GATE_SHARE_MAX = 0.10
_SHARE_ROWS = 64  # rows of H0 that estimate the share (the rows are i.i.d. samples)


def _few_open_gates(H0, b0) -> bool:
    rows = H0[:_SHARE_ROWS]
    return K.open_gate_count(rows, b0) <= OPEN_GATE_SHARE_MAX * rows.size


def linearised_loss_and_gradient(W0, dW, b0, X, y):
    """Mean logistic loss of f_lin over the batch and its gradient in ΔW.

    H0 = X W0ᵀ by BLAS finds the open gates; then, when they are few, one numba pass over
    the open gates (:func:`simulator.kernels.ntk.open_gate_logistic_backward`), otherwise
    BLAS's L = X ΔWᵀ and Pᵀ X around a fused elementwise pass.

    Parameters
    ----------
    W0, dW : ndarray, shape (width, input_dim)
    b0 : ndarray, shape (width,)
    X : ndarray, shape (n_samples, input_dim)
    y : ndarray, shape (n_samples,)

    Returns
    -------
    loss : float, mean over the batch
    grad : ndarray, shape (width, input_dim)
    f : ndarray, shape (n_samples,) (float64)
    """
    n = X.shape[0]
    H0 = X @ W0.T
    f = np.empty(n)
    loss = np.empty(n)
    coef = np.empty(n)
    if _few_open_gates(H0, b0):
        grad = np.empty_like(dW)
        K.open_gate_logistic_backward(H0, b0, X, dW, y, f, loss, coef, grad)
    else:
        L = X @ dW.T
        K.linearised_logistic_backward_inplace(H0, L, b0, y, f, loss, coef)
        grad = L.T @ X
    grad *= dW.dtype.type(1.0 / n)
    return float(loss.mean()), grad, f


def linearised_margin_gradient(W0, dW, b0, X, y, W=None, f_out=None, G_out=None):
    """f_lin(X) and ∇_x(−y f_lin(x)) per sample (written into ``f_out``/``G_out`` if given).

    ``W``, if given, must equal W0 + ΔW (the dense form needs it).
    """
    H0 = X @ W0.T
    f = np.empty(X.shape[0]) if f_out is None else f_out
    G = np.empty_like(X) if G_out is None else G_out
    if _few_open_gates(H0, b0):
        K.open_gate_margin_backward(H0, b0, X, W0, dW, y, f, G)
    else:
        L = X @ dW.T
        K.linearised_margin_backward_inplace(H0, L, b0, y, f)
        np.matmul(L, W0 + dW if W is None else W, out=G)
    return f, G


def linearised_decision_function(W0, dW, b0, X, out=None):
    """f_lin(X), shape (n_samples,), float64 (written into ``out`` if given)."""
    H0 = X @ W0.T
    f = np.empty(X.shape[0]) if out is None else out
    if _few_open_gates(H0, b0):
        K.open_gate_soft_threshold_sum(H0, b0, X, dW, f)
    else:
        K.linearised_soft_threshold_sum(H0, X @ dW.T, b0, f)
    return f


class NTKModel:
    """The network linearised at W0 with frozen thresholds b0, plus an update ΔW.

    Parameters
    ----------
    W0 : ndarray, shape (width, input_dim), the initialisation
    dW : ndarray, shape (width, input_dim), the update ΔW (zeros: the network at W0)
    b0 : ndarray, shape (width,), thresholds fixed at initialisation
    batch_size : rows per BLAS call in evaluation
    name : str

    Attributes
    ----------
    history : dict phase -> ndarray of the mean batch loss at each training step
    seconds : wall time of training
    """

    def __init__(self, W0, dW, b0, *, batch_size: int = 2048, name: str = "ntk"):
        W0 = np.asarray(W0)
        dtype = W0.dtype if W0.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        W0 = np.ascontiguousarray(W0, dtype=dtype)
        dW = np.ascontiguousarray(dW, dtype=dtype)
        b0 = np.ascontiguousarray(b0, dtype=dtype)
        if W0.ndim != 2 or dW.shape != W0.shape or b0.shape != (W0.shape[0],):
            raise ValueError(f"The 'W0', 'dW' and 'b0' parameters of NTKModel must have shapes "
                             f"(width, input_dim), (width, input_dim), (width,). Got {W0.shape}, "
                             f"{dW.shape}, {b0.shape} instead.")
        if not (np.all(np.isfinite(W0)) and np.all(np.isfinite(dW)) and np.all(np.isfinite(b0))):
            raise ValueError("The 'W0', 'dW' and 'b0' parameters of NTKModel must be finite. "
                             "Got NaN or inf.")
        self.W0, self.dW, self.b0 = W0, dW, b0
        self.W = W0 + dW  # the input gradient's weights (dense form): fixed with the model
        self.batch_size = int(batch_size)
        self.name = name
        self.history: dict = {}
        self.seconds = 0.0

    @classmethod
    def at_init(cls, W0, net_cfg, **kw) -> "NTKModel":
        """ΔW = 0 and b0 = thresholds(W0) under the network's threshold rule."""
        W0 = np.ascontiguousarray(W0, dtype=net_cfg.dtype)
        b0 = thresholds(W0, net_cfg.threshold_rule, net_cfg.threshold, net_cfg.fixed_bias)
        return cls(W0, np.zeros_like(W0), b0, **kw)

    def with_update(self, dW, name=None) -> "NTKModel":
        """The same linearisation with another update ΔW."""
        return NTKModel(self.W0, dW, self.b0, batch_size=self.batch_size, name=name or self.name)

    @property
    def dtype(self):
        return self.W0.dtype

    @property
    def input_dim(self) -> int:
        return self.W0.shape[1]

    @property
    def width(self) -> int:
        return self.W0.shape[0]

    def _coerce(self, X):
        X = np.ascontiguousarray(X, dtype=self.dtype)
        if X.ndim != 2 or X.shape[1] != self.input_dim:
            raise ValueError(f"X must have shape (n_samples, {self.input_dim}). Got {X.shape}.")
        return X

    def gates(self, X) -> np.ndarray:
        """The frozen activation pattern 1{|⟨w0_i, x⟩| > b0_i}, shape (n_samples, width), bool."""
        return np.abs(self._coerce(X) @ self.W0.T) > self.b0[None, :]

    def decision_function(self, X) -> np.ndarray:
        """f_lin(X), shape (n_samples,), float64."""
        X = self._coerce(X)
        out = np.empty(X.shape[0])
        for s in range(0, X.shape[0], self.batch_size):
            sl = slice(s, s + self.batch_size)
            linearised_decision_function(self.W0, self.dW, self.b0, X[sl], out=out[sl])
        return out

    def margin_gradient(self, X, y):
        """(f_lin, ∇_x(−y f_lin)) with shapes (n_samples,), (n_samples, input_dim)."""
        X = self._coerce(X)
        y = np.ascontiguousarray(y, dtype=self.dtype)
        f = np.empty(X.shape[0])
        G = np.empty_like(X)
        for s in range(0, X.shape[0], self.batch_size):
            sl = slice(s, s + self.batch_size)
            linearised_margin_gradient(self.W0, self.dW, self.b0, X[sl], y[sl], W=self.W,
                                       f_out=f[sl], G_out=G[sl])
        return f, G

    def predict(self, X) -> np.ndarray:
        return np.where(self.decision_function(X) > 0, 1.0, -1.0)


def _descend(model: NTKModel, problem, *, steps, batch_size, step_size, radius, norm, rng,
             phase):
    """Online gradient descent on ΔW (logistic loss at x, or at the FGM point x + δ)."""
    W0, b0 = model.W0, model.b0
    dW = model.dW.copy()
    lr = dW.dtype.type(step_size)
    losses = np.empty(steps)
    for step in range(steps):
        batch = problem.sample(batch_size, rng)
        X = np.ascontiguousarray(batch.X, dtype=dW.dtype)
        y = np.ascontiguousarray(batch.y, dtype=dW.dtype)
        if radius > 0:
            _, G = linearised_margin_gradient(W0, dW, b0, X, y)
            X = X + steepest_step(G, radius, norm)
        loss, grad, _ = linearised_loss_and_gradient(W0, dW, b0, X, y)
        losses[step] = loss
        grad *= lr
        dW -= grad
        if not (np.isfinite(loss) and np.all(np.isfinite(dW))):
            raise FloatingPointError(f"NTK {phase} training diverged at step {step}: lower the "
                                     f"step size (got {step_size!r}).")
    return dW, losses


def fit_ntk(problem, W0, net_cfg, *, steps: int, batch_size: int, step_size: float,
            adv_steps: int = 0, adv_step_size: float | None = None, radius: float = 0.0,
            norm: str = "l2", rng: np.random.Generator, name: str = "ntk",
            clean: NTKModel | None = None) -> NTKModel:
    """Train the NTK model: clean steps from ΔW = 0, then FGM steps from the clean ΔW.

    Parameters
    ----------
    problem : SparseCodingProblem
    W0 : ndarray, shape (width, input_dim), the network's initialisation
    net_cfg : NetworkConfig (threshold rule and dtype)
    steps, batch_size, step_size : clean online gradient descent
    adv_steps, adv_step_size : FGM adversarial training (skipped when radius is 0)
    radius, norm : FGM radius in ``norm``
    rng : generator of the training batches
    clean : optional, a model this function trained from the same problem, W0, net_cfg, clean
        budget and generator state (any radius).  Its clean ΔW is taken instead of repeating
        the clean phase, and ``rng`` is moved to where that phase left it, so the result is
        identical (see :mod:`simulator.lower_bounds.reuse`).

    Returns
    -------
    NTKModel with ``history['clean']`` and ``history['adversarial']`` the batch losses.
    """
    radius = _check_radius(radius, "fit_ntk")
    _check_norm(norm, "fit_ntk")
    t0 = time.perf_counter()
    model = NTKModel.at_init(W0, net_cfg, name=name)
    record = clean_record(problem, rng, W0=digest(model.W0, model.b0), steps=steps,
                          batch_size=batch_size, step_size=step_size)
    if clean is None:
        dW, clean_losses = _descend(model, problem, steps=steps, batch_size=batch_size,
                                    step_size=step_size, radius=0.0, norm=norm, rng=rng,
                                    phase="clean")
        rng_after_clean = copy.deepcopy(rng.bit_generator.state)
        clean_seconds = time.perf_counter() - t0
    else:
        check_clean(clean, record, "fit_ntk", NTKModel)
        dW, clean_losses = clean.clean_dW.copy(), clean.history["clean"]
        rng_after_clean = clean.rng_after_clean
        rng.bit_generator.state = copy.deepcopy(rng_after_clean)
        clean_seconds = clean.clean_seconds
    clean_dW = dW
    t_adv = time.perf_counter()
    adv = np.empty(0)
    if radius > 0 and adv_steps > 0:
        model = model.with_update(dW)
        dW, adv = _descend(model, problem, steps=adv_steps, batch_size=batch_size,
                           step_size=step_size if adv_step_size is None else adv_step_size,
                           radius=radius, norm=norm, rng=rng, phase="adversarial")
    model = model.with_update(dW, name=name)
    model.history = {"clean": clean_losses, "adversarial": adv}
    # what another fit needs to take this clean phase (see the 'clean' parameter)
    model.clean_record, model.rng_after_clean, model.clean_dW = record, rng_after_clean, clean_dW
    model.clean_seconds = clean_seconds
    model.seconds = clean_seconds + (time.perf_counter() - t_adv)  # the clean phase included
    return model
