"""Each figure of the verify report reads on its own: labelled axes, every line style explained."""

import numpy as np
import pandas as pd
import pytest

from reports import figures as F

MODELS = ["ideal", "clean", "adversarial", "linear_oracle", "linear_clean", "linear_adv",
          "poly2_clean", "poly2_adv", "poly3_clean", "poly3_adv", "ntk_clean", "ntk_adv"]


@pytest.fixture
def figures(monkeypatch):
    """The figures the functions draw (kept instead of closed)."""
    kept = []
    monkeypatch.setattr(F.plt, "close", kept.append)
    return kept


def texts(fig) -> str:
    out = [t.get_text() for t in fig.texts]
    for leg in fig.legends:
        out += [t.get_text() for t in leg.get_texts()]
    for ax in fig.axes:
        out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        if ax.get_legend():
            out += [t.get_text() for t in ax.get_legend().get_texts()]
        out += [t.get_text() for t in ax.texts]
    return "\n".join(out)


def test_robust_accuracy_has_panels_per_family_and_explains_styles(tmp_path, figures):
    rng = np.random.default_rng(0)
    rows = [dict(seed=s, model=m, norm=n, tau=t, attack="ensemble", robust_acc=rng.uniform())
            for s in range(2) for m in MODELS for n in ("l2", "linf") for t in (0.1, 0.2)]
    F.robust_curves(pd.DataFrame(rows), tmp_path / "r.png", {"l2": 0.15, "linf": 0.15})
    assert (tmp_path / "r.png").stat().st_size > 10_000
    fig = figures[0]
    text = texts(fig)
    for phrase in ("solid: adversarially trained", "dashed: clean-trained", "dotted: not trained",
                   "band: min–max over seeds", "τ*"):
        assert phrase in text
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 8  # 4 families × 2 norms
    assert max(len(ax.get_lines()) for ax in panels) <= 6  # ≤ 4 models + reference + τ*
    for ax in panels:
        assert ax.get_xlabel() and "τ" in ax.get_xlabel()


def test_feature_profiles_label_the_x_axis_and_say_which_neurons(tmp_path, figures):
    rng = np.random.default_rng(1)
    w_star = rng.choice([-1.0, 1.0], 20)
    C_clean = rng.normal(size=(30, 20)) * 0.1 + 0.05 * w_star
    C_adv = rng.normal(size=(30, 20)) * 0.05
    F.feature_profiles(C_clean, C_adv, w_star, tmp_path / "f.png")
    fig = figures[0]
    assert all(ax.get_xlabel() for ax in fig.axes[4:])  # bottom row
    text = texts(fig)
    assert "typical neurons" in text and "closest to the median" in text
    assert "own feature" in text and "w*_j = +1" in text and "w*_j = −1" in text
    from simulator.metrics import dense_mixture_share
    share = dense_mixture_share(C_clean, w_star, 1)
    chosen = F.typical_neurons(C_clean, w_star, 4)
    others = np.setdiff1d(np.arange(30), chosen)
    dist = np.abs(share - np.median(share))
    assert dist[chosen].max() <= dist[others].min()


def test_mixture_curves_label_every_seed_and_mark_the_switch(tmp_path, figures):
    rows = []
    for seed in range(3):
        for norm in ("l2", "linf"):
            rows += [dict(seed=seed, norm=norm, phase="clean", step=s,
                          median_dense_mixture_share=0.5) for s in (0, 100, 200)]
            rows += [dict(seed=seed, norm=norm, phase="adversarial", step=s,
                          median_dense_mixture_share=0.5 - s / 500) for s in (0, 100, 200)]
    F.mixture_curves(pd.DataFrame(rows), tmp_path / "m.png")
    fig = figures[0]
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert len(labels) == 6 and all(label.startswith("seed ") for label in labels)
    assert "clean → adversarial training" in texts(fig)
    switch = [ln for ln in fig.axes[0].get_lines() if list(ln.get_xdata()) == [200, 200]]
    assert switch  # the vertical line at the last clean step
