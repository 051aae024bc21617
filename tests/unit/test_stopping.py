"""The stopping rule (simulator/stopping.py): its decision on synthetic loss curves, its
config table, and the identity that makes it safe — a phase stopped after N steps has the
bytes of a fixed-budget phase of N steps (weights, losses, snapshots), on the dense path,
the feature path and a finite training set."""

import numpy as np
import pytest

from simulator.config import ConfigError, DataConfig, EvalConfig, NetworkConfig, RunConfig, TrainConfig
from simulator.pipeline import train_networks
from simulator.stopping import (MAX_STEPS, PLATEAU, PlateauMonitor, StoppingRule,
                                steps_until_stop, train_until_plateau)

RULE = StoppingRule(window=50, rel_tol=0.02, patience=2, min_steps=100, max_steps=2000)


# ----------------------------------------------------------------------------------------
# The decision on synthetic curves
# ----------------------------------------------------------------------------------------


def test_stops_on_a_plateau_soon_after_it_starts():
    # falls until step 400, then flat: window 400-450 still improves on the falling window
    # before it; 450-500 and 500-550 are the two flat ones (patience 2)
    t = np.arange(3000)
    losses = np.where(t < 400, 1.0 - t / 400 * 0.9, 0.1)
    steps, reason, history = steps_until_stop(losses, RULE)
    assert reason == PLATEAU
    assert steps == 550
    assert [h["stalled"] for h in history[-2:]] == [True, True]
    assert not any(h["stalled"] for h in history[:-2])


def test_does_not_stop_on_a_steady_decline():
    # 5% less every window: each window improves by more than rel_tol = 2%
    losses = 0.95 ** (np.arange(2000) / RULE.window)
    steps, reason, history = steps_until_stop(losses, RULE)
    assert reason == MAX_STEPS and steps == RULE.max_steps
    assert not any(h["stalled"] for h in history)


def test_a_decline_slower_than_the_tolerance_counts_as_a_plateau():
    losses = 0.99 ** (np.arange(2000) / RULE.window)  # 1% a window < 2%
    steps, reason, _ = steps_until_stop(losses, RULE)
    assert reason == PLATEAU and steps == 3 * RULE.window  # windows 2 and 3 stall


def test_respects_min_steps_on_an_early_plateau():
    losses = np.full(3000, 0.3)  # flat from the start: stalled from window 2 on
    rule = StoppingRule(window=50, rel_tol=0.02, patience=2, min_steps=700, max_steps=2000)
    steps, reason, history = steps_until_stop(losses, rule)
    assert reason == PLATEAU and steps == 700
    assert history[2]["stalled_run"] >= 2  # it would have stopped at 150 without min_steps


def test_respects_max_steps_and_a_partial_last_window():
    losses = 0.5 ** (np.arange(5000) / 50)
    rule = StoppingRule(window=50, rel_tol=0.02, patience=2, min_steps=0, max_steps=1234)
    steps, reason, history = steps_until_stop(losses, rule)
    assert (steps, reason) == (1234, MAX_STEPS)
    assert history[-1]["step"] == 1234


def test_max_steps_none_caps_at_the_phase_budget():
    rule = StoppingRule(window=50, min_steps=0)
    steps, reason, _ = steps_until_stop(0.5 ** (np.arange(5000) / 50), rule, budget=300)
    assert (steps, reason) == (300, MAX_STEPS)


def test_one_noisy_flat_window_does_not_stop_with_patience_two():
    means = [1.0, 0.8, 0.8, 0.6, 0.45, 0.35, 0.3]  # one flat window in a decline
    losses = np.repeat(means, RULE.window)
    steps, reason, _ = steps_until_stop(losses, RULE)
    assert reason == MAX_STEPS and steps == len(losses)


def test_adversarial_phase_waits_for_the_robust_accuracy_too():
    # the loss is flat from the start, the held-out robust accuracy rises by 0.02 a window
    # up to window 10, then stays: the phase stops two windows after it stops rising
    losses = np.full(1000, 0.4)
    robust = [0.5 + 0.02 * min(w, 10) for w in range(21)]
    rule = StoppingRule(window=50, rel_tol=0.02, patience=2, min_steps=0, max_steps=1000,
                        robust_tol=0.005)
    steps, reason, history = steps_until_stop(losses, rule, robust=robust)
    assert reason == PLATEAU and steps == 12 * 50
    assert history[0]["step"] == 0 and history[0]["robust_acc"] == 0.5
    # without the robust condition the same loss curve stops at the second flat window
    assert steps_until_stop(losses, rule)[0] == 3 * 50


def test_the_monitor_is_a_pure_function_of_the_window_means():
    a, b = PlateauMonitor(RULE), PlateauMonitor(RULE)
    means = [1.0, 0.5, 0.49, 0.489, 0.488]
    out_a = [a.update(50 * (i + 1), m) for i, m in enumerate(means)]
    out_b = [b.update(50 * (i + 1), m) for i, m in enumerate(means)]
    assert out_a == out_b
    assert repr(a.history) == repr(b.history)  # nan != nan: compare the records' text
    # window 3 improves by exactly 2% (not < rel_tol), windows 4 and 5 by 0.2%
    assert out_a == [False, False, False, False, True]


