"""``fpsim sweep`` / ``fpsim sweep-report``: grids, executors, resume, failures, scaling laws.

Sorted by cost: grid expansion and validation, the scaling estimators (no processes); then
sweeps of the tiny grid through the local pool, resume, a failing cell, a killed sweep, and
the Dask LocalCluster path (spawned processes, a few seconds each).
"""

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports.cli import main
from reports.scaling import critical_table, exponent_table, gap_table
from simulator.sweeps.worker import THREAD_VARS, THREADS_VAR, init_worker, worker_environment
from simulator.config import ConfigError
from simulator.sweeps.grid import load_grid, parse_grid, sparsity_from_exponent
from simulator.sweeps.scaling import LEFT, RIGHT, critical_radius, fit_exponent, interpolate_accuracy
from simulator.threads import available_cores

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "tiny_grid.toml"
EXACT_RTOL = 1e-9  # closed-form checks: only rounding separates the two sides
CI_COVERAGE = (0.90, 0.99)  # 95% t-interval over 400 replicates: binomial 4σ band ≈ ±0.04


def _tiny_dict():
    return {
        "base": {"train.clean_steps": 40, "train.adv_steps": 20, "train.batch_size": 64,
                 "eval.n_test": 128},
        "grid": {"input_dim": [16, 24], "sparsity_exponent": [0.4], "width_factor": [2],
                 "seeds": [0, 1], "taus": [0.1, 0.3], "norms": ["l2"]},
    }


# ----------------------------------------------------------------------------------------
# Grid expansion
# ----------------------------------------------------------------------------------------


def test_tiny_grid_expands_to_the_cartesian_product():
    g = load_grid(TINY)
    assert len(g.cells) == 4
    got = [(c.params["input_dim"], c.params["sparsity"], c.params["width"], c.params["seed"])
           for c in g.cells]
    assert got == [(16, 3, 32, 0), (16, 3, 32, 1), (24, 4, 48, 0), (24, 4, 48, 1)]
    c = g.cells[0]
    assert c.config.eval.taus == (0.1, 0.3, 0.6, 1.0) and c.config.eval.norms == ("l2",)
    assert c.config.train.clean_steps == 40 and c.config.network.init_scale == 0.1
    assert c.models == ("ideal", "clean", "adversarial", "linear_oracle")
    assert g.columns == ["input_dim", "sparsity", "width", "seed", "sparsity_exponent", "width_factor",
                         "train.adv_steps"]
    assert [c.config.train.adv_steps for c in g.cells] == [20, 20, 16, 16]  # [grid.per_input_dim]
    assert g.group_columns == []  # only d and the seed vary
    assert len({c.cell_id for c in g.cells}) == 4


def test_default_scaling_grid_is_valid():
    g = load_grid(ROOT / "benchmarks" / "grids" / "scaling_default.toml")
    assert len(g.cells) == 4 * 3
    by_d = {c.params["input_dim"]: c for c in g.cells}
    assert {d: c.params["sparsity"] for d, c in by_d.items()} == {128: 7, 256: 9, 512: 12, 1024: 16}
    assert all(c.config.network.width == 2 * c.config.data.input_dim for c in g.cells)
    # one training budget at every d, so that the budget does not bend the fitted slopes
    assert len({(c.config.train.clean_steps, c.config.train.adv_steps) for c in g.cells}) == 1
    assert g.group_columns == []  # one exponent per model and norm


@pytest.mark.parametrize("d,c,k", [(128, 0.4, 7), (256, 0.4, 9), (512, 0.4, 12), (1024, 0.4, 16),
                                   (16, 0.5, 4), (2, 0.1, 1), (10, 1.0, 10)])
def test_sparsity_exponent_rounds_half_up_and_is_at_least_one(d, c, k):
    assert sparsity_from_exponent(d, c) == k


