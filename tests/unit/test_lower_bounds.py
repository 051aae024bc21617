"""The lower-bound models of claim 3: exact linear robustness, gradients, polynomial and NTK
identities, training, and argument validation (the NTK kernels against their numpy twins:
tests/property/test_ntk_kernels.py)."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.attacks import AttackSettings, robust_accuracy_table
from simulator.lower_bounds import (LowerBoundConfig, LinearModel, NTKModel, PolynomialKernelModel,
                                 fit_lower_bound, fit_linear, fit_ntk, fit_polynomial,
                                 oracle_linear, robust_logistic_loss)
from simulator.lower_bounds.polynomial import perturb_points
from simulator.config import ConfigError, DataConfig, NetworkConfig
from simulator.data import SparseCodingProblem
from simulator.network import ThresholdNetwork, decision_function, init_weights
from simulator.norms import radius_in_norm, random_in_ball
from simulator.rng import stream
from tests.tolerances import FD_RTOL, TWIN_RTOL

# every threshold of this module
EXACT_RTOL = 1e-12  # closed form vs the same maths evaluated at the worst δ
FD_STEP = 1e-6  # central finite-difference step, relative to ‖x‖
POLY_RTOL = 1e-10  # kernel sum vs its explicit monomial expansion (float64)
SMALL = DataConfig(input_dim=16, sparsity=3, noise=0.05)
# float64 explicitly: the tolerances below are float64's (the default dtype is float32)
SMALL_NET = NetworkConfig(width=24, init_scale=1.0, dtype="float64")


def small_problem(seed=0, cfg=SMALL):
    return SparseCodingProblem(cfg, stream(seed, "problem"))


def directional_fd(model, X, y, V, h):
    """Central differences of −y f along the rows of V."""
    fp = model.decision_function(X + h * V)
    fm = model.decision_function(X - h * V)
    return -y * (fp - fm) / (2 * h)


# ----------------------------------------------------------------------------------------
# Linear models: the closed form is exact
# ----------------------------------------------------------------------------------------


@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 2**31), d=st.integers(1, 8), r=st.floats(1e-3, 3.0))
def test_linear_linf_closed_form_equals_brute_force_over_vertices(seed, d, r):
    """A linear function is minimised over the ℓ∞ ball at a vertex: enumerate all 2^d."""
    rng = np.random.default_rng(seed)
    model = LinearModel(rng.standard_normal(d))
    X, y = rng.standard_normal((5, d)), rng.choice([-1.0, 1.0], 5)
    vertices = r * np.array(list(itertools.product([-1.0, 1.0], repeat=d)))
    brute = np.array([np.min(yi * model.decision_function(xi + vertices)) for xi, yi in zip(X, y)])
    exact = model.robust_margin(X, y, r, "linf")
    scale = np.abs(model.w).sum() * (np.abs(X).max() + r)
    np.testing.assert_allclose(exact, brute, rtol=0, atol=EXACT_RTOL * scale)


@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 2**31), r=st.floats(1e-3, 3.0))
def test_linear_l2_closed_form_equals_brute_force_on_a_circle(seed, r):
    """d = 2: the minimum over a fine grid of the circle approaches the closed form from above."""
    rng = np.random.default_rng(seed)
    model = LinearModel(rng.standard_normal(2))
    X, y = rng.standard_normal((5, 2)), rng.choice([-1.0, 1.0], 5)
    n_angles = 20000
    t = np.linspace(0, 2 * np.pi, n_angles, endpoint=False)
    circle = r * np.stack([np.cos(t), np.sin(t)], axis=1)
    brute = np.array([np.min(yi * model.decision_function(xi + circle)) for xi, yi in zip(X, y)])
    exact = model.robust_margin(X, y, r, "l2")
    grid_gap = r * np.linalg.norm(model.w) * (1 - np.cos(np.pi / n_angles))  # worst grid miss
    assert np.all(brute >= exact - 1e-12 * (1 + np.abs(exact)))
    assert np.all(brute <= exact + grid_gap + 1e-12 * (1 + np.abs(exact)))


@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 2**31), d=st.integers(1, 40), r=st.floats(0.0, 3.0),
       norm=st.sampled_from(["l2", "linf"]))
def test_linear_worst_perturbation_reaches_the_closed_form_and_no_point_beats_it(seed, d, r, norm):
    rng = np.random.default_rng(seed)
    model = LinearModel(rng.standard_normal(d))
    X, y = rng.standard_normal((6, d)), rng.choice([-1.0, 1.0], 6)
    exact = model.robust_margin(X, y, r, norm)
    delta = model.worst_perturbation(y, r, norm)
    size = np.linalg.norm(delta, axis=1) if norm == "l2" else np.abs(delta).max(axis=1)
    assert np.all(size <= r * (1 + 1e-12))
    scale = (np.abs(model.w).sum()) * (np.abs(X).max() + r)
    np.testing.assert_allclose(y * model.decision_function(X + delta), exact, rtol=0,
                               atol=EXACT_RTOL * scale)
    for _ in range(5):
        D = random_in_ball(X.shape, r, norm, rng, np.float64)
        assert np.all(y * model.decision_function(X + D) >= exact - EXACT_RTOL * scale)


@settings(deadline=None, max_examples=10)
@given(seed=st.integers(0, 2**31), norm=st.sampled_from(["l2", "linf"]))
def test_attack_ensemble_equals_exact_robust_accuracy_for_linear_models(seed, norm):
    """The ensemble is an upper bound; for a linear model FGM is the exact worst case."""
    P = small_problem(seed % 5)
    test = P.sample(200, stream(seed, "test_data"))
    rng = np.random.default_rng(seed)
    # a noisy oracle: robust for some samples, not for others, at these radii
    model = LinearModel(P.label_direction + 0.5 * rng.standard_normal(P.config.input_dim))
    taus = (0.0, 0.1, 0.3, 0.6, 1.0)
    radii = [radius_in_norm(t, norm, P.config.input_dim) for t in taus]
    clean, rows = robust_accuracy_table(model, P, test, radii, norm, AttackSettings(5, 1, 0.3), rng)
    assert clean == model.exact_robust_accuracy(test.X, test.y, 0.0, norm)
    for radius in radii:
        exact = model.exact_robust_accuracy(test.X, test.y, radius, norm)
        got = {r["attack"]: r["robust_acc"] for r in rows if r["radius"] == radius}
        margin = model.robust_margin(test.X, test.y, radius, norm)
        ties = np.mean(np.abs(margin) < 1e-9 * (1 + np.abs(test.y * model.decision_function(test.X))))
        assert got["ensemble"] >= exact - ties
        assert abs(got["fgm"] - exact) <= ties
        assert abs(got["ensemble"] - exact) <= ties


def test_oracle_is_the_label_direction():
    P = small_problem()
    np.testing.assert_array_equal(oracle_linear(P).w, P.M @ P.w_star)
    test = P.sample(300, stream(0, "test_data"))
    assert oracle_linear(P).exact_robust_accuracy(test.X, test.y, 0.0, "l2") > 0.97


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_robust_linear_training_lowers_the_robust_loss(norm):
    """SGD on the exact robust loss starts at log 2 (w = 0) and ends below it, and below the
    robust loss of the clean-trained model (τ = 0.3 > the smallest margin per unit ‖w‖ of the
    oracle, 1/√d = 0.25, so the robust constraint binds)."""
    P = small_problem(1)
    d = P.config.input_dim
    r = radius_in_norm(0.3, norm, d)
    held = P.sample(2000, stream(1, "test_data"))
    kw = dict(norm=norm, steps=400, batch_size=256, step_size=4.0)
    robust = fit_linear(P, radius=r, rng=stream(1, "lower_bounds"), **kw)
    clean = fit_linear(P, radius=0.0, rng=stream(1, "lower_bounds"), **kw)
    assert robust.history["train"][0] == pytest.approx(math.log(2))
    loss = {m: robust_logistic_loss(m.w, held.X, held.y, r, norm) for m in (robust, clean)}
    assert loss[robust] < math.log(2) - 0.1
    assert loss[robust] < loss[clean] - 0.01
    assert clean.history["train"][-50:].mean() < 0.2 * clean.history["train"][:10].mean()
    assert clean.exact_robust_accuracy(held.X, held.y, 0.0, norm) > 0.95


# ----------------------------------------------------------------------------------------
# Polynomial-kernel models
# ----------------------------------------------------------------------------------------


def explicit_polynomial_d2(C, alpha, p, c, s):
    """The kernel sum expanded into monomials x1^a x2^b by the multinomial theorem.

    (c + u1 x1 + u2 x2)^p = Σ_{q0+q1+q2=p} p!/(q0! q1! q2!) c^q0 u1^q1 u2^q2 x1^q1 x2^q2.
    Returns {(a, b): coefficient}.
    """
    coef = {}
    for q1 in range(p + 1):
        for q2 in range(p + 1 - q1):
            q0 = p - q1 - q2
            m = math.factorial(p) / (math.factorial(q0) * math.factorial(q1) * math.factorial(q2))
            u1, u2 = C[:, 0] / s, C[:, 1] / s
            coef[(q1, q2)] = float(np.sum(alpha * m * c ** q0 * u1 ** q1 * u2 ** q2))
    return coef


@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 2**31), p=st.integers(1, 4), c=st.floats(0.0, 2.0),
       s=st.floats(0.3, 5.0))
def test_polynomial_model_equals_its_explicit_expansion(seed, p, c, s):
    rng = np.random.default_rng(seed)
    C, alpha = rng.standard_normal((4, 2)), rng.standard_normal(4)
    model = PolynomialKernelModel(C, alpha, degree=p, offset=c, scale=s)
    coef = explicit_polynomial_d2(C, alpha, p, c, s)
    assert all(a + b <= p for a, b in coef)  # degree p, as claimed
    X = rng.standard_normal((7, 2)) * 2
    explicit = sum(v * X[:, 0] ** a * X[:, 1] ** b for (a, b), v in coef.items())
    scale = np.sum(np.abs(alpha)) * (c + np.abs(C).sum(1).max() * np.abs(X).max() / s) ** p
    np.testing.assert_allclose(model.decision_function(X), explicit, rtol=0,
                               atol=POLY_RTOL * max(scale, 1.0))


@pytest.mark.parametrize("p", [1, 2])
@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 2**31), c=st.floats(0.0, 2.0), s=st.floats(0.3, 5.0))
def test_polynomial_quadratic_form_equals_the_kernel_sum(p, seed, c, s):
    """For p ≤ 2 the model evaluates its expanded quadratic form: same f and ∇f as the sum."""
    rng = np.random.default_rng(seed)
    C, alpha = rng.standard_normal((30, 6)), rng.standard_normal(30)
    model = PolynomialKernelModel(C, alpha, degree=p, offset=c, scale=s)
    X, y = rng.standard_normal((11, 6)), rng.choice([-1.0, 1.0], 11)
    B = c + X @ C.T / s
    f_sum = B ** p @ alpha
    G_sum = -(p / s) * y[:, None] * ((B ** (p - 1) * alpha) @ C)
    f, G = model.margin_gradient(X, y)
    scale = np.abs(alpha) @ np.abs(B).T ** p
    np.testing.assert_allclose(f, f_sum, rtol=0, atol=POLY_RTOL * scale.max())
    np.testing.assert_allclose(model.decision_function(X), f, rtol=0, atol=0)
    gscale = (np.abs(alpha) @ np.abs(C)).max() * (np.abs(B).max() ** (p - 1)) * p / s
    np.testing.assert_allclose(G, G_sum, rtol=0, atol=POLY_RTOL * gscale)


@pytest.mark.parametrize("p", [1, 2, 3, 4])
@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 2**31), c=st.floats(0.0, 2.0), s=st.floats(0.3, 5.0))
def test_polynomial_float32_steering_follows_the_model(p, seed, c, s):
    """The twin PGD steers with computes the model's f and ∇f, in float32 (both forms)."""
    rng = np.random.default_rng(seed)
    C, alpha = rng.standard_normal((30, 6)), rng.standard_normal(30)
    model = PolynomialKernelModel(C, alpha, degree=p, offset=c, scale=s, batch_size=4)
    X, y = rng.standard_normal((11, 6)), rng.choice([-1.0, 1.0], 11)
    f, G = model.margin_gradient(X, y)
    f32, G32 = model.steering().margin_gradient(X, y)
    assert f32.dtype == np.float32 and G32.dtype == np.float32 and G32.shape == G.shape
    B = np.abs(c + X @ C.T / s) + np.abs(X) @ np.abs(C).T / s  # bounds every partial sum
    rtol = TWIN_RTOL[np.float32] * (p + 1)
    np.testing.assert_allclose(f32, f, rtol=0, atol=rtol * (B ** p @ np.abs(alpha)).max())
    gscale = p / s * ((B ** (p - 1) * np.abs(alpha)) @ np.abs(C)).max()
    np.testing.assert_allclose(G32, G, rtol=0, atol=rtol * gscale)


