"""Each numba kernel of simulator/kernels/features.py agrees with its numpy twin."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from simulator.kernels import feature_path as K
from simulator.reference import feature_path as R
from tests.tolerances import NORM_RTOL, twin_atol

DTYPES = [np.float64, np.float32]


@st.composite
def codes_and_weights(draw, dtype):
    """Sparse codes Z (n, D) with ±1 or Gaussian values, Ct (D, m), thresholds b and labels y.

    Up to 40 samples (the evaluation kernel takes 16 per task) and up to 40 units (split
    into up to 5 parts by the step's kernels).
    """
    n = draw(st.one_of(st.integers(1, 9), st.integers(15, 40)))
    D = draw(st.integers(1, 9))
    m = draw(st.integers(1, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    density = draw(st.sampled_from([0.0, 0.3, 1.0]))
    mask = rng.random((n, D)) < density
    values = rng.choice([-1.0, 1.0], (n, D)) if draw(st.booleans()) else rng.standard_normal((n, D))
    Ct = rng.standard_normal((D, m)).astype(dtype)
    b = (np.abs(rng.standard_normal(m)) * draw(st.sampled_from([0.0, 0.5, 1.0]))).astype(dtype)
    if draw(st.booleans()):
        # a pre-activation exactly at ±its threshold: sample r has the single code ±1 on
        # feature j, so h_ri = ±Ct[j, i] exactly, and b_i = |Ct[j, i]|
        r, j, i = rng.integers(n), rng.integers(D), rng.integers(m)
        mask[r] = False
        mask[r, j] = True
        values[r, j] = rng.choice([-1.0, 1.0])
        b[i] = abs(Ct[j, i])
    Z = sp.csr_matrix(np.where(mask, values, 0.0))
    Z.sort_indices()
    y = rng.choice(np.array([-1.0, 1.0], dtype=dtype), n)
    return Z, Ct, b, y


def csr_parts(Z, dtype):
    return (Z.indptr.astype(np.int64), Z.indices.astype(np.int64), Z.data.astype(dtype))


def csc_parts(Z, dtype):
    C = Z.tocsc()
    C.sort_indices()
    return (C.indptr.astype(np.int64), C.indices.astype(np.int64), C.data.astype(dtype))


def clear_of_thresholds(Z, Ct, b, dtype):
    """No pre-activation within rounding of ±its threshold, except exactly at it from a
    single term (computed exactly on both sides, inactive on both): elsewhere near the
    threshold the two sums' rounding may disagree on which units are active."""
    scale = np.asarray(abs(Z) @ np.abs(Ct.astype(np.float64))).max(initial=0.0)
    gap = np.abs(np.abs(np.asarray(Z @ Ct.astype(np.float64))) - b[None, :].astype(np.float64))
    exact = (gap == 0) & (np.diff(Z.indptr) == 1)[:, None]
    return bool(np.all((gap > 10 * twin_atol(dtype, scale)) | exact))


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(data=st.data())
def test_codes_soft_threshold_sum(dtype, data):
    Z, Ct, b, _ = data.draw(codes_and_weights(dtype))
    a, r = np.full(Z.shape[0], np.nan), np.empty(Z.shape[0])
    K.codes_soft_threshold_sum(*csr_parts(Z, dtype), Ct, b, a)
    R.codes_soft_threshold_sum(*csr_parts(Z, dtype), Ct, b, r)
    scale = (abs(Z) @ np.abs(Ct.astype(np.float64))).sum(axis=1).max(initial=0.0)
    np.testing.assert_allclose(a, r, rtol=0, atol=twin_atol(dtype, scale))


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(data=st.data(), n_parts=st.integers(1, 5))
def test_codes_forward_parts(dtype, data, n_parts):
    Z, Ct, b, _ = data.draw(codes_and_weights(dtype))
    assume(n_parts <= Ct.shape[1] and clear_of_thresholds(Z, Ct, b, dtype))
    n, m = Z.shape[0], Ct.shape[1]
    outs = []
    for mod in (K, R):
        f_parts = np.full((n_parts, n), np.nan)
        units, count = np.full((n, m), -1, np.int32), np.full((n_parts, n), -1, np.int64)
        mod.codes_forward_parts(*csr_parts(Z, dtype), Ct, b, f_parts, units, count)
        outs.append((f_parts, units, count))
    (fk, uk, nk), (fr, ur, nr) = outs
    scale = (abs(Z) @ np.abs(Ct.astype(np.float64))).sum(axis=1).max(initial=0.0)
    np.testing.assert_allclose(fk, fr, rtol=0, atol=twin_atol(dtype, scale))
    np.testing.assert_array_equal(nk, nr)
    for t in range(n_parts):
        c0 = t * m // n_parts
        for r in range(n):
            np.testing.assert_array_equal(uk[r, c0:c0 + nk[t, r]], ur[r, c0:c0 + nr[t, r]])
    # every active unit is listed once, in its own part
    H = np.asarray(Z @ Ct.astype(np.float64))
    listed = [np.concatenate([t * m // n_parts + uk[r, t * m // n_parts:t * m // n_parts + nk[t, r]]
                              for t in range(n_parts)]) for r in range(n)]
    for r in range(n):
        np.testing.assert_array_equal(listed[r], np.flatnonzero(np.abs(H[r]) > b))


@settings(deadline=None)
@given(n=st.integers(1, 30), n_parts=st.integers(1, 4), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([1.0, 40.0]))
def test_logistic_from_parts(n, n_parts, seed, scale):
    """scale 40: margins where the loss needs its overflow-safe form."""
    rng = np.random.default_rng(seed)
    f_parts = rng.standard_normal((n_parts, n)) * scale
    y = rng.choice([-1.0, 1.0], n)
    outs = []
    for mod in (K, R):
        f, loss, coef = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
        mod.logistic_from_parts(f_parts, y, f, loss, coef)
        outs.append((f, loss, coef))
    for a, r in zip(*outs):
        np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-300)
    assert np.all(np.isfinite(outs[0][1])) and np.all(np.abs(outs[0][2]) <= 1)


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(data=st.data(), n_parts=st.integers(1, 5), alpha=st.sampled_from([1.0, -0.25]))
def test_codes_update_parts(dtype, data, n_parts, alpha):
    """The update and the norms after it, from active units listed by the forward kernel."""
    Z, Ct, b, y = data.draw(codes_and_weights(dtype))
    assume(n_parts <= Ct.shape[1])
    n, m = Z.shape[0], Ct.shape[1]
    f_parts = np.empty((n_parts, n))
    units, count = np.full((n, m), -1, np.int32), np.empty((n_parts, n), np.int64)
    K.codes_forward_parts(*csr_parts(Z, dtype), Ct, b, f_parts, units, count)
    coef = np.random.default_rng(0).standard_normal(n).astype(dtype)
    a, r_ = Ct.copy(), Ct.copy()
    norms_a, norms_r = np.full(m, np.nan, dtype), np.full(m, np.nan, dtype)
    K.codes_update_parts(*csc_parts(Z, dtype), coef, units, count, dtype(alpha), a, norms_a)
    R.codes_update_parts(*csc_parts(Z, dtype), coef, units, count, dtype(alpha), r_, norms_r)
    scale = np.abs(Ct).max() + (abs(Z).T @ np.ones((n, 1))).max(initial=0.0) * np.abs(coef).max(initial=0.0)
    np.testing.assert_allclose(a, r_, rtol=0, atol=twin_atol(dtype, scale))
    np.testing.assert_allclose(norms_a, norms_r, rtol=0, atol=twin_atol(dtype, np.sqrt(Ct.shape[0]) * scale))
    # the norms are those of the updated weights
    np.testing.assert_allclose(norms_a, np.linalg.norm(a.astype(np.float64), axis=0),
                               rtol=NORM_RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(D=st.integers(1, 7), m=st.sampled_from([1, 2, 7, 300]), seed=st.integers(0, 2**32 - 1))
def test_column_norms(dtype, D, m, seed):
    """m = 300 spans two of the kernel's blocks of columns."""
    A = np.random.default_rng(seed).standard_normal((D, m)).astype(dtype)
    a, r = np.empty(m, dtype), np.empty(m, dtype)
    K.column_norms(A, a)
    R.column_norms(A, r)
    np.testing.assert_allclose(a, r, rtol=NORM_RTOL[dtype])