@pytest.mark.parametrize("kwargs, message", [
    ({"window": 0}, "'window' parameter of StoppingRule must be an int in the range [1, inf)"),
    ({"rel_tol": -0.1}, "'rel_tol' parameter of StoppingRule must be a float in the range [0, 1]"),
    ({"patience": 0}, "'patience' parameter of StoppingRule"),
    ({"max_steps": 0}, "'max_steps' parameter of StoppingRule"),
    ({"min_steps": 600, "max_steps": 500}, "'min_steps' parameter of StoppingRule must be an int in the range [0, max_steps=500]"),
    ({"robust_tol": 2.0}, "'robust_tol' parameter of StoppingRule"),
    ({"monitor_size": 0}, "'monitor_size' parameter of StoppingRule"),
    ({"window": "250"}, "Got '250' instead"),
], ids=["window-0", "negative-tol", "patience-0", "max-0", "min-above-max", "robust-tol-2",
        "monitor-0", "window-str"])
def test_invalid_rules_name_the_parameter(kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")
                       .replace(")", r"\)").replace("]", r"\]")):
        StoppingRule(**kwargs)


def test_rule_round_trips_through_a_dict():
    rule = StoppingRule(window=100, max_steps=4000)
    assert StoppingRule.from_dict(rule.to_dict()) == rule


# ----------------------------------------------------------------------------------------
# Stopped after N steps == a fixed budget of N steps, byte for byte
# ----------------------------------------------------------------------------------------


def _tiny(noise=0.1, train_size=None, snapshot_every=20, attack="fgm"):
    return RunConfig(
        seed=3, threads=1,
        data=DataConfig(input_dim=16, sparsity=3, noise=noise),
        network=NetworkConfig(width=24, init_scale=0.1),
        train=TrainConfig(clean_steps=200, adv_steps=200, batch_size=32, adv_tau=0.2,
                          snapshot_every=snapshot_every, progress=False, train_size=train_size,
                          adv_attack=attack),
        eval=EvalConfig(n_test=64, taus=(0.1,), norms=("l2",)))


def _assert_same_phase(a, b):
    assert a.W.dtype == b.W.dtype and np.array_equal(a.W, b.W)
    assert np.array_equal(np.asarray(a.losses), np.asarray(b.losses))
    assert sorted(a.snapshots) == sorted(b.snapshots)
    for step in a.snapshots:
        assert np.array_equal(a.snapshots[step], b.snapshots[step]), step


@pytest.mark.parametrize("case", [
    dict(),  # dense path, online batches
    dict(noise=0.0),  # feature path (σ = 0, orthogonal M): weights stay in C between windows
    dict(train_size=48),  # a finite training set, drawn once
    dict(attack="pgd"),  # the attack generator continues too (random PGD starts)
    dict(snapshot_every=0),
], ids=["dense", "feature-path", "finite-set", "pgd-training", "no-snapshots"])
def test_a_stopped_run_equals_the_fixed_budget_run_of_its_length(case):
    cfg = _tiny(**case)
    # a flat tolerance of 1 stalls every window: the run stops at min_steps = 140 + a
    # partial cap would not apply; the robust monitor (adversarial) must stall as well
    rule = StoppingRule(window=20, rel_tol=1.0, patience=1, min_steps=140, max_steps=190,
                        robust_tol=1.0, monitor_size=16, monitor_pgd_steps=2)
    stopped = train_networks(cfg, stopping=rule)
    assert stopped.clean.steps == 140 and stopped.clean.stop_reason == PLATEAU
    assert stopped.adversarial.steps == 140 and stopped.adversarial.stop_reason == PLATEAU
    fixed = train_networks(cfg.replace(train=cfg.train.replace(clean_steps=140, adv_steps=140)))
    _assert_same_phase(stopped.clean, fixed.clean)
    _assert_same_phase(stopped.adversarial, fixed.adversarial)


def test_a_run_capped_mid_window_equals_the_fixed_budget_run():
    cfg = _tiny(snapshot_every=10)
    rule = StoppingRule(window=20, rel_tol=0.0, patience=1, min_steps=0, max_steps=75)
    stopped = train_networks(cfg, phases=("clean",), stopping=rule)
    assert (stopped.clean.steps, stopped.clean.stop_reason) == (75, MAX_STEPS)
    fixed = train_networks(cfg.replace(train=cfg.train.replace(clean_steps=75)), phases=("clean",))
    _assert_same_phase(stopped.clean, fixed.clean)


def test_no_rule_leaves_the_fixed_budget_run_unchanged():
    cfg = _tiny()
    a, b = train_networks(cfg), train_networks(cfg, stopping=None)
    _assert_same_phase(a.clean, b.clean)
    _assert_same_phase(a.adversarial, b.adversarial)
    assert type(a.clean).__name__ == "TrainResult"


def test_window_must_hold_whole_snapshot_intervals():
    cfg = _tiny(snapshot_every=30)
    with pytest.raises(ConfigError, match="multiple of train.snapshot_every=30"):
        train_networks(cfg, stopping=StoppingRule(window=20, min_steps=0, max_steps=100))


def test_the_held_out_set_has_its_own_stream():
    from simulator.rng import STREAMS, stream

    assert STREAMS["monitor_data"] == 8
    assert list(STREAMS.values()) == list(range(1, len(STREAMS) + 1))  # append-only ids
    a = stream(0, "monitor_data").random(4)
    assert not np.array_equal(a, stream(0, "test_data").random(4))


def test_unknown_phase_is_refused():
    cfg = _tiny()
    with pytest.raises(ConfigError, match="'phase' parameter of train_until_plateau"):
        train_until_plateau("warmup", np.zeros((2, 16)), None, cfg.network, cfg.train,
                            StoppingRule(), np.random.default_rng(0))
