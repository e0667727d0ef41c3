"""The Prometheus collector: configured PromQL range queries as bucketed observations.

Each configured query (:mod:`collectors.prometheus_settings`) names our metric, a PromQL
expression, how the result's labels map to our ``scope`` and the bucket (``hour``, ``day`` or
``week``). It is read with ``query_range`` at **one point per bucket**: the step is the
bucket's length and each point is evaluated one second before its bucket ends, so a range
selector written ``[$bucket]`` (``$bucket`` becomes ``1h``, ``1d`` or ``1w``) covers exactly that
bucket's samples (``(start - 1 s, end - 1 s]``: consecutive buckets tile the timeline, every
sample at a whole second counts once, in its own bucket). The aggregation into the bucket is
thus Prometheus's own, over every raw sample: ``avg_over_time``, ``max_over_time``,
``last_over_time``, ``increase`` for counters, ``histogram_quantile`` over an ``increase`` of the
buckets. We never sample a gauge at a finer step and average it here: a step shorter than the
samples' spacing leaves gaps (Prometheus looks back only 5 minutes for an instant selector)
and a longer one skips samples. An expression without a range selector is read as the value
at each bucket's last second, with a note saying so.

Long ranges are split into requests of at most ``max_points`` points per series (Prometheus
refuses more than 11,000). Values arrive as strings and become floats; a bucket without a
point stays missing (never zero), and NaN or infinite points are dropped with a note. Only
buckets that have ended are stored (an ``until`` in the future reads to now, with a note): the
one in progress lands on the first run after it ends. The state keeps, per query, the last
bucket read; the next run re-reads that bucket (late samples) and the new ones, and replaces
what it stored from there on. A changed expression, scope mapping, bucket or start re-reads the
whole range and replaces the metric's rows.

The requests themselves (:mod:`collectors.prometheus_http`) are bounded in time and size and
retried by :mod:`core.retry`. A failing query (a refused or malformed answer, one too large, a
server too slow) is one line naming it and why, scrubbed of the credentials, and the other
queries still run; once the server is unreachable the remaining queries are not tried.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from typing import TYPE_CHECKING, Any

from collectors import observations
from collectors.base import Collected, Collector, Progress, Replace
from collectors.observations import bucket_of
from collectors.prometheus_http import Client, QueryError, Unreachable
from collectors.prometheus_settings import (
    MAX_POINTS,
    PROMQL_DURATION,
    STEP_S,
    AuthSettings,
    PrometheusSettings,
    QuerySettings,
    lookback_seconds,
)
from core.errors import printable

if TYPE_CHECKING:  # pandas loads when rows are made: reading rca.yaml's settings needs none
    import pandas as pd

__all__ = ["COLLECTOR", "MAX_POINTS", "PROMQL_DURATION", "STEP_S", "AuthSettings", "Client", "Plan",
           "PrometheusSettings", "QueryError", "QuerySettings", "Unreachable", "collect", "fingerprint",
           "lookback_seconds", "plan", "read_query"]

SOURCE = "prometheus"


@dataclass(frozen=True)
class Plan:
    """The evaluation times of one query's run: ``count`` buckets from ``first`` on, ``step`` apart."""

    first: int  # start (Unix seconds) of the first bucket read
    count: int
    step: int
    full_read: bool
    in_progress_until: int | None = None  # when the bucket in progress ends (None: reading up to a past until)

    @property
    def last(self) -> int:
        return self.first + (self.count - 1) * self.step

    def chunks(self, max_points: int) -> list[tuple[int, int]]:
        """(start, end) evaluation times per request: bucket end minus one second, inclusive, no overlap."""
        out = []
        for i in range(0, self.count, max_points):
            n = min(max_points, self.count - i)
            start = self.first + i * self.step + self.step - 1
            out.append((start, start + (n - 1) * self.step))
        return out


def fingerprint(q: QuerySettings, settings: PrometheusSettings) -> str:
    """What makes stored rows of a query stale when it changes (not the url: a moved server keeps its data)."""
    since = q.since.isoformat() if q.since else None
    parts = [q.promql, repr(q.labels), q.scope or "", q.bucket, str(since), q.lookback or settings.lookback]
    return sha256("\x00".join(parts).encode()).hexdigest()[:16]


