"""Feature coordinates (σ = 0, M orthogonal) give the dense path's results up to rounding."""

import numpy as np
import pytest

from simulator import feature_path as F
from simulator.config import ConfigError, DataConfig, NetworkConfig, RunConfig, TrainConfig
from simulator.data import SparseCodingProblem
from simulator.network import ThresholdNetwork, init_weights, loss_and_gradient, thresholds
from simulator.rng import stream
from simulator.training import train_clean
from tests.tolerances import path_atol, twin_atol

NOISELESS = DataConfig(input_dim=32, sparsity=4, noise=0.0)
NET = NetworkConfig(width=96, threshold=0.3, init_scale=0.1, dtype="float64")
TRAIN = TrainConfig(clean_steps=20, batch_size=64, step_size=0.5, snapshot_every=10, progress=False)


def problem(data=NOISELESS, dtype="float64", seed=0):
    return SparseCodingProblem(data, stream(seed, "problem"), dtype=dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("train_size", [None, 100])
def test_clean_training_equals_dense_path(dtype, seed, train_size):
    """Same W0, same batches: the final weights, losses and snapshots agree up to rounding."""
    net = NET.replace(dtype=dtype)
    P = problem(dtype=dtype, seed=seed)
    W0 = init_weights(net, NOISELESS.input_dim, stream(seed, "init"))
    cfg = TRAIN.replace(train_size=train_size)
    dense = train_clean(W0, P, net, cfg.replace(feature_path="off"), stream(seed, "train_data"))
    feat = train_clean(W0, P, net, cfg.replace(feature_path="on"), stream(seed, "train_data"))
    assert feat.W.dtype == np.dtype(dtype) and feat.W.shape == dense.W.shape
    scale = max(np.abs(dense.W).max(), np.abs(W0).max())
    tol = path_atol(dtype, scale, cfg.clean_steps)
    assert not np.allclose(dense.W, W0, rtol=0, atol=100 * tol)  # it trained
    np.testing.assert_allclose(feat.W, dense.W, rtol=0, atol=tol)
    np.testing.assert_allclose(feat.losses, dense.losses, rtol=0, atol=path_atol(dtype, 1.0, cfg.clean_steps))
    assert sorted(feat.snapshots) == sorted(dense.snapshots) == [0, 10, 20]
    np.testing.assert_array_equal(feat.snapshots[0], W0.astype(dtype))
    for step in dense.snapshots:
        np.testing.assert_allclose(feat.snapshots[step], dense.snapshots[step], rtol=0, atol=tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient_in_feature_coordinates_is_the_dense_gradient_times_M(dtype):
    P = problem(dtype=dtype)
    W = init_weights(NET.replace(dtype=np.dtype(dtype).name), 32, stream(0, "init"))
    batch = P.sample(50, stream(0, "train_data"))
    b = thresholds(W, "relative", NET.threshold, 0.0)
    loss, grad_W, f = loss_and_gradient(W, b, batch.X, batch.y)
    Ct = F.to_feature_coordinates(W, P.M)
    codes = F.Codes.from_sparse(batch.Z, dtype)
    b_feat = F.thresholds_from_norms(F.column_norms(Ct), "relative", NET.threshold, 0.0)
    loss_c, grad_Ct, f_c = F.codes_loss_and_gradient(Ct, b_feat, codes, batch.y)
    np.testing.assert_allclose(b_feat, b, rtol=0, atol=twin_atol(dtype, np.abs(b).max()))
    np.testing.assert_allclose(f_c, f, rtol=0, atol=twin_atol(dtype, np.abs(f).max()))
    assert loss_c == pytest.approx(loss, rel=10 * twin_atol(dtype, 1.0))
    expected = (grad_W.astype(np.float64) @ P.M.astype(np.float64)).T
    np.testing.assert_allclose(grad_Ct, expected, rtol=0, atol=twin_atol(dtype, np.abs(expected).max()))


def test_round_trip_of_coordinates():
    P = problem()
    W = init_weights(NET, 32, stream(0, "init"))
    np.testing.assert_allclose(F.from_feature_coordinates(F.to_feature_coordinates(W, P.M), P.M), W,
                               rtol=0, atol=1e-15)
    np.testing.assert_allclose(F.to_feature_coordinates(W, P.M).T, P.feature_coefficients(W), atol=1e-15)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_clean_evaluation_from_codes_equals_dense(dtype):
    P = problem(dtype=dtype)
    W = init_weights(NET.replace(dtype=dtype), 32, stream(0, "init")) * 30
    net = ThresholdNetwork.from_config(W, NET, batch_size=37)  # several batches
    test = P.sample(100, stream(0, "test_data"))
    f_dense = net.decision_function(test.X)
    f_codes = net.decision_function_codes(test.Z, P)
    np.testing.assert_allclose(f_codes, f_dense, rtol=0, atol=twin_atol(dtype, np.abs(f_dense).max()))


def test_auto_uses_the_feature_path_only_when_it_applies(monkeypatch):
    calls = []
    original = F.FeatureCoordinates.clean_step

    def counting(self, *args):
        calls.append(1)
        return original(self, *args)

    monkeypatch.setattr(F.FeatureCoordinates, "clean_step", counting)
    cfg = TRAIN.replace(clean_steps=3)
    W0 = init_weights(NET, 32, stream(0, "init"))
    train_clean(W0, problem(), NET, cfg, stream(0, "train_data"))
    assert len(calls) == 3
    for data in (NOISELESS.replace(noise=0.05), NOISELESS.replace(n_features=48)):
        train_clean(W0, problem(data), NET, cfg, stream(0, "train_data"))
        assert len(calls) == 3  # dense path
    train_clean(W0, problem(), NET, cfg.replace(feature_path="off"), stream(0, "train_data"))
    assert len(calls) == 3


@pytest.mark.parametrize("data", [NOISELESS.replace(noise=0.05), NOISELESS.replace(n_features=48)],
                         ids=["noisy", "overcomplete"])
def test_feature_path_on_is_refused_where_it_does_not_apply(data):
    W0 = init_weights(NET, 32, stream(0, "init"))
    with pytest.raises(ConfigError, match="'feature_path' parameter of TrainConfig can be 'on' only"):
        train_clean(W0, problem(data), NET, TRAIN.replace(feature_path="on"), stream(0, "train_data"))
    with pytest.raises(ConfigError, match=r"Got noise=.* and n_features="):
        RunConfig(data=data, train=TrainConfig(feature_path="on"))
    with pytest.raises(ValueError, match="decision_function_codes needs noiseless inputs"):
        ThresholdNetwork(W0).decision_function_codes(problem(data).sample(3, stream(0, "test_data")).Z,
                                                     problem(data))


@pytest.mark.parametrize("rule", ["relative", "fixed"])
def test_a_nan_in_a_unit_that_never_fires_stops_training(rule):
    """A NaN neuron is never active (|h| > b is false), so the loss stays finite: the
    norms the step leaves behind must catch it, for either threshold rule."""
    from simulator.training import TrainingDivergedError

    net = NET.replace(threshold_rule=rule, fixed_bias=0.1)
    W0 = init_weights(net, 32, stream(0, "init"))
    W0[5] = np.nan
    with pytest.raises(TrainingDivergedError, match="clean training diverged at step 0"):
        train_clean(W0, problem(), net, TRAIN.replace(feature_path="on"), stream(0, "train_data"))


def test_weights_finite_tells_overflowing_norms_from_non_finite_weights():
    P = problem(dtype="float32")
    model = F.FeatureCoordinates(init_weights(NET.replace(dtype="float32"), 32, stream(0, "init")), P.M)
    assert model.weights_finite()
    model.Ct[:2, 0] = 3e38  # finite, but ‖C_0‖ overflows float32
    model.norms = F.column_norms(model.Ct)
    assert np.isinf(model.norms[0]) and model.weights_finite()
    model.Ct[3, 1] = np.nan
    model.norms = F.column_norms(model.Ct)
    assert not model.weights_finite()


def test_feature_steps_depend_on_the_thread_count_only_by_rounding():
    """The step splits the units into one part per thread: another thread count sums f in
    another order (rounding only); the same count gives the same numbers, bit for bit."""
    import numba

    P = problem()
    W0 = init_weights(NET, 32, stream(0, "init"))
    cfg = TRAIN.replace(feature_path="on")
    runs = {}
    old = numba.get_num_threads()
    try:
        for threads in (1, old, old):
            numba.set_num_threads(threads)
            runs.setdefault(threads, []).append(train_clean(W0, P, NET, cfg, stream(0, "train_data")))
    finally:
        numba.set_num_threads(old)
    a, b = runs[old][-2:]
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.losses, b.losses)
    tol = path_atol("float64", np.abs(a.W).max(), cfg.clean_steps)
    np.testing.assert_allclose(runs[1][0].W, a.W, rtol=0, atol=tol)
