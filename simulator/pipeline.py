"""The one run path: problem and initial weights → clean training → adversarial training →
test set → models → evaluation → purification measures.

``fpsim train``, sweep cells and the theorem checks are callers of these functions; none of
them builds a problem, trains or evaluates by itself.  They differ only in what they ask for:

* :func:`run_networks` — the network run of ``fpsim train`` and of the network claims;
* :func:`train_networks`, :func:`build_models`, :func:`draw_test_set`, :func:`evaluate` — the
  steps, for callers that need only some models (sweep cells, the lower-bound checks).

Random streams (:mod:`simulator.rng`): ``problem`` and ``init`` build the problem and W0,
``train_data`` / ``adv_data`` / ``attack`` feed the two training phases, ``test_data`` the test
set and ``attack`` the evaluation attacks.  The same seed gives the same bytes on every path.

Results can be shared between callers of one process through a :class:`RunCache` passed in
explicitly (no module state).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from .attacks import AttackSettings, robust_accuracy_table
from .certification.relaxation import certified_margins
from .config import ConfigError, RunConfig
from .data import Batch, SparseCodingProblem
from .interrupts import checkpoint
from .metrics import dense_mixture_share, purification_measures
from .models import MODEL_KINDS
from .network import ThresholdNetwork, ideal_network, init_weights
from .norms import radius_in_norm
from .rng import stream
from .staged import staged_robust_accuracy_table
from .threads import thread_limit
from .training import TrainResult, train_adversarial, train_clean
from .validation import OneOf, TupleOf, check_param

# columns of an ``exact`` row besides the usual ones: points left undecided (never counted
# either way) and the robust accuracy if every undecided point were robust
EXACT_COLUMNS = ("n_undecided", "robust_acc_upper")

# the 'kinds' of build_models and sweep cells: items of the model registry
MODEL_KINDS_LIST = TupleOf(OneOf(tuple(MODEL_KINDS)))


class RunCache:
    """Results shared by several callers, keyed by everything they depend on.

    A theorem run passes one cache to every check, so that the clean training of a seed serves
    both norms and each network run serves the three network claims.  Namespaces keep kinds of
    results apart; keys must be hashable and have a deterministic ``repr`` (configs do).

    With a ``directory``, every value is also written there (pickle, atomically) as soon as it
    is computed, and read back instead of recomputed: an interrupted ``fpsim train`` or
    ``fpsim verify`` resumes from its staging folder without redoing finished work.  Only
    load a directory that fpsim wrote (pickle runs code on load).
    """

    def __init__(self, directory=None):
        self._store: dict = {}
        self.directory = None if directory is None else Path(directory)

    def _path(self, namespace: str, key) -> Path:
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:24]
        return self.directory / namespace / f"{digest}.pkl"

    def get(self, namespace: str, key, make: Callable, persist: bool = True):
        """The cached value of ``key`` in ``namespace``, computed by ``make()`` the first time.

        ``persist=False`` keeps the value in memory only (inputs that are cheaper to rebuild
        than to store, such as a loaded data set).
        """
        space = self._store.setdefault(namespace, {})
        if key in space:
            return space[key]
        path = None if self.directory is None or not persist else self._path(namespace, key)
        if path is not None and path.exists():
            with open(path, "rb") as fh:
                stored_key, value = pickle.load(fh)
            if stored_key != key:  # a hash collision, or a file from other code: recompute
                value = make()
        else:
            value = make()
        space[key] = value
        if path is not None and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    pickle.dump((key, value), fh, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        return value

    def values(self, namespace: str) -> list:
        """Every value cached in ``namespace`` in this process, in insertion order."""
        return list(self._store.get(namespace, {}).values())

    def clear(self) -> None:
        self._store.clear()


@dataclass
class Trained:
    """The problem, the initial weights and the training phases that ran.

    Attributes
    ----------
    config : RunConfig
    problem : SparseCodingProblem
    W_init : ndarray (width, input_dim)
    clean, adversarial : TrainResult or None (phases not asked for)
    """

    config: RunConfig
    problem: SparseCodingProblem
    W_init: np.ndarray
    clean: TrainResult | None = None
    adversarial: TrainResult | None = None

    @property
    def W_clean(self) -> np.ndarray | None:
        """The clean-trained weights (None before clean training)."""
        return None if self.clean is None else self.clean.W

    @property
    def W_adv(self) -> np.ndarray | None:
        """The adversarially trained weights (None before adversarial training)."""
        return None if self.adversarial is None else self.adversarial.W

    @property
    def adv_factors(self) -> dict:
        """U, V of a low-rank adversarial update (``train.adv_rank``); empty otherwise."""
        return dict(getattr(self.adversarial, "factors", None) or {})

    @property
    def timings(self) -> dict:
        """Seconds of each phase that ran."""
        return {f"{name}_training": phase.seconds for name, phase in
                (("clean", self.clean), ("adversarial", self.adversarial)) if phase is not None}


@dataclass
class RunResult:
    """Everything a network run measured.

    Attributes
    ----------
    config : RunConfig
    problem : SparseCodingProblem
    W_init, W_clean, W_adv : ndarray (width, input_dim)
    test : Batch, the test set
    results : list of dict rows (model, norm, tau, radius, attack, clean_acc, robust_acc)
    neurons : dict of column arrays (per-neuron metrics of both networks)
    curves : list of dict rows (phase, step, median dense-mixture share, loss)
    spectrum : singular values of W_adv − W_clean
    summary : dict of scalar figures
    timings : dict of seconds
    """

    config: RunConfig
    problem: SparseCodingProblem
    W_init: np.ndarray
    W_clean: np.ndarray
    W_adv: np.ndarray
    test: Batch | None = None
    results: list = field(default_factory=list)
    neurons: dict = field(default_factory=dict)
    curves: list = field(default_factory=list)
    spectrum: np.ndarray | None = None
    summary: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    # {'U': (width, r), 'V': (input_dim, r)} when train.adv_rank is set (W_adv = W_clean + U Vᵀ)
    adv_factors: dict = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return self.config.seed

    @property
    def norm(self) -> str:
        """The norm of adversarial training."""
        return self.config.train.adv_norm


# ----------------------------------------------------------------------------------------
# Steps
# ----------------------------------------------------------------------------------------


def build_problem(cfg: RunConfig) -> tuple[SparseCodingProblem, np.ndarray]:
    """The sparse-coding problem (stream ``problem``) and the initial weights (``init``)."""
    problem = SparseCodingProblem(cfg.data, stream(cfg.seed, "problem"), dtype=cfg.network.dtype)
    W_init = init_weights(cfg.network, cfg.data.input_dim, stream(cfg.seed, "init"))
    return problem, W_init


def _clean_key(cfg: RunConfig):
    """What clean training depends on: not the adversarial phase, evaluation or threads."""
    t = cfg.train
    return (cfg.data, cfg.network, t.clean_steps, t.step_size, t.batch_size, t.train_size,
            t.feature_path, t.snapshot_every, cfg.seed)


def _adversarial_key(cfg: RunConfig):
    """What adversarial training depends on: clean training and the train section."""
    return (_clean_key(cfg), cfg.train.replace(progress=False))


def _train_clean(cfg: RunConfig, stopping=None):
    problem, W_init = build_problem(cfg)
    if stopping is None:
        clean = train_clean(W_init, problem, cfg.network, cfg.train, stream(cfg.seed, "train_data"))
    else:
        from .stopping import train_until_plateau

        clean = train_until_plateau("clean", W_init, problem, cfg.network, cfg.train, stopping,
                                    stream(cfg.seed, "train_data"))
    return problem, W_init, clean


def _train_adversarial(cfg: RunConfig, problem, W_clean, stopping=None):
    rng, attack_rng = stream(cfg.seed, "adv_data"), stream(cfg.seed, "attack")
    if stopping is None:
        return train_adversarial(W_clean, problem, cfg.network, cfg.train, rng, attack_rng)
    from .stopping import held_out_robust_accuracy, train_until_plateau

    # the held-out set has its own stream: watching it changes no other draw
    monitor = problem.sample(stopping.monitor_size, stream(cfg.seed, "monitor_data"))
    radius = radius_in_norm(cfg.train.adv_tau, cfg.train.adv_norm, cfg.data.input_dim)

    def robust_check(W):
        return held_out_robust_accuracy(W, cfg.network, problem, monitor, radius,
                                        cfg.train.adv_norm, stopping.monitor_pgd_steps)

    return train_until_plateau("adversarial", W_clean, problem, cfg.network, cfg.train, stopping,
                               rng, attack_rng, robust_check=robust_check)


def train_networks(cfg: RunConfig, *, phases: Sequence[str] = ("clean", "adversarial"),
                   cache: RunCache | None = None,
                   on_phase: Callable[[str, Trained], None] | None = None,
                   stopping=None) -> Trained:
    """Build the problem and W0, then run the training ``phases`` (docs/model.md, "Training").

    Parameters
    ----------
    cfg : RunConfig
    phases : () (problem and W0 only), ('clean',) or ('clean', 'adversarial')
    cache : optional RunCache; clean training is shared by configs that differ only in
        their adversarial phase or evaluation (the two norms of a theorem run), and a cache
        with a directory keeps both phases on disk for a resumed run
    on_phase : optional callable(phase, trained_so_far), called after each phase so that a
        caller can save what is finished before an interruption
    stopping : optional :class:`simulator.stopping.StoppingRule`: each phase trains until
        the rule stops it (at most ``max_steps``, or the phase's budget in ``cfg.train``) and
        its result is a :class:`~simulator.stopping.StoppedTrainResult` (steps used, history);
        None (default): the fixed budgets of ``cfg.train``

    Returns
    -------
    Trained
    """
    phases = tuple(phases)
    if phases not in ((), ("clean",), ("clean", "adversarial")):
        raise ConfigError("The 'phases' parameter of train_networks must be one of (), ('clean',), "
                          f"('clean', 'adversarial'). Got {phases!r} instead.")
    if not phases:
        problem, W_init = build_problem(cfg)
        return Trained(cfg, problem, W_init)
    # a stopping rule is part of what a phase depends on; without one the keys are unchanged
    extra = () if stopping is None else (stopping,)
    if cache is None:
        problem, W_init, clean = _train_clean(cfg, stopping)
    else:
        problem, W_init, clean = cache.get("clean", _clean_key(cfg) + extra,
                                           lambda: _train_clean(cfg, stopping))
    trained = Trained(cfg, problem, W_init, clean=clean)
    if on_phase:
        on_phase("clean", trained)
    if "adversarial" in phases:
        def adversarial():
            return _train_adversarial(cfg, problem, clean.W, stopping)

        trained.adversarial = (adversarial() if cache is None else
                               cache.get("adversarial", _adversarial_key(cfg) + extra, adversarial))
        if on_phase:
            on_phase("adversarial", trained)
    return trained


def draw_test_set(problem: SparseCodingProblem, cfg: RunConfig) -> Batch:
    """The test set of a run: ``eval.n_test`` fresh samples from the ``test_data`` stream."""
    return problem.sample(cfg.eval.n_test, stream(cfg.seed, "test_data"))


def build_models(kinds: Sequence[str], trained: Trained, cfg: RunConfig,
                 lower_bounds: Mapping | None = None, *, tau: float | None = None,
                 norm: str | None = None, variants: Sequence[bool] = (False, True),
                 timings: dict | None = None) -> dict:
    """The models of ``kinds`` (:data:`simulator.models.MODEL_KINDS`), by row name.

    Network kinds come from ``trained``; lower-bound kinds are fitted on the same problem
    (and the NTK at the same W0), clean and — for each ``True`` in ``variants`` —
    adversarially at radius ``tau`` in ``norm`` (default: the network's training radius and
    norm).  The adversarial fit continues from the clean one (same result as fitting from
    scratch, :mod:`simulator.lower_bounds.reuse`).

    Parameters
    ----------
    lower_bounds : LowerBoundConfig or a dict of its overrides (None: defaults)
    timings : optional dict that receives ``training_<row name>`` seconds per fitted model
    """
    kinds = check_param("build_models", "kinds", kinds, MODEL_KINDS_LIST)
    models = {}
    for kind in kinds:
        if kind == "ideal":
            models["ideal"] = ideal_network(trained.problem, cfg.network)
        elif kind == "clean":
            models["clean"] = ThresholdNetwork.from_config(trained.W_clean, cfg.network, name="clean")
        elif kind == "adversarial":
            models["adversarial"] = ThresholdNetwork.from_config(trained.W_adv, cfg.network,
                                                                 name="adversarial")
        else:
            models.update(fit_lower_bound_models(kind, trained, cfg, lower_bounds, tau=tau,
                                                 norm=norm, variants=variants, timings=timings))
    return models


def fit_lower_bound_models(kind: str, trained: Trained, cfg: RunConfig, lower_bounds=None, *,
                           tau: float | None = None, norm: str | None = None,
                           variants: Sequence[bool] = (False, True), clean=None,
                           timings: dict | None = None) -> dict:
    """One lower-bound kind, fitted clean and/or adversarially; by row name.

    ``clean``: an already fitted clean model of this kind to continue from (a cache).
    """
    from .lower_bounds import LowerBoundConfig, fit_lower_bound

    if lower_bounds is None or isinstance(lower_bounds, Mapping):
        lower_bounds = LowerBoundConfig.from_dict(dict(lower_bounds or {}))
    tau = cfg.train.adv_tau if tau is None else tau
    norm = cfg.train.adv_norm if norm is None else norm
    if kind == "linear_oracle":
        variants = (False,)  # not trained: one model
    out = {}
    for adversarial in variants:
        if adversarial and tau == 0:
            continue  # at radius 0 the adversarial model is the clean one
        if not adversarial and clean is not None:
            out[clean.name] = clean
            continue
        t = time.perf_counter()
        model = fit_lower_bound(kind, trained.problem, cfg.network, adversarial=adversarial,
                                tau=tau if adversarial else 0.0, norm=norm, seed=cfg.seed,
                                config=lower_bounds, W_init=trained.W_init,
                                clean=clean if adversarial else None)
        if not adversarial:
            clean = model
        if timings is not None:
            timings[f"training_{model.name}"] = time.perf_counter() - t
        out[model.name] = model
    return out


def attack_settings(cfg: RunConfig) -> AttackSettings:
    e = cfg.eval
    return AttackSettings(pgd_steps=e.pgd_steps, pgd_restarts=e.pgd_restarts,
                          pgd_step_rel=e.pgd_step_rel)


def certified_accuracies(model, test: Batch, radii, norm: str) -> tuple[str, list] | None:
    """(attack label, accuracy at each ascending radius) from the model's certifier, or None.

    Networks: the linear-relaxation certifier, a sound lower bound (label ``certified``).
    Linear models: the exact robust accuracy in closed form (label ``exact``).  A sample
    certified at radius r is certified at every smaller radius (the smaller ball lies inside),
    so the share is taken over the envelope: certified at r if certified at some r' ≥ r.
    """
    if hasattr(model, "exact_robust_accuracy") and hasattr(model, "robust_margin"):
        label = "exact"
        margins = [model.robust_margin(test.X, test.y, r, norm) for r in radii]
    elif isinstance(model, ThresholdNetwork):
        label = "certified"
        margins = certified_margins(model.W, model.b, test.X, test.y, radii, norm)
    else:
        return None
    M = np.maximum.accumulate(np.array(margins)[::-1], axis=0)[::-1]
    return label, [float(np.mean(m > 0)) for m in M]


def evaluate(models: Mapping, problem: SparseCodingProblem, test: Batch, cfg: RunConfig,
             rng: np.random.Generator | Callable[[str], np.random.Generator], *,
             standalone_taus: Sequence[float] | None = None,
             timings: dict | None = None) -> list:
    """Robust-accuracy rows for each model × norm × τ × attack, plus certified/exact rows.

    Parameters
    ----------
    models : row name -> model (``decision_function``, ``margin_gradient``)
    rng : one generator, consumed by the models in order (``fpsim train``, the network
        claims), or a callable giving each model its own (sweep cells: a model's numbers then
        do not depend on which other models are evaluated)
    standalone_taus : the τ at which PGD's own robust accuracy is reported (None: all; ()
        none); elsewhere PGD runs only where the ensemble needs it
    timings : optional dict that receives ``evaluation_<name>`` seconds

    Returns
    -------
    list of dict rows (model, norm, tau, radius, attack, clean_acc, robust_acc)
    """
    rows = []
    d = cfg.data.input_dim
    settings = attack_settings(cfg)
    e = cfg.eval
    for name, model in models.items():
        checkpoint()
        t = time.perf_counter()
        model_rng = rng(name) if callable(rng) else rng
        for norm in e.norms:
            radii = [radius_in_norm(tau, norm, d) for tau in e.taus]
            tau_of = dict(zip(radii, e.taus))
            standalone = None if standalone_taus is None else [
                radius_in_norm(tau, norm, d) for tau in standalone_taus]
            if isinstance(model, ThresholdNetwork):
                # certifier first, attacks only where it leaves a point open, then the exact
                # stage (same per-attack figures as the plain table: simulator/staged.py)
                exact = [radius_in_norm(tau, norm, d) for tau in e.exact_taus] \
                    if name in e.exact_models else []
                clean_acc, table, _ = staged_robust_accuracy_table(
                    model, problem, test, radii, norm, settings, model_rng, standalone,
                    exact_radii=exact, time_limit=e.exact_time_limit,
                    max_unstable=e.exact_max_unstable)
            else:
                clean_acc, table = robust_accuracy_table(model, problem, test, radii, norm,
                                                         settings, model_rng, standalone)
                cert = certified_accuracies(model, test, radii, norm)
                if cert is not None:
                    label, accs = cert
                    table = table + [{"radius": r, "attack": label, "robust_acc": c}
                                     for r, c in zip(radii, accs)]
            for r in table:
                rows.append({"model": name, "norm": norm, "tau": tau_of[r["radius"]],
                             "radius": r["radius"], "attack": r["attack"],
                             "clean_acc": clean_acc, "robust_acc": r["robust_acc"],
                             **{k: r[k] for k in EXACT_COLUMNS if k in r}})
        if timings is not None:
            timings[f"evaluation_{name}"] = time.perf_counter() - t
    return rows


def mixture_curve(problem: SparseCodingProblem, result: TrainResult, phase: str, skip: int) -> list:
    """Median dense-mixture share (and the loss) at each snapshot step of a training phase."""
    out = []
    for step in sorted(result.snapshots):
        C = problem.feature_coefficients(result.snapshots[step])
        share = dense_mixture_share(C, problem.w_star, skip)
        losses = result.losses
        out.append({"phase": phase, "step": int(step),
                    "median_dense_mixture_share": float(np.median(share)),
                    "loss": float(losses[step - 1]) if step > 0 and len(losses) else float("nan")})
    return out


# ----------------------------------------------------------------------------------------
# The network run
# ----------------------------------------------------------------------------------------


def run_networks(cfg: RunConfig, *, cache: RunCache | None = None,
                 standalone_taus: Sequence[float] | None = None,
                 on_phase: Callable[[str, Trained], None] | None = None) -> RunResult:
    """Train clean, train adversarially from the clean weights, evaluate and measure.

    The ideal, clean-trained and adversarially trained networks are evaluated on one test set
    with one attack generator (stream ``attack``), then the purification measures and the
    dense-mixture curves of both phases are taken.

    Parameters
    ----------
    cfg : RunConfig
    cache : optional RunCache shared with other runs of this process
    standalone_taus : τ with a stand-alone PGD row (None: every τ), see :func:`evaluate`
    on_phase : optional callable(phase, trained_so_far) after each training phase

    Returns
    -------
    RunResult
    """
    timings = {}
    with thread_limit(cfg.threads):
        t0 = time.perf_counter()
        trained = train_networks(cfg, cache=cache, on_phase=on_phase)
        timings["clean_training"] = trained.clean.seconds
        timings["adversarial_training"] = trained.adversarial.seconds
        problem = trained.problem

        t = time.perf_counter()
        test = draw_test_set(problem, cfg)
        models = build_models(("ideal", "clean", "adversarial"), trained, cfg)
        results = evaluate(models, problem, test, cfg, stream(cfg.seed, "attack"),
                           standalone_taus=standalone_taus)
        timings["evaluation"] = time.perf_counter() - t

        t = time.perf_counter()
        skip = cfg.eval.mixture_skip
        neurons, spectrum, summary = purification_measures(
            problem, trained.W_init, trained.W_clean, trained.W_adv, skip, cfg.eval.top_rank)
        curves = (mixture_curve(problem, trained.clean, "clean", skip)
                  + mixture_curve(problem, trained.adversarial, "adversarial", skip))
        timings["metrics"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t0
    return RunResult(config=cfg, problem=problem, W_init=trained.W_init, W_clean=trained.W_clean,
                     W_adv=trained.W_adv, test=test, results=results, neurons=neurons,
                     curves=curves, spectrum=spectrum, summary=summary, timings=timings,
                     adv_factors=trained.adv_factors)

