"""Which route computes the factor gradients of low-rank training faster (issue 14)?

    python benchmarks/low_rank_gradient.py [--threads N] [--repeats N]

Times, at the default regime's shapes (batch 512, width 1536, input_dim 512, float32) and
a realistic share of active units (thresholds set so ≈ 5 % of H = X Wᵀ is above them, as
in a trained network): the gradient part alone for route 'full' (G = ∇_W loss by
loss_and_gradient, then G V and Gᵀ U) and route 'direct' (Pᵀ (X V), Xᵀ (P U)), for
r ∈ {1, 2, 4, 8, 16}; and a whole FGM low-rank step against a whole full FGM step.
Prints the median of ``--repeats`` timings in milliseconds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _median_ms(fn, repeats):
    fn()  # compile / warm caches
    t = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(t))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--dtype", default="float32")
    args = ap.parse_args(argv)

    from simulator.config import NetworkConfig
    from simulator.low_rank import compose, factor_gradients, low_rank_step
    from simulator.threads import thread_limit
    from simulator.training import adversarial_step

    n, m, d = 512, 1536, 512
    rng = np.random.default_rng(0)
    dt = np.dtype(args.dtype)
    # sparse inputs like x = M z with k = 12 active features (M = I is enough for timing)
    X = np.zeros((n, d), dt)
    for i in range(n):
        X[i, rng.choice(d, 12, replace=False)] = rng.choice([-1.0, 1.0], 12)
    y = np.sign(rng.standard_normal(n)).astype(dt)
    W_clean = (rng.standard_normal((m, d)) / np.sqrt(d)).astype(dt)
    # θ chosen so that ≈ 5 % of the pre-activations exceed b_i = θ‖w_i‖
    H = X @ W_clean.T
    theta = float(np.quantile(np.abs(H) / np.linalg.norm(W_clean, axis=1), 0.95))
    net = NetworkConfig(width=m, threshold=theta, dtype=args.dtype)
    b = (theta * np.linalg.norm(W_clean, axis=1)).astype(dt)
    print(f"threads {args.threads}, {args.dtype}, n={n} m={m} d={d}, θ={theta:.3f}, "
          f"active share {np.mean(np.abs(H) > b):.3f}")
    print(f"{'r':>3} {'grad full':>10} {'grad direct':>12} {'step full-W':>12} "
          f"{'step r (direct)':>16} {'step r (full)':>14}   (ms, median of {args.repeats})")
    with thread_limit(args.threads):
        Wf = W_clean.copy()
        t_full_step = _median_ms(lambda: adversarial_step(Wf.copy(), X, y, net, 0.0, 0.3, "l2"),
                                 args.repeats)
        for r in (1, 2, 4, 8, 16):
            U = (0.01 * rng.standard_normal((m, r))).astype(dt)
            V = np.linalg.qr(rng.standard_normal((d, r)))[0].astype(dt)
            W = compose(W_clean, U, V)
            tf = _median_ms(lambda: factor_gradients(W, b, X, y, U, V, "full"), args.repeats)
            td = _median_ms(lambda: factor_gradients(W, b, X, y, U, V, "direct"), args.repeats)
            steps = {}
            for route in ("direct", "full"):
                def one():
                    W2, U2, V2 = W.copy(), U.copy(), V.copy()
                    low_rank_step(W2, W_clean, U2, V2, X, y, net, 0.0, 0.3, "l2", route=route)
                steps[route] = _median_ms(one, args.repeats)
            print(f"{r:3d} {tf:10.2f} {td:12.2f} {t_full_step:12.2f} {steps['direct']:16.2f} "
                  f"{steps['full']:14.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
