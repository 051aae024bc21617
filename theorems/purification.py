"""Claim 4 — the purification principle.

In our words: adversarial training does not learn new features; it removes the dense
mixtures that clean training left in every neuron. Concretely, for most neurons
w_clean = β·w_adv + v with ‖β·w_adv‖ > ‖v‖ (the clean neuron *is* the robust one plus a
small mixture), the median dense-mixture share drops several-fold, neither weight matrix
keeps much correlation with its random initialisation, and (a later version of the paper)
the update W_adv − W_clean is close to low rank.

Measured, per seed: median dense-mixture share of clean and adversarial neurons and their
ratio; the share of neurons with ‖β w_adv‖/‖v‖ > 1; the median |cos(w, w_init)| of both;
the share of the energy of W_adv − W_clean in its top r singular values, the median
|cos(w_clean, w_adv)| and the share of neurons whose strongest feature is unchanged (reported).

Pass: reduction ≥ 3×; share with ‖β w_adv‖ > ‖v‖ above 1/2; both median correlations ≤ 0.2.
"""

from __future__ import annotations

import sys

import pandas as pd

from .common import CheckResult, Quantity, script_main
from .runs import network_run

CLAIM = "purification"


def run(regime, seeds=(0, 1, 2), norm="l2", cache=None) -> CheckResult:
    runs = [network_run(regime, s, norm, cache) for s in seeds]
    S = [r.summary for r in runs]
    r_top = regime.run.eval.top_rank
    q = [
        Quantity("median_dense_mixture_share_clean", [s["median_dense_mixture_share_clean"] for s in S], None, "clean"),
        Quantity("median_dense_mixture_share_adv", [s["median_dense_mixture_share_adversarial"] for s in S], None, "adversarial"),
        Quantity("dense_mixture_reduction", [s["dense_mixture_reduction"] for s in S], "dense_mixture_reduction", "both"),
        Quantity("share_beta_ratio_above_1", [s["share_beta_ratio_above_1"] for s in S], "share_beta_ratio_above_1", "both"),
        Quantity("median_abs_corr_init", [s["median_abs_corr_init_clean"] for s in S], "median_abs_corr_init", "clean"),
        Quantity("median_abs_corr_init", [s["median_abs_corr_init_adversarial"] for s in S], "median_abs_corr_init", "adversarial"),
        Quantity(f"update_top{r_top}_energy_share", [s["update_top_energy_share"] for s in S], None, "both"),
        Quantity("median_purity_clean", [s["median_purity_clean"] for s in S], None, "clean"),
        Quantity("median_purity_adv", [s["median_purity_adversarial"] for s in S], None, "adversarial"),
        # ‖β w_adv‖ > ‖v‖ is |cos(w_clean, w_adv)| > 1/√2: the median cosine shows how far off
        Quantity("median_abs_cos_clean_adv", [s["corr_clean_adv_median"] for s in S], None, "both"),
        Quantity("share_same_top_feature", [s["share_same_top_feature"] for s in S], None, "both"),
    ]
    details = pd.concat([pd.DataFrame(r.neurons) for r in runs], ignore_index=True)
    return CheckResult(CLAIM, norm, regime.tau_for(norm), list(seeds), q, details)


def main(argv=None) -> int:
    return script_main(CLAIM, run, argv)


if __name__ == "__main__":
    sys.exit(main())
