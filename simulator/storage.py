"""Output folders that are never silently overwritten and never left half-written.

A run writes into ``DIR.partial`` and renames it to ``DIR`` when it finishes.  An
interrupted run leaves ``DIR.partial`` with what it finished and a ``run.json`` whose
status says so.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np

from . import OPENBLAS_THREAD_TIMEOUT_APPLIED
from .config import ConfigError


class OutputExistsError(FileExistsError):
    """The output folder exists already."""


class OutputFolderError(ConfigError):
    """The output folder cannot be created or resumed (bad input: exit code 2)."""


def prepare(out: str | Path, resume: bool = False) -> Path:
    """Check that ``out`` is free and return the staging folder ``out.partial``.

    Parameters
    ----------
    out : the final folder; it must not exist
    resume : continue an interrupted run: ``out.partial`` must exist and is returned as it is;
        otherwise it must not exist and is created

    Raises
    ------
    OutputExistsError when ``out`` (or, without ``resume``, ``out.partial``) exists;
    OutputFolderError when there is nothing to resume or the folder cannot be created.
    """
    out = Path(out)
    if out.exists():
        raise OutputExistsError(
            f"The output folder {str(out)!r} exists already; fpsim never overwrites results. "
            f"Choose another --out or remove it."
        )
    staging = out.with_name(out.name + ".partial")
    if resume:
        if not staging.is_dir():
            raise OutputFolderError(
                f"Nothing to resume: {str(staging)!r} does not exist. --resume continues the run "
                f"that was interrupted with the same --out; check the path.")
        return staging
    if staging.exists():
        raise OutputExistsError(
            f"The staging folder {str(staging)!r} (left by an interrupted run) exists; "
            f"continue it with --resume, or remove it, or choose another --out."
        )
    try:
        staging.mkdir(parents=True)
    except OSError as exc:
        raise OutputFolderError(
            f"Cannot create the output folder {str(staging)!r}: {exc.strerror or exc}. "
            f"Choose another --out.") from None
    return staging


def finish(staging: Path, out: str | Path) -> Path:
    """Rename the staging folder to its final name."""
    out = Path(out)
    os.replace(staging, out)
    return out


def remove_tree(path: Path) -> None:
    """Remove a folder fpsim wrote (a run's resume cache), if it exists."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _publish(tmp: str, path: Path) -> None:
    """Give the temp file ordinary permissions (mkstemp makes it 0600) and move it into place."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


def write_json(path: Path, data) -> None:
    """Write JSON atomically (temp file + rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, default=_jsonable, allow_nan=True)
            fh.write("\n")
        _publish(tmp, path)
    except BaseException:  # an interrupt mid-write leaves no temporary file behind
        _discard(tmp)
        raise


def write_csv(path: Path, frame) -> None:
    """Write a pandas DataFrame atomically."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        frame.to_csv(tmp, index=False, float_format="%.10g")
        _publish(tmp, path)
    except BaseException:  # an interrupt mid-write leaves no temporary file behind
        _discard(tmp)
        raise


def _discard(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass


def _jsonable(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


PACKAGES = ("numpy", "scipy", "numba", "llvmlite", "pandas", "matplotlib", "tqdm",
            "threadpoolctl", "hypothesis", "pytest")


def peak_rss_mib(children: bool = False) -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB, macOS bytes);
    ``children``: of the largest of its finished child processes (e.g. prefetch workers)."""
    import resource

    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    peak = resource.getrusage(who).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def code_version() -> dict:
    """The git commit of this checkout and whether its code (simulator/, theorems/,
    reports/) has local changes; None for both outside a git checkout (an installed copy).

    Sweep cell ids hash configs, not code: a sweep resumed after a code change mixes
    versions, and the sessions of the manifest say which cells ran under which commit.
    """
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "simulator",
                                "theorems", "reports"], capture_output=True, text=True, timeout=10,
                               check=True).stdout.strip() != ""
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def environment() -> dict:
    """Package versions, BLAS, Python and machine facts for run records."""
    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            versions[p] = None
    try:
        from threadpoolctl import threadpool_info

        blas = [{k: i.get(k) for k in ("internal_api", "version", "num_threads",
                                         "threading_layer", "architecture")}
                for i in threadpool_info()]
    except Exception:  # pragma: no cover - informational only
        blas = []
    return {
        "code": code_version(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
        "blas": blas,
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS",
                                               "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE",
                                               "OPENBLAS_THREAD_TIMEOUT", "OMP_WAIT_POLICY")},
        "openblas_thread_timeout_in_effect": OPENBLAS_THREAD_TIMEOUT_APPLIED,
    }
