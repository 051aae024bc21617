"""Frozen, validated configuration objects for every part of a run.

Each config class declares one table of parameter constraints (``_CONSTRAINTS``) that is
checked in one place (:func:`_validate`).  Errors name the parameter, its owner, the
allowed set and the value received, in the style of scikit-learn::

    The 'sparsity' parameter of DataConfig must be a float in the range (0, n_features].
    Got 900 instead.

Configs hold only scalars, strings and tuples so that ``==`` and hashing work, and they
round-trip through ``to_dict`` / ``from_dict`` (and TOML files) for reports.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib


class ConfigError(ValueError):
    """A configuration value or file is invalid."""


# ----------------------------------------------------------------------------------------
# Constraint checking
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A numeric constraint: type ``kind`` ('int' or 'float') in an interval.

    ``low``/``high`` may be None (unbounded) or a string naming another field of the
    same config (resolved at validation time, e.g. sparsity ≤ n_features).
    """

    kind: str
    low: Any = None
    high: Any = None
    closed: str = "both"  # which ends are included: 'both', 'left', 'right', 'neither'
    allow_none: bool = False

    def describe(self, resolved_low, resolved_high, low_name, high_name) -> str:
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") and resolved_high is not None else ")"
        lo = "-inf" if resolved_low is None else (
            f"{low_name}={_fmt(resolved_low)}" if low_name else _fmt(resolved_low))
        hi = "inf" if resolved_high is None else (
            f"{high_name}={_fmt(resolved_high)}" if high_name else _fmt(resolved_high))
        text = f"{'an int' if self.kind == 'int' else 'a float'} in the range {left}{lo}, {hi}{right}"
        if self.allow_none:
            text += " or None"
        return text


@dataclass(frozen=True)
class OneOf:
    """A string constraint: one of a fixed set."""

    options: tuple
    allow_none: bool = False


@dataclass(frozen=True)
class TupleOf:
    """A non-empty tuple whose every element satisfies ``item``."""

    item: Any
    min_len: int = 1


def _fmt(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _err(owner: str, name: str, allowed: str, value) -> ConfigError:
    return ConfigError(
        f"The '{name}' parameter of {owner} must be {allowed}. Got {value!r} instead."
    )


def _check_number(owner, name, value, c: Interval, cfg) -> Any:
    if value is None:
        if c.allow_none:
            return None
    low = getattr(cfg, c.low) if isinstance(c.low, str) else c.low
    high = getattr(cfg, c.high) if isinstance(c.high, str) else c.high
    allowed = c.describe(low, high, c.low if isinstance(c.low, str) else None,
                         c.high if isinstance(c.high, str) else None)
    orig = value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _err(owner, name, allowed, value)
    if c.kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, numbers.Integral):
            raise _err(owner, name, allowed, value)
        value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise _err(owner, name, allowed, orig)
    if low is not None:
        if value < low or (value == low and c.closed in ("right", "neither")):
            raise _err(owner, name, allowed, orig)
    if high is not None:
        if value > high or (value == high and c.closed in ("left", "neither")):
            raise _err(owner, name, allowed, orig)
    return value


def _check(owner, name, value, c, cfg):
    if isinstance(c, Interval):
        return _check_number(owner, name, value, c, cfg)
    if isinstance(c, OneOf):
        if value is None and c.allow_none:
            return None
        if not isinstance(value, str) or value not in c.options:
            opts = "{" + ", ".join(repr(o) for o in c.options) + "}"
            raise _err(owner, name, f"one of {opts}" + (" or None" if c.allow_none else ""), value)
        return value
    if isinstance(c, TupleOf):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise _err(owner, name, f"a sequence of at least {c.min_len} item(s)", value)
        items = tuple(value)
        if len(items) < c.min_len:
            raise _err(owner, name, f"a sequence of at least {c.min_len} item(s)", value)
        return tuple(_check(owner, f"{name}[{i}]", v, c.item, cfg) for i, v in enumerate(items))
    if c is bool:
        if not isinstance(value, bool):
            raise _err(owner, name, "a bool", value)
        return value
    raise TypeError(f"unknown constraint {c!r}")  # pragma: no cover - programming error


def _validate(cfg) -> None:
    """Check ``cfg`` against its class's constraint table and normalise the values."""
    owner = type(cfg).__name__
    for name, c in type(cfg)._CONSTRAINTS.items():
        value = _check(owner, name, getattr(cfg, name), c, cfg)
        object.__setattr__(cfg, name, value)


