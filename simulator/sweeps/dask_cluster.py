"""Sweep cells on Dask: an existing cluster (``--scheduler``) or an in-process LocalCluster.

Dask is an install extra (``pip install 'fpsim[dask]'``): this module is imported only when
one of the Dask flags is given.  Every worker must be able to import this project (same
version) because cells travel as plain data and run :func:`reports.sweep_worker.execute_cell`.

Threads: Dask does not limit numba's threads (workers ran 2.7× slower until
NUMBA_NUM_THREADS was set).  A LocalCluster starts its workers with the environment of
:func:`~reports.sweep_worker.worker_environment` (set before numba is imported); on an existing
cluster a :class:`SweepWorkerEnv` plugin sets it on every worker, and each cell also calls
``simulator.threads.thread_limit``.
"""

from __future__ import annotations

import os
import sys
import uuid

from ..config import ConfigError

from .worker import execute_cell, worker_environment

try:
    import distributed
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError as exc:  # pragma: no cover - the test extra installs dask
    raise ConfigError(
        "fpsim sweep --scheduler / --local-cluster need Dask: "
        "pip install 'fpsim[dask]' (or pip install 'dask[distributed]>=2024.1'). "
        f"Import failed: {exc}") from None


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


class SweepWorkerEnv(WorkerPlugin):
    """Sets the thread variables on each worker of an existing cluster.

    A worker's cells get ``cores // (task threads of all workers on its host)`` threads, so
    that workers × threads ≤ cores on every machine.  Workers that join later get 1 thread.

    Parameters
    ----------
    host_threads : dict worker address -> total Dask threads of the workers on its host
    """

    name = "fpsim-sweep-env"

    def __init__(self, host_threads: dict):
        self.host_threads = dict(host_threads)

    def setup(self, worker):
        total = self.host_threads.get(worker.address)
        threads = max(1, _cores() // total) if total else 1
        os.environ.update(worker_environment(threads))
        if "numba" in sys.modules:  # too late for NUMBA_NUM_THREADS: thread_limit still caps it
            import numba

            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


class DaskExecutor:
    """Submit cells to Dask and collect their records as they finish."""

    def __init__(self, *, scheduler: str | None = None, n_workers: int | None = None,
                 threads: int = 1):
        self.cluster = None
        self.token = uuid.uuid4().hex[:8]  # keys unique on a cluster shared by several sweeps
        if scheduler:
            self.kind = f"dask:{scheduler}"
            try:
                self.client = distributed.Client(scheduler, timeout="30s")
            except OSError as exc:
                raise ConfigError(f"Cannot reach the Dask scheduler {scheduler!r}: {exc}") from None
            info = self.client.scheduler_info(n_workers=-1)["workers"]
            per_host = {}
            for w in info.values():
                per_host[w["host"]] = per_host.get(w["host"], 0) + w["nthreads"]
            self.client.register_plugin(
                SweepWorkerEnv({addr: per_host[w["host"]] for addr, w in info.items()}))
            self.workers = len(info)
            self.threads = None  # set per host by the plugin
        else:
            self.kind = "dask-local-cluster"
            self.workers, self.threads = n_workers, threads
            env = worker_environment(threads)
            self.cluster = distributed.LocalCluster(
                n_workers=n_workers, threads_per_worker=1, processes=True, env=env,
                dashboard_address=None)
            self.client = distributed.Client(self.cluster)

    def submit(self, payload):
        return self.client.submit(execute_cell, payload, pure=False,
                                  key=f"fpsim-cell-{payload['cell_id']}-{self.token}")

    def as_completed(self, futures):
        return distributed.as_completed(futures)

    def close(self, cancel: bool = False) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


__all__ = ["DaskExecutor", "SweepWorkerEnv"]
