"""The observation store: one SQL table of observations, plus collectors' bookkeeping.

Written with SQLAlchemy Core so the embedded default (a SQLite file under the data
directory) and PostgreSQL share one code path. Every write is one transaction: the
observations, any rows they replace, and the collector state that says how far a source
has been read either all land or none do. Upserts are idempotent: an observation is keyed
by ``(ts, scope, metric, source)`` and writing it again replaces its value.
:meth:`Store.frame` turns the long table into the wide, bucketed frame the engine needs,
aggregating each graph node by its own rule.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from collectors import observations
from collectors.observations import InputError
from graphs import CausalGraph

metadata = sa.MetaData()

observations_table = sa.Table(
    "observations",
    metadata,
    sa.Column("ts", sa.DateTime(timezone=False), primary_key=True),  # naive UTC
    sa.Column("scope", sa.String(255), primary_key=True),
    sa.Column("metric", sa.String(255), primary_key=True),
    sa.Column("source", sa.String(32), primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
)
sa.Index("ix_observations_scope_metric_ts", observations_table.c.scope, observations_table.c.metric,
         observations_table.c.ts)

state_table = sa.Table(
    "collector_state",
    metadata,
    sa.Column("collector", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(1024), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=False), nullable=False),
)

_BUCKETS = {"hour": "h", "day": "D"}


class StoreError(InputError):
    """The store cannot be opened or written."""


def bucket_start(ts: pd.Series, unit: str) -> pd.Series:
    """The UTC start of each timestamp's bucket (weeks start on Monday)."""
    ts = pd.to_datetime(ts, utc=True)
    if unit == "commit":
        return ts
    if unit in _BUCKETS:
        return ts.dt.floor(_BUCKETS[unit])
    if unit == "week":
        day = ts.dt.floor("D")
        return day - pd.to_timedelta(day.dt.weekday, unit="D")
    if unit == "month":
        return ts.dt.tz_localize(None).dt.to_period("M").dt.start_time.dt.tz_localize("UTC")
    raise InputError(f"unknown unit {unit!r}")


def bucket_days(unit: str) -> float:
    return {"hour": 1 / 24, "day": 1.0, "week": 7.0, "month": 30.4375, "commit": 1.0}[unit]


def aggregate(values: pd.DataFrame, agg: str, unit: str) -> pd.Series:
    """Aggregate a ``bucket, ts, value`` frame to one value per bucket by the node's rule."""
    grouped = values.sort_values("ts").groupby("bucket")["value"]
    if agg == "last":
        return grouped.last()
    if agg == "rate":
        return grouped.sum() / bucket_days(unit)
    if agg == "count":
        return grouped.count().astype("float64")
    return getattr(grouped, agg)()


