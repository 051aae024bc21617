"""Attacks stay inside their balls; robust accuracy is bounded by clean accuracy and monotone."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.attacks import (AttackSettings, dense_attack, feature_attack, fgm_attack,
                               pgd_attack, robust_accuracy_table)
from simulator.config import DataConfig, NetworkConfig
from simulator.data import SparseCodingProblem
from simulator.lower_bounds import PolynomialKernelModel
from simulator.network import ThresholdNetwork, ideal_network
from simulator.norms import project, radius_in_norm, random_in_ball, steepest_step
from simulator.rng import stream
from tests.tolerances import twin_atol


def setup(seed=0, d=24, m=16):
    P = SparseCodingProblem(DataConfig(input_dim=d, sparsity=3, noise=0.05), stream(seed, "problem"))
    rng = np.random.default_rng(seed)
    W = (P.M * P.w_star).T + 0.15 * rng.standard_normal((d, d))  # a noisy ideal network
    net = ThresholdNetwork(np.vstack([W, 0.1 * rng.standard_normal((m, d))]), threshold=0.3)
    return P, net, P.sample(64, stream(seed, "test_data"))


@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 2**31), tau=st.floats(0.01, 2.0), norm=st.sampled_from(["l2", "linf"]))
def test_every_perturbation_lies_in_its_ball(seed, tau, norm):
    P, net, b = setup(seed)
    r = radius_in_norm(tau, norm, P.config.input_dim)
    rng = np.random.default_rng(seed)
    deltas = {
        "fgm": fgm_attack(net, b.X, b.y, r, norm),
        "pgd": pgd_attack(net, b.X, b.y, r, norm, AttackSettings(5, 1, 0.5), rng)[1],
        "dense": dense_attack(P, b.X, b.y, r, norm),
        "features": feature_attack(P, b.Z, b.X, b.y, r, norm),
        "random": random_in_ball(b.X.shape, r, norm, rng, b.X.dtype),
    }
    for name, D in deltas.items():
        size = np.linalg.norm(D, axis=1) if norm == "l2" else np.abs(D).max(axis=1)
        assert np.all(size <= r * (1 + 1e-12)), name


@settings(deadline=None)
@given(seed=st.integers(0, 2**31), r=st.floats(1e-3, 10.0))
def test_fgm_l2_has_norm_exactly_tau_and_linf_is_a_vertex(seed, r):
    G = np.random.default_rng(seed).standard_normal((9, 7))
    np.testing.assert_allclose(np.linalg.norm(steepest_step(G, r, "l2"), axis=1), r, rtol=1e-12)
    np.testing.assert_allclose(np.abs(steepest_step(G, r, "linf")), r)


def test_zero_gradient_gives_zero_step():
    G = np.zeros((2, 3))
    assert np.all(steepest_step(G, 1.0, "l2") == 0)


@settings(deadline=None)
@given(seed=st.integers(0, 2**31), norm=st.sampled_from(["l2", "linf"]))
def test_projection_is_idempotent_and_inside(seed, norm):
    D = np.random.default_rng(seed).standard_normal((5, 4)) * 3
    P1 = project(D.copy(), 0.7, norm)
    P2 = project(P1.copy(), 0.7, norm)
    np.testing.assert_allclose(P1, P2)
    size = np.linalg.norm(P1, axis=1) if norm == "l2" else np.abs(P1).max(axis=1)
    assert np.all(size <= 0.7 + 1e-12)


@settings(deadline=None, max_examples=10)
@given(seed=st.integers(0, 2**31), norm=st.sampled_from(["l2", "linf"]))
def test_robust_accuracy_bounded_by_clean_and_monotone(seed, norm):
    P, net, b = setup(seed)
    radii = [radius_in_norm(t, norm, 24) for t in (0.0, 0.1, 0.3, 0.6, 1.0)]
    clean, rows = robust_accuracy_table(net, P, b, radii, norm, AttackSettings(5, 1, 0.3),
                                        np.random.default_rng(seed))
    ens = [r["robust_acc"] for r in rows if r["attack"] == "ensemble"]
    assert ens[0] == clean
    assert all(e <= clean for e in ens)
    assert all(a >= b_ for a, b_ in zip(ens, ens[1:]))
    for r in rows:  # the ensemble is the worst case of its members at each radius
        same = [q["robust_acc"] for q in rows if q["radius"] == r["radius"]]
        assert min(same) == [q for q in rows if q["radius"] == r["radius"] and q["attack"] == "ensemble"][0]["robust_acc"]


def test_pgd_finds_the_exact_worst_case_of_a_linear_model():
    """For f(x) = ⟨w, x⟩ the worst ℓ2 perturbation lowers y f by r‖w‖: PGD must reach it."""

    class Linear:
        def __init__(self, w):
            self.w = w

        def decision_function(self, X):
            return X @ self.w

        def margin_gradient(self, X, y):
            return X @ self.w, -y[:, None] * self.w[None, :]

    rng = np.random.default_rng(0)
    w = rng.standard_normal(10)
    X = rng.standard_normal((50, 10))
    y = np.sign(X @ w)
    r = 0.4
    best, _ = pgd_attack(Linear(w), X, y, r, "l2", AttackSettings(20, 0, 0.2), rng)
    np.testing.assert_allclose(best, np.abs(X @ w) - r * np.linalg.norm(w), rtol=1e-9, atol=1e-12)
    best, _ = pgd_attack(Linear(w), X, y, r, "linf", AttackSettings(20, 0, 0.2), rng)
    np.testing.assert_allclose(best, np.abs(X @ w) - r * np.abs(w).sum(), rtol=1e-9, atol=1e-12)


def test_ideal_network_survives_small_radius_and_breaks_at_large():
    cfg = DataConfig(input_dim=64, sparsity=4, noise=0.0)
    P = SparseCodingProblem(cfg, stream(0, "problem"))
    net = ideal_network(P, NetworkConfig(threshold=0.3, dtype="float64"))
    b = P.sample(200, stream(0, "test_data"))
    clean, rows = robust_accuracy_table(net, P, b, [0.05, 3.0], "l2", AttackSettings(10, 1, 0.2),
                                        np.random.default_rng(0))
    ens = [r["robust_acc"] for r in rows if r["attack"] == "ensemble"]
    # y f ≥ 0.7 and ‖∇f‖ ≤ √(#active)... at r = 0.05 nothing flips; at r = 3 everything does
    assert clean == 1.0 and ens[0] == 1.0 and ens[1] == 0.0


@settings(deadline=None, max_examples=10)
@given(seed=st.integers(0, 2**31), norm=st.sampled_from(["l2", "linf"]))
def test_pgd_on_survivors_only_gives_the_same_ensemble(seed, norm):
    """Skipping PGD on samples the ensemble already broke changes no ensemble figure.

    Without random restarts PGD is deterministic per sample, so running it on every sample
    (stand-alone rows at every radius) and only on survivors must agree exactly.
    """
    P, net, b = setup(seed)
    radii = [radius_in_norm(t, norm, 24) for t in (0.0, 0.1, 0.3, 0.6, 1.0)]
    s = AttackSettings(5, 0, 0.3)
    _, full = robust_accuracy_table(net, P, b, radii, norm, s, np.random.default_rng(seed))
    _, lean = robust_accuracy_table(net, P, b, radii, norm, s, np.random.default_rng(seed),
                                    standalone_radii=())
    ens = lambda rows: [r["robust_acc"] for r in rows if r["attack"] == "ensemble"]  # noqa: E731
    assert ens(full) == ens(lean)
    assert {r["attack"] for r in lean} == {"fgm", "dense", "features", "ensemble"}
    assert len([r for r in full if r["attack"] == "pgd"]) == len(radii)


def test_radii_must_ascend():
    P, net, b = setup(0)
    with pytest.raises(ValueError, match="'radii' parameter of robust_accuracy_table"):
        robust_accuracy_table(net, P, b, [0.2, 0.1], "l2", AttackSettings(2, 0, 0.3),
                              np.random.default_rng(0))


# ----------------------------------------------------------------------------------------
# A model's steering twin (the polynomial models' float32 one) chooses PGD's directions only
# ----------------------------------------------------------------------------------------


def poly_setup(seed, d=12, degree=3):
    rng = np.random.default_rng(seed)
    P = SparseCodingProblem(DataConfig(input_dim=d, sparsity=3, noise=0.05), stream(seed, "problem"))
    b = P.sample(48, stream(seed, "test_data"))
    C = P.sample(20, stream(seed, "train_data")).X.astype(np.float64)
    alpha = np.sign(C @ P.label_direction) + 0.3 * rng.standard_normal(20)
    return P, PolynomialKernelModel(C, alpha, degree=degree, offset=1.0, scale=3.0,
                                    batch_size=16), b


class _LyingTwin:
    """The model's own gradient, with values that call every iterate broken."""

    def __init__(self, model):
        self.model = model

    def margin_gradient(self, X, y):
        f, G = self.model.margin_gradient(X, y)
        return -np.asarray(y, float) * (np.abs(f) + 1.0), G


