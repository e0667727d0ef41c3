"""HTTP with bounds a server cannot stretch: one deadline for a whole request, a cap on the answer's size.

httpx's and httpcore's timeouts are per operation: a server that sends one byte a second never
trips a read timeout and holds the caller for as long as it likes. :class:`Backend` is an
httpcore network backend (``httpcore.ConnectionPool(network_backend=...)``) whose sockets are
non-blocking and never wait past :attr:`Deadline.at`: connecting, the TLS handshake, sending
and every read of the answer share one budget, so a dripped answer ends when a silent one
would. :func:`read_body` reads an answer's chunks counting the bytes sent and the bytes unpacked
(gzip and deflate are unpacked here, a bounded piece at a time, so a small bomb never becomes a
large buffer) and stops past a cap. The Prometheus collector reads its server through both;
any collector that reads a server can.
"""

from __future__ import annotations

import math
import selectors
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpcore

from core.errors import printable

__all__ = ["Backend", "Deadline", "TooLarge", "Unreadable", "read_body"]

_PIECE = 1 << 20  # the most one step of unpacking makes


@dataclass
class Deadline:
    """The monotonic time by which the request under way must be over (``inf`` between requests)."""

    at: float = math.inf

    def left(self) -> float:
        return self.at - time.monotonic()


class _Stream(httpcore.NetworkStream):
    """A non-blocking socket (plain or TLS) whose every wait ends at the deadline.

    Non-blocking because a TLS socket in blocking mode reads a whole record before returning,
    each of its reads with the full timeout: a record dripped a byte at a time would never end.
    """

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        sock.setblocking(False)
        self._sock, self._deadline = sock, deadline
        self._selector = selectors.DefaultSelector()
        self._selector.register(sock, selectors.EVENT_READ)

    def _io(self, op: Callable[[], Any], blocked: int, timeout: type[Exception], error: type[Exception]) -> Any:
        while True:
            try:
                return op()
            except (BlockingIOError, InterruptedError):
                self._wait(blocked, timeout)
            except ssl.SSLWantReadError:
                self._wait(selectors.EVENT_READ, timeout)
            except ssl.SSLWantWriteError:
                self._wait(selectors.EVENT_WRITE, timeout)
            except OSError as exc:
                raise error(exc) from exc

    def _wait(self, events: int, timeout: type[Exception]) -> None:
        left = self._deadline.left()
        if left > 0:
            self._selector.modify(self._sock, events)
            if self._selector.select(None if math.isinf(left) else left):  # inf: outside a request, no bound set
                return
        raise timeout("the request's time ran out")

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._io(lambda: self._sock.recv(max_bytes), selectors.EVENT_READ, httpcore.ReadTimeout,
                        httpcore.ReadError)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        view = memoryview(buffer)
        while view:
            sent = self._io(lambda v=view: self._sock.send(v), selectors.EVENT_WRITE, httpcore.WriteTimeout,
                            httpcore.WriteError)
            view = view[sent:]

    def close(self) -> None:
        self._selector.close()
        self._sock.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        self._selector.unregister(self._sock)
        self._selector.close()
        try:
            tls = ssl_context.wrap_socket(self._sock, server_hostname=server_hostname, do_handshake_on_connect=False)
        except OSError as exc:
            self._sock.close()
            raise httpcore.ConnectError(exc) from exc
        stream = _Stream(tls, self._deadline)
        try:
            stream._io(tls.do_handshake, selectors.EVENT_READ, httpcore.ConnectTimeout, httpcore.ConnectError)
        except Exception:
            stream.close()
            raise
        return stream

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":  # httpcore asks it for the negotiated protocol (ALPN)
            return self._sock if isinstance(self._sock, ssl.SSLSocket) else None
        if info == "socket":
            return self._sock
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "is_readable":  # an idle kept-alive connection that is readable was closed by the server
            self._selector.modify(self._sock, selectors.EVENT_READ)
            return bool(self._selector.select(0))
        return None


@dataclass
class Backend(httpcore.NetworkBackend):
    """httpcore's network backend: TCP connections of :class:`_Stream`, each bounded by ``deadline``."""

    deadline: Deadline

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        left = self.deadline.left()
        if left <= 0:
            raise httpcore.ConnectTimeout("the request's time ran out")
        try:  # the name lookup is the resolver's to bound; the connection is ours
            sock = socket.create_connection((host, port), left, source_address=(local_address, 0) if local_address else None)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(exc) from exc
        except OSError as exc:
            raise httpcore.ConnectError(exc) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Stream(sock, self.deadline)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise httpcore.UnsupportedProtocol("Prometheus is reached over TCP")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class TooLarge(Exception):
    """The answer passed the cap, as sent or (``encoding``) as unpacked."""

    def __init__(self, encoding: str | None) -> None:
        super().__init__(encoding)
        self.encoding = encoding  # None: the bytes on the wire passed the cap; else what unpacked past it


class Unreadable(Exception):
    """The answer cannot be read as sent (an encoding we did not ask for, a corrupt gzip stream)."""


def read_body(chunks: Iterable[bytes], encoding: str, cap: int, cut: bool = False) -> bytes:
    """The body from its chunks, unpacked; more than ``cap`` bytes (sent or unpacked) is :class:`TooLarge`,
    or with ``cut`` the first ``cap`` bytes (for an error's message)."""
    enc = encoding.strip().lower()
    if enc not in ("", "identity", "gzip", "x-gzip", "deflate"):
        raise Unreadable(f"it came with Content-Encoding {printable(enc, 40)!r}, which was not asked for")
    unpack = zlib.decompressobj(47) if enc not in ("", "identity") else None  # 47: a gzip or zlib header
    out = bytearray()
    sent = 0
    for chunk in chunks:
        sent += len(chunk)
        if sent > cap and not cut:
            raise TooLarge(None)
        data = chunk
        while data and len(out) <= cap:
            if unpack is None:
                out += data
                break
            try:  # a piece at a time, never past the cap: a bomb never becomes a large buffer
                out += unpack.decompress(data, min(cap + 1 - len(out), _PIECE))
            except zlib.error as exc:
                raise Unreadable(f"its {enc} data is corrupt ({exc})") from None
            data = unpack.unconsumed_tail
            if unpack.eof and unpack.unused_data:  # another gzip member follows
                data, unpack = unpack.unused_data + data, zlib.decompressobj(47)
        if len(out) > cap:
            if cut:
                return bytes(out[:cap])
            raise TooLarge(enc)
    if unpack is not None and not unpack.eof and not cut:
        raise Unreadable(f"its {enc} data ends before its end")
    return bytes(out)