def test_cell_ids_are_stable_and_depend_only_on_what_changes_results():
    a = parse_grid(_tiny_dict())
    b = parse_grid(_tiny_dict())
    assert [c.cell_id for c in a.cells] == [c.cell_id for c in b.cells]
    # a sub-grid written differently (dotted names, other key order) has the same cells
    sub = {"base": {"eval": {"n_test": 128}, "train": {"batch_size": 64, "adv_steps": 20,
                                                      "clean_steps": 40}},
           "grid": {"seed": [1], "data.input_dim": [24], "network.width": [48],
                    "data.sparsity": [4], "eval.norms": ["l2"], "taus": [0.3, 0.1]}}
    assert parse_grid(sub).cells[0].cell_id == a.cells[3].cell_id
    # a change of any result-bearing value gives a new id
    changed = _tiny_dict()
    changed["base"]["eval.n_test"] = 129
    assert not {c.cell_id for c in parse_grid(changed).cells} & {c.cell_id for c in a.cells}
    # the models evaluated are part of a cell
    fewer = _tiny_dict()
    fewer["grid"]["models"] = ["ideal"]
    assert not {c.cell_id for c in parse_grid(fewer).cells} & {c.cell_id for c in a.cells}


def test_baseline_budgets_only_matter_to_cells_with_baselines():
    with_budget = _tiny_dict()
    with_budget["base"]["lower_bound.linear_steps"] = 7
    assert ([c.cell_id for c in parse_grid(with_budget).cells]
            == [c.cell_id for c in parse_grid(_tiny_dict()).cells])
    with_budget["grid"]["models"] = ["linear"]
    cells = parse_grid(with_budget).cells
    assert cells[0].lower_bounds == {"linear_steps": 7}


def test_per_input_dim_values_follow_d_and_other_keys_are_axes():
    data = _tiny_dict()
    data["grid"]["train.adv_tau"] = [0.1, 0.2]
    data["grid"]["per_input_dim"] = {"train.clean_steps": [30, 20]}
    del data["base"]["train.clean_steps"]
    g = parse_grid(data)
    assert len(g.cells) == 2 * 2 * 2
    for c in g.cells:
        assert c.config.train.clean_steps == {16: 30, 24: 20}[c.config.data.input_dim]
        assert c.params["train.clean_steps"] == c.config.train.clean_steps
        assert c.params["train.adv_tau"] == c.config.train.adv_tau
    assert g.group_columns == ["train.adv_tau"]
    assert g.columns[-2:] == ["train.adv_tau", "train.clean_steps"]


def _with(**changes):
    """The tiny grid dict with some [grid] / [base] entries replaced (None deletes)."""
    data = _tiny_dict()
    for key, value in changes.items():
        table, name = key.split("__")
        name = name.replace("_DOT_", ".")
        if value is None:
            data[table].pop(name, None)
        else:
            data[table][name] = value
    return data


