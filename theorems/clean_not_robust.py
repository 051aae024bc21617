"""Claim 1 — clean training is accurate but not robust.

In our words: gradient descent on clean sparse-coding data reaches high clean accuracy, yet
the network it produces is broken by perturbations of a radius τ* at which the ideal
purified network of the same family is still robust. The cause is the dense mixture every
neuron accumulates along M w*.

Measured, per seed, on fresh test data: the clean-trained network's clean accuracy and its
robust accuracy at τ* against the full attack ensemble (FGM, PGD with restarts, the dense
attack −y·τ·M w*/‖M w*‖ and the feature attack); the dense attack's own figure; and the
median dense-mixture share of its neurons.

Pass: mean clean accuracy ≥ 0.97 and mean robust accuracy at τ* ≤ 0.60.
"""

from __future__ import annotations

import sys

import pandas as pd

from .common import CheckResult, Quantity, clean_of, robust_at, script_main
from .runs import network_run

CLAIM = "clean_not_robust"


def run(regime, seeds=(0, 1, 2), norm="l2", cache=None) -> CheckResult:
    runs = [network_run(regime, s, norm, cache) for s in seeds]
    tau = regime.tau_for(norm)
    q = [
        Quantity("clean_acc", [clean_of(r.results, "clean") for r in runs], "clean_clean_acc", "clean"),
        Quantity("robust_acc_ensemble", [robust_at(r.results, "clean", norm, tau) for r in runs],
                 "clean_robust_acc", "clean"),
        Quantity("robust_acc_dense_attack", [robust_at(r.results, "clean", norm, tau, "dense") for r in runs],
                 None, "clean"),
        Quantity("median_dense_mixture_share", [r.summary["median_dense_mixture_share_clean"] for r in runs],
                 None, "clean"),
    ]
    details = pd.DataFrame([dict(seed=r.seed, **row) for r in runs for row in r.results
                            if row["model"] == "clean"])
    return CheckResult(CLAIM, norm, tau, list(seeds), q, details)


def main(argv=None) -> int:
    return script_main(CLAIM, run, argv)


if __name__ == "__main__":
    sys.exit(main())
