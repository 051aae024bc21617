"""One module per claim of the paper; each opens with the claim, the quantity and the criterion.

:data:`CHECKS` is the registry of claims: name -> module with ``run(regime, seeds, norm,
cache) -> CheckResult``, in the order ``fpsim verify`` runs them (the network checks first, as
they share training runs).  :data:`EXTRA_CHECKS` run only when ``fpsim verify --only`` names
them, beyond the default verify's 30-minute budget: the real-image check needs the
Fashion-MNIST data and about 24 min a seed on 2 cores; the low-rank check trains five rank-r
networks per seed and norm (about 12–15 min each at the default regime, measured under load).
"""

import importlib

_CHECK_MODULES = ("clean_not_robust", "fgm_robust", "purification", "linear_lower_bound",
                  "polynomial_lower_bound", "ntk_lower_bound")
_EXTRA_MODULES = ("low_rank_update", "purification_real")


def __getattr__(name):
    """CHECKS and EXTRA_CHECKS are built on first use, not when the package is imported: so
    ``python -m theorems.<claim>`` runs its module once, as __main__, instead of finding it
    already imported by this package (runpy's "found in sys.modules" warning)."""
    if name in ("CHECKS", "EXTRA_CHECKS"):
        mods = _CHECK_MODULES if name == "CHECKS" else _EXTRA_MODULES
        value = {m.CLAIM: m for m in (importlib.import_module(f"{__name__}.{n}") for n in mods)}
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