class _ConfigMixin:
    _CONSTRAINTS: dict = {}

    def __post_init__(self):
        _validate(self)
        self._check_relations()

    def _check_relations(self) -> None:
        """Constraints between fields that a single-field table cannot express."""

    def to_dict(self) -> dict:
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if dataclasses.is_dataclass(v):
                v = v.to_dict()
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "") -> "_ConfigMixin":
        if not isinstance(data, Mapping):
            raise ConfigError(f"{cls.__name__}{source} must be a table of keys. Got {data!r} instead.")
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ConfigError(
                f"Unknown key(s) {unknown} for {cls.__name__}{source}. "
                f"Allowed keys: {sorted(names)}."
            )
        kwargs = {}
        for k, v in data.items():
            sub = _SUBCONFIGS.get((cls.__name__, k))
            if sub is not None:
                v = sub.from_dict(v, source=f"{source}[{k}]" if source else f" [{k}]")
            elif isinstance(v, list):
                v = tuple(v)
            kwargs[k] = v
        return cls(**kwargs)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


# ----------------------------------------------------------------------------------------
# The configs
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DataConfig(_ConfigMixin):
    """The sparse-coding data model x = M z + ξ, y = sign(⟨w*, z⟩) (docs/model.md, "Data")."""

    input_dim: int = 512  # d: the paper's regime needs d large enough that k ≪ √d·…; 512 shows all effects
    n_features: int | None = None  # D: None means D = d (Haar-orthogonal M)
    sparsity: float = 12.0  # k: above d^(1/3) ≈ 8 so dense mixtures matter, below √d ≈ 23
    value_law: str = "sign"  # law of the non-zero z_j: ±1 as in the paper's simplest case
    margin: float = 1.0  # reject |⟨w*, z⟩| < margin; with ±1 values this rejects exactly the ties
    noise: float = 0.1  # σ: ‖ξ‖ ≈ σ, small against a feature's unit magnitude

    _CONSTRAINTS = {
        "input_dim": Interval("int", 1, None),
        "n_features": Interval("int", "input_dim", None, allow_none=True),
        "sparsity": Interval("float", 0, "dictionary_size", closed="right"),
        "value_law": OneOf(("sign", "uniform", "gaussian")),
        "margin": Interval("float", 0, None, closed="neither"),
        "noise": Interval("float", 0, None),
    }

    @property
    def dictionary_size(self) -> int:
        """D, the number of dictionary features."""
        return self.input_dim if self.n_features is None else self.n_features

    @property
    def activation_prob(self) -> float:
        """Probability k/D that each z_j is non-zero."""
        return self.sparsity / self.dictionary_size

    @property
    def unitary(self) -> bool:
        return self.dictionary_size == self.input_dim


@dataclass(frozen=True, kw_only=True)
class NetworkConfig(_ConfigMixin):
    """The two-layer thresholded symmetric-ReLU network (docs/model.md, "Learner")."""

    width: int = 1536  # m = 3d: with m = d FGM training purified less and lost accuracy
    threshold_rule: str = "relative"  # b_i = θ‖w_i‖, recomputed every step (the paper's rule)
    threshold: float = 0.35  # θ: above the noise and cross-talk (≈ σ, 1/√d), below a feature (1)
    fixed_bias: float = 0.0  # b_i when threshold_rule == 'fixed'
    init_scale: float = 0.01  # σ₀: small; trained neurons keep |cos| ≈ 0.13 with their init at d = 512
    dtype: str = "float32"  # 2.4× faster steps than float64, same accuracies (sums in float64)

    _CONSTRAINTS = {
        "width": Interval("int", 1, None),
        "threshold_rule": OneOf(("relative", "fixed")),
        "threshold": Interval("float", 0, 1, closed="left"),
        "fixed_bias": Interval("float", 0, None),
        # σ₀ ≤ 10⁶: the init is meant small (σ₀ ≪ 1; ‖w_i‖ ≈ σ₀ at init) and trained neurons
        # have ‖w‖ of order 1–10; 10⁶ is a typo's order, and 1e300 overflowed float32
        "init_scale": Interval("float", 0, 1e6, closed="right"),
        "dtype": OneOf(("float64", "float32")),
    }


# train.feature_path: clean training in feature coordinates when it applies / always / never
FEATURE_PATH_MODES = ("auto", "on", "off")


