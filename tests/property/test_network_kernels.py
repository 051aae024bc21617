"""Each numba kernel of simulator/kernels/network.py agrees with its numpy twin."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from simulator.kernels import network as K
from simulator.reference import network as R
from tests.property.twins import assert_logistic_outputs, call_both
from tests.tolerances import twin_atol

DTYPES = [np.float64, np.float32]


@st.composite
def layer(draw, dtype):
    # up to 40 rows: the row kernels take ROWS_PER_TASK = 16 rows per task
    n = draw(st.one_of(st.integers(1, 9), st.integers(15, 40)))
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
    n = H.shape[0]
    (Hk, _, _, fk, lk, ck), (Hr, _, _, fr, lr, cr) = call_both(
        K, R, "logistic_backward_inplace", H, b, y, np.empty(n), np.empty(n), np.empty(n))
    assert_logistic_outputs((Hk, fk, lk, ck), (Hr, fr, lr, cr),
                            twin_atol(dtype, np.abs(H).sum(1).max()))


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(data=st.data())
def test_logistic_active_units(dtype, data):
    """The twin, and the in-place kernel: P = coef on the listed units, 0 elsewhere."""
    H, b, y = data.draw(layer(dtype))
    H *= dtype(data.draw(st.sampled_from([1.0, 30.0])))
    n, m = H.shape
    outs = {}
    for name, mod in (("kernel", K), ("twin", R)):
        f, loss, coef = np.empty(n), np.empty(n), np.empty(n)
        units, count = np.full((n, m), -1, np.int32), np.empty(n, np.int64)
        mod.logistic_active_units(H, b, y, f, loss, coef, units, count)
        outs[name] = (f, loss, coef, units, count)
    tol = twin_atol(dtype, np.abs(H).sum(1).max())
    (fk, lk, ck, uk, nk), (fr, lr, cr, ur, nr) = outs["kernel"], outs["twin"]
    np.testing.assert_allclose(fk, fr, rtol=0, atol=tol)
    np.testing.assert_allclose(lk, lr, rtol=1e-6, atol=tol)
    np.testing.assert_allclose(ck, cr, rtol=1e-6, atol=tol)
    np.testing.assert_array_equal(nk, nr)
    P = H.copy()
    K.logistic_backward_inplace(P, b, y, np.empty(n), np.empty(n), np.empty(n))
    for r in range(n):
        np.testing.assert_array_equal(uk[r, :nk[r]], ur[r, :nr[r]])
        rebuilt = np.zeros(m, dtype)
        rebuilt[uk[r, :nk[r]]] = ck[r]
        np.testing.assert_array_equal(rebuilt, P[r])


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(data=st.data())
def test_margin_backward_inplace(dtype, data):
    H, b, y = data.draw(layer(dtype))
    (Hk, _, _, fk), (Hr, _, _, fr) = call_both(K, R, "margin_backward_inplace", H, b, y,
                                               np.empty(H.shape[0]))
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


@st.composite
def coefficients(draw, dtype):
    """P (n, m) with a share of zeros (inactive units), and a dense matrix of either side.

    Widths past 64 span several of active_transpose_product's blocks of units.
    """
    n = draw(st.integers(1, 9))
    m = draw(st.one_of(st.integers(1, 9), st.sampled_from([64, 65, 130])))
    d = draw(st.integers(1, 9))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    active = rng.random((n, m)) < draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    P = np.where(active, rng.standard_normal((n, m)), 0.0).astype(dtype)
    return P, rng.standard_normal((m, d)).astype(dtype), rng.standard_normal((n, d)).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(data=st.data())
def test_active_product(dtype, data):
    P, W, _ = data.draw(coefficients(dtype))
    a = np.full((P.shape[0], W.shape[1]), np.nan, dtype)
    r = np.empty_like(a)
    K.active_product(P, W, a)
    R.active_product(P, W, r)
    scale = (np.abs(P) @ np.abs(W)).max()
    np.testing.assert_allclose(a, r, rtol=0, atol=twin_atol(dtype, scale))


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(data=st.data(), alpha=st.sampled_from([1.0, 0.125, -0.5]), beta=st.sampled_from([0.0, 1.0, 0.5]))
def test_active_transpose_product(dtype, data, alpha, beta):
    P, _, X = data.draw(coefficients(dtype))
    shape = (P.shape[1], X.shape[1])
    start = (np.full(shape, np.nan, dtype) if beta == 0.0  # beta = 0 must ignore out's NaN
             else data.draw(arrays(dtype, shape, elements=st.floats(-2, 2, width=32))))
    a, r = start.copy(), start.copy()
    K.active_transpose_product(P, X, dtype(alpha), dtype(beta), a)
    R.active_transpose_product(P, X, dtype(alpha), dtype(beta), r)
    scale = abs(alpha) * (np.abs(P).T @ np.abs(X)).max() + (0.0 if beta == 0.0 else 2.0)
    np.testing.assert_allclose(a, r, rtol=0, atol=twin_atol(dtype, scale))
