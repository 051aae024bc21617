"""The ``fpsim`` command line.

    fpsim train  [--config FILE] [--out DIR] [--seed N] [--threads N] [--set KEY=VALUE ...]

Exit codes: 0 success; 1 a check failed (verify); 2 bad input (config, flags, output folder);
3 training diverged; 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from simulator.config import ConfigError, RunConfig, apply_overrides, load_run_config, parse_override

from . import outdir

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


def _add_config_flags(p: argparse.ArgumentParser) -> None:
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


def cmd_train(args) -> int:
    from simulator.experiment import run_experiment
    from simulator.threads import available_cores
    from simulator.training import TrainingDivergedError

    from .train_report import run_record, save_weights, write_train_outputs

    cfg = build_config(args)
    out = Path(args.out or f"runs/train-{time.strftime('%Y%m%d-%H%M%S')}-seed{cfg.seed}")
    staging = outdir.prepare(out)
    threads = cfg.threads or available_cores()
    state = {}

    def on_phase(name, res):  # keep finished phases if the run is interrupted later
        state["res"] = res
        save_weights(staging / "weights.npz", res)
        outdir.write_json(staging / "run.json", run_record(res, f"interrupted after {name} training",
                                                           threads, sys.argv))

    try:
        res = run_experiment(cfg, on_phase=on_phase)
    except TrainingDivergedError as exc:
        print(f"fpsim train: {exc}", file=sys.stderr)
        print(f"fpsim train: partial results kept in {staging}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print(f"\nfpsim train: interrupted; finished phases kept in {staging}", file=sys.stderr)
        return 130
    write_train_outputs(staging, res, threads, sys.argv)
    outdir.finish(staging, out)
    _print_train_summary(res, out)
    return 0


def _print_train_summary(res, out) -> None:
    import pandas as pd

    df = pd.DataFrame(res.results)
    ens = df[df.attack == "ensemble"].pivot_table(index=["norm", "tau"], columns="model",
                                                   values="robust_acc")
    clean = df.groupby("model").clean_acc.first()
    print("clean accuracy: " + ", ".join(f"{m} {v:.3f}" for m, v in clean.items()))
    print("robust accuracy (attack ensemble):")
    print(ens.to_string(float_format=lambda v: f"{v:.3f}"))
    for k, v in res.summary.items():
        print(f"{k}: {v:.4g}")
    print(f"results written to {out}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="fpsim",
        description="Reference simulator for 'Feature Purification: How Adversarial Training "
                    "Performs Robust Deep Learning' (Allen-Zhu & Li): train, verify the paper's "
                    "claims, sweep parameters, benchmark the kernels.",
        epilog="exit codes: 0 success; 1 a check or cell failed; 2 bad input; 3 training "
               "diverged; 130 interrupted")
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train clean then adversarially; evaluate; write DIR")
    _add_config_flags(p_train)
    p_train.add_argument("--out", type=Path, help="output folder (must not exist)")
    p_train.set_defaults(func=cmd_train)

    _register_extra_commands(sub)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, outdir.OutputExistsError) as exc:
        print(f"fpsim {args.command}: error: {exc}", file=sys.stderr)
        return 2


def _register_extra_commands(sub) -> None:
    """Commands defined in other modules register themselves here."""
    for modname in ("reports.verify_cli", "reports.sweep_cli", "reports.bench_cli",
                    "reports.real_cli", "reports.data_cli"):
        try:
            mod = __import__(modname, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != modname:
                raise
            continue
        mod.register(sub, _add_config_flags)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
