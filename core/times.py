"""Times: the one reader of a time someone wrote down, wherever it was written.

A flag (``--at``, ``--since``), a request's window, a coverage report's file name or sidecar, a
collector's saved state and a table's time column are all read by one rule:

- text in ISO 8601 (``2026-03-02``, ``2026-03-02T10:00Z``), or a ``datetime``: as written; a time
  without an offset is in ``zone`` (UTC unless a source says otherwise);
- a whole number of 8 digits (``20260302``) is a date, ``YYYYMMDD``, and of 14 digits
  (``20260302101500``) a date and time, ``YYYYMMDDHHMMSS`` (both in ``zone``);
- a whole number of 13 digits is Unix milliseconds;
- any other number (a fraction, a sign, another count of digits) is Unix seconds.

Why the digits decide: eight digits of seconds would be a moment between March 1970 and March 1973,
which no engineering metric has, while ``YYYYMMDD`` is how builds and report files name their day;
Unix seconds have had 10 digits since 2001, and milliseconds have 13 from then until 2286, so the
count of digits tells the three apart without guessing from the value. A ``fmt`` (a source's
``strptime`` format) overrides the rule. What cannot be read is an :class:`~core.errors.InputError`
in one line. pandas loads on the first call, not on import.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

from core.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

_FRACTION = re.compile(r"-?\d+\.\d*|-?\.\d+")
_FORMS = {8: "%Y%m%d", 14: "%Y%m%d%H%M%S"}  # whole numbers of these many digits are written dates
_MILLIS = 13
HINT = "use ISO 8601 (2026-03-02 or 2026-03-02T10:00Z), YYYYMMDD or Unix seconds"


def parse_time(value: object, *, zone: tzinfo = UTC, fmt: str | None = None) -> pd.Timestamp:
    """``value`` as a UTC timestamp by the module's rule; :class:`InputError` if it is no time."""
    import pandas as pd

    raw = str(value).strip()
    try:
        if fmt:
            ts = pd.Timestamp(datetime.strptime(raw, fmt))
        elif isinstance(value, datetime):
            ts = pd.Timestamp(value)
        elif raw.isdigit():
            ts = _whole(raw)
        elif _FRACTION.fullmatch(raw) or (raw.startswith("-") and raw[1:].isdigit()):
            ts = pd.Timestamp(float(raw), unit="s", tz="UTC")
        else:
            ts = pd.Timestamp(raw)
    except (ValueError, TypeError, OverflowError, pd.errors.OutOfBoundsDatetime):
        shown = raw if len(raw) <= 80 else raw[:79] + "…"
        raise InputError(f"{shown!r} is not a time; {HINT if not fmt else f'expected the format {fmt}'}") from None
    if ts is pd.NaT or pd.isna(ts):
        raise InputError(f"{raw[:80]!r} is not a time")
    return _utc(ts, zone)


def _whole(digits: str) -> pd.Timestamp:
    import pandas as pd

    if len(digits) in _FORMS:
        return pd.Timestamp(datetime.strptime(digits, _FORMS[len(digits)]))
    if len(digits) == _MILLIS:
        return pd.Timestamp(int(digits), unit="ms", tz="UTC")
    return pd.Timestamp(int(digits), unit="s", tz="UTC")


def _utc(ts: pd.Timestamp, zone: tzinfo) -> pd.Timestamp:
    return ts.tz_localize(zone).tz_convert("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def parse_times(column: pd.Series) -> pd.DatetimeIndex:
    """A column of times as UTC, by the same rule as :func:`parse_time`, at column speed.

    A numeric column is read number by number (8 or 14 digits: a written date; 13: milliseconds;
    else seconds); a text column as ISO 8601. Raises ``ValueError`` for what is no time and
    leaves empty cells ``NaT`` (the caller says where, and what to do).
    """
    import numpy as np
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(column):
        return pd.DatetimeIndex(pd.to_datetime(column, utc=True, format="ISO8601"))
    values = column.astype("float64").to_numpy()
    whole = np.isfinite(values) & (values >= 1) & (np.floor(values) == values)
    digits = np.where(whole, np.floor(np.log10(np.where(whole, values, 1.0))) + 1, 0).astype("int64")
    seconds = np.where(digits == _MILLIS, values / 1000, np.where(np.isin(digits, list(_FORMS)), 0.0, values))
    stamps = pd.to_datetime(seconds, unit="s").to_numpy(dtype="datetime64[ns]").copy()  # naive UTC
    for n, form in _FORMS.items():
        written = digits == n
        if written.any():
            text = values[written].astype("int64").astype(str)
            stamps[written] = pd.to_datetime(text, format=form).to_numpy(dtype="datetime64[ns]")
    return pd.DatetimeIndex(stamps).tz_localize("UTC")
