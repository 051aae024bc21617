"""benchmarks/ideal_radius_bound.py's closed form against the exact verifier.

Without noise the ideal network's worst-case margin over the ℓ2 ball of radius τ is
(1 − θ)·|⟨w*, z⟩| − τ·√n_a (the script's docstring); the exact solver
(:func:`simulator.certification.exact.exact_min_margin`) must find the same minimum, and the
script's robust share must count exactly the points where it is positive.
"""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.ideal_radius_bound import THETA, robust_share
from simulator.certification.exact import exact_min_margin
from simulator.config import DataConfig, NetworkConfig
from simulator.data import SparseCodingProblem
from simulator.network import ideal_network
from simulator.rng import stream


@settings(deadline=None, max_examples=12)
@given(seed=st.integers(0, 10_000), tau=st.floats(0.02, 0.3), sparsity=st.sampled_from([3.0, 5.0, 8.0]))
def test_closed_form_worst_margin_equals_the_exact_solver(seed, tau, sparsity):
    problem = SparseCodingProblem(DataConfig(input_dim=16, sparsity=sparsity, noise=0.0),
                                  stream(seed, "problem"))
    net = ideal_network(problem, NetworkConfig(threshold=THETA, dtype="float64"))
    batch = problem.sample(6, stream(seed, "test_data"))
    S = np.asarray(batch.Z @ problem.w_star).ravel()
    n_active = np.diff(batch.Z.indptr)
    for i in range(6):
        closed = (1 - THETA) * abs(S[i]) - tau * math.sqrt(n_active[i])
        got = exact_min_margin(net.W, net.b, batch.X[i], batch.y[i], tau, "l2")
        assert math.isclose(got, closed, rel_tol=1e-6, abs_tol=1e-6), (i, got, closed)
    margins = (1 - THETA) * np.abs(S) - tau * np.sqrt(n_active)
    assert robust_share(S, n_active, tau) == float(np.mean(margins > 0))


def test_radius_outside_the_formula_is_refused():
    import pytest

    with pytest.raises(ValueError, match="'tau' parameter must be in the range"):
        robust_share(np.ones(3), np.ones(3), 0.5)
