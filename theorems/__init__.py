"""One module per claim of the paper; each opens with the claim, the quantity and the criterion.

:data:`CHECKS` is the registry of claims: name -> module with ``run(regime, seeds, norm,
cache) -> CheckResult``, in the order ``fpsim verify`` runs them (the network checks first, as
they share training runs).
"""

from . import (clean_not_robust, fgm_robust, linear_lower_bound, ntk_lower_bound,
               polynomial_lower_bound, purification)

CHECKS = {m.CLAIM: m for m in (clean_not_robust, fgm_robust, purification, linear_lower_bound,
                                polynomial_lower_bound, ntk_lower_bound)}
