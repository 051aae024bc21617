"""``fpsim real``: feature purification on real images (issue 15).

    fpsim real [--dataset fashion-mnist|mnist5k|digits|cifar10] [--task NAME | --classes A,B]
               [--data-dir DIR] [--seeds N] [--out DIR] [--quick] [--threads N] [--set KEY=VALUE ...]

Trains clean, then FGM ℓ2 / FGSM ℓ∞ from the clean weights, per seed; writes CSVs, figures,
the purification_real verdicts and REPORT.md into DIR (staged in DIR.partial).  Exit codes:
0 all verdicts pass, 1 a verdict fails, 2 bad input or missing data, 3 training diverged,
130 interrupted.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

from simulator.config import ConfigError, parse_override

from simulator import storage


def register(sub) -> None:
    p = sub.add_parser("real", help="purification on real images (Fashion-MNIST, ...); write DIR/REPORT.md")
    p.add_argument("--dataset", default=None, help="fashion-mnist (default), mnist5k, digits, cifar10")
    p.add_argument("--task", default=None, help="a named binary task of the data set (see --list-tasks)")
    p.add_argument("--classes", default=None, metavar="A,B",
                   help="negative and positive classes, groups joined by '+', e.g. 0,2 or 0+2,4+6")
    p.add_argument("--data-dir", default=None, help="data folder (default $FPSIM_DATA or ~/.cache/fpsim)")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    p.add_argument("--out", type=Path, help="output folder (must not exist)")
    p.add_argument("--quick", action="store_true", help="the small regime (sklearn digits, seconds)")
    p.add_argument("--threads", type=int, help="threads for BLAS and numba (default: all cores)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a RealConfig field, e.g. --set adv_steps=3000 (repeatable)")
    p.add_argument("--list-tasks", action="store_true", help="print the named tasks and exit")
    p.set_defaults(func=cmd_real)


def _parse_classes(text: str) -> tuple:
    try:
        groups = tuple(tuple(int(c) for c in g.split("+")) for g in text.split(","))
    except ValueError:
        groups = ()
    if len(groups) != 2 or not all(groups):
        raise ConfigError(f"The '--classes' option must be two groups of class indices, e.g. "
                          f"'0,2' or '0+2,4+6'. Got {text!r} instead.")
    return groups


def build_real_config(args):
    from simulator.realdata import RealConfig
    from theorems.purification_real import REAL_REGIMES

    cfg = REAL_REGIMES["quick" if args.quick else "default"]
    fields = {f.name for f in dataclasses.fields(RealConfig)}
    changes = {}
    if args.dataset is not None:
        changes["dataset"] = args.dataset
        if args.task is None and args.classes is None:
            changes["task"] = None
    if args.task is not None:
        changes["task"], changes["classes"] = args.task, None
    if args.classes is not None:
        changes["classes"] = _parse_classes(args.classes)
    if args.data_dir is not None:
        changes["data_dir"] = args.data_dir
    if args.threads is not None:
        changes["threads"] = args.threads
    for text in args.set:
        k, v = parse_override(text)
        if k not in fields:
            raise ConfigError(f"Unknown key {k!r} for RealConfig. Allowed keys: {sorted(fields)}.")
        changes[k] = tuple(v) if isinstance(v, list) else v
    return dataclasses.replace(cfg, **changes) if changes else cfg


def cmd_real(args) -> int:
    from simulator.realdata import TASKS, DataMissingError
    from simulator.realdata.experiment import load_task
    from simulator.training import TrainingDivergedError
    from theorems.purification_real import real_run

    if args.list_tasks:
        for ds, tasks in TASKS.items():
            for name, (neg, pos) in tasks.items():
                print(f"{ds:14s} {name:18s} {'+'.join(map(str, neg))} vs {'+'.join(map(str, pos))}")
        return 0
    if args.seeds < 1:
        raise ConfigError(f"The '--seeds' option must be an int in the range [1, inf). Got {args.seeds} instead.")
    cfg = build_real_config(args)
    try:
        task = load_task(cfg)
    except DataMissingError as exc:
        print(f"fpsim real: error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out or f"runs/real-{cfg.dataset}-{time.strftime('%Y%m%d-%H%M%S')}")
    staging = storage.prepare(out)
    t0 = time.perf_counter()
    runs = []
    try:
        for seed in range(args.seeds):
            runs.append(real_run(dataclasses.replace(cfg, seed=seed), task))
            print(f"seed {seed}: {runs[-1].timings['total']:.0f} s", file=sys.stderr)
    except TrainingDivergedError as exc:
        print(f"fpsim real: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print(f"\nfpsim real: interrupted; {staging} kept", file=sys.stderr)
        return 130
    return finish_real(staging, out, runs, cfg, t0)


def finish_real(staging, out, runs, cfg, t0) -> int:
    """Verdicts, files and the printed summary for finished runs."""
    from theorems.purification_real import check_from_runs

    from ..real_report import write_real_outputs

    checks = [check_from_runs(runs, n) for n in cfg.norms]
    seconds = time.perf_counter() - t0
    for c in checks:
        c.seconds = seconds
    summary = write_real_outputs(staging, runs, checks, {"seconds": seconds})
    storage.write_json(staging / "run.json", {
        "command": "real", "argv": sys.argv, "config": cfg.to_dict(), "task": runs[0].task.name,
        "seeds": [r.config.seed for r in runs], "seconds": seconds,
        "timings_seconds": {r.config.seed: r.timings for r in runs},
        "peak_rss_mib": storage.peak_rss_mib(), "environment": storage.environment()})
    storage.finish(staging, out)
    for c in checks:
        c.print()
    failed = summary[summary.verdict == "FAIL"]
    print(f"\n{'ALL CHECKS PASS' if failed.empty else f'{len(failed)} criteria FAIL'} — report: {out / 'REPORT.md'}")
    return 0 if failed.empty else 1
