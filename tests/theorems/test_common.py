"""Statistics and verdict logic of the theorem checks."""

import math

import numpy as np
import pytest
from scipy import stats

from theorems.common import (CRITERIA, CheckResult, Quantity, confidence_interval, overall_verdict,
                             quantity_range)


def test_confidence_interval_matches_scipy():
    v = [0.91, 0.88, 0.95, 0.9]
    lo, hi = confidence_interval(v)
    ref = stats.t.interval(0.95, len(v) - 1, loc=np.mean(v), scale=stats.sem(v))
    assert lo == pytest.approx(ref[0]) and hi == pytest.approx(ref[1])
    assert all(math.isnan(x) for x in confidence_interval([0.5]))


@pytest.mark.parametrize("criterion,values,verdict", [
    ("adv_robust_acc", [0.95, 0.9, 0.85], "PASS"),  # mean exactly 0.90 meets ≥ 0.90
    ("adv_robust_acc", [0.95, 0.9, 0.84], "FAIL"),
    ("clean_robust_acc", [0.5, 0.7], "PASS"),
    ("clean_robust_acc", [0.61, 0.61], "FAIL"),
    ("share_beta_ratio_above_1", [0.5], "FAIL"),  # strict >
    (None, [0.1], "REPORT"),
])
def test_verdict_is_the_criterion_on_the_mean(criterion, values, verdict):
    assert Quantity("q", values, criterion).verdict == verdict


def test_check_fails_if_any_quantity_fails():
    ok = Quantity("a", [1.0], "adv_clean_acc")
    bad = Quantity("b", [0.0], "adv_clean_acc")
    info = Quantity("c", [0.0], None)
    assert CheckResult("x", "l2", 0.1, [0], [ok, info]).verdict == "PASS"
    assert CheckResult("x", "l2", 0.1, [0], [ok, bad, info]).verdict == "FAIL"


def test_criteria_are_the_issue_targets():
    assert CRITERIA["adv_robust_acc"] == (">=", 0.90)
    assert CRITERIA["clean_robust_acc"] == ("<=", 0.60)
    assert CRITERIA["lower_bound_robust_acc"] == ("<=", 0.60)
    assert CRITERIA["dense_mixture_reduction"] == (">=", 3.0)
    assert CRITERIA["ideal_robust_acc"] == (">=", 0.95)


# ---------------------------------------------------------------- intervals, MARGINAL, overall


@pytest.mark.parametrize("values,name", [
    ([1.0, 0.95, 1.0], "robust_acc_ensemble"),   # the t interval ran to 1.054 before clipping
    ([0.0, 0.3, 0.6], "share_beta_ratio_above_1"),  # and below 0
    ([0.99, 1.0, 0.97], "clean_acc"),
])
def test_intervals_stay_in_the_quantity_range(values, name):
    raw = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert raw[0] < 0 or raw[1] > 1  # the unclipped interval leaves [0, 1]
    lo, hi = Quantity(name, values, None).interval
    assert 0.0 <= lo <= np.mean(values) <= hi <= 1.0
    assert lo == pytest.approx(max(raw[0], 0.0)) and hi == pytest.approx(min(raw[1], 1.0))


def test_unbounded_quantities_are_not_clipped_and_ratios_stay_positive():
    assert quantity_range("dense_mixture_reduction") == (0.0, math.inf)
    assert quantity_range("something_else") == (-math.inf, math.inf)
    lo, hi = Quantity("dense_mixture_reduction", [0.5, 8.0, 1.0], None).interval
    assert lo == 0.0 and hi > 8.0


@pytest.mark.parametrize("criterion,values,verdict,flag", [
    ("clean_robust_acc", [0.55, 0.65, 0.597], "PASS", "MARGINAL"),  # mean 0.599 ≤ 0.60
    ("lower_bound_robust_acc", [0.58, 0.62, 0.609], "FAIL", "MARGINAL"),  # mean 0.603 > 0.60
    ("clean_robust_acc", [0.40, 0.42, 0.41], "PASS", ""),
    ("adv_robust_acc", [0.95, 0.96, 0.97], "PASS", ""),
    ("adv_robust_acc", [0.95], "PASS", ""),  # one seed: no interval, no flag
])
def test_marginal_flags_intervals_straddling_the_threshold(criterion, values, verdict, flag):
    q = Quantity("robust_acc_ensemble", values, criterion)
    assert q.verdict == verdict and q.flag == flag  # the verdict is still the mean's


