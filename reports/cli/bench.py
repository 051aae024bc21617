"""``fpsim bench``: speed of the training and attack steps (issue 6; benchmarks/RESULTS.md).

    fpsim bench [--out FILE] [--quick] [--repeats N] [--threads N] [--no-torch] [--no-progress]

Prints one JSON object on stdout (progress and warnings go to stderr) and writes it to FILE
atomically.  The measuring code is :mod:`simulator.bench`.  Exit codes: 0 measured; 2 bad
input (nothing measured); 130 interrupted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from simulator.config import ConfigError

from simulator import storage

BENCH_DESCRIPTION = """\
Time the clean and FGM training steps (d = 256, 512, 1024; m = 3d; batch 512; float32 and
float64) against numpy matmul of their products and against the same steps in PyTorch
(when installed: pip install 'fpsim[bench]'); the PGD attack's throughput; and the σ = 0
feature-coordinate path against the dense path.  Medians of --repeats calls after a warm-up.
Run it on a quiet machine: it warns when the load average says otherwise."""


def register(sub) -> None:
    import argparse

    p = sub.add_parser("bench", help="time the training and attack steps; print JSON",
                       description=BENCH_DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, help="also write the JSON to FILE (must not exist)")
    p.add_argument("--quick", action="store_true", help="tiny shapes (the test suite's smoke run)")
    p.add_argument("--repeats", type=int, default=10, help="timed calls per figure (default 10)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for numba, BLAS and torch (default: all cores)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch peer")
    p.add_argument("--no-progress", action="store_true", help="say nothing on stderr but warnings")
    p.set_defaults(func=cmd_bench)


def _check_int(name: str, value, low: int, high: int | None = None) -> None:
    if value is None:
        return
    if value < low or (high is not None and value > high):
        top = "inf)" if high is None else f"{high}]"
        raise ConfigError(f"The '--{name}' option must be an int in the range [{low}, {top}. "
                          f"Got {value} instead.")


def cmd_bench(args) -> int:
    from benchmarks.speed import run_bench

    _check_int("repeats", args.repeats, 1)
    _check_int("threads", args.threads, 1, 1024)
    if args.out is not None:
        if args.out.exists():
            raise storage.OutputExistsError(
                f"The output file {str(args.out)!r} exists already; fpsim never overwrites "
                f"results. Choose another --out or remove it.")
        if not args.out.parent.is_dir():
            raise ConfigError(f"The '--out' option must name a file in an existing folder. "
                              f"Got {str(args.out)!r} instead.")

    def say(msg):
        if not args.no_progress:
            print(f"fpsim bench: {msg}", file=sys.stderr, flush=True)

    def warn(msg):
        print(f"fpsim bench: warning: {msg}", file=sys.stderr, flush=True)

    try:
        result = run_bench(quick=args.quick, repeats=args.repeats, threads=args.threads,
                           torch=not args.no_torch, progress=say, warn=warn)
    except KeyboardInterrupt:
        print("\nfpsim bench: interrupted; nothing written", file=sys.stderr)
        return 130
    result["argv"] = sys.argv
    result["code"] = storage.code_version()
    if result["torch"] is None:
        warn(f"no PyTorch figures: {result['torch_reason']}")
    print(json.dumps(result, indent=2))
    if args.out is not None:
        storage.write_json(args.out, result)
    return 0