@dataclass(frozen=True, kw_only=True)
class TrainConfig(_ConfigMixin):
    """Clean training, then adversarial training from the clean weights (docs/model.md, "Training")."""

    clean_steps: int = 2000  # enough for clean accuracy ≥ 0.99 at the default regime
    # FGM at radius 0.3 plateaus by 2000 steps (d = 512, seed 0: robust 0.930 at τ = 0.15
    # after 2000, 0.932 after 4000); at radius 0.2 it plateaued lower (0.891 / 0.892)
    adv_steps: int = 2000
    batch_size: int = 512
    step_size: float = 0.5  # η for clean training (mean logistic loss over the batch)
    adv_step_size: float = 2.0  # η for adversarial training: 0.5 purified too slowly (purity 0.75 after 3000 steps)
    train_size: int | None = None  # None: online (a fresh batch every step, as in the theory)
    adv_attack: str = "fgm"  # the paper's one-step attack; 'pgd' for comparison
    adv_norm: str = "l2"
    # training radius, ℓ2 units (ℓ∞: τ/√d), twice the τ* = 0.15 it must defend: FGM's one
    # step under-reaches the worst case, and 0.2 left robust accuracy at 0.89
    adv_tau: float = 0.3
    adv_pgd_steps: int = 5
    snapshot_every: int = 250  # steps between snapshots of W (0 disables)
    progress: bool = True
    # clean training in feature coordinates C = W M (simulator/feature_path.py): same result up
    # to rounding, ≥ 5× faster; 'auto' uses it when it applies (σ = 0, M orthogonal)
    feature_path: str = "auto"
    # rank r of the adversarial update W = W_clean + U Vᵀ (simulator/low_rank.py); None:
    # the full update, as in the paper's main theorems
    adv_rank: int | None = None

    _CONSTRAINTS = {
        "clean_steps": Interval("int", 0, None),
        "adv_steps": Interval("int", 0, None),
        "batch_size": Interval("int", 1, None),
        # η ≤ 10⁴: a step moves w_i by up to η·‖x‖ ≈ η√k, against a trained ‖w_i‖ of 1–10;
        # the defaults are 0.5 / 2, the NTK already overshoots at 50, and 1e30 overflowed
        "step_size": Interval("float", 0, 1e4, closed="right"),
        "adv_step_size": Interval("float", 0, 1e4, closed="right"),
        "train_size": Interval("int", 1, None, allow_none=True),
        "adv_attack": OneOf(("fgm", "pgd")),
        "adv_norm": OneOf(("l2", "linf")),
        "adv_tau": Interval("float", 0, None),
        "adv_pgd_steps": Interval("int", 1, None),
        "snapshot_every": Interval("int", 0, None),
        "progress": bool,
        "feature_path": OneOf(FEATURE_PATH_MODES),
        "adv_rank": Interval("int", 1, None, allow_none=True),
    }


@dataclass(frozen=True, kw_only=True)
class EvalConfig(_ConfigMixin):
    """Evaluation: test set, radii and the attack ensemble (docs/model.md, "What is measured")."""

    n_test: int = 2048
    taus: tuple = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3)  # in ℓ2 units; ℓ∞ radius is τ/√d
    norms: tuple = ("l2", "linf")
    pgd_steps: int = 30
    pgd_restarts: int = 2  # random restarts besides the start at x itself
    pgd_step_rel: float = 0.1  # PGD step as a share of the radius (ℓ2) / of τ∞ (ℓ∞)
    batch_size: int = 1024
    mixture_skip: int = 1  # s: own features removed before measuring the dense mixture
    top_rank: int = 5  # r: energy share of the top r singular values of W_adv − W_clean
    # Exact verification (simulator/certification/bab.py) of the points the certifier and the
    # attacks leave undecided, at these τ (members of taus; none by default: it is per point)
    exact_taus: tuple = ()
    # networks that get the exact stage: the FGM-robustness verdict needs the adversarial one's;
    # the clean network's undecided points cost seconds each in ℓ∞ (up to 20 s measured)
    exact_models: tuple = ("ideal", "adversarial")
    exact_time_limit: float = 10.0  # seconds per point; a point not decided in time is undecided
    exact_max_unstable: int = 128  # points with more unstable neurons are left undecided

    _CONSTRAINTS = {
        "n_test": Interval("int", 1, None),
        "exact_taus": TupleOf(Interval("float", 0, None), min_len=0),
        "exact_models": TupleOf(OneOf(("ideal", "clean", "adversarial")), min_len=0),
        "exact_time_limit": Interval("float", 0, 3600, closed="right"),
        "exact_max_unstable": Interval("int", 1, 256),
        "taus": TupleOf(Interval("float", 0, None)),
        "norms": TupleOf(OneOf(("l2", "linf"))),
        "pgd_steps": Interval("int", 0, None),
        "pgd_restarts": Interval("int", 0, None),
        "pgd_step_rel": Interval("float", 0, 2, closed="right"),
        "batch_size": Interval("int", 1, None),
        "mixture_skip": Interval("int", 0, None),
        "top_rank": Interval("int", 1, None),
    }

    def _check_relations(self) -> None:
        object.__setattr__(self, "taus", tuple(sorted(set(self.taus))))
        object.__setattr__(self, "norms", tuple(dict.fromkeys(self.norms)))
        object.__setattr__(self, "exact_taus", tuple(sorted(set(self.exact_taus))))
        missing = [t for t in self.exact_taus if t not in self.taus]
        if missing:
            raise _err("EvalConfig", "exact_taus", f"a subset of taus {list(self.taus)}",
                       self.exact_taus)


