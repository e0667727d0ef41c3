"""The Prometheus collector: configured PromQL range queries as bucketed observations.

Each configured query names our metric, a PromQL expression, how the result's labels map to
our ``scope`` and the bucket (``hour``, ``day`` or ``week``). It is read with
prometheus-api-client's ``custom_query_range`` at **one point per bucket**: the step is the
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
complete buckets are stored: the current one lands on the run after it ends. The state keeps,
per query, the last bucket read; the next run re-reads that bucket (late samples) and the new
ones, and replaces what it stored from there on. A changed expression, scope mapping, bucket
or start re-reads the whole range and replaces the metric's rows.

Connection settings: URL, bearer token or basic auth whose secrets come from the environment
or a file (never from ``rca.yaml``, never in messages), TLS verification and CA file, a timeout
(also sent to Prometheus as the query's own ``timeout``), and bounded retries with exponential
backoff on 429, 5xx (except Prometheus's own "query timed out", which a retry would only
repeat) and client timeouts. A failing query is one line naming it and why, and the other
queries still run; once the server is unreachable the remaining queries are not tried.
"""

from __future__ import annotations

import math
import os
import re
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from collectors import observations
from collectors.base import Collected, Collector, Progress, Replace, Section
from collectors.observations import InputError, bucket_of

if TYPE_CHECKING:  # pandas loads when rows are made: reading rca.yaml's settings needs none
    import pandas as pd

__all__ = ["COLLECTOR", "AuthSettings", "PrometheusSettings", "QuerySettings", "collect"]

SOURCE = "prometheus"
STEP_S: dict[str, int] = {"hour": 3_600, "day": 86_400, "week": 604_800}
PROMQL_DURATION: dict[str, str] = {"hour": "1h", "day": "1d", "week": "1w"}
MAX_POINTS = 11_000  # Prometheus refuses a range query with more points than this per series
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LOOKBACK = re.compile(r"(\d+)\s*([hdw])")
_LOOKBACK_S = {"h": 3_600, "d": 86_400, "w": 604_800}
_MAX_BACKOFF_S = 60.0


# --- configuration ---------------------------------------------------------------------------

def _env_name(value: str | None, what: str) -> str | None:
    if value is not None and not _ENV.fullmatch(value):
        # Never echo the value: it is most likely the secret itself, pasted in the wrong place.
        raise ValueError(f"{what} must be the NAME of an environment variable (letters, digits, underscores), "
                         "not the secret")
    return value




class AuthSettings(Section):
    """Credentials for Prometheus (or the proxy in front of it). Secrets come from the environment or files."""

    bearer_token_env: str | None = Field(default=None, description="environment variable holding a bearer token")
    bearer_token_file: Path | None = Field(default=None, description="file whose first line is a bearer token")
    username: str | None = Field(default=None, description="basic auth user (not a secret)")
    password_env: str | None = Field(default=None, description="environment variable holding the basic auth password")
    password_file: Path | None = Field(default=None, description="file whose first line is the basic auth password")

    @field_validator("bearer_token_file", "password_file", mode="before")
    @classmethod
    def _a_path(cls, v: Any) -> Any:
        # Checked before it becomes a Path (which would fold "https://" into "https:/"); never echoed.
        if isinstance(v, str) and ("://" in v or "\n" in v):
            raise ValueError("a *_file setting must be the PATH of a file holding the secret, not the secret")
        return v

    @model_validator(mode="after")
    def _one_scheme(self) -> AuthSettings:
        _env_name(self.bearer_token_env, "bearer_token_env")
        _env_name(self.password_env, "password_env")
        if self.bearer_token_env and self.bearer_token_file:
            raise ValueError("give bearer_token_env or bearer_token_file, not both")
        if self.password_env and self.password_file:
            raise ValueError("give password_env or password_file, not both")
        bearer = bool(self.bearer_token_env or self.bearer_token_file)
        password = bool(self.password_env or self.password_file)
        if bearer and (self.username or password):
            raise ValueError("use a bearer token or basic auth (username + password), not both")
        if bool(self.username) != password:
            raise ValueError("basic auth needs username and one of password_env or password_file")
        return self

    def describe(self) -> str:
        """Where the credentials come from, for messages (never the secret)."""
        if self.bearer_token_env:
            return f"the bearer token in ${self.bearer_token_env}"
        if self.bearer_token_file:
            return f"the bearer token in {self.bearer_token_file}"
        if self.username:
            where = f"${self.password_env}" if self.password_env else str(self.password_file)
            return f"basic auth as {self.username!r} with the password in {where}"
        return "no credentials (none configured under prometheus.auth)"

    def resolve(self) -> tuple[dict[str, str], tuple[str, str] | None]:
        """The request headers and basic-auth pair, read now; an unusable source is an :class:`InputError`."""
        if self.bearer_token_env or self.bearer_token_file:
            return {"Authorization": f"Bearer {_secret(self.bearer_token_env, self.bearer_token_file, 'bearer token')}"}, None
        if self.username:
            return {}, (self.username, _secret(self.password_env, self.password_file, "password"))
        return {}, None


