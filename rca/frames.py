"""The frame step: the long observation table, bucketed and pivoted into the wide frame a graph needs.

Each graph node reads one metric and says how it aggregates into the graph's unit (a sum of
commits, a median of build times, the last coverage reading, a rate per day). Buckets follow
:func:`core.observations.bucket_of`, the one rule every collector uses. A bucket where a
node has no observation holds NaN: the engine decides what to do with gaps. A graph whose
unit is ``commit`` takes the rows as they are, one per timestamp.
"""

from __future__ import annotations

import pandas as pd

from core.observations import bucket_start
from graphs import CausalGraph

_DAYS = {"hour": 1 / 24, "day": 1.0, "week": 7.0, "month": 30.4375}


def bucket_length(unit: str) -> pd.Timedelta:
    """How long one bucket of ``unit`` lasts (a month: its average length; a commit: nothing)."""
    return pd.Timedelta(days=_DAYS.get(unit, 0.0))


def aggregate(values: pd.DataFrame, agg: str, unit: str) -> pd.Series:
    """Aggregate a ``bucket, ts, value`` frame to one value per bucket by the node's rule."""
    grouped = values.sort_values("ts").groupby("bucket")["value"]
    if agg == "last":
        return grouped.last()
    if agg == "rate":
        return grouped.sum() / _DAYS.get(unit, 1.0)
    if agg == "count":
        return grouped.count().astype("float64")
    return getattr(grouped, agg)()


def to_wide(long: pd.DataFrame, graph: CausalGraph) -> pd.DataFrame:
    """One row per bucket (index ``ts``), one column per graph node."""
    bucket = long["ts"] if graph.unit == "commit" else bucket_start(long["ts"], graph.unit)
    long = long.assign(bucket=bucket)
    columns: dict[str, pd.Series] = {}
    for node in graph.nodes.values():
        values = long[long["metric"] == node.metric]
        columns[node.name] = aggregate(values, node.agg, graph.unit) if not values.empty else pd.Series(dtype=float)
    wide = pd.DataFrame(columns)
    wide.index.name = "ts"
    return wide.sort_index()
