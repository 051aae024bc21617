"""Cached training runs shared by the checks of one process.

The network claims (clean non-robustness, FGM robustness, purification) all read the same
runs: per seed, one clean training, and per norm one adversarial training from it, each
evaluated once.  The cache is keyed by the full config, so two regimes never mix.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from simulator.data import SparseCodingProblem
from simulator.experiment import evaluate_models, mixture_curve
from simulator.metrics import purification_measures
from simulator.network import ThresholdNetwork, ideal_network, init_weights
from simulator.rng import stream
from simulator.threads import thread_limit
from simulator.training import train_adversarial, train_clean

from .regime import Regime


@dataclass
class NetworkRun:
    """One seed × norm: weights, evaluation rows and purification metrics."""

    seed: int
    norm: str
    problem: SparseCodingProblem
    W_init: np.ndarray
    W_clean: np.ndarray
    W_adv: np.ndarray
    test: object
    results: list
    neurons: dict
    curves: list
    spectrum: np.ndarray
    summary: dict
    timings: dict = field(default_factory=dict)


_CLEAN_CACHE: dict = {}
_RUN_CACHE: dict = {}


def _clean(regime: Regime, seed: int):
    cfg = regime.config_for(seed, "l2")
    key = (cfg.data, cfg.network, cfg.train.clean_steps, cfg.train.step_size,
           cfg.train.batch_size, cfg.train.train_size, seed)
    if key not in _CLEAN_CACHE:
        problem = SparseCodingProblem(cfg.data, stream(seed, "problem"), dtype=cfg.network.dtype)
        W_init = init_weights(cfg.network, cfg.data.input_dim, stream(seed, "init"))
        res = train_clean(W_init, problem, cfg.network, cfg.train, stream(seed, "train_data"))
        _CLEAN_CACHE[key] = (problem, W_init, res)
    return _CLEAN_CACHE[key]


def network_run(regime: Regime, seed: int, norm: str) -> NetworkRun:
    """Train (or fetch) the clean and ``norm``-adversarial networks of ``seed`` and evaluate them."""
    cfg = regime.config_for(seed, norm)
    key = (cfg, regime.tau_for(norm))
    if key in _RUN_CACHE:
        return _RUN_CACHE[key]
    with thread_limit(cfg.threads):
        t0 = time.perf_counter()
        problem, W_init, clean = _clean(regime, seed)
        tqdm.write(f"  seed {seed}: clean network trained ({clean.seconds:.0f} s); "
                   f"{cfg.train.adv_attack} training in {norm} ({cfg.train.adv_steps} steps)…")
        adv = train_adversarial(clean.W, problem, cfg.network, cfg.train,
                                stream(seed, "adv_data"), stream(seed, "attack"))
        t1 = time.perf_counter()
        test = problem.sample(cfg.eval.n_test, stream(seed, "test_data"))
        models = {
            "ideal": ideal_network(problem, cfg.network),
            "clean": ThresholdNetwork.from_config(clean.W, cfg.network, name="clean"),
            "adversarial": ThresholdNetwork.from_config(adv.W, cfg.network, name="adversarial"),
        }
        # PGD's stand-alone figure is read only at τ* (fgm_robust reports it there)
        results = evaluate_models(models, problem, test, cfg, stream(seed, "attack"),
                                  standalone_taus=(regime.tau_for(norm),))
        t2 = time.perf_counter()
        tqdm.write(f"  seed {seed} [{norm}]: adversarial training {adv.seconds:.0f} s, "
                   f"evaluation {t2 - t1:.0f} s")
        skip = cfg.eval.mixture_skip
        neurons, spectrum, summary = purification_measures(problem, W_init, clean.W, adv.W, skip,
                                                           cfg.eval.top_rank)
        neurons = {"seed": np.full(len(neurons["neuron"]), seed), **neurons}
        curves = (mixture_curve(problem, clean.snapshots, "clean", skip, clean.losses)
                  + mixture_curve(problem, adv.snapshots, "adversarial", skip, adv.losses))
        run = NetworkRun(seed=seed, norm=norm, problem=problem, W_init=W_init, W_clean=clean.W,
                         W_adv=adv.W, test=test, results=results, neurons=neurons, curves=curves,
                         spectrum=spectrum, summary=summary,
                         timings={"clean_training": clean.seconds, "adversarial_training": adv.seconds,
                                  "evaluation": t2 - t1, "total": time.perf_counter() - t0})
    _RUN_CACHE[key] = run
    return run


def clear_cache() -> None:
    _CLEAN_CACHE.clear()
    _RUN_CACHE.clear()
