"""Benchmark scenarios: software-engineering metrics with known injected root causes.

Two families. **weekly**: a 15-node structural model of a delivery organisation (team size,
newcomers, commits, change size, review time, test churn, coverage, build time, bug-introducing
and bug-fix ratios, deploys, change-failure rate, incidents, lead time, time to restore) with
counts (rounded Poisson-like noise), bounded ratios (clipped), heavy-tailed durations (log-normal
noise) and a lagged edge (coverage -> bug-fix ratio one week later); 150 weekly rows. **micro**:
a 40-service call graph whose latencies add up along calls (each service's own time log-normal),
600 normal rows and one anomalous row, after DoWhy's microservice-latency example.

Cases: ``change`` (from week 120 on, one upstream node's noise mean or its mechanism's
coefficient shifts), ``spike`` (one upstream node jumps in the last row), ``null_change`` and
``null_spike`` (nothing injected; the same questions). Injection sizes are set with common
random numbers so that the target moves by a chosen number of its standard deviations, which
keeps every injected case a real, visible regression while the cause varies. Everything is a
pure function of the seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from graphs import CausalGraph
from graphs.model import parse_graph
from rca.engine import Question, Window

WEEKLY_ROWS = 150
CHANGE_AT = 120  # current window: the last 30 weeks
MICRO_SERVICES = 40
MICRO_ROWS = 600

WEEKLY_YAML = """
name: weekly-delivery
unit: week
nodes:
  team_size:                    {kind: count, higher_is_worse: false}
  newcomer_ratio:               {kind: ratio}
  commits_count:                {kind: count, higher_is_worse: false}
  median_change_size_lines:     {kind: continuous}
  review_time_seconds:          {kind: duration}
  test_churn_ratio:             {kind: ratio, higher_is_worse: false}
  line_coverage_ratio:          {kind: ratio, higher_is_worse: false}
  build_duration_seconds:       {kind: duration}
  bug_introducing_commit_ratio: {kind: ratio}
  deploys_count:                {kind: count, higher_is_worse: false}
  change_failure_rate:          {kind: ratio}
  incidents_count:              {kind: count}
  bug_fix_commit_ratio:         {kind: ratio}
  lead_time_seconds:            {kind: duration}
  time_to_restore_seconds:      {kind: duration}
edges:
  - [team_size, commits_count]
  - [newcomer_ratio, median_change_size_lines]
  - [newcomer_ratio, line_coverage_ratio]
  - [newcomer_ratio, bug_introducing_commit_ratio]
  - [median_change_size_lines, review_time_seconds]
  - [median_change_size_lines, bug_introducing_commit_ratio]
  - [median_change_size_lines, lead_time_seconds]
  - [review_time_seconds, bug_introducing_commit_ratio]
  - [review_time_seconds, lead_time_seconds]
  - [test_churn_ratio, line_coverage_ratio]
  - [line_coverage_ratio, bug_introducing_commit_ratio]
  - [line_coverage_ratio, bug_fix_commit_ratio, {lag: 1}]
  - [commits_count, build_duration_seconds]
  - [commits_count, deploys_count]
  - [build_duration_seconds, deploys_count]
  - [build_duration_seconds, lead_time_seconds]
  - [bug_introducing_commit_ratio, change_failure_rate]
  - [bug_introducing_commit_ratio, bug_fix_commit_ratio]
  - [deploys_count, incidents_count]
  - [change_failure_rate, incidents_count]
  - [incidents_count, time_to_restore_seconds]
