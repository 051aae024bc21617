"""Low-rank adversarial training (issue 14) against independent references.

* the factor gradients (both routes, both dtypes) equal the full-W gradient carried onto the
  (U, V) parametrisation, G V and Gᵀ U, and central finite differences of the loss in U, V;
* the first step from U = 0: it moves U only, by −η G V, so W moves by −η G V Vᵀ; with
  r = input_dim ≤ width, V is orthogonal, V Vᵀ = I and the step *is* the full step;
* the references: the projection removes exactly the M w* component; the truncated SVD is
  the Eckart–Young optimum;
* the driver: W = W_clean + U Vᵀ throughout, dispatch from train_adversarial, learning.
"""

import numpy as np
import pytest

from simulator.config import DataConfig, NetworkConfig, TrainConfig
from simulator.data import SparseCodingProblem
from simulator.low_rank import (best_rank_correction, compose, factor_gradients, factor_step_size,
                                init_factors, low_rank_step, mixture_projection, train_low_rank)
from simulator.network import ThresholdNetwork, init_weights, loss_and_gradient, thresholds
from simulator.reference import network as R
from simulator.rng import stream
from simulator.training import adversarial_examples, adversarial_step, train_adversarial, train_clean
from tests.tolerances import FD_RTOL, TWIN_RTOL

DTYPES = [np.float64, np.float32]


def _loss_numpy(W, b, X, y):
    """Mean logistic loss of the thresholded network, plain numpy in float64 (the oracle)."""
    H = X @ W.T
    f = (np.sign(H) * np.maximum(np.abs(H) - b, 0.0)).sum(axis=1)
    return float(np.mean(np.logaddexp(0.0, -y * f)))


def _setup(dtype, m=10, d=12, r=3, n=20, seed=0):
    rng = np.random.default_rng(seed)
    Wc = rng.standard_normal((m, d))
    U = 0.3 * rng.standard_normal((m, r))
    V = 0.3 * rng.standard_normal((d, r))
    X = rng.standard_normal((n, d))
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    Wc, U, V, X, y = (np.ascontiguousarray(a, dtype=dtype) for a in (Wc, U, V, X, y))
    W = compose(Wc, U, V)
    b = (0.4 * np.linalg.norm(W.astype(np.float64), axis=1)).astype(dtype)
    return Wc, U, V, W, b, X, y