def test_polynomial_alpha_is_read_only_and_reassigning_it_refreshes_the_model():
    rng = np.random.default_rng(0)
    C, alpha = rng.standard_normal((5, 3)), rng.standard_normal(5)
    model = PolynomialKernelModel(C, alpha, degree=2, offset=1.0, scale=3.0)
    X = rng.standard_normal((4, 3))
    before = model.decision_function(X)
    alpha[0] += 1.0  # the model keeps its own copy
    np.testing.assert_array_equal(model.decision_function(X), before)
    with pytest.raises(ValueError, match="read-only"):
        model.alpha[0] = 0.0
    model.alpha = 2 * model.alpha  # f is linear in α
    np.testing.assert_allclose(model.decision_function(X), 2 * before, rtol=1e-13)


def test_polynomial_model_has_degree_exactly_p_along_lines():
    """The (p+1)-th finite difference along a line vanishes; the p-th does not."""
    rng = np.random.default_rng(3)
    d, p = 10, 3
    model = PolynomialKernelModel(rng.standard_normal((6, d)), rng.standard_normal(6),
                                  degree=p, offset=1.0, scale=d)
    x0, v = rng.standard_normal(d), rng.standard_normal(d)
    t = np.arange(p + 2, dtype=float)
    f = model.decision_function(x0[None, :] + t[:, None] * v[None, :])
    diffs = np.diff(f, n=p + 1)
    assert abs(diffs[0]) <= 1e-9 * np.abs(f).max()
    assert abs(np.diff(f, n=p)[0]) > 1e-3 * np.abs(f).max()