class Store:
    """A handle on one observation store (``sqlite:///path`` or a PostgreSQL URL)."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            path = Path(url.removeprefix("sqlite:///"))
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the store's folder {str(path.parent)!r}: {exc.strerror}") from None
        try:
            self.engine: Engine = sa.create_engine(url, future=True)
            metadata.create_all(self.engine)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot open the store at {url!r}: {exc.__class__.__name__}: "
                             f"{str(exc.orig if hasattr(exc, 'orig') else exc).splitlines()[0]}") from None
        self.url = url

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def _upsert_stmt(self, rows: list[dict[str, Any]]) -> sa.Insert:
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(observations_table).values(rows)
        return stmt.on_conflict_do_update(
            index_elements=["ts", "scope", "metric", "source"], set_={"value": stmt.excluded.value}
        )

    def write(
        self,
        frame: pd.DataFrame,
        *,
        replace: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        state: Mapping[tuple[str, str], Any] | None = None,
    ) -> int:
        """Upsert observations in one transaction and return how many rows were written.

        ``replace`` (``scope``, ``source`` and optionally ``since``; or a list of them) first
        deletes the rows a re-read supersedes, e.g. after a rewritten history; ``state`` maps
        ``(collector, key)`` to a JSON-able value saved in the same transaction.
        """
        clean = observations.validate(frame)
        rows = [
            {"ts": ts.tz_convert("UTC").tz_localize(None).to_pydatetime(), "scope": sc, "metric": m,
             "source": so, "value": float(v)}
            for ts, sc, m, v, so in clean.itertuples(index=False, name=None)
        ]
        replaces = [replace] if isinstance(replace, Mapping) else list(replace or [])
        with self.transaction() as conn:
            for rep in replaces:
                cond = sa.and_(observations_table.c.scope == rep["scope"],
                               observations_table.c.source == rep["source"])
                if rep.get("since") is not None:
                    since = pd.Timestamp(rep["since"]).tz_convert("UTC").tz_localize(None).to_pydatetime()
                    cond = sa.and_(cond, observations_table.c.ts >= since)
                conn.execute(observations_table.delete().where(cond))
            # SQLite caps bound parameters per statement; 5 per row.
            for i in range(0, len(rows), 5000):
                conn.execute(self._upsert_stmt(rows[i : i + 5000]))
            for (collector, key), value in (state or {}).items():
                self._put_state(conn, collector, key, value)
        return len(rows)

    def _put_state(self, conn: Connection, collector: str, key: str, value: Any) -> None:
        now = datetime.now(UTC).replace(tzinfo=None)
        conn.execute(state_table.delete().where(
            sa.and_(state_table.c.collector == collector, state_table.c.key == key)))
        conn.execute(state_table.insert().values(collector=collector, key=key, value=json.dumps(value),
                                                 updated_at=now))

    def get_state(self, collector: str, key: str) -> Any | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(state_table.c.value).where(
                sa.and_(state_table.c.collector == collector, state_table.c.key == key))).first()
        return json.loads(row[0]) if row else None

    def read(
        self,
        *,
        scope: str | None = None,
        metrics: list[str] | None = None,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """Observations as a long table, filtered by scope, metrics and a ``[start, end]`` range."""
        t = observations_table
        q = sa.select(t.c.ts, t.c.scope, t.c.metric, t.c.value, t.c.source)
        if scope is not None:
            q = q.where(t.c.scope == scope)
        if metrics is not None:
            q = q.where(t.c.metric.in_(metrics))
        if start is not None:
            q = q.where(t.c.ts >= pd.Timestamp(start).tz_convert("UTC").tz_localize(None).to_pydatetime())
        if end is not None:
            q = q.where(t.c.ts <= pd.Timestamp(end).tz_convert("UTC").tz_localize(None).to_pydatetime())
        with self.engine.connect() as conn:
            df = pd.DataFrame(conn.execute(q.order_by(t.c.ts)).all(), columns=list(observations.COLUMNS))
        if df.empty:
            return observations.empty()
        df["ts"] = pd.to_datetime(df["ts"]).dt.tz_localize("UTC")
        return df

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(observations_table)).scalar_one())

    def scopes(self) -> list[str]:
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(sa.select(observations_table.c.scope).distinct().order_by(
                observations_table.c.scope))]

    def frame(
        self,
        graph: CausalGraph,
        scope: str,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """The wide frame for ``graph``: one row per bucket (index ``ts``), one column per node.

        Buckets where a node has no observation hold NaN; the engine decides what to do with them.
        """
        metrics = sorted({n.metric for n in graph.nodes.values()})
        long = self.read(scope=scope, metrics=metrics, start=start, end=end)
        if long.empty:
            known = self.scopes()
            hint = f"; scopes in the store: {', '.join(known[:10])}" if known else "; the store is empty: run `rca collect`"
            raise InputError(f"no observations for graph {graph.name!r} in scope {scope!r}{hint}")
        return to_wide(long, graph)


def to_wide(long: pd.DataFrame, graph: CausalGraph) -> pd.DataFrame:
    """Bucket a long observation table and pivot it to one column per graph node."""
    long = long.assign(bucket=bucket_start(long["ts"], graph.unit))
    columns: dict[str, pd.Series] = {}
    for node in graph.nodes.values():
        values = long[long["metric"] == node.metric]
        columns[node.name] = aggregate(values, node.agg, graph.unit) if not values.empty else pd.Series(dtype=float)
    wide = pd.DataFrame(columns)
    wide.index.name = "ts"
    return wide.sort_index()
