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
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from core.errors import printable
from core.secrets import Redactor
from rca.config import api_tokens, secrets_of  # which secrets the configuration points at is its own to say

__all__ = ["JsonFormatter", "Occurrences", "Redactor", "ServiceMetrics", "TextFormatter", "api_tokens",
           "count_collectors", "current_context", "log_context", "secrets_of", "setup_logging"]

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
        # JSON escapes C0 controls; C1 ones (a lone \x9b is a terminal's CSI) are escaped here, so no
        # field written from outside text drives the terminal of whoever tails the log.
        return self.redact(json.dumps(out, default=str, ensure_ascii=False)).translate(_C1)


_C1 = {c: f"\\u{c:04x}" for c in range(0x7F, 0xA0)}


class TextFormatter(logging.Formatter):
    """``time level logger [ids] message`` for a person at a terminal.

    The message is one printable line (:func:`core.errors.printable`): a request path or an error
    text holding a newline or an escape sequence can neither forge a line nor drive the terminal. A
    traceback (our own bugs only) keeps its lines, each indented and stripped of control characters.
    """

    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s%(ids)s %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        # Not logging.Formatter.format: it would reuse a traceback another handler cached raw on the record.
        ctx = getattr(record, "rca_context", None) or _context.get()
        record.ids = (" [" + " ".join(f"{k}={printable(v, 100)}" for k, v in ctx.items()) + "]") if ctx else ""
        record.message = printable(record.getMessage(), 4000)
        record.asctime = self.formatTime(record, self.datefmt)
        lines = [self.formatMessage(record)]
        if record.exc_info:
            lines += ("    | " + printable(x, 4000) for x in self.formatException(record.exc_info).splitlines())
        if record.stack_info:
            lines += ("    | " + printable(x, 4000) for x in record.stack_info.splitlines())
        return self.redact("\n".join(lines))


class Occurrences:
    """A condition that may happen thousands of times a second (a client flooding the service): logged
    once when first seen, then at most once per ``every_s`` with how many happened since, never with a
    traceback. ``Occurrences(log, WARNING, "closed %d connection(s) ...")``; call it each time."""

    def __init__(self, logger: logging.Logger, level: int, template: str, every_s: float = 60.0) -> None:
        self.logger, self.level, self.template, self.every_s = logger, level, template, every_s
        self.total = 0
        self._unlogged = 0
        self._last: float | None = None
        self._lock = threading.Lock()

    def __call__(self, n: int = 1) -> None:
        with self._lock:
            self.total += n
            self._unlogged += n
            now = time.monotonic()
            if self._last is not None and now - self._last < self.every_s:
                return
            count, self._unlogged, self._last = self._unlogged, 0, now
        self.logger.log(self.level, self.template, count, self.total)

    def flush(self) -> None:
        """Log what happened since the last line, if anything (at shutdown)."""
        with self._lock:
            count, self._unlogged = self._unlogged, 0
        if count:
            self.logger.log(self.level, self.template, count, self.total)


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
