"""The run's matrix products under each OpenBLAS kernel family this CPU can take.

OpenBLAS picks its kernels from the CPU unless ``OPENBLAS_CORETYPE`` names them; a machine
may pin a family (this workplace's machines set ``OPENBLAS_CORETYPE=Haswell``: AVX2 kernels,
the same bits on every x86-64 machine with AVX2).  The variable is read when the library
loads, so each family runs in its own subprocess.  For each family: the kernel OpenBLAS
reports (threadpoolctl's ``architecture``), and the median time (``benchmarks.timing``) and GFLOP/s of X Wᵀ at the
shapes the default regime runs (batch 512 and the 6144 training points of the polynomial
fits, input_dim 512, width or centres 1536), float32 and float64, on one thread.

Results differ in the last bits between families, so a comparison of two commits must run both
under the same one; ``fpsim`` records the family of each run (run.json ``environment.blas``).

    python benchmarks/blas_kernels.py [--repeats 7] [--families Haswell,SkylakeX] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from simulator.storage import write_json

# (rows, input_dim, width): one training batch, and the polynomial fit's training points
SHAPES = [(512, 512, 1536), (6144, 512, 1536)]
DEFAULT_FAMILIES = ("", "Haswell", "SkylakeX")  # "": OpenBLAS's own choice for this CPU

_CHILD = r"""
import json, sys
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits
from benchmarks.timing import time_calls
shapes, repeats = json.loads(sys.argv[1]), int(sys.argv[2])
rows = []
with threadpool_limits(1, user_api="blas"):
    arch = sorted({i.get("architecture") for i in threadpool_info() if i["internal_api"] == "openblas"})
    rng = np.random.default_rng(0)
    for n, d, m in shapes:
        for dtype in (np.float32, np.float64):
            X = rng.standard_normal((n, d)).astype(dtype)
            W = rng.standard_normal((m, d)).astype(dtype)
            s = time_calls(lambda: X @ W.T, repeats)
            rows.append({"rows": n, "input_dim": d, "width": m, "dtype": np.dtype(dtype).name,
                         "median_ms": 1e3 * s, "gflops": 2 * n * d * m / s / 1e9})
print(json.dumps({"architecture": arch, "rows": rows}))
"""


def measure(family: str, repeats: int) -> dict:
    """Time the shapes in a subprocess with ``OPENBLAS_CORETYPE=family`` ("" = unset)."""
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    root = str(Path(__file__).resolve().parents[1])  # benchmarks.timing, from any folder
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [env.get("PYTHONPATH")] if p])
    if family:
        env["OPENBLAS_CORETYPE"] = family
    out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(SHAPES), str(repeats)],
                         env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"OPENBLAS_CORETYPE={family!r}: the timing process exited "
                           f"{out.returncode}: {out.stderr.strip()[-500:]}")
    return {"family": family or "(unset)", **json.loads(out.stdout)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--families", default=",".join(DEFAULT_FAMILIES),
                    help="comma-separated OPENBLAS_CORETYPE values; an empty item = unset")
    ap.add_argument("--out", default=None, help="also write the results as JSON")
    args = ap.parse_args(argv)
    if not 1 <= args.repeats <= 1000:
        print(f"The '--repeats' option must be an int in the range [1, 1000]. "
              f"Got {args.repeats} instead.", file=sys.stderr)
        return 2
    if args.out is not None:
        out = Path(args.out)
        if out.exists():
            print(f"The output file {args.out!r} exists already; fpsim never overwrites results. "
                  f"Choose another --out or remove it.", file=sys.stderr)
            return 2
        if not out.parent.is_dir():
            print(f"The '--out' option must name a file in an existing folder. "
                  f"Got {args.out!r} instead.", file=sys.stderr)
            return 2
    print(f"OPENBLAS_CORETYPE in this environment: {os.environ.get('OPENBLAS_CORETYPE')!r}")
    try:
        results = [measure(f.strip(), args.repeats) for f in args.families.split(",")]
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 2
    print("| OPENBLAS_CORETYPE | kernel | X Wᵀ shape | dtype | median ms | GFLOP/s |")
    print("| --- | --- | --- | --- | ---: | ---: |")
    for res in results:
        for r in res["rows"]:
            print(f"| {res['family']} | {','.join(res['architecture'])} | "
                  f"{r['rows']}×{r['input_dim']} · ({r['width']}×{r['input_dim']})ᵀ | {r['dtype']} | "
                  f"{r['median_ms']:.2f} | {r['gflops']:.0f} |")
    if args.out is not None:
        write_json(Path(args.out), {"environment_coretype": os.environ.get("OPENBLAS_CORETYPE"),
                                    "repeats": args.repeats, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
