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


def wide_graph_and_frame(n: int = 2000, nodes: int = 15, seed: int = 0):
    """A 15-node layered graph (a lagged edge included) and data from a linear SCM over it, for timing."""
    rng = np.random.default_rng(seed)
    names = [f"m{i}_ratio" if i % 3 == 0 else f"m{i}" for i in range(nodes)]
    edges = []
    values: dict[str, np.ndarray] = {}
    for i, name in enumerate(names):
        parents = [names[j] for j in range(max(0, i - 3), i) if rng.random() < 0.7]
        x = rng.normal(0, 1, n)
        for p in parents:
            x = x + rng.uniform(0.3, 0.8) * values[p]
            edges.append([p, name])
        values[name] = x
    # the treatment m3_ratio also acts on the outcome a week later
    edges.append(["m3_ratio", names[-1], {"lag": 1}])
    values[names[-1]] = values[names[-1]] + 0.5 * np.r_[0.0, values["m3_ratio"][:-1]]
    if ["m3_ratio", names[-1]] not in edges:
        edges.append(["m3_ratio", names[-1]])
    import yaml

    doc = {"name": "wide", "unit": "day", "nodes": {m: {} for m in names}, "edges": edges}
    graph = parse_graph(yaml.safe_dump(doc), "wide.yaml")
    frame = pd.DataFrame(values, index=pd.DatetimeIndex(pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC"),
                                                           name="ts"))
    return graph, frame, "m3_ratio", names[-1]
