"""``fpsim train``: train clean, then adversarially from the clean weights; evaluate; write DIR.

    fpsim train [--config FILE] [--out DIR] [--seed N] [--threads N] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from simulator import storage

from .config_flags import add_config_flags, build_config


def register(sub) -> None:
    p = sub.add_parser("train", help="train clean then adversarially; evaluate; write DIR")
    add_config_flags(p)
    p.add_argument("--out", type=Path, help="output folder (must not exist)")
    p.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    from simulator.pipeline import run_networks
    from simulator.threads import available_cores
    from simulator.training import TrainingDivergedError

    from ..train_report import run_record, save_weights, write_train_outputs

    cfg = build_config(args)
    out = Path(args.out or f"runs/train-{time.strftime('%Y%m%d-%H%M%S')}-seed{cfg.seed}")
    staging = storage.prepare(out)
    threads = cfg.threads or available_cores()
    state = {}

    def on_phase(name, res):  # keep finished phases if the run is interrupted later
        state["res"] = res
        save_weights(staging / "weights.npz", res)
        storage.write_json(staging / "run.json", run_record(res, f"interrupted after {name} training",
                                                           threads, sys.argv))

    try:
        res = run_networks(cfg, on_phase=on_phase)
    except TrainingDivergedError as exc:
        print(f"fpsim train: {exc}", file=sys.stderr)
        print(f"fpsim train: partial results kept in {staging}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print(f"\nfpsim train: interrupted; finished phases kept in {staging}", file=sys.stderr)
        return 130
    write_train_outputs(staging, res, threads, sys.argv)
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