@dataclass(frozen=True, kw_only=True)
class RunConfig(_ConfigMixin):
    """A whole run: seed, threads and the four part configs."""

    seed: int = 0
    threads: int | None = None  # None: all cores; numba and BLAS both get this many
    data: DataConfig = field(default_factory=DataConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    _CONSTRAINTS = {
        "seed": Interval("int", 0, 2**63 - 1),
        "threads": Interval("int", 1, 1024, allow_none=True),
    }

    def _check_relations(self) -> None:
        for name, cls in (("data", DataConfig), ("network", NetworkConfig),
                          ("train", TrainConfig), ("eval", EvalConfig)):
            if not isinstance(getattr(self, name), cls):
                raise _err("RunConfig", name, f"a {cls.__name__}", getattr(self, name))
        if self.train.feature_path == "on" and not (self.data.noise == 0 and self.data.unitary):
            raise feature_path_refusal(self.data)
        full_rank = min(self.network.width, self.data.input_dim)
        if self.train.adv_rank is not None and self.train.adv_rank > full_rank:
            raise ConfigError(
                "The 'adv_rank' parameter of TrainConfig must be an int in the range "
                f"[1, min(network.width, data.input_dim)={full_rank}] or None. "
                f"Got {self.train.adv_rank!r} instead.")


def feature_path_refusal(data: DataConfig) -> ConfigError:
    """The error for ``train.feature_path = 'on'`` with data that is not x = M z, M orthogonal."""
    return ConfigError(
        "The 'feature_path' parameter of TrainConfig can be 'on' only for noiseless data "
        "(data.noise == 0) with a unitary dictionary (data.n_features None or equal to "
        f"input_dim). Got noise={data.noise!r} and n_features={data.n_features!r} "
        f"(input_dim={data.input_dim}) instead; 'auto' falls back to the dense path.")


_SUBCONFIGS = {
    ("RunConfig", "data"): DataConfig,
    ("RunConfig", "network"): NetworkConfig,
    ("RunConfig", "train"): TrainConfig,
    ("RunConfig", "eval"): EvalConfig,
}


# ----------------------------------------------------------------------------------------
# Files and overrides
# ----------------------------------------------------------------------------------------


def load_toml(path: str | Path) -> dict:
    """Read a TOML file into a dict, with an error naming the file if it is malformed."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"Config file {str(path)!r} does not exist.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {str(path)!r} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Config file {str(path)!r} cannot be read: {exc}") from None


def load_run_config(path: str | Path) -> RunConfig:
    """Load a :class:`RunConfig` from a TOML file (tables ``[data]``, ``[network]``, …)."""
    data = load_toml(path)
    try:
        return RunConfig.from_dict(data, source=f" (in {str(path)!r})")
    except TypeError as exc:  # pragma: no cover - from_dict rejects unknown keys first
        raise ConfigError(f"Config file {str(path)!r}: {exc}") from None


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``section.key=value`` (value in TOML syntax, bare strings allowed)."""
    if "=" not in text:
        raise ConfigError(f"An override must look like 'section.key=value'. Got {text!r} instead.")
    key, raw = text.split("=", 1)
    key = key.strip()
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key, value


def apply_overrides(cfg: RunConfig, overrides: Mapping[str, Any]) -> RunConfig:
    """Return ``cfg`` with dotted-key overrides applied (e.g. ``{'data.sparsity': 16}``)."""
    d = cfg.to_dict()
    for key, value in overrides.items():
        parts = key.split(".")
        node = d
        for p in parts[:-1]:
            if p not in node or not isinstance(node[p], dict):
                raise ConfigError(f"Unknown config section {p!r} in override {key!r}. "
                                  f"Sections: {sorted(k for k, v in d.items() if isinstance(v, dict))}.")
            node = node[p]
        if parts[-1] not in node:
            raise ConfigError(f"Unknown config key {key!r}. Allowed keys here: {sorted(node)}.")
        node[parts[-1]] = list(value) if isinstance(value, tuple) else value
    return RunConfig.from_dict(d)
