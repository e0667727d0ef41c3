"""Turn a wide table into the frame the model is fitted on.

Checks the table against the graph (every node a numeric column, a usable time index),
adds one shifted column per lagged edge, and drops rows the model cannot use, counting
them so the result can say so. Every problem is one :class:`EngineInputError` line that
names the column or window and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from graphs import CausalGraph
from graphs.model import unrolled
from rca.engine.errors import EngineInputError


@dataclass(frozen=True)
class Prepared:
    """The model frame: unrolled columns only, complete rows, float values."""

    frame: pd.DataFrame
    columns: dict[str, tuple[str, int]]
    caveats: tuple[str, ...] = field(default=())


def prepare(data: pd.DataFrame, graph: CausalGraph) -> Prepared:
    """Check ``data`` against ``graph``, add lagged columns, drop incomplete rows."""
    missing = [n for n in graph.nodes if n not in data.columns]
    if missing:
        have = ", ".join(map(str, data.columns[:8])) + (", ..." if data.shape[1] > 8 else "")
        raise EngineInputError(
            f"the data lacks column(s) for graph node(s) {', '.join(missing)} (it has: {have})"
        )
    caveats: list[str] = []
    cols: dict[str, pd.Series] = {}
    for name in graph.nodes:
        col = pd.to_numeric(data[name], errors="coerce")
        bad = int(col.isna().sum() - data[name].isna().sum())
        if bad:
            raise EngineInputError(f"column {name!r} has {bad} non-numeric value(s); metrics must be numbers")
        if np.isinf(col.to_numpy(dtype="float64", na_value=np.nan)).any():
            raise EngineInputError(f"column {name!r} contains infinity; clean it or drop those rows")
        if col.isna().all():
            raise EngineInputError(
                f"column {name!r} has no values at all (all NaN); collect it or drop it from the graph"
            )
        # Integer counts are modelled as real numbers: a discrete noise model would fail on any
        # value it did not see in training, which is exactly what an anomaly is.
        cols[name] = col.astype("float64")
    _, columns = unrolled(graph)
    for col, (node, lag) in columns.items():
        if lag:
            cols[col] = cols[node].shift(lag)
    # One frame from all columns at once: inserting them one by one fragments it (and pandas warns
    # once per column on a 200-node graph).
    numeric = pd.DataFrame(cols, index=data.index)
    lag_rows = graph.max_lag
    if lag_rows:
        numeric = numeric.iloc[lag_rows:]
        caveats.append(f"the first {lag_rows} row(s) are used only as lagged inputs (lag up to {lag_rows})")
    incomplete = numeric.isna().any(axis=1)
    if incomplete.any():
        worst = numeric.isna().sum().sort_values(ascending=False)
        worst = worst[worst > 0]
        names = ", ".join(f"{k} ({v})" for k, v in worst.head(3).items())
        caveats.append(
            f"{int(incomplete.sum())} of {len(numeric)} row(s) had missing values and were left out "
            f"(most gaps: {names})"
        )
        numeric = numeric[~incomplete]
    return Prepared(frame=numeric, columns=columns, caveats=tuple(caveats))
