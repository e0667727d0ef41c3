"""The HTTP API's middleware, plain ASGI (nothing buffers a response or hides the route).

:class:`RequestContext` (outermost) gives every request an id on its log lines and its answer,
the security headers, one access line, the answer counted by route and status, and catches our
own bugs: a 500 and one log line with the traceback (once). :class:`BearerAuth` wants
``Authorization: Bearer <token>`` on every path but the health checks (compared in constant time,
:func:`authorized`). :class:`BodyLimit` refuses bodies above ``serve.max_body_bytes`` (413) and
bodies that do not arrive within ``serve.body_timeout_s`` (408). They share a :class:`Gate`: the
service, the API tokens, and the rate-limited line about slow bodies.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi.responses import JSONResponse, Response

from core.errors import BadInput, printable
from rca.pipeline import Service
from rca.telemetry import Occurrences, api_tokens, log_context

log = logging.getLogger("rca.api")
access = logging.getLogger("rca.access")

HEALTH_PATHS = ("/healthz", "/readyz")
Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


class Gate:
    """What the HTTP face keeps beside the service: the API tokens it accepts, and its rate-limited lines."""

    def __init__(self, service: Service, environ: Mapping[str, str] | None = None) -> None:
        settings = service.settings
        self.service, self.settings, self.metrics = service, settings, service.metrics
        self.tokens = [t.encode() for t in api_tokens(settings, dict(environ) if environ is not None else None)]
        if settings.serve.auth and not self.tokens:
            names = ", ".join(f"${n}" for n in settings.serve.token_env) or "serve.token_env"
            raise BadInput(f"serve.auth is on but no API token is set: put one in {names} or in a file listed in "
                           "serve.token_files (or set serve.auth: false behind a proxy that checks tokens)")
        self.slow_bodies = Occurrences(log, logging.WARNING, "answered %d request(s) 408: the body did not arrive "
                                       f"within {settings.serve.body_timeout_s:g} s (serve.body_timeout_s) (%d in all)")


def json_answer(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
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

    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self.app, self.gate = app, gate

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
                    await json_answer(500, {"error": f"internal error; the service's log has the details ({rid})"})(
                        scope, receive, sending)
            finally:
                route = getattr(scope.get("route"), "path", None) or ("unmatched" if status["code"] == 404 else
                                                                      scope["path"] if scope["path"] in HEALTH_PATHS
                                                                      else "other")
                self.gate.metrics.requests.labels(method=scope["method"], route=route,
                                                     status=str(status["code"])).inc()
                level = logging.DEBUG if scope["path"] in HEALTH_PATHS else logging.INFO
                shown = printable(scope["path"], 300)  # the client's text: one line, no escape codes, bounded
                access.log(level, "%s %s %d %.1f ms", scope["method"], shown, status["code"],
                           1000 * (time.perf_counter() - t0),
                           extra={"method": scope["method"], "path": shown, "status": status["code"]})


def authorized(gate: Gate, header: bytes | None) -> bool:
    """Whether ``Authorization: <header>`` carries one of the API's tokens (every token compared in
    constant time: no early exit to time)."""
    if header is None:
        return False
    scheme, _, token = header.partition(b" ")
    if scheme.lower() != b"bearer" or not token.strip():
        return False
    given = token.strip()
    ok = False
    for known in gate.tokens:
        ok |= hmac.compare_digest(given, known)
    return ok


class BearerAuth:
    """``Authorization: Bearer <token>`` on every path but the health checks (and ``/metrics`` if so configured)."""

    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self.app, self.gate = app, gate
        self.public = set(HEALTH_PATHS) | (set() if gate.settings.serve.metrics_auth else {"/metrics"})

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http" or not self.gate.settings.serve.auth or scope["path"] in self.public:
            return await self.app(scope, receive, send)
        header = dict(scope["headers"]).get(b"authorization")
        if not authorized(self.gate, header):
            self.gate.metrics.rejected.labels(reason="unauthorized").inc()
            why = "missing bearer token" if header is None else "invalid bearer token"
            resp = json_answer(401, {"error": f"{why}: send Authorization: Bearer <token>"},
                         {"WWW-Authenticate": 'Bearer realm="whydunnit"'})
            return await resp(scope, receive, send)
        return await self.app(scope, receive, send)


class BodyLimit:
    """Refuse bodies above ``limit`` bytes with 413, by their Content-Length or, without one, as they arrive;
    a body that does not arrive whole within ``serve.body_timeout_s`` gets 408 and the connection is closed."""

    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self.app, self.gate = app, gate
        self.limit = gate.settings.serve.max_body_bytes
        self.timeout_s = gate.settings.serve.body_timeout_s

    async def _too_large(self, scope: Scope, receive, send) -> None:
        self.gate.metrics.rejected.labels(reason="too_large").inc()
        resp = json_answer(413, {"error": f"request body larger than {self.limit} bytes (serve.max_body_bytes)"},
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
                return await json_answer(400, {"error": "Content-Length is not a number"})(scope, receive, send)
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
            self.gate.metrics.rejected.labels(reason="too_slow").inc()
            self.gate.slow_bodies()
            return await json_answer(408, {"error": f"the request body did not arrive within {self.timeout_s:g} s "
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
