"""The ``prometheus:`` section of ``rca.yaml``: one server, how to reach it, and the queries read from it.

:class:`PrometheusSettings` holds the server's address, credentials whose secrets come from the
environment or a file (never from ``rca.yaml``, never in messages: :meth:`AuthSettings.resolve`
reads them when a run starts), TLS verification and CA file, the bounds every request keeps
(``timeout_s`` for the whole of one request, ``deadline_s`` for a request with its retries,
``max_response_mb`` for an answer's size, compressed and unpacked) and the retries; each
:class:`QuerySettings` names our metric, its PromQL, how labels become the scope and the bucket.
Reading rca.yaml's settings needs nothing heavy: pydantic only.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from collectors.base import Section
from collectors.observations import InputError

__all__ = ["MAX_POINTS", "PROMQL_DURATION", "STEP_S", "AuthSettings", "PrometheusSettings", "QuerySettings",
           "lookback_seconds"]

STEP_S: dict[str, int] = {"hour": 3_600, "day": 86_400, "week": 604_800}
PROMQL_DURATION: dict[str, str] = {"hour": "1h", "day": "1d", "week": "1w"}
MAX_POINTS = 11_000  # Prometheus refuses a range query with more points than this per series
MAX_BACKOFF_S = 60.0  # the longest wait between retries when the server does not say
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LOOKBACK = re.compile(r"(\d+)\s*([hdw])")
_LOOKBACK_S = {"h": 3_600, "d": 86_400, "w": 604_800}


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
    if not value.isascii():
        raise InputError(f"prometheus.auth: the {what} in {where} has characters an HTTP header cannot carry (non-ASCII)")
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
    timeout_s: float = Field(default=30.0, gt=0, le=3600, description="the whole of one request (connecting, sending, "
                             "the full answer); 90% of it is the query's timeout on the server")
    retries: int = Field(default=3, ge=0, le=10, description="retries on 429, 5xx and timeouts, the first try not counted")
    backoff_s: float = Field(default=1.0, ge=0, le=60, description="first retry delay; doubles each retry")
    max_retry_after_s: float = Field(default=60.0, ge=0, le=3600,
                                     description="a server asking for a longer wait (Retry-After) ends the retries")
    deadline_s: float | None = Field(default=None, gt=0, le=86_400, description="a request with its retries and waits "
                                     "together; default: no bound but theirs ((retries + 1) x timeout_s and the waits)")
    max_response_mb: float = Field(default=64.0, gt=0, le=4096, description="cap on one answer, compressed and unpacked "
                                   "(MB of 2**20 bytes)")
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

