"""The thread environment fpsim sets on import: OMP_WAIT_POLICY and OPENBLAS_THREAD_TIMEOUT
(simulator/__init__.py), before OpenMP and OpenBLAS load and read them."""

import json
import os
import subprocess
import sys

import pytest

VARS = ("OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT")
REPORT = ("import json, os, simulator; print(json.dumps({"
          "'env': {k: os.environ.get(k) for k in %r}, "
          "'omp_defaulted': simulator.OMP_WAIT_POLICY_DEFAULTED, "
          "'blas_defaulted': simulator.OPENBLAS_THREAD_TIMEOUT_DEFAULTED, "
          "'blas_applied': simulator.OPENBLAS_THREAD_TIMEOUT_APPLIED}))" % (VARS,))


def run(first_import: str, **env_set):
    env = {k: v for k, v in os.environ.items() if k not in VARS}
    env.update(env_set)
    code = (f"import {first_import}; " if first_import else "") + REPORT
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("first, applied", [(None, True), ("simulator.storage", True), ("numpy", False)],
                         ids=["simulator-first", "reports-first", "numpy-first"])
def test_defaults_and_whether_openblas_reads_them(first, applied):
    """OpenBLAS reads its timeout when numpy first loads it: after that, setting it is void,
    and fpsim says so.  Any reports module (the fpsim command's) loads simulator first."""
    rec = run(first)
    assert rec["env"] == {"OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_THREAD_TIMEOUT": "16"}
    assert rec["omp_defaulted"] and rec["blas_defaulted"]
    assert rec["blas_applied"] is applied


def test_values_set_by_the_user_win():
    rec = run("numpy", OMP_WAIT_POLICY="ACTIVE", OPENBLAS_THREAD_TIMEOUT="20")
    assert rec["env"] == {"OMP_WAIT_POLICY": "ACTIVE", "OPENBLAS_THREAD_TIMEOUT": "20"}
    assert not rec["omp_defaulted"] and not rec["blas_defaulted"]
    assert rec["blas_applied"]  # in the environment before the process started
