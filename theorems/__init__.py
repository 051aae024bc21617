"""One module per claim of the paper; each opens with the claim, the quantity and the criterion.

:data:`CHECKS` is the registry of claims: name -> module with ``run(regime, seeds, norm,
cache) -> CheckResult``, in the order ``fpsim verify`` runs them (the network checks first, as
they share training runs).  :data:`EXTRA_CHECKS` run only when ``fpsim verify --only`` names
them, beyond the default verify's 30-minute budget: the real-image check needs the
Fashion-MNIST data and about 24 min a seed on 2 cores; the low-rank check trains five rank-r
networks per seed and norm (about 12–15 min each at the default regime, measured under load).
"""

from . import (clean_not_robust, fgm_robust, linear_lower_bound, ntk_lower_bound,
               low_rank_update, polynomial_lower_bound, purification, purification_real)

CHECKS = {m.CLAIM: m for m in (clean_not_robust, fgm_robust, purification, linear_lower_bound,
                                polynomial_lower_bound, ntk_lower_bound)}
EXTRA_CHECKS = {m.CLAIM: m for m in (low_rank_update, purification_real)}
