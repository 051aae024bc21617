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

