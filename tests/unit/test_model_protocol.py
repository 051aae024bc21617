"""One protocol, every model class: what the attacks, the certifier and the reports rely on.

Every kind of :data:`simulator.models.MODEL_KINDS` is built through the pipeline on a tiny
problem and checked for: shapes and dtype of ``decision_function``; ``margin_gradient``
returning f and ∇ₓ(−y f) — the latter against central finite differences; ``predict`` equal to
the sign of ``decision_function``; and a ``name`` that is one of the kind's row names.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulator.config import DataConfig, EvalConfig, NetworkConfig, RunConfig, TrainConfig
from simulator.lower_bounds import LowerBoundConfig
from simulator.models import MODEL_KINDS, kind_of_row
from simulator.pipeline import build_models, draw_test_set, train_networks

CFG = RunConfig(
    data=DataConfig(input_dim=16, sparsity=3, noise=0.1),
    network=NetworkConfig(width=32, init_scale=0.1, dtype="float64"),
    train=TrainConfig(clean_steps=30, adv_steps=10, batch_size=64, adv_tau=0.3, snapshot_every=0,
                      progress=False),
    eval=EvalConfig(n_test=24, taus=(0.1,)),
    seed=4,
)
BUDGETS = LowerBoundConfig(linear_steps=30, poly_centres=64, poly_train=128, poly_newton_steps=3,
                           poly_adv_rounds=1, ntk_steps=20, ntk_adv_steps=5, ntk_batch_size=64)


@pytest.fixture(scope="module")
def models():
    trained = train_networks(CFG)
    test = draw_test_set(trained.problem, CFG)
    return build_models(list(MODEL_KINDS), trained, CFG, BUDGETS), test


def test_every_kind_builds_its_rows(models):
    built, _ = models
    assert list(built) == [name for k in MODEL_KINDS.values() for name in k.rows]


@pytest.mark.parametrize("name", [n for k in MODEL_KINDS.values() for n in k.rows])
def test_model_protocol(models, name):
    built, test = models
    model = built[name]
    assert kind_of_row(model.name).kind in MODEL_KINDS and model.name == name
    X, y = np.asarray(test.X, np.float64), np.asarray(test.y, np.float64)
    f = np.asarray(model.decision_function(X))
    assert f.shape == (len(X),) and np.issubdtype(f.dtype, np.floating) and np.all(np.isfinite(f))
    f2, G = model.margin_gradient(X, y)
    assert np.allclose(f2, f, rtol=1e-10, atol=1e-10 * (1 + np.abs(f).max()))
    assert G.shape == X.shape
    assert np.array_equal(np.asarray(model.predict(X)), np.where(f > 0, 1.0, -1.0))
    # ∇ₓ(−y f) by central differences on a few coordinates of a few samples; every model is
    # piecewise smooth, and a kink within ±eps of a random point is a measure-zero event
    rng = np.random.default_rng(0)
    eps = 1e-6
    for n in rng.choice(len(X), size=4, replace=False):
        for j in rng.choice(X.shape[1], size=4, replace=False):
            Xp, Xm = X[n:n + 1].copy(), X[n:n + 1].copy()
            Xp[0, j] += eps
            Xm[0, j] -= eps
            fd = -y[n] * (model.decision_function(Xp)[0] - model.decision_function(Xm)[0]) / (2 * eps)
            scale = 1 + np.abs(G[n]).max()
            assert abs(fd - G[n, j]) <= 1e-5 * scale, (name, n, j, fd, G[n, j])
