"""Claim 4b — adversarial training can be done through a low-rank update of the clean weights.

In our words: a later version of the paper adds that the robust network is reachable from
the clean one by a low-rank change.  In this model every clean neuron's dense mixture lies
along the same direction M w*, so removing the mixtures is, to first order, a rank-one
change; adversarial training constrained to W = W_clean + U Vᵀ, with U (width, r) and
V (input_dim, r), should then reach the robustness of full adversarial training at small r.

Measured, per seed, on the run's own test set and with one attack ensemble at τ* for every
model (FGM, PGD with restarts, dense and feature attacks): clean and robust accuracy of

* the rank-r adversarially trained networks, r ∈ {1, 2, 4, 8, 16} — same clean start,
  attack, training radius, batches, number of steps and step size η as full training
  (:func:`simulator.low_rank.train_low_rank`);
* the fully adversarially trained network ("full") and the clean network;
* the mixture projection W_clean (I − u uᵀ), u = M w*/‖M w*‖ (rank one, no training);
* the best rank-r correction of W_clean toward W_adv (truncated SVD of W_adv − W_clean);

and the median dense-mixture share and purity of every network's neurons.

Pass: take r* = the r ≤ 4 with the smallest mean robust gap (full − rank-r) among those whose
mean clean accuracy is ≥ 0.97 (when none is, the r ≤ 4 with the best mean clean accuracy).
Mean robust gap at r* ≤ 0.03 and mean clean accuracy at r* ≥ 0.97.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from simulator.attacks import AttackSettings, robust_accuracy_table
from simulator.low_rank import best_rank_correction, mixture_projection, train_low_rank
from simulator.metrics import dense_mixture_share, purity
from simulator.network import ThresholdNetwork
from simulator.norms import radius_in_norm
from simulator.rng import stream
from simulator.threads import thread_limit

from .common import CRITERIA, CheckResult, Quantity, script_main
from .runs import network_run

CLAIM = "low_rank_update"
RANKS = (1, 2, 4, 8, 16)
SMALL_RANK = 4  # the claim: some r ≤ 4 suffices


def _evaluate(W, name, problem, test, cfg, norm, tau, seed, skip) -> dict:
    """Clean and ensemble robust accuracy at τ*, and the purification medians, of one W."""
    model = ThresholdNetwork.from_config(W, cfg.network, name=name)
    e = cfg.eval
    settings = AttackSettings(pgd_steps=e.pgd_steps, pgd_restarts=e.pgd_restarts,
                              pgd_step_rel=e.pgd_step_rel)
    # each model gets the same fresh attack stream: paired random starts
    radius = radius_in_norm(tau, norm, cfg.data.input_dim)
    clean_acc, rows = robust_accuracy_table(model, problem, test, [radius], norm, settings,
                                            stream(seed, "attack"), standalone_radii=())
    C = problem.feature_coefficients(W)
    out = {"seed": seed, "model": name, "clean_acc": clean_acc,
           "median_dense_mixture_share": float(np.median(dense_mixture_share(C, problem.w_star, skip))),
           "median_purity": float(np.median(purity(C)))}
    out.update({f"robust_acc_{r['attack']}": r["robust_acc"] for r in rows})
    return out


def seed_rows(regime, seed: int, norm: str, ranks=RANKS, cache=None) -> list:
    """Detail rows of one seed: every model's accuracies and purification medians."""
    run = network_run(regime, seed, norm, cache)  # the clean and full-adversarial networks
    cfg = regime.config_for(seed, norm)
    tau = regime.tau_for(norm)
    skip = cfg.eval.mixture_skip

    def ev(W, name, **columns):
        row = _evaluate(W, name, run.problem, run.test, cfg, norm, tau, seed, skip)
        return {**row, "norm": norm, "tau": tau, **columns}

    rows = [ev(run.W_clean, "clean", kind="clean", rank=0),
            ev(run.W_adv, "full", kind="full", rank=min(run.W_adv.shape)),
            ev(mixture_projection(run.W_clean, run.problem.label_direction), "projection",
               kind="projection", rank=1)]
    with thread_limit(cfg.threads):
        for r in ranks:
            t = time.perf_counter()
            res = train_low_rank(run.W_clean, run.problem, cfg.network, cfg.train.replace(adv_rank=r),
                                 stream(seed, "adv_data"), stream(seed, "attack"))
            tqdm.write(f"  seed {seed} [{norm}]: rank-{r} training {res.seconds:.0f} s")
            rows.append(ev(res.W, f"rank-{r}", kind="low_rank", rank=r, train_seconds=res.seconds,
                           final_loss=float(res.losses[-10:].mean()) if len(res.losses) else np.nan,
                           update_norm=float(np.linalg.norm(res.W - run.W_clean)),
                           eval_seconds=time.perf_counter() - t - res.seconds))
            rows.append(ev(best_rank_correction(run.W_clean, run.W_adv, r), f"best-rank-{r}",
                           kind="best_rank", rank=r))
    rows[1]["train_seconds"] = run.timings["adversarial_training"]
    return rows


def _pick_rank(details: pd.DataFrame, ranks) -> int:
    """r* of the criterion (module docstring), from the means over seeds."""
    op, clean_min = CRITERIA["low_rank_clean_acc"]
    small = [r for r in ranks if r <= SMALL_RANK]
    if not small:
        raise ValueError(f"The 'ranks' parameter of low_rank_update must include some r ≤ {SMALL_RANK}. "
                         f"Got {list(ranks)} instead.")
    full = details[details.model == "full"].set_index("seed").robust_acc_ensemble
    stats = {}
    for r in small:
        g = details[details.model == f"rank-{r}"].set_index("seed")
        stats[r] = (float((full - g.robust_acc_ensemble).mean()), float(g.clean_acc.mean()))
    ok = [r for r in small if stats[r][1] >= clean_min]
    if ok:
        return min(ok, key=lambda r: (stats[r][0], r))
    return max(small, key=lambda r: (stats[r][1], -r))


def run(regime, seeds=(0, 1, 2), norm="l2", cache=None, ranks=RANKS) -> CheckResult:
    details = pd.DataFrame([row for s in seeds for row in seed_rows(regime, s, norm, ranks, cache)])
    by = {m: g.set_index("seed").loc[list(seeds)] for m, g in details.groupby("model")}
    r_star = _pick_rank(details, ranks)
    gap = by["full"].robust_acc_ensemble - by[f"rank-{r_star}"].robust_acc_ensemble
    q = [Quantity("robust_gap_to_full", list(gap), "low_rank_robust_gap", f"rank-{r_star}"),
         Quantity("clean_acc", list(by[f"rank-{r_star}"].clean_acc), "low_rank_clean_acc", f"rank-{r_star}")]
    models = (["full"] + [f"rank-{r}" for r in ranks] + ["projection", "clean"])
    for m in models:
        g = by[m]
        q += [Quantity("clean_acc", list(g.clean_acc), None, m),
              Quantity("robust_acc_ensemble", list(g.robust_acc_ensemble), None, m),
              Quantity("median_dense_mixture_share", list(g.median_dense_mixture_share), None, m),
              Quantity("median_purity", list(g.median_purity), None, m)]
    q += [Quantity("robust_acc_ensemble", list(by[f"best-rank-{r}"].robust_acc_ensemble), None,
                   f"best-rank-{r}") for r in ranks]
    return CheckResult(CLAIM, norm, regime.tau_for(norm), list(seeds), q, details,
                       notes=f"criterion read at r* = {r_star}")


def main(argv=None) -> int:
    return script_main(CLAIM, run, argv)


if __name__ == "__main__":
    sys.exit(main())
