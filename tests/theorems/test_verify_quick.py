"""``fpsim verify --quick`` end to end: every check, every file, verdicts consistent with numbers.

This is the test suite's one full pass over the theorem checks (a few minutes on 2 cores).
"""

import json
import re

import pandas as pd
import pytest

from reports.cli import main
from theorems import CHECKS
from theorems.common import CRITERIA, meets


@pytest.fixture(scope="module")
def verify_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("verify") / "quick"
    code = main(["verify", "--quick", "--seeds", "2", "--out", str(out), "--no-progress"])
    return out, code


def test_every_claim_and_norm_is_reported(verify_dir):
    out, code = verify_dir
    s = pd.read_csv(out / "summary.csv")
    assert {"claim", "norm", "quantity", "measured", "criterion", "verdict"} <= set(s.columns)
    assert set(s.claim) == set(CHECKS)
    assert set(s.norm) == {"l2", "linf"}
    for claim in CHECKS:
        for norm in ("l2", "linf"):
            assert (out / f"{claim}_{norm}.csv").exists()
    assert code == (1 if (s.verdict == "FAIL").any() else 0)


def test_verdicts_follow_from_measured_values(verify_dir):
    out, _ = verify_dir
    s = pd.read_csv(out / "summary.csv")
    by_text = {f"mean {op} {thr:g}": (op, thr) for op, thr in CRITERIA.values()}
    graded = s[s.verdict != "REPORT"]
    assert len(graded) > 0
    for _, r in graded.iterrows():
        op, thr = by_text[r.criterion]
        assert (r.verdict == "PASS") == meets(r.measured, op, thr)
        seeds = [float(v) for v in r.per_seed.split(";")]
        assert r.measured == pytest.approx(sum(seeds) / len(seeds), rel=1e-3)


def test_report_and_figures(verify_dir):
    out, _ = verify_dir
    text = (out / "REPORT.md").read_text()
    for png in re.findall(r"\]\(([^)]+\.png)\)", text):
        assert (out / png).stat().st_size > 10_000
    assert len(re.findall(r"\.png\)", text)) == 3
    assert "| claim | norm |" in text
    rec = json.loads((out / "run.json").read_text())
    assert rec["status"] == "complete" and rec["seeds"] == [0, 1]


def test_robust_accuracy_never_exceeds_clean_in_details(verify_dir):
    out, _ = verify_dir
    for claim in ("clean_not_robust", "fgm_robust", "linear_lower_bound", "ntk_lower_bound"):
        d = pd.read_csv(out / f"{claim}_l2.csv")
        assert (d.robust_acc <= d.clean_acc + 1e-12).all()


def test_bad_verify_arguments(tmp_path, capsys):
    assert main(["verify", "--quick", "--only", "nonsense", "--out", str(tmp_path / "o")]) == 2
    assert "'--only' option must be a comma-separated list" in capsys.readouterr().err
    assert main(["verify", "--quick", "--seeds", "0", "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.partial").exists()
