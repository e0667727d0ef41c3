"""What the service tells its operators: structured logs and its own Prometheus metrics.

Logs: one JSON object a line when stderr is not a terminal (``serve.log_format: auto``), else
readable text; every line carries the ids of what it belongs to (``request_id`` for an HTTP
request, ``run_id`` and ``job`` for a scheduled run, ``question_id`` for a queued question), set
with :func:`log_context` and carried by a context variable, so a worker thread's lines name the
question it answers. Secrets never reach a line: every line goes through the ground floor's
:class:`core.secrets.Redactor`, told the service's secrets (API tokens, webhook URLs, tokens and
passwords of sources, the store's password), which also masks bearer tokens, URL passwords and
password-like query values it was not told about.

Metrics (prometheus-client, in the service's own registry, served by ``GET /metrics``):
scheduled runs by job and outcome, collector errors, questions by kind and outcome and their
durations, the queue's depth and capacity, busy workers, requests refused (and why), HTTP
answers by route and status, and fitted models kept in memory.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.secrets import Redactor

if TYPE_CHECKING:
    from rca.config import Settings

_context: ContextVar[dict[str, str]] = ContextVar("rca_log_context", default={})  # noqa: B039 - never mutated


@contextmanager
def log_context(**fields: str) -> Iterator[None]:
    """Every log line written inside (in this thread or task) carries ``fields``."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> dict[str, str]:
    return dict(_context.get())


# --- secrets ---------------------------------------------------------------------------------

def _read_first_line(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").splitlines()[0].strip() or None
    except (OSError, UnicodeDecodeError, IndexError):
        return None


def api_tokens(settings: Settings, environ: dict[str, str] | None = None) -> list[str]:
    """The API tokens the service accepts: the values of ``serve.token_env`` and the lines of ``serve.token_files``."""
    env = os.environ if environ is None else environ
    tokens = [env[name].strip() for name in settings.serve.token_env if env.get(name, "").strip()]
    for path in settings.serve.token_files:
        try:
            tokens.extend(line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip())
        except (OSError, UnicodeDecodeError):
            continue
    return list(dict.fromkeys(tokens))


def secrets_of(settings: Settings, environ: dict[str, str] | None = None) -> dict[str, str]:
    """Every secret the configuration points at, mapped to what a log line shows instead."""
    from core.secrets import mask_url, mask_webhook, url_secrets, webhook_secrets

    env = os.environ if environ is None else environ
    out: dict[str, str] = {t: "***" for t in api_tokens(settings, env)}
    for ch in settings.notify.channels:
        url = env.get(ch.url_env, "") if ch.url_env else _read_first_line(Path(ch.url_file)) if ch.url_file else None
        if url:
            out[url.strip()] = mask_webhook(url.strip())
            out.update(dict.fromkeys(webhook_secrets(url.strip()), "***"))
    auth = settings.prometheus.auth
    for name in ("bearer_token_env", "password_env"):
        var = getattr(auth, name, None)
        if var and env.get(var):
            out[env[var]] = "***"
    for name in ("bearer_token_file", "password_file"):
        path = getattr(auth, name, None)
        value = _read_first_line(Path(path)) if path else None
        if value:
            out[value] = "***"
    url = settings.store_url
    if mask_url(url) != url:
        out[url] = mask_url(url)
        out.update(dict.fromkeys(url_secrets(url), "***"))
    return out


# --- log lines -------------------------------------------------------------------------------

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the context's ids and any ``extra`` fields."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update(getattr(record, "rca_context", None) or _context.get())
        out.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and k != "rca_context"})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(out, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """``time level logger [ids] message`` for a person at a terminal."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s%(ids)s %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        ctx = getattr(record, "rca_context", None) or _context.get()
        record.ids = (" [" + " ".join(f"{k}={v}" for k, v in ctx.items()) + "]") if ctx else ""
        return self.redact(super().format(record))


class _Context(logging.Filter):
    """Captures the context in the thread that logs (the handler may format elsewhere)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.rca_context = _context.get()
        return True


_HANDLER_NAME = "rca-serve"


def setup_logging(fmt: str, level: str, redact: Redactor, stream: Any = None) -> logging.Handler:
    """Send every log line (ours, uvicorn's, APScheduler's) through one handler on stderr."""
    stream = stream or sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not (hasattr(stream, "isatty") and stream.isatty()))
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter(redact) if as_json else TextFormatter(redact))
    handler.addFilter(_Context())
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "apscheduler"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    # APScheduler says "Running job ..." at INFO for every run; our own lines say it with the run's id.
    logging.getLogger("apscheduler").setLevel(max(logging.getLevelName(level), logging.WARNING))
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return handler


# --- metrics ---------------------------------------------------------------------------------

DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class ServiceMetrics:
    """The service's own figures, in a registry of its own (nothing of the process-wide default)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

        disable_created_metrics()  # no *_created series: nothing here needs them, and they double the lines
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.job_runs = Counter("rca_job_runs", "Scheduled job runs that ended, by job and status (done, failed)",
                                ["job", "status"], registry=r)
        self.job_seconds = Histogram("rca_job_duration_seconds", "How long scheduled job runs took", ["job"],
                                     buckets=DURATION_BUCKETS, registry=r)
        self.job_skipped = Counter("rca_job_runs_skipped", "Runs not started: missed beyond the grace time, or the "
                                   "previous run still going", ["job", "reason"], registry=r)
        self.collector_errors = Counter("rca_collector_errors", "Collectors that failed in a scheduled run",
                                        ["collector"], registry=r)
        self.questions = Counter("rca_investigations", "Questions answered through the API, by kind and status",
                                 ["kind", "status"], registry=r)
        self.question_seconds = Histogram("rca_investigation_duration_seconds",
                                          "Time to answer a question (investigation, effect, ...) once a worker took it",
                                          ["kind"], buckets=DURATION_BUCKETS, registry=r)
        self.queue_wait = Histogram("rca_queue_wait_seconds", "Time questions waited for a worker",
                                    buckets=DURATION_BUCKETS, registry=r)
        self.rejected = Counter("rca_http_rejected", "Requests refused before any work, by reason", ["reason"],
                                registry=r)
        self.requests = Counter("rca_http_requests", "HTTP answers by method, route and status",
                                ["method", "route", "status"], registry=r)
        self.queue_depth = Gauge("rca_queue_depth", "Questions waiting for a worker", registry=r)
        self.queue_capacity = Gauge("rca_queue_capacity", "Questions that may wait before new ones get 429",
                                    registry=r)
        self.workers = Gauge("rca_workers", "Worker threads answering questions", registry=r)
        self.workers_busy = Gauge("rca_workers_busy", "Workers answering a question now", registry=r)
        self.models_cached = Gauge("rca_models_cached", "Fitted models kept in memory", registry=r)
        self.draining = Gauge("rca_draining", "1 once the service has been asked to stop (SIGTERM)", registry=r)

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def count_collectors(metrics: ServiceMetrics, names: Iterable[str]) -> None:
    for name in names:
        metrics.collector_errors.labels(collector=name).inc()