def _secret(env: str | None, path: Path | None, what: str) -> str:
    if env:
        value = os.environ.get(env, "").strip()
        if not value:
            raise InputError(f"prometheus.auth: the environment variable {env} (the {what}) is not set or empty")
        where = f"${env}"
    else:
        assert path is not None
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"prometheus.auth: cannot read the {what} file {str(path)!r}: "
                             f"{getattr(exc, 'strerror', None) or type(exc).__name__}") from None
        value = lines[0].strip() if lines else ""
        if not value:
            raise InputError(f"prometheus.auth: the {what} file {str(path)!r} is empty")
        where = str(path)
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InputError(f"prometheus.auth: the {what} in {where} contains control characters")
    return value


def lookback_seconds(text: str) -> int:
    """``"90d"``, ``"12w"``, ``"36h"`` as seconds."""
    m = _LOOKBACK.fullmatch(str(text).strip())
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"lookback {text!r} is not a duration; use a number and h, d or w (e.g. 90d)")
    return int(m.group(1)) * _LOOKBACK_S[m.group(2)]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class QuerySettings(Section):
    """One PromQL expression read into one of our metrics."""

    metric: str = Field(description="our metric name, snake_case with a unit suffix (build_duration_seconds)")
    expr: str = Field(description="PromQL; $bucket becomes the bucket's length (1h, 1d, 1w)")
    scope_label: str | tuple[str, ...] | None = Field(
        default=None, description="label(s) whose value(s) become the scope; several are joined with '/'")
    scope: str | None = Field(default=None, description="a fixed scope for every row (the expression must return one series)")
    bucket: Literal["hour", "day", "week"] = "day"
    since: datetime | None = Field(default=None, description="first run reads from here (UTC); default: now - lookback")
    lookback: str | None = Field(default=None, description="first run reads this far back (90d, 12w); default: the section's")

    @field_validator("metric")
    @classmethod
    def _snake(cls, v: str) -> str:
        if not _NAME.fullmatch(v):
            raise ValueError(f"metric {v!r} must be snake_case (lower-case letters, digits, underscores), "
                             "with a unit suffix where it has one (build_duration_seconds)")
        return v

    @field_validator("scope_label", mode="before")
    @classmethod
    def _labels(cls, v: Any) -> Any:
        if isinstance(v, list):
            v = tuple(v)
        if isinstance(v, tuple) and len(v) == 1:
            v = v[0]
        for label in (v if isinstance(v, tuple) else (v,) if v is not None else ()):
            if not isinstance(label, str) or not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", label):
                raise ValueError(f"scope_label {label!r} is not a Prometheus label name")
        return v

    @field_validator("since", mode="after")
    @classmethod
    def _since_utc(cls, v: datetime | None) -> datetime | None:
        return _utc(v)

    @model_validator(mode="after")
    def _check(self) -> QuerySettings:
        if not self.expr.strip():
            raise ValueError(f"query {self.metric!r}: expr is empty")
        if (self.scope_label is None) == (self.scope is None):
            raise ValueError(f"query {self.metric!r} needs exactly one of scope_label (labels that become the scope) "
                             "or scope (one fixed scope)")
        if self.scope is not None and not self.scope.strip():
            raise ValueError(f"query {self.metric!r}: scope is empty")
        if self.lookback is not None:
            lookback_seconds(self.lookback)
        return self

    @property
    def labels(self) -> tuple[str, ...]:
        if self.scope_label is None:
            return ()
        return self.scope_label if isinstance(self.scope_label, tuple) else (self.scope_label,)

    @property
    def promql(self) -> str:
        """The expression as sent: ``$bucket`` replaced by the bucket's PromQL duration."""
        return self.expr.strip().replace("$bucket", PROMQL_DURATION[self.bucket])


