"""Train a phase until it stops improving: a stated stopping rule instead of a fixed budget.

The paper's claims are asymptotic in d (docs/model.md), and a fixed step budget at every d
bends a trend: the largest networks are the least converged.  A :class:`StoppingRule` trains
each phase in windows of ``window`` steps and stops when

* the mean training loss of a window improved on the previous window's by less than
  ``rel_tol`` (relative), and — in the adversarial phase —
* the robust accuracy at the training radius on a small held-out set (stream
  ``monitor_data``) rose by no more than ``robust_tol`` above the best value seen so far,

for ``patience`` windows in a row, once ``min_steps`` have run; it stops at ``max_steps``
(default: the phase's budget in :class:`~simulator.config.TrainConfig`) in any case.  Both
conditions must hold in the adversarial phase: its loss at x + δ can flatten while
purification (and robust accuracy) still moves, and a noisy held-out figure alone could stop
a phase whose loss is still falling.

The driver calls :func:`simulator.training.train_clean` / :func:`~simulator.training.
train_adversarial` once per window with the same generators and one
:class:`~simulator.training.PhaseState`, so the online batches continue one stream: a phase
stopped after N steps has the bytes (weights, losses, snapshots) of a fixed-budget phase of N
steps.  The decision is a pure function of the window means (:class:`PlateauMonitor`),
testable on synthetic curves (:func:`steps_until_stop`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .config import ConfigError, Interval, NetworkConfig, TrainConfig, _ConfigMixin, _err
from .training import (LOSS_HISTORY_CAP, PhaseState, TrainResult, train_adversarial,
                       train_clean)

PHASES = ("clean", "adversarial")
PLATEAU, MAX_STEPS = "plateau", "max_steps"  # why a phase stopped


@dataclass(frozen=True, kw_only=True)
class StoppingRule(_ConfigMixin):
    """When a training phase stops (module docstring); one rule serves both phases."""

    # 250 = the default snapshot_every (windows must hold whole snapshot intervals); at batch
    # 512 a window averages 128k fresh samples, so its mean loss is not noise-dominated
    window: int = 250
    # a window counts as no progress when its mean loss is < 2% below the previous window's;
    # on a 1/t tail (separable data) that happens near t ≈ window / rel_tol = 12 500 steps
    rel_tol: float = 0.02
    patience: int = 2  # windows in a row without progress: one flat window can be noise
    min_steps: int = 500  # the first windows of a phase move fast but unevenly
    max_steps: int | None = None  # None: the phase's budget (train.clean_steps / adv_steps)
    # held-out robust accuracy must beat its best so far by more than this (5 points of 1000)
    robust_tol: float = 0.005
    monitor_size: int = 1024  # held-out points: ±0.015 sampling error, fixed across windows
    monitor_pgd_steps: int = 10  # FGM, dense, feature attacks + 10 PGD steps from x: cheap

    _CONSTRAINTS = {
        "window": Interval("int", 1, None),
        "rel_tol": Interval("float", 0, 1),
        "patience": Interval("int", 1, None),
        "min_steps": Interval("int", 0, LOSS_HISTORY_CAP),
        # per-step losses are kept as one array: a cap keeps that bounded (8 MB)
        "max_steps": Interval("int", 1, LOSS_HISTORY_CAP, allow_none=True),
        "robust_tol": Interval("float", 0, 1),
        "monitor_size": Interval("int", 1, None),
        "monitor_pgd_steps": Interval("int", 0, None),
    }

    def _check_relations(self) -> None:
        if self.max_steps is not None and self.min_steps > self.max_steps:
            raise _err("StoppingRule", "min_steps",
                       f"an int in the range [0, max_steps={self.max_steps}]", self.min_steps)

    def cap(self, budget: int) -> int:
        """The most steps a phase may take: ``max_steps``, or the phase's own ``budget``."""
        return int(budget if self.max_steps is None else self.max_steps)


@dataclass
class StoppedTrainResult(TrainResult):
    """A :class:`~simulator.training.TrainResult` of a phase run under a stopping rule.

    Attributes
    ----------
    steps : steps taken
    stop_reason : 'plateau' or 'max_steps'
    history : one dict per window: step (at its end), mean_loss, rel_improvement,
        robust_acc (adversarial phase; the entry of step 0 is the starting weights'),
        stalled (no progress in this window), stalled_run (windows in a row)
    """

    steps: int = 0
    stop_reason: str = ""
    history: list = field(default_factory=list)


