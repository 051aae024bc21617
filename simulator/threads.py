"""Thread control for BLAS and numba, restored on exit."""

from __future__ import annotations

import contextlib
import os

import numba
from threadpoolctl import threadpool_limits


def available_cores() -> int:
    """Cores this process may use: FPSIM_WORKER_CORES when a parent process split the machine
    between workers (theorems/prefetch.py), else the CPU affinity."""
    if os.environ.get("FPSIM_WORKER_CORES"):
        return max(1, int(os.environ["FPSIM_WORKER_CORES"]))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def thread_limit(threads: int | None):
    """Limit BLAS (via threadpoolctl) and numba to ``threads`` threads; None = all cores."""
    n = available_cores() if threads is None else int(threads)
    n_numba = min(n, numba.config.NUMBA_NUM_THREADS)
    old = numba.get_num_threads()
    numba.set_num_threads(n_numba)
    try:
        with threadpool_limits(limits=n, user_api="blas"):
            yield n
    finally:
        numba.set_num_threads(old)