# ----------------------------------------------------------------------------------------
# Input gradients of every model against finite differences
# ----------------------------------------------------------------------------------------


def ntk_model(seed=0, d=16, width=24, dW_scale=0.3):
    rng = np.random.default_rng(seed)
    W0 = init_weights(SMALL_NET.replace(width=width), d, rng)
    base = NTKModel.at_init(W0, SMALL_NET.replace(width=width))
    return base.with_update(dW_scale * rng.standard_normal(W0.shape) / np.sqrt(d))


def all_models(seed, d=16):
    rng = np.random.default_rng(seed)
    return {
        "linear": LinearModel(rng.standard_normal(d)),
        "poly2": PolynomialKernelModel(rng.standard_normal((9, d)), rng.standard_normal(9),
                                       degree=2, offset=1.0, scale=d),
        "poly3": PolynomialKernelModel(rng.standard_normal((9, d)), rng.standard_normal(9),
                                       degree=3, offset=0.5, scale=d, batch_size=3),
        "ntk": ntk_model(seed, d),
    }


@pytest.mark.parametrize("kind", ["linear", "poly2", "poly3", "ntk"])
@settings(deadline=None, max_examples=15)
@given(seed=st.integers(0, 2**31))
def test_margin_gradient_matches_finite_differences(kind, seed):
    d = 16
    model = all_models(seed, d)[kind]
    rng = np.random.default_rng(seed + 1)
    X, y = rng.standard_normal((8, d)), rng.choice([-1.0, 1.0], 8)
    V = rng.standard_normal((8, d))
    h = FD_STEP * np.linalg.norm(X, axis=1).max()
    f, G = model.margin_gradient(X, y)
    np.testing.assert_allclose(f, model.decision_function(X), rtol=1e-13, atol=1e-13)
    analytic = np.einsum("ij,ij->i", G, V)
    numeric = directional_fd(model, X, y, V, h)
    keep = np.ones(len(X), bool)
    if kind == "ntk":  # f_lin jumps where a gate flips: compare only where none does
        g0 = model.gates(X)
        keep = np.all(model.gates(X + h * V) == g0, axis=1) & np.all(model.gates(X - h * V) == g0, axis=1)
        assert keep.sum() >= 6
    scale = np.abs(G).sum(1) * np.abs(V).max()
    np.testing.assert_allclose(numeric[keep], analytic[keep], rtol=0,
                               atol=FD_RTOL[np.float64] * scale[keep].max() + 1e-9)


