"""The histories an investigation's charts draw: the target's and its top causes', thinned to what a chart shows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from results import Cause

CHART_POINTS = 2000  # a chart cannot show more; a 100,000-row history is thinned evenly to this


def chart_series(data: pd.DataFrame, target: str, causes: list[Cause],
            keep_rows: pd.DatetimeIndex) -> dict[str, list[tuple[str, float | None]]]:
    """The target's and top causes' histories for the charts; a gap (no value) stays a gap (None).

    A long history is thinned to about ``CHART_POINTS`` evenly spaced rows, always keeping the
    rows the question is about (``keep_rows``).
    """
    rows = data.index
    if len(rows) > CHART_POINTS:
        picked = np.zeros(len(rows), dtype=bool)
        picked[np.linspace(0, len(rows) - 1, CHART_POINTS).astype(int)] = True
        picked |= np.asarray(rows.isin(keep_rows))
        data = data[picked]
    stamps = data.index.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    out = {}
    for name in [target] + [c.node for c in causes if c.node != target][:3]:
        col = pd.to_numeric(data[name], errors="coerce")
        out[name] = [(ts, None if np.isnan(v) else float(v)) for ts, v in zip(stamps, col.to_numpy(float), strict=True)]
    return out
