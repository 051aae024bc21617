"""Clean and adversarial training drivers (MODEL.md, "Training").

Plain-Python loops around the fused kernels of :mod:`simulator.network`: the schedule,
progress bar, snapshots and NaN detection live here; the numerics live in the kernels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from .config import NetworkConfig, TrainConfig
from .features import FeatureCoordinates, code_batches, use_feature_path
from .kernels import network as K
from .network import logistic_step, margin_gradient, thresholds
from .perturb import project, radius_in_norm, random_in_ball, steepest_step


class TrainingDivergedError(FloatingPointError):
    """The loss or the weights became NaN or infinite; training stopped."""


@dataclass
class TrainResult:
    """Weights and history of one training phase.

    Attributes
    ----------
    W : ndarray, shape (width, input_dim), the final weights
    losses : ndarray, shape (steps,), mean batch loss at each step (at x + δ when adversarial)
    snapshots : dict step -> W copy, at the snapshot steps (step 0 and the last included)
    seconds : wall time of the phase
    """

    W: np.ndarray
    losses: np.ndarray
    snapshots: dict = field(default_factory=dict)
    seconds: float = 0.0


class _BatchSource:
    """A fresh batch per step (online) or the whole finite training set every step."""

    def __init__(self, problem, batch_size, train_size, rng):
        self.problem = problem
        self.batch_size = batch_size
        self.rng = rng
        self.fixed = None if train_size is None else problem.sample(train_size, rng)

    def next(self):
        if self.fixed is not None:
            return self.fixed.X, self.fixed.y
        b = self.problem.sample(self.batch_size, self.rng)
        return b.X, b.y


def _check_finite(loss: float, weights_finite, phase: str, step: int) -> None:
    """Raise when the loss or a weight is not finite; ``weights_finite()`` tells the latter."""
    if not np.isfinite(loss) or not weights_finite():
        raise TrainingDivergedError(
            f"{phase} training diverged at step {step}: the loss is {loss!r} or the weights "
            f"are not finite. Lower the step size (train.step_size / train.adv_step_size)."
        )


def _snapshot_steps(steps: int, every: int) -> set:
    if every <= 0:
        return set()
    return set(range(0, steps, every)) | {steps}


def clean_step(W, X, y, net_cfg: NetworkConfig, lr, kernels=K) -> float:
    """One gradient step on the mean logistic loss, in place on W; returns the loss."""
    b = thresholds(W, net_cfg.threshold_rule, net_cfg.threshold, net_cfg.fixed_bias, kernels)
    return logistic_step(W, b, X, y, lr, kernels)


def adversarial_step(W, X, y, net_cfg: NetworkConfig, lr, radius, norm, attack="fgm",
                     pgd_steps=5, rng=None, kernels=K) -> float:
    """Perturb the batch (FGM or PGD at ``radius``), then one gradient step at x + δ, in place."""
    b = thresholds(W, net_cfg.threshold_rule, net_cfg.threshold, net_cfg.fixed_bias, kernels)
    Xa = adversarial_examples(W, b, X, y, radius, norm, attack, pgd_steps, rng, kernels)
    return logistic_step(W, b, Xa, y, lr, kernels)


def train_clean(W0, problem, net_cfg: NetworkConfig, train_cfg: TrainConfig,
                rng: np.random.Generator) -> TrainResult:
    """Logistic-loss gradient descent on clean data, from W0 (not modified).

    Online SGD with a fresh batch every step, or full-batch GD when ``train_size`` is set.
    With noiseless data and an orthogonal dictionary (and ``feature_path`` not 'off') the
    steps run in feature coordinates C = W M on the sparse codes
    (:mod:`simulator.features`): the same weights up to rounding, at O(n·k·width) a step.
    """
    W = np.array(W0, dtype=net_cfg.dtype, order="C", copy=True)
    lr = W.dtype.type(train_cfg.step_size)
    on_features = use_feature_path(train_cfg.feature_path, problem)
    if on_features:
        model = FeatureCoordinates(W, problem.M)
        batches = code_batches(problem, train_cfg.batch_size, train_cfg.train_size, rng)

        def step_on_next_batch():
            Z, y = next(batches)
            return model.clean_step(Z, y, net_cfg, lr)

        weights_finite, current_weights = model.weights_finite, model.weights
    else:
        src = _BatchSource(problem, train_cfg.batch_size, train_cfg.train_size, rng)

        def step_on_next_batch():
            X, y = src.next()
            return clean_step(W, X, y, net_cfg, lr)

        weights_finite, current_weights = (lambda: np.isfinite(W).all()), W.copy
    steps = train_cfg.clean_steps
    snaps = _snapshot_steps(steps, train_cfg.snapshot_every)
    losses = np.empty(steps)
    result = TrainResult(W=W, losses=losses)
    t0 = time.perf_counter()
    for step in tqdm(range(steps), desc="clean training", disable=not train_cfg.progress,
                     leave=False, mininterval=1.0):
        if step in snaps:  # W itself before the first step: exact even on the feature path
            result.snapshots[step] = current_weights() if step else W.copy()
        loss = step_on_next_batch()
        losses[step] = loss
        _check_finite(loss, weights_finite, "clean", step)
    if on_features and steps > 0:
        result.W = current_weights()
    if steps in snaps:
        result.snapshots[steps] = result.W.copy()
    result.seconds = time.perf_counter() - t0
    return result


def adversarial_examples(W, b, X, y, radius, norm, attack="fgm", pgd_steps=5, rng=None, kernels=K):
    """Training-time perturbations x + δ (FGM, or PGD with a random start).

    Parameters
    ----------
    W : ndarray (width, input_dim); b : ndarray (width,); X : (n_samples, input_dim); y : (n_samples,)
    radius : ball radius in ``norm``.
    """
    if radius == 0:
        return X
    if attack == "fgm":
        _, G = margin_gradient(W, b, X, y, kernels)
        X = X + steepest_step(G, radius, norm)
        return X
    step = 2.5 * radius / pgd_steps  # Madry et al.'s rule: the walk can cross the ball
    delta = random_in_ball(X.shape, radius, norm, rng, X.dtype)
    for _ in range(pgd_steps):
        _, G = margin_gradient(W, b, X + delta, y, kernels)
        delta += steepest_step(G, step, norm)
        project(delta, radius, norm)
    return X + delta


def train_adversarial(W_start, problem, net_cfg: NetworkConfig, train_cfg: TrainConfig,
                      rng: np.random.Generator, attack_rng: np.random.Generator) -> TrainResult:
    """Adversarial training from given weights: each step perturbs the batch, then descends.

    The perturbation is FGM (ℓ2: δ = τ g/‖g‖; ℓ∞: δ = τ∞ sign g) or PGD, at the training
    radius ``adv_tau`` (ℓ2 units; the ℓ∞ radius is τ/√d).  With ``train_cfg.adv_rank`` set,
    the update is constrained to rank r: :func:`simulator.low_rank.train_low_rank`.
    """
    if train_cfg.adv_rank is not None:
        from .low_rank import train_low_rank  # imports this module: loaded on demand

        return train_low_rank(W_start, problem, net_cfg, train_cfg, rng, attack_rng)
    W = np.array(W_start, dtype=net_cfg.dtype, order="C", copy=True)
    lr = W.dtype.type(train_cfg.adv_step_size)
    src = _BatchSource(problem, train_cfg.batch_size, train_cfg.train_size, rng)
    radius = radius_in_norm(train_cfg.adv_tau, train_cfg.adv_norm, W.shape[1])
    steps = train_cfg.adv_steps
    snaps = _snapshot_steps(steps, train_cfg.snapshot_every)
    losses = np.empty(steps)
    result = TrainResult(W=W, losses=losses)
    t0 = time.perf_counter()
    for step in tqdm(range(steps), desc=f"{train_cfg.adv_attack} training",
                     disable=not train_cfg.progress, leave=False, mininterval=1.0):
        if step in snaps:
            result.snapshots[step] = W.copy()
        X, y = src.next()
        loss = adversarial_step(W, X, y, net_cfg, lr, radius, train_cfg.adv_norm,
                                train_cfg.adv_attack, train_cfg.adv_pgd_steps, attack_rng)
        losses[step] = loss
        _check_finite(loss, lambda: np.isfinite(W).all(), "adversarial", step)
    if steps in snaps:
        result.snapshots[steps] = W.copy()
    result.seconds = time.perf_counter() - t0
    return result
