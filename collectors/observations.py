"""The observation table: the one schema every collector returns and the store keeps.

A long, tidy table with the columns ``ts`` (UTC timestamp), ``scope`` (what it is about),
``metric`` (snake_case name with a unit suffix), ``value`` (float) and ``source``
(``git``, ``prometheus``, ``coverage``, ``file``). :func:`validate` normalises a frame to
that shape or says, in one line, what is wrong with it. The time rules every part shares
live here too: :func:`parse_time` (the one reader of user-given times) and :func:`bucket_of`
(where an hour, day, week or month starts). :class:`InputError` is the root of every "your
input is wrong, here is what to do" error of the sources, so a face can turn any of them into
one clear line. pandas and numpy load only when a frame is made: the schema, the errors and
:func:`bucket_of` on plain integers cost no imports.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from core.errors import BadInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

COLUMNS: tuple[str, ...] = ("ts", "scope", "metric", "value", "source")
SOURCES: frozenset[str] = frozenset({"git", "prometheus", "coverage", "file", "sample"})


class InputError(BadInput):
    """Bad input to a source the user can fix; its message is one line saying what is wrong and what to do."""


def empty() -> pd.DataFrame:
    """An observation table with no rows and the right dtypes."""
    import pandas as pd

    return pd.DataFrame(
        {
            "ts": pd.Series([], dtype="datetime64[ns, UTC]"),
            "scope": pd.Series([], dtype="object"),
            "metric": pd.Series([], dtype="object"),
            "value": pd.Series([], dtype="float64"),
            "source": pd.Series([], dtype="object"),
        }
    )


def validate(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` as a clean observation table, or raise :class:`InputError`.

    Timestamps become UTC, values become floats (integer counts are fine; infinities are
    not), and rows without a value are dropped: an observation that was not made is not
    an observation of zero.
    """
    import pandas as pd

    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"observation table lacks column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
    out = frame.loc[:, list(COLUMNS)].copy()
    try:
        out["ts"] = pd.to_datetime(out["ts"], utc=True)
    except (ValueError, TypeError) as exc:
        raise InputError(f"observation timestamps are not all dates: {exc}") from None
    out["value"] = pd.to_numeric(out["value"], errors="coerce").astype("float64")
    if out["value"].map(lambda v: math.isinf(v)).any():
        raise InputError("observation values contain infinity; collectors must emit finite numbers")
    out = out.dropna(subset=["ts", "value"])
    for col in ("scope", "metric", "source"):
        if out[col].isna().any() or (out[col].astype(str) == "").any():
            raise InputError(f"observation column {col!r} has empty entries")
        out[col] = out[col].astype(str)
    unknown = set(out["source"]) - SOURCES
    if unknown:
        raise InputError(f"unknown observation source(s) {sorted(unknown)}; use one of {sorted(SOURCES)}")
    return out.reset_index(drop=True)


def parse_time(text: object) -> pd.Timestamp:
    """A user-given time as UTC: ISO 8601 (a bare date means midnight UTC), a datetime, or Unix seconds."""
    import pandas as pd

    raw = str(text).strip()
    try:
        if isinstance(text, int | float) or raw.replace(".", "", 1).lstrip("-").isdigit():
            ts = pd.Timestamp(float(raw), unit="s", tz="UTC")
        else:
            ts = pd.Timestamp(text if not isinstance(text, str) else raw)
    except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime):
        raise InputError(f"{raw!r} is not a time; use ISO 8601 (2026-03-02 or 2026-03-02T10:00Z) "
                         "or Unix seconds") from None
    if ts is pd.NaT or pd.isna(ts):
        raise InputError(f"{raw!r} is not a time")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


UNITS: tuple[str, ...] = ("hour", "day", "week", "month")
_HOUR, _DAY = 3_600, 86_400


def bucket_of(seconds: int | np.ndarray, unit: str) -> int | np.ndarray:
    """The start (Unix seconds, UTC) of the bucket holding each Unix time: an int or an int64 array.

    Hours and days start on the hour and at midnight UTC, weeks on Monday 00:00 UTC, months on
    the 1st. The one rule every collector and the frame step use.
    """
    if unit == "hour":
        return seconds - seconds % _HOUR
    day = seconds - seconds % _DAY
    if unit == "day":
        return day
    if unit == "week":
        return day - ((day // _DAY + 3) % 7) * _DAY  # 1970-01-01 was a Thursday
    if unit == "month":
        import numpy as np

        months = np.asarray(seconds, dtype="int64").astype("datetime64[s]").astype("datetime64[M]")
        out = months.astype("datetime64[s]").astype("int64")
        return int(out) if np.ndim(out) == 0 else out
    raise InputError(f"unknown bucket unit {unit!r}; use one of {', '.join(UNITS)}")


def bucket_start(ts: pd.Series, unit: str) -> pd.Series:
    """The UTC start of each timestamp's bucket (see :func:`bucket_of`)."""
    import pandas as pd

    ts = pd.to_datetime(ts, utc=True)
    seconds = ts.to_numpy(dtype="datetime64[s]").astype("int64")
    return pd.Series(pd.to_datetime(bucket_of(seconds, unit), unit="s", utc=True), index=ts.index)
