"""The one timing helper of the benchmarks (imports nothing but numpy, so the PyTorch peer's
child process can use it without loading numba or OpenMP)."""

from __future__ import annotations

import time

import numpy as np


def time_calls(fn, repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` calls, after ``warmup`` calls.

    The warm-up calls absorb compilation and first-touch allocation.
    """
    for _ in range(warmup):
        fn()
    times = np.empty(repeats)
    for i in range(repeats):
        t = time.perf_counter()
        fn()
        times[i] = time.perf_counter() - t
    return float(np.median(times))
