"""Parameter grids for sweeps: parse, validate and expand a GRID.toml into independent cells.

A grid file has two tables::

    [base]                      # RunConfig overrides shared by every cell
    "train.snapshot_every" = 0  # dotted keys or nested tables ([base.train] ...)

    [grid]                      # lists; cells = Cartesian product of every list below
    input_dim = [128, 256]      # d
    sparsity_exponent = [0.4]   # k = round(d^c), at least 1 (or: sparsity = [8, 12])
    width_factor = [2]          # m = round(factor · d)  (or: width = [256, 512])
    seeds = [0, 1, 2]
    "train.adv_tau" = [0.1, 0.2]    # any config key by its dotted name
    taus = [0.05, 0.1, 0.2]     # evaluated inside each cell, not a cell axis
    norms = ["l2"]              # evaluated inside each cell
    models = ["ideal", "clean", "adversarial", "linear"]   # evaluated inside each cell

    [grid.per_input_dim]        # optional: one value per input_dim (budgets that follow d)
    "train.clean_steps" = [1200, 1000]

Keys of :class:`simulator.lower_bounds.LowerBoundConfig` are reachable as ``lower_bound.<key>``,
keys of :class:`simulator.stopping.StoppingRule` as ``stopping.<key>`` (in ``[base]``, e.g. as a
``[base.stopping]`` table, in ``[grid]`` or in ``[grid.per_input_dim]``, so that the step cap
can follow d): a grid with any ``stopping.`` key trains every cell under that rule.
Every cell becomes a validated :class:`~simulator.config.RunConfig`; its id is a stable hash
of that config (with the models and the lower_bounds budgets that apply), so the same cell in two
grid files has the same id.  Errors name the key, the allowed set and the value received.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..config import ConfigError, RunConfig, apply_overrides, load_toml
from ..models import LOWER_BOUND_MODELS, MODELS, NETWORK_MODELS

DEFAULT_MODELS = NETWORK_MODELS
# Cells are counted before any is built: a grid of more is refused (each cell is a full
# training run of seconds to hours, so 20 000 is far beyond any sweep this machine finishes);
# a sweep of more than WARN_CELLS cells starts with a warning.
MAX_CELLS = 20_000
WARN_CELLS = 1_000

# Grid names of config keys: the name is the column of results.csv.
ALIASES = {
    "input_dim": "data.input_dim",
    "sparsity": "data.sparsity",
    "width": "network.width",
    "seeds": "seed",
    "taus": "eval.taus",
    "norms": "eval.norms",
}
# Keys derived from input_dim: the config key they set.
DERIVED = {"sparsity_exponent": "data.sparsity", "width_factor": "network.width"}
IN_CELL = ("taus", "norms", "models")  # evaluated inside a cell, not cell axes
# Set by the sweep for each worker (they change no result): not part of a cell.
RESERVED = {"threads": "the sweep sets it from --workers (workers × threads ≤ cores)",
            "train.progress": "the sweep shows one progress bar over cells"}
TABLES = ("base", "grid")
PER_D = "per_input_dim"
# Always in results.csv, whatever the grid varies: the scaling report reads d and seed.
CORE_COLUMNS = ("input_dim", "sparsity", "width", "seed")
CELL_SCHEMA = "fpsim-sweep-cell/1"  # part of every cell id: bump when a cell's meaning changes
STOPPING = "stopping."  # prefix of StoppingRule keys (simulator.stopping)
# keys that configure something other than the RunConfig: kept out of it
SIDE_PREFIXES = ("lower_bound.", STOPPING)


def _lower_bound_defaults() -> dict:
    from ..lower_bounds import LowerBoundConfig

    return LowerBoundConfig().to_dict()


def _stopping_defaults() -> dict:
    from ..stopping import StoppingRule

    return StoppingRule().to_dict()


def config_keys() -> list[str]:
    """Every dotted config key a grid may set (RunConfig keys, ``lower_bound.<key>`` and
    ``stopping.<key>``)."""
    keys = sorted(_flatten(RunConfig().to_dict()))
    keys += [f"lower_bound.{k}" for k in sorted(_lower_bound_defaults())]
    keys += [f"{STOPPING}{k}" for k in sorted(_stopping_defaults())]
    return [k for k in keys if k not in RESERVED]


def _flatten(table: Mapping, prefix: str = "") -> dict:
    out = {}
    for k, v in table.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _is_scalar(v) -> bool:
    return isinstance(v, (bool, numbers.Real, str))


@dataclass(frozen=True)
class Cell:
    """One independent unit of a sweep: a full config and the models evaluated in it.

    Attributes
    ----------
    cell_id : stable hash of (config, models, lower_bounds budgets)
    params : dict, the grid parameters of this cell (column name -> value), including the
        resolved input_dim, sparsity, width and seed
    config : RunConfig (threads None: each worker sets its own)
    models : tuple of model names, see :data:`simulator.models.MODELS`
    lower_bounds : dict of LowerBoundConfig overrides (empty when no lower_bounds model is evaluated)
    stopping : dict of StoppingRule overrides; empty: fixed budgets (no rule)
    """

    cell_id: str
    params: dict
    config: RunConfig
    models: tuple
    lower_bounds: dict
    stopping: dict = field(default_factory=dict)

    def payload(self) -> dict:
        """Plain data for a worker process (no project objects)."""
        return {"cell_id": self.cell_id, "params": dict(self.params),
                "config": self.config.to_dict(), "models": list(self.models),
                "lower_bounds": dict(self.lower_bounds), "stopping": dict(self.stopping)}


def cell_id_of(config: RunConfig, models, lower_bounds: Mapping, stopping: Mapping | None = None) -> str:
    """A stable hash of everything that determines a cell's results.

    A stopping rule enters only when there is one, so cells without a rule keep their ids.
    """
    d = config.to_dict()
    for key in RESERVED:  # never part of the identity
        node, *rest = key.split(".")
        if rest:
            d[node].pop(rest[0], None)
        else:
            d.pop(node, None)
    what = {"schema": CELL_SCHEMA, "config": d, "models": list(models),
            "lower_bounds": dict(sorted(lower_bounds.items()))}
    if stopping:
        what["stopping"] = dict(sorted(stopping.items()))
    blob = json.dumps(what, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Grid:
    """A validated grid.

    Attributes
    ----------
    base : dict of dotted key -> value (RunConfig and lower_bounds overrides)
    axes : tuple of (name, values) pairs, the cell axes in expansion order
    per_d : dict of key -> tuple of values, one per input_dim
    models : tuple of model names evaluated in every cell
    cells : tuple of :class:`Cell`
    source : the file the grid came from ('' when built from a dict)
    """

    base: dict
    axes: tuple
    per_d: dict
    models: tuple
    cells: tuple
    source: str = ""

    @property
    def columns(self) -> list[str]:
        """Parameter columns of results.csv: the core ones, then every other grid parameter."""
        cols = list(CORE_COLUMNS)
        for name, _ in self.axes:
            name = "seed" if name == "seeds" else name
            if name not in cols:
                cols.append(name)
        for name in self.per_d:
            if name not in cols:
                cols.append(name)
        return cols

    @property
    def group_columns(self) -> list[str]:
        """Parameters that vary across cells besides d, the seed, and what d determines.

        The scaling report fits one exponent per combination of these.
        """
        skip = {"input_dim", "seeds"} | set(self.per_d)
        derived = {name for name, _ in self.axes if name in DERIVED}
        if "sparsity_exponent" in derived:
            skip.add("sparsity")
        if "width_factor" in derived:
            skip.add("width")
        return [name for name, values in self.axes if name not in skip and len(values) > 1]


def _err(key: str, allowed: str, value, where: str = "[grid]") -> ConfigError:
    return ConfigError(f"The {where} key {key!r} must be {allowed}. Got {value!r} instead.")


def _canonical(key: str) -> str:
    """The grid name of a key: aliases for their dotted targets (data.input_dim -> input_dim)."""
    for alias, target in ALIASES.items():
        if key == target:
            return alias
    if key == "seed":
        return "seeds"
    return key


def _target(name: str) -> str:
    return ALIASES.get(name) or DERIVED.get(name) or name


def _check_known(key: str, where: str, known: set) -> None:
    if key in RESERVED:
        raise ConfigError(f"The {where} key {key!r} cannot be set in a grid file: {RESERVED[key]}.")
    if key not in known:
        grid_names = sorted(set(ALIASES) | set(DERIVED) | {"models"}) if where == "[grid]" else []
        extra = f"{', '.join(grid_names)}, or " if grid_names else ""
        raise ConfigError(
            f"Unknown {where} key {key!r}. Allowed keys: {extra}any config key by its dotted "
            f"name: {', '.join(sorted(known))}."
        )


def _check_list(key, values, where="[grid]") -> tuple:
    if not isinstance(values, list):
        raise _err(key, "a non-empty list (put a single value in [base])", values, where)
    if not values:
        raise _err(key, "a non-empty list", values, where)
    for v in values:
        if not _is_scalar(v):
            raise _err(key, "a list of numbers, strings or booleans", values, where)
    return tuple(values)


def _check_models(values) -> tuple:
    allowed = "a non-empty list of distinct items from {" + ", ".join(repr(m) for m in MODELS) + "}"
    if not isinstance(values, list) or not values:
        raise _err("models", allowed, values)
    if any(not isinstance(m, str) or m not in MODELS for m in values) or len(set(values)) != len(values):
        raise _err("models", allowed, values)
    return tuple(values)


def _check_exponent(values) -> tuple:
    for c in values:
        if (isinstance(c, bool) or not isinstance(c, numbers.Real) or not math.isfinite(c)
                or not 0 < c <= 1):
            raise _err("sparsity_exponent", "a list of floats in the range (0, 1]", list(values))
    return tuple(float(c) for c in values)


def _check_factor(values) -> tuple:
    for f in values:
        if (isinstance(f, bool) or not isinstance(f, numbers.Real) or not math.isfinite(f)
                or f <= 0):
            raise _err("width_factor", "a list of floats in the range (0, inf)", list(values))
    return tuple(float(f) for f in values)


def sparsity_from_exponent(d: int, c: float) -> int:
    """k = d^c rounded half up, at least 1."""
    return max(1, math.floor(d ** c + 0.5))


def width_from_factor(d: int, factor: float) -> int:
    """m = factor · d rounded half up, at least 1."""
    return max(1, math.floor(factor * d + 0.5))


def parse_grid(data: Mapping[str, Any], *, source: str = "") -> Grid:
    """Validate a grid (the dict of a GRID.toml) and expand it into cells.

    Raises
    ------
    ConfigError
        naming the offending key, the allowed set and the value received.
    """
    where_file = f" in {source!r}" if source else ""
    if not isinstance(data, Mapping):
        raise ConfigError(f"A grid{where_file} must be a table. Got {data!r} instead.")
    unknown = sorted(set(data) - set(TABLES))
    if unknown:
        raise ConfigError(f"Unknown table(s) {unknown}{where_file}. Allowed tables: {list(TABLES)}.")
    for t in TABLES:
        if t in data and not isinstance(data[t], Mapping):
            raise ConfigError(f"[{t}]{where_file} must be a table. Got {data[t]!r} instead.")
    known = set(config_keys())

    # [base]: dotted keys or nested tables, single values
    base = {}
    for key, value in _flatten(data.get("base", {})).items():
        _check_known(key, "[base]", known)
        base[key] = value

    # [grid]: lists
    raw = dict(data.get("grid", {}))
    per_d_raw = raw.pop(PER_D, {})
    if not isinstance(per_d_raw, Mapping):
        raise _err(PER_D, "a table of lists, one value per input_dim", per_d_raw)
    models = DEFAULT_MODELS
    if "models" in raw:
        models = _check_models(raw.pop("models"))
    entries = {}
    for key, values in _flatten(raw).items():
        name = _canonical(key)
        if name not in ALIASES and name not in DERIVED:
            _check_known(key, "[grid]", known)
        if name in entries:
            raise ConfigError(f"The [grid] keys {key!r} and {name!r} set the same parameter; keep one.")
        entries[name] = _check_list(name, values)
    per_d = {}
    for key, values in _flatten(per_d_raw).items():
        name = _canonical(key)
        if name in IN_CELL or name == "seeds" or name == "input_dim":
            raise ConfigError(f"The [grid.{PER_D}] key {name!r} cannot follow input_dim; "
                              f"put it in [grid].")
        if name not in ALIASES and name not in DERIVED:
            _check_known(key, f"[grid.{PER_D}]", known)
        per_d[name] = _check_list(name, values, f"[grid.{PER_D}]")

    # one parameter, one place
    targets = {}
    for name in list(entries) + list(per_d):
        t = _target(name)
        if t in targets:
            raise ConfigError(f"The grid keys {targets[t]!r} and {name!r} both set {t!r}; keep one.")
        targets[t] = name
        if t in base:
            raise ConfigError(f"The key {t!r} is set in [base] and varied by the [grid] key "
                              f"{name!r}; remove it from [base].")
    varied_budgets = [n for n in list(entries) + list(per_d) if n.startswith("lower_bound.")]
    if varied_budgets and not any(m in LOWER_BOUND_MODELS for m in models):
        raise ConfigError(f"The grid varies {varied_budgets}, budgets of the lower-bound models, "
                          f"but 'models' has none of {list(LOWER_BOUND_MODELS)}.")
    if per_d:
        if "input_dim" not in entries:
            raise ConfigError(f"[grid.{PER_D}] needs a list 'input_dim' in [grid].")
        n = len(entries["input_dim"])
        for name, values in per_d.items():
            if len(values) != n:
                raise _err(name, f"a list of {n} values, one per input_dim {list(entries['input_dim'])}",
                           list(values), f"[grid.{PER_D}]")
    for name in ("sparsity_exponent",):
        for src in (entries, per_d):
            if name in src:
                src[name] = _check_exponent(src[name])
    for name in ("width_factor",):
        for src in (entries, per_d):
            if name in src:
                src[name] = _check_factor(src[name])
    for name, values in entries.items():  # per_input_dim values may repeat: they follow d
        if name not in IN_CELL and len(set(map(repr, values))) != len(values):
            raise _err(name, "a list of distinct values", list(values))

    axes, in_cell = _axes(entries)
    if not axes:
        raise ConfigError(f"The grid{where_file} varies nothing: give [grid] at least one list "
                          f"(input_dim, sparsity, width, seeds or any config key).")
    cells = _expand(base, axes, in_cell, entries.get("input_dim"), per_d, models, source, where_file)
    return Grid(base=base, axes=axes, per_d=per_d, models=models, cells=tuple(cells), source=source)


def _axes(entries: Mapping) -> tuple:
    """The grid's axes in a fixed, readable order, and the in-cell lists (taus, norms)."""
    first = ["input_dim", "sparsity", "sparsity_exponent", "width", "width_factor"]
    order = [n for n in first if n in entries]
    order += [n for n in entries if n not in first and n not in IN_CELL and n != "seeds"]
    if "seeds" in entries:
        order.append("seeds")
    axes = tuple((name, entries[name]) for name in order)
    in_cell = {ALIASES[name]: list(entries[name]) for name in ("taus", "norms") if name in entries}
    return axes, in_cell


