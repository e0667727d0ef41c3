"""The store: observations, collectors' bookkeeping and the investigations asked of them.

Written with SQLAlchemy Core so the embedded default (a SQLite file under the data
directory) and PostgreSQL share one code path. Every write is one transaction: the
observations, any rows they replace, and the collector state that says how far a source
has been read either all land or none do. Upserts are idempotent: an observation is keyed
by ``(ts, scope, metric, source)`` and writing it again replaces its value. Questions asked of
the data are kept with their JSON result so they can be served again later: every kind of
question (``kind``: one of :data:`results.questions.QUESTION_KINDS`) in one table and one id space. The store
keeps the long table as it is; turning it into a graph's wide frame is the frame step's job
(:mod:`rca.frames`). Credentials in a store URL never appear in a message (:func:`masked`, the
ground floor's one rule). A store that cannot be reached, is locked or drops the connection is
:class:`StoreUnavailable` (try again later); a URL, driver or file the user must fix is :class:`StoreError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core import observations
from core.errors import BadInput, Unavailable
from core.observations import Replace
from core.secrets import Redactor, mask_url, url_secrets
from rca.records import InvestigationRecord, RunRecord

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

investigations_table = sa.Table(
    "investigations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=False), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=False)),
    sa.Column("status", sa.String(16), nullable=False),  # queued | running | done | failed
    sa.Column("scope", sa.String(255), nullable=False),
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("question", sa.Text, nullable=False),  # JSON: graph, windows, source of the data
    sa.Column("result", sa.Text),  # JSON: the investigation result (ARCHITECTURE.md's contract)
    sa.Column("report_path", sa.Text),
    sa.Column("error", sa.Text),
    # What was asked: every kind has the same record (question, JSON result, status), so one table
    # and one id space serve them all. Stores written before the column existed get it on open
    # (:meth:`Store._add_kind`), their rows reading as investigations.
    sa.Column("kind", sa.String(32), nullable=False, server_default="investigation"),
)
sa.Index("ix_investigations_created", investigations_table.c.created_at)

runs_table = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("job", sa.String(64), nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),  # schedule | refit | manual
    sa.Column("started_at", sa.DateTime(timezone=False), nullable=False),  # naive UTC
    sa.Column("finished_at", sa.DateTime(timezone=False)),
    sa.Column("status", sa.String(16), nullable=False),  # running | done | failed | interrupted
    sa.Column("error", sa.Text),
    sa.Column("outputs", sa.Text),  # JSON: what the run wrote (rows per collector, reports, chat posts)
    sa.Column("owner", sa.String(255), nullable=False, server_default=""),  # host:pid of the process that ran it
)
sa.Index("ix_runs_started", runs_table.c.started_at)
sa.Index("ix_runs_status", runs_table.c.status)

RUN_STATUSES = ("running", "done", "failed", "interrupted")


class StoreError(BadInput):
    """The store cannot be used as configured: its URL, driver, folder or file is wrong (the user fixes it)."""


class StoreUnavailable(Unavailable):
    """The store is down, unreachable, locked by another writer or dropped the connection (try again later)."""


def masked(url: str) -> str:
    """A store URL fit to print: any password (and password-like query value) replaced by ``***``."""
    return mask_url(url)


def scrubbed(text: str, url: str) -> str:
    """``text`` with ``url`` and its password (in every spelling a driver could repeat) hidden."""
    return Redactor({url: masked(url), **dict.fromkeys(url_secrets(url), "***")})(text)


def _check_url(url: str) -> None:
    """Refuse a URL whose password holds an unescaped ``@``: drivers cut it at the first ``@`` and
    would report the rest of the password as the host name."""
    _, sep, rest = url.partition("://")
    if sep and "@" in rest.rpartition("@")[0]:
        raise StoreError(f"the store URL {masked(url)} has an '@' in its user name or password: percent-encode it "
                         "as %40 (and '/', '?', '#', '%' as %2F, %3F, %23, %25)")


# PostgreSQL error classes that pass: connection exceptions, insufficient resources, operator
# intervention (shutdown, cannot connect now, statement timeout), serialization failures and deadlocks.
_TRANSIENT_SQLSTATE = ("08", "53", "57", "40")


def _outage(exc: sa.exc.SQLAlchemyError) -> bool:
    """Whether a database error is the server or the lock, not the configuration: worth trying again later."""
    if isinstance(exc, (sa.exc.DisconnectionError, sa.exc.TimeoutError)):
        return True
    orig = getattr(exc, "orig", None)
    state = getattr(orig, "sqlstate", None)
    if state:
        return str(state).startswith(_TRANSIENT_SQLSTATE)
    text = str(orig or exc).lower()
    if "authentication failed" in text or "does not exist" in text or "no password supplied" in text:
        return False
    if "database is locked" in text or "database table is locked" in text:
        return True
    # A PostgreSQL connection that never opened has no SQLSTATE: refused, timed out, host unreachable.
    return isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)) and "sqlite" not in text and (
        "connection" in text or "timeout" in text or "could not" in text or "server closed" in text)


def _with_driver(url: str) -> str:
    """A PostgreSQL URL without a driver uses psycopg (v3), the one ``whydunnit[postgres]`` installs."""
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url.removeprefix(bare)
    return url


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite store whose folder may be made: ``sqlite:///PATH``, or a SQLite URI
    (``sqlite:///file:PATH?mode=rwc&uri=true``, whose path is the URI's, not ``file:PATH``). None for
    other stores, memory, and a read-only URI (``mode=ro``: the file must be there already)."""
    if not url.startswith("sqlite:///"):
        return None
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return None
    database = parsed.database or ""
    if not database or database == ":memory:":
        return None
    if str(parsed.query.get("uri", "")).lower() in ("true", "1") and database.startswith("file:"):
        parts = urlsplit(database)
        if parse_qs(parts.query).get("mode", [""])[0] in ("ro", "memory") or parsed.query.get("mode") in ("ro", "memory"):
            return None
        return Path(unquote(parts.path)) if parts.path and parts.path != ":memory:" else None
    return Path(database)


