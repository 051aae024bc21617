"""Configs that used to hang, run out of memory or blame the wrong parameter (issue 16).

The hangs run in a subprocess with a time limit (and an address-space limit), so a
regression fails the test instead of hanging the suite.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from simulator.config import ConfigError, DataConfig, NetworkConfig, TrainConfig
from simulator.data import SparseCodingProblem
from simulator.network import init_weights
from simulator.rng import stream
from simulator.training import TrainingDivergedError, train_adversarial, train_clean


def run_python(code: str, timeout: float = 60.0, memory_gb: float = 4.0):
    """Run ``code`` in a fresh interpreter limited in time and address space."""
    limit = int(memory_gb * 2**30)
    pre = (f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))\n")
    return subprocess.run([sys.executable, "-c", pre + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------- margin rejection


@pytest.mark.parametrize("kw,names", [
    (dict(input_dim=64, sparsity=3, margin=100.0), ["data.margin = 100.0", "data.sparsity = 3.0"]),
    (dict(input_dim=512, sparsity=0.0001), ["data.margin = 1.0", "data.sparsity = 0.0001"]),
    (dict(input_dim=64, sparsity=1e-300), ["data.sparsity = 1e-300"]),  # gaps overflowed int64
], ids=["margin=100,k=3", "k=1e-4", "k=1e-300"])
def test_unreachable_margin_is_refused_not_a_hang(kw, names):
    code = f"""
        from simulator.config import ConfigError, DataConfig
        from simulator.data import SparseCodingProblem
        from simulator.rng import stream
        P = SparseCodingProblem(DataConfig(**{kw!r}), stream(0, "problem"))
        try:
            P.sample(512, stream(0, "train_data"))
        except ConfigError as exc:
            print(exc)
        else:
            print("NO ERROR")
    """
    out = run_python(code, timeout=90)
    assert out.returncode == 0, out.stderr
    assert "accepts too few codes" in out.stdout and "the limit is 0.01" in out.stdout
    assert "estimated acceptance rate" in out.stdout
    for name in names:
        assert name in out.stdout


def reference_draw_codes(problem, n, rng):
    """The margin rejection as it was before the acceptance check (a copy of the old loop)."""
    cfg = problem.config
    rows, cols, vals = [], [], []
    need, got = n, 0
    while need > 0:
        m = max(int(need * 1.2) + 8, 16)
        r, c = problem._active_positions(m, rng)
        v = problem._draw_values(r.size, rng)
        s = np.bincount(r, weights=v * problem.w_star[c], minlength=m)
        keep_idx = np.flatnonzero(np.abs(s) >= cfg.margin)[:need]
        new_row = -np.ones(m, dtype=np.int64)
        new_row[keep_idx] = np.arange(got, got + keep_idx.size)
        sel = new_row[r] >= 0
        rows.append(new_row[r[sel]])
        cols.append(c[sel])
        vals.append(v[sel])
        got += keep_idx.size
        need -= keep_idx.size
    Z = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(n, cfg.dictionary_size))
    Z.sort_indices()
    return Z


@pytest.mark.parametrize("kw", [
    dict(input_dim=32, sparsity=3),                       # ties rejected: ~70 % pass
    dict(input_dim=32, sparsity=4, margin=2.0),           # several redraw rounds
    dict(input_dim=32, sparsity=1.5, value_law="gaussian"),
    dict(input_dim=16, n_features=40, sparsity=2, value_law="uniform", margin=0.9),
])
@pytest.mark.parametrize("n", [1, 37, 700])
def test_redraw_consumes_the_generator_as_before(kw, n):
    P = SparseCodingProblem(DataConfig(**kw), stream(1, "problem"))
    a_rng, b_rng = stream(3, "train_data"), stream(3, "train_data")
    Z = P._draw_codes(n, a_rng)
    Z_ref = reference_draw_codes(P, n, b_rng)
    assert (Z != Z_ref).nnz == 0 and Z.shape == Z_ref.shape
    assert a_rng.bit_generator.state == b_rng.bit_generator.state  # same draws, same state


# ---------------------------------------------------------------- step-size and init blame

DATA = DataConfig(input_dim=32, sparsity=3, noise=0.05)
NET = NetworkConfig(width=48, threshold=0.3, init_scale=0.1)


def _unchecked(cfg, **values):
    """``cfg`` with values its constraint table would refuse (to test what training does)."""
    for k, v in values.items():
        object.__setattr__(cfg, k, v)
    return cfg


@pytest.mark.parametrize("feature_path", ["off", "on"])
def test_huge_step_size_raises_diverged_naming_the_step_size(feature_path):
    data = DATA.replace(noise=0.0) if feature_path == "on" else DATA
    P = SparseCodingProblem(data, stream(0, "problem"), dtype=np.float32)
    W0 = init_weights(NET, 32, stream(0, "init"))
    cfg = _unchecked(TrainConfig(clean_steps=20, batch_size=64, progress=False,
                                 feature_path=feature_path), step_size=1e30)
    with pytest.raises(TrainingDivergedError, match=r"train\.step_size = 1e\+30"):
        train_clean(W0, P, NET, cfg, stream(0, "train_data"))


def test_huge_adversarial_step_size_names_adv_step_size():
    P = SparseCodingProblem(DATA, stream(0, "problem"), dtype=np.float32)
    W0 = init_weights(NET, 32, stream(0, "init"))
    cfg = _unchecked(TrainConfig(clean_steps=5, adv_steps=20, batch_size=64, progress=False),
                     adv_step_size=1e30)
    clean = train_clean(W0, P, NET, cfg, stream(0, "train_data"))
    with pytest.raises(TrainingDivergedError, match=r"train\.adv_step_size = 1e\+30"):
        train_adversarial(clean.W, P, NET, cfg, stream(0, "adv_data"), stream(0, "attack"))


@pytest.mark.parametrize("scale,dtype", [(1e300, "float32"), (1e300, "float64"), (1e20, "float32")])
def test_huge_init_scale_is_blamed_on_init_scale(scale, dtype):
    net = _unchecked(NetworkConfig(width=8, dtype=dtype), init_scale=scale)
    with pytest.raises(ConfigError, match=r"'init_scale' parameter of NetworkConfig .*Got 1e\+"):
        init_weights(net, 16, stream(0, "init"))


# ---------------------------------------------------------------- memory proportional to steps


def test_trillion_steps_do_not_build_per_step_structures():
    """10¹² steps (snapshot every 250): the old driver built a set of 4·10⁹ snapshot steps
    and an 8 TB loss array before the first step.  Here the first step runs at once (and
    diverges on purpose: W0 holds a NaN)."""
    code = """
        import numpy as np
        from simulator.config import DataConfig, NetworkConfig, TrainConfig
        from simulator.data import SparseCodingProblem
        from simulator.rng import stream
        from simulator.training import TrainingDivergedError, train_clean
        P = SparseCodingProblem(DataConfig(input_dim=16, sparsity=2), stream(0, "problem"))
        W0 = np.full((8, 16), np.nan)
        cfg = TrainConfig(clean_steps=10**12, snapshot_every=250, batch_size=8, progress=False)
        try:
            train_clean(W0, P, NetworkConfig(width=8, dtype="float64"), cfg, stream(0, "train_data"))
        except TrainingDivergedError as exc:
            print("diverged:", exc)
    """
    out = run_python(code, timeout=60, memory_gb=3)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "diverged: clean training diverged at step 0" in out.stdout


def test_long_phases_keep_bounded_losses_with_the_values_outputs_read(monkeypatch):
    """Above the cap the history keeps every stride-th loss, the loss before each snapshot
    and the exact tail mean: the values curves.csv and the cells read are those of a full
    history (a run of the same config below the cap)."""
    import simulator.training as T
    from simulator.training import LOSS_HISTORY_CAP, LossHistory

    P = SparseCodingProblem(DATA, stream(0, "problem"))
    net = NET.replace(dtype="float64")
    W0 = init_weights(net, 32, stream(0, "init"))
    cfg = TrainConfig(clean_steps=103, batch_size=32, snapshot_every=25, progress=False)
    full = train_clean(W0, P, net, cfg, stream(0, "train_data"))
    assert isinstance(full.losses, np.ndarray) and LOSS_HISTORY_CAP >= 103
    monkeypatch.setattr(T, "LOSS_HISTORY_CAP", 10)
    capped = train_clean(W0, P, net, cfg, stream(0, "train_data"))
    h = capped.losses
    assert isinstance(h, LossHistory) and len(h) == 103 and h.stride == 11
    assert np.asarray(h).shape == (10,)
    np.testing.assert_array_equal(np.asarray(h), full.losses[::11])
    for step in sorted(capped.snapshots):
        if step:
            assert h[step - 1] == full.losses[step - 1]
    assert h.tail_mean() == pytest.approx(full.losses[-10:].mean(), rel=1e-12)
    with pytest.raises(IndexError, match="was not kept"):
        h[5]
    np.testing.assert_array_equal(capped.W, full.W)

    from simulator.sweeps.cell import _tail_mean
    from simulator.pipeline import mixture_curve
    assert _tail_mean(h) == pytest.approx(_tail_mean(full.losses), rel=1e-12)
    a = pd.DataFrame(mixture_curve(P, capped, "clean", 1))
    b = pd.DataFrame(mixture_curve(P, full, "clean", 1))
    assert len(a) == 6 and a.equals(b)  # NaN loss at step 0 in both
