"""``fpsim verify``: run every theorem check and write the verdicts, figures and REPORT.md.

    fpsim verify [--quick] [--out DIR] [--seeds N] [--only CLAIM[,CLAIM...]] [--norms l2,linf]

Exit code 0 when every verdict is PASS, 1 when any is FAIL, 2 on bad input, 130 when
interrupted (the checks finished so far are kept in DIR.partial).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from simulator.config import ConfigError

from simulator import storage
from simulator.interrupts import remembered_sigint

from .config_flags import add_memory_flag, memory_limit
from ..verify_report import write_report, write_summary


def register(sub) -> None:
    p = sub.add_parser("verify", help="check every claim of the paper; write DIR/REPORT.md")
    p.add_argument("--quick", action="store_true",
                   help="the small regime of the test suite (minutes); = --regime quick")
    p.add_argument("--regime", default=None,
                   help="default (the default), quick, or legacy-2x: the default regime as it was "
                        "up to c7f7f9e, FGM trained at 2τ* (not the paper's claim; to compare "
                        "with earlier reports)")
    p.add_argument("--out", type=Path, help="output folder (must not exist)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per check (default 3)")
    p.add_argument("--only", default=None, help="comma-separated claims to run (default: all)")
    p.add_argument("--norms", default="l2,linf", help="comma-separated norms (default: l2,linf)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run interrupted in DIR.partial: finished training runs and "
                        "lower-bound fits are read back, not redone (same flags as the first run)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--workers", type=int, default=None,
                   help="processes that compute the checks' training runs and fits in parallel, "
                        "one thread each (default: the number of cores; 1: one process using "
                        "every core)")
    add_memory_flag(p)
    p.set_defaults(func=cmd_verify)


def _parse_list(text, allowed, name):
    items = [s.strip() for s in text.split(",")]
    bad = [s for s in items if s not in allowed]
    if bad or not items or len(set(items)) != len(items):
        raise ConfigError(f"The '--{name}' option must be a comma-separated list of distinct "
                          f"items of {list(allowed)}. Got {text!r} instead.")
    return items


def cmd_verify(args) -> int:
    from simulator.budget import check_budget, estimate_cell, estimate_runs, with_workers
    from simulator.models import MODELS, NETWORK_MODELS
    from simulator.norms import NORMS
    from simulator.pipeline import RunCache
    from simulator.threads import available_cores
    from theorems import CHECKS, EXTRA_CHECKS
    from theorems.common import overall_verdict
    from theorems.regime import REGIMES

    if args.seeds < 1:
        raise ConfigError(f"The '--seeds' option must be an int in the range [1, inf). Got {args.seeds} instead.")
    cores = available_cores()
    workers = cores if args.workers is None else args.workers
    if not 1 <= workers <= cores:
        raise ConfigError(f"The '--workers' option must be an int in the range [1, {cores}] (the cores "
                          f"of this machine). Got {args.workers} instead.")
    modules = CHECKS | EXTRA_CHECKS  # extra checks run only when --only names them
    claims = _parse_list(args.only, modules, "only") if args.only is not None else list(CHECKS)
    norms = _parse_list(args.norms, NORMS, "norms")
    if args.quick and args.regime not in (None, "quick"):
        raise ConfigError(f"--quick is --regime quick; it cannot be combined with --regime {args.regime}.")
    name = "quick" if args.quick else (args.regime or "default")
    if name not in REGIMES:
        raise ConfigError(f"The '--regime' option must be one of {sorted(REGIMES)}. Got {name!r} instead.")
    regime = REGIMES[name]
    seeds = list(range(args.seeds))
    kinds = [k for k in MODELS if any(k in getattr(modules[c], "KINDS", NETWORK_MODELS)
                                      for c in claims)]
    lb = regime.lower_bounds.to_dict()
    estimate = estimate_runs([regime.config_for(s, n) for s in seeds for n in norms], models=kinds,
                             lower_bounds=lb)
    cell = estimate_cell(regime.config_for(0, norms[0]), kinds, lb)
    check_budget(with_workers(estimate, cell, workers), memory_limit(args))  # before anything is allocated
    if args.resume and args.out is None:
        raise ConfigError("--resume needs the --out folder of the interrupted run.")
    out = Path(args.out or f"runs/verify-{regime.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    staging = storage.prepare(out, resume=args.resume)
    threads = regime.run.threads or available_cores()
    t0 = time.perf_counter()
    results, status = [], "complete"
    # runs shared by the checks (the network claims read the same runs), kept on disk so that
    # --resume redoes no finished training run or lower-bound fit
    cache = RunCache(staging / "cache")
    jobs = [(c, n) for c in claims for n in norms]
    prefetched = {}
    parallel = {"workers": workers, "prefetch_seconds": prefetched}
    claim, norm = "prefetch", "-"
    try:
        with remembered_sigint():  # a Ctrl-C swallowed inside numba's compiler still stops the run
            if workers > 1:
                _prefetch(regime, modules, claims, seeds, norms, cache, workers, prefetched,
                          args.no_progress)
            bar = tqdm(jobs, desc="fpsim verify", disable=args.no_progress, unit="check")
            for claim, norm in bar:
                bar.set_postfix_str(f"{claim} [{norm}]")
                t = time.perf_counter()
                res = modules[claim].run(regime, seeds=seeds, norm=norm, cache=cache)
                res.seconds = time.perf_counter() - t
                results.append(res)
                res.write_csv(staging)
                write_summary(staging, results)  # kept current, so an interruption loses nothing finished
                tqdm.write(_one_line(res))
    except KeyboardInterrupt:
        status = "interrupted"
    except Exception as exc:  # keep what finished, say what broke, then fail loudly
        status = f"crashed in {claim} [{norm}]: {type(exc).__name__}: {exc}"
        _write_partial(staging, results, regime, seeds, claims, norms, threads, t0, status, cache,
                       parallel)
        raise
    else:
        bar.close()
    summary = _write_partial(staging, results, regime, seeds, claims, norms, threads, t0, status, cache,
                       parallel)
    if status == "interrupted":
        print(f"\nfpsim verify: interrupted; finished work kept in {staging} (continue with: "
              f"fpsim verify --resume --out {out} and the same flags)", file=sys.stderr)
        return 130
    storage.remove_tree(staging / "cache")
    storage.finish(staging, out)
    print(summary[["claim", "norm", "model", "quantity", "measured", "criterion", "verdict", "flag"]]
          .to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    failed = summary[summary.verdict == "FAIL"]
    print(f"\n{overall_verdict(summary.to_dict('records'))}\nreport: {out / 'REPORT.md'}")
    return 0 if failed.empty else 1


def _write_partial(staging, results, regime, seeds, claims, norms, threads, t0, status, cache,
                   parallel=None):
    """summary.csv, figures, REPORT.md and run.json for the checks finished so far.

    ``parallel``: {"workers": n, "prefetch_seconds": {task: s}} when worker processes computed
    the runs (the checks' own seconds then count only reading them back)."""
    from simulator.storage import environment, peak_rss_mib

    summary = write_summary(staging, results)
    figures = _figures(staging, regime, norms, cache, results) if results else {}
    parallel = parallel or {"workers": 1, "prefetch_seconds": {}}
    info = {"seeds": seeds, "seconds": time.perf_counter() - t0, "threads": threads,
            "workers": parallel["workers"]}
    write_report(staging, summary, regime, figures, info, status)
    storage.write_json(staging / "run.json", {
        "status": status, "command": "verify", "argv": sys.argv, "regime": regime.name,
        "tau_star": {n: regime.tau_for(n) for n in norms}, "seeds": seeds, "claims": claims, "norms": norms,
        "config": regime.run.to_dict(), "lower_bounds": regime.lower_bounds.to_dict(), "threads": threads,
        "workers": parallel["workers"],
        "threads_per_worker": 1 if parallel["workers"] > 1 else threads,
        "prefetch_seconds": parallel["prefetch_seconds"],
        "timings_seconds": {f"{r.claim}[{r.norm}]": r.seconds for r in results} | {"total": info["seconds"]},
        "peak_rss_mib": peak_rss_mib(),
        "peak_rss_mib_largest_worker": peak_rss_mib(children=True),
        "environment": environment(),
    })
    return summary


def _prefetch(regime, modules, claims, seeds, norms, cache, workers, prefetched, quiet) -> None:
    """The checks' training runs and fits, computed by ``workers`` one-thread processes into the
    cache folder (theorems/prefetch.py); ``prefetched`` gets each task's seconds."""
    from theorems.prefetch import prefetch, tasks

    todo = tasks(modules, claims, seeds)
    bar = tqdm(total=len(todo), desc=f"runs on {workers} workers", disable=quiet, unit="run")

    def done(task, seconds):
        prefetched[f"{task[0]}[seed {task[1]}]"] = seconds
        bar.update()
        tqdm.write(f"  {task[0]}, seed {task[1]}: {seconds:.0f} s")

    prefetch(regime, modules, claims, seeds, norms, cache.directory, workers, on_done=done)
    bar.close()


def _one_line(res) -> str:
    parts = [f"{q.model}:{q.name}={q.mean:.3f}({q.verdict})" for q in res.quantities if q.criterion]
    return f"[{res.verdict}] {res.claim} [{res.norm}] " + " ".join(parts) + f"  ({res.seconds:.0f} s)"


def _figures(folder: Path, regime, norms, cache, results) -> dict:
    """Figures from the network runs and lower-bound rows that the checks left in ``cache``."""
    from theorems.lower_bounds import cached_rows
    from theorems.runs import cached_network_runs

    from .. import figures as F

    out = {}
    low_rank = [r.details for r in results if r.claim == "low_rank_update" and r.details is not None]
    if low_rank:
        out["Robust accuracy against the rank r of the adversarial update (low_rank_update)"] = \
            F.low_rank_robustness(pd.concat(low_rank, ignore_index=True),
                                  folder / "low_rank_robustness.png").name
    runs = cached_network_runs(cache, regime)
    if not runs:
        return out
    rows = [dict(seed=r.seed, **row) for r in runs for row in r.results]
    rows += cached_rows(cache)
    res_df = pd.DataFrame(rows)
    out["Robust accuracy against τ (mean over seeds; band: min–max)"] = F.robust_curves(
        res_df, folder / "robust_accuracy.png", {n: regime.tau_for(n) for n in norms}).name
    r0 = sorted(runs, key=lambda r: (r.norm != "l2", r.seed))[0]
    C_clean = r0.problem.feature_coefficients(r0.W_clean)
    C_adv = r0.problem.feature_coefficients(r0.W_adv)
    out[f"Feature profiles before and after adversarial training (seed {r0.seed}, {r0.norm})"] = \
        F.feature_profiles(C_clean, C_adv, np.asarray(r0.problem.w_star), folder / "feature_profiles.png").name
    curves = pd.DataFrame([dict(seed=r.seed, norm=r.norm, **c) for r in runs for c in r.curves])
    out["Dense-mixture share over the course of training"] = F.mixture_curves(
        curves, folder / "dense_mixture_training.png").name
    return out
