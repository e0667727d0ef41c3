"""Seeded weekly data from a known lagged causal graph, for the graph-suggestion tests and benchmark.

Nodes sit in tiers; a same-week edge runs only from an earlier tier to a later one, a lagged
edge (last week's value) may run from any node to any node, and every node carries some of its
own last value (autoregression), as weekly engineering metrics do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Synthetic:
    frame: pd.DataFrame
    edges: frozenset[tuple[str, str, int]]  # (source, target, lag), autoregression left out
    tiers: tuple[tuple[str, ...], ...]


def simulate(edges: list[tuple[str, str, int, float]], tiers: list[list[str]], n: int, seed: int, *,
             autoregression: float = 0.0, noise: str = "gauss") -> Synthetic:
    """``edges`` as (source, target, lag, coefficient); ``tiers`` order the nodes (same-week edges follow it)."""
    rng = np.random.default_rng(seed)
    order = [x for t in tiers for x in t]
    values = {x: np.zeros(n + 20) for x in order}
    for t in range(n + 20):
        for x in order:  # tier order is a topological order of the same-week edges
            e = rng.normal() if noise == "gauss" else rng.exponential() - 1.0  # skewed: like counts and sizes
            v = e + (autoregression * values[x][t - 1] if t else 0.0)
            for s, d, lag, c in edges:
                if d == x and t - lag >= 0:
                    v += c * values[s][t - lag]
            values[x][t] = v
    index = pd.date_range("2020-01-06", periods=n, freq="7D", tz="UTC")
    frame = pd.DataFrame({x: values[x][20:] for x in order}, index=index)
    frame.index.name = "ts"
    return Synthetic(frame, frozenset((s, d, lag) for s, d, lag, _ in edges if s != d),
                     tuple(tuple(t) for t in tiers))


def random_graph(p: int, n_tiers: int, seed: int, *, same_week: float = 0.25, lagged: float = 0.06
                 ) -> tuple[list[tuple[str, str, int, float]], list[list[str]]]:
    """A random tiered graph over ``p`` nodes: same-week edges down the tiers (and within a tier by name),
    lagged edges in any direction."""
    rng = np.random.default_rng(seed)
    names = [f"x{i:02d}" for i in range(p)]
    tier_of = {x: min(n_tiers - 1, i * n_tiers // p) for i, x in enumerate(names)}
    tiers = [[x for x in names if tier_of[x] == k] for k in range(n_tiers)]
    edges = []
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i < j and rng.random() < same_week:
                edges.append((a, b, 0, float(rng.choice([-1, 1]) * rng.uniform(0.4, 0.9))))
            if a != b and rng.random() < lagged:
                edges.append((a, b, 1, float(rng.choice([-1, 1]) * rng.uniform(0.4, 0.8))))
    return edges, tiers
