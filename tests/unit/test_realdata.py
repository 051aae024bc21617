"""Real-image data and the purification_real pipeline (issue 15).

Fast: the idx parser and the CIFAR-10 loader on generated fixtures in their real formats,
the task sampler, the dictionary measure against brute force, a tiny end-to-end run on
scikit-learn's digits (CLI included).  Fashion-MNIST: checked when installed; under CI
(which installs it, .ci/run) a missing copy is a failure, not a skip.
"""

import gzip
import os
import pickle

import numpy as np
import pandas as pd
import pytest

from simulator.realdata import (DataMissingError, ImageTask, RealConfig, load_cifar10,
                                load_digits, load_fashion_mnist, read_idx, run_real)
from simulator.realdata.dictionary import Dictionary, dictionary_neuron_table
from simulator.realdata.loaders import FASHION_MNIST_FILES, find_fashion_mnist


def write_idx(path, array, type_code=0x08, compress=True):
    """An idx file written independently of the parser: header bytes by hand."""
    array = np.asarray(array)
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(
        int(s).to_bytes(4, "big") for s in array.shape)
    dtype = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}[type_code]
    raw = header + array.astype(dtype).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
@pytest.mark.parametrize("type_code,values", [(0x08, [[1, 2, 255], [0, 7, 9]]),
                                              (0x0C, [[-5, 70000, 3]]),
                                              (0x0D, [[0.5, -1.25]])], ids=["uint8", "int32", "float32"])
def test_read_idx_round_trip(tmp_path, compress, type_code, values):
    a = np.array(values)
    write_idx(tmp_path / "a.idx", a, type_code, compress)
    got = read_idx(tmp_path / "a.idx")
    assert got.shape == a.shape
    np.testing.assert_array_equal(got, a)


def test_read_idx_3d_images(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28))
    write_idx(tmp_path / "i.gz", imgs)
    np.testing.assert_array_equal(read_idx(tmp_path / "i.gz"), imgs)


