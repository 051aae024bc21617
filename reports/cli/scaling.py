"""``fpsim scaling`` and ``fpsim scaling-report``: every claim of verify across d (issue 12 §2).

    fpsim scaling [--grid FILE] [--out DIR] [--workers N | --scheduler ADDRESS | --local-cluster]
                  [--resume] [--dry-run] [--no-progress]
    fpsim scaling-report DIR

A scaling study is a sweep (:mod:`simulator.sweeps.runner`: resumable, local pool or Dask)
of a grid over d and seeds whose cells train under a stopping rule and measure every claim
at the training radius; its report (:mod:`reports.scaling_claims`) gives each claim quantity
per d, its trend in log d and an asymptotic verdict (:mod:`theorems.asymptotics`).  A
subcommand of its own rather than ``fpsim verify --scaling``: it takes a grid and the sweep's
executor flags, none of verify's (--quick, --seeds, --only, --norms), and writes a sweep
folder, not verify's report.

Exit codes: 0 every cell ok and the report written; 1 some cell failed or the report failed;
2 bad input, nothing written; 130 interrupted (finish with the same command and --resume).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from simulator.config import ConfigError

from .config_flags import add_executor_flags, memory_limit

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_GRID = ROOT / "benchmarks" / "grids" / "scaling_claims.toml"
DESCRIPTION = """\
Measure every claim of fpsim verify at several input dimensions d (the grid file: d, seeds,
k = d^c, m = factor·d, the training radius τ, the models, the stopping rule) and report, for
each claim quantity, its value per d with a 95% CI over seeds, its trend in log d and an
asymptotic verdict: HOLDS, HOLDS IN THE LIMIT or DOES NOT.  Writes DIR/SCALING_CLAIMS.md.
The grid format: docs/sweeps.md; the study: docs/scaling_claims.md.

exit codes: 0 every cell ok; 1 some cell failed (the others ran); 2 bad input, nothing
written; 130 interrupted (finish with the same command and --resume)."""


def register(sub) -> None:
    p = sub.add_parser("scaling", help="every claim across d: per-d values, trends, asymptotic verdicts",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--grid", type=Path, default=DEFAULT_GRID,
                   help=f"GRID.toml (default: {DEFAULT_GRID.relative_to(ROOT)})")
    add_executor_flags(p, "study")
    p.set_defaults(func=cmd_scaling)

    r = sub.add_parser("scaling-report", help="rebuild the report of a scaling study")
    r.add_argument("dir", type=Path, help="a folder written by fpsim scaling")
    r.set_defaults(func=cmd_scaling_report)


def check_study_grid(grid) -> None:
    """A study needs the FGM-trained network and, in every cell, its training radius among the
    evaluated τ and its training norm among the evaluated norms (the same-radius claim)."""
    if "adversarial" not in grid.models:
        raise ConfigError(f"The grid's 'models' must include 'adversarial' (the claims compare it "
                          f"with the others). Got {list(grid.models)} instead.")
    for c in grid.cells:
        t, e = c.config.train, c.config.eval
        if not any(abs(tau - t.adv_tau) <= 1e-12 for tau in e.taus) or t.adv_norm not in e.norms:
            raise ConfigError(
                f"In the grid cell {c.params}: the claims are checked at the training radius, so "
                f"'taus' must include train.adv_tau = {t.adv_tau:g} and 'norms' train.adv_norm = "
                f"{t.adv_norm!r}. Got taus {list(e.taus)} and norms {list(e.norms)} instead.")


def cmd_scaling(args) -> int:
    from simulator.budget import check_budget, estimate_cell
    from simulator.sweeps.grid import load_grid
    from simulator.sweeps.runner import print_outcome, run_sweep

    grid = load_grid(args.grid)
    check_study_grid(grid)
    budgets = [estimate_cell(c.config, c.models, c.lower_bounds) for c in grid.cells]
    check_budget(max(budgets, key=lambda b: b.peak_bytes), memory_limit(args))
    if args.dry_run:
        from .sweep import _dry_run

        return _dry_run(grid)
    if args.resume and args.out is None:
        raise ConfigError("--resume needs --out DIR: the folder of the study to finish.")
    out = args.out or Path(f"runs/scaling-{args.grid.stem}-{time.strftime('%Y%m%d-%H%M%S')}")
    outcome = run_sweep(grid, out, grid_text=args.grid.read_text(), workers=args.workers,
                        scheduler=args.scheduler, local_cluster=args.local_cluster,
                        resume=args.resume, progress=not args.no_progress, argv=sys.argv)
    print_outcome(outcome)
    if outcome.status == "interrupted":
        print(f"fpsim scaling: interrupted; finished cells are kept. Finish with: fpsim scaling "
              f"--grid {args.grid} --out {out} --resume", file=sys.stderr)
        return 130
    report_ok = _report(out)
    if outcome.failed:
        print(f"fpsim scaling: {len(outcome.failed)} cell(s) failed; see {out}/cells.csv. "
              f"Rerun them with --resume.", file=sys.stderr)
    return 1 if (outcome.failed or not report_ok) else 0


def _report(out: Path) -> bool:
    """Write the claims report; a failure is reported and never loses the records."""
    from simulator.sweeps.runner import load_manifest, load_records, write_tables
    from ..scaling_claims import write_claims_report

    try:
        manifest = load_manifest(out)
        records = load_records(out, [c["cell_id"] for c in manifest["cells"]])
        write_tables(out, manifest, records)
        info = {"n_cells": len(manifest["cells"]), "grid_file": manifest.get("grid_file", ""),
                "n_ok": sum(1 for r in records.values() if r.get("status") == "ok"),
                "sessions": manifest.get("sessions", [])}
        rep = write_claims_report(out, [records.get(c["cell_id"]) for c in manifest["cells"]], info)
    except ConfigError:
        raise
    except Exception:
        print(f"fpsim scaling: the report failed (the records are intact):\n{traceback.format_exc()}",
              file=sys.stderr)
        return False
    v = rep["verdicts"]
    print(v[["claim", "quantity", "criterion", "value_d_max", "slope_log_d", "verdict", "marginal"]]
          .to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(f"report: {rep['markdown']}")
    return True


def cmd_scaling_report(args) -> int:
    if not args.dir.is_dir():
        raise ConfigError(f"{str(args.dir)!r} is not a folder.")
    return 0 if _report(args.dir) else 1
