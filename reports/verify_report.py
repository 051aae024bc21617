"""Files of ``fpsim verify``: summary.csv, one CSV per check, figures and REPORT.md."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from simulator.storage import write_csv

SUMMARY_COLUMNS = ["claim", "norm", "tau", "model", "quantity", "measured", "ci95_low",
                   "ci95_high", "per_seed", "criterion", "verdict", "flag"]


def write_summary(folder: Path, results: list) -> pd.DataFrame:
    rows = [row for r in results for row in r.summary_rows()]
    df = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    write_csv(Path(folder) / "summary.csv", df)
    return df


def _fmt(v):
    return "" if pd.isna(v) else f"{v:.3f}"


def _radii_table(summary: pd.DataFrame, regime) -> list:
    """Per claim and norm: the radius its adversarially trained models were trained at and the
    radius it is tested at (ℓ2 units; the ℓ∞ ball has radius τ/√d)."""
    if not len(summary):
        return []
    lines = ["Radii of each check (ℓ2 units; ℓ∞ radius = τ/√d). Adversarially trained models "
             "(the network and the adversarial lower-bound models) use the training radius:", "",
             "| claim | norm | trained at | tested at | same radius |", "| --- | --- | --- | --- | --- |"]
    for (claim, norm), _ in summary.groupby(["claim", "norm"], sort=False):
        if claim == "purification_real":
            continue  # images: ε in pixel units, stated in its own rows
        trained = regime.config_for(0, norm).train.adv_tau
        tested = regime.tau_for(norm)
        same = "yes" if abs(trained - tested) < 1e-12 else f"no ({trained / tested:.3g}× larger)"
        lines.append(f"| {claim} | {norm} | {trained:g} | {tested:g} | {same} |")
    return lines + [""]


# The committed asymptotic study (fpsim scaling, issue 12 §2) of the default regime's recipe:
# same-radius FGM at τ = 0.15, η_adv = 4, k = d^0.4, with m = 2d at d = 256 … 2048.
_RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
ASYMPTOTIC_REPORT = _RESULTS / "scaling_claims" / "SCALING_CLAIMS.md"
# Its pilot: the network claims only, 2 seeds, d = 256 … 1024.
PILOT_REPORT = _RESULTS / "scaling_claims_pilot" / "SCALING_CLAIMS.md"
# The same recipe with the radius scaled as 1/√k (networks and linear models only).
TAU_SCALED_REPORT = _RESULTS / "scaling_claims_tau_sqrt_k" / "SCALING_CLAIMS.md"


def _asymptotic_lines(regime, report: Path = ASYMPTOTIC_REPORT, pilot: Path = PILOT_REPORT,
                      tau_scaled: Path = TAU_SCALED_REPORT) -> list:
    """Where the trend of each claim across d is (for the regime whose recipe it scales)."""
    if regime.name != "default":
        return []
    if not report.exists():
        if pilot.exists():
            return ["Across d: the full asymptotic study is not committed yet; its pilot (the "
                    "network claims only, 2 seeds, d = 256 … 1024, same recipe with m = 2d) is: "
                    f"[{pilot.name}]({pilot.as_uri()}) (`{pilot}`).", ""]
        return ["Across d: no asymptotic report is committed yet (`fpsim scaling`, "
                "docs/scaling_claims.md).", ""]
    lines = [f"Across d: every claim's value per d, its trend in log d and its asymptotic verdict "
             f"(HOLDS / HOLDS IN THE LIMIT / DOES NOT), same recipe with m = 2d, τ fixed at 0.15: "
             f"[{report.name}]({report.as_uri()}) (`{report}`)."]
    if tau_scaled.exists():
        lines[0] += (" With τ scaled as 1/√k (the ideal network's radius; networks and linear "
                     f"models): [{tau_scaled.name}]({tau_scaled.as_uri()}) (`{tau_scaled}`).")
    return lines + [""]


def write_report(folder: Path, summary: pd.DataFrame, regime, figures: dict, run_info: dict,
                 status: str) -> Path:
    """REPORT.md: one page, readable on its own."""
    from theorems.common import overall_verdict

    cfg = regime.run
    d = cfg.data
    records = summary.fillna({"flag": ""}).to_dict("records") if len(summary) else []
    lines = [
        "# fpsim verify — feature purification, checked at finite size",
        "",
        f"**Overall: {overall_verdict(records)}.**" + ("" if status == "complete" else
                                                         f" (run {status}: checks not run are not counted)"),
        "",
        f"Status: **{status}**. Regime `{regime.name}`: d = {d.input_dim}, k = {d.sparsity:g}, "
        f"σ = {d.noise:g}, m = {cfg.network.width}, θ = {cfg.network.threshold:g}, "
        f"clean steps {cfg.train.clean_steps}, FGM steps {cfg.train.adv_steps} at training radius "
        f"{regime.config_for(0, 'l2').train.adv_tau:g}, batch {cfg.train.batch_size}, step sizes {cfg.train.step_size:g} / "
        f"{cfg.train.adv_step_size:g}. FGSM (ℓ∞) training at "
        f"τ = {regime.config_for(0, 'linf').train.adv_tau:g}/√d. Claims checked at τ* = {regime.tau_for('l2'):g} (ℓ2) "
        f"and τ∞* = {regime.tau_for('linf'):g}/√d = {regime.tau_for('linf') / d.input_dim ** 0.5:.4g} (ℓ∞). Seeds: {run_info.get('seeds')}. "
        f"Robust accuracies are against the full attack ensemble (FGM, PGD with "
        f"{cfg.eval.pgd_restarts} random restarts × {cfg.eval.pgd_steps} steps, dense attack, "
        f"feature attack): upper bounds on the true robust accuracy; certified figures are lower bounds.",
        "",
        "Verdicts compare the **mean over seeds** with the criterion; the 95% interval of the "
        "mean (Student t over seeds, clipped to the quantity's range, e.g. [0, 1] for "
        "accuracies and shares) is shown beside it. **MARGINAL** marks a verdict whose "
        "interval straddles the threshold: other seeds could turn it.",
        "",
    ]
    lines += _radii_table(summary, regime) + _asymptotic_lines(regime) + [
        "| claim | norm | model | quantity | measured | 95% CI | per seed | criterion | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for _, r in summary.iterrows():
        ci = "" if pd.isna(r.ci95_low) else f"[{_fmt(r.ci95_low)}, {_fmt(r.ci95_high)}]"
        verdict = {"PASS": "PASS", "FAIL": "**FAIL**"}.get(r.verdict, r.verdict.lower())
        if isinstance(r.get("flag"), str) and r.get("flag"):
            verdict += f" {r.flag}"
        lines.append(f"| {r.claim} | {r.norm} | {r.model} | {r.quantity} | {_fmt(r.measured)} | {ci} "
                     f"| {r.per_seed} | {r.criterion} | {verdict} |")
    lines += [""]
    for title, fname in figures.items():
        lines += [f"## {title}", "", f"![{title}]({fname})", ""]
    workers = run_info.get("workers", 1)
    on = (f"{workers} worker processes of one thread each (the training runs and fits), then one "
          f"process reading them" if workers > 1 else f"{run_info.get('threads')} thread(s)")
    lines += ["## Run", "", f"Wall time {run_info.get('seconds', 0):.0f} s on {on}. Full config, "
              f"package versions and timings: `run.json`.", ""]
    path = Path(folder) / "REPORT.md"
    path.write_text("\n".join(lines))
    return path