def test_overall_line_counts_fails_and_marginals():
    ok = Quantity("robust_acc_ensemble", [0.95, 0.96, 0.97], "adv_robust_acc", "adversarial")
    close = Quantity("robust_acc_ensemble", [0.55, 0.65, 0.597], "clean_robust_acc", "clean")
    bad = Quantity("robust_acc_ensemble", [0.58, 0.62, 0.609], "lower_bound_robust_acc", "ntk_adv")
    info = Quantity("median_purity_clean", [0.5, 0.6], None, "clean")
    rows = CheckResult("c", "l2", 0.15, [0, 1, 2], [ok, close, info]).summary_rows()
    line = overall_verdict(rows)
    assert line.startswith("PASS: all 2 criteria pass") and "1 MARGINAL" in line
    assert "clean robust_acc_ensemble = 0.599 (mean <= 0.6) PASS" in line
    rows += CheckResult("lb", "linf", 0.15, [0, 1, 2], [bad]).summary_rows()
    line = overall_verdict(rows)
    assert line.startswith("FAIL: 1 of 3 criteria fail (lb [linf] ntk_adv robust_acc_ensemble")
    assert "2 MARGINAL" in line
    assert overall_verdict([]).startswith("NO VERDICT")


def test_report_starts_with_the_overall_line(tmp_path):
    import pandas as pd

    from reports.verify_report import SUMMARY_COLUMNS, write_report
    from theorems.regime import regime_for

    close = Quantity("robust_acc_ensemble", [0.55, 0.65, 0.597], "clean_robust_acc", "clean")
    rows = CheckResult("clean_not_robust", "l2", 0.15, [0, 1, 2], [close]).summary_rows()
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    text = write_report(tmp_path, summary, regime_for(True), {}, {"seeds": [0, 1, 2]},
                        "complete").read_text()
    lines = text.splitlines()
    assert lines[2].startswith("**Overall: PASS: all 1 criteria pass; 1 MARGINAL")
    assert "| PASS MARGINAL |" in text
    lo, hi = close.interval
    assert f"[{lo:.3f}, {hi:.3f}]" in text


def test_report_links_the_asymptotic_study_of_the_default_regime_only(tmp_path):
    from reports.verify_report import _asymptotic_lines
    from theorems.regime import REGIMES

    study, pilot = tmp_path / "SCALING_CLAIMS.md", tmp_path / "pilot.md"
    scaled = tmp_path / "scaled.md"
    assert "no asymptotic report" in _asymptotic_lines(REGIMES["default"], study, pilot, scaled)[0]
    pilot.write_text("# pilot")
    line = _asymptotic_lines(REGIMES["default"], study, pilot, scaled)[0]
    assert "pilot" in line and pilot.as_uri() in line
    study.write_text("# study")
    line = _asymptotic_lines(REGIMES["default"], study, pilot, scaled)[0]
    assert study.as_uri() in line and "HOLDS IN THE LIMIT" in line and scaled.as_uri() not in line
    scaled.write_text("# τ ∝ 1/√k")
    line = _asymptotic_lines(REGIMES["default"], study, pilot, scaled)[0]
    assert study.as_uri() in line and scaled.as_uri() in line
    assert _asymptotic_lines(REGIMES["quick"], study) == []
    assert _asymptotic_lines(REGIMES["legacy-2x"], study) == []  # another recipe


def test_a_claim_module_runs_as_a_script_without_runpy_warning():
    """`python -m theorems.<claim>` must not find its module already imported by the package
    (runpy warns that this "may result in unpredictable behaviour"): CHECKS is built lazily."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-m",
                           "theorems.linear_lower_bound", "--help"], cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "usage: python -m theorems.linear_lower_bound" in proc.stdout
    assert "found in sys.modules" not in proc.stderr
