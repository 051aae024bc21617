"""The one run path: staged evaluation equals the plain attack table, caches reuse exactly."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.attacks import robust_accuracy_table
from simulator.config import DataConfig, EvalConfig, NetworkConfig, RunConfig, TrainConfig
from simulator.norms import radius_in_norm
from simulator.pipeline import (RunCache, attack_settings, build_models, certified_accuracies,
                                draw_test_set, evaluate, train_networks)
from simulator.rng import stream

CFG = RunConfig(
    data=DataConfig(input_dim=24, sparsity=3, noise=0.1),
    network=NetworkConfig(width=48, init_scale=0.1),
    train=TrainConfig(clean_steps=150, adv_steps=100, batch_size=64, adv_tau=0.4,
                      snapshot_every=50, progress=False),
    eval=EvalConfig(n_test=96, taus=(0.1, 0.3, 0.5), pgd_steps=5, pgd_restarts=1,
                    exact_taus=(0.3,), exact_models=("ideal", "clean", "adversarial")),
    seed=2,
)


@pytest.fixture(scope="module")
def trained():
    return train_networks(CFG)


def _plain_rows(models, problem, test, cfg, rng):
    """The evaluation as it was before the staged order: every attack, then the certifier."""
    rows = []
    d = cfg.data.input_dim
    for name, model in models.items():
        for norm in cfg.eval.norms:
            radii = [radius_in_norm(t, norm, d) for t in cfg.eval.taus]
            clean_acc, table = robust_accuracy_table(model, problem, test, radii, norm,
                                                     attack_settings(cfg), rng)
            label, accs = certified_accuracies(model, test, radii, norm)
            table += [{"radius": r, "attack": label, "robust_acc": c} for r, c in zip(radii, accs)]
            rows += [(name, norm, r["radius"], r["attack"], clean_acc, r["robust_acc"]) for r in table]
    return sorted(rows)


def test_staged_evaluation_equals_the_plain_table(trained):
    test = draw_test_set(trained.problem, CFG)
    models = build_models(["ideal", "clean", "adversarial", "linear_oracle"], trained, CFG)
    staged = evaluate(models, trained.problem, test, CFG, stream(CFG.seed, "attack"))
    plain = _plain_rows(models, trained.problem, test, CFG, stream(CFG.seed, "attack"))
    got = sorted((r["model"], r["norm"], r["radius"], r["attack"], r["clean_acc"], r["robust_acc"])
                 for r in staged if "n_undecided" not in r)  # the exact stage is new

    assert got == plain
    # exact rows sit between the certified (lower) and the attacked (upper) figures
    by = {(r["model"], r["norm"], r["tau"], r["attack"]): r for r in staged}
    exact = [r for r in staged if "n_undecided" in r]
    assert {(r["model"], r["norm"]) for r in exact} == {(m, n) for m in ("ideal", "clean", "adversarial")
                                                        for n in ("l2", "linf")}
    for r in exact:
        lower = by[(r["model"], r["norm"], r["tau"], "certified")]["robust_acc"]
        upper = by[(r["model"], r["norm"], r["tau"], "ensemble")]["robust_acc"]
        assert lower <= r["robust_acc"] <= r["robust_acc_upper"] <= upper
        if r["n_undecided"] == 0:  # every point decided: one figure (at most the attacked one:
            assert r["robust_acc"] == r["robust_acc_upper"]  # the exact stage breaks points PGD missed)


def test_run_cache_on_disk_returns_the_same_training(tmp_path):
    calls = []

    def train():
        calls.append(1)
        return train_networks(CFG, phases=("clean",), cache=None).clean

    first = RunCache(tmp_path).get("clean", ("key", CFG), train)
    again = RunCache(tmp_path).get("clean", ("key", CFG), train)  # a new process, resumed
    assert len(calls) == 1
    np.testing.assert_array_equal(first.W, again.W)
    np.testing.assert_array_equal(np.asarray(first.losses), np.asarray(again.losses))
    assert not list(tmp_path.rglob("*.tmp"))


def test_clean_training_is_shared_by_both_norms_and_equals_a_fresh_run():
    cache = RunCache()
    l2 = train_networks(CFG.replace(train=CFG.train.replace(adv_norm="l2")), cache=cache)
    linf = train_networks(CFG.replace(train=CFG.train.replace(adv_norm="linf")), cache=cache)
    assert l2.clean is linf.clean
    fresh = train_networks(CFG.replace(train=CFG.train.replace(adv_norm="linf")))
    np.testing.assert_array_equal(fresh.W_clean, linf.W_clean)
    np.testing.assert_array_equal(fresh.W_adv, linf.W_adv)