class PlateauMonitor:
    """The stopping decision, window by window: a pure function of the window means.

    Parameters
    ----------
    rule : StoppingRule
    watch_robust : whether held-out robust accuracy enters the decision (adversarial phase)
    """

    def __init__(self, rule: StoppingRule, watch_robust: bool = False):
        self.rule = rule
        self.watch_robust = watch_robust
        self.history: list = []
        self._prev_loss = None
        self._best_robust = -math.inf
        self._run = 0

    def start(self, robust_acc: float) -> None:
        """The held-out robust accuracy of the starting weights (the baseline to beat)."""
        self._best_robust = float(robust_acc)
        self.history.append({"step": 0, "mean_loss": float("nan"), "rel_improvement": float("nan"),
                             "robust_acc": float(robust_acc), "stalled": False, "stalled_run": 0})

    def update(self, step: int, mean_loss: float, robust_acc: float | None = None) -> bool:
        """Record the window ending at ``step``; True when the phase should stop (plateau).

        The first window has no predecessor and never counts as stalled.
        """
        rule = self.rule
        if self._prev_loss is None:
            rel = float("nan")
            loss_stalled = False
        else:
            # relative to the previous window's loss; a loss of 0 cannot improve further
            scale = abs(self._prev_loss)
            rel = (self._prev_loss - mean_loss) / scale if scale > 0 else 0.0
            loss_stalled = rel < rule.rel_tol
        stalled = loss_stalled
        entry = {"step": int(step), "mean_loss": float(mean_loss), "rel_improvement": float(rel)}
        if self.watch_robust:
            if robust_acc is None:
                raise ValueError("PlateauMonitor.update: robust_acc is required when watch_robust")
            robust_stalled = robust_acc <= self._best_robust + rule.robust_tol
            self._best_robust = max(self._best_robust, float(robust_acc))
            stalled = stalled and robust_stalled
            entry["robust_acc"] = float(robust_acc)
        self._run = self._run + 1 if stalled else 0
        entry.update(stalled=bool(stalled), stalled_run=self._run)
        self.history.append(entry)
        self._prev_loss = float(mean_loss)
        return self._run >= rule.patience and step >= rule.min_steps


def steps_until_stop(losses: Sequence[float], rule: StoppingRule,
                     robust: Sequence[float] | None = None, budget: int | None = None) -> tuple:
    """Where the rule stops on a given per-step loss curve (no training): for tests and plots.

    Parameters
    ----------
    losses : per-step losses, shape (n_steps,); the phase may not run past them
    robust : held-out robust accuracy at step 0 and after each window (adversarial phase),
        shape (n_windows + 1,), or None
    budget : the phase's budget when ``rule.max_steps`` is None (default: len(losses))

    Returns
    -------
    (steps, stop_reason, history), as :class:`StoppedTrainResult`'s fields.
    """
    losses = np.asarray(losses, dtype=np.float64)
    cap = min(rule.cap(losses.size if budget is None else budget), losses.size)
    mon = PlateauMonitor(rule, watch_robust=robust is not None)
    if robust is not None:
        mon.start(robust[0])
    done, w = 0, 0
    while done < cap:
        n = min(rule.window, cap - done)
        done += n
        w += 1
        if mon.update(done, float(losses[done - n:done].mean()),
                      None if robust is None else float(robust[w])):
            return done, PLATEAU, mon.history
    return done, MAX_STEPS, mon.history


def held_out_robust_accuracy(W, net_cfg: NetworkConfig, problem, monitor, radius: float,
                             norm: str, pgd_steps: int) -> float:
    """Ensemble robust accuracy of the network W on the held-out batch ``monitor``.

    The evaluation ensemble (FGM, dense, feature attacks and PGD) with PGD from x only (no
    random restart: nothing random, so the figure moves only with W) and ``pgd_steps`` steps
    of 2.5·radius / pgd_steps (Madry et al.'s rule).

    Parameters
    ----------
    W : ndarray (width, input_dim)
    monitor : Batch (X, y, Z) from the ``monitor_data`` stream
    radius : in ``norm`` (the training radius)
    """
    from .attacks import AttackSettings, robust_accuracy_table
    from .network import ThresholdNetwork

    net = ThresholdNetwork.from_config(W, net_cfg)
    rel = min(2.0, 2.5 / pgd_steps) if pgd_steps > 0 else 0.1
    settings = AttackSettings(pgd_steps=pgd_steps, pgd_restarts=0, pgd_step_rel=rel)
    _, rows = robust_accuracy_table(net, problem, monitor, [radius], norm, settings, None, ())
    return next(r["robust_acc"] for r in rows if r["attack"] == "ensemble")


