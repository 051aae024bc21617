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
    return time_interleaved({"fn": fn}, repeats, warmup, warmup_seconds)["fn"]


def time_interleaved(fns: dict, repeats: int, warmup: int = 1,
                     warmup_seconds: float = WARMUP_SECONDS) -> dict:
    """Median wall time in seconds of each callable of ``fns``, timed in turns.

    Each of ``repeats`` rounds times one call of every function, so a burst of load on a
    shared machine lands on one call of each rather than on every call of one (timing
    each function's calls back to back once put a whole figure 1.5× off, and a ratio of
    two figures with it).  Before the rounds, at least ``warmup`` rounds untimed, and
    more until ``warmup_seconds`` have passed.
    """
    start = time.perf_counter()
    done = 0
    while done < warmup or time.perf_counter() - start < warmup_seconds:
        for fn in fns.values():
            fn()
        done += 1
    times = {name: np.empty(repeats) for name in fns}
    for i in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name][i] = time.perf_counter() - t
    return {name: float(np.median(t)) for name, t in times.items()}


@dataclass(frozen=True)
class Timer:
    """:func:`time_calls` and :func:`time_interleaved` with their settings bound:
    ``Timer(10)(fn)``, ``Timer(10).each({"a": fa, "b": fb})``."""

    repeats: int
    warmup_seconds: float = WARMUP_SECONDS

    def __call__(self, fn) -> float:
        return time_calls(fn, self.repeats, warmup_seconds=self.warmup_seconds)

    def each(self, fns: dict) -> dict:
        return time_interleaved(fns, self.repeats, warmup_seconds=self.warmup_seconds)
