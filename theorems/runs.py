"""The network runs shared by the checks of one process.

The network claims (clean non-robustness, FGM robustness, purification) all read the same
runs: per seed, one clean training, and per norm one adversarial training from it, each
evaluated once.  They come from :func:`simulator.pipeline.run_networks` through the
:class:`~simulator.pipeline.RunCache` the caller passes in, keyed by the full config, so two
regimes never mix.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from simulator.pipeline import RunCache, RunResult, run_networks

from .regime import Regime

NAMESPACE = "network_runs"


def network_run(regime: Regime, seed: int, norm: str, cache: RunCache | None = None) -> RunResult:
    """The clean and ``norm``-adversarial networks of ``seed``, trained and evaluated (cached).

    The neuron table gains a ``seed`` column; PGD's stand-alone figure is measured only at τ*
    (the FGM check reports it there).
    """
    cfg = regime.config_for(seed, norm)
    tau = regime.tau_for(norm)

    def make() -> RunResult:
        def say(phase, trained):
            if phase == "clean":
                tqdm.write(f"  seed {seed}: clean network trained ({trained.clean.seconds:.0f} s); "
                           f"{cfg.train.adv_attack} training in {norm} ({cfg.train.adv_steps} steps)…")

        run = run_networks(cfg, cache=cache, standalone_taus=(tau,), on_phase=say)
        tqdm.write(f"  seed {seed} [{norm}]: adversarial training "
                   f"{run.timings['adversarial_training']:.0f} s, evaluation "
                   f"{run.timings['evaluation']:.0f} s")
        run.neurons = {"seed": np.full(len(run.neurons["neuron"]), seed), **run.neurons}
        return run

    if cache is None:
        return make()
    return cache.get(NAMESPACE, (cfg, tau), make)


def cached_network_runs(cache: RunCache, regime: Regime) -> list:
    """The network runs of ``regime`` held by ``cache`` (for the report's figures)."""
    return [r for r in cache.values(NAMESPACE) if r.config.data == regime.run.data]
