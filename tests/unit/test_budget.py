"""The up-front cost estimate: hostile sizes are refused from arithmetic, before any allocation.

Issue 16: ``--input-dim 1000000``, ``--width 1e9``, ``--batch-size 1e9``, ``--n-test 1e10`` and
``--clean-steps 1e12`` ended in a numpy traceback or the out-of-memory killer.  Each is refused
here by the estimate alone, fast and without allocating; and the estimate of a small run is
held against the memory that run really allocates (tracemalloc sees numpy's allocations).
"""

import time
import tracemalloc

import pytest

from simulator.budget import (BASE_OVERHEAD_BYTES, Budget, CostItem, available_memory,
                              check_budget, estimate_cell, estimate_run, estimate_runs)
from simulator.config import ConfigError, DataConfig, EvalConfig, NetworkConfig, RunConfig, TrainConfig

HOSTILE = [
    # (id, config, the parameter the error must name)
    ("input_dim=1e6", RunConfig(data=DataConfig(input_dim=1_000_000)), "'data.input_dim'"),
    ("width=1e9", RunConfig(network=NetworkConfig(width=10**9)), "'network.width'"),
    ("batch=1e9", RunConfig(train=TrainConfig(batch_size=10**9)), "'train.batch_size'"),
    ("n_test=1e10", RunConfig(eval=EvalConfig(n_test=10**10)), "'eval.n_test'"),
    ("clean_steps=1e12", RunConfig(train=TrainConfig(clean_steps=10**12)), "'train.clean_steps'"),
    ("n_features=1e7", RunConfig(data=DataConfig(input_dim=512, n_features=10**7)), "'data.n_features'"),
]
LIMIT = 16 * 2**30  # a fixed limit, so the test does not depend on the machine's free memory


@pytest.mark.parametrize("cfg,param", [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_sizes_are_refused_from_the_estimate(cfg, param):
    estimate_run(RunConfig())  # imports done outside the timed part
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        check_budget(cfg, limit_bytes=LIMIT)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    msg = str(info.value)
    assert param in msg and "16 GB" in msg and "estimated" in msg
    assert seconds < 1.0
    assert peak < 1 << 20  # nothing the size of an array was allocated


def test_default_and_small_configs_fit():
    for cfg in (RunConfig(), RunConfig(data=DataConfig(input_dim=64, sparsity=4))):
        budget = check_budget(cfg, limit_bytes=LIMIT)
        assert BASE_OVERHEAD_BYTES < budget.peak_bytes < 2 * 2**30
        assert budget.seconds > 0


def test_limit_defaults_to_available_memory():
    limit, source = available_memory()
    assert limit > 0 and source
    check_budget(RunConfig(data=DataConfig(input_dim=64, sparsity=4)))  # fits on any machine


def test_time_limit_is_optional_and_named():
    cfg = RunConfig(train=TrainConfig(clean_steps=10**12, snapshot_every=0))
    budget = check_budget(cfg, limit_bytes=LIMIT)  # memory fits: losses are capped
    assert budget.seconds > 3e7  # about a thousand years of steps
    with pytest.raises(ConfigError, match="estimated .* years"):
        check_budget(cfg, limit_bytes=LIMIT, max_seconds=3600)


def test_peak_is_held_plus_the_largest_phase():
    b = Budget(items=[CostItem("a", 10, "held", (("network.width", 10),)),
                      CostItem("b", 5, "training"), CostItem("c", 7, "training"),
                      CostItem("d", 9, "evaluation", (("eval.n_test", 4096),))])
    assert b.peak_phase == "training"
    assert b.peak_bytes == BASE_OVERHEAD_BYTES + 10 + 12
    assert b.largest_item().name == "a" and b.driver() == ("network.width", 10)


def test_snapshots_and_steps_scale_the_estimate():
    base = RunConfig(data=DataConfig(input_dim=64, sparsity=4), network=NetworkConfig(width=128))
    few = estimate_run(base.replace(train=TrainConfig(clean_steps=100, snapshot_every=50)))
    many = estimate_run(base.replace(train=TrainConfig(clean_steps=100, snapshot_every=1)))
    snap = 128 * 64 * 4  # one float32 snapshot
    held = many.phase_bytes("held") - few.phase_bytes("held")
    assert held == snap * ((100 + 1) - (2 + 1) + (2000 // 1 + 1) - (2000 // 50 + 1))


def test_cell_and_verify_estimates_cover_their_models():
    cfg = RunConfig(data=DataConfig(input_dim=64, sparsity=4), network=NetworkConfig(width=128))
    net = estimate_cell(cfg, ["ideal", "clean", "adversarial"])
    more = estimate_cell(cfg, ["ideal", "clean", "adversarial", "ntk", "poly2", "linear"])
    assert more.peak_bytes > net.peak_bytes and more.madds > net.madds
    six = estimate_runs([cfg.replace(seed=s) for s in range(6)])
    assert six.phase_bytes("held") > 5 * net.phase_bytes("held")


def test_estimate_covers_what_a_small_run_allocates():
    """tracemalloc's peak over a whole run_networks stays below the estimate (minus the
    interpreter overhead, which tracemalloc does not see) and within 10× of it."""
    from simulator.pipeline import run_networks

    cfg = RunConfig(data=DataConfig(input_dim=64, sparsity=4),
                    network=NetworkConfig(width=256),
                    train=TrainConfig(clean_steps=30, adv_steps=30, batch_size=256,
                                      snapshot_every=10, progress=False),
                    eval=EvalConfig(n_test=1024, taus=(0.1, 0.2), pgd_steps=3, pgd_restarts=0))
    run_networks(cfg.replace(train=cfg.train.replace(clean_steps=1, adv_steps=1)))  # compile
    tracemalloc.start()
    run_networks(cfg)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    arrays = estimate_run(cfg).peak_bytes - BASE_OVERHEAD_BYTES
    assert peak <= arrays <= 10 * peak, (peak, arrays)