"""

WEEKLY_TARGETS = ("bug_fix_commit_ratio", "incidents_count", "lead_time_seconds", "time_to_restore_seconds")
_NODES = (
    "team_size",
    "newcomer_ratio",
    "commits_count",
    "median_change_size_lines",
    "review_time_seconds",
    "test_churn_ratio",
    "line_coverage_ratio",
    "build_duration_seconds",
    "bug_introducing_commit_ratio",
    "deploys_count",
    "change_failure_rate",
    "incidents_count",
    "bug_fix_commit_ratio",
    "lead_time_seconds",
    "time_to_restore_seconds",
)
# The first parent of each child, whose coefficient a "mechanism" injection changes.
_FIRST_PARENT = {
    "commits_count": "team_size",
    "median_change_size_lines": "newcomer_ratio",
    "review_time_seconds": "median_change_size_lines",
    "line_coverage_ratio": "test_churn_ratio",
    "build_duration_seconds": "commits_count",
    "bug_introducing_commit_ratio": "line_coverage_ratio",
    "deploys_count": "commits_count",
    "change_failure_rate": "bug_introducing_commit_ratio",
    "incidents_count": "deploys_count",
    "bug_fix_commit_ratio": "bug_introducing_commit_ratio",
    "lead_time_seconds": "median_change_size_lines",
    "time_to_restore_seconds": "incidents_count",
}


@dataclass(frozen=True)
class Case:
    name: str
    family: str  # "weekly" | "micro"
    kind: str  # "change" | "spike" | "null_change" | "null_spike"
    graph: CausalGraph
    data: pd.DataFrame
    question: Question
    cause: str | None  # the injected node; None in null cases

    @property
    def target(self) -> str:
        return self.question.target


Inject = Callable[[str, np.ndarray, dict[str, np.ndarray]], np.ndarray]


def weekly_graph() -> CausalGraph:
    return parse_graph(WEEKLY_YAML, "weekly-delivery.yaml")


def _weekly_values(noise: dict[str, np.ndarray], inject: Inject) -> dict[str, np.ndarray]:
    """The structural equations; ``inject(node, value, values)`` may alter a node after it is computed."""
    e = noise
    v: dict[str, np.ndarray] = {}

    def put(name: str, value: np.ndarray, kind: str) -> None:
        value = inject(name, value, v)
        if kind == "count":
            value = np.maximum(0.0, np.round(value))
        elif kind == "ratio":
            value = np.clip(value, 0.0, 1.0)
        elif kind == "duration":
            value = np.maximum(value, 1.0)
        v[name] = value

    put("team_size", 8 + 1.5 * e["team_size"], "count")
    put("newcomer_ratio", 0.10 + 0.04 * e["newcomer_ratio"], "ratio")
    put("commits_count", 6 * v["team_size"] + 7 * e["commits_count"], "count")
    put(
        "median_change_size_lines",
        40 + 150 * v["newcomer_ratio"] + 15 * np.exp(0.5 * e["median_change_size_lines"]),
        "continuous",
    )
    put(
        "review_time_seconds",
        3600 * (3 + 0.02 * v["median_change_size_lines"]) * np.exp(0.25 * e["review_time_seconds"]),
        "duration",
    )
    put("test_churn_ratio", 0.32 + 0.05 * e["test_churn_ratio"], "ratio")
    put(
        "line_coverage_ratio",
        0.55 + 0.8 * v["test_churn_ratio"] - 0.2 * v["newcomer_ratio"] + 0.015 * e["line_coverage_ratio"],
        "ratio",
    )
    put(
        "build_duration_seconds",
        300 + 4 * v["commits_count"] + 40 * np.exp(0.4 * e["build_duration_seconds"]),
        "duration",
    )
    put(
        "bug_introducing_commit_ratio",
        0.30
        - 0.30 * v["line_coverage_ratio"]
        + 0.25 * v["newcomer_ratio"]
        + 0.0004 * v["median_change_size_lines"]
        - 0.000002 * v["review_time_seconds"]
        + 0.012 * e["bug_introducing_commit_ratio"],
        "ratio",
    )
    put(
        "deploys_count",
        0.25 * v["commits_count"] - v["build_duration_seconds"] / 240 + 2 * e["deploys_count"],
        "count",
    )
    put(
        "change_failure_rate",
        0.02 + 0.5 * v["bug_introducing_commit_ratio"] + 0.02 * e["change_failure_rate"],
        "ratio",
    )
    put(
        "incidents_count",
        0.08 * v["deploys_count"] + 12 * v["change_failure_rate"] + 0.8 * e["incidents_count"],
        "count",
    )
    cov_prev = np.r_[v["line_coverage_ratio"][:1], v["line_coverage_ratio"][:-1]]
    put(
        "bug_fix_commit_ratio",
        0.08
        + 0.6 * v["bug_introducing_commit_ratio"]
        + 0.10 * (0.8 - cov_prev)
        + 0.01 * e["bug_fix_commit_ratio"],
        "ratio",
    )
    put(
        "lead_time_seconds",
        (
            3600 * (20 + 0.15 * v["median_change_size_lines"])
            + v["review_time_seconds"]
            + 30 * v["build_duration_seconds"]
        )
        * np.exp(0.1 * e["lead_time_seconds"]),
        "duration",
    )
    put(
        "time_to_restore_seconds",
        3600 * (2 + 0.5 * v["incidents_count"]) * np.exp(0.3 * e["time_to_restore_seconds"]),
        "duration",
    )
    return v


def _frame(values: dict[str, np.ndarray], start: str = "2023-01-02") -> pd.DataFrame:
    n = len(next(iter(values.values())))
    index = pd.date_range(start, periods=n, freq="7D", tz="UTC", name="ts")
    return pd.DataFrame({k: values[k] for k in values}, index=index)


def _no_injection(_name: str, value: np.ndarray, _values: dict[str, np.ndarray]) -> np.ndarray:
    return value


def _injection(node: str, mode: str, size: float, rows: np.ndarray) -> Inject:
    def inject(name: str, value: np.ndarray, values: dict[str, np.ndarray]) -> np.ndarray:
        if name != node:
            return value
        if mode == "mechanism":
            return (
                value + rows * size * values[_FIRST_PARENT[node]]
            )  # the parent's coefficient grows by `size`
        return value + rows * size  # the noise's mean shifts (or, on one row, a spike)

    return inject


def _ancestors(graph: CausalGraph, target: str) -> tuple[str, ...]:
    return tuple(sorted(graph.ancestors(target)))


def _sized(
    noise: dict[str, np.ndarray],
    node: str,
    mode: str,
    rows: np.ndarray,
    target: str,
    moves: float,
    baseline: dict[str, np.ndarray],
    worse_up: bool,
) -> dict[str, np.ndarray] | None:
    """Values with the injection scaled so the target's mean over ``rows`` moves by ``moves`` (its units)."""
    # Probe with one standard deviation of the node (or the coefficient change that moves it that
    # much), five for a one-row spike: small probes vanish in the rounding of counts.
    sd = (float(np.std(baseline[node])) or 1.0) * (5.0 if rows.sum() == 1 else 1.0)
    unit = sd if mode == "noise" else sd / (float(np.mean(np.abs(baseline[_FIRST_PARENT[node]]))) + 1e-12)
    test = _weekly_values(noise, _injection(node, mode, unit, rows))
    per_unit = (test[target][rows > 0].mean() - baseline[target][rows > 0].mean()) / unit
    if abs(per_unit) < 1e-12:
        return None
    size = moves / per_unit * (1 if worse_up else -1)
    # Realism: a change moves its node by at most 4 of its standard deviations (a spike by 12),
    # and clipping or rounding must not have undone the intended move of the target.
    limit = (12.0 if rows.sum() == 1 else 4.0) * unit / (5.0 if rows.sum() == 1 else 1.0)
    if abs(size) > limit:
        return None
    values = _weekly_values(noise, _injection(node, mode, size, rows))
    realised = (values[target][rows > 0].mean() - baseline[target][rows > 0].mean()) * (1 if worse_up else -1)
    return values if 0.6 * moves <= realised <= 1.6 * moves else None