def _expand(base, axes, in_cell, d_values, per_d, models, source, where_file) -> list:
    """The cells of the grid: counted first (refused above MAX_CELLS), then built."""
    n_cells = math.prod(len(values) for _, values in axes)
    if n_cells > MAX_CELLS:
        raise ConfigError(
            f"The grid{where_file} has {n_cells:,} cells (the product of its list lengths: "
            + ", ".join(f"{name} {len(values)}" for name, values in axes)
            + f"), more than the limit of {MAX_CELLS:,}. Split it into several sweeps.")
    base_cfg = _base_config(base, in_cell)
    lower_bound_base = {k[len("lower_bound."):]: v for k, v in base.items() if k.startswith("lower_bound.")}
    stopping_base = {k[len(STOPPING):]: v for k, v in base.items() if k.startswith(STOPPING)}
    cells, seen = [], {}
    for combo in itertools.product(*(values for _, values in axes)):
        point = dict(zip((name for name, _ in axes), combo))
        if per_d:
            i = d_values.index(point["input_dim"])
            for name, values in per_d.items():
                point[name] = values[i]
        cell = _make_cell(base_cfg, lower_bound_base, point, models, source, stopping_base)
        if cell.cell_id in seen:
            raise ConfigError(
                f"The grid{where_file} has two cells with the same configuration: "
                f"{seen[cell.cell_id]} and {_describe(point)} (e.g. k = d^c rounds to the same k). "
                f"Remove one of the values."
            )
        seen[cell.cell_id] = _describe(point)
        cells.append(cell)
    return cells


