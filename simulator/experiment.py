"""One full run: clean training, adversarial training from it, and evaluation.

This is the science behind ``fpsim train``; it returns plain data (no files).  The
writers live in :mod:`reports`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .attacks import AttackSettings, robust_accuracy_table
from .certify import certified_margin
from .config import RunConfig
from .data import SparseCodingProblem
from .metrics import dense_mixture_share, purification_measures
from .network import ThresholdNetwork, ideal_network, init_weights
from .perturb import radius_in_norm
from .rng import stream
from .threads import thread_limit
from .training import train_adversarial, train_clean


@dataclass
class ExperimentResult:
    """Everything a run measured.

    Attributes
    ----------
    config : RunConfig
    problem : SparseCodingProblem
    W_init, W_clean, W_adv : ndarray (width, input_dim)
    results : list of dict rows (model, norm, tau, radius, attack, clean_acc, robust_acc)
    neurons : dict of column arrays (per-neuron metrics of both networks)
    curves : list of dict rows (phase, step, median dense-mixture share, loss)
    summary : dict of scalar figures
    timings : dict of seconds
    adv_factors : dict, the low-rank factors U, V (empty for a full update)
    """

    config: RunConfig
    problem: SparseCodingProblem
    W_init: np.ndarray
    W_clean: np.ndarray
    W_adv: np.ndarray
    results: list = field(default_factory=list)
    neurons: dict = field(default_factory=dict)
    curves: list = field(default_factory=list)
    spectrum: np.ndarray | None = None
    summary: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    # {'U': (width, r), 'V': (input_dim, r)} when train.adv_rank is set (W_adv = W_clean + U Vᵀ)
    adv_factors: dict = field(default_factory=dict)


def attack_settings(cfg: RunConfig) -> AttackSettings:
    e = cfg.eval
    return AttackSettings(pgd_steps=e.pgd_steps, pgd_restarts=e.pgd_restarts,
                          pgd_step_rel=e.pgd_step_rel)


def certified_accuracies(model, test, radii, norm) -> list | None:
    """Certified robust accuracy at each (ascending) radius, or None without a certifier.

    A sample certified at radius r is certified at every smaller radius (the smaller ball
    lies inside), so the share is taken over the envelope: certified at r if certified at
    some r' ≥ r.  Networks use the linear-relaxation certifier; linear models are exact.
    """
    if hasattr(model, "exact_robust_accuracy") and hasattr(model, "robust_margin"):
        margins = [model.robust_margin(test.X, test.y, r, norm) for r in radii]
    elif isinstance(model, ThresholdNetwork):
        b = model.b
        margins = [certified_margin(model.W, b, test.X, test.y, r, norm) for r in radii]
    else:
        return None
    M = np.maximum.accumulate(np.array(margins)[::-1], axis=0)[::-1]
    return [float(np.mean(m > 0)) for m in M]


def evaluate_models(models: dict, problem, test, cfg: RunConfig, rng, standalone_taus=None) -> list:
    """Robust-accuracy rows for each model × norm × τ × attack (and ``certified`` rows).

    ``standalone_taus``: the τ at which PGD's own robust accuracy is reported (None: all);
    elsewhere PGD runs only where the ensemble needs it.
    """
    rows = []
    d = cfg.data.input_dim
    for name, model in models.items():
        for norm in cfg.eval.norms:
            radii = [radius_in_norm(t, norm, d) for t in cfg.eval.taus]
            standalone = None if standalone_taus is None else [
                radius_in_norm(t, norm, d) for t in standalone_taus]
            clean_acc, table = robust_accuracy_table(model, problem, test, radii, norm,
                                                     attack_settings(cfg), rng, standalone)
            tau_of = dict(zip(radii, cfg.eval.taus))
            for r in table:
                rows.append({"model": name, "norm": norm, "tau": tau_of[r["radius"]],
                             "radius": r["radius"], "attack": r["attack"],
                             "clean_acc": clean_acc, "robust_acc": r["robust_acc"]})
            cert = certified_accuracies(model, test, radii, norm)
            if cert is not None:
                for r, c in zip(radii, cert):
                    rows.append({"model": name, "norm": norm, "tau": tau_of[r], "radius": r,
                                 "attack": "certified", "clean_acc": clean_acc, "robust_acc": c})
    return rows


def mixture_curve(problem, snapshots: dict, phase: str, skip: int, losses) -> list:
    """Median dense-mixture share at each snapshot step."""
    out = []
    for step in sorted(snapshots):
        C = problem.feature_coefficients(snapshots[step])
        share = dense_mixture_share(C, problem.w_star, skip)
        out.append({"phase": phase, "step": int(step),
                    "median_dense_mixture_share": float(np.median(share)),
                    "loss": float(losses[step - 1]) if step > 0 and len(losses) else float("nan")})
    return out


def run_experiment(cfg: RunConfig, *, on_phase=None) -> ExperimentResult:
    """Train clean, train adversarially from the clean weights, evaluate and measure.

    Parameters
    ----------
    cfg : RunConfig
    on_phase : optional callable(name, result_so_far) called after each phase, so a caller
        can save what is finished before an interruption.
    """
    seed = cfg.seed
    timings = {}
    with thread_limit(cfg.threads):
        t0 = time.perf_counter()
        problem = SparseCodingProblem(cfg.data, stream(seed, "problem"), dtype=cfg.network.dtype)
        W_init = init_weights(cfg.network, cfg.data.input_dim, stream(seed, "init"))
        clean = train_clean(W_init, problem, cfg.network, cfg.train, stream(seed, "train_data"))
        timings["clean_training"] = clean.seconds
        res = ExperimentResult(config=cfg, problem=problem, W_init=W_init, W_clean=clean.W,
                               W_adv=clean.W, timings=timings)
        if on_phase:
            on_phase("clean", res)
        adv = train_adversarial(clean.W, problem, cfg.network, cfg.train,
                                stream(seed, "adv_data"), stream(seed, "attack"))
        timings["adversarial_training"] = adv.seconds
        res.W_adv = adv.W
        res.adv_factors = getattr(adv, "factors", {})
        if on_phase:
            on_phase("adversarial", res)

        t = time.perf_counter()
        test = problem.sample(cfg.eval.n_test, stream(seed, "test_data"))
        models = {
            "ideal": ideal_network(problem, cfg.network),
            "clean": ThresholdNetwork.from_config(clean.W, cfg.network, name="clean"),
            "adversarial": ThresholdNetwork.from_config(adv.W, cfg.network, name="adversarial"),
        }
        res.results = evaluate_models(models, problem, test, cfg, stream(seed, "attack"))
        timings["evaluation"] = time.perf_counter() - t

        t = time.perf_counter()
        skip = cfg.eval.mixture_skip
        res.neurons, res.spectrum, res.summary = purification_measures(
            problem, W_init, clean.W, adv.W, skip, cfg.eval.top_rank)
        res.curves = (mixture_curve(problem, clean.snapshots, "clean", skip, clean.losses)
                      + mixture_curve(problem, adv.snapshots, "adversarial", skip, adv.losses))
        timings["metrics"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t0
    return res