# ----------------------------------------------------------------------------------------
# NTK: identities with the network
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", ["relative", "fixed"])
def test_ntk_at_init_is_the_network_at_init(rule):
    cfg = NetworkConfig(width=40, threshold_rule=rule, fixed_bias=0.01, init_scale=0.5,
                        dtype="float64")
    P = small_problem()
    W0 = init_weights(cfg, P.config.input_dim, stream(0, "init"))
    test = P.sample(300, stream(0, "test_data"))
    ntk = NTKModel.at_init(W0, cfg)
    net = ThresholdNetwork.from_config(W0, cfg)
    np.testing.assert_allclose(ntk.decision_function(test.X), net.decision_function(test.X),
                               rtol=1e-14, atol=1e-15)
    f1, G1 = ntk.margin_gradient(test.X, test.y)
    f2, G2 = net.margin_gradient(test.X, test.y)
    np.testing.assert_allclose(G1, G2, rtol=1e-14, atol=1e-15)


def test_ntk_in_float32_follows_float64():
    """A float32 NetworkConfig gives a float32 linearisation that agrees to float32 precision."""
    P = small_problem()
    cfg64 = NetworkConfig(width=40, init_scale=1.0, dtype="float64")
    W0 = init_weights(cfg64, P.config.input_dim, stream(0, "init"))
    rng = np.random.default_rng(0)
    dW = 0.1 * rng.standard_normal(W0.shape)
    m64 = NTKModel.at_init(W0, cfg64).with_update(dW)
    m32 = NTKModel.at_init(W0, cfg64.replace(dtype="float32")).with_update(dW)
    assert m32.dtype == np.float32 and m64.dtype == np.float64
    test = P.sample(300, stream(0, "test_data"))
    keep = np.all(m32.gates(test.X) == m64.gates(test.X), axis=1)  # gates can flip at rounding
    assert keep.mean() > 0.9
    scale = np.abs(test.X @ m64.W.T).sum(1).max()
    np.testing.assert_allclose(m32.decision_function(test.X)[keep],
                               m64.decision_function(test.X)[keep], rtol=0, atol=1e-5 * scale)
    f32, G32 = m32.margin_gradient(test.X, test.y)
    assert f32.dtype == np.float64 and G32.dtype == np.float32


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("threshold", [0.0, 0.35, 0.9])  # all, some, few gates open
def test_ntk_open_gate_and_dense_forms_agree(monkeypatch, dtype, threshold):
    """The wrappers pick the open-gate kernels when few gates are open, BLAS otherwise: same
    f, input gradient, loss and ΔW gradient either way."""
    from simulator.lower_bounds import ntk as N
    P = small_problem()
    cfg = NetworkConfig(width=40, threshold=threshold, init_scale=1.0, dtype=dtype)
    model = NTKModel.at_init(init_weights(cfg, 16, stream(0, "init")), cfg)
    rng = np.random.default_rng(1)
    model = model.with_update(0.3 * rng.standard_normal(model.W0.shape) / 4)
    batch = P.sample(100, stream(0, "test_data"))
    X, y = batch.X.astype(dtype), batch.y.astype(dtype)
    out = {}
    for share_max in (1.0, -1.0):  # every share counts as few; none does
        monkeypatch.setattr(N, "OPEN_GATE_SHARE_MAX", share_max)
        f, G = model.margin_gradient(X, y)
        loss, grad, f2 = N.linearised_loss_and_gradient(model.W0, model.dW, model.b0, X, y)
        out[share_max] = (f, G, loss, grad, f2, model.decision_function(X))
    tol = 1e-12 if dtype == "float64" else 2e-5
    scale = np.abs(X).sum(1).max() * (np.abs(model.W0).max() + np.abs(model.dW).max()) * 40
    for a, b in zip(out[1.0], out[-1.0]):
        np.testing.assert_allclose(a, b, rtol=0, atol=tol * scale)


