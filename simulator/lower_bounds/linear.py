"""Linear classifiers f(x) = ⟨w, x⟩: the simplest lower-bound model (docs/model.md, claim 3).

For a linear model the inner maximisation of adversarial training is exact: over the ball
‖δ‖ ≤ r the smallest margin is

    min_δ y⟨w, x + δ⟩ = y⟨w, x⟩ − r‖w‖_*,

with ‖·‖_* the dual norm (‖w‖₂ for the ℓ2 ball, ‖w‖₁ for the ℓ∞ ball), reached at
δ = −y r w/‖w‖₂ (ℓ2) or δ = −y r sign(w) (ℓ∞).  So robust accuracy is available in closed
form, and robust training minimises the exact robust logistic loss
softplus(−y⟨w, x⟩ + r‖w‖_*).  There is no bias: the data are symmetric under (x, y) ↦ (−x, −y).

The best linear classifier of this data model is the label direction M w*
(:func:`oracle_linear`); its robust radius is about |⟨w*, z⟩|/√d, which shrinks with d.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.special import expit

from ..norms import NORM, dual_norm, dual_norm_subgradient
from ..validation import RADIUS, check_param


def _check_norm(norm, owner):
    return check_param(owner, "norm", norm, NORM)


def _check_radius(radius, owner):
    return check_param(owner, "radius", radius, RADIUS)


def logistic_loss_and_slope(u: np.ndarray):
    """softplus(u) = log(1 + eᵘ) and its derivative σ(u), both numerically stable."""
    return np.logaddexp(0.0, u), expit(u)


class LinearModel:
    """f(x) = ⟨w, x⟩, with the attack protocol of :mod:`simulator.network`.

    Parameters
    ----------
    w : ndarray, shape (input_dim,)
    name : str

    Attributes
    ----------
    history : dict phase -> ndarray of the mean batch loss at each training step (empty if
        the model was not trained)
    seconds : wall time of training
    """

    def __init__(self, w, name: str = "linear"):
        w = np.asarray(w, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"The 'w' parameter of LinearModel must be a 1-d array (input_dim,). "
                             f"Got shape {w.shape} instead.")
        if not np.all(np.isfinite(w)):
            raise ValueError("The 'w' parameter of LinearModel must be finite. Got NaN or inf.")
        self.w = np.ascontiguousarray(w)
        self.name = name
        self.history: dict = {}
        self.seconds = 0.0

    @property
    def input_dim(self) -> int:
        return self.w.shape[0]

    def _coerce(self, X):
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.input_dim:
            raise ValueError(f"X must have shape (n_samples, {self.input_dim}). Got {X.shape}.")
        return X

    def decision_function(self, X) -> np.ndarray:
        """f(X) = X w, shape (n_samples,), float64."""
        return self._coerce(X) @ self.w

    def margin_gradient(self, X, y):
        """(f, ∇_x(−y f)) = (X w, −y wᵀ), shapes (n_samples,), (n_samples, input_dim)."""
        f = self.decision_function(X)
        y = np.asarray(y, dtype=np.float64)
        return f, -y[:, None] * self.w[None, :]

    def robust_margin(self, X, y, radius: float, norm: str) -> np.ndarray:
        """The exact worst-case margin min_{‖δ‖≤r} y⟨w, x + δ⟩ = y⟨w, x⟩ − r‖w‖_*, per sample."""
        radius = _check_radius(radius, "LinearModel.robust_margin")
        y = np.asarray(y, dtype=np.float64)
        return y * self.decision_function(X) - radius * dual_norm(self.w, norm)

    def exact_robust_accuracy(self, X, y, radius: float, norm: str) -> float:
        """Share of samples whose exact worst-case margin is positive (closed form, no attack).

        At radius 0 this is the clean accuracy, with the attacks' convention that a margin of
        exactly 0 counts as an error.
        """
        return float(np.mean(self.robust_margin(X, y, radius, norm) > 0))

    def worst_perturbation(self, y, radius: float, norm: str) -> np.ndarray:
        """The δ that reaches the worst-case margin, shape (n_samples, input_dim)."""
        y = np.asarray(y, dtype=np.float64)
        if _check_norm(norm, "LinearModel.worst_perturbation") == "l2":
            n = np.sqrt(self.w @ self.w)
            u = self.w / n if n > 0 else np.zeros_like(self.w)
        else:
            u = np.sign(self.w)
        return -radius * y[:, None] * u[None, :]

    def predict(self, X) -> np.ndarray:
        return np.where(self.decision_function(X) > 0, 1.0, -1.0)


def exact_robust_accuracy(model: LinearModel, X, y, radius: float, norm: str) -> float:
    """Functional form of :meth:`LinearModel.exact_robust_accuracy`."""
    return model.exact_robust_accuracy(X, y, radius, norm)


def robust_logistic_loss(w, X, y, radius: float, norm: str) -> float:
    """Mean exact robust logistic loss softplus(−y⟨w, x⟩ + r‖w‖_*) over the samples."""
    w = np.asarray(w, dtype=np.float64)
    u = -np.asarray(y, dtype=np.float64) * (np.asarray(X, dtype=np.float64) @ w)
    u += _check_radius(radius, "robust_logistic_loss") * dual_norm(w, norm)
    return float(np.logaddexp(0.0, u).mean())


def fit_linear(problem, *, radius: float, norm: str, steps: int, batch_size: int,
               step_size: float, rng: np.random.Generator, name: str = "linear") -> LinearModel:
    """Logistic regression by online SGD on the exact robust loss, from w = 0.

    Each step draws a fresh batch from ``problem.sample`` and descends
    softplus(−y⟨w, x⟩ + r‖w‖_*) (mean over the batch); radius 0 is clean training.  The
    loss is convex in w and the inner maximisation is exact, so this is adversarial training
    with the strongest possible attack.

    Parameters
    ----------
    problem : SparseCodingProblem
    radius : ball radius in ``norm`` (use :func:`simulator.perturb.radius_in_norm`)
    norm : 'l2' or 'linf'
    steps, batch_size : SGD budget
    step_size : η.  E[x xᵀ] ≈ (k/d + σ²/d)·I, so the loss curvature is at most about k/(4d)
        and η of order d/k is stable.
    rng : generator of the training batches

    Returns
    -------
    LinearModel whose w is the average of the second half of the iterates (tail averaging:
    near the robust optimum, which sits close to w = 0 once r exceeds the typical margin per
    unit ‖w‖, the last iterate is dominated by SGD noise), with ``history['train']`` the mean
    batch robust loss of the iterates at each step.
    """
    radius = _check_radius(radius, "fit_linear")
    _check_norm(norm, "fit_linear")
    d = problem.config.input_dim
    w = np.zeros(d)
    w_sum = np.zeros(d)
    tail = steps // 2  # iterates averaged: the second half
    losses = np.empty(steps)
    t0 = time.perf_counter()
    for step in range(steps):
        batch = problem.sample(batch_size, rng)
        X = batch.X.astype(np.float64, copy=False)
        y = batch.y.astype(np.float64, copy=False)
        u = -y * (X @ w) + radius * dual_norm(w, norm)
        loss, slope = logistic_loss_and_slope(u)
        losses[step] = loss.mean()
        grad = -((slope * y) @ X) / batch_size
        if radius > 0:
            grad += (radius * slope.mean()) * dual_norm_subgradient(w, norm)
        w -= step_size * grad
        if not np.all(np.isfinite(w)):
            raise FloatingPointError(f"fit_linear diverged at step {step}: lower step_size "
                                     f"(got {step_size!r}).")
        if step >= tail:
            w_sum += w
    if steps > 0:
        w = w_sum / (steps - tail)
    model = LinearModel(w, name=name)
    model.history = {"train": losses}
    model.seconds = time.perf_counter() - t0
    return model


def oracle_linear(problem, name: str = "linear_oracle") -> LinearModel:
    """The best linear classifier of the data model: w = M w* (the label direction)."""
    return LinearModel(problem.label_direction.astype(np.float64), name=name)
