"""Running the HTTP API: uvicorn over the app, with the connection guard, until SIGTERM.

:func:`serve` builds the :class:`~rca.pipeline.Service` (with whatever the caller runs alongside
it, the scheduler in ``rca serve``), the app and uvicorn with the guarded protocol, and runs them.
SIGTERM: the service stops taking work (``503`` for new questions, ``/readyz`` fails), lets the
running work finish for up to ``serve.shutdown_grace_s``, marks what is left ``interrupted`` in
the store, closes the store and exits. A second SIGTERM or SIGINT stops at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

from rca.api.connections import ACCEPT_BACKLOG, ConnectionGuard, connection_limit, guarded_protocol
from rca.api.routes import create_app
from rca.config import Settings
from rca.pipeline import Alongside, Service
from rca.telemetry import Redactor, secrets_of, setup_logging

log = logging.getLogger("rca.api")


def serve(settings: Settings, *, environ: dict[str, str] | None = None,
          alongside: Callable[[Service], Alongside] | None = None) -> int:
    """Run the service until SIGTERM or SIGINT; return the exit status. ``alongside`` makes what runs
    beside the workers over the same service (``rca serve``: the scheduler)."""
    import uvicorn

    service = Service(settings, environ=environ, alongside=alongside)
    app = create_app(service, environ=environ)  # refuses, in one line, to serve without a token
    # Worker threads doing numeric work hold the GIL for up to the switch interval at a time; a
    # shorter one lets the event loop (health checks, 429s) in sooner. Measured in tests/bench/bench_serve.py.
    sys.setswitchinterval(0.001)
    setup_logging(settings.serve.log_format, settings.serve.log_level, Redactor(secrets_of(settings, environ)))
    limit = connection_limit(settings.serve.max_connections)
    if limit < settings.serve.max_connections:
        log.warning("serve.max_connections is %d but the process may open only so many files: holding at most %d "
                    "connections", settings.serve.max_connections, limit)
    guard = ConnectionGuard(limit, settings.serve.header_timeout_s, settings.serve.retry_after_s)
    config = uvicorn.Config(app, host=settings.serve.host, port=settings.serve.port, log_config=None,
                            access_log=False, server_header=False, timeout_graceful_shutdown=5,
                            lifespan="on", http=guarded_protocol(guard), timeout_keep_alive=settings.serve.keep_alive_s,
                            backlog=ACCEPT_BACKLOG)
    log.info("serving on http://%s:%d", settings.serve.host, settings.serve.port)
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
    service = Service(settings.model_copy(update={"serve": settings.serve.model_copy(update={"auth": False})}))
    return json.dumps(create_app(service).openapi(), indent=2)
