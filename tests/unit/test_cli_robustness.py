"""What a new user hits (issue 16): hostile sizes, folders, odd flags, interrupts and resume.

Each case is checked through the command line, as a user meets it; processes that must die are
checked with the process table, hangs with a timeout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from reports.cli import main
from simulator.config import ConfigError
from simulator.sweeps.grid import MAX_CELLS, parse_grid
from simulator.sweeps.runner import OversubscribedWarning, make_executor

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "tiny_grid.toml"
SMALL = ["--input-dim", "16", "--sparsity", "3", "--width", "32", "--batch-size", "32",
         "--n-test", "64", "--no-progress", "--set", "eval.taus=[0.1, 0.3]",
         "--set", "eval.pgd_steps=4", "--set", "eval.pgd_restarts=1", "--threads", "1"]
VERIFY = ["verify", "--quick", "--only", "linear_lower_bound", "--norms", "l2", "--seeds", "1",
          "--no-progress"]


def _env():
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))


def _ctrl_c_default():
    """preexec_fn of the children these tests interrupt: SIGINT as a terminal gives it, even
    where the harness runs the tests with SIGINT ignored (a background job of a script), which
    the child would inherit and keep (the CLIs honour an ignored Ctrl-C, as nohup expects)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# ---------------------------------------------------------------- sizes, folders, flags (fast)


@pytest.mark.parametrize("argv", [
    ["train", "--width", "1000000000"],
    ["train", "--input-dim", "1000000"],
    ["train", "--batch-size", "1000000000"],
    ["train", "--n-test", "10000000000"],
    ["train", "--max-memory", "0.001"],
], ids=["width", "input_dim", "batch", "n_test", "max-memory"])
def test_hostile_sizes_are_refused_before_anything_exists(tmp_path, capsys, argv):
    out = tmp_path / "run"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "estimated" in err and "memory" in err and "parameter" in err
    assert not out.exists() and not (tmp_path / "run.partial").exists()


@pytest.mark.parametrize("argv", [["train", *SMALL], VERIFY], ids=["train", "verify"])
def test_an_output_folder_that_cannot_be_created_is_bad_input(tmp_path, capsys, argv):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main([*argv, "--out", str(blocker / "out")]) == 2
    err = capsys.readouterr().err
    assert "Cannot create the output folder" in err and str(blocker) in err


def test_sweep_output_folder_that_cannot_be_created_is_bad_input(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["sweep", str(TINY), "--out", str(blocker / "out"), "--no-progress"]) == 2
    assert "Cannot create the output folder" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["train", *SMALL, "--resume"], [*VERIFY, "--resume"],
                                  ["sweep", str(TINY), "--resume"]], ids=["train", "verify", "sweep"])
def test_resume_of_nothing_is_bad_input(tmp_path, capsys, argv):
    assert main([*argv, "--out", str(tmp_path / "typo")]) == 2
    assert "Nothing to resume" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists() and not (tmp_path / "typo.partial").exists()


@pytest.mark.parametrize("only", ["", "linear_lower_bound,linear_lower_bound", "linear,"])
def test_verify_only_takes_distinct_known_claims(tmp_path, capsys, only):
    assert main(["verify", "--quick", "--only", only, "--out", str(tmp_path / "v")]) == 2
    assert "'--only' option must be a comma-separated list of distinct items" in capsys.readouterr().err


def test_oversubscribed_workers_warn_and_say_what_is_used():
    from simulator.threads import available_cores

    n = available_cores() + 3
    with pytest.warns(OversubscribedWarning, match=f"using {n} worker processes with 1 thread"):
        ex = make_executor(workers=n, scheduler=None, local_cluster=False)
    ex.close(cancel=True)


def test_a_huge_grid_is_refused_from_its_size_not_expanded():
    side = list(range(200))
    data = {"grid": {"input_dim": side, "width": side, "seeds": [0, 1]}}
    with pytest.raises(ConfigError, match=f"80,000 cells .* more than the limit of {MAX_CELLS:,}"):
        parse_grid(data)