@pytest.mark.parametrize("raw,match", [(b"\x01\x00\x08\x01", "not an idx file"),
                                       (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", "announces")],
                         ids=["bad-magic", "truncated"])
def test_read_idx_rejects(tmp_path, raw, match):
    (tmp_path / "bad").write_bytes(raw)
    with pytest.raises(ValueError, match=match):
        read_idx(tmp_path / "bad")


def fake_fashion_folder(folder, n_train=40, n_test=20):
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"train_images": rng.integers(0, 256, (n_train, 28, 28)),
              "train_labels": np.arange(n_train) % 10,
              "test_images": rng.integers(0, 256, (n_test, 28, 28)),
              "test_labels": np.arange(n_test) % 10}
    for k, f in FASHION_MNIST_FILES.items():
        write_idx(folder / f, arrays[k])
    return arrays


def test_fashion_mnist_loader_reads_a_given_folder(tmp_path):
    arrays = fake_fashion_folder(tmp_path / "fm")
    d = load_fashion_mnist(tmp_path / "fm")
    assert d.X_train.shape == (40, 784) and d.X_test.shape == (20, 784)
    np.testing.assert_array_equal(d.X_train[3], arrays["train_images"][3].ravel())
    np.testing.assert_array_equal(d.y_test, arrays["test_labels"])


def test_fashion_mnist_missing_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("FPSIM_DATA", str(tmp_path / "empty"))
    monkeypatch.setattr("simulator.realdata.loaders.SYSTEM_DATASETS", tmp_path / "nothing")
    with pytest.raises(DataMissingError, match="fpsim data fetch fashion-mnist"):
        load_fashion_mnist(tmp_path / "elsewhere")


def test_cifar10_loader_on_generated_pickles(tmp_path):
    rng = np.random.default_rng(2)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = {}
    for name, n in (("data_batch_1", 6), ("data_batch_2", 4), ("test_batch", 3)):
        data = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
        labels = list(rng.integers(0, 10, n))
        with open(folder / name, "wb") as fh:  # the real release's layout: bytes keys
            pickle.dump({b"batch_label": name.encode(), b"data": data, b"labels": labels,
                         b"filenames": [b"x.png"] * n}, fh)
        batches[name] = (data, labels)
    d = load_cifar10(tmp_path)  # the parent folder is accepted too
    assert d.X_train.shape == (10, 3072) and d.X_test.shape == (3, 3072)
    assert d.image_shape == (32, 32, 3)
    data, labels = batches["data_batch_2"]
    img = d.X_train[7].reshape(32, 32, 3)  # row 1 of the second batch
    for r, c, ch in ((0, 0, 0), (5, 17, 1), (31, 2, 2)):  # channel-major in the file
        assert img[r, c, ch] == data[1, ch * 1024 + r * 32 + c]
    np.testing.assert_array_equal(d.y_train, batches["data_batch_1"][1] + labels)
    with pytest.raises(DataMissingError, match="cifar-10-batches-py"):
        load_cifar10(tmp_path / "nope")


def test_image_task_labels_scaling_and_sampler():
    data = load_digits()
    task = ImageTask(data, (3,), (8,), center=True, dtype=np.float64)
    keep = np.isin(data.y_train, (3, 8))
    assert len(task.y_train) == keep.sum()
    np.testing.assert_array_equal(task.y_train, np.where(data.y_train[keep] == 8, 1.0, -1.0))
    np.testing.assert_allclose(task.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(task.to_pixels(task.X_train), data.X_train[keep] / 16.0)
    b = task.sample(50, np.random.default_rng(0))
    assert b.X.shape == (50, 64) and set(np.unique(b.y)) <= {-1.0, 1.0}
    # every sampled row is a training row with its own label
    rows = {tuple(x): y for x, y in zip(task.X_train, task.y_train)}
    assert all(rows[tuple(x)] == y for x, y in zip(b.X, b.y))
    with pytest.raises(ValueError, match="disjoint"):
        ImageTask(data, (3,), (3, 8))


def test_dictionary_measures_against_brute_force():
    rng = np.random.default_rng(3)
    d, D = 12, 5
    Q = np.linalg.qr(rng.standard_normal((d, D)))[0].T  # orthonormal atoms: c = Q w
    u = rng.standard_normal(d)
    dic = Dictionary(atoms=Q, label_coefficients=Q @ u, label_direction_vector=u, n_nonzero=2)
    W = rng.standard_normal((4, d))
    t = dictionary_neuron_table(dic, W, skip=1)
    for i, w in enumerate(W):
        c = Q @ w
        assert t["purity"][i] == pytest.approx(np.abs(c).max() / np.linalg.norm(c))
        r = c.copy()
        r[np.abs(c).argmax()] = 0
        assert t["residual_participation"][i] == pytest.approx((r @ r) ** 2 / (r ** 4).sum())
        cu = Q @ u
        assert t["label_mixture_share"][i] == pytest.approx(abs(r @ cu) / (np.linalg.norm(cu) * np.linalg.norm(c)))
        assert t["off_dictionary_share"][i] == pytest.approx(np.linalg.norm(w - Q.T @ c) / np.linalg.norm(w))


TINY = dict(dataset="digits", width=24, clean_steps=60, adv_steps=40, batch_size=64,
            eps_l2=(0.5, 1.0), eps_linf=(0.05, 0.1), check_eps_l2=0.5, check_eps_linf=0.05,
            train_eps_l2=0.75, train_eps_linf=0.075, n_test=120, pgd_steps=4, pgd_restarts=1,
            n_atoms=8, dict_images=300, linear_steps=60, threads=1, step_size=0.1,
            adv_step_size=0.1, init_scale=0.1)


@pytest.fixture(scope="module")
def tiny_run():
    return run_real(RealConfig(**TINY))


def test_tiny_digits_run_end_to_end(tiny_run):
    r = tiny_run
    df = pd.DataFrame(r.results)
    assert set(df.model) == {"clean", "adversarial_l2", "adversarial_linf", "linear_clean",
                             "linear_adversarial_l2", "linear_adversarial_linf"}
    assert df.clean_acc.groupby(df.model).first()["clean"] > 0.8
    # certified (a lower bound; exact for the linear models) never exceeds the ensemble (an
    # upper bound)
    piv = df.pivot_table(index=["model", "norm", "eps"], columns="attack", values="robust_acc")
    lower = piv["certified"].fillna(piv["exact"])
    assert lower.notna().all() and (lower <= piv["ensemble"] + 1e-12).all()
    assert piv["exact"].notna().groupby(level="model").all().to_dict() == {
        m: m.startswith("linear") for m in piv.index.get_level_values("model").unique()}
    for norm in ("l2", "linf"):
        n = r.neurons[norm]
        assert len(n["beta_ratio"]) == 24
        np.testing.assert_allclose(  # ‖w_clean‖² = ‖β w_adv‖² + ‖v‖² (v ⟂ w_adv)
            n["clean_norm"] ** 2, n["beta_w_adv_norm"] ** 2 + n["v_norm"] ** 2, rtol=1e-4)
        assert 0 <= r.summary[norm]["share_beta_ratio_above_1"] <= 1
        assert np.all(np.isfinite(r.spectra[norm]))


def test_purification_real_check_and_writer(tiny_run, tmp_path):
    from reports.real_report import write_real_outputs
    from theorems.common import CRITERIA
    from theorems.purification_real import check_from_runs

    checks = [check_from_runs([tiny_run], n) for n in ("l2", "linf")]
    for c in checks:
        crit = {q.criterion for q in c.quantities if q.criterion}
        assert crit == {"real_robust_gain", "real_adv_clean_acc", "share_beta_ratio_above_1",
                        "median_abs_corr_init"} and crit <= set(CRITERIA)
    summary = write_real_outputs(tmp_path, [tiny_run], checks, {"seconds": 1.0})
    assert set(summary.verdict) <= {"PASS", "FAIL", "REPORT"}
    names = {p.name for p in tmp_path.iterdir()}
    assert names >= {"REPORT.md", "results.csv", "neurons.csv", "update_spectrum.csv",
                     "verdicts.csv", "robust_accuracy.png", "beta_scatter.png", "weights.npz",
                     "neuron_grid_l2.png", "neuron_grid_linf.png"}


def test_cli_real_and_data_commands(tmp_path, capsys):
    from reports.cli import main

    out = tmp_path / "real"
    sets = [x for k, v in TINY.items() if k not in ("dataset",)
            for x in ("--set", f"{k}={list(v) if isinstance(v, tuple) else v}")]
    code = main(["real", "--dataset", "digits", "--seeds", "1", "--out", str(out), *sets])
    assert code in (0, 1) and (out / "REPORT.md").is_file()
    assert main(["real", "--out", str(out), *sets]) == 2  # never overwrites
    assert main(["real", "--classes", "3", "--out", str(tmp_path / "x")]) == 2
    assert main(["data", "fetch", "digits"]) == 0
    assert "digits" in capsys.readouterr().out


def test_purification_real_is_an_extra_verify_check():
    from theorems import CHECKS, EXTRA_CHECKS

    assert "purification_real" in EXTRA_CHECKS and "purification_real" not in CHECKS
    assert callable(EXTRA_CHECKS["purification_real"].run)


# ------------------------------------------------------------------ Fashion-MNIST itself
def _fashion_or_skip():
    folder = find_fashion_mnist()
    if folder is None:
        if os.environ.get("CI"):
            pytest.fail("Fashion-MNIST is missing under CI: .ci/run must run "
                        "`fpsim data fetch fashion-mnist` before the tests.")
        pytest.skip("Fashion-MNIST not installed (fpsim data fetch fashion-mnist)")
    return folder


def test_fashion_mnist_installed_copy_verifies():
    from simulator.realdata.fetch import verify_fashion_mnist

    facts = verify_fashion_mnist(_fashion_or_skip())
    assert facts["shapes"]["train_images"] == [60000, 28, 28]
    assert facts["first_train_labels"] == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]


def test_fashion_mnist_tiny_run():
    _fashion_or_skip()
    cfg = RealConfig(**(TINY | dict(dataset="fashion-mnist", eps_l2=(0.5, 1.0), check_eps_l2=1.0,
                                    n_atoms=8, dict_images=500)))
    r = run_real(cfg)
    assert r.task.input_dim == 784 and len(r.task.y_train) == 12000
    assert pd.DataFrame(r.results).groupby("model").clean_acc.first()["clean"] > 0.75