INVALID_GRIDS = [
    ("unknown-grid-key", _with(grid__depth=[1]), "Unknown [grid] key 'depth'"),
    ("unknown-base-key", _with(base__train_DOT_epochs=3), "Unknown [base] key 'train.epochs'"),
    ("unknown-table", {**_tiny_dict(), "sweep": {}}, "Unknown table(s) ['sweep']"),
    ("empty-list", _with(grid__seeds=[]), "The [grid] key 'seeds' must be a non-empty list. Got [] instead."),
    ("scalar-not-list", _with(grid__seeds=3), "The [grid] key 'seeds' must be a non-empty list (put a single value in [base]). Got 3 instead."),
    ("nested-list", _with(grid__seeds=[[0, 1]]), "must be a list of numbers, strings or booleans"),
    ("bad-model", _with(grid__models=["mlp"]), "The [grid] key 'models' must be a non-empty list of distinct items from {'ideal', 'clean', 'adversarial', 'linear', 'linear_oracle', 'poly2', 'poly3', 'ntk', 'poly'}. Got ['mlp'] instead."),
    ("duplicate-model", _with(grid__models=["clean", "clean"]), "The [grid] key 'models' must be a non-empty list of distinct items"),
    ("exponent>1", _with(grid__sparsity_exponent=[0.4, 1.5]), "The [grid] key 'sparsity_exponent' must be a list of floats in the range (0, 1]. Got [0.4, 1.5] instead."),
    ("exponent=0", _with(grid__sparsity_exponent=[0]), "in the range (0, 1]. Got [0] instead."),
    ("width-factor<=0", _with(grid__width_factor=[-1]), "The [grid] key 'width_factor' must be a list of floats in the range (0, inf). Got [-1] instead."),
    ("sparsity-twice", _with(grid__sparsity=[3]), "The grid keys 'sparsity_exponent' and 'sparsity' both set 'data.sparsity'; keep one."),
    ("base-and-grid", _with(base__data_DOT_input_dim=32), "The key 'data.input_dim' is set in [base] and varied by the [grid] key 'input_dim'"),
    ("alias-twice", _with(grid__data_DOT_input_dim=[16]), "set the same parameter"),
    ("d=0", _with(grid__input_dim=[0]), "The 'input_dim' parameter of DataConfig must be an int in the range [1, inf). Got 0 instead."),
    ("d-not-int", _with(grid__input_dim=[16.5]), "The [grid] key 'input_dim' must be a list of ints in the range [1, inf). Got 16.5 instead."),
    ("k>D", _with(grid__sparsity_exponent=None, grid__sparsity=[30]), "The 'sparsity' parameter of DataConfig must be a float in the range (0, dictionary_size=16]. Got 30 instead."),
    ("negative-tau", _with(grid__taus=[-0.1, 0.2]), "In [grid] taus, norms: The 'taus[0]' parameter of EvalConfig must be a float in the range [0, inf). Got -0.1 instead."),
    ("bad-norm", _with(grid__norms=["l1"]), "The 'norms[0]' parameter of EvalConfig must be one of {'l2', 'linf'}. Got 'l1' instead."),
    ("bad-config-value", _with(grid__network_DOT_threshold=[0.3, 1.5]), "The 'threshold' parameter of NetworkConfig must be a float in the range [0, 1). Got 1.5 instead."),
    ("bad-base-value", _with(base__train_DOT_batch_size=0), "In [base]: The 'batch_size' parameter of TrainConfig must be an int in the range [1, inf). Got 0 instead."),
    ("reserved-threads", _with(base__threads=2), "The [base] key 'threads' cannot be set in a grid file"),
    ("duplicate-seed", _with(grid__seeds=[0, 0]), "The [grid] key 'seeds' must be a list of distinct values. Got [0, 0] instead."),
    ("same-cell-twice", _with(grid__sparsity_exponent=[0.4, 0.401]), "has two cells with the same configuration"),
    ("per-d-length", _with(grid__per_input_dim={"train.adv_tau": [1, 2, 3]}), "The [grid.per_input_dim] key 'train.adv_tau' must be a list of 2 values, one per input_dim [16, 24]. Got [1, 2, 3] instead."),
    ("per-d-seeds", _with(grid__per_input_dim={"seeds": [0, 1]}), "The [grid.per_input_dim] key 'seeds' cannot follow input_dim"),
    ("per-d-without-d", _with(grid__input_dim=None, grid__per_input_dim={"train.adv_tau": [1]}), "[grid.per_input_dim] needs a list 'input_dim' in [grid]"),
    ("budget-without-lower_bounds", _with(grid__lower_bound_DOT_linear_steps=[5, 10]), "The grid varies ['lower_bound.linear_steps'], budgets of the lower-bound models, but 'models' has none of"),
    ("bad-lower_bounds", _with(grid__models=["linear"], base__lower_bound_DOT_linear_steps=0), "The 'linear_steps' parameter of LowerBoundConfig must be an int in the range [1, inf). Got 0 instead."),
]


@pytest.mark.parametrize("data,message", [c[1:] for c in INVALID_GRIDS], ids=[c[0] for c in INVALID_GRIDS])
def test_invalid_grid_names_key_range_and_value(data, message):
    with pytest.raises(ConfigError) as exc:
        parse_grid(data)
    assert message in str(exc.value)


