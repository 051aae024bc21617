"""Clean and adversarial training drivers (docs/model.md, "Training").

Plain-Python loops around the fused kernels of :mod:`simulator.network`: the schedule,
progress bar, snapshots and NaN detection live here; the numerics live in the kernels.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from .config import ConfigError, NetworkConfig, TrainConfig
from .feature_path import FeatureCoordinates, code_batches, use_feature_path
from .interrupts import checkpoint
from .kernels import network as K
from .network import logistic_step, margin_gradient, thresholds, weight_limit, weights_in_range
from .norms import project, radius_in_norm, random_in_ball, steepest_step


class TrainingDivergedError(FloatingPointError):
    """The loss or the weights became NaN, infinite or too large to compute with; training stopped."""


# Steps whose losses are kept one per step (8 MB of float64).  Longer phases keep one loss
# per ``stride`` steps, the loss just before every snapshot and the exact mean of the last
# tenth (what curves.csv and the cells' final losses read): memory stays bounded when the
# step count is not (a per-step array at 10¹² steps is 8 TB).
LOSS_HISTORY_CAP = 2**20


class LossHistory:
    """The losses of a phase longer than :data:`LOSS_HISTORY_CAP` steps, in bounded memory.

    Indexing by step gives the exact loss of that step where it was kept (every
    ``stride``-th step and the step before each snapshot); :meth:`tail_mean` is the exact
    mean of the last tenth of the steps (float64 running sum), as ``losses[-n // 10:].mean()``
    of a full history up to rounding.  ``np.asarray`` gives the kept strided values.
    """

    def __init__(self, steps: int, snapshot_every: int):
        self.steps = int(steps)
        self.stride = -(-self.steps // LOSS_HISTORY_CAP)
        self.strided = np.empty(-(-self.steps // self.stride))
        self.snapshot_every = int(snapshot_every)
        self.before_snapshot: dict = {}
        self.tail_start = self.steps - max(1, self.steps // 10)
        self._tail_sum = 0.0

    def __len__(self) -> int:
        return self.steps

    def __setitem__(self, step: int, loss: float) -> None:
        if step % self.stride == 0:
            self.strided[step // self.stride] = loss
        every = self.snapshot_every
        if every > 0 and ((step + 1) % every == 0 or step + 1 == self.steps):
            self.before_snapshot[step] = loss
        if step >= self.tail_start:
            self._tail_sum += float(loss)

    def __getitem__(self, step) -> float:
        step = int(step)
        if step < 0:
            step += self.steps
        if step in self.before_snapshot:
            return self.before_snapshot[step]
        if 0 <= step < self.steps and step % self.stride == 0:
            return float(self.strided[step // self.stride])
        raise IndexError(f"the loss of step {step} was not kept (one loss per {self.stride} "
                         f"steps of {self.steps}, and the step before each snapshot).")

    def __array__(self, dtype=None, copy=None):
        return self.strided if dtype is None else self.strided.astype(dtype)

    def tail_mean(self) -> float:
        return self._tail_sum / (self.steps - self.tail_start)


def loss_history(steps: int, snapshot_every: int):
    """A per-step float64 array up to :data:`LOSS_HISTORY_CAP` steps, a :class:`LossHistory` beyond."""
    if steps <= LOSS_HISTORY_CAP:
        return np.empty(steps)
    return LossHistory(steps, snapshot_every)


@dataclass
class PhaseState:
    """What a phase trained in several calls carries from one call to the next.

    Passed as ``state=`` to :func:`train_clean` / :func:`train_adversarial` by a driver that
    trains one phase in chunks (:mod:`simulator.stopping`): the batch source (so that a finite
    training set is drawn once, as in one call) and, on the feature path, the weights in
    feature coordinates (so that W is not converted to C = W M and back between chunks, a
    round trip that rounds).  With it, chunks of n₁, n₂, … steps give the bytes of one call
    of n₁ + n₂ + … steps.  The first call fills it; later calls continue from it.
    """

    batches: object = None
    model: object = None


@dataclass
class TrainResult:
    """Weights and history of one training phase.

    Attributes
    ----------
    W : ndarray, shape (width, input_dim), the final weights
    losses : ndarray, shape (steps,), mean batch loss at each step (at x + δ when adversarial);
        a :class:`LossHistory` (bounded memory) when steps > :data:`LOSS_HISTORY_CAP`
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


def _batch_source(problem, train_cfg: TrainConfig, rng, state: PhaseState | None) -> _BatchSource:
    """A new batch source, or the one ``state`` carries from an earlier chunk of the phase."""
    if state is not None and state.batches is not None:
        return state.batches
    src = _BatchSource(problem, train_cfg.batch_size, train_cfg.train_size, rng)
    if state is not None:
        state.batches = src
    return src


def _step_size_name(phase: str) -> str:
    return "train.step_size" if phase == "clean" else "train.adv_step_size"


def _check_finite(loss: float, weights_finite, phase: str, step: int, step_size=None) -> None:
    """Raise when the loss is not finite or the weights are out of range (``weights_finite()``
    tells: finite and within :func:`weight_limit`)."""
    if not np.isfinite(loss) or not weights_finite():
        name = _step_size_name(phase)
        value = "" if step_size is None else f" = {step_size!r}"
        raise TrainingDivergedError(
            f"{phase} training diverged at step {step}: the loss is {loss!r} or the weights "
            f"are not finite or beyond ±{weight_limit(np.float32):.3g} (float32; "
            f"±{weight_limit(np.float64):.3g} in float64). Lower the step size "
            f"({name}{value})."
        )


def _diverged(exc: FloatingPointError, phase: str, step: int, step_size) -> TrainingDivergedError:
    """A numpy overflow / invalid-value error inside a step, as a divergence of the phase."""
    return TrainingDivergedError(
        f"{phase} training diverged at step {step}: {exc} (numpy floating-point error). "
        f"Lower the step size ({_step_size_name(phase)} = {step_size!r}).")


def _is_snapshot_step(step: int, every: int) -> bool:
    """Snapshots at every multiple of ``every`` (and at the last step, see the drivers):
    decided by arithmetic, so nothing proportional to the step count is built."""
    return every > 0 and step % every == 0


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
                rng: np.random.Generator, *, state: PhaseState | None = None) -> TrainResult:
    """Logistic-loss gradient descent on clean data, from W0 (not modified).

    Online SGD with a fresh batch every step, or full-batch GD when ``train_size`` is set.
    With noiseless data and an orthogonal dictionary (and ``feature_path`` not 'off') the
    steps run in feature coordinates C = W M on the sparse codes
    (:mod:`simulator.feature_path`): the same weights up to rounding, at O(n·k·width) a step.

    ``state``: a :class:`PhaseState` shared by consecutive calls that train one phase in
    chunks (W0 of each later call is the previous call's ``W``; on the feature path the
    weights continue from the state's feature coordinates).
    """
    W = np.array(W0, dtype=net_cfg.dtype, order="C", copy=True)
    lr = W.dtype.type(train_cfg.step_size)
    on_features = use_feature_path(train_cfg.feature_path, problem)
    if on_features:
        if state is not None and state.model is not None:
            model, batches = state.model, state.batches
        else:
            model = FeatureCoordinates(W, problem.M)
            batches = code_batches(problem, train_cfg.batch_size, train_cfg.train_size, rng)
            if state is not None:
                state.model, state.batches = model, batches

        def step_on_next_batch():
            Z, y = next(batches)
            return model.clean_step(Z, y, net_cfg, lr)

        def weights_finite():  # ‖w_i‖ = ‖C_i‖ bounds every |w_ij|: no pass over Ct
            return bool(model.norms.max() <= weight_limit(model.dtype)) and model.weights_finite()

        current_weights = model.weights
    else:
        src = _batch_source(problem, train_cfg, rng, state)

        def step_on_next_batch():
            X, y = src.next()
            return clean_step(W, X, y, net_cfg, lr)

        weights_finite, current_weights = (lambda: weights_in_range(W)), W.copy
    steps, every = train_cfg.clean_steps, train_cfg.snapshot_every
    losses = loss_history(steps, every)
    result = TrainResult(W=W, losses=losses)
    t0 = time.perf_counter()
    for step in tqdm(range(steps), desc="clean training", disable=not train_cfg.progress,
                     leave=False, mininterval=1.0):
        checkpoint()  # a Ctrl-C swallowed by a finaliser stops the run here
        if _is_snapshot_step(step, every):  # W itself before the first step: exact even on the feature path
            result.snapshots[step] = current_weights() if step else W.copy()
        try:
            with np.errstate(over="raise", invalid="raise"):
                loss = step_on_next_batch()
        except FloatingPointError as exc:
            raise _diverged(exc, "clean", step, train_cfg.step_size) from None
        losses[step] = loss
        _check_finite(loss, weights_finite, "clean", step, train_cfg.step_size)
    if on_features and steps > 0:
        result.W = current_weights()
    if every > 0:
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
                      rng: np.random.Generator, attack_rng: np.random.Generator, *,
                      state: PhaseState | None = None) -> TrainResult:
    """Adversarial training from given weights: each step perturbs the batch, then descends.

    The perturbation is FGM (ℓ2: δ = τ g/‖g‖; ℓ∞: δ = τ∞ sign g) or PGD, at the training
    radius ``adv_tau`` (ℓ2 units; the ℓ∞ radius is τ/√d).  With ``train_cfg.adv_rank`` set,
    the update is constrained to rank r: :func:`simulator.low_rank.train_low_rank` (which
    does not take ``state``).  ``state``: see :func:`train_clean`.
    """
    if train_cfg.adv_rank is not None:
        from .low_rank import train_low_rank  # imports this module: loaded on demand

        if state is not None:  # the factors restart at every call: windows would not chain
            raise ConfigError("A stopping rule does not apply to low-rank adversarial training "
                              "(train.adv_rank): give fixed train.adv_steps.")
        return train_low_rank(W_start, problem, net_cfg, train_cfg, rng, attack_rng)
    W = np.array(W_start, dtype=net_cfg.dtype, order="C", copy=True)
    lr = W.dtype.type(train_cfg.adv_step_size)
    src = _batch_source(problem, train_cfg, rng, state)
    radius = radius_in_norm(train_cfg.adv_tau, train_cfg.adv_norm, W.shape[1])
    steps, every = train_cfg.adv_steps, train_cfg.snapshot_every
    losses = loss_history(steps, every)
    result = TrainResult(W=W, losses=losses)
    t0 = time.perf_counter()
    for step in tqdm(range(steps), desc=f"{train_cfg.adv_attack} training",
                     disable=not train_cfg.progress, leave=False, mininterval=1.0):
        checkpoint()
        if _is_snapshot_step(step, every):
            result.snapshots[step] = W.copy()
        X, y = src.next()
        try:
            with np.errstate(over="raise", invalid="raise"):
                loss = adversarial_step(W, X, y, net_cfg, lr, radius, train_cfg.adv_norm,
                                        train_cfg.adv_attack, train_cfg.adv_pgd_steps, attack_rng)
        except FloatingPointError as exc:
            raise _diverged(exc, "adversarial", step, train_cfg.adv_step_size) from None
        losses[step] = loss
        _check_finite(loss, lambda: weights_in_range(W), "adversarial", step,
                      train_cfg.adv_step_size)
    if every > 0:
        result.snapshots[steps] = W.copy()
    result.seconds = time.perf_counter() - t0
    return result
