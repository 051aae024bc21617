"""Files written by ``fpsim train``: results.csv, neurons.csv, curves.csv, run.json, weights.npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from simulator.storage import environment, peak_rss_mib, write_csv, write_json

RESULT_COLUMNS = ["model", "norm", "tau", "radius", "attack", "clean_acc", "robust_acc",
                  "n_undecided", "robust_acc_upper"]  # the last two on exact rows only


def save_weights(path: Path, res) -> None:
    """weights.npz of a run or of the phases trained so far (a weight not trained is absent)."""
    arrays = {"W_init": res.W_init, "W_clean": res.W_clean, "W_adv": res.W_adv,
              "M": res.problem.M, "w_star": res.problem.w_star}
    tmp = path.with_suffix(".tmp.npz")
    # U, V of a low-rank update (train.adv_rank): W_adv = W_clean + U Vᵀ
    arrays.update(getattr(res, "adv_factors", None) or {})
    np.savez(tmp, **{k: v for k, v in arrays.items() if v is not None})
    tmp.replace(path)


def run_record(res, status: str, threads: int, argv=None, *, cfg=None, phase=None) -> dict:
    """run.json: status, the phase reached, full config, seed, timings, environment.

    ``res`` may be None (nothing finished yet), the phases trained so far, or the whole run.
    """
    cfg = res.config if cfg is None else cfg
    return {
        "status": status,
        "phase": phase if phase is not None else ("complete" if status == "complete" else None),
        "seed": cfg.seed,
        "config": cfg.to_dict(),
        "threads": threads,
        "timings_seconds": {} if res is None else res.timings,
        "peak_rss_mib": peak_rss_mib(),
        "summary": getattr(res, "summary", {}),
        "environment": environment(),
        "argv": list(argv) if argv is not None else None,
    }


def write_train_outputs(staging: Path, res, threads: int, argv=None) -> None:
    write_csv(staging / "results.csv", pd.DataFrame(res.results, columns=RESULT_COLUMNS))
    write_csv(staging / "neurons.csv", pd.DataFrame(res.neurons))
    write_csv(staging / "curves.csv", pd.DataFrame(res.curves))
    write_csv(staging / "update_spectrum.csv",
              pd.DataFrame({"index": np.arange(len(res.spectrum)),
                            "singular_value": res.spectrum}))
    save_weights(staging / "weights.npz", res)
    write_json(staging / "run.json", run_record(res, "complete", threads, argv))
