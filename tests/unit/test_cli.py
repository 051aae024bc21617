"""``fpsim train`` end to end on a tiny regime: files, columns, refusal to overwrite, errors."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports.cli import main

TINY = ["--input-dim", "24", "--sparsity", "3", "--width", "32", "--clean-steps", "80",
        "--adv-steps", "40", "--batch-size", "64", "--n-test", "128", "--no-progress",
        "--set", "eval.taus=[0.1, 0.3]", "--set", "eval.pgd_steps=5", "--set", "network.init_scale=0.1"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "--out", str(out), "--seed", "7", *TINY]) == 0
    return out


def test_train_writes_every_file(run_dir):
    assert {p.name for p in run_dir.iterdir()} >= {"results.csv", "neurons.csv", "run.json",
                                                     "weights.npz", "curves.csv", "update_spectrum.csv"}
    df = pd.read_csv(run_dir / "results.csv")
    assert list(df.columns[:7]) == ["model", "norm", "tau", "radius", "attack", "clean_acc", "robust_acc"]
    assert set(df.model) == {"ideal", "clean", "adversarial"}
    assert set(df.attack) == {"fgm", "pgd", "dense", "features", "ensemble", "certified"}
    assert len(df) == 3 * 2 * 2 * 6
    # the sandwich: certified ≤ attacked (ensemble), per model × norm × τ
    key = ["model", "norm", "tau"]
    cert = df[df.attack == "certified"].set_index(key).robust_acc
    ens = df[df.attack == "ensemble"].set_index(key).robust_acc
    assert (cert <= ens.loc[cert.index] + 1e-12).all()
    assert (df.robust_acc <= df.clean_acc + 1e-12).all()
    lin = df[df.norm == "linf"]
    np.testing.assert_allclose(lin.radius, lin.tau / np.sqrt(24))


def test_outputs_have_ordinary_permissions(run_dir):
    import os

    umask = os.umask(0)
    os.umask(umask)
    for name in ("results.csv", "neurons.csv", "run.json"):
        assert (run_dir / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


def test_run_record_and_weights(run_dir):
    rec = json.loads((run_dir / "run.json").read_text())
    assert rec["status"] == "complete" and rec["seed"] == 7
    assert rec["config"]["data"]["input_dim"] == 24
    assert rec["environment"]["packages"]["numpy"] == np.__version__
    commit = subprocess.run(["git", "-C", str(Path(__file__).parent), "rev-parse", "HEAD"],
                            capture_output=True, text=True)
    if commit.returncode == 0:  # the tests run from a git checkout: the record names its commit
        assert rec["environment"]["code"]["commit"] == commit.stdout.strip()
        assert isinstance(rec["environment"]["code"]["dirty"], bool)
    assert rec["threads"] >= 1 and rec["timings_seconds"]["total"] > 0
    # the run was in this process: its recorded peak cannot exceed the kernel's high-water mark now
    status = Path("/proc/self/status")
    if status.exists():
        hwm_kib = int(next(line for line in status.read_text().splitlines()
                           if line.startswith("VmHWM")).split()[1])
        assert 20 < rec["peak_rss_mib"] <= hwm_kib / 1024
    with np.load(run_dir / "weights.npz", allow_pickle=False) as w:
        assert set(w.files) == {"W_init", "W_clean", "W_adv", "M", "w_star"}
        assert w["W_clean"].shape == (32, 24)
    n = pd.read_csv(run_dir / "neurons.csv")
    assert len(n) == 32 and {"clean_dense_mixture_share", "adv_purity", "beta_ratio"} <= set(n.columns)


def test_same_seed_reproduces_results(run_dir, tmp_path):
    out = tmp_path / "again"
    assert main(["train", "--out", str(out), "--seed", "7", *TINY]) == 0
    a = pd.read_csv(run_dir / "results.csv")
    b = pd.read_csv(out / "results.csv")
    pd.testing.assert_frame_equal(a, b)


def test_existing_output_is_never_overwritten(run_dir, capsys):
    before = (run_dir / "results.csv").read_bytes()
    assert main(["train", "--out", str(run_dir), *TINY]) == 2
    assert "exists already" in capsys.readouterr().err
    assert (run_dir / "results.csv").read_bytes() == before


@pytest.mark.parametrize("args,message", [
    (["--sparsity", "0"], "'sparsity' parameter of DataConfig"),
    (["--set", "data.bogus=1"], "Unknown config key 'data.bogus'"),
    (["--set", "network.threshold=1.5"], "'threshold' parameter of NetworkConfig must be a float in the range [0, 1). Got 1.5"),
], ids=["k=0", "unknown-key", "theta>1"])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "bad"
    assert main(["train", "--out", str(out), *TINY, *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "bad.partial").exists()


def test_malformed_config_file(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[data\n")
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert "c.toml" in capsys.readouterr().err