class PrometheusSettings(Section):
    """The ``prometheus:`` section: one server and the queries read from it."""

    url: str | None = Field(default=None, description="base URL of Prometheus (or a compatible API), without /api/v1")
    auth: AuthSettings = AuthSettings()
    tls_verify: bool = True
    ca_file: Path | None = Field(default=None, description="PEM bundle to verify the server's certificate with")
    timeout_s: float = Field(default=30.0, gt=0, le=3600, description="per request; also the query's timeout on the server")
    retries: int = Field(default=3, ge=0, le=10, description="retries on 429, 5xx and timeouts, the first try not counted")
    backoff_s: float = Field(default=1.0, ge=0, le=60, description="first retry delay; doubles each retry")
    max_retry_after_s: float = Field(default=60.0, ge=0, le=3600, description="cap on a server's Retry-After")
    max_points: int = Field(default=MAX_POINTS, ge=1, le=MAX_POINTS, description="points per series per request")
    lookback: str = Field(default="90d", description="how far back from until (or now) a query's first run reads")
    until: datetime | None = Field(default=None, description="read buckets that end by then instead of by now (UTC)")
    queries: tuple[QuerySettings, ...] = ()

    @property
    def configured(self) -> bool:
        return bool(self.queries)

    @field_validator("lookback")
    @classmethod
    def _lookback(cls, v: str) -> str:
        lookback_seconds(v)
        return v

    @field_validator("until", mode="after")
    @classmethod
    def _until_utc(cls, v: datetime | None) -> datetime | None:
        return _utc(v)

    @model_validator(mode="after")
    def _check(self) -> PrometheusSettings:
        if self.url is not None:
            parts = urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("url must be an http:// or https:// address of the Prometheus server")
            if parts.username or parts.password:
                raise ValueError("url must not hold credentials; use auth (bearer_token_env, username + password_env)")
            if parts.query or parts.fragment:
                raise ValueError("url must be the server's base address, without ?query or #fragment")
        if self.queries and not self.url:
            raise ValueError("prometheus queries need url (the server's base address)")
        if self.ca_file is not None and not self.tls_verify:
            raise ValueError("ca_file is set but tls_verify is false: the CA file would be ignored")
        metrics = [q.metric for q in self.queries]
        dup = sorted({m for m in metrics if metrics.count(m) > 1})
        if dup:
            raise ValueError(f"several queries fill the metric(s) {dup}; give each query its own metric "
                             "(combine sources in PromQL with `or` if they are one metric)")
        return self

    @property
    def base_url(self) -> str:
        return (self.url or "").rstrip("/")


# --- reading -----------------------------------------------------------------------------------

class QueryError(Exception):
    """One query failed; ``str`` is its one-line explanation. ``server_down``: the next ones would fail too."""

    def __init__(self, message: str, server_down: bool = False) -> None:
        super().__init__(message)
        self.server_down = server_down


