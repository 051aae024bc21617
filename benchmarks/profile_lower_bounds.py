"""Profile one seed of the lower-bound checks (claim 3) at a regime, in CPU time.

Usage: python benchmarks/profile_lower_bounds.py KIND NORM [--quick | --regime NAME] [--seed S] [--top N]

Runs ``theorems.lower_bounds.lower_bound_rows`` for the clean and the adversarial model of
KIND (the clean fit is shared through the RunCache, as in ``fpsim verify``), under cProfile
with ``time.process_time`` as its clock (CPU time of every thread of this process, which a
shared machine's load does not inflate the way it inflates wall time), and prints the wall
and CPU time of each model's rows and the functions with the most cumulative CPU time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

from simulator.pipeline import RunCache
from theorems.lower_bounds import lower_bound_rows
from theorems.regime import REGIMES


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kind")
    ap.add_argument("norm", choices=("l2", "linf"))
    ap.add_argument("--quick", action="store_true", help="= --regime quick")
    ap.add_argument("--regime", default="default", choices=sorted(REGIMES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--top", type=int, default=0, help="print the N top functions (0: no profile)")
    ap.add_argument("--variants", default="clean,adv")
    ap.add_argument("--fit-only", action="store_true",
                    help="time the clean and adversarial fits only (no attack evaluation)")
    args = ap.parse_args(argv)
    regime = REGIMES["quick" if args.quick else args.regime]
    if args.fit_only:
        return _fit_only(regime, args)
    cache = RunCache()
    prof = cProfile.Profile(time.process_time) if args.top else None
    for variant in args.variants.split(","):
        adversarial = variant == "adv"
        w, c = time.perf_counter(), time.process_time()
        if prof:
            prof.enable()
        rows = lower_bound_rows(regime, args.seed, args.norm, args.kind, adversarial, cache)
        if prof:
            prof.disable()
        w, c = time.perf_counter() - w, time.process_time() - c
        ens = [r for r in rows if r["attack"] == "ensemble"]
        print(f"RESULT {args.kind} {args.norm} {variant} seed={args.seed} wall={w:.1f}s "
              f"cpu={c:.1f}s fit_wall={rows[0]['fit_seconds']:.1f}s clean_acc={rows[0]['clean_acc']:.4f} "
              + " ".join(f"{r['tau']:g}:{r['robust_acc']:.4f}" for r in ens), flush=True)
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(args.top)
    return 0


def _fit_only(regime, args) -> int:
    """Wall and CPU time of the clean fit, then of the adversarial fit from it."""
    import numpy as np
    from simulator.pipeline import fit_lower_bound_models, train_networks
    from simulator.threads import thread_limit

    cfg = regime.config_for(args.seed, args.norm)
    with thread_limit(cfg.threads):
        trained = train_networks(cfg, phases=())
        clean = None
        for adversarial in (False, True):
            w, c = time.perf_counter(), time.process_time()
            model = next(iter(fit_lower_bound_models(
                args.kind, trained, cfg, regime.lower_bounds, norm=args.norm,
                variants=(adversarial,), clean=clean).values()))
            w, c = time.perf_counter() - w, time.process_time() - c
            clean = model if not adversarial else clean
            params = model.alpha if hasattr(model, "alpha") else model.dW
            print(f"FIT {args.kind} {args.norm} {model.name} seed={args.seed} wall={w:.1f}s "
                  f"cpu={c:.1f}s sum|param|={np.abs(params).sum():.12g}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
