"""``benchmarks/blas_kernels.py``: each OpenBLAS family in its own process, bad input exits 2."""

import json
import platform

import pytest

from benchmarks import blas_kernels


@pytest.mark.skipif(platform.machine() != "x86_64", reason="Haswell kernels are x86-64's")
def test_each_family_runs_under_its_own_kernel(tmp_path, capsys):
    out = tmp_path / "blas.json"
    assert blas_kernels.main(["--families", "Haswell", "--repeats", "1", "--out", str(out)]) == 0
    res = json.loads(out.read_text())["results"]
    assert [r["family"] for r in res] == ["Haswell"]
    assert res[0]["architecture"] == ["Haswell"]  # the child loaded OpenBLAS under the pin
    rows = res[0]["rows"]
    assert len(rows) == 2 * len(blas_kernels.SHAPES)  # float32 and float64 per shape
    for r in rows:
        assert r["median_ms"] > 0
        assert r["gflops"] == pytest.approx(2 * r["rows"] * r["input_dim"] * r["width"]
                                            / (r["median_ms"] / 1e3) / 1e9)
    assert "| Haswell | Haswell |" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["--repeats", "0"], "The '--repeats' option must be an int in the range [1, 1000]. Got 0"),
    (["--out", "/nonexistent/x.json"], "The '--out' option must name a file in an existing folder"),
])
def test_bad_input_exits_2_naming_the_option(args, message, capsys):
    assert blas_kernels.main(args) == 2
    assert message in capsys.readouterr().err


def test_an_existing_output_file_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "blas.json"
    out.write_text("kept")
    assert blas_kernels.main(["--families", "Haswell", "--out", str(out)]) == 2
    assert "exists already" in capsys.readouterr().err
    assert out.read_text() == "kept"
