"""One module per claim of the paper; each opens with the claim, the quantity and the criterion.

``CHECKS`` lists them in the order ``fpsim verify`` runs them (the network checks first, as
they share training runs).
"""

CHECKS = {
    "clean_not_robust": "theorems.clean_not_robust",
    "fgm_robust": "theorems.fgm_robust",
    "purification": "theorems.purification",
    "linear_lower_bound": "theorems.linear_lower_bound",
    "polynomial_lower_bound": "theorems.polynomial_lower_bound",
    "ntk_lower_bound": "theorems.ntk_lower_bound",
}

# Checks run only when named (``fpsim verify --only purification_real``): too slow for the
# default verify's time budget (Fashion-MNIST: ≈ 24 min wall per seed measured on a busy
# 2-core machine, two thirds of it in the attack ensemble).
EXTRA_CHECKS = {
    "purification_real": "theorems.purification_real",
}
