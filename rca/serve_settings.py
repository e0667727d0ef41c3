"""The ``serve:`` section of ``rca.yaml`` (the HTTP API's limits and tokens), and how a job's crontab is read.

API tokens are secrets: the section names the environment variables or files that hold them,
never a token. A crontab is read as crontab means it (:func:`cron_fields`: day 0 and 7 are
Sunday, where APScheduler counts from Monday) and checked when the file is read.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron's numbering: 0 (and 7) is Sunday


def _weekdays(field: str) -> str:
    """A crontab day-of-week field in names: APScheduler 3 counts 0 as Monday, crontab as Sunday, so
    numbers (single, ranges, steps, ``*/n``) are spelled out as the days crontab means; names stay."""
    out = []
    for part in field.split(","):
        m = re.fullmatch(r"(\*|\d+)(?:-(\d+))?(?:/(\d+))?", part)
        if m is None or part == "*":
            out.append(part)
            continue
        first, last, step = m.group(1), m.group(2), int(m.group(3) or 1)
        lo = 0 if first == "*" else int(first)
        hi = 6 if first == "*" else int(last) if last is not None else (7 if m.group(3) else lo)
        if not (0 <= lo <= 7 and 0 <= hi <= 7 and lo <= hi and step >= 1):
            raise ValueError(f"day of week {part!r} is out of range (0-7, Sunday is 0 or 7)")
        out.extend(dict.fromkeys(_WEEKDAYS[d % 7] for d in range(lo, hi + 1, step)))
    return ",".join(dict.fromkeys(out))


def cron_fields(expr: str) -> dict[str, str]:
    """A crontab expression as APScheduler ``CronTrigger`` fields, checked.

    Five fields (minute hour day month day-of-week), or six with seconds first
    (``*/5 * * * * *``: every five seconds). Day-of-week numbers mean what crontab means
    (0 or 7 is Sunday); names (``mon-fri``) work too. Raises ``ValueError`` with one line.
    """
    parts = str(expr).split()
    if len(parts) not in (5, 6):
        raise ValueError(f"cron {expr!r} needs 5 fields (minute hour day month weekday) or 6 (seconds first), "
                         f"not {len(parts)}")
    names = ("minute", "hour", "day", "month", "day_of_week")
    fields = dict(zip(("second", *names) if len(parts) == 6 else names, parts, strict=True))
    from apscheduler.triggers.cron import CronTrigger  # only when a schedule is configured

    try:
        fields["day_of_week"] = _weekdays(fields["day_of_week"])
        CronTrigger(timezone="UTC", **fields)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"cron {expr!r}: {str(exc).splitlines()[0]}") from None
    return fields


class ServeSettings(_Section):
    """``rca serve``: the HTTP API and the scheduler. API tokens are secrets: the NAMES of environment
    variables (``token_env``) or files (``token_files``, one token a line) that hold them, never a token."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    auth: bool = Field(default=True, description="false: no bearer token asked (only behind a proxy that checks one)")
    token_env: list[str] = Field(default=["RCA_API_TOKEN"], description="environment variables holding API tokens")
    token_files: list[Path] = Field(default=[], description="files holding API tokens, one a line")
    metrics_auth: bool = Field(default=True, description="false: /metrics answers without a token")
    max_body_bytes: int = Field(default=65_536, ge=1_024, le=64 * 1024 * 1024, description="larger bodies: 413")
    workers: int = Field(default=2, ge=1, le=64, description="questions answered at once")
    queue: int = Field(default=8, ge=0, le=10_000, description="questions waiting beyond the workers; then 429")
    retry_after_s: int = Field(default=5, ge=1, le=3600, description="Retry-After of a 429 or 503")
    shutdown_grace_s: float = Field(default=20.0, ge=0, le=3600, description="SIGTERM: how long running work may finish")
    log_format: Literal["auto", "json", "text"] = Field(default="auto", description="auto: JSON off a terminal")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    max_connections: int = Field(default=500, ge=4, le=100_000, description="client connections held open at once; "
                                 "beyond, the longest-idle one is closed (or the new one gets 503)")
    header_timeout_s: float = Field(default=10.0, gt=0, le=600, description="a request's line and headers must "
                                    "arrive within this, or the connection is closed")
    body_timeout_s: float = Field(default=30.0, gt=0, le=3600, description="a request's body must arrive within "
                                  "this, or 408")
    keep_alive_s: float = Field(default=5.0, gt=0, le=600, description="an idle connection is closed after this")
    max_graph_bytes: int = Field(default=16_384, ge=256, le=1024 * 1024, description="a graph sent in a request "
                                 "(YAML/DOT text or an object) may be at most this large; larger: 400")

    @field_validator("token_env")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        for name in v:
            if not _ENV_NAME.fullmatch(name):  # never echoed: it may be a token pasted in the wrong place
                raise ValueError("token_env must list NAMES of environment variables (letters, digits, underscores), "
                                 "not tokens")
        return v