def test_an_empty_grid_is_refused():
    with pytest.raises(ConfigError, match="varies nothing"):
        parse_grid({})


# ---------------------------------------------------------------- crashes, interrupts, resume


def test_a_crash_is_recorded_as_a_crash(tmp_path, monkeypatch):
    import simulator.pipeline as P

    def boom(*a, **k):
        raise RuntimeError("boom in evaluation")

    monkeypatch.setattr(P, "evaluate", boom)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="boom"):
        main(["train", *SMALL, "--clean-steps", "20", "--adv-steps", "20", "--out", str(out)])
    rec = json.loads((tmp_path / "run.partial" / "run.json").read_text())
    assert rec["status"] == "crashed: RuntimeError: boom in evaluation"
    assert rec["phase"] == "adversarial training finished"


def _train_cmd(out, *extra):
    return [sys.executable, "-m", "reports.cli", "train", *SMALL, "--clean-steps", "200",
            "--adv-steps", "40000", "--out", str(out), *extra]


def test_an_interrupted_train_keeps_what_it_finished_and_resumes_to_the_same_bytes(tmp_path):
    out = tmp_path / "run"
    staging = tmp_path / "run.partial"
    proc = subprocess.Popen(_train_cmd(out), env=_env(), cwd=ROOT, preexec_fn=_ctrl_c_default,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while True:  # interrupt once the clean phase is on disk, inside the adversarial phase
        try:
            if json.loads((staging / "run.json").read_text())["phase"] == "clean training finished":
                break
        except (OSError, ValueError, KeyError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the run ended or stalled before its clean phase finished: {proc.stderr.read()}")
        time.sleep(0.02)
    # Ctrl-C, again if it fell into a finaliser (numba's compiler swallows a KeyboardInterrupt
    # raised inside llvmlite's __del__), as a user presses it again
    for wait in (15, 60):
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    assert proc.returncode == 130, err
    rec = json.loads((staging / "run.json").read_text())
    assert rec["status"] == "interrupted" and rec["phase"] == "clean training finished"
    with np.load(staging / "weights.npz") as w:
        assert "W_clean" in w and "W_adv" not in w  # no weights that were not trained
    assert "fpsim train --resume --out" in err

    resumed = subprocess.run(_train_cmd(out, "--resume"), env=_env(), cwd=ROOT,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    straight = tmp_path / "straight"
    subprocess.run(_train_cmd(straight), env=_env(), cwd=ROOT, capture_output=True, text=True,
                   timeout=600, check=True)
    for name in ("results.csv", "neurons.csv", "curves.csv", "update_spectrum.csv"):
        assert (out / name).read_bytes() == (straight / name).read_bytes(), name
    assert not (out / "cache").exists() and not staging.exists()


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _slow_sweep(tmp_path):
    grid = tmp_path / "slow.toml"
    grid.write_text(TINY.read_text().replace('"train.clean_steps" = 40', '"train.clean_steps" = 20000'))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "reports.cli", "sweep", str(grid), "--out", str(out),
           "--workers", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, env=_env(), cwd=ROOT, start_new_session=True,
                            preexec_fn=_ctrl_c_default,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len([c for c in _children(proc.pid) if _alive(c)]) < 2:
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("the sweep did not start its workers")
        time.sleep(0.05)
    time.sleep(1.0)  # the workers are inside their first cells
    return proc, out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sweep_workers_die_with_their_parent(tmp_path):
    proc, _ = _slow_sweep(tmp_path)
    workers = [c for c in _children(proc.pid) if _alive(c)]
    try:
        os.kill(proc.pid, signal.SIGKILL)  # the parent only: no chance to stop its pool
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers), "orphaned workers kept running"
    finally:
        for w in workers:
            try:
                os.kill(w, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_an_interrupted_sweep_leaves_no_temporary_files(tmp_path):
    proc, out = _slow_sweep(tmp_path)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert not list(out.rglob("*.tmp")), list(out.rglob("*.tmp"))
    assert "--resume" in err
