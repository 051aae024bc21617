"""Measure the staged evaluation and the exact stage on the networks of one `fpsim train` run.

For each model (ideal, clean-trained, FGM-trained) and each (norm, tau) asked for, on the run's
test set (same seed and stream as `fpsim train`):

- the plain attack table (every correct sample attacked) and the staged one (certifier first,
  attacks on the rest, then the exact stage of simulator/certification/bab.py on what is still undecided), with
  the time of each stage and the samples each stage handled;
- unstable neurons per sample that reaches the exact stage, time per such sample, how many the
  exact stage decides;
- violations of certified <= exact <= attacked, per sample, against the *plain* attack table:
  certified robust but broken by an attack, exact-robust but broken by an attack, certified
  robust but exact-broken. All must be 0.

Usage (after `fpsim train --out RUN`):

    python benchmarks/exact_stage.py --run RUN --out exact_stage.json
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

from simulator.attacks import AttackSettings, robust_accuracy_table
from simulator.certification.bab import count_unstable
from simulator.certification.relaxation import certified_margin
from simulator.config import RunConfig
from simulator.data import SparseCodingProblem
from simulator.network import ThresholdNetwork, ideal_network
from simulator.norms import radius_in_norm
from simulator.rng import stream
from simulator.staged import staged_robust_accuracy_table
from simulator.threads import thread_limit


def load_run(run: Path):
    info = json.loads((run / "run.json").read_text())
    cfg = RunConfig.from_dict(info["config"])
    weights = np.load(run / "weights.npz")
    problem = SparseCodingProblem(cfg.data, stream(cfg.seed, "problem"), dtype=cfg.network.dtype)
    if not np.array_equal(problem.M, weights["M"]):
        raise SystemExit(f"{run}: the rebuilt dictionary differs from the run's weights.npz")
    test = problem.sample(cfg.eval.n_test, stream(cfg.seed, "test_data"))
    models = {
        "ideal": ideal_network(problem, cfg.network),
        "clean": ThresholdNetwork.from_config(weights["W_clean"], cfg.network, name="clean"),
        "adversarial": ThresholdNetwork.from_config(weights["W_adv"], cfg.network,
                                                    name="adversarial"),
    }
    return cfg, problem, test, models


def subset(batch, n):
    """The first n test samples (the test set is i.i.d., so a prefix is a sample of it)."""
    from dataclasses import replace

    return replace(batch, X=batch.X[:n], y=batch.y[:n], Z=batch.Z[:n])


def measure(model, problem, test, norm, tau, settings, seed, time_limit, max_unstable):
    d = test.X.shape[1]
    radius = radius_in_norm(tau, norm, d)
    t0 = time.perf_counter()
    clean, plain, plain_stages = robust_accuracy_table(
        model, problem, test, [radius], norm, settings, stream(seed, "attack"), None,
        return_stages=True)
    seconds_plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, rows, stages = staged_robust_accuracy_table(
        model, problem, test, [radius], norm, settings, stream(seed, "attack"),
        exact_radii=[radius], time_limit=time_limit, max_unstable=max_unstable)
    seconds_staged = time.perf_counter() - t0
    stage = stages[0]
    decisions = stage["decisions"]
    W, b = np.asarray(model.W, float), np.asarray(model.b, float)
    attacked = plain_stages[0]["ensemble"]  # survived every attack, every correct sample attacked
    certified = certified_margin(W, b, test.X, test.y, radius, norm) > 0
    exact_robust = certified.copy()
    exact_broken = np.zeros_like(certified)
    for n, dec in decisions.items():
        exact_robust[n] = dec.status == "robust"
        exact_broken[n] = dec.status == "broken"
    unstable = count_unstable(W, b, test.X, test.y, radius, norm)
    idx = np.array(sorted(decisions), dtype=int)
    row = {r["attack"]: r for r in rows}
    plain_row = {r["attack"]: r["robust_acc"] for r in plain}
    return {
        "norm": norm, "tau": tau, "radius": radius, "n": int(test.X.shape[0]),
        "clean_acc": clean,
        "attacked_plain": plain_row["ensemble"], "attacked_staged": row["ensemble"]["robust_acc"],
        "per_attack_plain": plain_row,
        "per_attack_staged": {k: v["robust_acc"] for k, v in row.items()},
        "certified": row["certified"]["robust_acc"], "exact": row["exact"]["robust_acc"],
        "exact_upper": row["exact"]["robust_acc_upper"],
        "n_undecided": row["exact"]["n_undecided"],
        "stage_counts": {k: v for k, v in stage.items() if k.startswith("n")},
        "stage_seconds": {k: v for k, v in stage.items() if k.startswith("seconds")},
        "seconds_plain_attacks": seconds_plain, "seconds_staged_total": seconds_staged,
        "unstable_all": {"median": float(np.median(unstable)), "max": int(unstable.max())},
        "exact_inputs": [
            {"sample": int(n), "status": decisions[n].status, "reason": decisions[n].reason,
             "n_unstable": decisions[n].n_unstable, "nodes": decisions[n].nodes,
             "seconds": decisions[n].seconds, "lower_bound": decisions[n].lower_bound,
             "upper_bound": decisions[n].upper_bound} for n in idx],
        "violations": {
            "certified_but_attacked": int((certified & ~attacked).sum()),
            "exact_robust_but_attacked": int((exact_robust & ~attacked).sum()),
            "certified_but_exact_broken": int((certified & exact_broken).sum()),
        },
    }


def summary_line(model, r):
    inputs = r["exact_inputs"]
    unstable = [e["n_unstable"] for e in inputs]
    secs = [e["seconds"] for e in inputs]
    decided = sum(e["status"] != "undecided" for e in inputs)
    v = sum(r["violations"].values())

    def fmt(xs):
        return f"{int(np.median(xs))} / {max(xs)}" if xs else "–"

    def tfmt(xs):
        return f"{np.median(xs):.2f} / {max(xs):.2f}" if xs else "–"
    return (f"| {model} | {r['norm']} | {r['tau']:g} | {r['certified']:.4f} | {r['exact']:.4f} | "
            f"{r['exact_upper']:.4f} | {r['attacked_plain']:.4f} | {len(inputs)} | "
            f"{fmt(unstable)} | {tfmt(secs)} | {decided} | {r['n_undecided']} | {v} |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, required=True, help="output folder of `fpsim train`")
    p.add_argument("--out", type=Path, required=True, help="JSON file to write")
    p.add_argument("--n-test", type=int, default=None, help="first N test samples (default all)")
    p.add_argument("--l2-tau", type=float, default=0.15)
    p.add_argument("--linf-tau", type=float, default=0.2, help="ℓ∞ radius is tau/sqrt(d)")
    p.add_argument("--time-limit", type=float, default=30.0, help="seconds per sample")
    p.add_argument("--max-unstable", type=int, default=256)
    p.add_argument("--models", default="ideal,clean,adversarial")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    cfg, problem, test, models = load_run(args.run)
    if args.n_test:
        test = subset(test, args.n_test)
    e = cfg.eval
    settings = AttackSettings(e.pgd_steps, e.pgd_restarts, e.pgd_step_rel)
    out = {"run": str(args.run), "config": cfg.to_dict(), "argv": vars(args) | {
        "run": str(args.run), "out": str(args.out)},
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True, cwd=Path(__file__).parent).stdout.strip(),
        "machine": platform.platform(), "results": {}}
    lines = ["| model | norm | τ | certified | exact | exact upper | attacked | to exact | "
             "unstable (median / max) | s per sample (median / max) | decided | undecided | "
             "violations |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    with thread_limit(args.threads):
        for name in args.models.split(","):
            for norm, tau in (("l2", args.l2_tau), ("linf", args.linf_tau)):
                r = measure(models[name], problem, test, norm, tau, settings, cfg.seed,
                            args.time_limit, args.max_unstable)
                out["results"][f"{name}/{norm}"] = r
                lines.append(summary_line(name, r))
                print(lines[-1], flush=True)
                args.out.write_text(json.dumps(out, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
