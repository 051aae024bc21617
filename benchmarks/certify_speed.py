"""Time of the certifier (simulator/certification/relaxation.py: certified_margin) on the
networks of ``fpsim train``'s default run, at every evaluation radius and norm.

Trains (or reads from --cache) the default run's ideal, clean-trained and FGM-trained networks,
then for each model × norm × τ records the share of unstable (sample, neuron) pairs, the
certified accuracy and the median seconds of certified_margin over repeats, and (rows with
tau = "all", where the code has it) of certified_margins over every τ at once.

    python benchmarks/certify_speed.py [--repeats 3] [--cache DIR] [--out FILE.csv]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.certification import relaxation
from simulator.certification.relaxation import certified_margin
from simulator.config import RunConfig
from simulator.norms import dual_norms, radius_in_norm
from simulator.pipeline import RunCache, build_models, draw_test_set, train_networks
from simulator.threads import thread_limit


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cache", default=None, help="a RunCache folder to keep the trained run in")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error(f"The '--repeats' option must be an int in the range [1, inf). Got {args.repeats} instead.")
    cfg = RunConfig()
    rows = []
    with thread_limit(cfg.threads):
        trained = train_networks(cfg, cache=RunCache(Path(args.cache)) if args.cache else None)
        test = draw_test_set(trained.problem, cfg)
        models = build_models(("ideal", "clean", "adversarial"), trained, cfg)
        d = cfg.data.input_dim
        for name, model in models.items():
            W, b = model.W.astype(np.float64), np.asarray(model.b, dtype=np.float64)
            X, y = test.X.astype(np.float64), test.y.astype(np.float64)
            t_all = np.abs(X @ W.T)
            for norm in cfg.eval.norms:
                for tau in cfg.eval.taus:
                    r = radius_in_norm(tau, norm, d)
                    rho = r * dual_norms(W, norm)
                    unstable = float(np.mean((t_all - rho < b) & (t_all + rho > b)))
                    times = []
                    for _ in range(args.repeats):
                        t0 = time.perf_counter()
                        m = certified_margin(W, b, X, y, r, norm)
                        times.append(time.perf_counter() - t0)
                    rows.append({"model": name, "norm": norm, "tau": tau, "unstable_share": unstable,
                                 "certified_acc": float(np.mean(m > 0)),
                                 "median_seconds": statistics.median(times)})
                    print(rows[-1], flush=True)
                if hasattr(relaxation, "certified_margins"):  # every radius at once (X Wᵀ once)
                    radii = [radius_in_norm(tau, norm, d) for tau in cfg.eval.taus]
                    times = []
                    for _ in range(args.repeats):
                        t0 = time.perf_counter()
                        relaxation.certified_margins(W, b, X, y, radii, norm)
                        times.append(time.perf_counter() - t0)
                    rows.append({"model": name, "norm": norm, "tau": "all",
                                 "median_seconds": statistics.median(times)})
    df = pd.DataFrame(rows)
    one = df[df.tau != "all"].median_seconds.sum()
    print(f"total median seconds, one radius per call: {one:.2f}")
    if (df.tau == "all").any():
        print(f"total median seconds, all radii per call: {df[df.tau == 'all'].median_seconds.sum():.2f}")
    if args.out:
        df.to_csv(args.out, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
