"""What clients may hold open: a cap on connections and a deadline for each request's head.

uvicorn has neither: a connection that sends half a request line is held until the client
leaves. :class:`ConnectionGuard` keeps the count and the idle connections; :func:`guarded_protocol`
is uvicorn's h11 protocol with the guard's cap and deadline; :func:`connection_limit` lowers the
cap to what the process's descriptor limit allows. What a flood of clients causes is logged as a
few rate-limited lines (:class:`~rca.telemetry.Occurrences`), never a line each.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from rca.telemetry import Occurrences

log = logging.getLogger("rca.api")


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