@pytest.mark.parametrize("route", ["direct", "full"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_factor_gradients_are_the_full_gradient_carried_onto_U_and_V(dtype, route):
    Wc, U, V, W, b, X, y = _setup(dtype)
    loss, gU, gV = factor_gradients(W, b, X, y, U, V, route)
    assert gU.dtype == dtype and gV.dtype == dtype
    # the numpy twin's full gradient G, then G V and Gᵀ U in float64
    _, G, _ = loss_and_gradient(W.astype(np.float64), b.astype(np.float64), X.astype(np.float64),
                                y.astype(np.float64), R)
    U64, V64 = U.astype(np.float64), V.astype(np.float64)
    rtol = TWIN_RTOL[dtype] * 10
    np.testing.assert_allclose(gU, G @ V64, rtol=rtol, atol=rtol * np.abs(G @ V64).max())
    np.testing.assert_allclose(gV, G.T @ U64, rtol=rtol, atol=rtol * np.abs(G.T @ U64).max())
    assert loss == pytest.approx(_loss_numpy(W.astype(np.float64), b.astype(np.float64),
                                             X.astype(np.float64), y.astype(np.float64)), rel=rtol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_factor_gradients_match_finite_differences(dtype):
    """Central differences of L(U, V) = loss(W_clean + U Vᵀ) with b fixed, in float64."""
    Wc, U, V, W, b, X, y = _setup(dtype)
    Wc, U, V, b, X, y = (a.astype(np.float64) for a in (Wc, U, V, b, X, y))
    H = X @ compose(Wc, U, V).T
    eps = 1e-6
    # the loss is smooth away from the kinks |h| = b: the steps below stay far from them
    largest_move = eps * (1 + np.abs(U).max() + np.abs(V).max()) * np.abs(X).max() * X.shape[1]
    assert np.abs(np.abs(H) - b).min() > 10 * largest_move
    _, gU, gV = factor_gradients(compose(Wc, U, V).astype(dtype), b.astype(dtype), X.astype(dtype),
                                 y.astype(dtype), U.astype(dtype), V.astype(dtype), "direct")
    for A, g, which in ((U, gU, "U"), (V, gV, "V")):
        fd = np.empty_like(A)
        for idx in np.ndindex(*A.shape):
            Ap, Am = A.copy(), A.copy()
            Ap[idx] += eps
            Am[idx] -= eps
            Wp = compose(Wc, Ap, V) if which == "U" else compose(Wc, U, Ap)
            Wm = compose(Wc, Am, V) if which == "U" else compose(Wc, U, Am)
            fd[idx] = (_loss_numpy(Wp, b, X, y) - _loss_numpy(Wm, b, X, y)) / (2 * eps)
        np.testing.assert_allclose(g, fd, rtol=FD_RTOL[dtype], atol=FD_RTOL[dtype] * np.abs(fd).max())


def test_unknown_route_is_refused():
    Wc, U, V, W, b, X, y = _setup(np.float64)
    with pytest.raises(ValueError, match="'route' parameter of factor_gradients"):
        factor_gradients(W, b, X, y, U, V, "sparse")


# ----------------------------------------------------------------------------------------
# The first step from U = 0
# ----------------------------------------------------------------------------------------

DATA = DataConfig(input_dim=16, sparsity=3, noise=0.05)
NET = NetworkConfig(width=24, threshold=0.3, init_scale=1.0, dtype="float64")


def _batch(seed=0):
    P = SparseCodingProblem(DATA, stream(seed, "problem"))
    W0 = init_weights(NET, DATA.input_dim, stream(seed, "init"))
    b = P.sample(64, stream(seed, "train_data"))
    return P, W0, b.X, b.y


def test_init_factors_start_at_W_clean_with_orthonormal_V():
    P, W0, X, y = _batch()
    U, V = init_factors(W0, 5, np.random.default_rng(3))
    assert U.shape == (24, 5) and V.shape == (16, 5) and not U.any()
    np.testing.assert_allclose(V.T @ V, np.eye(5), atol=1e-14)
    np.testing.assert_array_equal(compose(W0, U, V), W0)
    assert factor_step_size(U, V, 0.7) == pytest.approx(0.7, rel=1e-14)  # η_t = η at the start
    with pytest.raises(ValueError, match=r"'rank' parameter .* \[1, min\(width, input_dim\)=16\]. Got 17"):
        init_factors(W0, 17, np.random.default_rng(3))


@pytest.mark.parametrize("attack,norm", [("fgm", "l2"), ("fgm", "linf"), ("pgd", "l2")])
def test_full_rank_first_step_is_the_full_step(attack, norm):
    """r = input_dim ≤ width: V is square orthogonal, so −η G V Vᵀ = −η G exactly (up to rounding)."""
    P, W0, X, y = _batch()
    U, V = init_factors(W0, DATA.input_dim, np.random.default_rng(1))
    W, W_full = W0.copy(), W0.copy()
    loss, eta_t = low_rank_step(W, W0, U, V, X, y, NET, 0.7, 0.2, norm, attack, 3,
                                np.random.default_rng(5))
    loss_full = adversarial_step(W_full, X, y, NET, 0.7, 0.2, norm, attack, 3, np.random.default_rng(5))
    assert eta_t == pytest.approx(0.7, rel=1e-14) and loss == pytest.approx(loss_full, rel=1e-14)
    step = np.abs(W_full - W0).max()
    assert step > 1e-3  # the step is not trivially zero
    np.testing.assert_allclose(W, W_full, rtol=0, atol=1e-13 * max(step, np.abs(W0).max()))


@pytest.mark.parametrize("rank", [1, 4])
def test_low_rank_first_step_is_the_full_step_projected_on_span_V(rank):
    """r < input_dim: only U moves (∇_V = Gᵀ U = 0), by −η G V, so W₁ = W₀ − η G V Vᵀ."""
    P, W0, X, y = _batch()
    U, V = init_factors(W0, rank, np.random.default_rng(2))
    V0 = V.copy()
    W = W0.copy()
    low_rank_step(W, W0, U, V, X, y, NET, 0.7, 0.2, "l2")
    b = thresholds(W0, "relative", NET.threshold, 0.0)
    Xa = adversarial_examples(W0, b, X, y, 0.2, "l2")
    _, G, _ = loss_and_gradient(W0, b, Xa, y, R)
    np.testing.assert_array_equal(V, V0)
    np.testing.assert_allclose(W, W0 - 0.7 * G @ V0 @ V0.T, rtol=0, atol=1e-13 * np.abs(W0).max())
    assert not np.allclose(W, W0 - 0.7 * G)  # a strict restriction of the full step


# ----------------------------------------------------------------------------------------
# References
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_mixture_projection_removes_exactly_the_label_direction(dtype):
    P, W0, X, y = _batch()
    W0 = W0.astype(dtype)
    u = P.label_direction / np.linalg.norm(P.label_direction)
    Wp = mixture_projection(W0, P.label_direction)
    assert Wp.dtype == dtype
    tol = TWIN_RTOL[dtype] * 10 * np.abs(W0).max() * np.sqrt(DATA.input_dim)
    np.testing.assert_allclose(Wp.astype(np.float64) @ u, 0.0, atol=tol)  # no M w* component left
    # everything orthogonal to u is untouched: compare on a basis of u⊥
    rest = np.random.default_rng(0).standard_normal((DATA.input_dim, DATA.input_dim - 1))
    Q = np.linalg.qr(np.c_[u, rest])[0][:, 1:]
    np.testing.assert_allclose(Wp.astype(np.float64) @ Q, W0.astype(np.float64) @ Q, atol=tol)
    s = np.linalg.svd(W0.astype(np.float64) - Wp, compute_uv=False)
    assert s[1] <= tol * 10 < s[0]  # a rank-one change


def test_best_rank_correction_is_the_truncated_svd():
    rng = np.random.default_rng(0)
    Wc, Wa = rng.standard_normal((9, 7)), rng.standard_normal((9, 7))
    s = np.linalg.svd(Wa - Wc, compute_uv=False)
    for r in (1, 3, 7):
        Wr = best_rank_correction(Wc, Wa, r)
        assert np.linalg.matrix_rank(Wr - Wc) == r
        # Eckart–Young: the residual is exactly the discarded singular values
        assert np.linalg.norm(Wa - Wr) ** 2 == pytest.approx((s[r:] ** 2).sum(), abs=1e-12)
    np.testing.assert_allclose(best_rank_correction(Wc, Wa, 7), Wa, atol=1e-12)


# ----------------------------------------------------------------------------------------
# The driver
# ----------------------------------------------------------------------------------------

TDATA = DataConfig(input_dim=32, sparsity=3, noise=0.05)
TNET = NetworkConfig(width=48, threshold=0.3, init_scale=0.1, dtype="float64")
TRAIN = TrainConfig(clean_steps=150, adv_steps=60, batch_size=64, step_size=0.5, adv_tau=0.2,
                    snapshot_every=30, progress=False, adv_rank=2)


@pytest.fixture(scope="module")
def clean_run():
    P = SparseCodingProblem(TDATA, stream(0, "problem"))
    W0 = init_weights(TNET, 32, stream(0, "init"))
    return P, train_clean(W0, P, TNET, TRAIN, stream(0, "train_data")).W


def test_train_low_rank_keeps_W_equal_to_W_clean_plus_U_Vt(clean_run):
    P, Wc = clean_run
    res = train_adversarial(Wc, P, TNET, TRAIN, stream(0, "adv_data"), stream(0, "attack"))
    assert res.U.shape == (48, 2) and res.V.shape == (32, 2)
    np.testing.assert_array_equal(res.W, compose(Wc, res.U, res.V))
    np.testing.assert_array_equal(res.snapshots[0], Wc)
    assert sorted(res.snapshots) == [0, 30, 60]
    assert np.all(res.step_sizes <= TRAIN.adv_step_size * (1 + 1e-12))
    assert res.step_sizes[0] == pytest.approx(TRAIN.adv_step_size, rel=1e-12)
    assert np.linalg.matrix_rank(res.W - Wc) == 2
    # the same run through the low-rank driver directly, with its default spawned init stream
    again = train_low_rank(Wc, P, TNET, TRAIN, stream(0, "adv_data"), stream(0, "attack"))
    np.testing.assert_array_equal(again.W, res.W)
    # it learns: adversarial loss falls, and the network stays accurate
    assert res.losses[-10:].mean() < res.losses[:5].mean()
    b = P.sample(500, stream(0, "test_data"))
    assert np.mean(ThresholdNetwork.from_config(res.W, TNET).predict(b.X) == b.y) > 0.8


def test_routes_train_the_same_weights(clean_run):
    P, Wc = clean_run
    cfg = TRAIN.replace(adv_steps=20)
    a = train_low_rank(Wc, P, TNET, cfg, stream(0, "adv_data"), stream(0, "attack"), route="direct")
    b = train_low_rank(Wc, P, TNET, cfg, stream(0, "adv_data"), stream(0, "attack"), route="full")
    np.testing.assert_allclose(a.W, b.W, rtol=0, atol=1e-10 * np.abs(Wc).max())