def plan(q: QuerySettings, settings: PrometheusSettings, saved: Mapping[str, Any] | None, now: int) -> Plan:
    """Which buckets this run reads: from the saved last bucket (re-read) or the start, to the last complete one."""
    step = STEP_S[q.bucket]
    # An until in the future reads to now: a bucket that has not ended would be stored unfinished.
    end = min(int(settings.until.timestamp()), now) if settings.until else now
    last = int(bucket_of(end, q.bucket)) - step  # the last bucket that has ended by `end`
    if saved and saved.get("fingerprint") == fingerprint(q, settings) and saved.get("last_bucket"):
        first, full = int(observations.parse_time(saved["last_bucket"]).timestamp()), False
    else:
        since = int(q.since.timestamp()) if q.since else end - lookback_seconds(q.lookback or settings.lookback)
        first, full = int(bucket_of(since, q.bucket)), True
    in_progress = last + 2 * step if end == now else None
    return Plan(first, max(0, (last - first) // step + 1), step, full, in_progress)


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%MZ")


def _in_progress(q: QuerySettings, p: Plan) -> str:
    if p.in_progress_until is None:
        return ""
    return (f"; the {q.bucket} bucket in progress ends at {_iso(p.in_progress_until)} and is read on the first run "
            "after that")


def _has_range(promql: str) -> bool:
    return "[" in promql


@dataclass
class QueryResult:
    rows: pd.DataFrame
    scopes: tuple[str, ...]
    series: int
    dropped: int
    requests: int


def read_query(client: Client, q: QuerySettings, p: Plan, max_points: int) -> QueryResult:
    """Every chunk of one query as observation rows; raises :class:`QueryError` naming what went wrong."""
    import pandas as pd

    ts: list[int] = []
    scopes: list[str] = []
    values: list[float] = []
    owner: dict[str, dict[str, str]] = {}  # scope -> the labels of the series that fills it
    lacking: dict[frozenset[tuple[str, str]], dict[str, str]] = {}  # series without the scope label(s)
    dropped = requests = 0
    for start, end in p.chunks(max_points):
        result = client.range(q, start, end, p.step)
        requests += 1
        for labels, points in result:
            if q.scope is not None:
                scope = q.scope
            else:
                parts = [labels.get(label, "") for label in q.labels]
                if not all(parts):
                    lacking[frozenset(labels.items())] = labels
                    continue
                scope = "/".join(parts)
            if owner.setdefault(scope, labels) != labels:
                raise QueryError(_collision(q, scope, owner[scope], labels))
            for t, x in points:
                if not math.isfinite(x):
                    dropped += 1
                    continue
                ts.append(int(bucket_of(t, q.bucket)))
                scopes.append(scope)
                values.append(x)
    if lacking:
        have = sorted({k for labels in lacking.values() for k in labels if k != "__name__"})
        missing = [label for label in q.labels if any(label not in labels for labels in lacking.values())]
        raise QueryError(f"the series lack the scope label(s) {', '.join(repr(m) for m in missing)} "
                         f"({len(lacking)} of {len(lacking) + len(owner)} series; their labels: "
                         f"{', '.join(have) or 'none'}); change scope_label or keep the label in the expression "
                         f"(e.g. sum by ({', '.join(q.labels)}) (...))")
    if not ts and not dropped:
        hint = ("; the expression has no range selector, so each bucket's last second is read with Prometheus's "
                "5-minute lookback: use e.g. last_over_time(...[$bucket]) or avg_over_time(...[$bucket])"
                if not _has_range(q.promql) else "")
        raise QueryError(f"no data: the query returned no series between {_iso(p.first)} and {_iso(p.last + p.step)} "
                         f"({p.count} {q.bucket} bucket(s)){hint}{_in_progress(q, p)}; the query was: "
                         f"{printable(q.promql, 2000)}")
    frame = pd.DataFrame({
        "ts": pd.to_datetime(pd.Series(ts, dtype="int64"), unit="s", utc=True).dt.as_unit("ns"),
        "scope": pd.Series(scopes, dtype="object"),
        "metric": q.metric,
        "value": pd.Series(values, dtype="float64"),
        "source": SOURCE,
    })
    return QueryResult(frame, tuple(sorted(owner)), len(owner), dropped, requests)


def _collision(q: QuerySettings, scope: str, a: dict[str, str], b: dict[str, str]) -> str:
    differ = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    how = (f"scope_label {', '.join(q.labels)}" if q.labels else f"the fixed scope {q.scope!r}")
    return (f"several series map to scope {scope!r} through {how}; they differ in {', '.join(differ) or 'nothing'}: "
            f"aggregate them in the expression (sum by / avg by) or add the label to scope_label")


# --- the collector seam ------------------------------------------------------------------------

def collect(settings: PrometheusSettings, state: Mapping[str, Any], progress: Progress | None = None) -> Collected:
    """Run every configured query; one that fails is a line in ``failures`` and the others still land."""
    import pandas as pd

    client = Client(settings)  # an unusable credential source or CA file is an InputError: nothing can run
    now = int(time.time())
    frames, replaces, lines, notes, failures = [], [], [], list(client.notes), []
    if settings.until is not None and settings.until.timestamp() > now:
        notes.append(f"until ({_iso(int(settings.until.timestamp()))}) is in the future: read the buckets that have "
                     f"ended by now ({_iso(now)})")
    new_state: dict[str, Any] = {}
    units: dict[str, dict[str, Any]] = {}
    down: str | None = None
    try:
        for i, q in enumerate(settings.queries):
            if progress is not None:
                progress("prometheus queries", i, len(settings.queries))
            if down is not None:
                failures.append(f"{q.metric}: not run: {down}")
                continue
            saved = state.get(q.metric)
            p = plan(q, settings, saved if isinstance(saved, Mapping) else None, now)
            if p.count == 0:
                lines.append(f"{q.metric}: nothing new: no {q.bucket} bucket has ended since {_iso(p.first)}"
                             f"{_in_progress(q, p)}")
                continue
            started = time.perf_counter()
            before, retried = client.requests_made, client.retried
            try:
                got = read_query(client, q, p, settings.max_points)
            except QueryError as exc:
                failures.append(f"{q.metric}: {exc}")
                if exc.server_down:
                    down = f"{client.server} was unreachable for {q.metric}"
                continue
            old_scopes = tuple(saved.get("scopes", ())) if isinstance(saved, Mapping) else ()
            scopes = tuple(sorted(set(old_scopes) | set(got.scopes)))
            since = None if p.full_read else pd.Timestamp(p.first, unit="s", tz="UTC")
            replaces.extend(Replace(scope, SOURCE, since, q.metric) for scope in scopes)
            frames.append(got.rows)
            new_state[q.metric] = {"fingerprint": fingerprint(q, settings), "last_bucket": _iso(p.last),
                                   "scopes": list(scopes)}
            how = "full read" if p.full_read else "incremental"
            lines.append(f"{q.metric}: {got.series} series, {len(got.rows)} points, {q.bucket} buckets "
                         f"{_iso(p.first)}..{_iso(p.last)}, {how}, {got.requests} request(s)")
            units[q.metric] = {"series": got.series, "points": len(got.rows), "requests": got.requests,
                               "http_requests": client.requests_made - before, "retries": client.retried - retried,
                               "full_read": p.full_read,
                               "first_bucket": _iso(p.first), "last_bucket": _iso(p.last),
                               "dropped_non_finite": got.dropped, "seconds": round(time.perf_counter() - started, 3)}
            if got.dropped:
                notes.append(f"{q.metric}: dropped {got.dropped} NaN or infinite point(s) (a division by zero, "
                             "e.g. an error ratio over no requests?); those buckets stay missing")
            if not _has_range(q.promql):
                notes.append(f"{q.metric}: the expression has no range selector, so each bucket holds the value at "
                             "its last second (within Prometheus's 5-minute lookback), not a summary of the bucket; "
                             "wrap it, e.g. avg_over_time(...[$bucket]) or last_over_time(...[$bucket])")
        if progress is not None:
            progress("prometheus queries", len(settings.queries), len(settings.queries))
    finally:
        client.close()
    table = pd.concat(frames, ignore_index=True) if frames else observations.empty()

    def clean(texts: list[str]) -> tuple[str, ...]:
        """Each message one printable line without the credentials, in any spelling a server echoed them."""
        return tuple(client.redact(printable(t, 4000)) for t in texts)

    return Collected(observations=table, replaces=tuple(replaces), state=new_state, lines=clean(lines),
                     units=units, notes=clean(notes), failures=clean(failures))


COLLECTOR: Collector[PrometheusSettings] = Collector("prometheus", PrometheusSettings, collect)
