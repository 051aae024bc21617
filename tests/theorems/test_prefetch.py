"""fpsim verify --workers: the runs computed by worker processes are the ones the checks would
have computed themselves (same bytes at the same thread count), and are read back, not redone."""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.pipeline import RunCache
from theorems import CHECKS, EXTRA_CHECKS, clean_not_robust, polynomial_lower_bound
from theorems.prefetch import prefetch, tasks
from theorems.regime import QUICK


def test_tasks_cover_what_the_claims_read_longest_first():
    modules = CHECKS | EXTRA_CHECKS
    assert tasks(modules, ["purification_real"], [0]) == []
    assert tasks(modules, ["fgm_robust", "purification"], [0, 1]) == [("networks", 0), ("networks", 1)]
    got = tasks(modules, ["linear_lower_bound", "ntk_lower_bound", "clean_not_robust"], [0])
    assert got == [("networks", 0), ("ntk", 0), ("linear", 0), ("linear_oracle", 0)]
    every = {k for k, _ in tasks(modules, list(CHECKS), [0])}
    assert every == {"networks", "poly2", "poly3", "ntk", "linear", "linear_oracle"}


def test_prefetched_runs_equal_in_process_runs_and_are_read_back(tmp_path, monkeypatch):
    monkeypatch.setenv("FPSIM_WORKER_CORES", "1")  # the in-process reference: one thread too
    modules = CHECKS | EXTRA_CHECKS
    claims = ["clean_not_robust", "polynomial_lower_bound"]
    done = []
    prefetch(QUICK, modules, claims, [0], ["l2"], tmp_path / "cache", workers=2,
             on_done=lambda task, s: done.append(task))
    assert sorted(done) == sorted(tasks(modules, claims, [0]))

    cached = RunCache(tmp_path / "cache")
    files = sorted(p.name for p in (tmp_path / "cache").rglob("*.pkl"))
    res = [clean_not_robust.run(QUICK, seeds=[0], norm="l2", cache=cached),
           polynomial_lower_bound.run(QUICK, seeds=[0], norm="l2", cache=cached)]
    # read back: no new entry was computed and written
    assert sorted(p.name for p in (tmp_path / "cache").rglob("*.pkl")) == files

    ref = [clean_not_robust.run(QUICK, seeds=[0], norm="l2", cache=RunCache()),
           polynomial_lower_bound.run(QUICK, seeds=[0], norm="l2", cache=RunCache())]
    for a, b in zip(res, ref):
        assert [(q.model, q.name, q.per_seed) for q in a.quantities] == \
               [(q.model, q.name, q.per_seed) for q in b.quantities]
        pd.testing.assert_frame_equal(a.details.drop(columns=["fit_seconds"], errors="ignore"),
                                      b.details.drop(columns=["fit_seconds"], errors="ignore"))
    assert np.isfinite([q.per_seed[0] for q in res[0].quantities]).all()