_KINDS = {
    "team_size": "count",
    "newcomer_ratio": "ratio",
    "commits_count": "count",
    "median_change_size_lines": "continuous",
    "review_time_seconds": "duration",
    "test_churn_ratio": "ratio",
    "line_coverage_ratio": "ratio",
    "build_duration_seconds": "duration",
    "bug_introducing_commit_ratio": "ratio",
    "deploys_count": "count",
    "change_failure_rate": "ratio",
    "incidents_count": "count",
    "bug_fix_commit_ratio": "ratio",
    "lead_time_seconds": "duration",
    "time_to_restore_seconds": "duration",
}


def weekly_case(kind: str, seed: int) -> Case:
    """One weekly case; ``kind`` is change, spike, null_change or null_spike."""
    rng = np.random.default_rng(seed)
    graph = weekly_graph()
    noise = {k: rng.normal(size=WEEKLY_ROWS) for k in _NODES}
    base = _weekly_values(noise, _no_injection)
    rows = np.zeros(WEEKLY_ROWS)
    if kind in ("change", "null_change"):
        rows[CHANGE_AT:] = 1.0
    else:
        rows[-1] = 1.0
    cause = None
    values = base
    target = WEEKLY_TARGETS[rng.integers(len(WEEKLY_TARGETS))]
    if kind in ("change", "spike"):
        for attempt in range(400):
            if attempt % 25 == 24:  # this target cannot be moved realistically here: pick another
                target = WEEKLY_TARGETS[rng.integers(len(WEEKLY_TARGETS))]
            worse_up = graph.nodes[target].higher_is_worse
            sd = float(np.std(base[target][:CHANGE_AT]))
            candidates = list(_ancestors(graph, target))
            cause = candidates[rng.integers(len(candidates))]
            mode = (
                "noise"
                if kind == "spike" or cause not in _FIRST_PARENT or rng.random() < 0.5
                else "mechanism"
            )
            moves = sd * (rng.uniform(0.8, 1.6) if kind == "change" else rng.uniform(4.0, 6.0))
            sized = _sized(noise, cause, mode, rows, target, moves, base, worse_up)
            if sized is not None:
                values = sized
                break
        else:
            raise RuntimeError("no injectable cause found")
    data = _frame(values)
    idx = data.index
    if kind in ("change", "null_change"):
        q = Question(
            target, baseline=Window(idx[0], idx[CHANGE_AT - 1]), current=Window(idx[CHANGE_AT], idx[-1])
        )
    else:
        q = Question(target, at=Window(idx[-1], idx[-1]))
    return Case(
        name=f"weekly-{kind}-{seed}",
        family="weekly",
        kind=kind,
        graph=graph,
        data=data,
        question=q,
        cause=cause,
    )


