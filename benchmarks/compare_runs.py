"""Compare the CSVs of two fpsim output folders (a refactor must not change a number).

    python benchmarks/compare_runs.py BEFORE_DIR AFTER_DIR

Every CSV present in BEFORE_DIR must exist in AFTER_DIR with the same bytes; columns that hold
wall-clock times (``fit_seconds``) are dropped before comparing the lower-bound tables, since
no two runs share them.  Prints one line per file and exits 1 on any difference.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

TIME_COLUMNS = ("fit_seconds",)


def compare(before: Path, after: Path) -> list[str]:
    """One line per CSV: 'identical', 'identical but for <time columns>', or what differs."""
    lines = []
    for a in sorted(before.glob("*.csv")):
        b = after / a.name
        if not b.exists():
            lines.append(f"MISSING    {a.name}")
        elif a.read_bytes() == b.read_bytes():
            lines.append(f"identical  {a.name}")
        else:
            da, db = pd.read_csv(a), pd.read_csv(b)
            drop = [c for c in TIME_COLUMNS if c in da.columns]
            if drop and da.drop(columns=drop).equals(db.drop(columns=drop, errors="ignore")):
                lines.append(f"identical  {a.name} (but for {', '.join(drop)})")
            else:
                lines.append(f"DIFFERS    {a.name}")
    return lines


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    lines = compare(Path(argv[0]), Path(argv[1]))
    print("\n".join(lines))
    return 1 if any(not line.startswith("identical") for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
