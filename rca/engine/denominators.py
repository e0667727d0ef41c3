"""Which count a ratio node is events over: declared in the graph, or read off the data.

Investigations weigh a ratio's rows by its denominator (a week of one commit says little about
a fix ratio) and effects pool ratios the same way; :func:`infer_denominator` is the one rule
for reading a denominator the graph does not declare, :func:`ratio_denominators` gives the
rows of each ratio column of a fitted structure, lagged as the column is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from graphs import CausalGraph
from graphs.model import kind_of, lagged_name
from rca.engine import linear


def infer_denominator(frame: pd.DataFrame, graph: CausalGraph, node: str) -> str | None:
    """The count node a ratio node is events over, read off the data when the graph does not say.

    A ratio of events is a multiple of ``1 / n`` in every row (fixes / commits): a count column
    ``n`` for which ``ratio * n`` is a whole number in (nearly) every row with ``n > 0`` is its
    denominator. A continuous ratio passes that test by chance in no realistic history.
    """
    values = frame[node].to_numpy(float)
    if kind_of(graph.nodes[node].metric, graph.nodes[node].kind) != "ratio" or np.any((values < 0) | (values > 1)):
        return None
    best: tuple[float, str] | None = None
    for other in graph.nodes:
        if other == node or other not in frame.columns:
            continue
        n = frame[other].to_numpy(float)
        if np.any(n < 0) or np.any(n != np.round(n)) or np.median(n) < 1 or np.max(n) < 2:
            continue
        rows = n > 0
        if rows.sum() < 10:
            continue
        events = values[rows] * n[rows]
        # Ratios are often stored rounded (0.1379 for 4/29): allow that rounding's share of one event.
        whole = np.abs(events - np.round(events)) <= np.maximum(0.02, 1e-3 * n[rows])
        share = float(whole.mean())
        if share >= 0.95 and (best is None or share > best[0]):
            best = (share, other)
    return best[1] if best else None


def ratio_denominators(graph: CausalGraph, s: linear.Structure, columns: dict[str, tuple[str, int]],
                  reference: pd.DataFrame, current: pd.DataFrame) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per column of ``s`` whose node is a ratio with a denominator (declared, else read off the
    data): that denominator's rows, lagged alike."""
    out = {}
    both = pd.concat([reference, current])
    for j, col in enumerate(s.columns):
        name, lag = columns.get(col, (col, 0))
        denom = graph.nodes[name].denominator or infer_denominator(both, graph, name)
        if denom is None:
            continue
        key = denom if lag == 0 else lagged_name(denom, lag)
        if key in reference.columns:
            out[j] = (np.maximum(reference[key].to_numpy(float), 0.0), np.maximum(current[key].to_numpy(float), 0.0))
    return out
