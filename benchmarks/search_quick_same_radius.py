"""The quick regime trained at the radius it is tested at (issue 12 §1): which FGM budget?

The quick regime used to train FGM at 2τ* (0.4 for τ* = 0.2; FGSM at 0.5 for τ∞* = 0.25).
Trained at τ* itself, the same 800 steps at step size 0.5 may be too short: this script runs
the three network checks (clean_not_robust, fgm_robust, purification) of the quick regime with
same-radius training for a few FGM budgets, 3 seeds, both norms, and writes one row per budget
× norm: the FGM network's clean, ensemble-robust and certified accuracy at τ*, the
clean network's robust accuracy, and the share with ‖β w_adv‖ > ‖v‖.  Every budget shares the
clean training of each seed (the clean phase does not depend on the adversarial one).

    python benchmarks/search_quick_same_radius.py [--out DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import pandas as pd

from simulator.pipeline import RunCache
from theorems import clean_not_robust, fgm_robust, purification
from theorems.regime import QUICK

# (adversarial steps, adversarial step size): today's budget, twice the steps, twice both
BUDGETS = ((800, 0.5), (1600, 0.5), (1600, 1.0))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/quick_same_radius"))
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args(argv)
    cache = RunCache()
    rows = []
    for steps, eta in BUDGETS:
        run = QUICK.run.replace(train=QUICK.run.train.replace(adv_steps=steps, adv_step_size=eta,
                                                              adv_tau=QUICK.tau_star))
        regime = dataclasses.replace(QUICK, run=run)  # config_for trains at τ* of each norm
        for norm in ("l2", "linf"):
            t = time.perf_counter()
            seeds = list(range(args.seeds))
            res = {m.CLAIM: m.run(regime, seeds=seeds, norm=norm, cache=cache)
                   for m in (clean_not_robust, fgm_robust, purification)}
            q = {(c, x.model, x.name): x.mean for c, r in res.items() for x in r.quantities}
            rows.append({
                "adv_steps": steps, "adv_step_size": eta, "norm": norm,
                "trained_at": regime.config_for(0, norm).train.adv_tau, "tested_at": regime.tau_for(norm),
                "clean_robust": q[("clean_not_robust", "clean", "robust_acc_ensemble")],
                "adv_clean": q[("fgm_robust", "adversarial", "clean_acc")],
                "adv_robust": q[("fgm_robust", "adversarial", "robust_acc_ensemble")],
                "adv_certified": q[("fgm_robust", "adversarial", "certified_acc")],
                "ideal_robust": q[("fgm_robust", "ideal", "robust_acc_ensemble")],
                "share_beta_ratio_above_1": q[("purification", "both", "share_beta_ratio_above_1")],
                "seconds": time.perf_counter() - t})
            print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out / "search.csv", index=False, float_format="%.6g")
    print(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
