"""Row-invariant evaluation products (simulator/network.py: rowwise_pre_activations).

For each shape, dtype and thread count: whether a row of X Wᵀ gets the same bits in a subset of
the batch as in the whole batch — plain BLAS (one GEMM) and the stacks of ROW_BLOCK rows the
evaluation uses — and the median time of each over repeats, with their ratio.

    python benchmarks/row_invariance.py [--repeats 7] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

from simulator.network import ROW_BLOCK, rowwise_pre_activations

SHAPES = [(384, 128), (1536, 512), (4096, 2048)]  # (width, input_dim): quick, default, d = 2048
N = 2048  # rows: the default test set


def _median_seconds(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _invariant(product, X, W, rng) -> bool:
    H = product(X, W)
    for size in (1, 5, 17, 100, 1000, X.shape[0] - 1):
        idx = np.sort(rng.choice(X.shape[0], size, replace=False))
        if not np.array_equal(product(X[idx], W), H[idx]):
            return False
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error(f"The '--repeats' option must be an int in the range [1, inf). Got {args.repeats} instead.")
    rows = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            for dtype in (np.float32, np.float64):
                for width, d in SHAPES:
                    rng = np.random.default_rng(width + d)
                    W = rng.standard_normal((width, d)).astype(dtype)
                    X = rng.standard_normal((N, d)).astype(dtype)
                    blas = _median_seconds(lambda: X @ W.T, args.repeats)
                    stacked = _median_seconds(lambda: rowwise_pre_activations(X, W), args.repeats)
                    row = {"threads": threads, "dtype": np.dtype(dtype).name, "width": width,
                           "input_dim": d, "rows": N, "row_block": ROW_BLOCK,
                           "blas_invariant": _invariant(lambda A, B: A @ B.T, X, W, rng),
                           "stacked_invariant": _invariant(rowwise_pre_activations, X, W, rng),
                           "blas_ms": 1e3 * blas, "stacked_ms": 1e3 * stacked,
                           "ratio": stacked / blas}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
