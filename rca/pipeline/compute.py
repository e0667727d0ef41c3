"""Where a job's heavy loops run: in this process, or on the Dask cluster ``compute.scheduler`` names.

:func:`session` wraps a job (:func:`on_cluster` marks one). Without a scheduler configured it does
nothing and imports nothing: the loops run in place, as they always did. With one, it connects
a Dask client (for ``local``, after starting a cluster of worker processes on loopback) and
makes joblib's Dask backend the active one in this thread for the job's duration, so the loops
that go through :func:`rca.engine.parallel.tasks` (a report's scopes, a collection's
repositories, the bootstrap and refutation loops) run on the workers. The answers are the same
either way: every task's randomness is its own (see :mod:`rca.engine.parallel`).

What travels: a task's inputs (a scope's wide frame, a resample's rows, a repository's path
and saved state) and its result. The store stays with the job: workers never open it, so a
SQLite store works with a remote cluster as well as PostgreSQL does. Workers must have this
package (same version) installed, and for collection the repositories at the same paths.

Clients are kept for the life of the process, one per scheduler, so a long-running service does
not pay for a connection (or a local cluster's start) on every job; :func:`close` ends them.

Reaching a scheduler is bounded by ``compute.timeout_s`` at each step: the TCP connection and
Dask's handshake (checked by the job itself first, since distributed waits for the handshake's
answer without a timeout and trusts the first bytes it reads), the client's own start, the
first worker, and the question of how many worker threads there are. A port that accepts and
stays silent, or answers in another protocol, is one :class:`Unavailable` line.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from rca.config import ComputeSettings, Settings
from rca.pipeline.errors import BadInput, Unavailable

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)

_clients: dict[ComputeSettings, tuple[Client, Any]] = {}  # settings -> (client, the local cluster or None)
_lock = threading.Lock()


def _missing(c: ComputeSettings, name: str | None) -> BadInput:
    return BadInput(f"compute.scheduler is {c.scheduler!r} but the Python package {name or 'distributed'!r} is "
                    "not installed: install whydunnit[dask]")


def client(c: ComputeSettings) -> Client:
    """A connected client for ``c`` (kept for reuse); :class:`Unavailable` (or :class:`BadInput`: no dask) if not."""
    try:
        import distributed
        import joblib._dask  # noqa: F401  (joblib's Dask backend: it needs distributed too)
    except ModuleNotFoundError as exc:
        raise _missing(c, exc.name) from None
    with _lock:
        kept = _clients.get(c)
        if kept is not None and kept[0].status == "running":
            return kept[0]
        cluster = None
        try:
            if c.scheduler == "local":
                cluster = distributed.LocalCluster(
                    n_workers=c.workers, threads_per_worker=c.threads_per_worker, processes=True, host="127.0.0.1",
                    dashboard_address="127.0.0.1:0", memory_limit=c.memory_limit, silence_logs=logging.ERROR)
                address = cluster.scheduler_address
            else:
                address = c.scheduler
                _handshake(address, c.timeout_s)
            made = distributed.Client(address, timeout=c.timeout_s, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            if cluster is not None:
                cluster.close()
            what = "start a local Dask cluster" if c.scheduler == "local" else f"reach the Dask scheduler at {c.scheduler}"
            raise Unavailable(f"cannot {what}: {_first_line(exc)}") from None
        try:
            made.wait_for_workers(1, timeout=c.timeout_s)
        except (OSError, TimeoutError) as exc:
            made.close()
            if cluster is not None:
                cluster.close()
            raise Unavailable(f"the Dask scheduler at {address} has no worker after {c.timeout_s:g} s "
                                f"({_first_line(exc)}): start workers with `dask worker {address}`") from None
        _clients[c] = (made, cluster)
        return made


@contextmanager
def session(settings: Settings) -> Iterator[None]:
    """Run the enclosed job's loops on the configured Dask cluster (nothing at all without one)."""
    c = settings.compute
    if c.scheduler is None:
        yield
        return
    dask_client = client(c)
    from joblib import parallel_config

    try:
        threads = sum(dask_client.nthreads(callback_timeout=c.timeout_s).values())
    except (OSError, TimeoutError) as exc:
        raise Unavailable(f"the Dask scheduler at {dask_client.scheduler.address} did not say what workers it has "
                          f"within {c.timeout_s:g} s ({_first_line(exc)})") from None
    log.info("heavy loops run on the Dask cluster at %s (%d worker threads)", dask_client.scheduler.address, threads)
    with parallel_config(backend="dask", client=dask_client, wait_for_workers_timeout=c.timeout_s):
        yield


P = ParamSpec("P")
R = TypeVar("R")


def on_cluster(fn: Callable[P, R]) -> Callable[P, R]:
    """Mark a job whose loops run on the cluster its ``settings`` argument configures."""
    sig = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        settings = sig.bind_partial(*args, **kwargs).arguments.get("settings")
        if not isinstance(settings, Settings) or settings.compute.scheduler is None:
            return fn(*args, **kwargs)
        with session(settings):
            return fn(*args, **kwargs)

    return wrapper


def close() -> None:
    """Close every kept client (and the local clusters started for them)."""
    with _lock:
        kept = list(_clients.values())
        _clients.clear()
    for made, cluster in kept:
        try:
            made.close()
            if cluster is not None:
                cluster.close()
        except Exception:  # closing at exit: a cluster already gone is fine
            log.debug("closing a Dask client failed", exc_info=True)


def _handshake(address: str, seconds: float) -> None:
    """Reach the scheduler at ``address`` and exchange Dask's handshake within ``seconds``, or raise :class:`Unavailable`.

    distributed waits for the handshake's answer with no timeout (a port that accepts and stays
    silent holds the job forever) and reads a frame's length from the first bytes it gets (an HTTP
    server's error page becomes a 3 EiB allocation and a traceback). So the job tries first: a TCP
    connection, then distributed's own handshake on it under one deadline, in a thread of its own
    (the caller may be inside an event loop). Whatever the peer answers that is not Dask is one line.
    """
    import asyncio
    import socket
    import time
    from urllib.parse import urlsplit

    from distributed.comm import connect

    start = time.monotonic()
    parts = urlsplit(address)
    try:  # a refused port or an unroutable host fails here, with the system's reason
        socket.create_connection((parts.hostname, parts.port), seconds).close()
    except OSError as exc:
        raise Unavailable(f"cannot reach the Dask scheduler at {address}: {_first_line(exc)}") from None
    left = max(seconds - (time.monotonic() - start), 0.1)

    async def probe() -> None:
        comm = await asyncio.wait_for(connect(address, timeout=left), left)
        await comm.close()

    failed: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(probe())
        except BaseException as exc:  # handed to the caller below
            failed.append(exc)

    worker = threading.Thread(target=run, name="dask-handshake", daemon=True)
    worker.start()
    worker.join(left + 5)  # wait_for ends the probe at `left`; the margin is for the loop's own teardown
    if worker.is_alive() or (failed and isinstance(failed[0], TimeoutError)):
        raise Unavailable(f"the Dask scheduler at {address} did not answer Dask's handshake within {seconds:g} s "
                          "(is it a Dask scheduler, and is the port right?)")
    if failed:
        log.debug("Dask handshake with %s failed", address, exc_info=failed[0])
        raise Unavailable(f"the Dask scheduler at {address} answered with something that is not Dask's protocol "
                          "(is it a Dask scheduler, and is the port right?)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


atexit.register(close)
