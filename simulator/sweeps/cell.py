"""One sweep cell: train only what the requested models need, then measure robust accuracy.

A cell is one full :class:`~simulator.config.RunConfig` and a list of model kinds
(:data:`simulator.models.MODELS`).  It is a caller of :mod:`simulator.pipeline`: the network
models come from the same streams as ``fpsim train`` (problem, initialisation, clean and
adversarial weights, test set); each lower-bound kind is trained cleanly and adversarially (at
the network's training radius and norm).  Every evaluated model draws its attack randomness
from its own sub-stream of ``attack`` (:func:`simulator.models.per_model_attack_rng`), so a
model's results do not depend on which other models the cell evaluates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..config import RunConfig
from ..metrics import dense_mixture_share, purification_measures
from ..models import MODEL_KINDS, needed_phases, per_model_attack_rng, row_names
from ..pipeline import (MODEL_KINDS_LIST, build_models, draw_test_set, evaluate,
                        train_networks)
from ..validation import check_param
from ..threads import thread_limit


@dataclass
class CellResult:
    """What a cell measured.

    Attributes
    ----------
    rows : list of dict (model, norm, tau, radius, attack, clean_acc, robust_acc)
    summary : dict of scalar figures (dense-mixture shares, final losses, steps per phase;
        with both networks the purification measures of
        :func:`simulator.metrics.purification_measures`)
    timings : dict of seconds
    history : phase -> the stopping rule's window records (empty without a rule)
    """

    rows: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)


def evaluated_names(models: Sequence[str]) -> list[str]:
    """The model names in the rows of a cell evaluating ``models``."""
    return row_names(models)


def _tail_mean(losses) -> float:
    if hasattr(losses, "tail_mean"):  # a LossHistory (very long phase): kept exactly
        return losses.tail_mean()
    losses = np.asarray(losses)
    if losses.size == 0:
        return float("nan")
    return float(losses[-max(1, losses.size // 10):].mean())


def run_cell(cfg: RunConfig, models: Sequence[str], lower_bounds: Mapping | None = None,
             threads: int | None = None, stopping: Mapping | None = None) -> CellResult:
    """Train and evaluate the models of one cell.

    Parameters
    ----------
    cfg : RunConfig
    models : kinds from :data:`simulator.models.MODELS`
    lower_bounds : LowerBoundConfig overrides for the lower-bound models
    threads : numba / BLAS threads (None: ``cfg.threads``)
    stopping : a :class:`simulator.stopping.StoppingRule` or a dict of its fields: every
        network phase trains until the rule stops it; None or {}: the fixed budgets

    Returns
    -------
    CellResult
    """
    models = check_param("run_cell", "models", models, MODEL_KINDS_LIST)
    rule = _stopping_rule(stopping)
    seed = cfg.seed
    res = CellResult()
    t_all = time.perf_counter()
    with thread_limit(cfg.threads if threads is None else threads):
        t = time.perf_counter()
        trained = train_networks(cfg, phases=needed_phases(models), stopping=rule)
        if trained.clean is not None:
            res.timings["clean_training"] = trained.clean.seconds
            res.summary["final_loss_clean"] = _tail_mean(trained.clean.losses)
        if trained.adversarial is not None:
            res.timings["adversarial_training"] = trained.adversarial.seconds
            res.summary["final_loss_adversarial"] = _tail_mean(trained.adversarial.losses)
        _record_steps(res, trained)
        res.timings["training"] = time.perf_counter() - t

        built = build_models(models, trained, cfg, lower_bounds, timings=res.timings)
        test = draw_test_set(trained.problem, cfg)
        # only the ensemble enters τ_c: PGD runs just where the ensemble needs it
        res.rows = evaluate(built, trained.problem, test, cfg,
                            lambda name: per_model_attack_rng(seed, name), standalone_taus=(),
                            timings=res.timings)

        skip = cfg.eval.mixture_skip
        for name, model in built.items():
            if MODEL_KINDS.get(name) is not None and MODEL_KINDS[name].family == "network":
                C = trained.problem.feature_coefficients(model.W)
                share = dense_mixture_share(C, trained.problem.w_star, skip)
                res.summary[f"median_dense_mixture_share_{name}"] = float(np.median(share))
        if trained.adversarial is not None:  # both networks: the purification claim's measures
            t = time.perf_counter()
            _, _, measures = purification_measures(trained.problem, trained.W_init,
                                                   trained.W_clean, trained.W_adv, skip,
                                                   cfg.eval.top_rank)
            for key, value in measures.items():  # the shares measured above stay as they were
                res.summary.setdefault(key, value)
            res.timings["purification_measures"] = time.perf_counter() - t
    res.timings["total"] = time.perf_counter() - t_all
    return res


def _stopping_rule(stopping):
    """A StoppingRule from a rule, a dict of its fields, or None / {} (no rule)."""
    if stopping is None or (isinstance(stopping, Mapping) and not stopping):
        return None
    from ..stopping import StoppingRule

    if isinstance(stopping, StoppingRule):
        return stopping
    if not isinstance(stopping, Mapping):
        from ..config import ConfigError

        raise ConfigError(f"The 'stopping' parameter of run_cell must be a StoppingRule, a dict "
                          f"of its fields or None. Got {stopping!r} instead.")
    return StoppingRule.from_dict(stopping)


def _record_steps(res: CellResult, trained) -> None:
    """Steps each phase ran (its budget without a rule) and, under a rule, why it stopped."""
    for phase, result in (("clean", trained.clean), ("adversarial", trained.adversarial)):
        if result is None:
            continue
        steps = getattr(result, "steps", None)
        if steps is None:  # a fixed budget
            steps = trained.config.train.clean_steps if phase == "clean" else trained.config.train.adv_steps
        res.summary[f"steps_{phase}"] = int(steps)
        if hasattr(result, "stop_reason"):
            res.summary[f"stop_reason_{phase}"] = result.stop_reason
            res.history[phase] = result.history


def estimated_cost(cfg: RunConfig, models: Sequence[str], lower_bounds: Mapping | None = None,
                   stopping: Mapping | None = None) -> float:
    """Relative cost of a cell in multiply-adds, for scheduling and the time-left estimate.

    A clean training step costs ≈ 3·B·d·m (H = X Wᵀ, the backward product, the row norms), an
    FGM step ≈ 5·B·d·m (one more forward and the input gradient): the measured 30 ms vs 50 ms
    at d = 512, m = 1536, B = 512.  Evaluation counts every attack step at full batch, an
    upper bound (PGD stops attacking broken samples).  Under a stopping rule each phase
    counts its cap (``max_steps``, or its budget): the most it can cost.
    """
    from ..lower_bounds import LowerBoundConfig

    d, m, D = cfg.data.input_dim, cfg.network.width, cfg.data.dictionary_size
    t, e = cfg.train, cfg.eval
    b = LowerBoundConfig.from_dict(dict(lower_bounds or {}))
    adv_step = 3 + (2 if t.adv_attack == "fgm" else 2 * t.adv_pgd_steps)
    n_radii = sum(1 for tau in e.taus if tau > 0) * len(e.norms)
    per_radius = 2 + 1 + (e.pgd_restarts + 1) * (2 * e.pgd_steps + 1) + 2  # fgm, pgd, dense, features
    eval_net = e.n_test * d * (1 + n_radii * per_radius)  # per unit of width

    clean_steps, adv_steps = t.clean_steps, t.adv_steps
    rule = _stopping_rule(stopping)
    if rule is not None:
        clean_steps, adv_steps = rule.cap(clean_steps), rule.cap(adv_steps)
    cost = 0.0
    if "clean" in models or "adversarial" in models:
        cost += 3 * t.batch_size * d * m * clean_steps
    if "adversarial" in models:
        cost += adv_step * t.batch_size * d * m * adv_steps
    for name in models:
        if name in ("clean", "adversarial"):
            cost += eval_net * m
        elif name == "ideal":
            cost += eval_net * D
        elif name == "linear_oracle":
            cost += eval_net
        elif name == "linear":
            cost += 2 * (2 * b.linear_batch_size * d * b.linear_steps + eval_net)
        elif name == "ntk":  # the linearised network carries W0 and ΔW: about twice the work
            cost += 2 * (6 * b.ntk_batch_size * d * m * b.ntk_steps
                         + 10 * b.ntk_batch_size * d * m * b.ntk_adv_steps + 2 * eval_net * m)
        elif name.startswith("poly"):
            c = b.poly_centres
            fit = b.poly_train * c * d + b.poly_newton_steps * c ** 3
            adv = b.poly_adv_rounds * (2 * b.poly_train * c * d + c ** 3)
            cost += fit + (fit + adv) + 2 * eval_net * c
    return float(cost)
