"""Lower-bound models of claim 3 of the paper: low-complexity models are not robust at τ.

docs/model.md, claim 3: linear classifiers, low-degree polynomials and the neural tangent kernel
of the same network cannot be robust at the radius τ where the FGM-trained network is,
whatever trains them.  This package builds each of them, trained cleanly and adversarially,
with the attack protocol of :mod:`simulator.network` (``decision_function``,
``margin_gradient``, ``name``), so that :func:`simulator.attacks.robust_accuracy_table`
attacks them exactly like the network.

=================  ===============================================================
kind               model
=================  ===============================================================
``linear``         f = ⟨w, x⟩, SGD on the exact robust logistic loss (:mod:`.linear`)
``linear_oracle``  w = M w*, the best linear classifier (not trained)
``poly2/poly3``    degree-2/3 polynomial-kernel machine (:mod:`.polynomial`)
``poly``           the same with degree ``LowerBoundConfig.poly_degree``
``ntk``            the network linearised at its initialisation W0 (:mod:`.ntk`)
=================  ===============================================================
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from ..config import ConfigError, Interval, _ConfigMixin
from ..network import init_weights
from ..models import LOWER_BOUND_MODELS
from ..norms import NORM, radius_in_norm
from ..validation import POSITIVE_RADIUS, RADIUS, SEED, OneOf, check_param
from ..rng import stream
from .linear import (LinearModel, exact_robust_accuracy, fit_linear, oracle_linear,
                     robust_logistic_loss)
from .ntk import NTKModel, fit_ntk
from .polynomial import PolynomialKernelModel, fit_polynomial

KINDS = LOWER_BOUND_MODELS  # the registry of simulator.models

__all__ = ["KINDS", "LowerBoundConfig", "fit_lower_bound", "LinearModel", "PolynomialKernelModel",
           "NTKModel", "fit_linear", "fit_polynomial", "fit_ntk", "oracle_linear",
           "exact_robust_accuracy", "robust_logistic_loss"]


@dataclass(frozen=True, kw_only=True)
class LowerBoundConfig(_ConfigMixin):
    """Training budgets of the lower-bound models (docs/model.md, claim 3).

    The defaults train each model to clean accuracy ≥ 0.98 at the default DataConfig
    (d = 512, k = 12) in about a minute or two per model on two cores.
    """

    # linear: online SGD on the exact robust logistic loss
    linear_steps: int = 600  # the clean direction is within cos 0.999 of M w* by then
    linear_batch_size: int = 512  # same as the network's batches
    # E[xxᵀ] ≈ (k/d)·I bounds the curvature by k/(4d), so η up to ~d/k is stable; the robust
    # optimum sits near w = 0 at the radii of interest, where SGD noise ∝ η sets ‖w‖: keep η small
    linear_step_size: float = 5.0

    # polynomial-kernel machine f(x) = Σ_j α_j (c + ⟨x_j, x⟩/s)^p
    poly_degree: int = 2  # used by kind 'poly' only ('poly2'/'poly3' fix it)
    poly_centres: int = 2048  # ≥ 4d: the span of the centres holds every linear function
    poly_train: int = 8192  # 4 × centres: clean acc ≥ 0.996 (0.97 with 1024 centres / 4096 points)
    poly_offset: float = 1.0  # c = 1: every degree 0..p weighs in (c = 0 is homogeneous)
    poly_scale: float | None = None  # s; None = E‖x‖² = k·E[z_j²] + σ², so ⟨x, x⟩/s ≈ 1
    # λ: keeps α finite on separable data and Newton well posed; 1e-3 underfits (clean acc 0.94
    # at 1024 centres / 4096 points), 1e-6 needs more Newton steps for no accuracy gain
    poly_reg: float = 1e-5
    poly_newton_steps: int = 8  # Newton converges in ≈ 6 steps at λ = 1e-5
    poly_adv_rounds: int = 12  # attack-then-Newton alternations after the clean fit
    poly_attack_steps: int = 1  # 1 = FGM, the paper's training attack

    # NTK of the network at initialisation
    ntk_steps: int = 600  # clean accuracy ≈ 0.98 (the NTK learns slower than the network)
    ntk_adv_steps: int = 600  # FGM steps from the clean ΔW, as the network does
    ntk_batch_size: int = 512  # same as the network's batches
    ntk_step_size: float = 2.0  # 0.5 is slow; 50 overshoots (clean acc 0.91); 2–5 fit best
    ntk_adv_step_size: float = 2.0  # as for clean training

    eval_batch_size: int = 1024  # rows per kernel / BLAS block in evaluation (memory)

    _CONSTRAINTS = {
        "linear_steps": Interval("int", 1, None),
        "linear_batch_size": Interval("int", 1, None),
        "linear_step_size": Interval("float", 0, None, closed="neither"),
        "poly_degree": Interval("int", 1, None),
        "poly_centres": Interval("int", 1, None),
        "poly_train": Interval("int", "poly_centres", None),
        "poly_offset": Interval("float", 0, None),
        "poly_scale": Interval("float", 0, None, closed="neither", allow_none=True),
        "poly_reg": Interval("float", 0, None, closed="neither"),
        "poly_newton_steps": Interval("int", 1, None),
        "poly_adv_rounds": Interval("int", 0, None),
        "poly_attack_steps": Interval("int", 1, None),
        "ntk_steps": Interval("int", 0, None),
        "ntk_adv_steps": Interval("int", 0, None),
        "ntk_batch_size": Interval("int", 1, None),
        "ntk_step_size": Interval("float", 0, None, closed="neither"),
        "ntk_adv_step_size": Interval("float", 0, None, closed="neither"),
        "eval_batch_size": Interval("int", 1, None),
    }


def _error(name, allowed, value):
    return ConfigError(f"The '{name}' parameter of fit_lower_bound must be {allowed}. "
                       f"Got {value!r} instead.")


def fit_lower_bound(kind: str, problem, net_cfg, *, adversarial: bool, tau: float = 0.0,
                 norm: str = "l2", seed: int | None = None, rng: np.random.Generator | None = None,
                 config: LowerBoundConfig | None = None, W_init=None, clean=None):
    """Build and train one lower-bound model, cleanly or adversarially.

    Parameters
    ----------
    kind : one of :data:`KINDS`
    problem : SparseCodingProblem
    net_cfg : NetworkConfig (width, threshold rule, init scale and dtype of the NTK's network)
    adversarial : train adversarially at radius ``tau`` (clean training otherwise)
    tau : training radius in ℓ2 units (the ℓ∞ radius is τ/√d); must be > 0 when adversarial
    norm : 'l2' or 'linf', the training ball
    seed : the run's seed.  Training data come from the ``lower_bounds`` stream (so every kind
        sees the same samples), and the NTK's W0 from the ``init`` stream: exactly the
        network's initialisation in a run with this seed.
    rng : alternatively, one generator for everything (W0 drawn first).  Give exactly one of
        ``seed`` and ``rng``.
    config : LowerBoundConfig (None = defaults)
    W_init : optional W0 for the NTK (overrides the draw), shape (width, input_dim)
    clean : optional, the model this function returned for the same kind, problem, net_cfg,
        seed (or generator state), config and W_init with ``adversarial=False`` (or with
        another norm).  The polynomial and NTK fits then take its clean phase instead of
        repeating it; the result is identical (:mod:`simulator.lower_bounds.reuse`), and a
        ``clean`` model that does not match raises ValueError.  The linear models' fits have
        no clean phase to share: ``clean`` is not used for them.

    Returns
    -------
    a model with ``decision_function``, ``margin_gradient``, ``name``, ``history`` and
    ``seconds``; its name is ``<kind>_clean`` or ``<kind>_adv`` (``linear_oracle`` is not
    trained: ``adversarial`` does not change it).
    """
    check_param("fit_lower_bound", "kind", kind, OneOf(KINDS))
    check_param("fit_lower_bound", "adversarial", adversarial, bool)
    check_param("fit_lower_bound", "norm", norm, NORM)
    if adversarial and isinstance(tau, numbers.Real) and tau == 0:
        raise _error("tau", "a float in the range (0, inf) when adversarial=True", tau)
    tau = check_param("fit_lower_bound", "tau", tau, POSITIVE_RADIUS if adversarial else RADIUS)
    if (seed is None) == (rng is None):
        raise ConfigError("fit_lower_bound needs exactly one of 'seed' and 'rng'. "
                          f"Got seed={seed!r} and rng={rng!r} instead.")
    if seed is not None:
        check_param("fit_lower_bound", "seed", seed, SEED)
    if config is None:
        config = LowerBoundConfig()
    elif not isinstance(config, LowerBoundConfig):
        raise _error("config", "a LowerBoundConfig or None", config)

    d = problem.config.input_dim
    radius = radius_in_norm(tau, norm, d) if adversarial else 0.0
    name = kind if kind == "linear_oracle" else f"{kind}_{'adv' if adversarial else 'clean'}"

    if kind == "ntk":
        if W_init is None:
            W_init = init_weights(net_cfg, d, stream(seed, "init") if seed is not None else rng)
        W_init = np.asarray(W_init)
        if W_init.shape != (net_cfg.width, d):
            raise _error("W_init", f"an array of shape (width={net_cfg.width}, input_dim={d})",
                         W_init.shape)
    data_rng = stream(seed, "lower_bounds") if seed is not None else rng

    if kind == "linear_oracle":
        return oracle_linear(problem, name=name)
    if kind == "linear":
        return fit_linear(problem, radius=radius, norm=norm, steps=config.linear_steps,
                          batch_size=config.linear_batch_size, step_size=config.linear_step_size,
                          rng=data_rng, name=name)
    if kind.startswith("poly"):
        degree = config.poly_degree if kind == "poly" else int(kind[4:])
        return fit_polynomial(problem, degree=degree, n_centres=config.poly_centres,
                              n_train=config.poly_train, offset=config.poly_offset,
                              scale=config.poly_scale, reg=config.poly_reg,
                              newton_steps=config.poly_newton_steps, radius=radius, norm=norm,
                              adv_rounds=config.poly_adv_rounds,
                              attack_steps=config.poly_attack_steps, rng=data_rng,
                              batch_size=config.eval_batch_size, name=name, clean=clean)
    model = fit_ntk(problem, W_init, net_cfg, steps=config.ntk_steps,
                    batch_size=config.ntk_batch_size, step_size=config.ntk_step_size,
                    adv_steps=config.ntk_adv_steps, adv_step_size=config.ntk_adv_step_size,
                    radius=radius, norm=norm, rng=data_rng, name=name, clean=clean)
    model.batch_size = config.eval_batch_size
    return model
