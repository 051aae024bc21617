"""Sampler invariants of the sparse-coding model x = M z + ξ, y = sign(⟨w*, z⟩)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.config import DataConfig
from simulator.data import SparseCodingProblem
from simulator.rng import stream


def make(seed=0, **kw):
    cfg = DataConfig(**{"input_dim": 32, "sparsity": 4, "noise": 0.1, **kw})
    return SparseCodingProblem(cfg, stream(seed, "problem"))


def test_unitary_dictionary_is_orthogonal():
    P = make(input_dim=48)
    np.testing.assert_allclose(P.M.T @ P.M, np.eye(48), atol=1e-12)


def test_overcomplete_dictionary_has_unit_columns():
    P = make(input_dim=32, n_features=96)
    assert P.M.shape == (32, 96)
    np.testing.assert_allclose(np.linalg.norm(P.M, axis=0), 1.0, atol=1e-12)


@settings(deadline=None, max_examples=15)
@given(seed=st.integers(0, 2**31), law=st.sampled_from(["sign", "uniform", "gaussian"]),
       overcomplete=st.booleans(), margin=st.sampled_from([0.5, 1.0, 2.0]))
def test_labels_margin_and_reconstruction(seed, law, overcomplete, margin):
    P = make(seed, value_law=law, margin=margin, noise=0.0,
             n_features=64 if overcomplete else None)
    b = P.sample(200, stream(seed, "train_data"))
    s = b.Z @ P.w_star
    np.testing.assert_array_equal(b.y, np.sign(s))
    assert np.all(np.abs(s) >= margin)  # ties and small margins are rejected
    np.testing.assert_allclose(b.X, b.Z @ P.M.T, atol=1e-12)  # σ = 0: x = M z exactly
    assert set(np.unique(b.y)) <= {-1.0, 1.0}
    if law == "sign":
        assert set(np.unique(b.Z.data)) <= {-1.0, 1.0}


def test_sparsity_rate_matches_k_over_D():
    """Without rejection (tiny margin, Gaussian values) the active rate is k/D."""
    P = make(input_dim=64, sparsity=6, value_law="gaussian", margin=1e-9)
    b = P.sample(4000, stream(1, "train_data"))
    rate = b.Z.nnz / (4000 * 64)
    se = np.sqrt((6 / 64) * (1 - 6 / 64) / (4000 * 64))
    assert abs(rate - 6 / 64) < 5 * se


def test_noise_scale():
    P = make(input_dim=256, noise=0.3)
    b = P.sample(2000, stream(2, "train_data"))
    xi = b.X - b.Z @ P.M.T
    # ‖ξ‖² ~ σ²/d · χ²_d: mean σ², tight concentration
    assert abs(np.mean(np.sum(xi ** 2, axis=1)) - 0.09) < 0.005


def test_same_seed_same_data_different_seed_different_data():
    a = make(3).sample(50, stream(3, "train_data"))
    b = make(3).sample(50, stream(3, "train_data"))
    c = make(4).sample(50, stream(4, "train_data"))
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.allclose(a.X, c.X)


def test_float32_samples():
    cfg = DataConfig(input_dim=16, sparsity=2)
    P = SparseCodingProblem(cfg, stream(0, "problem"), dtype=np.float32)
    b = P.sample(10, stream(0, "train_data"))
    assert b.X.dtype == np.float32 and b.y.dtype == np.float32


@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_bad_sample_size(n):
    with pytest.raises(ValueError, match="'n' parameter of SparseCodingProblem.sample"):
        make().sample(n, stream(0, "train_data"))


def test_feature_coefficients_recover_codes():
    P = make(input_dim=32, n_features=48, noise=0.0)
    W = np.random.default_rng(0).standard_normal((5, 32))
    C = P.feature_coefficients(W)
    np.testing.assert_allclose(C @ P.M.T, W, atol=1e-10)  # exact reconstruction, min norm


@pytest.mark.parametrize("D,k", [(64, 6), (8, 7.5), (5, 5)])
def test_active_positions_are_iid_bernoulli(D, k):
    """The geometric-gap sampler has the law of one Bernoulli(k/D) per cell.

    Checked against that law's exact moments: the per-cell rate, the per-row count's
    Binomial(D, p) variance, and no correlation between neighbouring cells.
    """
    P = make(input_dim=D, sparsity=k)
    n_rows = 20000
    r, c = P._active_positions(n_rows, stream(5, "train_data"))
    mask = np.zeros((n_rows, D), dtype=bool)
    mask[r, c] = True
    assert mask.sum() == r.size  # no position drawn twice
    p = k / D
    if p == 1.0:
        assert mask.all()
        return
    N = n_rows * D
    assert abs(mask.mean() - p) < 5 * np.sqrt(p * (1 - p) / N)
    counts = mask.sum(axis=1)
    var = D * p * (1 - p)
    assert abs(counts.var() - var) < 5 * var * np.sqrt(2 / n_rows) + 1e-9
    flat = mask.ravel().astype(float)
    lag1 = np.mean((flat[:-1] - p) * (flat[1:] - p)) / (p * (1 - p))
    assert abs(lag1) < 5 / np.sqrt(N)


def test_sample_codes_draws_what_sample_draws_without_noise():
    P = make(noise=0.0)
    a = P.sample(300, stream(6, "train_data"))
    b = P.sample_codes(300, stream(6, "train_data"))
    assert b.X is None and len(b) == 300
    np.testing.assert_array_equal(a.y, b.y)
    assert (a.Z != b.Z).nnz == 0
