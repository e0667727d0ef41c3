"""The files collector: metrics kept in CSV or Parquet tables, wide or long.

A **wide** table has a timestamp in its first column (ISO 8601, YYYYMMDD or Unix seconds, read
by the one rule of :mod:`core.times`) and one column per metric; a **long** one is the
observation table itself (``ts, scope, metric, value[, source]``), as ``rca collect --git --out``
writes it. :func:`read` loads either,
:func:`index_by_time` makes a wide one time-indexed for the engine, :func:`to_observations`
turns either into observation rows. As a configured collector (``files: tables: [...]``) it
re-reads each table on every run and replaces what that table stored before, so an edited
file never leaves stale rows behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from collectors.base import Collected, Collector, Progress, Replace, Section
from core import observations
from core.errors import InputError
from core.times import parse_times

if TYPE_CHECKING:
    import pandas as pd

_LONG = frozenset({"ts", "scope", "metric", "value"})
_PARQUET = frozenset({".parquet", ".pq"})


def read(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet table (chosen by suffix) or say in one line why it cannot be read."""
    import pandas as pd  # here, not at import: the configuration reads this module's settings

    p = Path(path)
    if p.is_dir():
        raise InputError(f"data file {str(path)!r} is a folder; give a .csv or .parquet file")
    if not p.is_file():
        raise InputError(f"data file {str(path)!r} does not exist")
    try:
        df = pd.read_parquet(p) if p.suffix.lower() in _PARQUET else pd.read_csv(p)
    except Exception as exc:  # pandas and pyarrow raise many kinds for one cause: unreadable input
        first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise InputError(f"cannot read data file {str(path)!r}: {first}") from None
    if df.shape[1] < 2 or df.empty:
        raise InputError(f"data file {str(path)!r} needs a timestamp column and at least one metric column")
    return df


def is_observation_table(df: pd.DataFrame) -> bool:
    """Whether a table is in the long observation format rather than wide."""
    return set(map(str, df.columns)) >= _LONG


def index_by_time(df: pd.DataFrame, where: str = "data") -> pd.DataFrame:
    """A wide table indexed by its first column as UTC time (ISO 8601, YYYYMMDD or Unix seconds)."""
    import pandas as pd

    first = df.columns[0]
    try:
        ts = parse_times(df[first])
    except (ValueError, TypeError, OverflowError):
        raise InputError(f"{where}: first column {first!r} must hold timestamps (ISO 8601, YYYYMMDD or Unix "
                         "seconds)") from None
    if ts.isna().any():
        raise InputError(f"{where}: first column {first!r} has {int(ts.isna().sum())} empty timestamp(s)")
    out = df.drop(columns=[first])
    out.index = pd.DatetimeIndex(ts, name="ts")
    if out.index.has_duplicates:
        raise InputError(f"{where}: {int(out.index.duplicated().sum())} duplicate timestamp(s); "
                         "aggregate to one row per time first")
    return out.sort_index()


def to_observations(df: pd.DataFrame, scope: str, where: str = "data") -> pd.DataFrame:
    """Either table format as observation rows (source ``file``); a wide table's rows get ``scope``."""
    import pandas as pd

    if is_observation_table(df):
        long = df.assign(source="file")
    else:
        wide = index_by_time(df, where)
        long = (wide.apply(pd.to_numeric, errors="coerce").rename_axis("ts").reset_index()
                .melt(id_vars="ts", var_name="metric", value_name="value").assign(scope=scope, source="file"))
    return observations.validate(long)


class TableSettings(Section):
    """One table to import."""

    path: Path = Field(description="a .csv or .parquet file, wide (time, then metrics) or long (ts, scope, metric, value)")
    scope: str | None = Field(default=None, description="scope of a wide table's rows; default: the file's name")


class FilesSettings(Section):
    """The ``files:`` section: tables of metrics exported from other systems."""

    tables: tuple[TableSettings, ...] = ()

    @property
    def configured(self) -> bool:
        return bool(self.tables)


def collect(settings: FilesSettings, state: Mapping[str, Any], progress: Progress | None = None) -> Collected:
    """Read every configured table; one that cannot be read is a failure, the others still land."""
    import pandas as pd

    frames, replaces, lines, failures = [], [], [], []
    for i, t in enumerate(settings.tables):
        if progress is not None:
            progress("tables", i, len(settings.tables))
        try:
            obs = to_observations(read(t.path), t.scope or t.path.stem, where=str(t.path))
        except InputError as exc:
            failures.append(str(exc))
            continue
        frames.append(obs)
        replaces.extend(Replace(scope, "file") for scope in sorted(set(obs["scope"])))
        lines.append(f"{t.path}: {len(obs)} observations")
    table = pd.concat(frames, ignore_index=True) if frames else observations.empty()
    return Collected(observations=table, replaces=tuple(replaces), lines=tuple(lines), failures=tuple(failures))


COLLECTOR: Collector[FilesSettings] = Collector("files", FilesSettings, collect)
