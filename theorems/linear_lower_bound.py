"""Claim 3a — linear classifiers cannot be robust at τ*.

In our words: a linear classifier's robust radius is about |⟨w*, z⟩|/√d, which shrinks with
d, so at the radius τ* where the FGM-trained network is robust no linear classifier is —
whether trained clean, trained adversarially with the exact inner maximisation, or set to
the oracle direction M w*.

Measured, per seed: clean accuracy and robust accuracy at τ* of logistic regression trained
clean and adversarially (robust logistic loss with τ‖w‖₂ for ℓ2, τ∞‖w‖₁ for ℓ∞) and of the
oracle M w*: against the attack ensemble and exactly in closed form (y⟨w, x⟩ − r‖w‖_* > 0).

Pass: every model's mean robust accuracy at τ* (attack ensemble) ≤ 0.60.
"""

from __future__ import annotations

import sys

from .common import script_main
from .lower_bounds import lower_bound_check

CLAIM = "linear_lower_bound"
KINDS = ["linear", "linear_oracle"]


def run(regime, seeds=(0, 1, 2), norm="l2", cache=None):
    return lower_bound_check(CLAIM, KINDS, regime, seeds, norm, cache)


def main(argv=None) -> int:
    return script_main(CLAIM, run, argv)


if __name__ == "__main__":
    sys.exit(main())
