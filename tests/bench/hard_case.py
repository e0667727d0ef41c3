"""The shape of a hard benchmark case, and the few helpers every family's generator shares.

A :class:`HardCase` carries the table (first column time, one column per node), the graph
handed to the tool, the question (an anomaly window ``at`` or ``baseline``/``current``
windows), the injected node (None in null cases) and the DAG the data really follow. Nothing
here imports the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd
import yaml


@dataclass(frozen=True)
class HardCase:
    name: str
    family: str
    kind: str  # "anomaly" | "change"
    injected: bool
    data: pd.DataFrame  # UTC DatetimeIndex named ts, one column per node
    nodes: dict[str, dict]  # node -> YAML spec (kind, higher_is_worse)
    graph_edges: tuple[tuple[str, str, int], ...]  # handed to the tool: (source, target, lag)
    true_edges: tuple[tuple[str, str, int], ...]  # what the data follow (among observed nodes)
    target: str
    cause: str | None
    at: tuple[pd.Timestamp, pd.Timestamp] | None = None
    baseline: tuple[pd.Timestamp, pd.Timestamp] | None = None
    current: tuple[pd.Timestamp, pd.Timestamp] | None = None
    counts: tuple[str, ...] = ()  # integer-valued columns
    hidden: tuple[str, ...] = ()  # unobserved common causes (not in the data)
    cause_upstream_in_given: bool = True
    note: str = ""
    graph_name: str = "bench"
    unit: str = "hour"
    extra: dict = field(default_factory=dict, hash=False, compare=False)
    graph_format: str = "yaml"  # or "dot": what a user of a tracing or monitoring tool writes
    service_of: dict = field(default_factory=dict, hash=False, compare=False)  # node -> what ``cause`` names
    first_nodes: tuple[str, ...] = ()  # the nodes where the fault shows first (scored apart)

    # --- what the tool is handed -------------------------------------------------------------
    def graph_yaml(self) -> str:
        doc = {
            "name": self.graph_name,
            "unit": self.unit,
            "nodes": {n: dict(spec) for n, spec in self.nodes.items()},
            "edges": [[s, t, {"lag": lag}] if lag else [s, t] for s, t, lag in self.graph_edges],
        }
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=200)

    def graph_dot(self) -> str:
        """The graph as DOT with ``agg`` and ``higher_is_worse`` only: no kinds, no mechanisms."""

        def q(name: str) -> str:
            return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'

        lines = [f"digraph {q(self.graph_name)} {{", f"  graph [unit={self.unit}];"]
        for n, spec in self.nodes.items():
            worse = str(spec.get("higher_is_worse", True)).lower()
            lines.append(f"  {q(n)} [agg={spec.get('agg', 'mean')}, higher_is_worse={worse}];")
        for s, t, lag in self.graph_edges:
            lines.append(f"  {q(s)} -> {q(t)}" + (f" [lag={lag}];" if lag else ";"))
        return "\n".join(lines) + "\n}\n"

    def graph_text(self) -> tuple[str, str]:
        """(file suffix, text) of the graph handed to the tool."""
        return (".dot", self.graph_dot()) if self.graph_format == "dot" else (".yaml", self.graph_yaml())

    def csv_text(self) -> str:
        out = self.data.copy()
        out.index = out.index.strftime("%Y-%m-%dT%H:%M:%SZ")
        return out.to_csv(index_label="ts")

    def question_args(self) -> list[str]:
        if self.at is not None:
            a, b = self.at
            when = iso(a) if a == b else f"{iso(a)}..{iso(b)}"
            return ["--at", when]
        assert self.baseline is not None and self.current is not None
        return [
            "--baseline",
            f"{iso(self.baseline[0])}..{iso(self.baseline[1])}",
            "--current",
            f"{iso(self.current[0])}..{iso(self.current[1])}",
        ]

    # --- rows of each window, as the tool reads them ------------------------------------------
    def reference_mask(self) -> np.ndarray:
        idx = self.data.index
        if self.at is not None:
            return np.asarray(idx < self.at[0])
        assert self.baseline is not None
        return np.asarray((idx >= self.baseline[0]) & (idx <= self.baseline[1]))

    def current_mask(self) -> np.ndarray:
        idx = self.data.index
        lo, hi = self.at if self.at is not None else self.current  # type: ignore[misc]
        return np.asarray((idx >= lo) & (idx <= hi))

    def given_dag(self) -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_nodes_from(self.nodes)
        g.add_edges_from((s, t) for s, t, _ in self.graph_edges if s != t)
        return g


def iso(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def time_index(n: int, start: str, freq: str) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq=freq, tz="UTC", name="ts")


def frame_of(values: dict[str, np.ndarray], index: pd.DatetimeIndex, counts: tuple[str, ...]) -> pd.DataFrame:
    df = pd.DataFrame({k: np.asarray(v) for k, v in values.items()}, index=index)
    for c in counts:
        df[c] = np.rint(df[c].to_numpy(dtype=float)).astype("int64")
    return df


def ancestors_of(edges, target: str) -> set[str]:
    g = nx.DiGraph((s, t) for s, t, _ in edges if s != t)
    return set(nx.ancestors(g, target)) if target in g else set()


def first_crossing(simulate: Callable[[float], float], threshold: float, grid: np.ndarray) -> float | None:
    """The smallest size on ``grid`` whose simulated target statistic passes ``threshold``.

    The target grows with the size of an injection in every family (sums, maxima, caps, binomial
    quantiles of fixed uniforms are all monotone), so a bisection over the grid finds it.
    """
    grid = np.asarray(grid, dtype=float)
    if simulate(float(grid[-1])) <= threshold:
        return None
    lo, hi = -1, len(grid) - 1  # simulate(grid[hi]) > threshold; grid[lo] is not known to pass
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if simulate(float(grid[mid])) > threshold:
            hi = mid
        else:
            lo = mid
    return float(grid[hi])



def windows(kind: str, index: pd.DatetimeIndex, start: int, *, spike: int) -> tuple:
    """(at, baseline, current) of a case: an anomaly from row ``spike`` to the last, or a change whose
    current window starts at row ``start`` against everything before it."""
    if kind == "anomaly":
        return (index[spike], index[-1]), None, None
    return None, (index[0], index[start - 1]), (index[start], index[-1])


def logit(p):
    return np.log(p / (1 - p))


def expit(x):
    return 1.0 / (1.0 + np.exp(-x))
