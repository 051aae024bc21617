"""Each numba kernel of simulator/kernels/network.py agrees with its numpy twin."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.kernels import network as K
from simulator.reference import network as R
from tests.tolerances import twin_atol

DTYPES = [np.float64, np.float32]


@st.composite
def layer(draw, dtype):
    n = draw(st.integers(1, 9))
    m = draw(st.integers(1, 9))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    H = rng.standard_normal((n, m)).astype(dtype)
    b = np.abs(rng.standard_normal(m)).astype(dtype) * draw(st.sampled_from([0.0, 0.5, 1.0]))
    # put some pre-activations exactly at ±threshold: the kink is where twins may disagree
    if draw(st.booleans()):
        i, j = rng.integers(n), rng.integers(m)
        H[i, j] = b[j] * draw(st.sampled_from([-1, 1]))
    y = rng.choice(np.array([-1.0, 1.0], dtype=dtype), n)
    return H, b, y


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(data=st.data())
def test_soft_threshold_sum(dtype, data):
    H, b, _ = data.draw(layer(dtype))
    a, r = np.empty(H.shape[0]), np.empty(H.shape[0])
    K.soft_threshold_sum(H, b, a)
    R.soft_threshold_sum(H, b, r)
    np.testing.assert_allclose(a, r, rtol=0, atol=twin_atol(dtype, np.abs(H).sum(1).max()))


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(data=st.data())
def test_logistic_backward_inplace(dtype, data):
    H, b, y = data.draw(layer(dtype))
    H *= dtype(data.draw(st.sampled_from([1.0, 30.0])))  # large margins: the stable branch
    Hk, Hr = H.copy(), H.copy()
    n = H.shape[0]
    fk, lk, ck = np.empty(n), np.empty(n), np.empty(n)
    fr, lr, cr = np.empty(n), np.empty(n), np.empty(n)
    K.logistic_backward_inplace(Hk, b, y, fk, lk, ck)
    R.logistic_backward_inplace(Hr, b, y, fr, lr, cr)
    tol = twin_atol(dtype, np.abs(H).sum(1).max())
    np.testing.assert_allclose(fk, fr, rtol=0, atol=tol)
    np.testing.assert_allclose(lk, lr, rtol=1e-6, atol=tol)
    np.testing.assert_allclose(ck, cr, rtol=1e-6, atol=tol)
    np.testing.assert_allclose(Hk, Hr, rtol=1e-6, atol=tol)
    assert np.all(lk >= 0) and np.all(np.abs(ck) <= 1)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(data=st.data())
def test_margin_backward_inplace(dtype, data):
    H, b, y = data.draw(layer(dtype))
    Hk, Hr = H.copy(), H.copy()
    fk, fr = np.empty(H.shape[0]), np.empty(H.shape[0])
    K.margin_backward_inplace(Hk, b, y, fk)
    R.margin_backward_inplace(Hr, b, y, fr)
    np.testing.assert_allclose(fk, fr, rtol=0, atol=twin_atol(dtype, np.abs(H).sum(1).max()))
    np.testing.assert_array_equal(Hk, Hr)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(m=st.integers(1, 7), d=st.integers(1, 7), seed=st.integers(0, 2**32 - 1))
def test_row_norms(dtype, m, d, seed):
    W = np.random.default_rng(seed).standard_normal((m, d)).astype(dtype)
    a, r = np.empty(m, dtype), np.empty(m, dtype)
    K.row_norms(W, a)
    R.row_norms(W, r)
    np.testing.assert_allclose(a, r, rtol=1e-6 if dtype == np.float32 else 1e-14)


def test_threshold_kink_is_inactive():
    """|h| = b exactly counts as inactive in both: soft(±b, b) = 0 and no gradient."""
    H = np.array([[0.5, -0.5, 0.6]])
    b = np.array([0.5, 0.5, 0.5])
    y = np.array([1.0])
    f = np.empty(1)
    K.margin_backward_inplace(H, b, y, f)
    np.testing.assert_allclose(f, [0.1])
    np.testing.assert_array_equal(H, [[0.0, 0.0, -1.0]])
