"""The HTTP API of ``rca serve`` (FastAPI), and the service around it: store, scheduler, workers.

A thin face over :mod:`rca.pipeline`: a question (``POST /investigations``, ``/effects``,
``/recommendations``) is checked and recorded ``queued`` by the pipeline, answered ``202`` with
its id at once, and answered later by a bounded pool of worker threads (``serve.workers``
answering, ``serve.queue`` waiting; beyond that ``429`` with ``Retry-After``, never a hang).
Nothing slow runs on the event loop: store reads go to the thread pool, health checks touch
nothing slow. ``GET /investigations/{id}`` gives the status and JSON result, ``.../report``
the HTML; ``GET /runs`` the scheduled runs; ``GET /reports/{name}`` the files under
``reports.out_dir``; ``GET /healthz`` (alive), ``GET /readyz`` (store answers, scheduler
running, not stopping), ``GET /metrics`` (Prometheus exposition), ``/openapi.json``.

Every route but the two health checks wants ``Authorization: Bearer <token>`` with a token
from the environment (``serve.token_env``, ``serve.token_files``), compared in constant time.
Bodies above ``serve.max_body_bytes`` get ``413``. Errors are ``{"error": "one line"}``, scrubbed
of secrets: bad input ``400``, a store or server that is down ``503`` with ``Retry-After``, our own
bug ``500`` (its traceback logged once), never a traceback in an answer.

Clients cannot hold the service: at most ``serve.max_connections`` connections are open at once
(the longest-idle one gives way to a new one), a request's head must arrive within
``serve.header_timeout_s`` and its body within ``serve.body_timeout_s``, and what a flood of
them causes is logged as a few rate-limited lines (:class:`ConnectionGuard`).

SIGTERM: the service stops taking work (``503`` for new questions, ``/readyz`` fails), lets
the running work finish for up to ``serve.shutdown_grace_s``, marks what is left
``interrupted`` in the store, closes the store and exits. A second SIGTERM or SIGINT stops at once.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import queue
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import printable
from rca.config import Settings, scrubber
from rca.pipeline.errors import BadInput, PipelineError, Unavailable
from rca.telemetry import Occurrences, Redactor, ServiceMetrics, api_tokens, log_context, secrets_of, setup_logging

log = logging.getLogger("rca.api")
access = logging.getLogger("rca.access")

HEALTH_PATHS = ("/healthz", "/readyz")
Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


# --- the workers -------------------------------------------------------------------------------


class WorkerPool:
    """``workers`` daemon threads taking question ids from a queue; at most ``workers + waiting`` at once.

    :meth:`reserve` takes a place without blocking (False: full, the caller answers 429); a place is
    given back when its question is answered, or by :meth:`release` if it is never submitted.
    """

    def __init__(self, workers: int, waiting: int, run: Callable[[str, float], None]) -> None:
        self.workers, self.capacity = workers, waiting
        self._run = run
        self._slots = threading.BoundedSemaphore(workers + waiting)
        self._queue: queue.Queue[tuple[str, float] | None] = queue.Queue()
        self._busy = 0
        self._lock = threading.Condition()
        self._threads = [threading.Thread(target=self._loop, name=f"rca-worker-{i}", daemon=True)
                         for i in range(workers)]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def reserve(self) -> bool:
        return self._slots.acquire(blocking=False)

    def release(self) -> None:
        self._slots.release()

    def submit(self, id_: str) -> None:
        """Queue ``id_`` (after a successful :meth:`reserve`)."""
        with self._lock:
            self._queue.put((id_, time.monotonic()))

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    @property
    def busy(self) -> int:
        return self._busy

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until nothing runs or waits (True), or ``timeout_s`` passed (False)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._busy or self._queue.qsize():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(timeout=min(left, 0.1))
            return True

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put(None)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            with self._lock:
                self._busy += 1
            try:
                self._run(*item)
            except Exception:  # the runner records its own failures; this keeps the thread alive regardless
                log.exception("worker failed on %s", item[0])
            finally:
                with self._lock:
                    self._busy -= 1
                    self._lock.notify_all()
                self._slots.release()


# --- the service ---------------------------------------------------------------------------------


class Service:
    """Everything ``rca serve`` runs: the store, the scheduler, the workers and the figures about them."""

    def __init__(self, settings: Settings, *, environ: dict[str, str] | None = None, scheduler: bool = True) -> None:
        from rca.pipeline.runs import SharedModelCache

        self.settings = settings
        self.tokens = [t.encode() for t in api_tokens(settings, environ)]
        if settings.serve.auth and not self.tokens:
            names = ", ".join(f"${n}" for n in settings.serve.token_env) or "serve.token_env"
            raise BadInput(f"serve.auth is on but no API token is set: put one in {names} or in a file listed in "
                           "serve.token_files (or set serve.auth: false behind a proxy that checks tokens)")
        self.redact = Redactor(secrets_of(settings, environ))
        self.scrub = scrubber(settings, environ, limit=1000)  # outside text in an answer: secrets hidden, one line
        self.slow_bodies = Occurrences(log, logging.WARNING, "answered %d request(s) 408: the body did not arrive "
                                       f"within {settings.serve.body_timeout_s:g} s (serve.body_timeout_s) (%d in all)")
        self.metrics = ServiceMetrics()
        self.cache = SharedModelCache()
        self.pool = WorkerPool(settings.serve.workers, settings.serve.queue, self._answer)
        self.metrics.queue_depth.set_function(lambda: self.pool.waiting)
        self.metrics.workers_busy.set_function(lambda: self.pool.busy)
        self.metrics.queue_capacity.set(settings.serve.queue)
        self.metrics.workers.set(settings.serve.workers)
        self.with_scheduler = scheduler
        self.store = None
        self.scheduler = None
        self.draining = False
        self.started = False
        self._closed = False

    def start(self) -> None:
        from rca.pipeline.runs import recover
        from rca.scheduler import Scheduler
        from rca.store import Store

        self.store = Store(self.settings.store_url)
        self.store.use_wal()
        runs, questions = recover(self.store, "the service stopped before this finished (it was killed or crashed)")
        if runs or questions:
            log.warning("marked %d run(s) and %d question(s) left unfinished by a stopped service interrupted",
                        runs, questions)
        self.pool.start()
        if self.with_scheduler:
            self.scheduler = Scheduler(self.settings, self.store, self.metrics)
            self.scheduler.start()
        self.metrics.models_cached.set_function(
            lambda: len(self.cache) + (self.scheduler.models_cached() if self.scheduler else 0))
        self.started = True
        # The first question would pay for importing the engine and the report modules: pay it now, aside.
        threading.Thread(target=_warm_up, name="rca-warm-up", daemon=True).start()
        log.info("serving on http://%s:%d with %d worker(s), %d waiting place(s), %d job(s); store %s",
                 self.settings.serve.host, self.settings.serve.port, self.settings.serve.workers,
                 self.settings.serve.queue, len(self.settings.jobs), self.store.shown)

    def drain(self, grace_s: float) -> bool:
        """Stop taking work; let running work finish for up to ``grace_s``. True if all of it finished."""
        self.draining = True
        self.metrics.draining.set(1)
        deadline = time.monotonic() + grace_s
        log.info("stopping: no new work; waiting up to %.0f s for running work", grace_s)
        left = self.scheduler.stop(wait_s=grace_s) if self.scheduler else {}
        idle = self.pool.wait_idle(max(0.0, deadline - time.monotonic()))
        return idle and not left

    def busy(self) -> bool:
        return bool(self.pool.busy or self.pool.waiting or (self.scheduler and self.scheduler.busy()))

    def close(self) -> None:
        """Record what is still unfinished as interrupted and close the store (after :meth:`drain`)."""
        if self._closed or self.store is None:
            return
        self._closed = True
        self.draining = True
        if self.scheduler is not None:
            self.scheduler.stop(wait_s=0)
        unfinished = self.busy()
        self.pool.stop()
        if unfinished:
            runs, questions = self.store.interrupt_unfinished("the service stopped (SIGTERM) before this finished")
            log.warning("stopped with work unfinished: %d run(s), %d question(s) marked interrupted", runs, questions)
        self.store.close()
        log.info("stopped; store closed")

    def ready(self) -> tuple[bool, dict[str, Any]]:
        state: dict[str, Any] = {"store": "unknown", "scheduler": "off", "draining": self.draining}
        ok = self.started and not self.draining
        try:
            self.store.ping()
            state["store"] = "ok"
        except Exception as exc:
            state["store"] = self.scrub(str(exc))
            ok = False
        if self.with_scheduler:
            running = bool(self.scheduler and self.scheduler.running)
            state["scheduler"] = "running" if running else "stopped"
            ok = ok and running
        state["queue"] = {"waiting": self.pool.waiting, "busy": self.pool.busy,
                          "capacity": self.settings.serve.workers + self.settings.serve.queue}
        return ok, state

    def _answer(self, id_: str, queued_at: float) -> None:
        from rca.pipeline.runs import answer_question

        self.metrics.queue_wait.observe(time.monotonic() - queued_at)
        with log_context(question_id=id_):
            t0 = time.perf_counter()
            rec = answer_question(id_, self.settings, store=self.store, cache=self.cache)
            took = time.perf_counter() - t0
            self.metrics.questions.labels(kind=rec.kind, status=rec.status).inc()
            self.metrics.question_seconds.labels(kind=rec.kind).observe(took)
            level = logging.INFO if rec.status == "done" else logging.WARNING
            log.log(level, "%s %s %s in %.2f s%s", rec.kind, rec.target, rec.status, took,
                    f": {rec.error}" if rec.error else "")


def _warm_up() -> None:
    try:
        import rca.engine.investigation  # noqa: F401
        import reports.render  # noqa: F401
    except Exception:  # only a head start: the first question imports them itself
        log.debug("warm-up import failed", exc_info=True)


# --- the request bodies (these make the OpenAPI schema) ----------------------------------------

GraphField = Field(default=None, description="a shipped graph's name (delivery, git-quality) or a graph definition: "
                   "an object as in graphs/*.yaml, or YAML/DOT text; default delivery")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


ConfidenceField = Field(default=0.95, description="coverage of the intervals: a number between 0.5 and 1",
                        json_schema_extra={"minimum": 0.5, "exclusiveMaximum": 1})


def _confidence(value: float) -> float:
    # NaN fails every comparison, so pydantic's bounds would call it "not less than 1": say what it must be.
    if value != value or not 0.5 <= value < 1:
        raise ValueError(f"confidence must be a number between 0.5 and 1 (e.g. 0.95), not {value!r}")
    return value


class InvestigationBody(_Body):
    target: str = Field(description="the graph node to explain", examples=["bug_fix_commit_ratio"])
    scope: str = Field(description="the store's scope to read", examples=["acme/payments"])
    graph: str | dict[str, Any] | None = GraphField
    at: str | None = Field(default=None, description="anomaly: a time, START..END, or latest")
    baseline: str | None = Field(default=None, description="START..END: before (change) or the fit window (anomaly)")
    current: str | None = Field(default=None, description="START..END: the window that got worse")
    last: str | None = Field(default=None, description="e.g. '13 weeks': that span to the latest data vs the one before",
                             examples=["13 weeks"])


class EffectBody(_Body):
    treatment: str = Field(description="the node whose effect is asked (what you change)")
    outcome: str = Field(description="the node it acts on")
    graph: str | dict[str, Any] | None = GraphField
    scopes: list[str] = Field(default=[], description="scopes to read (pooled, or compared with by_scope); "
                              "default: every scope holding the graph's metrics")
    by_scope: bool = Field(default=False, description="one effect per scope (at least two scopes)")
    features: list[str] = Field(default=[], description="with by_scope: columns the effect may vary with")
    confidence: float = ConfidenceField
    simulations: int = Field(default=50, ge=2, le=1000, description="re-estimations per refutation check")
    bootstrap: int = Field(default=200, ge=2, le=5000, description="resamples for bootstrap intervals")
    refute: bool = True
    dml: bool = Field(default=True, description="also estimate by double machine learning with flexible learners, as a check")
    seed: int | None = Field(default=None, ge=0)

    _check_confidence = field_validator("confidence")(_confidence)


class RecommendationsBody(_Body):
    target: str = Field(description="the node to improve")
    scope: str = Field(description="the store's scope to read")
    graph: str | dict[str, Any] | None = GraphField
    levers: list[str] | None = Field(default=None, description="rank only these nodes; default every actionable one")
    confidence: float = ConfidenceField
    bootstrap: int = Field(default=100, ge=2, le=5000)
    seed: int | None = Field(default=None, ge=0)

    _check_confidence = field_validator("confidence")(_confidence)


class WhatIfBody(_Body):
    target: str = Field(description="the graph node to predict", examples=["bug_fix_commit_ratio"])
    scope: str = Field(description="the store's scope to read", examples=["acme/payments"])
    set: dict[str, float] = Field(min_length=1, max_length=20, description="node -> value to hold it at",
                                  examples=[{"line_coverage_ratio": 0.8}])
    graph: str | dict[str, Any] | None = GraphField
    window: str | None = Field(default=None, description="START..END: what it would have been over those rows")
    seed: int | None = Field(default=None, ge=0)


class Accepted(BaseModel):
    id: str
    kind: str
    status: Literal["queued"]
    url: str = Field(description="where to poll for the answer")
    report_url: str = Field(description="the HTML report, once done")


class ErrorBody(BaseModel):
    error: str = Field(description="one line: what is wrong and what to do")


# --- middleware (plain ASGI: nothing buffers a response or hides the route) ---------------------


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# Sent with every answer. The reports are self-contained HTML (inline styles, data: images, no script);
# this is the policy their own <meta> states, plus no framing, so a served report can do no more.
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
                                 b"form-action 'none'; frame-ancestors 'none'"),
]


class RequestContext:
    """Outermost: a request id (the client's ``X-Request-ID`` if sane, else new) on every log line and
    on the answer, the security headers, one access line per request, the answer counted by route and
    status, and our own bugs caught here: a 500 and one log line with the traceback (once)."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        status = {"code": 500, "started": False}
        t0 = time.perf_counter()

        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                message.setdefault("headers", [])
                present = {k.lower() for k, _ in message["headers"]}
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode()),
                                      *(h for h in SECURITY_HEADERS if h[0] not in present)]
            await send(message)

        with log_context(request_id=rid):
            try:
                await self.app(scope, receive, sending)
            except Exception as exc:
                log.error("internal error: %s: %s", type(exc).__name__, exc, exc_info=exc)
                if not status["started"]:
                    await _json(500, {"error": f"internal error; the service's log has the details ({rid})"})(
                        scope, receive, sending)
            finally:
                route = getattr(scope.get("route"), "path", None) or ("unmatched" if status["code"] == 404 else
                                                                      scope["path"] if scope["path"] in HEALTH_PATHS
                                                                      else "other")
                self.service.metrics.requests.labels(method=scope["method"], route=route,
                                                     status=str(status["code"])).inc()
                level = logging.DEBUG if scope["path"] in HEALTH_PATHS else logging.INFO
                shown = printable(scope["path"], 300)  # the client's text: one line, no escape codes, bounded
                access.log(level, "%s %s %d %.1f ms", scope["method"], shown, status["code"],
                           1000 * (time.perf_counter() - t0),
                           extra={"method": scope["method"], "path": shown, "status": status["code"]})