def _naive_utc(ts: Any) -> datetime:
    return pd.Timestamp(ts).tz_convert("UTC").tz_localize(None).to_pydatetime()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class RunLog:
    """The runs of scheduled jobs, kept in the store's ``runs`` table (see :class:`Store`'s run methods)."""

    def start_run(self: Store, id_: str, job: str, *, trigger: str = "schedule", owner: str = "") -> RunRecord:
        """Record that a run of ``job`` started (status ``running``)."""
        rec = RunRecord(id=id_, job=job, trigger=trigger, started_at=_now(), status="running", owner=owner)
        with self.transaction() as conn:
            conn.execute(runs_table.insert().values(id=rec.id, job=job, trigger=trigger, started_at=rec.started_at,
                                                    status="running", owner=owner))
        return rec

    def finish_run(self: Store, id_: str, status: str, *, error: str | None = None,
                   outputs: Mapping[str, Any] | None = None) -> None:
        """Record how a run ended: ``done``, ``failed`` or ``interrupted``, with its error and outputs."""
        if status not in RUN_STATUSES[1:]:
            raise ValueError(f"a run ends done, failed or interrupted, not {status!r}")
        with self.transaction() as conn:
            conn.execute(runs_table.update().where(runs_table.c.id == id_).values(
                status=status, error=error, finished_at=_now(),
                outputs=json.dumps(dict(outputs), default=str) if outputs is not None else None))

    def run(self: Store, id_: str) -> RunRecord | None:
        with self._guard("read"), self.engine.connect() as conn:
            row = conn.execute(sa.select(runs_table).where(runs_table.c.id == id_)).first()
        return _run_record(row) if row is not None else None

    def runs(self: Store, *, limit: int = 50, job: str | None = None, status: str | None = None) -> list[RunRecord]:
        """The newest runs first (of every job, or of ``job`` only)."""
        rows = self._newest(runs_table, runs_table.c.started_at, limit, job=job, status=status)
        return [_run_record(r) for r in rows]

    def interrupt_unfinished(self: Store, reason: str) -> tuple[int, int]:
        """Mark every run still ``running`` and every investigation still ``queued`` or ``running``
        ``interrupted`` with ``reason`` (a process that held them was killed). Returns (runs, investigations)."""
        now = _now()
        with self.transaction() as conn:
            runs = conn.execute(runs_table.update().where(runs_table.c.status == "running").values(
                status="interrupted", error=reason, finished_at=now)).rowcount
            t = investigations_table
            questions = conn.execute(t.update().where(t.c.status.in_(("queued", "running"))).values(
                status="interrupted", error=reason, finished_at=now)).rowcount
        return runs, questions

    def use_wal(self: Store) -> None:
        """SQLite: write-ahead logging, so readers (the API) never wait for a writer (a job). No-op elsewhere."""
        if self.engine.dialect.name == "sqlite" and self.url != "sqlite:///:memory:":
            with self._guard("open"), self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")

    def ping(self: Store) -> None:
        """Raise :class:`StoreError` unless the store answers a query."""
        with self._guard("read"), self.engine.connect() as conn:
            conn.execute(sa.select(sa.func.count()).select_from(runs_table).where(runs_table.c.status == "running"))


