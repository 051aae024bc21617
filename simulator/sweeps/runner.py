"""Run a grid of cells on a local process pool or a Dask cluster, one atomic record per cell.

Layout of a sweep folder::

    DIR/sweep.json          the manifest: grid, cells (id and parameters), one entry per session
    DIR/grid.toml           the grid file as given
    DIR/cells/<id>.json     one record per finished cell (status ok or error), written atomically
    DIR/results.csv         every row of every ok record (rebuilt from the records)
    DIR/cells.csv           one line per cell: status, seconds, summary figures
    DIR/scaling.csv, exponents.csv, gap.csv, scaling.png, SCALING.md   (reports.scaling)

A sweep killed at any moment keeps every record it wrote (temp file + os.replace) and
``--resume`` redoes exactly the cells without an ok record.
"""

from __future__ import annotations

import concurrent.futures as cf
import warnings
import datetime
import json
import multiprocessing
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ..config import ConfigError
from .grid import Grid

from .. import storage
from .worker import execute_cell, init_worker, worker_environment

MANIFEST = "sweep.json"
CELLS = "cells"
RESULT_COLUMNS = ("model", "norm", "tau", "radius", "attack", "clean_acc", "robust_acc")
MANIFEST_SCHEMA = "fpsim-sweep/1"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


@dataclass
class SweepOutcome:
    """What one invocation did."""

    out: Path
    n_cells: int
    executed: list = field(default_factory=list)  # cell ids run in this session
    skipped: list = field(default_factory=list)  # cell ids with an ok record already
    failed: list = field(default_factory=list)  # cell ids whose record is an error
    status: str = "complete"  # or 'interrupted'
    n_ok: int = 0  # cells with an ok record after this session


# ----------------------------------------------------------------------------------------
# Records and tables
# ----------------------------------------------------------------------------------------


def record_path(out: Path, cell_id: str) -> Path:
    return Path(out) / CELLS / f"{cell_id}.json"


def read_record(path: Path) -> dict | None:
    """A cell record, or None if it is missing or unreadable (it will be redone)."""
    try:
        with open(path) as fh:
            rec = json.load(fh)
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return rec if isinstance(rec, dict) and "status" in rec else None


def results_frame(records: list, columns: list) -> pd.DataFrame:
    """The rows of every ok record with the cell's parameters: results.csv."""
    frames = []
    for rec in records:
        if rec is None or rec.get("status") != "ok" or not rec["rows"]:
            continue
        df = pd.DataFrame(rec["rows"], columns=list(RESULT_COLUMNS))
        for i, col in enumerate(["cell_id"] + list(columns)):
            value = rec["cell_id"] if col == "cell_id" else rec["params"].get(col)
            df.insert(i, col, [value] * len(df))
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["cell_id", *columns, *RESULT_COLUMNS])
    return pd.concat(frames, ignore_index=True)


def cells_frame(grid_cells: list, records: dict, columns: list) -> pd.DataFrame:
    """One line per cell of the grid: status, wall seconds, summary figures, error."""
    lines = []
    for cell in grid_cells:
        rec = records.get(cell["cell_id"])
        line = {"cell_id": cell["cell_id"], **{c: cell["params"].get(c) for c in columns}}
        if rec is None:
            line["status"] = "pending"
        else:
            line.update(status=rec["status"], seconds=rec.get("timings", {}).get("wall"),
                        threads=rec.get("threads"), finished_at=rec.get("finished_at"))
            line.update(rec.get("summary", {}))
            if rec.get("error"):
                line["error"] = f"{rec['error']['type']}: {rec['error']['message']}"
        lines.append(line)
    return pd.DataFrame(lines)


def write_tables(out: Path, manifest: dict, records: dict) -> pd.DataFrame:
    """Rebuild results.csv and cells.csv from the records (atomically)."""
    order = [c["cell_id"] for c in manifest["cells"]]
    results = results_frame([records.get(cid) for cid in order], manifest["columns"])
    storage.write_csv(out / "results.csv", results)
    storage.write_csv(out / "cells.csv", cells_frame(manifest["cells"], records, manifest["columns"]))
    return results


def load_records(out: Path, cell_ids) -> dict:
    """The readable records of ``cell_ids`` in ``out/cells``."""
    recs = {}
    for cid in cell_ids:
        rec = read_record(record_path(out, cid))
        if rec is not None:
            recs[cid] = rec
    return recs


def load_manifest(out: Path) -> dict:
    path = Path(out) / MANIFEST
    try:
        with open(path) as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{str(out)!r} is not a sweep folder: it has no {MANIFEST}.") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{str(path)!r} is not valid JSON: {exc}") from None


# ----------------------------------------------------------------------------------------
# Executors
# ----------------------------------------------------------------------------------------


class OversubscribedWarning(UserWarning):
    """More worker processes than cores."""