def authorized(service: Service, header: bytes | None) -> bool:
    """Whether ``Authorization: <header>`` carries one of the service's tokens (every token compared in
    constant time: no early exit to time)."""
    if header is None:
        return False
    scheme, _, token = header.partition(b" ")
    if scheme.lower() != b"bearer" or not token.strip():
        return False
    given = token.strip()
    ok = False
    for known in service.tokens:
        ok |= hmac.compare_digest(given, known)
    return ok


class BearerAuth:
    """``Authorization: Bearer <token>`` on every path but the health checks (and ``/metrics`` if so configured)."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app, self.service = app, service
        self.public = set(HEALTH_PATHS) | (set() if service.settings.serve.metrics_auth else {"/metrics"})

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http" or not self.service.settings.serve.auth or scope["path"] in self.public:
            return await self.app(scope, receive, send)
        header = dict(scope["headers"]).get(b"authorization")
        if not authorized(self.service, header):
            self.service.metrics.rejected.labels(reason="unauthorized").inc()
            why = "missing bearer token" if header is None else "invalid bearer token"
            resp = _json(401, {"error": f"{why}: send Authorization: Bearer <token>"},
                         {"WWW-Authenticate": 'Bearer realm="whydunnit"'})
            return await resp(scope, receive, send)
        return await self.app(scope, receive, send)


class BodyLimit:
    """Refuse bodies above ``limit`` bytes with 413, by their Content-Length or, without one, as they arrive;
    a body that does not arrive whole within ``serve.body_timeout_s`` gets 408 and the connection is closed."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app, self.service = app, service
        self.limit = service.settings.serve.max_body_bytes
        self.timeout_s = service.settings.serve.body_timeout_s

    async def _too_large(self, scope: Scope, receive, send) -> None:
        self.service.metrics.rejected.labels(reason="too_large").inc()
        resp = _json(413, {"error": f"request body larger than {self.limit} bytes (serve.max_body_bytes)"},
                     {"Connection": "close"})
        await resp(scope, receive, send)

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            try:
                if int(length) > self.limit:
                    return await self._too_large(scope, receive, send)
            except ValueError:
                return await _json(400, {"error": "Content-Length is not a number"})(scope, receive, send)
        chunks, size = [], 0
        try:
            async with asyncio.timeout(self.timeout_s):
                while size <= self.limit:  # bodies here are small JSON: read it whole, counting, then hand it on
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            self.service.metrics.rejected.labels(reason="too_slow").inc()
            self.service.slow_bodies()
            return await _json(408, {"error": f"the request body did not arrive within {self.timeout_s:g} s "
                                              "(serve.body_timeout_s)"}, {"Connection": "close"})(scope, receive, send)
        if size > self.limit:
            return await self._too_large(scope, receive, send)
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


