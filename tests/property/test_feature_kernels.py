"""Each numba kernel of simulator/kernels/features.py agrees with its numpy twin."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.kernels import features as K
from simulator.reference import features as R
from tests.tolerances import twin_atol

DTYPES = [np.float64, np.float32]


@st.composite
def codes_and_weights(draw, dtype):
    """Sparse codes Z (n, D) with ±1 or Gaussian values, Ct (D, m) and coefficients P (n, m)."""
    n = draw(st.integers(1, 9))
    D = draw(st.integers(1, 9))
    m = draw(st.integers(1, 9))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    density = draw(st.sampled_from([0.0, 0.3, 1.0]))
    mask = rng.random((n, D)) < density
    values = rng.choice([-1.0, 1.0], (n, D)) if draw(st.booleans()) else rng.standard_normal((n, D))
    Z = sp.csr_matrix(np.where(mask, values, 0.0))
    Z.sort_indices()
    Ct = rng.standard_normal((D, m)).astype(dtype)
    # backward coefficients: one value per sample on its active units, zero elsewhere
    P = (rng.standard_normal((n, 1)) * (rng.random((n, m)) < draw(st.sampled_from([0.0, 0.2, 1.0])))).astype(dtype)
    return Z, Ct, P


def csr_parts(Z, dtype):
    return (Z.indptr.astype(np.int64), Z.indices.astype(np.int64), Z.data.astype(dtype))


def csc_parts(Z, dtype):
    C = Z.tocsc()
    C.sort_indices()
    return (C.indptr.astype(np.int64), C.indices.astype(np.int64), C.data.astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(data=st.data())
def test_codes_product(dtype, data):
    Z, Ct, _ = data.draw(codes_and_weights(dtype))
    a = np.full((Z.shape[0], Ct.shape[1]), np.nan, dtype)
    r = np.empty_like(a)
    K.codes_product(*csr_parts(Z, dtype), Ct, a)
    R.codes_product(*csr_parts(Z, dtype), Ct, r)
    scale = (abs(Z) @ np.abs(Ct.astype(np.float64))).max(initial=0.0)
    np.testing.assert_allclose(a, r, rtol=0, atol=twin_atol(dtype, scale))


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(data=st.data(), alpha=st.sampled_from([1.0, -0.25]))
def test_add_codes_transpose_product(dtype, data, alpha):
    Z, Ct, P = data.draw(codes_and_weights(dtype))
    n, m = P.shape
    # P in the kernel's form: one coefficient per sample on the listed active units
    coef = P.max(axis=1) + P.min(axis=1)
    units = np.full((n, m), -1, np.int32)
    count = np.empty(n, np.int64)
    for r in range(n):
        active = np.flatnonzero(P[r])
        units[r, :active.size] = active
        count[r] = active.size
    a, r_ = Ct.copy(), Ct.copy()
    K.add_codes_transpose_product(*csc_parts(Z, dtype), coef, units, count, dtype(alpha), a)
    R.add_codes_transpose_product(*csc_parts(Z, dtype), coef, units, count, dtype(alpha), r_)
    scale = np.abs(Ct).max() + (abs(Z).T @ np.abs(P.astype(np.float64))).max(initial=0.0)
    np.testing.assert_allclose(a, r_, rtol=0, atol=twin_atol(dtype, scale))


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None)
@given(D=st.integers(1, 7), m=st.sampled_from([1, 2, 7, 300]), seed=st.integers(0, 2**32 - 1))
def test_column_norms(dtype, D, m, seed):
    """m = 300 spans two of the kernel's blocks of columns."""
    A = np.random.default_rng(seed).standard_normal((D, m)).astype(dtype)
    a, r = np.empty(m, dtype), np.empty(m, dtype)
    K.column_norms(A, a)
    R.column_norms(A, r)
    np.testing.assert_allclose(a, r, rtol=1e-6 if dtype == np.float32 else 1e-14)
