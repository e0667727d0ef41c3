"""Turn a wide table into the frame the model is fitted on, and parse times and windows.

Checks the table against the graph (every node a numeric column, a usable time index),
adds one shifted column per lagged edge, and drops rows the model cannot use, counting
them so the result can say so. Every problem is one :class:`EngineInputError` line that
names the column or window and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from graphs import CausalGraph
from graphs.model import unrolled
from rca.engine.errors import EngineInputError


@dataclass(frozen=True)
class Window:
    start: pd.Timestamp
    end: pd.Timestamp

    def label(self) -> list[str]:
        return [iso(self.start), iso(self.end)]

    def mask(self, index: pd.DatetimeIndex) -> np.ndarray:
        return np.asarray((index >= self.start) & (index <= self.end))


@dataclass(frozen=True)
class Prepared:
    """The model frame: unrolled columns only, complete rows, float values."""

    frame: pd.DataFrame
    columns: dict[str, tuple[str, int]]
    caveats: tuple[str, ...] = field(default=())
    constant: tuple[str, ...] = field(default=())


def iso(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | float | int) -> pd.Timestamp:
    """ISO 8601 (a bare date means midnight UTC) or Unix seconds."""
    raw = str(text).strip()
    try:
        if raw.replace(".", "", 1).lstrip("-").isdigit():
            return pd.Timestamp(float(raw), unit="s", tz="UTC")
        ts = pd.Timestamp(raw)
    except (ValueError, TypeError, OverflowError):
        raise EngineInputError(
            f"{raw!r} is not a time; use ISO 8601 (2026-03-02 or 2026-03-02T10:00Z) or Unix seconds"
        ) from None
    if ts is pd.NaT:
        raise EngineInputError(f"{raw!r} is not a time")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def parse_window(text: str) -> Window:
    """``START..END`` (both inclusive); ``END`` may be left out to mean "until the last row"."""
    if ".." not in text:
        raise EngineInputError(f"window {text!r} must be START..END, e.g. 2026-01-01..2026-03-31")
    a, b = text.split("..", 1)
    start = parse_time(a)
    end = parse_time(b) if b.strip() else pd.Timestamp.max.tz_localize("UTC")
    if end < start:
        raise EngineInputError(f"window {text!r} ends before it starts")
    return Window(start, end)


def load_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet table whose first column is a timestamp; return it indexed by UTC time."""
    p = Path(path)
    if not p.is_file():
        raise EngineInputError(f"data file {str(path)!r} does not exist")
    try:
        df = pd.read_parquet(p) if p.suffix.lower() in {".parquet", ".pq"} else pd.read_csv(p)
    except Exception as exc:  # pandas and pyarrow raise many kinds for one cause: unreadable input
        first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise EngineInputError(f"cannot read data file {str(path)!r}: {first}") from None
    if df.shape[1] < 2 or df.empty:
        raise EngineInputError(
            f"data file {str(path)!r} needs a timestamp column and at least one metric column"
        )
    return index_by_time(df, str(path))


def index_by_time(df: pd.DataFrame, where: str = "data") -> pd.DataFrame:
    """Use the first column as a UTC DatetimeIndex (ISO 8601 or Unix seconds)."""
    first = df.columns[0]
    col = df[first]
    try:
        if pd.api.types.is_numeric_dtype(col):
            ts = pd.to_datetime(col.astype("float64"), unit="s", utc=True)
        else:
            ts = pd.to_datetime(col, utc=True, format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        raise EngineInputError(
            f"{where}: first column {first!r} must hold timestamps (ISO 8601 or Unix seconds)"
        ) from None
    if ts.isna().any():
        raise EngineInputError(
            f"{where}: first column {first!r} has {int(ts.isna().sum())} empty timestamp(s)"
        )
    out = df.drop(columns=[first])
    out.index = pd.DatetimeIndex(ts, name="ts")
    if out.index.has_duplicates:
        raise EngineInputError(
            f"{where}: {int(out.index.duplicated().sum())} duplicate timestamp(s); "
            "aggregate to one row per time first"
        )
    return out.sort_index()


def prepare(data: pd.DataFrame, graph: CausalGraph) -> Prepared:
    """Check ``data`` against ``graph``, add lagged columns, drop incomplete rows."""
    missing = [n for n in graph.nodes if n not in data.columns]
    if missing:
        have = ", ".join(map(str, data.columns[:8])) + (", ..." if data.shape[1] > 8 else "")
        raise EngineInputError(
            f"the data lacks column(s) for graph node(s) {', '.join(missing)} (it has: {have})"
        )
    caveats: list[str] = []
    numeric = pd.DataFrame(index=data.index)
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
        numeric[name] = col.astype("float64")
    _, columns = unrolled(graph)
    for col, (node, lag) in columns.items():
        if lag:
            numeric[col] = numeric[node].shift(lag)
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
    constant = tuple(n for n in graph.nodes if len(numeric) and numeric[n].nunique() <= 1)
    return Prepared(frame=numeric, columns=columns, caveats=tuple(caveats), constant=constant)
