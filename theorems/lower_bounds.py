"""Shared driver of the three lower-bound checks (claim 3): train, attack, cache.

For each seed the lower-bound models see the run's own problem (M, w*) and test set (same named
random streams as the network run), so their figures sit beside the network's.  Each model
is trained clean and adversarially (at the network's training radius, in the check's norm)
and attacked with the same ensemble as the network over the regime's τ grid; linear models
also get their exact closed-form robust accuracy.
"""

from __future__ import annotations

import math
import time

import pandas as pd
from tqdm.auto import tqdm

from simulator.pipeline import (RunCache, draw_test_set, evaluate, fit_lower_bound_models,
                                train_networks)
from simulator.rng import stream
from simulator.threads import thread_limit

from .common import CheckResult, Quantity

NAMESPACE = "lower_bound_rows"


def lower_bound_rows(regime, seed: int, norm: str, kind: str, adversarial: bool,
                     cache: RunCache | None = None) -> list:
    """Evaluation rows (seed, model, norm, tau, radius, attack, clean_acc, robust_acc, fit_seconds).

    The model sees the run's own problem and test set (:mod:`simulator.pipeline`, the same
    streams as the network run); the adversarial fit continues from the clean fit of the same
    seed and kind, which ``cache`` keeps across norms.  Each model's attacks draw from a fresh
    ``attack`` stream.
    """
    cache = RunCache() if cache is None else cache
    key = (regime.run, regime.lower_bounds, regime.tau_for(norm), seed, norm, kind, adversarial)
    return cache.get(NAMESPACE, key, lambda: _rows(regime, seed, norm, kind, adversarial, cache))


def _rows(regime, seed, norm, kind, adversarial, cache) -> list:
    cfg = regime.config_for(seed, norm)
    with thread_limit(cfg.threads):
        trained = train_networks(cfg, phases=())
        test = draw_test_set(trained.problem, cfg)
        clean_key = (regime.run.data, regime.run.network, regime.lower_bounds, seed, kind)
        t = time.perf_counter()
        clean = cache.get("lower_bound_clean_models", clean_key, lambda: next(iter(
            fit_lower_bound_models(kind, trained, cfg, regime.lower_bounds,
                                   variants=(False,)).values())))
        if adversarial:  # the clean fit, when it ran here, is not this model's time
            t = time.perf_counter()
        model = clean if not adversarial else next(iter(fit_lower_bound_models(
            kind, trained, cfg, regime.lower_bounds, norm=norm, variants=(True,),
            clean=clean).values()))
        fit_seconds = time.perf_counter() - t
        tqdm.write(f"  seed {seed} [{norm}]: {model.name} trained ({fit_seconds:.0f} s)")
        rows = evaluate({model.name: model}, trained.problem, test, cfg,
                        lambda name: stream(seed, "attack"), standalone_taus=())
    return [{"seed": seed, **row, "fit_seconds": fit_seconds} for row in rows]


def cached_rows(cache: RunCache) -> list:
    """Every lower-bound row held by ``cache`` (for the report's figures)."""
    return [row for rows in cache.values(NAMESPACE) for row in rows]


def _pick(rows, tau, attack="ensemble"):
    for r in rows:
        if r["attack"] == attack and math.isclose(r["tau"], tau, rel_tol=1e-9, abs_tol=1e-12):
            return r["robust_acc"]
    raise KeyError((tau, attack))


def lower_bound_check(claim: str, kinds: list, regime, seeds, norm: str,
                      cache: RunCache | None = None) -> CheckResult:
    """Robust accuracy at τ* of each kind, trained clean and adversarially, must stay ≤ 0.60."""
    tau = regime.tau_for(norm)
    quantities, details = [], []
    for kind in kinds:
        for adversarial in ((False,) if kind == "linear_oracle" else (False, True)):
            per_seed = [lower_bound_rows(regime, s, norm, kind, adversarial, cache) for s in seeds]
            name = per_seed[0][0]["model"]
            quantities.append(Quantity("clean_acc", [rows[0]["clean_acc"] for rows in per_seed], None, name))
            quantities.append(Quantity("robust_acc_ensemble", [_pick(rows, tau) for rows in per_seed],
                                       "lower_bound_robust_acc", name))
            if any(r["attack"] == "exact" for r in per_seed[0]):
                quantities.append(Quantity("robust_acc_exact", [_pick(rows, tau, "exact") for rows in per_seed],
                                           None, name))
            for rows in per_seed:
                details += rows
    return CheckResult(claim, norm, tau, list(seeds), quantities, pd.DataFrame(details))
