"""``fpsim sweep`` and ``fpsim sweep-report``: parameter grids and scaling laws.

    fpsim sweep GRID.toml [--out DIR] [--workers N] [--scheduler ADDRESS] [--local-cluster]
                          [--resume] [--level L] [--dry-run] [--no-progress]
    fpsim sweep-report DIR [--level L]

Exit codes: 0 every cell ok; 1 some cell failed (its record holds the traceback; the other
cells ran); 2 bad input (grid file, flags, existing DIR without --resume), nothing written;
130 interrupted (finished cells are kept: rerun with --resume).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
import warnings
from pathlib import Path

from simulator.config import ConfigError

from .config_flags import add_executor_flags, memory_limit

DEFAULT_LEVEL = 0.5  # τ_c: where half of the test points are broken
SWEEP_DESCRIPTION = """\
Run every cell of GRID.toml (the Cartesian product of its [grid] lists; taus, norms and
models are evaluated inside each cell) and write DIR/cells/<id>.json, DIR/results.csv and the
scaling report DIR/SCALING.md.  The grid format and the outputs: docs/sweeps.md.

exit codes: 0 every cell ok; 1 some cell failed (the others ran); 2 bad input, nothing
written; 130 interrupted (finish with the same command and --resume)."""


def register(sub) -> None:
    p = sub.add_parser("sweep", help="run a parameter grid as independent cells; write DIR",
                       description=SWEEP_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("grid", type=Path, help="GRID.toml: [base] overrides and [grid] lists")
    add_executor_flags(p, "sweep")
    p.add_argument("--level", type=float, default=DEFAULT_LEVEL,
                   help="robust-accuracy level that defines τ_c (default 0.5)")
    p.set_defaults(func=cmd_sweep)

    r = sub.add_parser("sweep-report", help="rebuild a sweep's tables and its scaling report")
    r.add_argument("dir", type=Path, help="a folder written by fpsim sweep")
    r.add_argument("--level", type=float, default=DEFAULT_LEVEL,
                   help="robust-accuracy level that defines τ_c (default 0.5)")
    r.add_argument("--attack", default="ensemble",
                   help="whose accuracy curve defines τ_c: 'ensemble' (default, an upper bound on "
                        "robust accuracy), 'certified' (a lower bound), or one attack")
    r.set_defaults(func=cmd_sweep_report)


def _check_level(level) -> float:
    if not 0 < level <= 1:
        raise ConfigError(f"The '--level' option must be a float in the range (0, 1]. Got {level} instead.")
    return level


def cmd_sweep(args) -> int:
    from simulator.budget import check_budget, estimate_cell, format_seconds
    from simulator.sweeps.grid import WARN_CELLS, load_grid

    from simulator.sweeps.runner import print_outcome, run_sweep

    _check_level(args.level)
    grid = load_grid(args.grid)
    # the largest cell must fit in memory; checked before any folder or worker exists
    budgets = [estimate_cell(c.config, c.models, c.lower_bounds) for c in grid.cells]
    check_budget(max(budgets, key=lambda b: b.peak_bytes), memory_limit(args))
    if args.dry_run:
        return _dry_run(grid)
    if len(grid.cells) > WARN_CELLS:
        warnings.warn(f"the grid has {len(grid.cells):,} cells, estimated at "
                      f"{format_seconds(sum(b.seconds for b in budgets))} in all; "
                      f"--dry-run lists them and their cost.", stacklevel=1)
    if args.resume and args.out is None:
        raise ConfigError("--resume needs --out DIR: the folder of the sweep to finish.")
    out = args.out or Path(f"runs/sweep-{args.grid.stem}-{time.strftime('%Y%m%d-%H%M%S')}")
    grid_text = args.grid.read_text()
    outcome = run_sweep(grid, out, grid_text=grid_text, workers=args.workers,
                        scheduler=args.scheduler, local_cluster=args.local_cluster,
                        resume=args.resume, progress=not args.no_progress, argv=sys.argv)
    print_outcome(outcome)
    if outcome.status == "interrupted":
        print(f"fpsim sweep: interrupted; finished cells are kept. Finish with: "
              f"fpsim sweep {args.grid} --out {out} --resume", file=sys.stderr)
        return 130
    report_ok = _report(out, args.level)
    if outcome.failed:
        print(f"fpsim sweep: {len(outcome.failed)} cell(s) failed; see cells.csv and "
              f"{out}/cells/<id>.json. Rerun them with --resume.", file=sys.stderr)
    return 1 if (outcome.failed or not report_ok) else 0


def _report(out: Path, level: float, attack: str = "ensemble") -> bool:
    """Write the scaling report; a failure is reported, never loses the sweep's records."""
    from simulator.sweeps.runner import load_manifest, load_records, write_tables
    from ..scaling import write_scaling_report

    try:
        manifest = load_manifest(out)
        records = load_records(out, [c["cell_id"] for c in manifest["cells"]])
        results = write_tables(out, manifest, records)
        if attack != "ensemble" and not results.empty and attack not in set(results.attack):
            raise ConfigError(f"The '--attack' option must be one of {sorted(set(results.attack))}. "
                              f"Got {attack!r} instead.")
        info = {"n_cells": len(manifest["cells"]), "grid_file": manifest.get("grid_file", ""),
                "n_ok": sum(1 for r in records.values() if r.get("status") == "ok")}
        rep = write_scaling_report(out, results, manifest.get("group_columns", []), level=level,
                                   attack=attack, info=info)
    except ConfigError:
        raise
    except Exception:
        print(f"fpsim sweep: the scaling report failed (the records are intact):\n"
              f"{traceback.format_exc()}", file=sys.stderr)
        return False
    exps = rep["exponents"]
    if not exps.empty:
        print(exps[[c for c in exps.columns if c not in ("intercept", "stderr")]]
              .to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"scaling report: {rep['paths']['markdown']}")
    return True


def cmd_sweep_report(args) -> int:
    _check_level(args.level)
    if not args.dir.is_dir():
        raise ConfigError(f"{str(args.dir)!r} is not a folder.")
    return 0 if _report(args.dir, args.level, args.attack) else 1


def _dry_run(grid) -> int:
    import pandas as pd

    from simulator.sweeps.cell import estimated_cost

    rows = []
    for c in grid.cells:
        rows.append({"cell_id": c.cell_id, **{k: c.params.get(k) for k in grid.columns},
                     "cost": estimated_cost(c.config, c.models, c.lower_bounds, c.stopping)})
    df = pd.DataFrame(rows)
    df["cost_share"] = df.cost / df.cost.sum()
    print(df.drop(columns="cost").to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"{len(df)} cells; models {list(grid.models)}; nothing written (--dry-run).")
    return 0