# --- connections -------------------------------------------------------------------------------


class ConnectionGuard:
    """What clients may hold open: at most ``limit`` connections, each sending its request's line and
    headers within ``header_timeout_s`` of connecting (or of its previous answer).

    A connection waiting for a request head is *idle*. When a new connection would pass the cap, an
    idle one is closed to make room: the longest-idle of those that never sent a whole request (a
    flood's), else the longest-idle kept-alive one. So a flood of half-sent requests cannot starve a
    health check (which sends its request at once) nor a client that has been answered before; with
    none idle (every connection inside a request), the new one gets 503 and is closed. Those closures,
    the deadline's, and an event loop out of descriptors are each logged as
    :class:`~rca.telemetry.Occurrences` (a few lines however big the flood, no traceback). Used on
    the event loop only.
    """

    def __init__(self, limit: int, header_timeout_s: float, retry_after_s: int) -> None:
        self.limit, self.header_timeout_s = limit, header_timeout_s
        # Idle connections, oldest first: those yet to send a whole request, and those answered before.
        self.fresh: dict[Any, None] = {}
        self.kept: dict[Any, None] = {}
        self.evicted = Occurrences(log, logging.WARNING, f"connection limit reached (serve.max_connections={limit}): "
                                   "closed %d longest-idle connection(s) to make room (%d in all)")
        self.refused = Occurrences(log, logging.WARNING, f"connection limit reached (serve.max_connections={limit}) "
                                   "with every connection inside a request: refused %d with 503 (%d in all)")
        self.timed_out = Occurrences(log, logging.WARNING, "closed %d connection(s) that sent no complete request head "
                                     f"within {header_timeout_s:g} s (serve.header_timeout_s) (%d in all)")
        self.no_descriptors = Occurrences(log, logging.ERROR, "could not accept %d connection(s): the process is out of "
                                          "file descriptors; lower serve.max_connections or raise the limit (%d in all)")
        self._client_errors: dict[str, Occurrences] = {}  # uvicorn's few fixed messages
        body = json.dumps({"error": "too many connections; ask again shortly"}).encode()
        self.refusal = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\n"
                        + f"retry-after: {retry_after_s}\r\ncontent-length: {len(body)}\r\n\r\n".encode() + body)

    def idle(self, conn: Any, answered: bool) -> None:
        (self.kept if answered else self.fresh)[conn] = None

    def busy(self, conn: Any) -> None:
        self.fresh.pop(conn, None)
        self.kept.pop(conn, None)

    def make_room(self, newcomer: Any) -> bool:
        """Close an idle connection other than ``newcomer`` (see the class); False if every one is busy."""
        for idle in (self.fresh, self.kept):
            for conn in idle:
                if conn is not newcomer:
                    conn.close_idle()
                    self.evicted()
                    return True
        self.refused()
        return False

    def client_error(self, message: str) -> None:
        """A protocol error a client caused ("Invalid HTTP request received."), counted per message."""
        if message not in self._client_errors:
            self._client_errors[message] = Occurrences(log, logging.WARNING, f"{message.rstrip('.')}: %d time(s) "
                                                       "(%d in all)")
        self._client_errors[message]()

    def loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """The event loop's error handler: accept() out of descriptors is one rate-limited line (asyncio
        would log a traceback for each of up to 2,048 tries a second); the rest as asyncio does."""
        if str(context.get("message", "")).startswith("socket.accept() out of system resource"):
            self.no_descriptors()
            return
        loop.default_exception_handler(context)

    def flush(self) -> None:
        for o in (self.evicted, self.refused, self.timed_out, self.no_descriptors, *self._client_errors.values()):
            o.flush()


