"""Small synthetic data sets with known answers for the engine tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from graphs.model import parse_graph

CHAIN = parse_graph(
    """
name: chain
unit: day
nodes:
  a: {higher_is_worse: true}
  b: {higher_is_worse: true}
  c: {higher_is_worse: true}
edges:
  - [a, b]
  - [b, c]
""",
    "chain.yaml",
)

# c = -1.5 b + N, b = 2 a + N: a's total effect on c is -3.
AB, BC = 2.0, -1.5


def chain_rows(n: int, rng: np.random.Generator, shift_a: float = 0.0, noise: float = 0.5) -> np.ndarray:
    a = rng.normal(0, 1, n) + shift_a
    b = AB * a + rng.normal(0, noise, n)
    c = BC * b + rng.normal(0, noise, n)
    return np.column_stack([a, b, c])


def frame(rows: np.ndarray, columns: list[str], start: str = "2024-01-01") -> pd.DataFrame:
    index = pd.date_range(start, periods=len(rows), freq="D", tz="UTC", name="ts")
    return pd.DataFrame(rows, columns=columns, index=index)