def _run_record(row: Any) -> RunRecord:
    m = row._mapping
    return RunRecord(id=m["id"], job=m["job"], trigger=m["trigger"], started_at=m["started_at"], status=m["status"],
                     finished_at=m["finished_at"], error=m["error"],
                     outputs=json.loads(m["outputs"]) if m["outputs"] else None, owner=m["owner"] or "")


class Store(RunLog):
    """A handle on one store (``sqlite:///path`` or a PostgreSQL URL); use it as a context manager."""

    def __init__(self, url: str, *, busy_timeout_s: float = 30.0) -> None:
        self.url = url
        self.shown = masked(url)
        _check_url(url)
        path = _sqlite_file(url)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the store's folder {str(path.parent)!r}: {exc.strerror}") from None
        # A second writer (a scheduled collect beside a manual one) waits for the lock, then fails clearly.
        connect_args: dict[str, Any] = {"timeout": busy_timeout_s} if url.startswith("sqlite") else {}
        engine_args: dict[str, Any] = {}
        if url.startswith(("postgresql", "postgres:")):
            # A server that drops packets fails after this long, not after the OS's minutes; a pooled
            # connection the server closed (a restart) is replaced instead of failing the next job.
            if "connect_timeout=" not in url:
                connect_args["connect_timeout"] = max(1, round(busy_timeout_s))
            engine_args["pool_pre_ping"] = True
        try:
            self.engine: Engine = sa.create_engine(_with_driver(url), future=True, connect_args=connect_args,
                                                   **engine_args)
            with self._guard("open"):
                metadata.create_all(self.engine)
                self._add_kind()
        except (StoreError, StoreUnavailable):
            raise
        except ModuleNotFoundError as exc:
            raise StoreError(f"the store at {self.shown} needs the Python package {exc.name!r}: "
                             "install whydunnit[postgres] (or the driver the URL names)") from None
        except (sa.exc.ArgumentError, ValueError, TypeError) as exc:
            detail = scrubbed(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, url)
            raise StoreError(f"cannot open the store at {self.shown}: {detail}") from None

    def _add_kind(self) -> None:
        """Give a store made before effect questions were kept its ``kind`` column (existing rows:
        investigations). Idempotent; a second process adding it at the same moment is harmless."""
        columns = {c["name"] for c in sa.inspect(self.engine).get_columns("investigations")}
        if "kind" in columns:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.text("ALTER TABLE investigations ADD COLUMN kind VARCHAR(32) "
                                     "NOT NULL DEFAULT 'investigation'"))
        except sa.exc.SQLAlchemyError:
            if "kind" not in {c["name"] for c in sa.inspect(self.engine).get_columns("investigations")}:
                raise

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Database errors as one line that names the store (masked) and never its password."""
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            detail = (str(getattr(exc, "orig", None) or exc).splitlines() or [type(exc).__name__])[0]
            if "locked" in detail:
                detail += " (another process is writing; try again when it is done)"
            kind = StoreUnavailable if _outage(exc) else StoreError
            raise kind(scrubbed(f"cannot {what} the store at {self.shown}: {detail}", self.url)) from None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self._guard("write"), self.engine.begin() as conn:
            yield conn

    def _upsert_stmt(self, table: sa.Table = observations_table, keys: Sequence[str] = ("ts", "scope", "metric", "source"),
                     values: Sequence[str] = ("value",)) -> sa.Insert:
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(table)
        return stmt.on_conflict_do_update(index_elements=list(keys), set_={v: stmt.excluded[v] for v in values})

    def write(
        self,
        frame: pd.DataFrame,
        *,
        replace: Sequence[Replace] = (),
        state: Mapping[tuple[str, str], Any] | None = None,
    ) -> int:
        """Upsert observations in one transaction and return how many rows were written.

        ``replace`` first deletes the rows a re-read supersedes (e.g. after a rewritten history);
        ``state`` maps ``(collector, key)`` to a JSON-able value saved in the same transaction.
        """
        clean = observations.validate(frame)
        naive = clean["ts"].dt.tz_convert("UTC").dt.tz_localize(None).dt.to_pydatetime()  # one conversion, not one per row
        rows = [
            {"ts": ts, "scope": sc, "metric": m, "source": so, "value": float(v)}
            for ts, sc, m, v, so in zip(list(naive), clean["scope"].tolist(), clean["metric"].tolist(),
                                        clean["value"].tolist(), clean["source"].tolist(), strict=True)
        ]
        # Key order: two writers upserting overlapping rows take their row locks in the same order
        # (PostgreSQL), so one waits for the other instead of both dying in a deadlock.
        rows.sort(key=lambda r: (r["ts"], r["scope"], r["metric"], r["source"]))
        t = observations_table
        with self.transaction() as conn:
            for rep in replace:
                cond = sa.and_(t.c.scope == rep.scope, t.c.source == rep.source)
                if rep.since is not None:
                    cond = sa.and_(cond, t.c.ts >= _naive_utc(rep.since))
                if rep.metric is not None:
                    cond = sa.and_(cond, t.c.metric == rep.metric)
                conn.execute(t.delete().where(cond))
            # One upsert executed for every row (executemany): compiled once, no cap on bound parameters.
            # A multi-row VALUES statement per 5,000 rows spent ~0.2 ms per row compiling it.
            if rows:
                conn.execute(self._upsert_stmt(), rows)
            # An upsert, not delete-then-insert: on PostgreSQL a second writer's insert of the same key
            # would otherwise fail on the first one's committed row instead of replacing it.
            states = [{"collector": c, "key": k, "value": json.dumps(v), "updated_at": _now()}
                      for (c, k), v in sorted((state or {}).items())]
            if states:
                conn.execute(self._upsert_stmt(state_table, ("collector", "key"), ("value", "updated_at")), states)
        return len(rows)

    def states(self, collector: str) -> dict[str, Any]:
        """Everything ``collector`` saved, key -> value."""
        with self._guard("read"), self.engine.connect() as conn:
            rows = conn.execute(sa.select(state_table.c.key, state_table.c.value).where(
                state_table.c.collector == collector)).all()
        return {k: json.loads(v) for k, v in rows}

    # --- investigations ----------------------------------------------------------------------

    def save_investigation(self, rec: InvestigationRecord) -> None:
        """Insert or update one investigation (by id)."""
        t = investigations_table
        values = {"created_at": rec.created_at, "finished_at": rec.finished_at, "status": rec.status,
                  "scope": rec.scope, "target": rec.target, "question": json.dumps(rec.question),
                  "result": json.dumps(rec.result) if rec.result is not None else None,
                  "report_path": rec.report_path, "error": rec.error, "kind": rec.kind}
        with self.transaction() as conn:
            updated = conn.execute(t.update().where(t.c.id == rec.id).values(**values)).rowcount
            if not updated:
                conn.execute(t.insert().values(id=rec.id, **values))

    def investigation(self, id_: str) -> InvestigationRecord | None:
        with self._guard("read"), self.engine.connect() as conn:
            row = conn.execute(sa.select(investigations_table).where(investigations_table.c.id == id_)).first()
        return _record(row) if row is not None else None

    def investigations(self, *, limit: int = 50, status: str | None = None,
                       kind: str | None = None) -> list[InvestigationRecord]:
        """The newest records first (of every kind, or of ``kind`` only)."""
        rows = self._newest(investigations_table, investigations_table.c.created_at, limit, status=status, kind=kind)
        return [_record(r) for r in rows]

    def _newest(self, table: sa.Table, when: sa.Column, limit: int, **equal: str | None) -> list[sa.Row]:
        """Rows of ``table``, newest ``when`` first (ties by id), where each given column equals its value."""
        q = sa.select(table).order_by(when.desc(), table.c.id).limit(limit)
        for column, value in equal.items():
            if value is not None:
                q = q.where(table.c[column] == value)
        with self._guard("read"), self.engine.connect() as conn:
            return list(conn.execute(q).all())

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
            q = q.where(t.c.ts >= _naive_utc(start))
        if end is not None:
            q = q.where(t.c.ts <= _naive_utc(end))
        with self._guard("read"), self.engine.connect() as conn:
            df = pd.DataFrame(conn.execute(q.order_by(t.c.ts)).all(), columns=list(observations.COLUMNS))
        if df.empty:
            return observations.empty()
        df["ts"] = pd.to_datetime(df["ts"]).dt.tz_localize("UTC")
        return df

    def count(self) -> int:
        with self._guard("read"), self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(observations_table)).scalar_one())

    def scopes(self) -> list[str]:
        with self._guard("read"), self.engine.connect() as conn:
            return [r[0] for r in conn.execute(sa.select(observations_table.c.scope).distinct().order_by(
                observations_table.c.scope))]


def _record(row: Any) -> InvestigationRecord:
    m = row._mapping
    return InvestigationRecord(
        id=m["id"], created_at=m["created_at"], status=m["status"], scope=m["scope"], target=m["target"],
        question=json.loads(m["question"]), result=json.loads(m["result"]) if m["result"] else None,
        report_path=m["report_path"], error=m["error"], finished_at=m["finished_at"], kind=m["kind"],
    )
