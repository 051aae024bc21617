"""Why the ideal network loses robustness at a fixed τ as k grows: its exact robust set.

The ideal purified network has one neuron per feature, w_j = w*_j M_j (‖w_j‖ = 1), with the
relative threshold b = θ‖w_j‖ = θ.  With M orthogonal, u = diag(w*) Mᵀ x are its
pre-activations and an ℓ2 perturbation of x is an ℓ2 perturbation of u of the same norm.
Without noise, u_j = w*_j z_j ∈ {0, ±1}, every active feature sits on the linear part of the
thresholded ReLU at distance 1 − θ from the threshold, and

    y f(x) = (1 − θ)·|S|,   S = ⟨w*, z⟩,

while the worst perturbation of radius τ ≤ min(θ, (1 − θ)·√n_a) lowers it by exactly τ·√n_a
(n_a = number of active features: Cauchy–Schwarz over the active coordinates; an inactive
coordinate gives nothing until it is pushed past θ).  So the noiseless ideal network is
robust at τ **iff (1 − θ)·|S| > τ·√n_a** — the "1/√k per unit of margin" radius of
docs/model.md.  With the margin rejection |S| ≥ 1 and θ = 0.35, a point with |S| = 1 breaks
once n_a > (0.65/τ)², i.e. n_a ≥ 19 at τ = 0.15, and k = round(d^0.4) = 21 at d = 2048.

This script draws codes from the data model of the scaling studies (no training, no noise)
and prints the exact robust share of the noiseless ideal network per d at a fixed τ = 0.15 and
at τ_d = 0.15·√(12/k) (benchmarks/grids/scaling_claims_tau_sqrt_k.toml), beside the share of
points with |S| = 1, and the limit k → ∞ at fixed τ: |S|/√n_a tends to |N(0, 1)|, so the
share tends to P(|N(0, 1)| > τ/(1 − θ)) = 0.817 at τ = 0.15 — below the fgm_robust criterion's
0.95 for the ideal network, whatever the training.  At τ_d ∝ 1/√k the condition reads
|S| > 0.8·√(n_a/k), met by every code with |S| ≥ 1 unless n_a > 1.56 k.  About 30 s.

    python benchmarks/ideal_radius_bound.py [--n 50000] [--out FILE.csv] [--cells DIR ...]

``--cells DIR``: also, for every ok cell of a scaling study in DIR, the formula on that cell's
own test set (same problem and test stream, noise ignored) beside the ideal network's
measured ensemble and certified robust accuracy at the training radius (with noise σ = 0.1,
points within ≈ σ·√(n_a/d) of the boundary may fall either way).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from simulator import storage
from simulator.config import DataConfig
from simulator.data import SparseCodingProblem
from simulator.rng import stream

DIMS = (256, 512, 1024, 2048)
THETA = 0.35  # network.threshold of the scaling grids


def robust_share(S, n_active, tau: float, theta: float = THETA) -> float:
    """Share of codes on which the noiseless ideal network is robust at ℓ2 radius τ."""
    if not 0 < tau <= theta:
        raise ValueError(f"The 'tau' parameter must be in the range (0, θ = {theta}] (beyond θ an "
                         f"inactive feature can fire and the formula is no longer exact). "
                         f"Got {tau!r} instead.")
    return float(np.mean((1 - theta) * np.abs(S) > tau * np.sqrt(n_active)))


def table(n: int, seed: int = 0) -> pd.DataFrame:
    rows = []
    for d in DIMS:
        k = round(d ** 0.4)
        problem = SparseCodingProblem(DataConfig(input_dim=d, sparsity=float(k), noise=0.0),
                                      stream(seed, "problem"))
        Z = problem.sample_codes(n, stream(seed, "test_data")).Z
        S = np.asarray(Z @ problem.w_star.astype(np.float64)).ravel()
        n_active = np.diff(Z.indptr)
        tau_d = round(0.15 * math.sqrt(12 / k), 3)
        rows.append({"d": d, "k": k, "n_codes": n, "mean_active": float(n_active.mean()),
                     "share_abs_S_1": float(np.mean(np.abs(S) == 1)),
                     "robust_tau_0.15": robust_share(S, n_active, 0.15),
                     "tau_d": tau_d, "robust_tau_d": robust_share(S, n_active, tau_d)})
    limit = float(2 * stats.norm.sf(0.15 / (1 - THETA)))  # P(|N(0,1)| > τ/(1 − θ))
    rows.append({"d": "k → ∞", "k": math.inf, "n_codes": 0, "mean_active": math.inf,
                 "share_abs_S_1": 0.0, "robust_tau_0.15": limit, "tau_d": 0.0, "robust_tau_d": 1.0})
    return pd.DataFrame(rows)


def on_cells(folder: Path) -> pd.DataFrame:
    """The formula on each ok cell's own test set against the measured ideal network."""
    from simulator.config import RunConfig
    from simulator.pipeline import draw_test_set

    rows = []
    for path in sorted((folder / "cells").glob("*.json")):
        rec = json.loads(path.read_text())
        if rec.get("status") != "ok":
            continue
        cfg = RunConfig.from_dict(rec["config"])
        tau, theta = cfg.train.adv_tau, cfg.network.threshold
        problem = SparseCodingProblem(cfg.data, stream(cfg.seed, "problem"), dtype=cfg.network.dtype)
        test = draw_test_set(problem, cfg)
        S = np.asarray(test.Z @ problem.w_star.astype(np.float64)).ravel()
        measured = {r["attack"]: r["robust_acc"] for r in rec["rows"]
                    if r["model"] == "ideal" and r["norm"] == "l2" and abs(r["tau"] - tau) < 1e-9}
        rows.append({"d": cfg.data.input_dim, "seed": cfg.seed, "tau": tau,
                     "formula_noiseless": robust_share(S, np.diff(test.Z.indptr), tau, theta),
                     "ensemble": measured.get("ensemble", math.nan),
                     "certified": measured.get("certified", math.nan)})
    return pd.DataFrame(rows).sort_values(["d", "seed"]) if rows else pd.DataFrame(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000, help="codes per d (default 50000)")
    ap.add_argument("--out", type=Path, default=None, help="CSV to write (default: print only)")
    ap.add_argument("--cells", type=Path, action="append", default=[],
                    help="a scaling study folder: compare with its cells (repeatable)")
    args = ap.parse_args(argv)
    for folder in args.cells:
        if not (folder / "cells").is_dir():
            print(f"ideal_radius_bound: --cells must be a scaling study folder with a 'cells' "
                  f"subfolder. Got {str(folder)!r}.", file=sys.stderr)
            return 2
    if args.n < 1 or args.n > 10_000_000:
        print(f"ideal_radius_bound: --n must be in the range [1, 10000000]. Got {args.n}.",
              file=sys.stderr)
        return 2
    frame = table(args.n)
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        storage.write_csv(args.out, frame)
    for folder in args.cells:
        cells = on_cells(folder)
        print(f"\n{folder}: the formula on each cell's test set, against the ideal network measured")
        print(cells.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        if args.out is not None:
            path = args.out.with_name(f"{args.out.stem}_cells_{folder.name}.csv")
            storage.write_csv(path, cells)
    return 0


if __name__ == "__main__":
    sys.exit(main())
