"""``fpsim bench --quick`` end to end: the JSON's structure, positive finite figures, bad input."""

import json
import math
from types import SimpleNamespace

import pytest

from reports.cli import main


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    assert main(["bench", "--quick", "--repeats", "2", "--threads", "1", "--out", str(out),
                 "--no-progress"]) == 0
    return json.loads(out.read_text()), out


def _numbers(tree):
    if isinstance(tree, dict):
        for v in tree.values():
            yield from _numbers(v)
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        yield tree


def test_printed_json_is_the_written_file(bench, capsys, tmp_path):
    out = tmp_path / "again.json"
    assert main(["bench", "--quick", "--repeats", "1", "--threads", "1", "--no-torch",
                 "--no-progress", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert printed["torch"] is None and "--no-torch" in printed["torch_reason"]


def test_structure_and_figures(bench):
    res, _ = bench
    assert res["quick"] is True and res["repeats"] == 2 and res["threads"] == 1
    assert len(res["load_average_before"]) == 3
    for key in ("cpu", "cpu_count", "blas", "numba", "numba_threading_layer", "python"):
        assert key in res["machine"]
    assert res["machine"]["numba_threading_layer"] in ("omp", "tbb", "workqueue")
    settings = res["settings"]
    assert len(res["steps"]) == len(settings["input_dims"]) * len(settings["dtypes"])
    for s in res["steps"]:
        assert set(s["seconds"]) == {"clean_step", "fgm_step", "clean_step_dense_products",
                                     "fgm_step_dense_products", "matmul_clean", "matmul_fgm"}
        assert set(s["fraction_of_matmul"]) == {"clean_step", "fgm_step", "clean_step_dense_products",
                                                "fgm_step_dense_products"}
        assert s["width"] == settings["width_factor"] * s["input_dim"]
        assert 0 < s["active_share"] < 0.2
        for x in _numbers({k: s[k] for k in ("seconds", "gflops", "fraction_of_matmul", "flops")}):
            assert math.isfinite(x) and x > 0
    for p in res["pgd"]:
        assert p["sample_steps_per_second"] > 0 and 0 < p["samples_attacked"] <= p["samples"]
    for f in res["feature_path"]:
        for x in _numbers({"s": f["seconds"], "x": f["speedup"]}):
            assert math.isfinite(x) and x > 0
    assert set(res["targets"]) >= {"feature_path_speedup"}


def test_torch_peer_when_installed(bench):
    res, _ = bench
    pytest.importorskip("torch")
    assert res["torch"] is not None, res["torch_reason"]
    assert res["torch"]["threads"] == 1
    for s in res["steps"]:
        assert set(s["speedup_vs_torch"]) == {"clean_step", "fgm_step"}
        for x in _numbers(s["torch_seconds"]):
            assert math.isfinite(x) and x > 0


BAD = [
    ("repeats-0", ["--repeats", "0"], "The '--repeats' option must be an int in the range [1, inf). Got 0 instead."),
    ("threads-0", ["--threads", "0"], "The '--threads' option must be an int in the range [1, 1024]. Got 0 instead."),
]


@pytest.mark.parametrize("args,message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_exits_2_naming_the_parameter(args, message, capsys):
    assert main(["bench", "--quick", *args]) == 2
    assert message in capsys.readouterr().err


def test_existing_output_file_is_not_overwritten(bench, capsys):
    _, out = bench
    before = out.read_text()
    assert main(["bench", "--quick", "--out", str(out)]) == 2
    assert "exists already" in capsys.readouterr().err
    assert out.read_text() == before


def test_interleaved_timing_takes_turns_and_reports_each_median(monkeypatch):
    """Rounds of one call each, after the warm-up; the median of each function's own calls
    (a fake clock: every call of 'slow' takes 3 s, of 'fast' 1 s, except one 100 s burst)."""
    from benchmarks import timing

    now = [0.0]
    calls = []

    def make(name, default, first=()):
        durations = list(first)

        def fn():
            calls.append(name)
            now[0] += durations.pop(0) if durations else default
        return fn

    monkeypatch.setattr(timing, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    # 'fast': its warm-up call, then a 100 s burst on its first timed call
    out = timing.time_interleaved({"slow": make("slow", 3.0), "fast": make("fast", 1.0, [1.0, 100.0])},
                                  repeats=5, warmup=1, warmup_seconds=0.0)
    assert calls == ["slow", "fast"] * 6
    assert out == {"slow": 3.0, "fast": 1.0}
    now[0], calls[:] = 0.0, []
    timing.time_calls(make("slow", 3.0), repeats=2, warmup=1, warmup_seconds=10.0)
    assert len(calls) == 4 + 2  # warm-up until 10 s have passed (4 calls of 3 s), then 2 timed
