"""The observation table: the one schema every collector returns and the store keeps.

A long, tidy table with the columns ``ts`` (UTC timestamp), ``scope`` (what it is about),
``metric`` (snake_case name with a unit suffix), ``value`` (float) and ``source``
(``git``, ``prometheus``, ``coverage``, ``file``). :func:`validate` normalises a frame to
that shape or says, in one line, what is wrong with it. :class:`InputError` is the root of
every "your input is wrong, here is what to do" error in the project, so the faces can turn
any of them into one clear line.
"""

from __future__ import annotations

import math

import pandas as pd

COLUMNS: tuple[str, ...] = ("ts", "scope", "metric", "value", "source")
SOURCES: frozenset[str] = frozenset({"git", "prometheus", "coverage", "file", "sample"})


class InputError(ValueError):
    """Bad input the user can fix; its message is one line saying what is wrong and what to do."""


def empty() -> pd.DataFrame:
    """An observation table with no rows and the right dtypes."""
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
