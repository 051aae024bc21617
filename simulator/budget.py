"""An up-front estimate of what a run costs (peak memory, and time) before anything is allocated.

A run's arrays are known from its config alone: the dictionary M (input_dim × n_features),
the weights (width × input_dim, three of them plus the snapshots), a training batch and its
pre-activations (batch × input_dim, batch × width), the test set (n_test × input_dim) and the
evaluation's attack buffers, the metrics' feature profiles (width × n_features, float64).  This
module counts them from the code that allocates them (:mod:`simulator.data`,
:mod:`simulator.training`, :mod:`simulator.network`, :mod:`simulator.attacks`,
:mod:`simulator.certification.relaxation`, :mod:`simulator.metrics`, :mod:`simulator.lower_bounds`), in plain
Python integers: an estimate for ``input_dim = 10⁶`` or ``n_test = 10¹⁰`` costs microseconds
and allocates nothing.  :func:`check_budget` refuses a config whose estimate exceeds the
machine's available memory (or a given limit) with a :class:`~simulator.config.ConfigError`
naming the parameter that drives it.

The estimate is of the right order, not exact: it counts every array the size of a weight
matrix, a batch or the test set, and the temporaries numpy creates for them, but not the
allocator's slack.  Measured: ``fpsim train`` at d = 64, m = 128, n_test = 256 peaked at
244 MB resident (estimate 304 MB), at d = 256, m = 768, n_test = 4096 at 346 MB (estimate
408 MB); a small run_networks's numpy allocations peaked at 20.8 MB under tracemalloc
against 24.6 MB estimated (tests/unit/test_budget.py holds estimate ≥ allocation).  It is
meant to catch the sizes that cannot fit, not to plan the last gigabyte.

Items live in *phases*: ``held`` arrays stay for the whole run (M, the weights, the
snapshots, the loss histories); the others exist only during their phase (``setup``,
``training``, ``training (<kind>)`` for each lower-bound model, ``evaluation``,
``metrics``), one phase at a time.  Peak = held + the largest phase.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

from .config import ConfigError, RunConfig
from .models import NETWORK_MODELS

# Interpreter, numpy, scipy, numba and the compiled kernels, before any array: measured
# resident size of ``fpsim train`` right after start-up is about 250 MB; rounded up.
BASE_OVERHEAD_BYTES = 300 * 2**20
# When /proc/meminfo cannot be read (not Linux): a stated cap instead of the machine's memory.
DEFAULT_CAP_BYTES = 8 * 2**30
# Multiply-adds per second for the time estimate: a clean step at d = 512, m = 1536, B = 512
# (3·B·d·m ≈ 1.2e9 multiply-adds) takes ≈ 30 ms on one core of the development machine,
# 4e10 /s; evaluation and the lower-bound models run below that, so half of it: estimates
# err on the long side.
MADDS_PER_SECOND = 2e10
# Rows per evaluation block of ThresholdNetwork (its default ``batch_size``).
_NETWORK_EVAL_ROWS = 2048
# Elements per chunk of the certifier's slope arrays (simulator.certification.relaxation._CHUNK_ELEMENTS).
_CERTIFY_CHUNK = 2**21
_F64 = 8


@dataclass(frozen=True)
class CostItem:
    """One array (or group of arrays) of the estimate.

    Attributes
    ----------
    name : what it is, e.g. "test set X (n_test × input_dim)"
    nbytes : its size in bytes
    phase : 'held' or the phase it lives in ('setup', 'training', 'evaluation', 'metrics')
    params : ((dotted parameter name, value), ...) that its size is proportional to
    """

    name: str
    nbytes: int
    phase: str
    params: tuple = ()


@dataclass
class Budget:
    """The cost estimate of a run, a sweep cell or several runs.

    Attributes
    ----------
    items : list of CostItem
    madds : estimated multiply-adds (see :func:`simulator.sweeps.cell.estimated_cost`)
    """

    items: list = field(default_factory=list)
    madds: float = 0.0

    def phase_bytes(self, phase: str) -> int:
        return sum(i.nbytes for i in self.items if i.phase == phase)

    @property
    def peak_phase(self) -> str:
        phases = sorted({i.phase for i in self.items} - {"held"})
        return max(phases, key=self.phase_bytes) if phases else "held"

    @property
    def peak_bytes(self) -> int:
        """Estimated peak memory in bytes, the fixed interpreter overhead included."""
        peak = self.phase_bytes(self.peak_phase) if self.peak_phase != "held" else 0
        return BASE_OVERHEAD_BYTES + self.phase_bytes("held") + peak

    @property
    def seconds(self) -> float:
        """Estimated wall time at :data:`MADDS_PER_SECOND` (an estimate, on the long side)."""
        return self.madds / MADDS_PER_SECOND

    def largest_item(self) -> CostItem:
        """The largest item alive at the peak (held or of the peak phase)."""
        alive = [i for i in self.items if i.phase in ("held", self.peak_phase)]
        return max(alive, key=lambda i: i.nbytes)

    def driver(self) -> tuple[str, object]:
        """(dotted name, value) of the parameter that drives the estimate.

        Among the parameters of the largest item, the one furthest above its default
        (ratio value / default): that is the one to lower.
        """
        item = self.largest_item()
        if not item.params:
            return ("", None)
        return max(item.params, key=lambda p: _ratio_to_default(*p))

    def describe(self) -> str:
        """A few lines: the peak, the largest items and the time estimate."""
        lines = [f"estimated peak memory {format_bytes(self.peak_bytes)} (phase "
                 f"'{self.peak_phase}'), estimated time {format_seconds(self.seconds)}"]
        alive = sorted((i for i in self.items if i.phase in ("held", self.peak_phase)),
                       key=lambda i: -i.nbytes)
        for i in alive[:5]:
            lines.append(f"  {format_bytes(i.nbytes):>10s}  {i.name} [{i.phase}]")
        return "\n".join(lines)


def format_bytes(n: float) -> str:
    for unit, size in (("PB", 2**50), ("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


def format_seconds(s: float) -> str:
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f"{s / size:.3g} {unit}"
    return f"{s:.3g} s"


def _defaults() -> dict:
    """Default value of every dotted parameter name (run config and lower-bound config)."""
    from .lower_bounds import LowerBoundConfig

    out = {}
    for section, value in RunConfig().to_dict().items():
        if isinstance(value, dict):
            out.update({f"{section}.{k}": v for k, v in value.items()})
    out.update({f"lower_bound.{k}": v for k, v in LowerBoundConfig().to_dict().items()})
    return out


def _ratio_to_default(name: str, value) -> float:
    default = _defaults().get(name)
    try:
        value = float(value)
        default = float(default) if default not in (None, 0) else 1.0
    except (TypeError, ValueError):
        return 0.0
    return value / default


def _dictionary_param(cfg: RunConfig) -> tuple:
    """The parameter that sets D: data.n_features when given, else data.input_dim (D = d)."""
    if cfg.data.n_features is None:
        return ("data.input_dim", cfg.data.input_dim)
    return ("data.n_features", cfg.data.n_features)


def _snapshot_count(steps: int, every: int) -> int:
    """Snapshots a phase keeps: steps 0, every, 2·every, … below ``steps``, and ``steps``."""
    return 0 if every <= 0 else -(-steps // every) + 1


def _loss_bytes(steps: int) -> int:
    from .training import LOSS_HISTORY_CAP

    return _F64 * min(steps, LOSS_HISTORY_CAP)


def _network_items(cfg: RunConfig, with_adversarial: bool = True) -> list:
    """Problem, weights, snapshots, losses and the training temporaries of the network."""
    d, D, m = cfg.data.input_dim, cfg.data.dictionary_size, cfg.network.width
    k, B = cfg.data.sparsity, cfg.train.batch_size
    s = 4 if cfg.network.dtype == "float32" else 8
    t = cfg.train
    P_d, P_D, P_m, P_B = (("data.input_dim", d), _dictionary_param(cfg), ("network.width", m),
                          ("train.batch_size", B))
    # a drawn code: COO rows, columns, values (int64/float64) and its CSR, ×1.2 oversampling
    code = int(1.2 * k * 64) + 48
    items = [
        CostItem("dictionary M and its cached transpose (2 × input_dim × n_features)",
                 2 * d * D * s, "held", (P_d, P_D)),
        # ortho_group: a float64 Gaussian d×d, its QR (Q, R, workspace); overcomplete: d×D
        CostItem("building M (float64 Gaussian matrix and its QR)",
                 (4 * d * d if D == d else 2 * d * D) * _F64, "setup", (P_d, P_D)),
        CostItem("initial weights in float64 before the cast (width × input_dim)",
                 m * d * _F64, "setup", (P_m, P_d)),
    ]
    n_w = 3 if with_adversarial else 2
    items.append(CostItem(f"{n_w} weight matrices W_init, W_clean{', W_adv' if with_adversarial else ''} "
                          "(width × input_dim)", n_w * m * d * s, "held", (P_m, P_d)))
    n_snap = _snapshot_count(t.clean_steps, t.snapshot_every)
    if with_adversarial:
        n_snap += _snapshot_count(t.adv_steps, t.snapshot_every)
    if n_snap:
        items.append(CostItem(f"{n_snap} snapshots of W (train.snapshot_every = {t.snapshot_every})",
                              n_snap * m * d * s, "held",
                              (("train.clean_steps", t.clean_steps),
                               ("train.adv_steps", t.adv_steps), P_m, P_d)))
    loss = _loss_bytes(t.clean_steps) + (_loss_bytes(t.adv_steps) if with_adversarial else 0)
    items.append(CostItem("loss histories (float64 per step, capped)", loss, "held",
                          (("train.clean_steps", t.clean_steps), ("train.adv_steps", t.adv_steps))))
    n_train = B if t.train_size is None else max(B, t.train_size)
    P_n = P_B if t.train_size is None else ("train.train_size", t.train_size)
    # a batch X, its noise, x + δ, the input gradient G and the attack's step (PGD: δ, x + δ)
    x_copies = 4 if t.adv_attack == "fgm" else 6
    items += [
        CostItem("training batch: codes and x, noise, x + δ, input gradient (batch × input_dim)",
                 n_train * (code + x_copies * d * s), "training", (P_n, P_d)),
        CostItem("pre-activations and backward coefficients (2 × batch × width)",
                 2 * n_train * m * s, "training", (P_n, P_m)),
        CostItem("weight gradient (width × input_dim)", m * d * s, "training", (P_m, P_d)),
    ]
    if cfg.data.noise == 0 and cfg.data.unitary and t.feature_path != "off":
        # feature path: Ct (D × width) and its float64 build, the active-unit lists
        items.append(CostItem("feature coordinates C = W M (n_features × width, and float64 copies)",
                              D * m * (s + _F64) + d * D * _F64 + m * d * _F64 + n_train * m * 4,
                              "training", (P_D, P_m)))
    return items


def _evaluation_items(cfg: RunConfig, widths: Sequence[int]) -> list:
    """Test set and the attack ensemble's buffers (the largest of the attacks)."""
    d, k, n = cfg.data.input_dim, cfg.data.sparsity, cfg.eval.n_test
    s = 4 if cfg.network.dtype == "float32" else 8
    P_n, P_d = ("eval.n_test", n), ("data.input_dim", d)
    code = int(1.2 * k * 64) + 48
    w = max(widths) if widths else 1
    rows = min(n, _NETWORK_EVAL_ROWS)
    # the certifier's chunk: t (rows × width), slopes and intercepts (2 × 4 × rows × width)
    # and one rule's direction (rows × input_dim), float64
    cert_rows = min(n, max(1, _CERTIFY_CHUNK // (4 * w)))
    return [
        CostItem("test set: codes and X (n_test × input_dim)", n * (code + d * s), "evaluation",
                 (P_n, P_d)),
        # feature attack: U in float64, its steepest step, the cast and x + δ; PGD keeps
        # best_delta, x[idx], δ, x + δ and G: about 3 float64 + 3 dtype copies at most
        CostItem("attack buffers: δ, x + δ, input gradients (≈ 3 float64 + 3 copies of X)",
                 n * d * (3 * _F64 + 3 * s), "evaluation", (P_n, P_d)),
        # the certifier converts X to float64 and holds one margin per radius
        CostItem("certifier: X in float64, margins, slope chunks",
                 n * d * _F64 + n * _F64 * len(cfg.eval.taus)
                 + cert_rows * (9 * w + d) * _F64, "evaluation", (P_n, P_d)),
        CostItem("evaluation blocks: pre-activations (rows × width)", 2 * rows * w * s,
                 "evaluation", (("network.width", w),)),
    ]


def _metrics_items(cfg: RunConfig) -> list:
    """purification_measures and the mixture curves: float64 feature profiles and copies."""
    d, D, m = cfg.data.input_dim, cfg.data.dictionary_size, cfg.network.width
    P = (("network.width", m), _dictionary_param(cfg), ("data.input_dim", d))
    # C, the residual, |R|, −|R|, argpartition's int64 indices, R²: six width × D arrays;
    # W and M in float64; the update spectrum's three float64 copies and SVD workspace
    return [CostItem("feature profiles and residuals (6 × width × n_features, float64)",
                     6 * m * D * _F64 + (m * d + d * D) * _F64, "metrics", P),
            CostItem("update spectrum and β decomposition (4 × width × input_dim, float64)",
                     4 * m * d * _F64, "metrics", P[:1] + P[2:])]


def _lower_bound_items(cfg: RunConfig, kind: str, b) -> list:
    """The lower-bound models of one kind (clean and adversarial), held and while training."""
    d, m = cfg.data.input_dim, cfg.network.width
    s = 4 if cfg.network.dtype == "float32" else 8
    code = int(1.2 * cfg.data.sparsity * 64) + 48
    if kind == "linear_oracle":
        return [CostItem("linear oracle M w*", d * _F64, "held", (("data.input_dim", d),))]
    if kind == "linear":
        Bl = b.linear_batch_size
        return [CostItem("linear models: weights and loss histories", 2 * d * _F64 * 3
                         + 2 * _F64 * b.linear_steps, "held",
                         (("lower_bound.linear_steps", b.linear_steps),)),
                CostItem("linear training batch (float64)", Bl * (code + 2 * d * (s + _F64)),
                         "training (linear)", (("lower_bound.linear_batch_size", Bl), ("data.input_dim", d)))]
    if kind == "ntk":
        Bn = b.ntk_batch_size
        P = (("network.width", m), ("data.input_dim", d))
        return [CostItem("NTK models: W0, and per model ΔW, W0 + ΔW, the clean ΔW",
                         (1 + 2 * 3) * m * d * s, "held", P),
                CostItem("NTK loss histories", 2 * _F64 * (b.ntk_steps + b.ntk_adv_steps), "held",
                         (("lower_bound.ntk_steps", b.ntk_steps),
                          ("lower_bound.ntk_adv_steps", b.ntk_adv_steps))),
                CostItem("NTK training: batch, gates, ΔW gradient",
                         Bn * (code + 4 * d * s) + 3 * Bn * m * s + m * d * s, "training (ntk)",
                         (("lower_bound.ntk_batch_size", Bn),) + P)]
    c, n = b.poly_centres, b.poly_train
    P = (("lower_bound.poly_train", n), ("lower_bound.poly_centres", c))
    return [CostItem("polynomial models: centres and coefficients", 2 * c * (d + 1) * _F64, "held",
                     (("lower_bound.poly_centres", c), ("data.input_dim", d))),
            # kernel base, its power, the attacked kernel and Newton's weighted copy (n × c),
            # the Hessian and its factor (c × c), X, x + δ, δ and G (n × d), float64
            CostItem("polynomial fit: kernel matrices, Hessian, training set",
                     4 * n * c * _F64 + 3 * c * c * _F64 + n * (code + 4 * d * _F64),
                     f"training ({kind})", P)]


def estimate_run(cfg: RunConfig) -> Budget:
    """The cost of :func:`simulator.pipeline.run_networks` (``fpsim train``) for ``cfg``.

    Returns
    -------
    Budget : items (bytes by phase) and multiply-adds of training and evaluating the ideal,
        clean and adversarial networks.
    """
    return estimate_cell(cfg, NETWORK_MODELS)


def estimate_cell(cfg: RunConfig, models: Sequence[str], lower_bounds: Mapping | None = None) -> Budget:
    """The cost of :func:`simulator.sweeps.cell.run_cell` with these models (and lower-bound overrides)."""
    from .lower_bounds import LowerBoundConfig
    from .sweeps.cell import estimated_cost

    b = LowerBoundConfig.from_dict(dict(lower_bounds or {}))
    items = []
    trains = "clean" in models or "adversarial" in models
    if trains or "ntk" in models:
        items += _network_items(cfg, with_adversarial="adversarial" in models)
    else:
        items += [i for i in _network_items(cfg, False) if i.phase == "setup"
                  or i.name.startswith("dictionary")]
    widths = [cfg.network.width] if trains or "ntk" in models else []
    if "ideal" in models:
        widths.append(cfg.data.dictionary_size)
        items.append(CostItem("ideal network weights (n_features × input_dim)",
                              cfg.data.dictionary_size * cfg.data.input_dim
                              * (4 if cfg.network.dtype == "float32" else 8), "held",
                              (_dictionary_param(cfg), ("data.input_dim", cfg.data.input_dim))))
    items += _evaluation_items(cfg, widths)
    if trains:
        items += _metrics_items(cfg)
    for kind in models:
        if kind not in NETWORK_MODELS:
            items += _lower_bound_items(cfg, kind, b)
    return Budget(items=items, madds=estimated_cost(cfg, list(models), lower_bounds))


def estimate_runs(cfgs: Sequence[RunConfig], models=NETWORK_MODELS,
                  lower_bounds: Mapping | None = None) -> Budget:
    """Several runs in one process whose results stay cached (``fpsim verify``: seed × norm).

    Every run's held arrays and its test set stay to the end; temporaries exist for one
    run at a time, so each run's phases are kept apart and the largest one counts.  For
    ``fpsim verify`` pass every model its checks build (the lower-bound kinds too) and the
    regime's lower-bound config (``regime.lower_bounds.to_dict()``).
    """
    items, madds = [], 0.0
    for j, cfg in enumerate(cfgs, start=1):
        one = estimate_cell(cfg, models, lower_bounds)
        madds += one.madds
        for i in one.items:
            if i.phase == "held" or i.name.startswith("test set"):
                items.append(replace(i, name=f"run {j}: {i.name}", phase="held"))
            else:
                items.append(replace(i, phase=f"run {j}: {i.phase}"))
    return Budget(items=items, madds=madds)


def with_workers(budget: Budget, cell: Budget, workers: int) -> Budget:
    """``budget`` (the main process, which ends up holding every run) plus ``workers``
    processes each holding one cell ``cell`` at its peak (``fpsim verify --workers``: the
    prefetch workers of theorems/prefetch.py), all counted at once."""
    if workers <= 1:
        return budget
    one = cell.peak_bytes
    params = cell.largest_item().params
    item = CostItem(f"{workers} prefetch workers × one run at its peak", workers * one, "held", params)
    return Budget(items=budget.items + [item], madds=budget.madds)


def available_memory() -> tuple[int, str]:
    """(bytes, where from): MemAvailable of /proc/meminfo, or :data:`DEFAULT_CAP_BYTES`."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "MemAvailable in /proc/meminfo"
    except (OSError, ValueError, IndexError):
        pass
    return DEFAULT_CAP_BYTES, f"the default cap of {format_bytes(DEFAULT_CAP_BYTES)}"


def check_budget(cfg_or_budget, limit_bytes: int | None = None,
                 max_seconds: float | None = None) -> Budget:
    """Refuse, before anything is allocated, a run whose estimated peak memory exceeds a limit.

    Parameters
    ----------
    cfg_or_budget : RunConfig (estimated as ``fpsim train`` runs it) or a :class:`Budget`
        (from :func:`estimate_cell` or :func:`estimate_runs`)
    limit_bytes : the memory limit; None uses :func:`available_memory` (the machine's
        available memory, or a stated cap where it cannot be read)
    max_seconds : optional limit on the estimated time (None: time is not checked)

    Returns
    -------
    Budget, when it fits.

    Raises
    ------
    ConfigError naming the parameter that drives the estimate, the estimate and the limit.
    """
    budget = cfg_or_budget if isinstance(cfg_or_budget, Budget) else estimate_run(cfg_or_budget)
    if limit_bytes is None:
        limit_bytes, source = available_memory()
    else:
        source = "the given limit"
    if budget.peak_bytes > limit_bytes:
        name, value = budget.driver()
        item = budget.largest_item()
        raise ConfigError(
            f"The run needs an estimated {format_bytes(budget.peak_bytes)} of memory, more than "
            f"{format_bytes(limit_bytes)} ({source}). The largest part is {item.name}: "
            f"{format_bytes(item.nbytes)}, driven by the '{name}' parameter"
            f"{_default_text(name, value)}. Lower it, or raise the memory limit.")
    if max_seconds is not None and budget.seconds > max_seconds:
        raise ConfigError(
            f"The run needs an estimated {format_seconds(budget.seconds)} "
            f"({budget.madds:.3g} multiply-adds at {MADDS_PER_SECOND:.3g} /s), more than the "
            f"limit of {format_seconds(max_seconds)}.")
    return budget


def _default_text(name: str, value) -> str:
    default = _defaults().get(name)
    if value is None:
        return ""
    return f" = {value!r}" + ("" if default is None else f" (default {default!r})")


__all__ = ["BASE_OVERHEAD_BYTES", "DEFAULT_CAP_BYTES", "MADDS_PER_SECOND", "Budget", "CostItem",
           "available_memory", "check_budget", "estimate_cell", "estimate_run", "estimate_runs",
           "format_bytes", "format_seconds"]
