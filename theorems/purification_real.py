"""Claim 4 on real images — feature purification on Fashion-MNIST (issue 15).

In our words: the paper's principle, checked on real images with the theory's own network.
Clean training reaches high accuracy but is not robust; adversarial training from the
clean weights (FGM ℓ2 / FGSM ℓ∞) makes it robust at the radius it was trained near, and it
does so by keeping most of each clean neuron (w_clean = β w_adv + v with ‖β w_adv‖ > ‖v‖),
while neither weight matrix keeps much of its random initialisation.

Measured, per seed (default task T-shirt/top vs Pullover, images in [0, 1] minus the mean
training image, ε in pixel units): robust accuracy of the clean-trained and adversarially
trained networks against the attack ensemble at the check radius (ℓ2 ε = 1.0, ℓ∞ ε = 0.05),
their certified accuracies, the adversarial network's clean accuracy; the share of neurons
with ‖β w_adv‖ > ‖v‖; the median |cos(w, w_init)| of both; reported: the update's top-r
energy share, the learned-dictionary purity and label-mixture share, the linear model's
robust accuracy.

Pass: adversarial robust − clean robust ≥ 0.3 with adversarial clean accuracy ≥ 0.9; share
with ‖β w_adv‖ > ‖v‖ above 1/2; both median correlations with the initialisation ≤ 0.2.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import pandas as pd

from simulator.pipeline import RunCache
from simulator.realdata.experiment import RealConfig, load_task, run_real

from .common import CheckResult, Quantity, script_main

CLAIM = "purification_real"
KINDS: list = []  # no model of the synthetic regime: its networks train on images (run_real)

# The quick regime runs on scikit-learn's 8×8 digits (3 vs 8, always installed) so the
# command works without Fashion-MNIST; its radii are scaled to 64 pixels.
REAL_REGIMES = {
    "default": RealConfig(),
    "quick": RealConfig(dataset="digits", width=128, clean_steps=300, adv_steps=300,
                        batch_size=128, eps_l2=(0.25, 0.5, 1.0), eps_linf=(0.02, 0.05, 0.1),
                        check_eps_l2=0.5, check_eps_linf=0.05, train_eps_l2=0.75,
                        train_eps_linf=0.075, n_test=None, pgd_steps=10, n_atoms=16,
                        dict_images=1300, linear_steps=300),
}
def real_run(cfg: RealConfig, task=None, cache: RunCache | None = None):
    """run_real, cached in ``cache`` (the ℓ2 and ℓ∞ checks share one run per seed);
    ``task``: the loaded ImageTask of ``cfg`` (else loaded once per task and kept in memory)."""
    cache = RunCache() if cache is None else cache
    if task is None:
        task = cache.get("real_tasks", replace(cfg, seed=0), lambda: load_task(cfg), persist=False)
    return cache.get("real_runs", cfg, lambda: run_real(cfg, task))


def value(results, model, norm, eps, attack="ensemble"):
    for r in results:
        if r["model"] == model and r["norm"] == norm and r["attack"] == attack and r["eps"] == eps:
            return r["robust_acc"]
    raise KeyError((model, norm, eps, attack))


def clean_acc(results, model):
    return next(r["clean_acc"] for r in results if r["model"] == model)


def check_from_runs(runs, norm) -> CheckResult:
    """The verdicts of one norm from finished runs (one per seed)."""
    cfg = runs[0].config
    eps = cfg.check_eps(norm)
    adv = f"adversarial_{norm}"
    R = [r.results for r in runs]
    S = [r.summary[norm] for r in runs]
    rob_adv = [value(x, adv, norm, eps) for x in R]
    rob_clean = [value(x, "clean", norm, eps) for x in R]
    q = [
        Quantity("robust_acc", rob_clean, None, "clean"),
        Quantity("robust_acc", rob_adv, None, adv),
        Quantity("robust_gain", [a - c for a, c in zip(rob_adv, rob_clean)], "real_robust_gain", adv),
        Quantity("clean_acc", [clean_acc(x, adv) for x in R], "real_adv_clean_acc", adv),
        Quantity("clean_acc", [clean_acc(x, "clean") for x in R], None, "clean"),
        Quantity("certified_acc", [value(x, adv, norm, eps, "certified") for x in R], None, adv),
        Quantity("robust_acc", [value(x, "linear_clean", norm, eps) for x in R], None, "linear_clean"),
        Quantity("robust_acc", [value(x, f"linear_adversarial_{norm}", norm, eps) for x in R], None,
                 f"linear_adversarial_{norm}"),
        Quantity("share_beta_ratio_above_1", [s["share_beta_ratio_above_1"] for s in S],
                 "share_beta_ratio_above_1", "both"),
        Quantity("median_abs_corr_init", [s["median_abs_corr_init_clean"] for s in S],
                 "median_abs_corr_init", "clean"),
        Quantity("median_abs_corr_init", [s["median_abs_corr_init_adversarial"] for s in S],
                 "median_abs_corr_init", adv),
        Quantity("median_abs_cos_clean_adv", [s["median_abs_cos_clean_adv"] for s in S], None, "both"),
        Quantity(f"update_top{cfg.top_rank}_energy_share", [s["update_top_energy_share"] for s in S], None, "both"),
        Quantity("update_top1_energy_share", [s["update_top1_energy_share"] for s in S], None, "both"),
        Quantity("median_purity", [s["median_purity_clean"] for s in S], None, "clean"),
        Quantity("median_purity", [s["median_purity_adversarial"] for s in S], None, adv),
        Quantity("median_label_mixture_share", [s["median_label_mixture_share_clean"] for s in S], None, "clean"),
        Quantity("median_label_mixture_share", [s["median_label_mixture_share_adversarial"] for s in S], None, adv),
        Quantity("median_off_dictionary_share", [s["median_off_dictionary_share_clean"] for s in S], None, "clean"),
        Quantity("median_off_dictionary_share", [s["median_off_dictionary_share_adversarial"] for s in S], None, adv),
    ]
    details = pd.concat([pd.DataFrame(r.neurons[norm]).assign(seed=r.config.seed) for r in runs],
                        ignore_index=True)
    return CheckResult(CLAIM, norm, eps, [r.config.seed for r in runs], q, details,
                       notes=f"{runs[0].task.name}; ε = {eps:g} pixel units ({norm})")


def run(regime, seeds=(0, 1, 2), norm="l2", cache: RunCache | None = None,
        config: RealConfig | None = None) -> CheckResult:
    """The check for one norm; ``regime`` (a synthetic Regime) picks default or quick by name."""
    base = config if config is not None else REAL_REGIMES.get(regime.name, REAL_REGIMES["default"])
    runs = [real_run(replace(base, seed=s), cache=cache) for s in seeds]
    return check_from_runs(runs, norm)


def main(argv=None) -> int:
    return script_main(CLAIM, run, argv)


if __name__ == "__main__":
    sys.exit(main())
