"""Training drivers: they learn, they are reproducible, and they refuse to train through NaN."""

import numpy as np
import pytest

from simulator.config import DataConfig, NetworkConfig, TrainConfig
from simulator.data import SparseCodingProblem
from simulator.network import ThresholdNetwork, init_weights
from simulator.rng import stream
from simulator.training import TrainingDivergedError, train_adversarial, train_clean

DATA = DataConfig(input_dim=32, sparsity=3, noise=0.05)
NET = NetworkConfig(width=48, threshold=0.3, init_scale=0.1, dtype="float64")
TRAIN = TrainConfig(clean_steps=150, adv_steps=60, batch_size=64, step_size=0.5,
                    adv_tau=0.2, snapshot_every=50, progress=False)


def problem(seed=0, dtype=np.float64):
    return SparseCodingProblem(DATA, stream(seed, "problem"), dtype=dtype)


def accuracy(W, P, seed=0):
    b = P.sample(500, stream(seed, "test_data"))
    return np.mean(ThresholdNetwork.from_config(W, NET).predict(b.X) == b.y)


def test_clean_training_learns_and_keeps_snapshots():
    P = problem()
    W0 = init_weights(NET, 32, stream(0, "init"))
    res = train_clean(W0, P, NET, TRAIN, stream(0, "train_data"))
    assert res.losses[-20:].mean() < 0.5 * res.losses[:5].mean()
    assert accuracy(res.W, P) > 0.9
    assert sorted(res.snapshots) == [0, 50, 100, 150]
    np.testing.assert_array_equal(res.snapshots[0], W0)
    np.testing.assert_array_equal(res.snapshots[150], res.W)


@pytest.mark.parametrize("attack,norm", [("fgm", "l2"), ("fgm", "linf"), ("pgd", "l2")])
def test_adversarial_training_runs_from_given_weights(attack, norm):
    P = problem()
    W0 = init_weights(NET, 32, stream(0, "init"))
    clean = train_clean(W0, P, NET, TRAIN, stream(0, "train_data"))
    cfg = TRAIN.replace(adv_attack=attack, adv_norm=norm)
    adv = train_adversarial(clean.W, P, NET, cfg, stream(0, "adv_data"), stream(0, "attack"))
    np.testing.assert_array_equal(adv.snapshots[0], clean.W)
    assert np.isfinite(adv.losses).all() and not np.array_equal(adv.W, clean.W)
    assert accuracy(adv.W, P) > 0.8


def test_same_seed_same_weights_different_seed_different_weights():
    outs = []
    for seed in (0, 0, 1):
        P = problem(seed)
        W0 = init_weights(NET, 32, stream(seed, "init"))
        outs.append(train_clean(W0, P, NET, TRAIN.replace(clean_steps=20), stream(seed, "train_data")).W)
    np.testing.assert_array_equal(outs[0], outs[1])
    assert not np.allclose(outs[0], outs[2])


def test_float32_training_stays_float32():
    net = NET.replace(dtype="float32")
    P = problem(dtype=np.float32)
    W0 = init_weights(net, 32, stream(0, "init"))
    res = train_clean(W0, P, net, TRAIN.replace(clean_steps=30), stream(0, "train_data"))
    assert res.W.dtype == np.float32


def test_divergence_is_detected_not_trained_through():
    P = problem()
    W0 = init_weights(NET, 32, stream(0, "init"))
    W0[0, 0] = np.inf
    with pytest.raises(TrainingDivergedError, match="clean training diverged at step 0"):
        train_clean(W0, P, NET, TRAIN, stream(0, "train_data"))


def test_finite_training_set_is_full_batch():
    P = problem()
    W0 = init_weights(NET, 32, stream(0, "init"))
    res = train_clean(W0, P, NET, TRAIN.replace(train_size=300, clean_steps=200), stream(0, "train_data"))
    # full-batch GD on a fixed set: the loss decreases monotonically at this small step size
    assert np.all(np.diff(res.losses[20:]) <= 1e-9)