@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 2**31), eps=st.sampled_from([1e-3, 1e-2, 5e-2]))
def test_ntk_equals_the_network_at_w0_plus_dw_wherever_no_gate_flips(seed, eps):
    """f_lin(x; ΔW) = f(x; W0 + ΔW) with thresholds b0, exactly where the gates agree."""
    P = small_problem(seed % 3)
    cfg = NetworkConfig(width=40, init_scale=1.0, dtype="float64")
    rng = np.random.default_rng(seed)
    W0 = init_weights(cfg, P.config.input_dim, rng)
    dW = eps * rng.standard_normal(W0.shape) / np.sqrt(P.config.input_dim)
    base = NTKModel.at_init(W0, cfg)
    ntk = base.with_update(dW)
    X = P.sample(200, rng).X
    same = np.all(base.gates(X) == (np.abs(X @ (W0 + dW).T) > base.b0[None, :]), axis=1)
    assert same.sum() >= 20
    net = decision_function(W0 + dW, base.b0, X)
    scale = np.abs(X @ (W0 + dW).T).sum(1)
    np.testing.assert_allclose(ntk.decision_function(X)[same], net[same], rtol=0,
                               atol=1e-13 * scale[same].max())
    if eps == 5e-2 and (~same).any():  # where a gate flips, the two differ by a jump
        assert not np.allclose(ntk.decision_function(X)[~same], net[~same], rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------------------
# Training lowers the loss
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("degree", [2, 3])
def test_polynomial_newton_lowers_the_objective_and_adversarial_rounds_lower_the_fgm_loss(degree):
    """Clean Newton decreases the regularised loss; the adversarial rounds decrease the
    regularised loss at the FGM points, recomputed here from scratch on the training set
    (with the kernel blocks and perturb_points, so this also checks the rounds' shortcuts:
    the quadratic form for p = 2, FGM gradients linear in α)."""
    P = small_problem(2)
    r = radius_in_norm(0.3, "l2", P.config.input_dim)
    reg = 1e-3
    kw = dict(degree=degree, n_centres=96, n_train=400, offset=1.0, scale=None, reg=reg,
              newton_steps=6, norm="l2")
    clean = fit_polynomial(P, **kw, rng=stream(2, "lower_bounds"))
    adv = fit_polynomial(P, **kw, rng=stream(2, "lower_bounds"), radius=r, adv_rounds=6)
    h = clean.history["clean"]
    assert h[0] == pytest.approx(math.log(2)) and np.all(np.diff(h) < 0) and h[-1] < 0.3
    np.testing.assert_array_equal(adv.centres, clean.centres)  # the centres stay clean points
    held = P.sample(400, stream(2, "test_data"))
    assert np.mean(clean.predict(held.X) == held.y) > 0.95
    train = P.sample(400, stream(2, "lower_bounds"))  # the same training points

    def attacked_objective(model):
        Xa = perturb_points(model, train.X, train.y, r, "l2", 1)
        K = model.kernel(model.centres)
        return (np.logaddexp(0, -train.y * (model.kernel(Xa) @ model.alpha)).mean()
                + 0.5 * reg * model.alpha @ K @ model.alpha)

    assert attacked_objective(adv) < attacked_objective(clean) - 0.01
    ha = adv.history["adversarial"]
    assert ha[0] == pytest.approx(attacked_objective(clean), rel=1e-9)
    assert ha[-1] == pytest.approx(attacked_objective(adv), rel=1e-9)
    assert np.all(np.diff(ha) <= 0)


def test_ntk_training_lowers_the_loss_clean_and_adversarial():
    P = small_problem(3)
    cfg = NetworkConfig(width=64, init_scale=0.01, dtype="float64")
    W0 = init_weights(cfg, P.config.input_dim, stream(3, "init"))
    r = radius_in_norm(0.3, "l2", P.config.input_dim)
    kw = dict(steps=150, batch_size=128, step_size=2.0, rng=stream(3, "lower_bounds"))
    clean = fit_ntk(P, W0, cfg, **kw)
    adv = fit_ntk(P, W0, cfg, **{**kw, "rng": stream(3, "lower_bounds")}, adv_steps=150, radius=r)
    hc, ha = clean.history["clean"], adv.history["adversarial"]
    # step 0 is the network at W0 (ΔW = 0) on the first batch the generator draws
    first = P.sample(128, stream(3, "lower_bounds"))
    net0 = ThresholdNetwork.from_config(W0, cfg)
    u = -first.y * net0.decision_function(first.X)
    assert hc[0] == pytest.approx(np.mean(np.logaddexp(0.0, u)), rel=1e-9)
    assert hc[-20:].mean() < 0.8 * hc[:5].mean()
    assert ha[-20:].mean() < ha[:5].mean()
    np.testing.assert_array_equal(adv.W0, W0)  # only ΔW moves
    held = P.sample(400, stream(3, "test_data"))
    assert np.mean(clean.predict(held.X) == held.y) > 0.85


# ----------------------------------------------------------------------------------------
# fit_lower_bound and LowerBoundConfig
# ----------------------------------------------------------------------------------------

TINY = LowerBoundConfig(linear_steps=20, linear_batch_size=64, poly_centres=32, poly_train=64,
                      poly_newton_steps=3, poly_adv_rounds=2, ntk_steps=10, ntk_adv_steps=10,
                      ntk_batch_size=64)


@pytest.mark.parametrize("kind", ["linear", "linear_oracle", "poly", "poly2", "poly3", "ntk"])
@pytest.mark.parametrize("adversarial", [False, True])
def test_fit_baseline_builds_every_kind_with_the_attack_protocol(kind, adversarial):
    P = small_problem()
    model = fit_lower_bound(kind, P, SMALL_NET, adversarial=adversarial, tau=0.2, norm="linf",
                         seed=4, config=TINY)
    suffix = "" if kind == "linear_oracle" else ("_adv" if adversarial else "_clean")
    assert model.name == kind + suffix
    test = P.sample(50, stream(4, "test_data"))
    f, G = model.margin_gradient(test.X, test.y)
    assert f.shape == (50,) and G.shape == test.X.shape and f.dtype == np.float64
    clean, rows = robust_accuracy_table(model, P, test, [0.0, 0.05], "linf",
                                        AttackSettings(2, 0, 0.5), np.random.default_rng(0))
    assert 0.0 <= rows[-1]["robust_acc"] <= clean
    if kind == "ntk":  # W0 is exactly the network's initialisation for this seed
        np.testing.assert_array_equal(model.W0, init_weights(SMALL_NET, 16, stream(4, "init")))
        assert len(model.history["adversarial"]) == (10 if adversarial else 0)


def test_fit_baseline_is_reproducible_and_rng_works():
    P = small_problem()
    a = fit_lower_bound("linear", P, SMALL_NET, adversarial=True, tau=0.2, seed=5, config=TINY)
    b = fit_lower_bound("linear", P, SMALL_NET, adversarial=True, tau=0.2, seed=5, config=TINY)
    np.testing.assert_array_equal(a.w, b.w)
    c = fit_lower_bound("ntk", P, SMALL_NET, adversarial=False, rng=np.random.default_rng(1),
                     config=TINY)
    assert c.dW.shape == (SMALL_NET.width, 16)


@pytest.mark.parametrize("kind", ["poly2", "poly3", "ntk"])
@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_adversarial_fit_from_the_clean_fit_is_identical(kind, norm):
    """Taking the clean phase from a clean fit (of any norm) gives bit-identical models."""
    P = small_problem()
    kw = dict(seed=6, config=TINY)
    clean = fit_lower_bound(kind, P, SMALL_NET, adversarial=False, norm="l2", **kw)
    full = fit_lower_bound(kind, P, SMALL_NET, adversarial=True, tau=0.3, norm=norm, **kw)
    # a fresh problem object with the same content is the same problem
    reused = fit_lower_bound(kind, small_problem(), SMALL_NET, adversarial=True, tau=0.3,
                          norm=norm, clean=clean, **kw)
    for attr in ("alpha", "dW"):
        if hasattr(full, attr):
            np.testing.assert_array_equal(getattr(reused, attr), getattr(full, attr))
    for phase in ("clean", "adversarial"):
        np.testing.assert_array_equal(reused.history[phase], full.history[phase])
    # and the adversarial model's own clean phase can be taken again
    again = fit_lower_bound(kind, P, SMALL_NET, adversarial=False, clean=full, **kw)
    np.testing.assert_array_equal(getattr(again, "alpha", None), getattr(clean, "alpha", None))
    np.testing.assert_array_equal(getattr(again, "dW", None), getattr(clean, "dW", None))


@pytest.mark.parametrize("kind", ["poly2", "ntk"])
def test_a_clean_fit_of_another_phase_is_refused(kind):
    P = small_problem()
    other_seed = fit_lower_bound(kind, P, SMALL_NET, adversarial=False, seed=7, config=TINY)
    with pytest.raises(ValueError, match="clean phase differs in: (W0, )?rng_start"):
        fit_lower_bound(kind, P, SMALL_NET, adversarial=True, tau=0.3, seed=6, config=TINY,
                     clean=other_seed)
    other_problem = fit_lower_bound(kind, small_problem(1), SMALL_NET, adversarial=False, seed=6,
                                 config=TINY)
    with pytest.raises(ValueError, match="differs in: problem"):
        fit_lower_bound(kind, P, SMALL_NET, adversarial=True, tau=0.3, seed=6, config=TINY,
                     clean=other_problem)
    budget = TINY.replace(poly_newton_steps=2, ntk_steps=5)
    with pytest.raises(ValueError, match="differs in: (newton_steps|steps)"):
        fit_lower_bound(kind, P, SMALL_NET, adversarial=True, tau=0.3, seed=6, config=budget,
                     clean=fit_lower_bound(kind, P, SMALL_NET, adversarial=False, seed=6,
                                        config=TINY))
    with pytest.raises(ValueError, match="must be a"):
        fit_lower_bound(kind, P, SMALL_NET, adversarial=True, tau=0.3, seed=6, config=TINY,
                     clean=fit_lower_bound("linear", P, SMALL_NET, adversarial=False, seed=6,
                                        config=TINY))


INVALID_CALLS = [
    # (id, kwargs, expected message fragment)
    ("kind", dict(kind="svm"), "'kind' parameter of fit_lower_bound must be one of {'linear', "),
    ("norm", dict(norm="l1"), "'norm' parameter of fit_lower_bound must be one of {'l2', 'linf'}. Got 'l1'"),
    ("tau-zero-adv", dict(adversarial=True, tau=0.0),
     "'tau' parameter of fit_lower_bound must be a float in the range (0, inf) when adversarial=True. Got 0.0"),
    ("tau-negative", dict(tau=-0.1), "'tau' parameter of fit_lower_bound must be a float in the range [0, inf). Got -0.1"),
    ("tau-nan", dict(tau=math.nan), "'tau' parameter of fit_lower_bound"),
    ("adversarial-str", dict(adversarial="yes"), "'adversarial' parameter of fit_lower_bound must be a bool"),
    ("no-seed", dict(seed=None), "exactly one of 'seed' and 'rng'"),
    ("both", dict(rng=np.random.default_rng(0)), "exactly one of 'seed' and 'rng'"),
    ("seed-negative", dict(seed=-1), "'seed' parameter of fit_lower_bound must be an int in the range [0, inf). Got -1"),
    ("config", dict(config={"linear_steps": 3}), "'config' parameter of fit_lower_bound must be a LowerBoundConfig"),
    ("W_init", dict(kind="ntk", W_init=np.zeros((3, 16))), "'W_init' parameter of fit_lower_bound must be an array of shape (width=24, input_dim=16). Got (3, 16)"),
]


@pytest.mark.parametrize("kwargs,message", [c[1:] for c in INVALID_CALLS],
                         ids=[c[0] for c in INVALID_CALLS])
def test_fit_baseline_rejects_invalid_arguments(kwargs, message):
    call = dict(kind="linear", adversarial=False, tau=0.1, norm="l2", seed=0, config=TINY)
    call.update(kwargs)
    kind = call.pop("kind")
    with pytest.raises(ConfigError) as info:
        fit_lower_bound(kind, small_problem(), SMALL_NET, **call)
    assert message in str(info.value)


INVALID_CONFIGS = [
    ("steps<1", dict(linear_steps=0), "'linear_steps' parameter of LowerBoundConfig must be an int in the range [1, inf). Got 0"),
    ("lr<=0", dict(linear_step_size=0.0), "'linear_step_size' parameter of LowerBoundConfig must be a float in the range (0, inf)"),
    ("train<centres", dict(poly_centres=64, poly_train=32),
     "'poly_train' parameter of LowerBoundConfig must be an int in the range [poly_centres=64, inf). Got 32"),
    ("degree<1", dict(poly_degree=0), "'poly_degree' parameter of LowerBoundConfig must be an int in the range [1, inf)"),
    ("reg<=0", dict(poly_reg=0.0), "'poly_reg' parameter of LowerBoundConfig must be a float in the range (0, inf)"),
    ("scale<=0", dict(poly_scale=0.0), "'poly_scale' parameter of LowerBoundConfig must be a float in the range (0, inf) or None"),
    ("offset-nan", dict(poly_offset=math.nan), "'poly_offset' parameter of LowerBoundConfig"),
    ("ntk-lr-str", dict(ntk_step_size="2"), "'ntk_step_size' parameter of LowerBoundConfig must be a float"),
    ("ntk-steps<0", dict(ntk_adv_steps=-1), "'ntk_adv_steps' parameter of LowerBoundConfig must be an int in the range [0, inf). Got -1"),
]


@pytest.mark.parametrize("kwargs,message", [c[1:] for c in INVALID_CONFIGS],
                         ids=[c[0] for c in INVALID_CONFIGS])
def test_baseline_config_rejects_invalid_values(kwargs, message):
    with pytest.raises(ConfigError) as info:
        LowerBoundConfig(**kwargs)
    assert message in str(info.value)


def test_baseline_config_round_trips():
    cfg = LowerBoundConfig(poly_degree=3, poly_scale=10.0)
    assert LowerBoundConfig.from_dict(cfg.to_dict()) == cfg
    assert hash(cfg) == hash(LowerBoundConfig.from_dict(cfg.to_dict()))
