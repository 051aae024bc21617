"""A training step against its matrix products alone (issue: core simulator acceptance).

Measures, in one run and as medians of repeated runs, at d = 512, m = 1536, batch 512:
  * the clean step (thresholds, forward, fused loss/backward, weight update) and its two
    BLAS products alone (X Wᵀ and Pᵀ X);
  * the FGM-ℓ2 adversarial step and its four products alone (X Wᵀ, P W, X' Wᵀ, P'ᵀ X');
  * the same steps with the numpy twins of the kernels (simulator/reference).

Usage: python benchmarks/step_vs_matmul.py [--dtype float64] [--repeats 30] [--threads N]
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.config import DataConfig, NetworkConfig  # noqa: E402
from simulator.data import SparseCodingProblem  # noqa: E402
from simulator.kernels import network as K  # noqa: E402
from simulator.network import init_weights  # noqa: E402
from simulator.reference import network as R  # noqa: E402
from simulator.rng import stream  # noqa: E402
from simulator.threads import thread_limit  # noqa: E402
from simulator.training import adversarial_step, clean_step  # noqa: E402


def median_time(fn, repeats, warmup=3):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--input-dim", type=int, default=512)
    ap.add_argument("--width", type=int, default=1536)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)

    d, m, n = args.input_dim, args.width, args.batch
    net = NetworkConfig(width=m, dtype=args.dtype)
    P = SparseCodingProblem(DataConfig(input_dim=d, sparsity=12), stream(0, "problem"), dtype=args.dtype)
    batch = P.sample(n, stream(0, "train_data"))
    X, y = batch.X, batch.y
    W_start = init_weights(net, d, stream(0, "init")) * 100  # a trained-like scale: many active units
    lr = W_start.dtype.type(1e-6)  # tiny: the weights barely move across repeats
    radius = 0.15

    load_before = os.getloadavg()
    with thread_limit(args.threads) as threads:
        W = W_start.copy()
        Wt = W.T.copy()
        H = X @ W.T

        def products_clean():
            Hh = X @ W.T
            Hh.T @ X

        def products_fgm():
            Hh = X @ W.T
            G = Hh @ W
            Xa = X + G
            H2 = Xa @ W.T
            H2.T @ Xa

        res = {
            "clean_step": median_time(lambda: clean_step(W, X, y, net, lr), args.repeats),
            "clean_products": median_time(products_clean, args.repeats),
            "fgm_step": median_time(lambda: adversarial_step(W, X, y, net, lr, radius, "l2"), args.repeats),
            "fgm_products": median_time(products_fgm, args.repeats),
            "clean_step_numpy_twin": median_time(lambda: clean_step(W, X, y, net, lr, kernels=R),
                                                  max(5, args.repeats // 3)),
            "fgm_step_numpy_twin": median_time(
                lambda: adversarial_step(W, X, y, net, lr, radius, "l2", kernels=R), max(5, args.repeats // 3)),
            "sample_batch": median_time(lambda: P.sample(n, stream(1, "train_data")), max(5, args.repeats // 3)),
        }
    out = {
        "shape": {"input_dim": d, "width": m, "batch": n, "dtype": args.dtype},
        "threads": threads,
        "repeats": args.repeats,
        "load_average_before": load_before,
        "median_seconds": res,
        "ratios": {
            "clean_step / products": res["clean_step"] / res["clean_products"],
            "fgm_step / products": res["fgm_step"] / res["fgm_products"],
            "clean numpy twin / numba step": res["clean_step_numpy_twin"] / res["clean_step"],
            "fgm numpy twin / numba step": res["fgm_step_numpy_twin"] / res["fgm_step"],
        },
    }
    if load_before[0] > 0.5:
        out["warning"] = f"machine busy before the benchmark (1-min load {load_before[0]:.2f}): timings are pessimistic"
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