def micro_graph(seed: int = 0) -> tuple[CausalGraph, dict[str, list[str]]]:
    """A 40-service call tree plus shared dependencies; latency flows from callee to caller."""
    rng = np.random.default_rng(seed)
    names = [f"svc{i:02d}_latency_seconds" for i in range(MICRO_SERVICES)]
    callees: dict[str, list[str]] = {n: [] for n in names}
    for i in range(1, MICRO_SERVICES):
        caller = names[int(rng.integers(max(0, i - 8), i))]
        callees[caller].append(names[i])
    for _ in range(8):  # shared backends (a database, an auth service) called from several places
        i, j = sorted(rng.choice(np.arange(1, MICRO_SERVICES), 2, replace=False))
        if names[j] not in callees[names[i]]:
            callees[names[i]].append(names[j])
    nodes = "\n".join(f"  {n}: {{kind: duration}}" for n in names)
    edges = "\n".join(f"  - [{c}, {caller}]" for caller, cs in callees.items() for c in cs)
    text = f"name: microservices\nunit: hour\nnodes:\n{nodes}\nedges:\n{edges}\n"
    return parse_graph(text, "microservices.yaml"), callees


def _micro_values(graph_callees: dict[str, list[str]], own: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    names = list(graph_callees)
    v: dict[str, np.ndarray] = {}
    for name in reversed(names):  # callees have higher indices: compute them first
        v[name] = own[name] + sum(0.8 * v[c] for c in graph_callees[name])
    return {n: v[n] for n in names}


def micro_case(kind: str, seed: int) -> Case:
    """A 40-node latency case: ``spike`` in one service's own time on the last row, or ``null_spike``."""
    rng = np.random.default_rng(seed)
    graph, callees = micro_graph(0)
    names = list(callees)
    target = names[0]
    n = MICRO_ROWS + 1
    base_ms = {name: rng.uniform(0.005, 0.05) for name in names}
    own = {name: base_ms[name] * rng.lognormal(0.0, 0.3, n) for name in names}
    values = _micro_values(callees, own)
    cause = None
    if kind == "spike":
        ancestors = sorted(graph.ancestors(target))
        cause = ancestors[int(rng.integers(len(ancestors)))]
        probe = {k: v.copy() for k, v in own.items()}
        probe[cause][-1] += 1.0
        per_unit = _micro_values(callees, probe)[target][-1] - values[target][-1]
        sd = float(np.std(values[target][:-1]))
        own[cause][-1] += rng.uniform(5.0, 8.0) * sd / per_unit
        values = _micro_values(callees, own)
    index = pd.date_range("2026-01-01", periods=n, freq="h", tz="UTC", name="ts")
    data = pd.DataFrame(values, index=index)
    q = Question(target, at=Window(index[-1], index[-1]))
    return Case(
        name=f"micro-{kind}-{seed}",
        family="micro",
        kind=kind,
        graph=graph,
        data=data,
        question=q,
        cause=cause,
    )


_KIND_OFFSET = {"change": 1, "spike": 2, "null_change": 3, "null_spike": 4}


def cases(per_kind: int, micro_per_kind: int, seed: int = 0) -> list[Case]:
    """``per_kind`` weekly cases of each kind and ``micro_per_kind`` micro spike and null cases."""
    out = []
    for i in range(per_kind):
        for kind in ("change", "spike", "null_change", "null_spike"):
            out.append(weekly_case(kind, seed * 100_000 + i * 10 + _KIND_OFFSET[kind]))
    for i in range(micro_per_kind):
        out.append(micro_case("spike", seed * 100_000 + 50_000 + i))
        out.append(micro_case("null_spike", seed * 100_000 + 70_000 + i))
    return out
