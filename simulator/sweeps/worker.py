"""What runs inside a sweep worker process: its environment, and one cell to a record.

This module imports only the standard library at load time, so that a worker can set
NUMBA_NUM_THREADS / OMP_NUM_THREADS / OPENBLAS_NUM_THREADS before numba and numpy are first
imported (both read them once, at import).  Dask does not limit numba's threads: workers ran
2.7× slower until NUMBA_NUM_THREADS was set.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import time
import traceback

THREADS_VAR = "FPSIM_SWEEP_THREADS"  # threads per cell, read by execute_cell
THREAD_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
RECORD_SCHEMA = "fpsim-sweep-record/1"


def worker_environment(threads: int) -> dict:
    """Environment variables of a worker whose cells use ``threads`` numba / BLAS threads.

    NUMBA_CACHE_DIR is passed on when the parent has it, so every worker reads and writes one
    cache of compiled kernels; otherwise numba's default (beside the sources, or a per-user
    folder when they are read-only) is already one shared folder per machine.
    """
    env = {name: str(int(threads)) for name in THREAD_VARS}
    env[THREADS_VAR] = str(int(threads))
    if os.environ.get("NUMBA_CACHE_DIR"):
        env["NUMBA_CACHE_DIR"] = os.environ["NUMBA_CACHE_DIR"]
    return env


def init_worker(env: dict) -> None:
    """Pool initializer: set the worker's environment before any cell imports numba, and make
    the worker die with the sweep process (a SIGKILL of the parent left workers running)."""
    os.environ.update(env)
    die_with_parent()


def die_with_parent() -> None:
    """Ask the kernel to send SIGKILL to this process when its parent dies (Linux).

    Elsewhere a thread polls the parent's pid and exits when it changes.
    """
    import signal

    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)
            return
    except (OSError, AttributeError):
        pass
    import threading

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="fpsim-parent-watch").start()


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def execute_cell(payload: dict) -> dict:
    """Run one cell and return its record; a failure becomes a record with status 'error'.

    Parameters
    ----------
    payload : dict from :meth:`simulator.grid.Cell.payload`

    Returns
    -------
    dict, JSON-serialisable: cell_id, status, params, seed, models, config, lower_bounds, rows,
    summary, timings, threads, started_at, finished_at, host, pid, environment, error.
    """
    started = _now()
    t0 = time.perf_counter()
    threads = int(os.environ.get(THREADS_VAR, "1"))
    record = {
        "schema": RECORD_SCHEMA, "cell_id": payload["cell_id"], "status": "error",
        "params": payload["params"], "seed": payload["config"].get("seed"),
        "models": payload["models"], "config": payload["config"], "lower_bounds": payload["lower_bounds"],
        **({"stopping": payload["stopping"]} if payload.get("stopping") else {}),
        "rows": [], "summary": {}, "timings": {}, "threads": threads, "started_at": started,
        "host": platform.node(), "pid": os.getpid(), "error": None,
    }
    try:
        from .cell import run_cell
        from ..config import RunConfig

        cfg = RunConfig.from_dict(payload["config"])
        res = run_cell(cfg, payload["models"], payload["lower_bounds"], threads=threads,
                       stopping=payload.get("stopping"))
        record.update(status="ok", rows=res.rows, summary=res.summary, timings=res.timings)
        if res.history:  # the stopping rule's windows, per phase
            record["training_history"] = res.history
    except Exception as exc:  # a failed cell is recorded; the sweep goes on
        record["error"] = {"type": type(exc).__name__, "message": str(exc),
                           "traceback": traceback.format_exc()}
    record["timings"]["wall"] = time.perf_counter() - t0
    numba = sys.modules.get("numba")
    if numba is not None:  # the size of numba's thread pool, fixed at its import
        record["numba_num_threads"] = int(numba.config.NUMBA_NUM_THREADS)
    record["finished_at"] = _now()
    try:
        from ..storage import environment

        record["environment"] = environment()
    except Exception as exc:  # pragma: no cover - informational only
        record["environment"] = {"error": repr(exc)}
    return record