@dataclass(frozen=True)
class Plan:
    """The evaluation times of one query's run: ``count`` buckets from ``first`` on, ``step`` apart."""

    first: int  # start (Unix seconds) of the first bucket read
    count: int
    step: int
    full_read: bool

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
    end = int(settings.until.timestamp()) if settings.until else now
    last = int(bucket_of(end, q.bucket)) - step  # the last bucket that has ended by `end`
    if saved and saved.get("fingerprint") == fingerprint(q, settings) and saved.get("last_bucket"):
        first, full = int(observations.parse_time(saved["last_bucket"]).timestamp()), False
    else:
        since = int(q.since.timestamp()) if q.since else end - lookback_seconds(q.lookback or settings.lookback)
        first, full = int(bucket_of(since, q.bucket)), True
    return Plan(first, max(0, (last - first) // step + 1), step, full)


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%MZ")


@dataclass
class Client:
    """prometheus-api-client's ``PrometheusConnect`` with our retries, and the last HTTP response kept."""

    settings: PrometheusSettings
    connect: Any = None
    last: Any = None  # the last requests.Response, for its status and Prometheus's JSON error
    requests_made: int = 0
    retried: int = 0
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        import requests
        from prometheus_api_client import PrometheusConnect
        from urllib3.util.retry import Retry

        s = self.settings
        headers, auth = s.auth.resolve()
        session = requests.Session()
        session.verify = str(s.ca_file) if s.ca_file else s.tls_verify
        session.hooks["response"].append(self._keep)
        if not s.tls_verify:
            self.notes.append(f"TLS certificates of {s.base_url} are not verified (tls_verify: false)")
        # The library's own urllib3 retries are off (total=0): a 503 is returned to us with its body (the
        # library's default Retry would retry it blind and then raise RetryError without Prometheus's message),
        # and we decide what is worth retrying.
        self.connect = PrometheusConnect(s.base_url, headers=headers or None, auth=auth, session=session,
                                         retry=Retry(total=0, read=False, redirect=False, raise_on_status=False),
                                         timeout=s.timeout_s)

    def _keep(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        self.last = response
        return response

    def close(self) -> None:
        self.connect.close()

    def range(self, q: QuerySettings, start: int, end: int, step: int) -> list[dict[str, Any]]:
        """One ``query_range`` request, retried on 429, 5xx and timeouts; raises :class:`QueryError`."""
        import requests
        from prometheus_api_client import PrometheusApiClientException

        s = self.settings
        # Prometheus gets a little less time than we wait, so a slow query ends in its own "timed out" answer;
        # it caps the value at its --query.timeout.
        params = {"timeout": f"{s.timeout_s * 0.9:g}"}
        attempt = 0
        while True:
            self.last = None
            self.requests_made += 1
            try:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="Unverified HTTPS request")
                    result = self.connect.custom_query_range(
                        q.promql, datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC),
                        str(step), params=params)
                if not isinstance(result, list):
                    raise QueryError(f"{s.base_url} answered with JSON that is not a Prometheus range result", True)
                return result
            except PrometheusApiClientException:
                status, etype, emsg, retry_after = self._error_of_last()
                retry = status in _RETRY_STATUS and etype != "timeout"
                message, down = self._http_failure(q, status, etype, emsg, start, end, attempt)
            except (requests.exceptions.JSONDecodeError, KeyError, TypeError):  # a 200 that is not Prometheus's JSON
                kind = self.last.headers.get("Content-Type", "?") if self.last is not None else "?"
                raise QueryError(f"{s.base_url} answered with {kind}, not Prometheus's JSON: is url the Prometheus "
                                 "server (not a login page or a UI in front of it)?", server_down=True) from None
            except requests.exceptions.ConnectTimeout as exc:  # nothing answers (a firewall drops the packets)
                retry, retry_after, down = True, None, True
                message = self._connection_failure(exc) + (f" (after {attempt} retries)" if attempt else "")
            except requests.exceptions.Timeout:
                retry, retry_after, down = True, None, False
                message = self._timeout_failure(attempt)
            except requests.exceptions.RequestException as exc:
                raise QueryError(self._connection_failure(exc), server_down=True) from None
            if not retry or attempt >= s.retries:
                raise QueryError(message, down)
            delay = min(s.backoff_s * 2 ** attempt, _MAX_BACKOFF_S)
            if retry_after is not None:
                delay = max(delay, min(retry_after, s.max_retry_after_s))
            time.sleep(delay)
            attempt += 1
            self.retried += 1

    def _error_of_last(self) -> tuple[int, str, str, float | None]:
        r = self.last
        if r is None:
            return 0, "", "no response", None
        etype, emsg = "", ""
        kind = r.headers.get("Content-Type", "")
        try:
            body = r.json()
            etype, emsg = str(body.get("errorType", "")), str(body.get("error", ""))
        except (ValueError, AttributeError):
            text = " ".join(r.text.split())
            # A proxy's plain-text reason is worth showing; an HTML error page is not: its status says it.
            emsg = text[:200] if kind.startswith("text/plain") and text else (r.reason or "")
            emsg = emsg.removeprefix(f"{r.status_code} ")  # "404 page not found"
        retry_after = None
        header = r.headers.get("Retry-After")
        if header:
            try:
                retry_after = max(0.0, float(header))
            except ValueError:
                retry_after = None
        return r.status_code, etype, emsg, retry_after

    def _http_failure(self, q: QuerySettings, status: int, etype: str, emsg: str, start: int, end: int,
                      attempt: int) -> tuple[str, bool]:
        s = self.settings
        said = f"HTTP {status}" + (f" {etype}: {emsg}" if etype else f" {emsg}" if emsg else "")
        tries = f" after {attempt} retries" if attempt else ""
        # A query that runs out of time can also come back as 422 "context deadline exceeded", depending
        # on where the deadline strikes: that is a timeout, not a bad query.
        timed_out = etype == "timeout" or "deadline exceeded" in emsg or "timed out" in emsg
        if status in (400, 422) and not timed_out:
            return f"Prometheus rejected the query ({said}); the query was: {_oneline(q.promql)}", False
        if timed_out:
            return (f"the query timed out on the server ({said}){tries} reading {_iso(start)}..{_iso(end)}; "
                    f"use a coarser bucket (now {q.bucket}), lower max_points (now {s.max_points}) to split the range "
                    "into smaller requests, or a cheaper expression (a recording rule)"), False
        if status == 503:
            return (f"Prometheus was unavailable ({said}){tries} reading {_iso(start)}..{_iso(end)}; if it is "
                    f"overloaded rather than restarting, use a coarser bucket (now {q.bucket}) or lower max_points "
                    f"(now {s.max_points}) to split the range into smaller requests"), False
        if status in (401, 403):
            if not (s.auth.bearer_token_env or s.auth.bearer_token_file or s.auth.username):
                return f"Prometheus wants credentials ({said}) and none are configured: set prometheus.auth", False
            verb = "refused the credentials" if status == 401 else "denied access with the credentials"
            return f"Prometheus {verb} ({said}): {s.auth.describe()}", False
        if status == 429:
            return f"Prometheus kept rate-limiting ({said}){tries}; run the collection less often or raise retries", False
        if status == 404:
            return (f"no Prometheus query API at {s.base_url}/api/v1/query_range ({said}); url must be the server's "
                    "base address (without /api/v1)"), True
        return f"Prometheus answered {said}{tries}", False

    def _timeout_failure(self, attempt: int) -> str:
        s = self.settings
        tries = f" (after {attempt} retries)" if attempt else ""
        return (f"no answer from {s.base_url} within {s.timeout_s:g} s{tries}; raise timeout_s, lower max_points "
                "(smaller requests) or use a coarser bucket")

    def _connection_failure(self, exc: Exception) -> str:
        s = self.settings
        host = urlsplit(s.base_url).hostname
        chain = _causes(exc)
        names = {type(e).__name__ for e in chain}
        if "SSLError" in names or "SSLCertVerificationError" in names:
            ssl_err = next((e for e in chain if type(e).__name__ == "SSLCertVerificationError"), None)
            verify = getattr(ssl_err, "verify_message", None)
            reason = f"certificate verify failed: {verify}" if verify else _ssl_reason(exc)
            hint = ("set prometheus.ca_file to the CA bundle that signed its certificate"
                    if "certificate" in reason.lower() else "is the url's scheme (https://) right?")
            return f"TLS with {s.base_url} failed: {reason}; {hint}"
        if "NameResolutionError" in names or "gaierror" in names:
            return f"cannot reach Prometheus at {s.base_url}: the host name {host!r} does not resolve"
        if "ConnectionRefusedError" in names:
            return f"cannot reach Prometheus at {s.base_url}: connection refused (is it running, and is the port right?)"
        if "ConnectTimeoutError" in names or "ConnectTimeout" in names:
            return f"cannot reach Prometheus at {s.base_url}: no connection within {s.timeout_s:g} s"
        last = chain[-1]
        return f"cannot reach Prometheus at {s.base_url}: {type(last).__name__}: {_first_line(last)}"


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it, through requests' and urllib3's wrappers (``reason``, ``__context__``)."""
    out: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop(0)
        if e in out or len(out) > 20:
            continue
        out.append(e)
        for nxt in (getattr(e, "reason", None), e.__cause__, e.__context__,
                    *(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
    return out


def _ssl_reason(exc: BaseException) -> str:
    text = str(exc)
    m = re.search(r"\[SSL: [A-Z_]+\] ([^(]+)", text) or re.search(r"(certificate verify failed[^)'\"]*)", text)
    return m.group(1).strip() if m else _first_line(exc)


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [""])[0][:200]


def _oneline(text: str) -> str:
    return " ".join(text.split())


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
        for item in result:
            labels = {k: str(v) for k, v in (item.get("metric") or {}).items()}
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
            for t, v in item.get("values") or ():
                x = float(v)
                if not math.isfinite(x):
                    dropped += 1
                    continue
                ts.append(int(bucket_of(int(float(t)), q.bucket)))
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
                         f"({p.count} {q.bucket} bucket(s)){hint}; the query was: {_oneline(q.promql)}")
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

    client = Client(settings)  # an unusable credential source is an InputError: nothing can run
    now = int(time.time())
    frames, replaces, lines, notes, failures = [], [], [], list(client.notes), []
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
                lines.append(f"{q.metric}: nothing new (no {q.bucket} bucket has ended since {_iso(p.first)})")
                continue
            started = time.perf_counter()
            before, retried = client.requests_made, client.retried
            try:
                got = read_query(client, q, p, settings.max_points)
            except QueryError as exc:
                failures.append(f"{q.metric}: {exc}")
                if exc.server_down:
                    down = f"{settings.base_url} was unreachable for {q.metric}"
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
    return Collected(observations=table, replaces=tuple(replaces), state=new_state, lines=tuple(lines),
                     units=units, notes=tuple(notes), failures=tuple(failures))


COLLECTOR: Collector[PrometheusSettings] = Collector("prometheus", PrometheusSettings, collect)