class _ClientErrors(logging.LoggerAdapter):
    """uvicorn's protocol logger, whose warnings (a malformed request, an unsupported upgrade: one line per
    request a client sends) go to :meth:`ConnectionGuard.client_error` instead of a line each."""

    def __init__(self, logger: logging.Logger, guard: ConnectionGuard) -> None:
        super().__init__(logger, {})
        self.guard = guard

    @property
    def level(self) -> int:  # uvicorn reads it to decide on its trace lines
        return self.logger.level

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if level == logging.WARNING and not args:
            self.guard.client_error(str(msg))
        else:
            super().log(level, msg, *args, **kwargs)


def guarded_protocol(guard: ConnectionGuard) -> type:
    """uvicorn's h11 protocol with ``guard``'s cap and request-head deadline (uvicorn has neither: a
    connection that sends half a request line is held until the client leaves)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.logger = _ClientErrors(self.logger, guard)

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > guard.limit and not guard.make_room(self):
                transport.write(guard.refusal)
                transport.close()
                return
            self._await_head()

        def data_received(self, data: bytes) -> None:
            cycle = self.cycle
            super().data_received(data)
            if self.cycle is not cycle:  # a request head arrived: it is answered, not timed
                self._head_arrived()

        def on_response_complete(self) -> None:
            cycle = self.cycle
            super().on_response_complete()
            if self.cycle is cycle and not self.transport.is_closing() and self.conn.our_state is not h11.MUST_CLOSE:
                self._await_head()

        def connection_lost(self, exc: Exception | None) -> None:
            self._head_arrived()
            super().connection_lost(exc)

        def _await_head(self) -> None:
            if self._deadline is None:
                self._deadline = self.loop.call_later(guard.header_timeout_s, self._too_slow)
                guard.idle(self, answered=self.cycle is not None)

        def _head_arrived(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
            guard.busy(self)

        def _too_slow(self) -> None:
            self._deadline = None
            guard.busy(self)
            if not self.transport.is_closing():
                guard.timed_out()
                self.transport.close()

        def close_idle(self) -> None:
            self._head_arrived()
            if not self.transport.is_closing():
                self.transport.close()

    return GuardedH11Protocol


# The listen queue, and how many connections asyncio accepts in one turn of the loop. A connection reaches
# the guard two turns after its accept, so a flood can hold about three turns' worth beyond the cap.
ACCEPT_BACKLOG = 128


def connection_limit(configured: int) -> int:
    """``serve.max_connections``, lowered to fit the process's descriptor limit with room for one turn of
    accepts, the store, the log and the threads' files (at the limit accept() fails: nothing is answered)."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return configured
    if soft == resource.RLIM_INFINITY:
        return configured
    return max(4, min(configured, soft - 64 - 3 * ACCEPT_BACKLOG))


