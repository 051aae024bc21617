"""``fpsim train``: train clean, then adversarially from the clean weights; evaluate; write DIR.

    fpsim train [--config FILE] [--out DIR] [--seed N] [--threads N] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from simulator import storage
from simulator.interrupts import remembered_sigint

from .config_flags import (add_config_flags, add_memory_flag, build_config, config_flags_given,
                           memory_limit)


def register(sub) -> None:
    p = sub.add_parser("train", help="train clean then adversarially; evaluate; write DIR")
    add_config_flags(p)
    p.add_argument("--out", type=Path, help="output folder (must not exist)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run interrupted in DIR.partial (its recorded config; "
                        "finished training phases are not redone)")
    add_memory_flag(p)
    p.set_defaults(func=cmd_train)


def _resumed_config(args, staging: Path):
    """The config recorded in ``staging/run.json``; flags given with --resume must agree."""
    import json

    from simulator.config import ConfigError, RunConfig

    try:
        recorded = RunConfig.from_dict(json.loads((staging / "run.json").read_text())["config"])
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"Cannot resume {str(staging)!r}: its run.json is missing or unreadable "
                          f"({exc}). Remove the folder and start again.") from None
    if config_flags_given(args):
        asked = build_config(args)
        if asked.replace(train=asked.train.replace(progress=True)) != recorded.replace(
                train=recorded.train.replace(progress=True)):
            raise ConfigError(f"The config flags given with --resume differ from the config of "
                              f"the interrupted run in {str(staging)!r}; give none of them to "
                              f"continue it as it was.")
    if getattr(args, "no_progress", False):
        recorded = recorded.replace(train=recorded.train.replace(progress=False))
    return recorded


def cmd_train(args) -> int:
    from simulator.budget import check_budget
    from simulator.pipeline import RunCache, run_networks
    from simulator.threads import available_cores
    from simulator.training import TrainingDivergedError

    from ..train_report import run_record, save_weights, write_train_outputs

    if args.resume and args.out is None:
        from simulator.config import ConfigError

        raise ConfigError("--resume needs the --out folder of the interrupted run.")
    if args.resume:
        out = Path(args.out)
        staging = storage.prepare(out, resume=True)
        cfg = _resumed_config(args, staging)
        check_budget(cfg, memory_limit(args))
    else:
        cfg = build_config(args)
        check_budget(cfg, memory_limit(args))  # before anything is allocated or created
        out = Path(args.out or f"runs/train-{time.strftime('%Y%m%d-%H%M%S')}-seed{cfg.seed}")
        staging = storage.prepare(out)
    threads = cfg.threads or available_cores()
    # finished phases are kept on disk and read back by --resume
    cache = RunCache(staging / "cache")
    record = {"phase": "setup"}

    def write_record(res, status):
        storage.write_json(staging / "run.json", run_record(res, status, threads, sys.argv,
                                                            cfg=cfg, phase=record["phase"]))

    def on_phase(name, trained):  # keep finished phases if the run is interrupted later
        record["phase"] = f"{name} training finished"
        record["res"] = trained
        save_weights(staging / "weights.npz", trained)
        write_record(trained, "running")

    write_record(None, "running")
    try:
        with remembered_sigint():  # a Ctrl-C swallowed inside numba's compiler still stops the run
            res = run_networks(cfg, cache=cache, on_phase=on_phase)
    except TrainingDivergedError as exc:
        write_record(record.get("res"), f"diverged: {exc}")
        print(f"fpsim train: {exc}", file=sys.stderr)
        print(f"fpsim train: partial results kept in {staging}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the record
        write_record(record.get("res"), "interrupted")
        print(f"\nfpsim train: interrupted after phase '{record['phase']}'; kept in {staging} "
              f"(continue with: fpsim train --resume --out {out})", file=sys.stderr)
        return 130
    except Exception as exc:
        write_record(record.get("res"), f"crashed: {type(exc).__name__}: {exc}")
        raise
    write_train_outputs(staging, res, threads, sys.argv)
    storage.remove_tree(staging / "cache")
    storage.finish(staging, out)
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