def check_rule_fits(rule: StoppingRule, train_cfg: TrainConfig) -> None:
    """Refuse a window that splits snapshot intervals: the snapshots of a stopped phase would
    not fall on a fixed-budget run's steps (ConfigError naming both parameters)."""
    every = train_cfg.snapshot_every
    if every > 0 and rule.window % every:
        raise ConfigError(
            f"The 'window' parameter of StoppingRule must be a multiple of "
            f"train.snapshot_every={every} (so that snapshots fall on the steps of a "
            f"fixed-budget run), or snapshot_every must be 0. Got {rule.window} instead.")


def train_until_plateau(phase: str, W_start, problem, net_cfg: NetworkConfig,
                        train_cfg: TrainConfig, rule: StoppingRule, rng: np.random.Generator,
                        attack_rng: np.random.Generator | None = None, *,
                        robust_check: Callable[[np.ndarray], float] | None = None
                        ) -> StoppedTrainResult:
    """Train ``phase`` in windows until ``rule`` stops it (module docstring).

    Parameters
    ----------
    phase : 'clean' or 'adversarial'
    W_start : ndarray (width, input_dim), not modified
    rng, attack_rng : the phase's generators (the same as a fixed-budget run's)
    robust_check : callable(W) -> held-out robust accuracy; watched when given (the
        adversarial phase of :func:`train_networks`)

    Returns
    -------
    StoppedTrainResult: weights, per-step losses (concatenated), snapshots at their global
    steps, seconds, steps, stop_reason, history.
    """
    if phase not in PHASES:
        raise ConfigError(f"The 'phase' parameter of train_until_plateau must be one of "
                          f"{set(PHASES)}. Got {phase!r} instead.")
    check_rule_fits(rule, train_cfg)
    every = train_cfg.snapshot_every
    budget_field = "clean_steps" if phase == "clean" else "adv_steps"
    cap = rule.cap(getattr(train_cfg, budget_field))
    if cap > LOSS_HISTORY_CAP:
        raise _err("StoppingRule", "max_steps",
                   f"an int in the range [1, {LOSS_HISTORY_CAP}] (or None with train.{budget_field} "
                   f"≤ {LOSS_HISTORY_CAP})", cap)
    monitor = PlateauMonitor(rule, watch_robust=robust_check is not None)
    if robust_check is not None:
        monitor.start(robust_check(np.asarray(W_start)))
    state = PhaseState()
    W, done, seconds = W_start, 0, 0.0
    losses, snapshots = [], {}
    reason = MAX_STEPS
    while done < cap:
        n = min(rule.window, cap - done)
        cfg = train_cfg.replace(**{budget_field: n}, progress=False)
        if phase == "clean":
            part = train_clean(W, problem, net_cfg, cfg, rng, state=state)
        else:
            part = train_adversarial(W, problem, net_cfg, cfg, rng, attack_rng, state=state)
        for step, snap in part.snapshots.items():
            snapshots.setdefault(done + step, snap)  # a chunk's step 0 is the previous end
        losses.append(np.asarray(part.losses, dtype=np.float64))
        seconds += part.seconds
        W = part.W
        done += n
        robust = None if robust_check is None else robust_check(W)
        if monitor.update(done, float(losses[-1].mean()), robust):
            reason = PLATEAU
            break
    W_out = W if done else np.array(W_start, dtype=net_cfg.dtype, order="C", copy=True)
    if done == 0 and every > 0:
        snapshots[0] = W_out.copy()
    return StoppedTrainResult(
        W=W_out, losses=np.concatenate(losses) if losses else np.empty(0),
        snapshots=snapshots, seconds=seconds, steps=done, stop_reason=reason,
        history=monitor.history)
