"""One sweep cell: train only what the requested models need, then measure robust accuracy.

A cell is one full :class:`~simulator.config.RunConfig` and a list of models.  The network
models follow :func:`simulator.experiment.run_experiment` stream for stream (same problem,
initialisation, clean and adversarial weights, test set); the lower-bound models come from
:func:`simulator.baselines.fit_baseline`, each trained cleanly and adversarially (at the
network's training radius and norm).  Every evaluated model draws its attack randomness
from its own sub-stream of ``attack``, so a model's results do not depend on which other
models the cell evaluates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from .config import RunConfig
from .data import SparseCodingProblem
from .experiment import evaluate_models
from .grid import BASELINE_MODELS, MODELS
from .metrics import dense_mixture_share
from .network import ThresholdNetwork, ideal_network, init_weights
from .rng import STREAMS, stream
from .threads import thread_limit
from .training import train_adversarial, train_clean

# Sub-stream of ``attack`` per evaluated model; append only, never renumber.
EVAL_IDS = {
    "ideal": 1, "clean": 2, "adversarial": 3, "linear_oracle": 4,
    "linear_clean": 5, "linear_adv": 6, "poly2_clean": 7, "poly2_adv": 8,
    "poly3_clean": 9, "poly3_adv": 10, "ntk_clean": 11, "ntk_adv": 12,
}


@dataclass
class CellResult:
    """What a cell measured.

    Attributes
    ----------
    rows : list of dict (model, norm, tau, radius, attack, clean_acc, robust_acc)
    summary : dict of scalar figures (dense-mixture shares, final losses)
    timings : dict of seconds
    """

    rows: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)


def evaluated_names(models: Sequence[str]) -> list[str]:
    """The model names in the rows: each baseline kind gives ``<kind>_clean`` and ``<kind>_adv``."""
    out = []
    for m in models:
        if m in BASELINE_MODELS and m != "linear_oracle":
            out += [f"{m}_clean", f"{m}_adv"]
        else:
            out.append(m)
    return out


def attack_rng(seed: int, name: str) -> np.random.Generator:
    """The evaluation attack generator of one model: ``[seed, attack, model id]``."""
    return np.random.default_rng([int(seed), STREAMS["attack"], EVAL_IDS[name]])


def _tail_mean(losses) -> float:
    if hasattr(losses, "tail_mean"):  # a LossHistory (very long phase): kept exactly
        return losses.tail_mean()
    losses = np.asarray(losses)
    if losses.size == 0:
        return float("nan")
    return float(losses[-max(1, losses.size // 10):].mean())


def run_cell(cfg: RunConfig, models: Sequence[str], baseline: Mapping | None = None,
             threads: int | None = None) -> CellResult:
    """Train and evaluate the models of one cell.

    Parameters
    ----------
    cfg : RunConfig
    models : names from :data:`simulator.grid.MODELS`
    baseline : BaselineConfig overrides for the lower-bound models
    threads : numba / BLAS threads (None: ``cfg.threads``)

    Returns
    -------
    CellResult
    """
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"The 'models' parameter of run_cell must be items of {list(MODELS)}. "
                         f"Got {list(models)!r} instead.")
    seed = cfg.seed
    res = CellResult()
    t_all = time.perf_counter()
    with thread_limit(cfg.threads if threads is None else threads):
        t = time.perf_counter()
        problem = SparseCodingProblem(cfg.data, stream(seed, "problem"), dtype=cfg.network.dtype)
        W_init = init_weights(cfg.network, cfg.data.input_dim, stream(seed, "init"))
        res.timings["problem"] = time.perf_counter() - t

        trained = {}
        if "clean" in models or "adversarial" in models:
            clean = train_clean(W_init, problem, cfg.network, cfg.train, stream(seed, "train_data"))
            res.timings["clean_training"] = clean.seconds
            res.summary["final_loss_clean"] = _tail_mean(clean.losses)
            trained["clean"] = clean.W
            if "adversarial" in models:
                adv = train_adversarial(clean.W, problem, cfg.network, cfg.train,
                                        stream(seed, "adv_data"), stream(seed, "attack"))
                res.timings["adversarial_training"] = adv.seconds
                res.summary["final_loss_adversarial"] = _tail_mean(adv.losses)
                trained["adversarial"] = adv.W

        built = {}
        for m in models:
            if m == "ideal":
                built["ideal"] = ideal_network(problem, cfg.network)
            elif m in ("clean", "adversarial"):
                built[m] = ThresholdNetwork.from_config(trained[m], cfg.network, name=m)
            else:
                built.update(_fit_baselines(m, problem, cfg, baseline or {}, W_init, res))

        test = problem.sample(cfg.eval.n_test, stream(seed, "test_data"))
        for name, model in built.items():
            t = time.perf_counter()
            # only the ensemble enters τ_c: PGD runs just where the ensemble needs it
            res.rows += evaluate_models({name: model}, problem, test, cfg, attack_rng(seed, name),
                                        standalone_taus=())
            res.timings[f"evaluation_{name}"] = time.perf_counter() - t

        skip = cfg.eval.mixture_skip
        for name in ("ideal", "clean", "adversarial"):
            if name in built:
                C = problem.feature_coefficients(built[name].W)
                share = dense_mixture_share(C, problem.w_star, skip)
                res.summary[f"median_dense_mixture_share_{name}"] = float(np.median(share))
    res.timings["total"] = time.perf_counter() - t_all
    return res


def _fit_baselines(kind: str, problem, cfg: RunConfig, overrides: Mapping, W_init,
                   res: CellResult) -> dict:
    """The clean and the adversarially trained model of one baseline kind."""
    from .baselines import BaselineConfig, fit_baseline

    bcfg = BaselineConfig.from_dict(dict(overrides))
    variants = [False] if kind == "linear_oracle" else [False, True]
    out = {}
    for adversarial in variants:
        if adversarial and cfg.train.adv_tau == 0:
            continue  # at radius 0 the adversarial model is the clean one
        t = time.perf_counter()
        model = fit_baseline(kind, problem, cfg.network, adversarial=adversarial,
                             tau=cfg.train.adv_tau if adversarial else 0.0,
                             norm=cfg.train.adv_norm, seed=cfg.seed, config=bcfg, W_init=W_init)
        res.timings[f"training_{model.name}"] = time.perf_counter() - t
        out[model.name] = model
    return out


def estimated_cost(cfg: RunConfig, models: Sequence[str], baseline: Mapping | None = None) -> float:
    """Relative cost of a cell in multiply-adds, for scheduling and the time-left estimate.

    A clean training step costs ≈ 3·B·d·m (H = X Wᵀ, the backward product, the row norms), an
    FGM step ≈ 5·B·d·m (one more forward and the input gradient): the measured 30 ms vs 50 ms
    at d = 512, m = 1536, B = 512.  Evaluation counts every attack step at full batch, an
    upper bound (PGD stops attacking broken samples).
    """
    from .baselines import BaselineConfig

    d, m, D = cfg.data.input_dim, cfg.network.width, cfg.data.dictionary_size
    t, e = cfg.train, cfg.eval
    b = BaselineConfig.from_dict(dict(baseline or {}))
    adv_step = 3 + (2 if t.adv_attack == "fgm" else 2 * t.adv_pgd_steps)
    n_radii = sum(1 for tau in e.taus if tau > 0) * len(e.norms)
    per_radius = 2 + 1 + (e.pgd_restarts + 1) * (2 * e.pgd_steps + 1) + 2  # fgm, pgd, dense, features
    eval_net = e.n_test * d * (1 + n_radii * per_radius)  # per unit of width

    cost = 0.0
    if "clean" in models or "adversarial" in models:
        cost += 3 * t.batch_size * d * m * t.clean_steps
    if "adversarial" in models:
        cost += adv_step * t.batch_size * d * m * t.adv_steps
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
