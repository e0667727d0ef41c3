"""Seeded synthetic data with known causal effects, for the effect tests and benchmarks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from graphs.model import parse_graph

CONFOUNDED_YAML = """
name: confounded
unit: week
nodes:
  team_size:            {higher_is_worse: false, actionable: false}
  review_hours:         {higher_is_worse: true}
  line_coverage_ratio:  {higher_is_worse: false, kind: ratio}
  bug_fix_commit_ratio: {higher_is_worse: true, kind: ratio, actionable: false}
edges:
  - [team_size, line_coverage_ratio]
  - [team_size, bug_fix_commit_ratio]
  - [line_coverage_ratio, bug_fix_commit_ratio]
  - [review_hours, bug_fix_commit_ratio]
"""

# The true effect of one unit of coverage (0 -> 1) on the bug-fix ratio: -0.18, i.e. 10 points of
# coverage lower the bug-fix ratio by 1.8 points. Larger teams have more coverage AND more bug fixes,
# so the naive slope has the wrong sign.
TRUE_EFFECT = -0.18


def confounded_graph():
    return parse_graph(CONFOUNDED_YAML, "confounded.yaml")


def weeks(n: int) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.date_range("2020-01-06", periods=n, freq="7D", tz="UTC"), name="ts")


def confounded_frame(n: int = 400, seed: int = 0, effect: float = TRUE_EFFECT) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    team = rng.normal(8, 2, n)
    coverage = 0.55 + 0.02 * team + rng.normal(0, 0.04, n)
    review = rng.normal(5, 1, n)
    bugs = 0.25 + effect * coverage + 0.02 * team + 0.005 * review + rng.normal(0, 0.015, n)
    return pd.DataFrame({"team_size": team, "review_hours": review, "line_coverage_ratio": coverage,
                         "bug_fix_commit_ratio": bugs}, index=weeks(n))


def wide_graph_and_frame(n: int = 2000, seed: int = 0):
    """A 15-node graph and data from a linear SCM over it, for timing: four confounders of the treatment
    and the outcome, two causes of the treatment only, two mediators, three other causes of the outcome,
    two downstream nodes, and a lagged edge. The sustained effect of the treatment is 1.48."""
    rng = np.random.default_rng(seed)
    e = lambda: rng.normal(0, 1, n)  # noqa: E731
    v: dict[str, np.ndarray] = {f"c{i}": e() for i in range(1, 5)}
    v.update({"p1": e(), "p2": e(), "o1": e(), "o2": e(), "o3": e()})
    v["treatment"] = sum(0.5 * v[f"c{i}"] for i in range(1, 5)) + 0.6 * v["p1"] + 0.4 * v["p2"] + e()
    v["m1"] = 0.8 * v["treatment"] + e()
    v["m2"] = 0.5 * v["treatment"] + e()
    lagged = np.r_[0.0, v["treatment"][:-1]]
    v["outcome"] = (0.5 * v["treatment"] + 0.6 * v["m1"] + 0.4 * v["m2"] + 0.3 * lagged
                    + sum(0.7 * v[f"c{i}"] for i in range(1, 5)) + 0.3 * (v["o1"] + v["o2"] + v["o3"]) + e())
    v["d1"] = 0.5 * v["outcome"] + e()
    v["d2"] = 0.5 * v["d1"] + e()
    edges = [[f"c{i}", t] for i in range(1, 5) for t in ("treatment", "outcome")]
    edges += [["p1", "treatment"], ["p2", "treatment"], ["treatment", "m1"], ["treatment", "m2"], ["m1", "outcome"],
              ["m2", "outcome"], ["treatment", "outcome"], ["treatment", "outcome", {"lag": 1}],
              ["o1", "outcome"], ["o2", "outcome"], ["o3", "outcome"], ["outcome", "d1"], ["d1", "d2"]]
    import yaml

    doc = {"name": "wide", "unit": "day", "nodes": {m: {} for m in v}, "edges": edges}
    graph = parse_graph(yaml.safe_dump(doc), "wide.yaml")
    index = pd.DatetimeIndex(pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC"), name="ts")
    return graph, pd.DataFrame(v, index=index), "treatment", "outcome"


# --- the hard cases: where a linear adjustment gives a confident wrong answer ------------------------------
# Truth in every continuous case: -0.5 per unit of coverage (10 points of coverage, 5 points fewer bug fixes).
HARD_TRUTH = -0.5
BINARY_TRUTH = -0.05

BINARY_YAML = """
name: review
unit: week
nodes:
  change_size:          {higher_is_worse: true, actionable: false}
  code_review:          {higher_is_worse: false}
  bug_fix_commit_ratio: {higher_is_worse: true, kind: ratio, actionable: false}
edges:
  - [change_size, code_review]
  - [change_size, bug_fix_commit_ratio]
  - [code_review, bug_fix_commit_ratio]
"""


def binary_graph():
    return parse_graph(BINARY_YAML, "review.yaml")


def nonlinear_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """Team size confounds through its square: mid-sized teams have the least coverage and the fewest bug
    fixes, so adjusting for team size linearly leaves the confounding in place (the linear estimate is
    positive; the truth is -0.5)."""
    rng = np.random.default_rng(seed)
    team = rng.uniform(2, 14, n)
    coverage = 0.6 + 0.006 * (team - 8) ** 2 + rng.normal(0, 0.05, n)
    review = rng.normal(5, 1, n)
    bugs = 0.45 + HARD_TRUTH * coverage + 0.01 * (team - 8) ** 2 + 0.002 * review + rng.normal(0, 0.03, n)
    return pd.DataFrame({"team_size": team, "review_hours": review, "line_coverage_ratio": coverage,
                         "bug_fix_commit_ratio": bugs}, index=weeks(n))


def missing_confounder_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Seniority drives both coverage and bug fixes; the data hold its column, the graph leaves it out
    (adjusting for team size alone gives about -0.09; the truth is -0.5)."""
    rng = np.random.default_rng(seed)
    team = rng.normal(8, 2, n)
    seniority = rng.normal(0, 1, n)
    coverage = 0.6 + 0.01 * (team - 8) + 0.04 * seniority + rng.normal(0, 0.03, n)
    review = rng.normal(5, 1, n)
    bugs = 0.55 + HARD_TRUTH * coverage + 0.01 * (team - 8) + 0.026 * seniority + 0.002 * review + rng.normal(0, 0.02, n)
    return pd.DataFrame({"team_size": team, "review_hours": review, "line_coverage_ratio": coverage,
                         "bug_fix_commit_ratio": bugs, "seniority_years": 4 + 2 * seniority}, index=weeks(n))


def binary_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Code review (yes/no) is used on the big changes, which also need more fixes: confounded by change size."""
    rng = np.random.default_rng(seed)
    size = rng.normal(0, 1, n)
    review = (rng.random(n) < 1 / (1 + np.exp(-1.5 * size))).astype(float)
    bugs = 0.2 + BINARY_TRUTH * review + 0.05 * size + rng.normal(0, 0.05, n)
    return pd.DataFrame({"change_size": 200 + 50 * size, "code_review": review, "bug_fix_commit_ratio": bugs},
                        index=weeks(n))
