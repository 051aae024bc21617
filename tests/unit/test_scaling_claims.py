"""``fpsim scaling`` end to end on a tiny study (two small d, one seed, tiny budgets, the
stopping rule on), and the grid's stopping keys."""

import json
from pathlib import Path

import pandas as pd
import pytest

from reports.cli import main
from simulator.config import ConfigError
from simulator.sweeps.grid import load_grid, parse_grid
from theorems.asymptotics import VERDICTS

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "tiny_scaling_grid.toml"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("scaling") / "tiny"
    code = main(["scaling", "--grid", str(TINY), "--out", str(out), "--workers", "1", "--no-progress"])
    return code, out


def test_tiny_study_runs_and_writes_every_file(study):
    code, out = study
    assert code == 0
    for name in ("SCALING_CLAIMS.md", "claims_verdicts.csv", "claims_by_d.csv", "claims_points.csv",
                 "steps.csv", "results.csv", "cells.csv", "sweep.json"):
        assert (out / name).exists(), name
    verdicts = pd.read_csv(out / "claims_verdicts.csv")
    assert set(verdicts.verdict) <= set(VERDICTS)
    # every claim of verify has its quantities, the polynomial model included
    assert {"fgm_robust", "clean_not_robust", "purification", "linear_lower_bound",
            "polynomial_lower_bound"} <= set(verdicts.claim)
    assert {"robust_acc_poly2_adv", "share_beta_ratio_above_1", "update_top_energy_share"} <= set(verdicts.quantity)
    for q in verdicts.quantity:
        assert (out / "claims" / f"{q}.png").exists()
    assert set(pd.read_csv(out / "claims_by_d.csv").d) == {16, 32}


def test_tiny_study_records_steps_under_the_rule_and_reads_the_training_radius(study):
    _, out = study
    steps = pd.read_csv(out / "steps.csv")
    caps = {16: 160, 32: 200}
    for _, r in steps.iterrows():
        assert 40 <= r.steps_clean <= caps[r.d] and 40 <= r.steps_adversarial <= caps[r.d]
        assert r.stop_clean in ("plateau", "max_steps")
        assert r.steps_clean == caps[r.d] or r.stop_clean == "plateau"
    points = pd.read_csv(out / "claims_points.csv")
    results = pd.read_csv(out / "results.csv")
    for rec_path in (out / "cells").glob("*.json"):
        rec = json.loads(rec_path.read_text())
        assert rec["stopping"]["window"] == 20
        hist = rec["training_history"]
        assert hist["clean"][-1]["step"] == rec["summary"]["steps_clean"]
        assert hist["adversarial"][0]["step"] == 0  # the robust baseline of the clean weights
        d = rec["params"]["input_dim"]
        # the claim's robust accuracy is the ensemble row at the training radius 0.3, not 0.1
        want = results[(results.input_dim == d) & (results.model == "adversarial")
                       & (results.attack == "ensemble") & (results.tau == 0.3)].robust_acc.item()
        got = points[(points.quantity == "robust_acc_adversarial") & (points.d == d)].value.item()
        assert got == want
        for key in ("share_beta_ratio_above_1", "median_abs_corr_init_clean", "update_top_energy_share"):
            assert 0 <= rec["summary"][key] <= 1


def test_report_names_each_run_of_the_study_and_where_each_fit_meets_its_criterion(study):
    _, out = study
    text = (out / "SCALING_CLAIMS.md").read_text()
    sessions = json.loads((out / "sweep.json").read_text())["sessions"]
    run_lines = [line for line in text.splitlines() if line.startswith("- 20")]
    assert len(run_lines) == len(sessions) == 1
    assert "1 worker(s) × " in run_lines[0] and sessions[0]["code"]["commit"][:12] in run_lines[0]
    assert f"{len(sessions[0]['executed'])} of {len(sessions[0]['to_run'])} cells run" in run_lines[0]
    header = next(line for line in text.splitlines() if line.startswith("| claim |"))
    assert header.rstrip(" |").endswith("fit meets criterion at d ≈")
    verdicts = pd.read_csv(out / "claims_verdicts.csv")
    for _, r in verdicts.iterrows():  # the column shows the CSV's d_reach, blank where there is none
        row = next(line for line in text.splitlines() if line.startswith(f"| {r.claim} | {r.quantity} |"))
        cell = row.strip(" |").split("|")[-1].strip()
        assert cell == ("–" if pd.isna(r.d_reach) else f"{r.d_reach:.3g}")


