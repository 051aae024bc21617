"""Issue 12 §1: the FGM check trains its networks at the radius it tests them at."""

from __future__ import annotations

import pytest

from theorems import fgm_robust, runs
from theorems.regime import DEFAULT, QUICK


class _Captured(Exception):
    pass


@pytest.mark.parametrize("regime", [DEFAULT, QUICK], ids=["default", "quick"])
@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_fgm_check_trains_at_the_radius_it_tests(monkeypatch, regime, norm):
    seen = []

    def fake_run_networks(cfg, cache=None, standalone_taus=(), on_phase=None):
        seen.append((cfg, standalone_taus))
        raise _Captured

    monkeypatch.setattr(runs, "run_networks", fake_run_networks)
    with pytest.raises(_Captured):
        fgm_robust.run(regime, seeds=[3], norm=norm)
    (cfg, taus), = seen
    tau = regime.tau_for(norm)
    assert cfg.seed == 3
    assert cfg.train.adv_norm == norm
    assert cfg.train.adv_tau == tau  # same radius, not a multiple of it
    assert taus == (tau,) and tau in cfg.eval.taus and cfg.eval.exact_taus == (tau,)



@pytest.mark.parametrize("norm,trained", [("l2", 0.3), ("linf", 0.4)])
def test_legacy_regime_trains_at_twice_the_test_radius_as_before(norm, trained):
    """`--regime legacy-2x` is the default regime up to c7f7f9e: RunConfig's training budget,
    FGM at 0.3 (ℓ∞ 0.4) for claims tested at 0.15 (0.2)."""
    from simulator.config import RunConfig
    from theorems.regime import LEGACY_2X, REGIMES

    cfg = REGIMES["legacy-2x"].config_for(0, norm)
    assert cfg.train.adv_tau == trained and LEGACY_2X.tau_for(norm) == trained / 2
    old = RunConfig().train
    assert (cfg.train.adv_steps, cfg.train.adv_step_size) == (old.adv_steps, old.adv_step_size)
    assert cfg.data == RunConfig().data and cfg.network == RunConfig().network


def test_verify_rejects_an_unknown_or_conflicting_regime(tmp_path, capsys):
    from reports.cli import main

    assert main(["verify", "--regime", "huge", "--out", str(tmp_path / "o")]) == 2
    assert "'--regime' option must be one of ['default', 'legacy-2x', 'quick']" in capsys.readouterr().err
    assert main(["verify", "--quick", "--regime", "default", "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()


def test_verify_rejects_a_worker_count_outside_the_cores(tmp_path, capsys):
    from reports.cli import main
    from simulator.threads import available_cores

    for bad in ("0", str(available_cores() + 1)):
        assert main(["verify", "--quick", "--workers", bad, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert f"'--workers' option must be an int in the range [1, {available_cores()}]" in err
        assert f"Got {bad} instead" in err
    assert not (tmp_path / "o").exists()
