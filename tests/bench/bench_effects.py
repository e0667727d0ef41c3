"""Bias, interval coverage and speed of effect estimates, on seeded synthetic data with known effects.

Run ``python -m tests.bench.bench_effects [--quick] [--reps N]``. Prints:

* **the hard cases** (``--hard-reps`` repetitions each, at least 30): non-linear confounding (team
  size enters as a square) at 200 and 1,500 rows, a confounder whose column is in the data but not in
  the graph, and a confounded binary treatment. For each: the headline's bias, the coverage of its
  95% interval, how often the answer says "Unreliable", how often it covers the truth *or* says so
  (the goal: at least 0.90), and how often an unreliable answer still claims that it "survives" a
  check (the goal: never);
* **coverage and bias** of the 95% intervals over ``--reps`` seeded repetitions of the linear
  confounded design of :mod:`tests.effects_data` (true effect -0.18; the naive slope is badly
  biased), for the headline linear regression, double ML and the naive regression; and the same for
  a binary treatment (doubly robust headline, regression adjustment beside it);
* **heterogeneous effects**: how often two scopes with effects -0.30 and -0.05 come out in the right
  order with separated intervals, and the coverage of the per-scope intervals, with few rows
  (LinearDML answers) and with enough for a causal forest (CausalForestDML answers);
* **speed**: one effect question with refutations on 2,000 rows and 15 nodes, after a warm-up call
  that pays the imports (the whole process, start-up included, is timed from outside: see the README).
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
from tests.effects_data import (
    BINARY_TRUTH,
    HARD_TRUTH,
    TRUE_EFFECT,
    binary_frame,
    binary_graph,
    confounded_frame,
    confounded_graph,
    missing_confounder_frame,
    nonlinear_frame,
    weeks,
    wide_graph_and_frame,
)

HARD_CASES = {
    "non-linear confounding, 200 rows": (lambda s: nonlinear_frame(200, s), confounded_graph, "line_coverage_ratio",
                                         HARD_TRUTH),
    "non-linear confounding, 1,500 rows": (lambda s: nonlinear_frame(1500, s), confounded_graph, "line_coverage_ratio",
                                           HARD_TRUTH),
    "confounder left out of the graph": (lambda s: missing_confounder_frame(400, s), confounded_graph,
                                         "line_coverage_ratio", HARD_TRUTH),
    "binary treatment, confounded": (lambda s: binary_frame(400, s), binary_graph, "code_review", BINARY_TRUTH),
}

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


def hard_cases(reps: int) -> None:
    """The four cases where a linear adjustment gives a confident wrong answer, as a Markdown table."""
    print(f"# hard cases: {reps} repetitions each (truth -0.5 per unit of coverage; -0.05 for switching review on)")
    print("| case | headline (most often) | bias | 95% coverage | unreliable | covered or unreliable | "
          "'survives' when unreliable | s per question |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (make, graph, treatment, truth) in HARD_CASES.items():
        values, covered, reliable, survives, methods = [], [], [], 0, []
        t0 = time.perf_counter()
        for i in range(reps):
            r = estimate_effect(make(5000 + i), graph(), treatment, "bug_fix_commit_ratio", seed=i, simulations=20)
            values.append(r.effect)
            covered.append(r.interval[0] <= truth <= r.interval[1])
            reliable.append(r.reliable)
            survives += (not r.reliable) and "survives" in r.answer
            methods.append(r.method)
        v, c, ok = np.asarray(values), np.asarray(covered), np.asarray(reliable)
        top = max(set(methods), key=methods.count)
        print(f"| {name} | {top} ({methods.count(top)}/{reps}) | {v.mean() - truth:+.4f} | {c.mean():.2f} | "
              f"{1 - ok.mean():.2f} | {np.mean(c | ~ok):.2f} | {survives} | "
              f"{(time.perf_counter() - t0) / reps:.2f} |", flush=True)


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
        r = estimate_effect(_binary_frame(rows, 2000 + i), BINARY, "pairing", "bugs", seed=i, refute=False)
        vals.append(r.effect)
        hits.append(r.estimates[0].covers(-0.5))
        adj = next(e for e in r.estimates if e.method == "regression_adjustment")
        reg.append(adj.value)
        reg_hits.append(adj.covers(-0.5))
    print(f"# binary treatment, {rows} rows, {reps} repetitions ({time.perf_counter() - t0:.0f} s)")
    print(_line(r.method, vals, hits, -0.5))
    print(_line("regression_adjustment", reg, reg_hits, -0.5), flush=True)


def heterogeneity(reps: int, rows: int, scopes: int = 2) -> None:
    graph = confounded_graph()
    truth = {f"s{j}": eff for j, eff in enumerate(np.linspace(-0.30, -0.05, scopes))}
    ordered, separated, hits, methods = 0, 0, [], set()
    t0 = time.perf_counter()
    for i in range(reps):
        rng = np.random.default_rng(3000 + i)
        frames = {}
        for scope, eff in truth.items():
            team = rng.normal(8, 2, rows)
            cov = 0.5 + 0.02 * team + rng.normal(0, 0.05, rows)
            review = rng.normal(5, 1, rows)
            bugs = 0.3 + eff * cov + 0.01 * team + 0.002 * review + rng.normal(0, 0.01, rows)
            frames[scope] = pd.DataFrame({"team_size": team, "review_hours": review, "line_coverage_ratio": cov,
                                          "bug_fix_commit_ratio": bugs}, index=weeks(rows))
        r = heterogeneous_effects(frames, graph, "line_coverage_ratio", "bug_fix_commit_ratio", seed=i)
        methods.add(r.method)
        ordered += r.most_helped == "s0" and r.least_helped == f"s{scopes - 1}"
        separated += r.separated
        hits += [s.interval[0] <= truth[s.scope] <= s.interval[1] for s in r.scopes]
    print(f"# heterogeneous effects, {scopes} scopes x {rows} rows, {reps} repetitions, {', '.join(sorted(methods))} "
          f"({time.perf_counter() - t0:.0f} s)")
    print(f"ordered correctly {ordered}/{reps}, most and least helped separated {separated}/{reps}, "
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
    print(f"effect question (after imports): {total:.2f} s ({steps})")
    print(f"  effect {r.effect:.3f} (truth 1.48), interval {r.interval[0]:.3f} to {r.interval[1]:.3f}; "
          f"double ML {r.estimates[1].value:.3f}; naive {r.naive.value:.3f}")
    print(f"  answer: {r.answer}")
    if r.caveats:
        print(f"  caveats: {'; '.join(r.caveats)}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--reps", type=int, default=None, help="repetitions of the coverage runs (default 200, quick 40)")
    ap.add_argument("--hard-reps", type=int, default=None, help="repetitions of each hard case (default 60, quick 30)")
    ap.add_argument("--only", choices=("hard", "coverage", "heterogeneity", "speed"), default=None,
                    help="run one part only")
    args = ap.parse_args(argv)
    reps = args.reps or (40 if args.quick else 200)
    hard = max(30, args.hard_reps or (30 if args.quick else 60))
    warnings.simplefilter("ignore")
    if args.only in (None, "speed"):
        speed()
    if args.only in (None, "hard"):
        hard_cases(hard)
    if args.only in (None, "coverage"):
        coverage(reps, 200)
        binary_coverage(max(20, reps // 2), 400)
    if args.only in (None, "heterogeneity"):
        heterogeneity(max(10, reps // 4), 120)
        heterogeneity(max(10, reps // 8), 300, scopes=4)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