def test_report_is_rebuilt_identically(study, tmp_path):
    import shutil

    _, out = study
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    assert main(["scaling-report", str(copy)]) == 0
    assert (copy / "claims_verdicts.csv").read_bytes() == (out / "claims_verdicts.csv").read_bytes()


def test_a_grid_without_the_training_radius_is_refused(tmp_path, capsys):
    text = TINY.read_text().replace("taus = [0.1, 0.3]", "taus = [0.1]")
    grid = tmp_path / "g.toml"
    grid.write_text(text)
    out = tmp_path / "out"
    assert main(["scaling", "--grid", str(grid), "--out", str(out)]) == 2
    assert "must include train.adv_tau = 0.3" in capsys.readouterr().err
    assert not out.exists()


def test_default_study_grid_is_valid_and_grows_caps_with_d():
    grid = load_grid(ROOT / "benchmarks" / "grids" / "scaling_claims.toml")
    ds = sorted({c.params["input_dim"] for c in grid.cells})
    assert ds == [256, 512, 1024, 2048]
    assert len({c.params["seed"] for c in grid.cells}) >= 3
    assert all(c.stopping and c.stopping["window"] == 250 for c in grid.cells)
    assert {"poly2", "poly3", "ntk"} <= set(grid.models)
    caps = {c.params["input_dim"]: c.config.train.clean_steps for c in grid.cells}
    assert [caps[d] for d in ds] == sorted(caps[d] for d in ds)
    assert all(c.config.train.adv_tau in c.config.eval.taus for c in grid.cells)


def _grid(**base):
    return {"base": {"train.clean_steps": 40, "train.adv_steps": 20, "train.snapshot_every": 0, **base},
            "grid": {"input_dim": [16, 24], "seeds": [0], "taus": [0.1], "norms": ["l2"]}}


def test_stopping_keys_enter_the_cell_id_only_when_set():
    plain = parse_grid(_grid())
    ruled = parse_grid(_grid(**{"stopping.window": 20}))
    assert all(not c.stopping for c in plain.cells)
    assert all(c.stopping["window"] == 20 for c in ruled.cells)
    assert {c.cell_id for c in plain.cells}.isdisjoint({c.cell_id for c in ruled.cells})
    # cells without a rule keep the ids they had before rules existed
    from simulator.sweeps.grid import cell_id_of

    c = plain.cells[0]
    assert c.cell_id == cell_id_of(c.config, c.models, c.lower_bounds)


@pytest.mark.parametrize("extra, message", [
    ({"stopping.window": 0}, "'window' parameter of StoppingRule"),
    ({"stopping.windows": 5}, "Unknown [base] key 'stopping.windows'"),
    ({"stopping.window": 30, "train.snapshot_every": 20}, "multiple of train.snapshot_every=20"),
], ids=["window-0", "unknown-key", "window-vs-snapshots"])
def test_invalid_stopping_keys_are_refused(extra, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_grid(_grid(**extra))


def test_a_radius_that_follows_d_is_read_per_cell(tmp_path):
    """τ set per input_dim (the τ ∝ 1/√k study): each cell's claims are read at its own
    training radius, and the report says which radius each d used."""
    text = TINY.read_text().replace('"train.adv_tau" = 0.3\n', "")
    text = text.replace('models = ["ideal", "clean", "adversarial", "linear_oracle", "poly2"]',
                        'models = ["ideal", "clean", "adversarial"]')
    text += '"train.adv_tau" = [0.3, 0.1]\n'
    grid = tmp_path / "grid.toml"
    grid.write_text(text)
    out = tmp_path / "study"
    assert main(["scaling", "--grid", str(grid), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    points = pd.read_csv(out / "claims_points.csv")
    results = pd.read_csv(out / "results.csv")
    for d, tau in ((16, 0.3), (32, 0.1)):
        want = results[(results.input_dim == d) & (results.model == "adversarial")
                       & (results.attack == "ensemble") & (results.tau == tau)].robust_acc.item()
        got = points[(points.quantity == "robust_acc_adversarial") & (points.d == d)].value.item()
        assert got == want
        other = results[(results.input_dim == d) & (results.model == "adversarial")
                        & (results.attack == "ensemble") & (results.tau == {0.3: 0.1, 0.1: 0.3}[tau])].robust_acc.item()
        assert other != want  # the two radii differ here, so reading the wrong one would show
    for rec_path in (out / "cells").glob("*.json"):
        rec = json.loads(rec_path.read_text())
        assert rec["config"]["train"]["adv_tau"] == {16: 0.3, 32: 0.1}[rec["params"]["input_dim"]]
