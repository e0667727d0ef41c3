"""Bias, interval coverage and speed of effect estimates, on seeded synthetic data with known effects.

Run ``python -m tests.bench.bench_effects [--quick] [--reps N]``. Prints:

* **coverage and bias** of the 95% intervals over ``--reps`` seeded repetitions of the confounded
  design of :mod:`tests.effects_data` (true effect -0.18; the naive slope is badly biased), for the
  headline linear regression, double ML (``LinearDML``) and the naive regression; and the same for
  a binary treatment estimated by propensity-score weighting (bootstrap interval);
* **heterogeneous effects**: how often two scopes with effects -0.30 and -0.05 come out in the right
  order with separated intervals, and the coverage of the per-scope intervals;
* **speed**: one effect question with refutations on 2,000 rows and 15 nodes (goal: < 20 s on 2
  cores), after a warm-up call that pays the imports.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd

from graphs.model import parse_graph
from rca.engine.effects import estimate_effect
from rca.engine.heterogeneity import heterogeneous_effects
from tests.effects_data import TRUE_EFFECT, confounded_frame, confounded_graph, weeks, wide_graph_and_frame

BINARY = parse_graph("""
name: bin
unit: week
nodes: {size: {}, pairing: {higher_is_worse: false}, bugs: {}}
edges: [[size, pairing], [size, bugs], [pairing, bugs]]
""")


def _binary_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    size = rng.normal(0, 1, n)
    pairing = (rng.random(n) < 1 / (1 + np.exp(-1.2 * size))).astype(float)
    bugs = 1.0 - 0.5 * pairing + 1.0 * size + rng.normal(0, 0.5, n)
    return pd.DataFrame({"size": size, "pairing": pairing, "bugs": bugs}, index=weeks(n))


def _line(name: str, values: list[float], covered: list[bool], truth: float) -> str:
    v = np.asarray(values)
    cov = float(np.mean(covered))
    se = np.sqrt(cov * (1 - cov) / len(covered))
    return (f"{name:<28} n={len(v):>4}  coverage {cov:.3f} (+/- {1.96 * se:.3f})  bias {v.mean() - truth:+.4f}  "
            f"rmse {np.sqrt(np.mean((v - truth) ** 2)):.4f}  (truth {truth})")


def coverage(reps: int, rows: int) -> None:
    graph = confounded_graph()
    est: dict[str, list[float]] = {"linear_regression": [], "double_ml": [], "naive_regression": []}
    hit: dict[str, list[bool]] = {k: [] for k in est}
    t0 = time.perf_counter()
    for i in range(reps):
        r = estimate_effect(confounded_frame(rows, seed=1000 + i), graph, "line_coverage_ratio", "bug_fix_commit_ratio",
                            seed=i, refute=False)
        for e in (*r.estimates, r.naive):
            est[e.method].append(e.value)
            hit[e.method].append(e.covers(TRUE_EFFECT))
    print(f"# continuous treatment, confounded design, {rows} rows, {reps} repetitions "
          f"({time.perf_counter() - t0:.0f} s)")
    for k in est:
        print(_line(k, est[k], hit[k], TRUE_EFFECT), flush=True)


def binary_coverage(reps: int, rows: int) -> None:
    vals, hits, reg, reg_hits = [], [], [], []
    t0 = time.perf_counter()
    for i in range(reps):
        r = estimate_effect(_binary_frame(rows, 2000 + i), BINARY, "pairing", "bugs", seed=i, refute=False, bootstrap=200)
        vals.append(r.effect)
        hits.append(r.estimates[0].covers(-0.5))
        reg.append(r.estimates[1].value)
        reg_hits.append(r.estimates[1].covers(-0.5))
    print(f"# binary treatment, {rows} rows, {reps} repetitions ({time.perf_counter() - t0:.0f} s)")
    print(_line("propensity_score_weighting", vals, hits, -0.5))
    print(_line("regression_adjustment", reg, reg_hits, -0.5), flush=True)


def heterogeneity(reps: int, rows: int) -> None:
    graph = confounded_graph()
    ordered, separated, hits = 0, 0, []
    t0 = time.perf_counter()
    for i in range(reps):
        rng = np.random.default_rng(3000 + i)
        frames = {}
        for scope, eff in (("a", -0.30), ("b", -0.05)):
            team = rng.normal(8, 2, rows)
            cov = 0.5 + 0.02 * team + rng.normal(0, 0.05, rows)
            review = rng.normal(5, 1, rows)
            bugs = 0.3 + eff * cov + 0.01 * team + 0.002 * review + rng.normal(0, 0.01, rows)
            frames[scope] = pd.DataFrame({"team_size": team, "review_hours": review, "line_coverage_ratio": cov,
                                          "bug_fix_commit_ratio": bugs}, index=weeks(rows))
        r = heterogeneous_effects(frames, graph, "line_coverage_ratio", "bug_fix_commit_ratio", seed=i)
        ordered += r.most_helped == "a"
        separated += r.separated
        truth = {"a": -0.30, "b": -0.05}
        hits += [s.interval[0] <= truth[s.scope] <= s.interval[1] for s in r.scopes]
    print(f"# heterogeneous effects, 2 scopes x {rows} rows, {reps} repetitions ({time.perf_counter() - t0:.0f} s)")
    print(f"ordered correctly {ordered}/{reps}, intervals separated {separated}/{reps}, "
          f"per-scope 95% coverage {np.mean(hits):.3f} (n={len(hits)})", flush=True)


def speed() -> None:
    graph, frame, treatment, outcome = wide_graph_and_frame(2000, seed=0)
    estimate_effect(frame.iloc[:200], graph, treatment, outcome, seed=0, simulations=5)  # warm-up: imports
    t0 = time.perf_counter()
    r = estimate_effect(frame, graph, treatment, outcome, seed=0)
    total = time.perf_counter() - t0
    steps = ", ".join(f"{k} {v:.2f} s" for k, v in r.timings_s.items())
    print(f"# speed: one effect question with refutations (50 simulations each), {r.rows} rows, "
          f"{len(graph.nodes)} nodes, {len(r.identification.variables)} adjusted for, {os.cpu_count()} cores")
    print(f"effect question: {total:.2f} s ({steps}); goal < 20 s: {'met' if total < 20 else 'MISSED'}")
    print(f"  effect {r.effect:.3f} (truth 1.48), interval {r.interval[0]:.3f} to {r.interval[1]:.3f}; "
          f"double ML {r.estimates[1].value:.3f}; naive {r.naive.value:.3f}")
    print(f"  answer: {r.answer}")
    if r.caveats:
        print(f"  caveats: {'; '.join(r.caveats)}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--reps", type=int, default=None, help="repetitions of the coverage runs (default 200, quick 40)")
    args = ap.parse_args(argv)
    reps = args.reps or (40 if args.quick else 200)
    warnings.simplefilter("ignore")
    speed()
    coverage(reps, 200)
    binary_coverage(max(20, reps // 2), 400)
    heterogeneity(max(10, reps // 4), 120)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