@pytest.mark.parametrize("norm", ["l2", "linf"])
@pytest.mark.parametrize("degree", [2, 3])
def test_a_twin_that_calls_every_iterate_broken_changes_nothing(norm, degree):
    """Only the model decides a break: a twin with the model's gradients but values ≤ 0
    everywhere gives exactly the attack on the model alone (margins, deltas, random starts)."""
    P, model, b = poly_setup(1, degree=degree)
    X, y = b.X.astype(np.float64), b.y.astype(np.float64)
    r = radius_in_norm(0.4, norm, X.shape[1])
    s = AttackSettings(8, 2, 0.2)
    model.steering = lambda: model  # the model as its own twin: today's attack
    plain = pgd_attack(model, X, y, r, norm, s, np.random.default_rng(5), stop_when_broken=True)
    model.steering = lambda: _LyingTwin(model)
    lied = pgd_attack(model, X, y, r, norm, s, np.random.default_rng(5), stop_when_broken=True)
    assert 0 < (plain[0] > 0).sum() < X.shape[0]  # some points break, some survive
    np.testing.assert_array_equal((lied[0] > 0), (plain[0] > 0))
    # the same margins, through decision_function instead of margin_gradient (other rounding)
    np.testing.assert_allclose(lied[0][plain[0] <= 0], plain[0][plain[0] <= 0], rtol=1e-12)
    np.testing.assert_array_equal(lied[1][plain[0] <= 0], plain[1][plain[0] <= 0])


