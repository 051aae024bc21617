"""The network against independent references: finite differences, symmetry, closed forms."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.config import DataConfig, NetworkConfig
from simulator.data import SparseCodingProblem
from simulator.network import (ThresholdNetwork, ideal_network, init_weights, loss_and_gradient,
                               margin_gradient, thresholds)
from simulator.rng import stream
from tests.tolerances import FD_RTOL, twin_atol


def rand_net(seed, d=6, m=5, theta=0.3, dtype=np.float64):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((m, d)).astype(dtype)
    X = rng.standard_normal((7, d)).astype(dtype)
    y = rng.choice(np.array([-1.0, 1.0], dtype=dtype), 7)
    return ThresholdNetwork(W, threshold=theta), X, y


def dense_f(W, b, X):
    """Independent definition: ReLU(h − b) − ReLU(−h − b), summed."""
    H = X @ W.T
    return (np.maximum(H - b, 0) - np.maximum(-H - b, 0)).sum(1)


@settings(deadline=None)
@given(seed=st.integers(0, 2**31), rule=st.sampled_from(["relative", "fixed"]))
def test_forward_matches_relu_definition_and_is_odd(seed, rule):
    net, X, _ = rand_net(seed)
    net.threshold_rule, net.fixed_bias = rule, 0.4
    f = net.decision_function(X)
    np.testing.assert_allclose(f, dense_f(net.W, net.b, X), atol=1e-12)
    np.testing.assert_allclose(net.decision_function(-X), -f, atol=1e-12)


@settings(deadline=None)
@given(seed=st.integers(0, 2**31))
def test_weight_gradient_matches_finite_differences(seed):
    """∇_W of the mean logistic loss, thresholds held fixed (they are not trained)."""
    net, X, y = rand_net(seed)
    b = net.b
    loss, grad, _ = loss_and_gradient(net.W, b, X, y)

    def L(W):
        return np.mean(np.logaddexp(0, -y * dense_f(W, b, X)))

    H = X @ net.W.T
    if np.min(np.abs(np.abs(H) - b)) < 1e-4:  # too close to a kink for differences
        return
    eps = 1e-6
    fd = np.zeros_like(net.W)
    for idx in np.ndindex(net.W.shape):
        E = np.zeros_like(net.W)
        E[idx] = eps
        fd[idx] = (L(net.W + E) - L(net.W - E)) / (2 * eps)
    np.testing.assert_allclose(loss, L(net.W), rtol=1e-12)
    np.testing.assert_allclose(grad, fd, rtol=FD_RTOL[np.float64], atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@settings(deadline=None)
@given(seed=st.integers(0, 2**31))
def test_input_gradient_matches_finite_differences(dtype, seed):
    net, X, y = rand_net(seed, dtype=dtype)
    f, G = net.margin_gradient(X, y)
    X64, W64, b64 = X.astype(float), net.W.astype(float), net.b.astype(float)
    H = X64 @ W64.T
    if np.min(np.abs(np.abs(H) - b64)) < 1e-3:
        return
    eps = 1e-6
    for n in range(X.shape[0]):
        for j in range(X.shape[1]):
            e = np.zeros(X.shape[1])
            e[j] = eps
            fd = -y[n] * (dense_f(W64, b64, (X64[n] + e)[None]) - dense_f(W64, b64, (X64[n] - e)[None]))[0] / (2 * eps)
            np.testing.assert_allclose(G[n, j], fd, rtol=FD_RTOL[np.dtype(dtype).type], atol=1e-5)


def test_relative_threshold_is_theta_times_norm():
    W = np.array([[3.0, 4.0], [0.0, 1.0]])
    np.testing.assert_allclose(thresholds(W, "relative", 0.5, 0.0), [2.5, 0.5])
    np.testing.assert_allclose(thresholds(W, "fixed", 0.5, 0.2), [0.2, 0.2])


def test_ideal_network_closed_form():
    """Noise-free x = Mz: f = Σ_j w*_j z_j (1 − θ) when every |z_j| = 1."""
    cfg = DataConfig(input_dim=32, sparsity=4, noise=0.0)
    P = SparseCodingProblem(cfg, stream(0, "problem"))
    net = ideal_network(P, NetworkConfig(threshold=0.3, dtype="float64"))
    b = P.sample(100, stream(0, "test_data"))
    expected = (b.Z @ P.w_star) * 0.7
    np.testing.assert_allclose(net.decision_function(b.X), expected, atol=1e-10)


def test_init_scale_and_dtype():
    cfg = NetworkConfig(width=400, init_scale=0.5, dtype="float32")
    W = init_weights(cfg, 100, stream(0, "init"))
    assert W.dtype == np.float32 and W.shape == (400, 100)
    assert abs(np.mean(np.sum(W.astype(float) ** 2, 1)) - 0.25) < 0.02


@pytest.mark.parametrize("W,message", [
    (np.zeros(3), "must be a 2-d array"),
    (np.array([[np.nan, 1.0]]), "must be finite"),
])
def test_bad_weights(W, message):
    with pytest.raises(ValueError, match=message):
        ThresholdNetwork(W)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("theta", [0.0, 0.3, 0.9])
def test_active_unit_products_equal_blas(dtype, theta):
    """The backward products over the active units only give BLAS's result up to rounding."""
    rng = np.random.default_rng(3)
    W = rng.standard_normal((40, 12)).astype(dtype)
    X = rng.standard_normal((30, 12)).astype(dtype)
    y = rng.choice(np.array([-1.0, 1.0], dtype=dtype), 30)
    b = thresholds(W, "relative", theta, 0.0)
    loss_a, grad_a, f_a = loss_and_gradient(W, b, X, y, skip_inactive=True)
    loss_b, grad_b, f_b = loss_and_gradient(W, b, X, y, skip_inactive=False)
    assert loss_a == loss_b
    np.testing.assert_array_equal(f_a, f_b)
    np.testing.assert_allclose(grad_a, grad_b, rtol=0, atol=twin_atol(dtype, np.abs(X).max()))
    net = ThresholdNetwork(W, threshold=theta)
    fa, Ga = margin_gradient(W, b, X, y, skip_inactive=True)
    fb, Gb = margin_gradient(W, b, X, y, skip_inactive=False)
    np.testing.assert_array_equal(fa, fb)
    np.testing.assert_allclose(Ga, Gb, rtol=0, atol=twin_atol(dtype, np.abs(W).sum(0).max()))
    np.testing.assert_allclose(net.margin_gradient(X, y)[1], Gb, rtol=0,
                               atol=twin_atol(dtype, np.abs(W).sum(0).max()))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("skip_inactive", [True, False])
def test_logistic_step_equals_a_step_along_the_gradient(dtype, skip_inactive):
    """The in-place step (no gradient array) is W − η∇W, by both backward products."""
    from simulator.network import logistic_step

    rng = np.random.default_rng(5)
    W = rng.standard_normal((40, 24)).astype(dtype)
    X = rng.standard_normal((30, 24)).astype(dtype)
    y = np.sign(rng.standard_normal(30)).astype(dtype)
    b = np.full(40, 1.5, dtype)  # about a quarter of the units active
    eta = dtype(0.7)
    loss, grad, _ = loss_and_gradient(W, b, X, y)
    expect = W - eta * grad
    W_step = W.copy()
    got_loss = logistic_step(W_step, b, X, y, eta, skip_inactive=skip_inactive)
    assert got_loss == pytest.approx(loss, rel=1e-12)
    scale = eta * (np.abs(grad).max() + 1.0)
    np.testing.assert_allclose(W_step, expect, rtol=0,
                               atol=twin_atol(dtype, scale) + np.abs(W).max() * np.finfo(dtype).eps * 4)
    assert not np.array_equal(W_step, W)