# --- the app -----------------------------------------------------------------------------------


def _validation_line(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {str(err.get('msg', 'invalid')).removeprefix('Value error, ')}")
    more = f" (+{len(exc.errors()) - 3} more)" if len(exc.errors()) > 3 else ""
    return "; ".join(parts) + more


def _iso(t) -> str | None:
    return t.isoformat() + "Z" if t is not None else None


def _question_view(rec) -> dict[str, Any]:
    question = {k: v for k, v in rec.question.items() if k != "graph_def"}
    return {"id": rec.id, "kind": rec.kind, "status": rec.status, "scope": rec.scope, "target": rec.target,
            "question": question, "created_at": _iso(rec.created_at), "finished_at": _iso(rec.finished_at),
            "error": rec.error, "result": rec.result,
            "report_url": f"/investigations/{rec.id}/report" if rec.status == "done" else None}


def _run_view(run, scrub: Callable[[str], str]) -> dict[str, Any]:
    """A run as served: its error and the errors in its outputs scrubbed (whoever wrote the row)."""
    view = run.to_dict()
    if view.get("error"):
        view["error"] = scrub(view["error"])
    view["outputs"] = _scrubbed(view.get("outputs") or {}, scrub)
    return view


def _scrubbed(value: Any, scrub: Callable[[str], str]) -> Any:
    """``value`` (a run's outputs) with every ``error`` text and each of its ``failures`` scrubbed."""
    if isinstance(value, dict):
        return {k: (scrub(v) if k == "error" and isinstance(v, str) else
                    [scrub(x) if isinstance(x, str) else x for x in v] if k in ("failures", "skipped") and
                    isinstance(v, list) else _scrubbed(v, scrub)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v, scrub) for v in value]
    return value


def _sane_name(name: str) -> bool:
    """A report name the file system can look up at all: no NUL, no part longer than a file name may be."""
    return "\x00" not in name and len(name) <= 1024 and all(len(part) <= 255 for part in name.split("/"))


def _inside(root: Path, path: str | Path) -> Path | None:
    """``path`` resolved, if it is a file inside ``root`` (after following any links); else None."""
    try:
        real = Path(path).resolve()
        return real if real.is_relative_to(root.resolve()) and real.is_file() else None
    except (OSError, ValueError, RuntimeError):  # too long, a NUL, a loop of links
        return None


def _graph_fits(graph: Any, limit: int) -> None:
    """Refuse a graph sent in a request above ``limit`` bytes (serve.max_graph_bytes): parsing one costs
    time on the service's threads (pydot takes ~55 ms of CPU per KB of DOT), so its size is what bounds it."""
    if graph is None or (isinstance(graph, str) and "\n" not in graph and len(graph) <= 200):
        return  # a shipped graph's name
    try:
        size = len(graph.encode("utf-8")) if isinstance(graph, str) else len(json.dumps(graph))
    except (RecursionError, ValueError, TypeError):
        raise BadInput("the graph cannot be read: it is nested too deeply") from None
    if size > limit:
        raise BadInput(f"the graph is {size} bytes; a graph sent in a request may be at most {limit} bytes "
                       "(serve.max_graph_bytes)")


REPORT_TYPES = {".html": "text/html; charset=utf-8", ".md": "text/markdown; charset=utf-8",
                ".json": "application/json", ".png": "image/png", ".svg": "image/svg+xml",
                ".jsonl": "application/x-ndjson"}


def create_app(service: Service) -> FastAPI:
    """The FastAPI app over ``service`` (started and closed by the app's lifespan)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await run_in_threadpool(service.start)
        try:
            yield
        finally:
            await run_in_threadpool(service.close)

    errors = {400: {"model": ErrorBody}, 401: {"model": ErrorBody}, 413: {"model": ErrorBody}}
    # No /docs or /redoc: those pages load their scripts from a CDN, which the service's policy forbids.
    app = FastAPI(title="whydunnit", version=_version(), lifespan=lifespan, responses=errors,
                  docs_url=None, redoc_url=None,
                  description="Why did our bug rate / build time / lead time get worse? Causal root-cause analysis "
                              "of software-engineering metrics, on demand and on a schedule. Every route but "
                              "/healthz and /readyz wants `Authorization: Bearer <token>`.")
    settings = service.settings

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        service.metrics.rejected.labels(reason="bad_request").inc()
        return _json(400, {"error": service.scrub(_validation_line(exc))})

    @app.exception_handler(PipelineError)
    async def _pipeline(request: Request, exc: PipelineError) -> Response:
        # The one tree's mapping: bad input 400, unavailable 503 (with when to ask again), internal 500.
        line = service.scrub(str(exc) or type(exc).__name__)
        if isinstance(exc, Unavailable):
            service.metrics.rejected.labels(reason="unavailable").inc()
            return _json(503, {"error": line}, {"Retry-After": str(settings.serve.retry_after_s)})
        if exc.http_status >= 500:
            log.error("internal error: %s: %s", type(exc).__name__, exc, exc_info=exc)
            return _json(exc.http_status, {"error": line})
        service.metrics.rejected.labels(reason="bad_request").inc()
        return _json(exc.http_status, {"error": line})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return _json(exc.status_code, {"error": service.scrub(str(exc.detail))}, getattr(exc, "headers", None))

    def _refuse_if_full() -> Response | None:
        if service.draining:
            service.metrics.rejected.labels(reason="draining").inc()
            return _json(503, {"error": "the service is stopping and takes no new work; ask again shortly"},
                         {"Retry-After": str(settings.serve.retry_after_s)})
        if not service.pool.reserve():
            service.metrics.rejected.labels(reason="queue_full").inc()
            return _json(429, {"error": f"all {settings.serve.workers} worker(s) are busy and {settings.serve.queue} "
                                        "question(s) wait already; ask again later"},
                         {"Retry-After": str(settings.serve.retry_after_s)})
        return None

    async def _queue(kind: str, fields: dict[str, Any]) -> Response:
        from rca.pipeline.runs import queue_question

        _graph_fits(fields.get("graph"), settings.serve.max_graph_bytes)
        refused = _refuse_if_full()
        if refused is not None:
            return refused
        try:
            rec = await run_in_threadpool(queue_question, kind, fields, settings, store=service.store)
        except BaseException:
            service.pool.release()
            raise
        service.pool.submit(rec.id)
        log.info("%s %s queued", kind, rec.id)
        url = f"/investigations/{rec.id}"
        body = Accepted(id=rec.id, kind=kind, status="queued", url=url, report_url=f"{url}/report")
        return _json(202, body.model_dump(), {"Location": url})

    @app.get("/healthz", tags=["health"], summary="Alive (no auth; HEAD too)")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"],
             summary="Ready: the store answers, the scheduler runs, not stopping (no auth, HEAD too; details with a token)")
    async def readyz(request: Request) -> Response:
        ok, state = await run_in_threadpool(service.ready)
        body: dict[str, Any] = {"status": "ready" if ok else "not ready"}
        # The details name the store (its host, port and user): only for a caller with a token.
        if not settings.serve.auth or authorized(service, request.headers.get("authorization", "").encode("latin-1")
                                                 or None):
            body.update(state)
        return _json(200 if ok else 503, body)

    # HEAD as well (probes and load balancers use it), as routes of their own so the schema keeps one operation each.
    app.add_api_route("/healthz", healthz, methods=["HEAD"], include_in_schema=False)
    app.add_api_route("/readyz", readyz, methods=["HEAD"], include_in_schema=False)

    @app.get("/metrics", tags=["health"], summary="The service's own metrics (Prometheus text format)",
             response_class=Response)
    async def metrics() -> Response:
        data, content_type = service.metrics.exposition()
        return Response(data, media_type=content_type)

    @app.post("/investigations", status_code=202, response_model=Accepted, tags=["questions"],
              summary="Ask why a metric changed; answered later (poll the url)",
              responses={429: {"model": ErrorBody}, 503: {"model": ErrorBody}})
    async def post_investigation(body: InvestigationBody) -> Response:
        return await _queue("investigation", body.model_dump(exclude_none=True))

    @app.post("/effects", status_code=202, response_model=Accepted, tags=["questions"],
              summary="Ask what a treatment does to an outcome (pooled, or by scope)",
              responses={429: {"model": ErrorBody}, 503: {"model": ErrorBody}})
    async def post_effect(body: EffectBody) -> Response:
        fields = body.model_dump(exclude_none=True)
        kind = "heterogeneity" if fields.pop("by_scope") else "effect"
        if kind == "heterogeneity":
            for key in ("simulations", "bootstrap", "refute", "dml"):
                fields.pop(key, None)
        else:
            fields.pop("features", None)
        return await _queue(kind, fields)

    @app.post("/recommendations", status_code=202, response_model=Accepted, tags=["questions"],
              summary="Ask which lever to move to improve a target",
              responses={429: {"model": ErrorBody}, 503: {"model": ErrorBody}})
    async def post_recommendations(body: RecommendationsBody) -> Response:
        return await _queue("recommendations", body.model_dump(exclude_none=True))

    @app.post("/what-if", tags=["questions"],
              summary="What a node would be had others been held at values (answered now, from the store)",
              responses={400: {"model": ErrorBody}, 429: {"model": ErrorBody}, 503: {"model": ErrorBody}})
    async def post_what_if(body: WhatIfBody) -> Response:
        from rca.pipeline import what_if_question

        refused = _refuse_if_full()
        if refused is not None:
            return refused
        try:
            result = await run_in_threadpool(what_if_question, body.model_dump(exclude_none=True), settings,
                                             store=service.store)
        finally:
            service.pool.release()
        return _json(200, result.to_dict())

    def _record(id_: str):
        rec = service.store.investigation(id_)
        if rec is None:
            raise StarletteHTTPException(404, f"no investigation {id_[:80]!r}")
        # Rows are scrubbed when written; rows written before that, or by another writer, are scrubbed here.
        return replace(rec, error=service.scrub(rec.error)) if rec.error else rec

    @app.get("/investigations", tags=["questions"], summary="Recent questions, newest first")
    def list_investigations(limit: int = Query(50, ge=1, le=500), status: str | None = None,
                            kind: str | None = None) -> list[dict[str, Any]]:
        return [_question_view(replace(r, error=service.scrub(r.error)) if r.error else r)
                for r in service.store.investigations(limit=limit, status=status, kind=kind)]

    @app.get("/investigations/{id_}", tags=["questions"],
             summary="A question's status and, once done, its JSON result (its HTML report for Accept: text/html)",
             responses={404: {"model": ErrorBody}})
    def get_investigation(id_: str, request: Request) -> Any:
        rec = _record(id_)
        accept = request.headers.get("accept", "")
        if "text/html" in accept and "application/json" not in accept:  # a browser
            return _html_report(rec)
        return _question_view(rec)

    @app.get("/investigations/{id_}/report", tags=["questions"], response_class=HTMLResponse,
             summary="A done question's HTML report", responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}})
    def get_report(id_: str) -> Response:
        return _html_report(_record(id_))

    def _html_report(rec) -> Response:
        id_ = rec.id
        if rec.status != "done":
            raise StarletteHTTPException(409, f"investigation {id_} is {rec.status}, not done"
                                              + (f": {rec.error}" if rec.error else ""))
        # The stored path is only trusted to name a file inside the reports folder: a row edited to name
        # any other file is not served.
        path = _inside(out_dir, rec.report_path or "")
        if path is None or path.suffix != ".html":
            raise StarletteHTTPException(404, f"the report of investigation {id_} is gone from the reports folder")
        return HTMLResponse(path.read_text(encoding="utf-8"))

    @app.get("/runs", tags=["jobs"], summary="Scheduled runs, newest first")
    def list_runs(limit: int = Query(50, ge=1, le=500), job: str | None = None,
                  status: Literal["running", "done", "failed", "interrupted"] | None = None) -> list[dict[str, Any]]:
        return [_run_view(r, service.scrub) for r in service.store.runs(limit=limit, job=job, status=status)]

    @app.get("/runs/{id_}", tags=["jobs"], summary="One scheduled run", responses={404: {"model": ErrorBody}})
    def get_run(id_: str) -> dict[str, Any]:
        run = service.store.run(id_)
        if run is None:
            raise StarletteHTTPException(404, f"no run {id_[:80]!r}")
        return _run_view(run, service.scrub)

    @app.get("/jobs", tags=["jobs"], summary="The configured jobs and their next runs")
    def list_jobs() -> list[dict[str, Any]]:
        nexts = service.scheduler.next_runs() if service.scheduler else {}
        return [{"name": j.name, "cron": j.cron, "timezone": j.timezone, "collect": j.collect, "report": j.report,
                 "refit": j.refit, "next_run": nexts.get(j.name), "next_refit": nexts.get(f"{j.name}:refit")}
                for j in settings.jobs]

    out_dir = Path(settings.reports.out_dir)

    @app.get("/reports", tags=["reports"], summary="Report files, newest first")
    def list_reports(limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
        if not out_dir.is_dir():
            return []
        found = []
        for p in out_dir.rglob("*"):
            if p.suffix in REPORT_TYPES and _inside(out_dir, p) is not None:  # no link to a file elsewhere
                found.append((p.lstat().st_mtime, p))
        found.sort(key=lambda x: x[0], reverse=True)
        return [{"name": p.relative_to(out_dir).as_posix(), "bytes": p.stat().st_size,
                 "url": f"/reports/{p.relative_to(out_dir).as_posix()}"} for _, p in found[:limit]]

    @app.get("/reports/{name:path}", tags=["reports"], summary="A report file under reports.out_dir",
             responses={404: {"model": ErrorBody}})
    def get_report_file(name: str) -> Response:
        path = _inside(out_dir, out_dir / name) if _sane_name(name) else None
        if path is None or path.suffix not in REPORT_TYPES:
            raise StarletteHTTPException(404, f"no report {name[:80]!r}")
        return FileResponse(path, media_type=REPORT_TYPES[path.suffix], content_disposition_type="inline")

    app.add_middleware(BodyLimit, service=service)
    app.add_middleware(BearerAuth, service=service)
    app.add_middleware(RequestContext, service=service)
    return app


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("whydunnit")
    except Exception:
        return "0"


# --- running it ------------------------------------------------------------------------------


def serve(settings: Settings, *, environ: dict[str, str] | None = None) -> int:
    """Run the service until SIGTERM or SIGINT; return the exit status."""
    import uvicorn

    service = Service(settings, environ=environ)
    # Worker threads doing numeric work hold the GIL for up to the switch interval at a time; a
    # shorter one lets the event loop (health checks, 429s) in sooner. Measured in tests/bench/bench_serve.py.
    sys.setswitchinterval(0.001)
    setup_logging(settings.serve.log_format, settings.serve.log_level, service.redact)
    limit = connection_limit(settings.serve.max_connections)
    if limit < settings.serve.max_connections:
        log.warning("serve.max_connections is %d but the process may open only so many files: holding at most %d "
                    "connections", settings.serve.max_connections, limit)
    guard = ConnectionGuard(limit, settings.serve.header_timeout_s, settings.serve.retry_after_s)
    app = create_app(service)
    config = uvicorn.Config(app, host=settings.serve.host, port=settings.serve.port, log_config=None,
                            access_log=False, server_header=False, timeout_graceful_shutdown=5,
                            lifespan="on", http=guarded_protocol(guard), timeout_keep_alive=settings.serve.keep_alive_s,
                            backlog=ACCEPT_BACKLOG)
    server = _Server(config, service, guard)
    server.run()
    guard.flush()
    if service.busy():  # work past the grace time: recorded as interrupted in close(); do not wait for it
        logging.shutdown()
        sys.stderr.flush()
        os._exit(0)
    return 0 if service.started else 1


class _Server:
    """uvicorn's server, whose first SIGTERM drains the service before the server stops listening, and
    whose event loop reports running out of descriptors through ``guard`` (one line, not a flood)."""

    def __new__(cls, config, service: Service, guard: ConnectionGuard):
        import uvicorn

        class Server(uvicorn.Server):
            async def startup(self, sockets=None) -> None:
                asyncio.get_running_loop().set_exception_handler(guard.loop_error)
                await super().startup(sockets)

            def handle_exit(self, sig: int, frame) -> None:
                if service.draining or not service.started:
                    self.should_exit = True
                    self.force_exit = self.force_exit or sig == signal.SIGINT and service.draining
                    return
                log.info("received %s", signal.Signals(sig).name)
                threading.Thread(target=self._drain, name="rca-drain", daemon=True).start()

            def _drain(self) -> None:
                service.drain(service.settings.serve.shutdown_grace_s)
                self.should_exit = True

        return Server(config)


def dump_openapi(settings: Settings) -> str:
    """The OpenAPI schema, as JSON text (no server started)."""
    service = Service(settings.model_copy(update={"serve": settings.serve.model_copy(update={"auth": False})}),
                      scheduler=False)
    return json.dumps(create_app(service).openapi(), indent=2)
