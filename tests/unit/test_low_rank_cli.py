"""``fpsim train --set train.adv_rank=2`` end to end: the factors land in weights.npz."""

import numpy as np

from reports.cli import main
from tests.unit.test_cli import TINY


def test_train_with_adv_rank_writes_U_and_V(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--seed", "3", *TINY, "--set", "train.adv_rank=2"]) == 0
    w = np.load(out / "weights.npz")
    assert w["U"].shape == (32, 2) and w["V"].shape == (24, 2)
    np.testing.assert_allclose(w["W_adv"], w["W_clean"] + w["U"] @ w["V"].T, rtol=0, atol=1e-6)
    assert np.linalg.matrix_rank(w["W_adv"].astype(np.float64) - w["W_clean"], tol=1e-4) == 2


def test_full_update_writes_no_factors(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--seed", "3", *TINY, "--adv-steps", "5"]) == 0
    assert {"U", "V"}.isdisjoint(np.load(out / "weights.npz").files)
