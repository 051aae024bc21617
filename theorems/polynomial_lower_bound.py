"""Claim 3b — low-degree polynomials cannot be robust at τ*.

In our words: a polynomial of degree p (here p = 2 and 3, as polynomial-kernel machines on a
finite set of centres) cannot express the thresholding that makes a neuron ignore small
dense perturbations, so at τ* it is not robust, whether trained clean or adversarially
(PGD/FGM examples through the model's own input gradient).

Measured, per seed: clean accuracy and ensemble robust accuracy at τ* of the degree-2 and
degree-3 models, trained clean and adversarially.

Pass: every model's mean robust accuracy at τ* ≤ 0.60.
"""

from __future__ import annotations

import sys

from .common import script_main
from .lower_bounds import lower_bound_check

CLAIM = "polynomial_lower_bound"
KINDS = ["poly2", "poly3"]


def run(regime, seeds=(0, 1, 2), norm="l2", cache=None):
    return lower_bound_check(CLAIM, KINDS, regime, seeds, norm, cache)


def main(argv=None) -> int:
    return script_main(CLAIM, run, argv)


if __name__ == "__main__":
    sys.exit(main())
