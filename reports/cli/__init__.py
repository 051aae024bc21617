"""The ``fpsim`` command line: one module per subcommand, listed in :data:`COMMANDS`.

    fpsim train | verify | sweep | sweep-report | scaling | scaling-report | real | data | bench  (``fpsim CMD --help``)

Exit codes: 0 success; 1 a check failed (verify); 2 bad input (config, flags, output folder);
3 training diverged; 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from simulator import storage
from simulator.config import ConfigError

from . import bench, data, real, scaling, sweep, train, verify

# Every subcommand, in the order ``fpsim --help`` lists them; each module's ``register(sub)``
# adds its parser(s).
COMMANDS = (train, verify, sweep, scaling, real, data, bench)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="fpsim",
        description="Reference simulator for 'Feature Purification: How Adversarial Training "
                    "Performs Robust Deep Learning' (Allen-Zhu & Li): train, verify the paper's "
                    "claims, sweep parameters, benchmark the kernels.",
        epilog="exit codes: 0 success; 1 a check or cell failed; 2 bad input; 3 training "
               "diverged; 130 interrupted")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)

    args = parser.parse_args(argv)
    # warnings meant for the user (oversubscription, large sweeps) read as one plain line
    warnings.formatwarning = lambda message, category, *rest, **kw: (
        f"fpsim {args.command}: warning: {message}\n")
    try:
        return args.func(args)
    except (ConfigError, storage.OutputExistsError) as exc:
        print(f"fpsim {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