def _describe(point: Mapping) -> str:
    return "{" + ", ".join(f"{k}={v!r}" for k, v in point.items()) + "}"


def _base_config(base: Mapping, in_cell: Mapping) -> RunConfig:
    overrides = {k: v for k, v in base.items() if not k.startswith(SIDE_PREFIXES)}
    overrides["train.progress"] = False
    try:
        cfg = apply_overrides(RunConfig(), overrides)
    except ConfigError as exc:
        raise ConfigError(f"In [base]: {exc}") from None
    try:
        return apply_overrides(cfg, in_cell) if in_cell else cfg
    except ConfigError as exc:
        raise ConfigError(f"In [grid] {', '.join(k.split('.')[-1] for k in in_cell)}: {exc}") from None


def _make_cell(base_cfg: RunConfig, lower_bound_base: Mapping, point: Mapping, models, source,
               stopping_base: Mapping | None = None) -> Cell:
    overrides, lower_bounds, stopping = {}, dict(lower_bound_base), dict(stopping_base or {})
    d = point.get("input_dim", base_cfg.data.input_dim)
    if not isinstance(d, numbers.Integral) or isinstance(d, bool):
        raise _err("input_dim", "a list of ints in the range [1, inf)", d)
    for name, value in point.items():
        if name == "sparsity_exponent":
            overrides["data.sparsity"] = sparsity_from_exponent(max(d, 1), value)  # d < 1: DataConfig says why
        elif name == "width_factor":
            overrides["network.width"] = width_from_factor(max(d, 1), value)
        elif name.startswith("lower_bound."):
            lower_bounds[name[len("lower_bound."):]] = value
        elif name.startswith(STOPPING):
            stopping[name[len(STOPPING):]] = value
        else:
            overrides[_target(name)] = value
    try:
        cfg = apply_overrides(base_cfg, overrides)
    except ConfigError as exc:
        raise ConfigError(f"In the grid cell {_describe(point)}: {exc}") from None
    if any(m in LOWER_BOUND_MODELS for m in models):
        from ..lower_bounds import LowerBoundConfig

        try:
            LowerBoundConfig.from_dict(lower_bounds)
        except ConfigError as exc:
            raise ConfigError(f"In the grid cell {_describe(point)}: {exc}") from None
    else:
        lower_bounds = {}  # lower_bounds budgets cannot change a cell without baselines
    if stopping:
        from ..stopping import StoppingRule, check_rule_fits

        try:
            rule = StoppingRule.from_dict(stopping)
            check_rule_fits(rule, cfg.train)
            stopping = rule.to_dict()  # every field, validated
        except ConfigError as exc:
            raise ConfigError(f"In the grid cell {_describe(point)}: {exc}") from None
    params = {"input_dim": cfg.data.input_dim, "sparsity": cfg.data.sparsity,
              "width": cfg.network.width, "seed": cfg.seed}
    for name, value in point.items():
        params["seed" if name == "seeds" else name] = value
    params["sparsity"] = cfg.data.sparsity  # resolved k, whatever set it
    params["width"] = cfg.network.width
    return Cell(cell_id=cell_id_of(cfg, models, lower_bounds, stopping), params=params, config=cfg,
                models=tuple(models), lower_bounds=lower_bounds, stopping=stopping)


def load_grid(path: str | Path) -> Grid:
    """Read and validate a GRID.toml (see the module docstring)."""
    path = Path(path)
    data = load_toml(path)
    try:
        return parse_grid(data, source=str(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
