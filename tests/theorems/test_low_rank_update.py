"""The low_rank_update check: which rank the criterion reads, and one quick run end to end."""

import pandas as pd
import pytest

from theorems.common import CRITERIA, meets
from theorems.low_rank_update import _pick_rank, run


def _details(rows):
    """rows: (seed, model, clean_acc, robust_acc_ensemble)."""
    return pd.DataFrame(rows, columns=["seed", "model", "clean_acc", "robust_acc_ensemble"])


def test_pick_rank_takes_the_smallest_gap_among_accurate_small_ranks():
    d = _details([(0, "full", 1.0, 0.90), (1, "full", 1.0, 0.92),
                  (0, "rank-1", 0.99, 0.80), (1, "rank-1", 0.99, 0.80),
                  (0, "rank-2", 0.90, 0.91), (1, "rank-2", 0.90, 0.91),  # best gap, not accurate
                  (0, "rank-4", 0.98, 0.88), (1, "rank-4", 0.98, 0.86),
                  (0, "rank-8", 1.0, 0.92), (1, "rank-8", 1.0, 0.92)])  # r > 4: never read
    assert _pick_rank(d, (1, 2, 4, 8)) == 4


def test_pick_rank_falls_back_to_the_most_accurate_small_rank():
    d = _details([(0, "full", 1.0, 0.9), (0, "rank-1", 0.90, 0.9), (0, "rank-2", 0.95, 0.5)])
    assert _pick_rank(d, (1, 2)) == 2
    with pytest.raises(ValueError, match="'ranks' parameter of low_rank_update must include some r"):
        _pick_rank(d, (8, 16))


@pytest.mark.slow
def test_quick_check_reports_every_model_and_a_consistent_verdict():
    from theorems.regime import QUICK

    res = run(QUICK, seeds=[0], norm="l2", ranks=(1, 2))
    models = set(res.details.model)
    assert models == {"clean", "full", "projection", "rank-1", "rank-2", "best-rank-1", "best-rank-2"}
    assert (res.details.robust_acc_ensemble <= res.details.clean_acc + 1e-12).all()
    graded = [q for q in res.quantities if q.criterion]
    assert [q.criterion for q in graded] == ["low_rank_robust_gap", "low_rank_clean_acc"]
    ok = all(meets(q.mean, *CRITERIA[q.criterion]) for q in graded)
    assert res.verdict == ("PASS" if ok else "FAIL")
