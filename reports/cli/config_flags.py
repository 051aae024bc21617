"""Config flags shared by the commands that build a :class:`~simulator.config.RunConfig`."""

from __future__ import annotations

import argparse
from pathlib import Path

from simulator.config import RunConfig, apply_overrides, load_run_config, parse_override

# Named flags for the most used keys (all keys are reachable with --set section.key=value).
FLAG_KEYS = {
    "input_dim": ("data.input_dim", int),
    "sparsity": ("data.sparsity", float),
    "noise": ("data.noise", float),
    "width": ("network.width", int),
    "threshold": ("network.threshold", float),
    "dtype": ("network.dtype", str),
    "clean_steps": ("train.clean_steps", int),
    "adv_steps": ("train.adv_steps", int),
    "batch_size": ("train.batch_size", int),
    "adv_tau": ("train.adv_tau", float),
    "adv_norm": ("train.adv_norm", str),
    "adv_attack": ("train.adv_attack", str),
    "n_test": ("eval.n_test", int),
}


def add_config_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="TOML config file (tables [data], [network], [train], [eval])")
    p.add_argument("--seed", type=int, help="master seed (overrides the config)")
    p.add_argument("--threads", type=int, help="threads for BLAS and numba (default: all cores)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, e.g. --set data.sparsity=16 (repeatable)")
    for name, (key, typ) in FLAG_KEYS.items():
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, type=typ, help=f"sets {key}")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def build_config(args, base: RunConfig | None = None) -> RunConfig:
    cfg = load_run_config(args.config) if args.config else (base or RunConfig())
    overrides = {}
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.threads is not None:
        overrides["threads"] = args.threads
    for name, (key, _) in FLAG_KEYS.items():
        v = getattr(args, name, None)
        if v is not None:
            overrides[key] = v
    for text in args.set:
        k, v = parse_override(text)
        overrides[k] = v
    if args.no_progress:
        overrides["train.progress"] = False
    return apply_overrides(cfg, overrides) if overrides else cfg


def config_flags_given(args) -> bool:
    """Whether any flag that changes the config was given (``--no-progress`` does not)."""
    named = any(getattr(args, name, None) is not None for name in FLAG_KEYS)
    return bool(args.config or args.set or named or args.seed is not None
                or args.threads is not None)


def add_memory_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-memory", type=float, metavar="GIB",
                   help="memory limit of the up-front estimate, in GiB (default: the memory "
                        "available on this machine); a run estimated above it is refused")


def memory_limit(args) -> int | None:
    """``--max-memory`` in bytes (None: the machine's available memory)."""
    from simulator.config import ConfigError

    v = getattr(args, "max_memory", None)
    if v is None:
        return None
    if not (v > 0 and v < 2**40):
        raise ConfigError(f"The '--max-memory' option must be a float in the range (0, 2^40) GiB. "
                          f"Got {v!r} instead.")
    return int(v * 2**30)


def add_executor_flags(p: argparse.ArgumentParser, what: str = "sweep") -> None:
    """The flags of a grid run (``fpsim sweep``, ``fpsim scaling``): executor, resume, dry run."""
    p.add_argument("--out", type=Path, help="output folder (must not exist unless --resume)")
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: the number of cores); each gets "
                        "cores // workers numba/BLAS threads")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="send cells to an existing Dask cluster (needs the dask extra)")
    p.add_argument("--local-cluster", action="store_true",
                   help="start a Dask LocalCluster in-process: --workers processes running one "
                        "cell each, cores // workers numba/BLAS threads per cell")
    p.add_argument("--resume", action="store_true",
                   help=f"finish the {what} in --out: run only the cells without an ok record")
    p.add_argument("--dry-run", action="store_true",
                   help="validate the grid, list its cells and their relative cost; write nothing")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_memory_flag(p)
