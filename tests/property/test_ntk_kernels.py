"""Each numba kernel of simulator/kernels/ntk.py agrees with its numpy twin."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.kernels import ntk as K
from simulator.reference import ntk as R
from tests.property.twins import assert_logistic_outputs, call_both
from tests.tolerances import TWIN_RTOL, twin_atol

DTYPES = [np.float64, np.float32]


@st.composite
def linearised_layer(draw, dtype):
    """H0 = X W0ᵀ with thresholds, an update ΔW and labels; gates open at any density.

    Up to 40 samples: the dense-form kernels take 16 rows per task."""
    n = draw(st.one_of(st.integers(1, 9), st.integers(15, 40)))
    m = draw(st.integers(1, 9))
    d = draw(st.integers(1, 7))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.standard_normal((n, d)).astype(dtype)
    W0 = rng.standard_normal((m, d)).astype(dtype)
    dW = (rng.standard_normal((m, d)) * draw(st.sampled_from([0.0, 1.0, 30.0]))).astype(dtype)
    H0 = X @ W0.T
    b = (np.abs(rng.standard_normal(m)) * draw(st.sampled_from([0.0, 0.5, 1.0, 5.0]))).astype(dtype)
    if draw(st.booleans()):  # a pre-activation exactly at ±threshold: the gate is closed
        i, j = rng.integers(n), rng.integers(m)
        b[j] = abs(H0[i, j])
    y = rng.choice(np.array([-1.0, 1.0], dtype=dtype), n)
    return H0, b, X, W0, dW, y


def _scale(H0, X, W0, dW):
    """Size of the terms of f and of G (sums over every gate, open or not)."""
    lin = np.abs(X).astype(np.float64) @ np.abs(dW).astype(np.float64).T
    return max((np.abs(H0) + lin).sum(1).max(), (np.abs(W0) + np.abs(dW)).sum(0).max())


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(data=st.data())
def test_open_gate_soft_threshold_sum(dtype, data):
    H0, b, X, W0, dW, _ = data.draw(linearised_layer(dtype))
    a, r = np.empty(H0.shape[0]), np.empty(H0.shape[0])
    K.open_gate_soft_threshold_sum(H0, b, X, dW, a)
    R.open_gate_soft_threshold_sum(H0, b, X, dW, r)
    np.testing.assert_allclose(a, r, rtol=0, atol=twin_atol(dtype, _scale(H0, X, W0, dW)))


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(data=st.data())
def test_open_gate_logistic_backward(dtype, data):
    H0, b, X, W0, dW, y = data.draw(linearised_layer(dtype))
    n, m = H0.shape
    out = {}
    for name, mod in (("kernel", K), ("twin", R)):
        f, loss, coef = np.empty(n), np.empty(n), np.empty(n)
        grad = np.full_like(dW, np.nan)  # every row is written, opened gates or not
        mod.open_gate_logistic_backward(H0, b, X, dW, y, f, loss, coef, grad)
        out[name] = (f, loss, coef, grad)
    (fk, lk, ck, gk), (fr, lr, cr, gr) = out["kernel"], out["twin"]
    tol = twin_atol(dtype, _scale(H0, X, W0, dW))
    np.testing.assert_allclose(fk, fr, rtol=0, atol=tol)
    np.testing.assert_allclose(lk, lr, rtol=1e-6, atol=tol)
    np.testing.assert_allclose(ck, cr, rtol=1e-6, atol=tol)
    # the gradient's terms are |coef|·|x| ≤ |x|, summed over at most n samples
    np.testing.assert_allclose(gk, gr, rtol=1e-6,
                               atol=twin_atol(dtype, n * np.abs(X).max()) + TWIN_RTOL[dtype] * tol)
    assert np.all(lk >= 0) and np.all(np.abs(ck) <= 1)
    closed = ~np.any(np.abs(H0) > b[None, :], axis=0)
    assert np.all(gk[closed] == 0)  # a neuron whose gate never opens gets no gradient


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(data=st.data())
def test_open_gate_margin_backward(dtype, data):
    H0, b, X, W0, dW, y = data.draw(linearised_layer(dtype))
    n = H0.shape[0]
    fk, fr = np.empty(n), np.empty(n)
    Gk, Gr = np.full_like(X, np.nan), np.empty_like(X)
    K.open_gate_margin_backward(H0, b, X, W0, dW, y, fk, Gk)
    R.open_gate_margin_backward(H0, b, X, W0, dW, y, fr, Gr)
    tol = twin_atol(dtype, _scale(H0, X, W0, dW))
    np.testing.assert_allclose(fk, fr, rtol=0, atol=tol)
    np.testing.assert_allclose(Gk, Gr, rtol=0, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(data=st.data())
def test_open_gate_count(dtype, data):
    H0, b, _, _, _, _ = data.draw(linearised_layer(dtype))
    assert K.open_gate_count(H0, b) == R.open_gate_count(H0, b)


# the dense form: L = X ΔWᵀ given


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(data=st.data())
def test_linearised_soft_threshold_sum(dtype, data):
    H0, b, X, W0, dW, _ = data.draw(linearised_layer(dtype))
    L = X @ dW.T
    a, r = np.empty(H0.shape[0]), np.empty(H0.shape[0])
    K.linearised_soft_threshold_sum(H0, L, b, a)
    R.linearised_soft_threshold_sum(H0, L, b, r)
    np.testing.assert_allclose(a, r, rtol=0, atol=twin_atol(dtype, (np.abs(H0) + np.abs(L)).sum(1).max()))


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(data=st.data())
def test_linearised_logistic_backward_inplace(dtype, data):
    H0, b, X, W0, dW, y = data.draw(linearised_layer(dtype))
    L = X @ dW.T
    n = H0.shape[0]
    (_, Lk, _, _, fk, lk, ck), (_, Lr, _, _, fr, lr, cr) = call_both(
        K, R, "linearised_logistic_backward_inplace", H0, L, b, y, np.empty(n), np.empty(n),
        np.empty(n))
    assert_logistic_outputs((Lk, fk, lk, ck), (Lr, fr, lr, cr),
                            twin_atol(dtype, (np.abs(H0) + np.abs(L)).sum(1).max()))


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(data=st.data())
def test_linearised_margin_backward_inplace(dtype, data):
    H0, b, X, W0, dW, y = data.draw(linearised_layer(dtype))
    L = X @ dW.T
    (_, Lk, _, _, fk), (_, Lr, _, _, fr) = call_both(
        K, R, "linearised_margin_backward_inplace", H0, L, b, y, np.empty(H0.shape[0]))
    np.testing.assert_allclose(fk, fr, rtol=0, atol=twin_atol(dtype, (np.abs(H0) + np.abs(L)).sum(1).max()))
    np.testing.assert_array_equal(Lk, Lr)


def test_gate_at_the_threshold_is_closed():
    """|h0| = b closes the gate: neither the soft part nor ΔW nor W0 of that neuron counts."""
    X = np.array([[1.0, 0.0]])
    W0 = np.array([[0.5, 0.0], [-0.5, 0.0], [0.6, 0.0]])
    dW = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    H0 = X @ W0.T
    b = np.array([0.5, 0.5, 0.5])
    f, G = np.empty(1), np.empty_like(X)
    K.open_gate_margin_backward(H0, b, X, W0, dW, np.array([1.0]), f, G)
    np.testing.assert_allclose(f, [0.1 + 3.0])
    np.testing.assert_allclose(G, [[-3.6, 0.0]])
    L = X @ dW.T
    K.linearised_margin_backward_inplace(H0, L, b, np.array([1.0]), f)
    np.testing.assert_allclose(f, [0.1 + 3.0])
    np.testing.assert_array_equal(L, [[0.0, 0.0, -1.0]])
    assert K.open_gate_count(H0, b) == 1