@settings(deadline=None, max_examples=15)
@given(seed=st.integers(0, 2**31), tau=st.floats(0.05, 1.0), norm=st.sampled_from(["l2", "linf"]),
       degree=st.sampled_from([2, 3]))
def test_float32_steered_pgd_breaks_only_with_the_models_own_counterexamples(seed, tau, norm,
                                                                               degree):
    P, model, b = poly_setup(seed, degree=degree)
    X, y = b.X.astype(np.float64), b.y.astype(np.float64)
    r = radius_in_norm(tau, norm, X.shape[1])
    best, delta = pgd_attack(model, X, y, r, norm, AttackSettings(10, 1, 0.2),
                             np.random.default_rng(seed), stop_when_broken=True)
    broken = best <= 0
    margins = y[broken] * model.decision_function(X[broken] + delta[broken])
    # float64, the model's own value (recomputed on another subset: other rounding, relative
    # to the size of the kernel sum's terms, not of the margin)
    Xb = X[broken] + delta[broken]
    terms = np.abs(model.offset + Xb @ model.centres.T / model.scale) ** degree @ np.abs(model.alpha)
    np.testing.assert_allclose(margins, best[broken], rtol=0,
                               atol=twin_atol(np.float64, terms.max(initial=0.0)))
    assert np.all(margins <= 0)
    size = np.linalg.norm(delta, axis=1) if norm == "l2" else np.abs(delta).max(axis=1)
    assert np.all(size <= r * (1 + 1e-12))


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_steered_pgd_falls_back_to_the_model_where_float32_overflows(norm):
    """Values beyond float32's range (α ≤ 1.6e38 fits, f ≈ 1e39 does not): the twin gives
    inf, PGD steers with the model itself and finds what the float64 attack finds."""
    P, model, b = poly_setup(2, degree=3)
    big = PolynomialKernelModel(model.centres, model.alpha * 1e38, degree=3, offset=1.0,
                                scale=3.0, batch_size=16)
    X, y = b.X.astype(np.float64), b.y.astype(np.float64)
    twin = big.steering()
    assert twin is not big and not np.isfinite(twin.margin_gradient(X, y)[0]).all()
    r = radius_in_norm(0.4, norm, X.shape[1])
    s = AttackSettings(8, 1, 0.2)
    steered = pgd_attack(big, X, y, r, norm, s, np.random.default_rng(3), stop_when_broken=True)
    big.steering = lambda: big
    plain = pgd_attack(big, X, y, r, norm, s, np.random.default_rng(3), stop_when_broken=True)
    assert 0 < (plain[0] > 0).sum() < X.shape[0]
    np.testing.assert_array_equal(steered[0] > 0, plain[0] > 0)
    np.testing.assert_array_equal(steered[1], plain[1])


def test_a_model_beyond_float32_steers_itself():
    _, model, _ = poly_setup(2, degree=3)
    huge = PolynomialKernelModel(model.centres, model.alpha * 1e40, degree=3, offset=1.0,
                                 scale=3.0)
    assert huge.steering() is huge and model.steering() is not model