def test_bad_grid_file_exits_2_and_writes_nothing(tmp_path, capsys):
    grid = tmp_path / "g.toml"
    grid.write_text(TINY.read_text().replace("seeds = [0, 1]", "seeds = []"))
    out = tmp_path / "out"
    assert main(["sweep", str(grid), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "The [grid] key 'seeds' must be a non-empty list. Got [] instead." in err
    assert str(grid) in err
    assert not out.exists()
    grid.write_text("[grid\n")
    assert main(["sweep", str(grid), "--out", str(out)]) == 2
    assert "not valid TOML" in capsys.readouterr().err and not out.exists()


def test_dry_run_lists_cells_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(TINY), "--dry-run", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "4 cells" in text and all(c.cell_id in text for c in load_grid(TINY).cells)
    assert not out.exists()


@pytest.mark.parametrize("flags,message", [
    (["--resume"], "--resume needs --out DIR"),
    (["--workers", "0", "--out", "X"], "The '--workers' option must be an int in the range [1, inf). Got 0"),
    (["--level", "1.5", "--out", "X"], "The '--level' option must be a float in the range (0, 1]. Got 1.5"),
    (["--scheduler", "tcp://127.0.0.1:1", "--local-cluster", "--out", "X"], "either --scheduler ADDRESS or --local-cluster"),
], ids=["resume-without-out", "workers=0", "level>1", "two-executors"])
def test_bad_flags_exit_2(tmp_path, capsys, flags, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", str(TINY), "--no-progress", *flags]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "X").exists()


def test_worker_environment_sets_every_thread_variable(monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/tmp/shared-numba-cache")
    env = worker_environment(3)
    assert {env[v] for v in THREAD_VARS} == {"3"} and env[THREADS_VAR] == "3"
    assert env["NUMBA_CACHE_DIR"] == "/tmp/shared-numba-cache"
    for v in env:
        monkeypatch.delenv(v, raising=False)
    init_worker(env)
    assert os.environ["NUMBA_NUM_THREADS"] == "3"


# ----------------------------------------------------------------------------------------
# Critical radius and exponent (hand-made tables, synthetic laws)
# ----------------------------------------------------------------------------------------

TAUS = [0.1, 0.2, 0.3, 0.4]


@pytest.mark.parametrize("acc,tau_c,censored", [
    ([0.9, 0.7, 0.3, 0.1], 0.2 + 0.1 * (0.7 - 0.5) / (0.7 - 0.3), ""),
    ([0.9, 0.5, 0.3, 0.1], 0.2 + 0.1 * 0.0 / 0.2, ""),  # at the level is not below it
    ([0.9, 0.6, 0.55, 0.49], 0.3 + 0.1 * 0.05 / 0.06, ""),
    ([0.4, 0.3, 0.2, 0.1], 0.1, LEFT),
    ([1.0, 0.9, 0.8, 0.5], 0.4, RIGHT),
    ([0.9, 0.4, 0.6, 0.1], 0.1 + 0.1 * 0.4 / 0.5, ""),  # the first crossing counts
    ([0.9, float("nan"), 0.3, 0.1], 0.1 + 0.2 * 0.4 / 0.6, ""),  # a missing point is skipped
], ids=["interpolate", "exactly-at-level", "late-crossing", "left-censored", "right-censored",
        "first-crossing", "nan-skipped"])
def test_critical_radius_interpolates_and_censors(acc, tau_c, censored):
    cr = critical_radius(TAUS, acc, 0.5)
    assert cr.censored == censored
    assert cr.tau_c == pytest.approx(tau_c, rel=EXACT_RTOL)


def test_critical_radius_other_level_and_bad_input():
    assert critical_radius(TAUS, [0.9, 0.7, 0.3, 0.1], 0.8).tau_c == pytest.approx(0.15)
    with pytest.raises(ValueError, match="strictly increasing"):
        critical_radius([0.2, 0.1], [0.9, 0.1])
    with pytest.raises(ValueError, match="'level' parameter of critical_radius"):
        critical_radius(TAUS, [1, 1, 1, 1], 0)
    assert interpolate_accuracy(TAUS, [0.9, 0.7, 0.3, 0.1], 0.25) == pytest.approx(0.5)
    assert math.isnan(interpolate_accuracy(TAUS, [0.9, 0.7, 0.3, 0.1], 0.5))


def _table(curves):
    """A results.csv-like frame from {(model, d, seed): accuracies on TAUS}."""
    rows = []
    for (model, d, seed), acc in curves.items():
        for tau, a in zip(TAUS, acc):
            for attack, shift in (("pgd", 0.05), ("ensemble", 0.0)):
                rows.append({"cell_id": f"{d}-{seed}", "input_dim": d, "seed": seed,
                             "model": model, "norm": "l2", "tau": tau, "radius": tau,
                             "attack": attack, "clean_acc": 1.0, "robust_acc": a + shift})
    return pd.DataFrame(rows)


def test_critical_table_reads_the_ensemble_curve_of_each_seed():
    res = _table({("clean", 64, 0): [0.9, 0.7, 0.3, 0.1], ("clean", 64, 1): [0.4, 0.3, 0.2, 0.1],
                  ("ideal", 64, 0): [1.0, 1.0, 0.9, 0.8]})
    table = critical_table(res.sample(frac=1.0, random_state=0), [], 0.5)  # row order is irrelevant
    assert list(table.columns) == ["model", "norm", "d", "seed", "tau_c", "censored"]
    crit = table.set_index(["model", "seed"])
    assert crit.loc[("clean", 0), "tau_c"] == pytest.approx(0.25)
    assert crit.loc[("clean", 0), "censored"] == ""
    assert crit.loc[("clean", 1), "censored"] == LEFT
    assert crit.loc[("ideal", 0), "censored"] == RIGHT
    exps = exponent_table(table, [])
    row = exps.set_index("model").loc["clean"]
    assert row.n_points == 1 and row.n_censored == 1 and math.isnan(row.exponent)


def test_exponent_fit_recovers_an_exact_power_law():
    d = np.repeat([128, 256, 512, 1024], 3)
    fit = fit_exponent(d, 0.7 * d ** -0.3)
    assert fit.exponent == pytest.approx(-0.3, rel=EXACT_RTOL)
    assert fit.intercept == pytest.approx(math.log(0.7), rel=EXACT_RTOL)
    assert fit.ci_low == pytest.approx(-0.3, abs=1e-9) and fit.ci_high == pytest.approx(-0.3, abs=1e-9)
    assert fit.n_points == 12
    assert fit.predict(2048) == pytest.approx(0.7 * 2048 ** -0.3, rel=EXACT_RTOL)


def test_exponent_interval_covers_the_true_exponent_at_its_level():
    rng = np.random.default_rng(2024)
    d = np.repeat([128, 256, 512, 1024], 3)
    hits, widths = 0, []
    for _ in range(400):
        tau = 0.5 * d ** 0.25 * np.exp(rng.normal(0, 0.1, d.size))
        fit = fit_exponent(d, tau)
        hits += fit.ci_low <= 0.25 <= fit.ci_high
        widths.append(fit.ci_high - fit.ci_low)
    assert CI_COVERAGE[0] <= hits / 400 <= CI_COVERAGE[1]
    # t-interval width: 2 t_{0.975,10} σ / sqrt(Σ (log d − mean)²) with σ = 0.1
    x = np.log(d)
    expected = 2 * 2.228 * 0.1 / np.sqrt(((x - x.mean()) ** 2).sum())
    assert np.mean(widths) == pytest.approx(expected, rel=0.1)


def test_exponent_fit_needs_two_dimensions_and_three_points():
    assert math.isnan(fit_exponent([64, 64, 64], [0.1, 0.2, 0.3]).exponent)
    two = fit_exponent([64, 128], [0.2, 0.1])
    assert two.exponent == pytest.approx(-1.0) and math.isnan(two.ci_low)
    assert fit_exponent([64, 128, 256, 512], [0.2, float("nan"), 0.0, 0.05]).n_points == 2


def test_gap_is_read_at_the_clean_networks_fitted_radius():
    curves = {}
    for d, shift in ((64, 0.0), (256, -0.1)):
        for seed in (0, 1):
            curves[("clean", d, seed)] = [0.9 + shift, 0.7 + shift, 0.3 + shift, 0.1]
            curves[("adversarial", d, seed)] = [1.0, 0.95, 0.9, 0.8]
    res = _table(curves)
    crit = critical_table(res, [], 0.5)
    exps = exponent_table(crit, [])
    gap = gap_table(res, exps, [])
    assert len(gap) == 4
    for _, r in gap.iterrows():
        assert r.clean == pytest.approx(0.5, abs=1e-9)  # exact power law through 2 points
        assert r.adversarial == pytest.approx(interpolate_accuracy(TAUS, [1.0, 0.95, 0.9, 0.8], r.tau))
        assert r.gap == pytest.approx(r.adversarial - 0.5, abs=1e-9)


# ----------------------------------------------------------------------------------------
# Sweeps (spawned worker processes)
# ----------------------------------------------------------------------------------------


def _records(out: Path) -> dict:
    return {p.stem: json.loads(p.read_text()) for p in sorted((out / "cells").glob("*.json"))}


def _bytes(out: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted((out / "cells").glob("*.json"))}


@pytest.fixture(scope="module")
def pool_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "tiny"
    assert main(["sweep", str(TINY), "--out", str(out), "--workers", "2", "--no-progress"]) == 0
    return out


def test_pool_sweep_writes_records_and_the_table(pool_sweep):
    grid = load_grid(TINY)
    recs = _records(pool_sweep)
    assert set(recs) == {c.cell_id for c in grid.cells}
    df = pd.read_csv(pool_sweep / "results.csv")
    assert list(df.columns) == ["cell_id", "input_dim", "sparsity", "width", "seed",
                                "sparsity_exponent", "width_factor", "train.adv_steps", "model", "norm", "tau",
                                "radius", "attack", "clean_acc", "robust_acc"]
    # PGD only inside the ensemble; networks get the relaxation's certified rows, the linear
    # oracle its exact robust accuracy
    per_model = df.groupby("model").attack.agg(lambda a: frozenset(a))
    one_shot = {"fgm", "dense", "features", "ensemble"}
    assert all(per_model[m] == one_shot | {"certified"} for m in ("ideal", "clean", "adversarial"))
    assert per_model["linear_oracle"] == one_shot | {"exact"}
    assert len(df) == 4 * 4 * 1 * 4 * 5  # cells × models × norms × taus × attacks
    assert set(df.model) == {"ideal", "clean", "adversarial", "linear_oracle"}
    for cell in grid.cells:
        rec = recs[cell.cell_id]
        assert rec["status"] == "ok" and rec["error"] is None
        assert rec["params"] == json.loads(json.dumps(cell.params))
        assert rec["config"] == cell.config.to_dict()
        assert rec["environment"]["packages"]["numpy"] == np.__version__
        assert rec["timings"]["wall"] > 0 and rec["finished_at"] >= rec["started_at"]
        # workers × threads ≤ cores, and numba's pool was sized before numba was imported
        assert rec["threads"] == max(1, available_cores() // 2)
        assert rec["numba_num_threads"] == rec["threads"]
        assert rec["environment"]["env"]["NUMBA_NUM_THREADS"] == str(rec["threads"])
        sub = df[df.cell_id == cell.cell_id]
        assert (sub.input_dim == cell.params["input_dim"]).all() and (sub.seed == cell.params["seed"]).all()
        mine = pd.DataFrame(rec["rows"])
        np.testing.assert_allclose(sub.robust_acc.to_numpy(), mine.robust_acc.to_numpy(), rtol=1e-9)
    ens = df[df.attack == "ensemble"]
    for _, g in ens.groupby(["cell_id", "model"]):
        assert np.all(np.diff(g.sort_values("tau").robust_acc.to_numpy()) <= 1e-12)
    man = json.loads((pool_sweep / "sweep.json").read_text())
    assert [s["status"] for s in man["sessions"]] == ["complete"]
    assert sorted(man["sessions"][0]["executed"]) == sorted(recs)
    cells = pd.read_csv(pool_sweep / "cells.csv")
    assert (cells.status == "ok").all() and len(cells) == 4


def test_a_cell_in_the_pool_matches_the_same_cell_in_process(pool_sweep):
    from simulator.sweeps.cell import run_cell

    cell = load_grid(TINY).cells[0]
    res = run_cell(cell.config, cell.models, cell.lower_bounds, threads=1)
    rec = _records(pool_sweep)[cell.cell_id]
    assert pd.DataFrame(res.rows).equals(pd.DataFrame(rec["rows"]))


def test_scaling_report_is_written_and_rerunnable(pool_sweep, tmp_path):
    for name in ("scaling.csv", "exponents.csv", "gap.csv", "scaling.png", "SCALING.md"):
        assert (pool_sweep / name).stat().st_size > 0
    crit = pd.read_csv(pool_sweep / "scaling.csv", keep_default_na=False)
    assert list(crit.columns) == ["model", "norm", "d", "seed", "tau_c", "censored"]
    assert len(crit) == 4 * 2 * 2  # models × d × seeds
    exps = pd.read_csv(pool_sweep / "exponents.csv")
    assert {"model", "norm", "exponent", "ci_low", "ci_high", "n_points"} <= set(exps.columns)
    text = (pool_sweep / "SCALING.md").read_text()
    assert "# Scaling of the critical radius" in text and "![critical radius against d](scaling.png)" in text
    copy = tmp_path / "copy"
    shutil.copytree(pool_sweep, copy)
    (copy / "scaling.csv").unlink()
    assert main(["sweep-report", str(copy)]) == 0
    assert (copy / "scaling.csv").read_bytes() == (pool_sweep / "scaling.csv").read_bytes()
    assert main(["sweep-report", str(copy), "--level", "0.9"]) == 0
    higher = pd.read_csv(copy / "scaling.csv", keep_default_na=False)
    ok = (higher.censored == "") & (crit.censored == "")
    assert ok.any() and (higher.tau_c[ok] <= crit.tau_c[ok] + 1e-12).all()  # crossed sooner
    # certified accuracy is a lower bound on the attacks' upper bound: it breaks no later
    assert main(["sweep-report", str(copy), "--attack", "certified"]) == 0
    cert = pd.read_csv(copy / "scaling.csv", keep_default_na=False)
    ok = (cert.censored == "") & (crit.censored == "")
    assert ok.any() and (cert.tau_c[ok] <= crit.tau_c[ok] + 1e-12).all()
    assert "**certified** robust accuracy" in (copy / "SCALING.md").read_text()
    assert main(["sweep-report", str(copy), "--attack", "bogus"]) == 2


def test_existing_folder_without_resume_exits_2_and_changes_nothing(pool_sweep, capsys):
    before = _bytes(pool_sweep)
    csv = (pool_sweep / "results.csv").read_bytes()
    assert main(["sweep", str(TINY), "--out", str(pool_sweep), "--no-progress"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert _bytes(pool_sweep) == before and (pool_sweep / "results.csv").read_bytes() == csv


def test_resume_redoes_only_the_missing_cells(pool_sweep, tmp_path):
    out = tmp_path / "resumed"
    shutil.copytree(pool_sweep, out)
    recs = sorted((out / "cells").glob("*.json"))
    removed = {recs[0].stem, recs[2].stem}
    for p in recs:
        if p.stem in removed:
            p.unlink()
    kept = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in (out / "cells").glob("*.json")}
    (out / "cells" / "stale.json123.tmp").write_text("{")  # left by a killed writer
    assert main(["sweep", str(TINY), "--out", str(out), "--resume", "--workers", "2", "--no-progress"]) == 0
    for name, (data, mtime) in kept.items():
        p = out / "cells" / name
        assert p.read_bytes() == data and p.stat().st_mtime_ns == mtime
    session = json.loads((out / "sweep.json").read_text())["sessions"][-1]
    assert set(session["to_run"]) == removed and set(session["executed"]) == removed
    assert session["skipped"] == 2
    assert not list((out / "cells").glob("*.tmp"))
    # redone cells reproduce their results exactly
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv"), pd.read_csv(pool_sweep / "results.csv"))
    # a second resume has nothing to do
    assert main(["sweep", str(TINY), "--out", str(out), "--resume", "--no-progress"]) == 0
    assert json.loads((out / "sweep.json").read_text())["sessions"][-1]["to_run"] == []


def test_resume_with_another_grid_exits_2(pool_sweep, tmp_path, capsys):
    other = tmp_path / "other.toml"
    other.write_text(TINY.read_text().replace("seeds = [0, 1]", "seeds = [0, 1, 2]"))
    before = _bytes(pool_sweep)
    assert main(["sweep", str(other), "--out", str(pool_sweep), "--resume", "--no-progress"]) == 2
    assert "different grid" in capsys.readouterr().err
    assert _bytes(pool_sweep) == before


FAILING = """
[base]
"data.input_dim" = 16
"data.sparsity" = 3
"eval.n_test" = 64
"eval.pgd_steps" = 2
"lower_bound.linear_steps" = 5
"lower_bound.linear_batch_size" = 32
[grid]
"lower_bound.linear_step_size" = [1.0, 1e308]  # the second overflows: fit_linear raises
models = ["linear"]
taus = [0.1, 0.5]
norms = ["l2"]
"""


def test_a_failing_cell_is_recorded_and_the_sweep_exits_1(tmp_path, capsys):
    grid = tmp_path / "failing.toml"
    grid.write_text(FAILING)
    out = tmp_path / "out"
    assert main(["sweep", str(grid), "--out", str(out), "--workers", "1", "--no-progress"]) == 1
    assert "1 cell(s) failed" in capsys.readouterr().err
    recs = _records(out)
    by_step = {r["params"]["lower_bound.linear_step_size"]: r for r in recs.values()}
    bad, good = by_step[1e308], by_step[1.0]
    assert bad["status"] == "error" and bad["rows"] == []
    assert bad["error"]["type"] == "FloatingPointError"
    assert "fit_linear diverged" in bad["error"]["message"]
    assert "Traceback" in bad["error"]["traceback"] and "fit_linear" in bad["error"]["traceback"]
    assert good["status"] == "ok"
    df = pd.read_csv(out / "results.csv")
    assert set(df.cell_id) == {good["cell_id"]} and set(df.model) == {"linear_clean", "linear_adv"}
    cells = pd.read_csv(out / "cells.csv").set_index("cell_id")
    assert cells.loc[bad["cell_id"], "status"] == "error"
    assert "FloatingPointError" in cells.loc[bad["cell_id"], "error"]
    # --resume retries only the failed cell
    assert main(["sweep", str(grid), "--out", str(out), "--resume", "--no-progress"]) == 1
    session = json.loads((out / "sweep.json").read_text())["sessions"][-1]
    assert session["to_run"] == [bad["cell_id"]] and session["failed"] == [bad["cell_id"]]


def _start_slow_sweep(tmp_path):
    """A 6-cell sweep in its own process group, returned once its first record exists."""
    grid = tmp_path / "slow.toml"
    text = TINY.read_text().replace('"train.clean_steps" = 40', '"train.clean_steps" = 1500')
    grid.write_text(text.replace("seeds = [0, 1]", "seeds = [0, 1, 2]"))
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "reports.cli", "sweep", str(grid), "--out", str(out),
           "--workers", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(out.glob("cells/*.json")):
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("the sweep ended or stalled before its first cell finished")
        time.sleep(0.01)
    return proc, grid, out


def test_a_terminated_sweep_stops_its_workers_and_exits_130(tmp_path):
    proc, grid, out = _start_slow_sweep(tmp_path)
    try:
        os.kill(proc.pid, signal.SIGTERM)  # the parent only, as a batch system would
        _, err = proc.communicate(timeout=30)
    finally:
        os.killpg(proc.pid, signal.SIGKILL) if proc.poll() is None else None
    assert proc.returncode == 130 and "--resume" in err
    session = json.loads((out / "sweep.json").read_text())["sessions"][-1]
    assert session["status"] == "interrupted" and 1 <= len(session["executed"]) < 6
    assert set(session["executed"]) == {p.stem for p in out.glob("cells/*.json")}
    deadline = time.monotonic() + 10  # the workers were stopped, the resource tracker follows
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _group_alive(proc.pid), "a worker outlived the sweep"


def _group_alive(pgid) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_killed_sweep_resumes_without_losing_or_redoing_cells(tmp_path):
    proc, grid, out = _start_slow_sweep(tmp_path)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep, its pool and its workers, mid-cell
    proc.wait()
    before = _bytes(out)
    assert 1 <= len(before) < 6, "the kill should land between the first and the last cell"
    for name in before:  # a killed sweep leaves only complete records
        assert json.loads((out / "cells" / name).read_text())["status"] == "ok"
    assert main(["sweep", str(grid), "--out", str(out), "--resume", "--workers", "2", "--no-progress"]) == 0
    after = _bytes(out)
    assert len(after) == 6 and all(after[n] == b for n, b in before.items())
    session = json.loads((out / "sweep.json").read_text())["sessions"][-1]
    assert set(session["executed"]) == {n[:-5] for n in after} - {n[:-5] for n in before}
    df = pd.read_csv(out / "results.csv")
    # cells × models × taus × attacks (four one-shot and ensemble, plus certified or exact)
    assert len(df) == 6 * 4 * 4 * 5 and set(df.cell_id) == {n[:-5] for n in after}


def test_dask_local_cluster_gives_the_pool_results(pool_sweep, tmp_path):
    grid = tmp_path / "two.toml"
    grid.write_text(TINY.read_text().replace("input_dim = [16, 24]", "input_dim = [16]")
                    .replace('"train.adv_steps" = [20, 16]', '"train.adv_steps" = [20]'))
    out = tmp_path / "dask"
    assert main(["sweep", str(grid), "--out", str(out), "--local-cluster", "--workers", "2",
                 "--no-progress"]) == 0
    recs, pool = _records(out), _records(pool_sweep)
    assert len(recs) == 2 and set(recs) <= set(pool)  # the same cells, by id, as in the pool sweep
    for cid, rec in recs.items():
        assert rec["status"] == "ok"
        assert rec["rows"] == pool[cid]["rows"]
        assert rec["numba_num_threads"] == rec["threads"] == max(1, available_cores() // 2)
    session = json.loads((out / "sweep.json").read_text())["sessions"][0]
    assert session["executor"] == "dask-local-cluster"
    a = pd.read_csv(out / "results.csv")
    b = pd.read_csv(pool_sweep / "results.csv")
    pd.testing.assert_frame_equal(a, b[b.cell_id.isin(a.cell_id)].reset_index(drop=True),
                                  check_dtype=False)  # all-ones columns read back as ints
