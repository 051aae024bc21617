"""The one timing helper of the benchmarks (imports nothing but numpy, so the PyTorch peer's
child process can use it without loading numba or OpenMP)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np


# Least time spent in warm-up calls before a measurement.  One call absorbs compilation and
# first-touch allocation, but not what a process or a previous measurement leaves behind:
# the first step measured by a fresh ``fpsim bench`` (d = 256, float32, about 2 ms) once ran
# at 3.3 ms for its whole 10 repeats, and at 1.9–2.3 ms in every other run.
WARMUP_SECONDS = 0.2


def time_calls(fn, repeats: int, warmup: int = 1, warmup_seconds: float = WARMUP_SECONDS) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` calls.

    Before them, at least ``warmup`` calls, and more until ``warmup_seconds`` have passed.
    """
    start = time.perf_counter()
    done = 0
    while done < warmup or time.perf_counter() - start < warmup_seconds:
        fn()
        done += 1
    times = np.empty(repeats)
    for i in range(repeats):
        t = time.perf_counter()
        fn()
        times[i] = time.perf_counter() - t
    return float(np.median(times))


@dataclass(frozen=True)
class Timer:
    """:func:`time_calls` with its settings bound: ``Timer(10)(fn)``."""

    repeats: int
    warmup_seconds: float = WARMUP_SECONDS

    def __call__(self, fn) -> float:
        return time_calls(fn, self.repeats, warmup_seconds=self.warmup_seconds)
