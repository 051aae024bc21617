"""The checks' expensive runs, computed in parallel worker processes before the checks read them.

Every check reads its training runs (:func:`theorems.runs.network_run`) and lower-bound fits
(:func:`theorems.lower_bounds.lower_bound_rows`) through a :class:`~simulator.pipeline.RunCache`
backed by a folder.  :func:`prefetch` fills that folder with ``workers`` processes of one
numba/BLAS thread each; the checks then run as before, in order, and read every entry back
instead of computing it.  On 2 cores two one-thread processes keep both cores busy where one
two-thread process left a third of them idle (Python, numba kernels on small batches and the
serial parts of each step), and a one-thread BLAS call wastes nothing on splitting.

A task is one seed's networks (clean training, then each norm's adversarial training and
evaluation: the clean phase is shared) or one lower-bound kind and seed (the clean fit, then
each norm's adversarial fit: the clean fit is shared).  Each task computes exactly what the
check would, with the same streams, keys and code path; only the thread count differs (1), and
the results do not depend on which worker ran which task or in what order.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from pathlib import Path

from simulator.models import MODELS, NETWORK_MODELS
from simulator.sweeps.worker import init_worker, worker_environment

# Tasks start longest first.  One-thread seconds per seed and both norms, measured by the
# default `fpsim verify` at c2f7803 (run.json, prefetch_seconds): networks 257–286, poly3
# 183–201, ntk 127–135, poly2 61–64, linear 10–11, linear_oracle 2.  Order only, not a budget.
_ORDER = {"networks": 0, "poly3": 1, "ntk": 2, "poly2": 3, "linear": 4, "linear_oracle": 5}


def tasks(modules: dict, claims: list, seeds: list) -> list:
    """The tasks the ``claims`` need: ``("networks", seed)`` and ``(kind, seed)``, longest first."""
    kinds = []
    for claim in claims:
        for kind in getattr(modules[claim], "KINDS", NETWORK_MODELS):
            key = "networks" if kind in NETWORK_MODELS else kind
            if kind in MODELS and key not in kinds:
                kinds.append(key)
    kinds.sort(key=lambda k: _ORDER.get(k, len(_ORDER)))
    return [(kind, seed) for kind in kinds for seed in seeds]


def run_task(regime, task: tuple, norms: list, cache_dir: str) -> tuple:
    """Compute one task into the cache folder (in a worker process); (task, wall seconds)."""
    import time

    from simulator.pipeline import RunCache

    from .lower_bounds import lower_bound_rows
    from .runs import network_run

    t0 = time.perf_counter()
    cache = RunCache(Path(cache_dir))
    kind, seed = task
    for norm in norms:
        if kind == "networks":
            network_run(regime, seed, norm, cache)
        else:
            for adversarial in ((False,) if kind == "linear_oracle" else (False, True)):
                lower_bound_rows(regime, seed, norm, kind, adversarial, cache)
    return task, time.perf_counter() - t0


def prefetch(regime, modules: dict, claims: list, seeds: list, norms: list, cache_dir: Path,
             workers: int, on_done=None) -> None:
    """Fill ``cache_dir`` with every run the checks will read, ``workers`` processes at a time.

    ``on_done(task, seconds)`` is called as each task finishes.  A task that raises stops the prefetch
    with its exception (the tasks done so far stay in the folder, for --resume).
    """
    todo = tasks(modules, claims, seeds)
    if not todo:
        return
    ctx = multiprocessing.get_context("spawn")
    env = worker_environment(1)
    env["FPSIM_WORKER_CORES"] = "1"  # simulator.threads.available_cores: one core per worker
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=init_worker,
                                initargs=(env,)) as pool:
        futures = [pool.submit(run_task, regime, t, list(norms), os.fspath(cache_dir)) for t in todo]
        try:
            for fut in cf.as_completed(futures):
                task, seconds = fut.result()
                if on_done is not None:
                    on_done(task, seconds)
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
