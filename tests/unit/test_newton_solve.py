"""The polynomial machines' Newton solve (serial Cholesky) against independent references.

:func:`simulator.lower_bounds.polynomial.solve_newton_system` factors the Newton system on one
BLAS thread (the threaded factorisation is an order of magnitude slower at n_centres = 1536).
It must give the same direction as a dense solve of the full symmetric system, read only the
upper triangle, not depend on the caller's thread count, and leave the caller's BLAS thread
limit as it found it.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg.blas import dsyrk
from threadpoolctl import threadpool_info, threadpool_limits

from simulator.lower_bounds.polynomial import newton_direction, solve_newton_system

SOLVE_RTOL = 1e-9  # two backward-stable solves of a system with condition number ≤ ~1e6


def spd_upper(rng, n, n_rows):
    """An SPD matrix as dsyrk leaves it (upper triangle meaningful, lower left at zero)."""
    A = rng.standard_normal((n_rows, n))
    H = dsyrk(1.0, A.T, trans=0, lower=0)
    H.flat[::n + 1] += 1e-3 * n_rows
    return H


@settings(deadline=None, max_examples=25)
@given(seed=st.integers(0, 2 ** 31 - 1), n=st.integers(1, 40), extra=st.integers(0, 40))
def test_solve_equals_a_dense_solve_of_the_full_symmetric_system(seed, n, extra):
    rng = np.random.default_rng(seed)
    H = spd_upper(rng, n, n + extra)
    grad = rng.standard_normal(n)
    full = np.triu(H) + np.triu(H, 1).T
    expected = np.linalg.solve(full, grad)
    got = solve_newton_system(H, grad)
    np.testing.assert_allclose(got, expected, rtol=SOLVE_RTOL,
                               atol=SOLVE_RTOL * np.abs(expected).max())


def test_solve_reads_only_the_upper_triangle():
    rng = np.random.default_rng(3)
    H = spd_upper(rng, 30, 60)
    grad = rng.standard_normal(30)
    garbage = H.copy()
    garbage[np.tril_indices(30, -1)] = rng.standard_normal(30 * 29 // 2) * 1e6
    np.testing.assert_array_equal(solve_newton_system(garbage, grad), solve_newton_system(H, grad))


@pytest.mark.parametrize("threads", [1, 2])
def test_solve_is_independent_of_the_callers_thread_count_and_restores_it(threads):
    rng = np.random.default_rng(4)
    H = spd_upper(rng, 300, 400)  # above OpenBLAS's threading threshold
    grad = rng.standard_normal(300)
    reference = solve_newton_system(H, grad)
    with threadpool_limits(limits=threads, user_api="blas"):
        before = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
        got = solve_newton_system(H, grad)
        after = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    np.testing.assert_array_equal(got, reference)
    assert after == before


def test_newton_direction_solves_the_newton_system_of_the_objective():
    """The direction against the Hessian and gradient written out densely."""
    rng = np.random.default_rng(5)
    n, c, reg = 80, 12, 1e-3
    A = rng.standard_normal((n, c))
    C = rng.standard_normal((c, c))
    K = C @ C.T
    alpha = 0.1 * rng.standard_normal(c)
    y = rng.choice([-1.0, 1.0], n)
    direction, value, slope = newton_direction(A, alpha, y, K, reg, 0.0)
    f = A @ alpha
    s = 1.0 / (1.0 + np.exp(y * f))  # σ(−y f)
    grad = A.T @ (-y * s) / n + reg * K @ alpha
    H = A.T @ (A * (s * (1 - s))[:, None]) / n + reg * K
    expected = np.linalg.solve(H, grad)
    np.testing.assert_allclose(direction, expected, rtol=SOLVE_RTOL, atol=1e-12)
    assert value == pytest.approx(np.logaddexp(0, -y * f).mean() + 0.5 * reg * alpha @ K @ alpha,
                                  rel=1e-12)
    assert slope == pytest.approx(grad @ expected, rel=1e-9)