class PoolExecutor:
    """A local pool of spawned worker processes (no state shared with the parent)."""

    kind = "local-pool"

    def __init__(self, workers: int, threads: int):
        self.workers, self.threads = workers, threads
        self.pool = cf.ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker, initargs=(worker_environment(threads),))

    def submit(self, payload):
        return self.pool.submit(execute_cell, payload)

    def as_completed(self, futures):
        return cf.as_completed(futures)

    def close(self, cancel: bool = False) -> None:
        if not cancel:
            self.pool.shutdown(wait=True)
            return
        # An interrupted sweep stops its own workers at once instead of waiting for their
        # running cells (Python < 3.14 has no public terminate_workers()).
        processes = list(getattr(self.pool, "_processes", {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            if proc.is_alive():
                proc.terminate()
        for proc in processes:
            proc.join(timeout=10)


def check_executor_options(*, workers: int | None, scheduler: str | None, local_cluster: bool) -> None:
    """Reject contradictory flags, and Dask flags without Dask, before anything runs."""
    if scheduler and local_cluster:
        raise ConfigError("Give either --scheduler ADDRESS or --local-cluster, not both.")
    if workers is not None and workers < 1:
        raise ConfigError(f"The '--workers' option must be an int in the range [1, inf). Got {workers} instead.")
    if scheduler and workers is not None:
        raise ConfigError("--workers does not apply with --scheduler: the cluster has its own workers.")
    if scheduler or local_cluster:
        from . import dask_cluster  # noqa: F401  (raises ConfigError when Dask is missing)


def make_executor(*, workers: int | None, scheduler: str | None, local_cluster: bool):
    """The executor the flags ask for (see ``fpsim sweep --help``)."""
    from ..threads import available_cores

    check_executor_options(workers=workers, scheduler=scheduler, local_cluster=local_cluster)
    cores = available_cores()
    if scheduler:
        from .dask_cluster import DaskExecutor

        return DaskExecutor(scheduler=scheduler)
    n = workers or cores
    threads = max(1, cores // n)  # workers × threads ≤ cores
    if n > cores:
        warnings.warn(f"--workers {n} on {cores} core(s): the workers share the cores "
                      f"(oversubscribed); using {n} worker processes with {threads} thread each.",
                      OversubscribedWarning, stacklevel=2)
    if local_cluster:
        from .dask_cluster import DaskExecutor

        return DaskExecutor(n_workers=n, threads=threads)
    return PoolExecutor(n, threads)


# ----------------------------------------------------------------------------------------
# The sweep
# ----------------------------------------------------------------------------------------


def _new_manifest(grid: Grid, grid_text: str) -> dict:
    return {
        "schema": MANIFEST_SCHEMA, "created_at": _now(), "grid_file": grid.source,
        "grid_text": grid_text, "models": list(grid.models), "columns": grid.columns,
        "group_columns": grid.group_columns, "axes": {n: list(v) for n, v in grid.axes},
        "per_input_dim": {n: list(v) for n, v in grid.per_d.items()},
        "cells": [{"cell_id": c.cell_id, "params": c.params} for c in grid.cells],
        "sessions": [],
    }


def check_folder(out: Path, grid: Grid, resume: bool) -> dict | None:
    """Check that ``out`` can take this sweep, writing nothing.

    Returns the existing manifest (``--resume`` of a started sweep) or None (a new folder).
    Raises OutputExistsError / ConfigError.
    """
    out = Path(out)
    manifest_path = out / MANIFEST
    if resume and not out.exists():
        raise ConfigError(f"Nothing to resume: {str(out)!r} does not exist. --resume finishes the "
                          f"sweep written to that folder; check the path.")
    if out.exists() and not resume:
        raise storage.OutputExistsError(
            f"The output folder {str(out)!r} exists already; fpsim never overwrites results. "
            f"Use --resume to finish that sweep, or choose another --out.")
    if resume and manifest_path.exists():
        manifest = load_manifest(out)
        old = [c["cell_id"] for c in manifest.get("cells", [])]
        new = [c.cell_id for c in grid.cells]
        if sorted(old) != sorted(new):
            raise ConfigError(
                f"{str(out)!r} holds a sweep of a different grid ({len(old)} cells, "
                f"{len(set(old) & set(new))} in common with this grid's {len(new)}); "
                f"--resume needs the same grid. Choose another --out for a new grid.")
        return manifest
    if resume and any((out / CELLS).glob("*.json")):
        raise ConfigError(f"{str(out)!r} has cell records but no {MANIFEST}; it cannot be resumed.")
    return None


def create_folder(out: Path, grid: Grid, grid_text: str) -> dict:
    """Write the folder of a new sweep: cells/, the manifest, a copy of the grid file."""
    out = Path(out)
    try:
        (out / CELLS).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage.OutputFolderError(f"Cannot create the output folder {str(out)!r}: "
                                        f"{exc.strerror or exc}. Choose another --out.") from None
    manifest = _new_manifest(grid, grid_text)
    storage.write_json(out / MANIFEST, manifest)
    with open(out / "grid.toml.tmp", "w") as fh:
        fh.write(grid_text)
    os.replace(out / "grid.toml.tmp", out / "grid.toml")
    return manifest


def _error_record(cell, exc: BaseException) -> dict:
    """The record of a cell whose worker died (the worker could not write one)."""
    import traceback

    p = cell.payload()
    return {"schema": "fpsim-sweep-record/1", "cell_id": cell.cell_id, "status": "error",
            "params": p["params"], "seed": p["config"]["seed"], "models": p["models"],
            "config": p["config"], "lower_bounds": p["lower_bounds"], "rows": [], "summary": {},
            "timings": {}, "threads": None, "started_at": None, "finished_at": _now(),
            "error": {"type": type(exc).__name__,
                      "message": f"the worker running this cell failed: {exc}",
                      "traceback": "".join(traceback.format_exception(exc))}}


def run_sweep(grid: Grid, out: Path, *, grid_text: str = "", workers: int | None = None,
              scheduler: str | None = None, local_cluster: bool = False, resume: bool = False,
              progress: bool = True, argv=None) -> SweepOutcome:
    """Run every cell of ``grid`` without an ok record in ``out``; write records and tables.

    Returns
    -------
    SweepOutcome (the caller writes the scaling report and picks the exit code).
    """
    from .cell import estimated_cost

    out = Path(out)
    check_executor_options(workers=workers, scheduler=scheduler, local_cluster=local_cluster)
    manifest = check_folder(out, grid, resume)  # nothing is written before the executor runs
    records = load_records(out, [c.cell_id for c in grid.cells]) if manifest else {}
    todo = [c for c in grid.cells if records.get(c.cell_id, {}).get("status") != "ok"]
    outcome = SweepOutcome(out=out, n_cells=len(grid.cells),
                           skipped=[cid for cid, r in records.items() if r.get("status") == "ok"])
    cost = {c.cell_id: estimated_cost(c.config, c.models, c.lower_bounds, c.stopping) for c in todo}
    todo.sort(key=lambda c: -cost[c.cell_id])  # longest first: the pool finishes together

    executor = make_executor(workers=workers, scheduler=scheduler, local_cluster=local_cluster) if todo else None
    try:
        if manifest is None:
            manifest = create_folder(out, grid, grid_text)
        for tmp in (out / CELLS).glob("*.tmp"):  # left by a sweep killed mid-write
            tmp.unlink(missing_ok=True)
    except BaseException:
        if executor is not None:
            executor.close(cancel=True)
        raise
    session = {"started_at": _now(), "argv": list(argv or []), "code": storage.code_version(),
               "executor": getattr(executor, "kind", None),
               "workers": getattr(executor, "workers", None), "threads": getattr(executor, "threads", None),
               "to_run": [c.cell_id for c in todo], "skipped": len(outcome.skipped),
               "status": "running"}
    manifest["sessions"].append(session)
    storage.write_json(out / MANIFEST, manifest)
    write_tables(out, manifest, records)

    # progress in units of estimated cost, so that time left weighs big cells properly
    bar = tqdm(total=sum(cost.values()) or 1, disable=not progress or not todo,
               desc=f"fpsim sweep 0/{len(todo)} cells",
               bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]",
               dynamic_ncols=True)
    futures = {}
    finished = False
    restore = _stop_on_sigterm()
    try:
        if todo:
            for cell in todo:
                futures[executor.submit(cell.payload())] = cell
            for fut in executor.as_completed(list(futures)):
                cell = futures[fut]
                try:
                    rec = fut.result()
                except Exception as exc:  # the worker itself died
                    rec = _error_record(cell, exc)
                storage.write_json(record_path(out, cell.cell_id), rec)
                records[cell.cell_id] = rec
                outcome.executed.append(cell.cell_id)
                if rec["status"] != "ok":
                    outcome.failed.append(cell.cell_id)
                    bar.write(f"cell {cell.cell_id} {cell.params} failed: "
                              f"{rec['error']['type']}: {rec['error']['message']}", file=sys.stderr)
                write_tables(out, manifest, records)
                bar.update(cost[cell.cell_id])
                bar.set_description_str(f"fpsim sweep {len(outcome.executed)}/{len(todo)} cells"
                                        + (f", {len(outcome.failed)} failed" if outcome.failed else ""))
        finished = True
    except KeyboardInterrupt:
        outcome.status = "interrupted"
    finally:
        restore()
        bar.close()
        if executor is not None:
            executor.close(cancel=not finished)
    session.update(finished_at=_now(), status=outcome.status, executed=outcome.executed,
                   failed=outcome.failed)
    storage.write_json(out / MANIFEST, manifest)
    write_tables(out, manifest, records)
    outcome.n_ok = sum(1 for r in records.values() if r.get("status") == "ok")
    return outcome


def _stop_on_sigterm():
    """Turn SIGTERM into KeyboardInterrupt while cells run, so a terminated sweep stops its
    workers and records its session; returns the function that restores the old handler."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def stop(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, stop)
    return lambda: signal.signal(signal.SIGTERM, old)


def print_outcome(outcome: SweepOutcome, file=None) -> None:
    print(f"{outcome.n_cells} cells: {len(outcome.skipped)} already done, {len(outcome.executed)} "
          f"run now ({len(outcome.failed)} failed); {outcome.n_ok} ok in all. "
          f"Results in {outcome.out}", file=file or sys.stdout)
