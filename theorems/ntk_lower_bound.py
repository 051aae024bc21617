"""Claim 3c — the neural tangent kernel of the same network cannot be robust at τ*.

In our words: the network linearised at its random initialisation W0 — same width, same
threshold rule — f(x; W0) + ⟨∇_W f(x; W0), ΔW⟩, keeps the random activation pattern of
initialisation, so it cannot purify features and is not robust at τ*, whether ΔW is trained
clean or with FGM adversarial training.

Measured, per seed: clean accuracy and ensemble robust accuracy at τ* of the NTK model
trained clean and adversarially.

Pass: every model's mean robust accuracy at τ* ≤ 0.60.
"""

from __future__ import annotations

import sys

from .common import script_main
from .lower_bounds import lower_bound_check

CLAIM = "ntk_lower_bound"
KINDS = ["ntk"]


def run(regime, seeds=(0, 1, 2), norm="l2", cache=None):
    return lower_bound_check(CLAIM, KINDS, regime, seeds, norm, cache)


def main(argv=None) -> int:
    return script_main(CLAIM, run, argv)


if __name__ == "__main__":
    sys.exit(main())
