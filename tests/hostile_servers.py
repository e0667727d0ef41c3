"""Hostile servers on loopback: what a broken or malicious server, proxy or scheduler does to a client.

Each is a real TCP server of ours in a background thread (no mocks), answering every connection
with one behaviour: :func:`drip` sends its answer one byte at a time, :func:`huge` sends a body
of any size without ever holding it in memory, :func:`gzip_bomb` sends a small gzip body that
unpacks to a large one, :func:`echo_auth` repeats the request's ``Authorization`` header in its
error, :func:`silent` accepts and never answers, :func:`junk` answers with bytes of another
protocol. :class:`RawServer` counts the body bytes it got out before the client hung up, so a
test can tell a client that left early from one that read everything.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator

Handler = Callable[[socket.socket, "RawServer"], None]

EMPTY_RESULT = b'{"status":"success","data":{"resultType":"matrix","result":[]}}'


class RawServer:
    """A loopback TCP server handing each connection to ``handle(conn, server)`` in its own thread."""

    def __init__(self, handle: Handler) -> None:
        self.handle = handle
        self.sent = 0  # body bytes written before the client left (or the answer ended)
        self.requests: list[bytes] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port: int = self.listener.getsockname()[1]
        self.listener.settimeout(0.1)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def count(self, n: int) -> None:
        with self._lock:
            self.sent += n

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handle(conn, self)
        except OSError:  # the client hung up: what these servers are for
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self.thread.join(2)
        self.listener.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_request(conn: socket.socket, server: RawServer) -> bytes:
    """The request's head (up to the blank line), kept in ``server.requests``."""
    conn.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    server.requests.append(data)
    return data


def header(request: bytes, name: str) -> str | None:
    for line in request.split(b"\r\n")[1:]:
        key, _, value = line.decode("latin-1").partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


def _head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items()), "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


def drip(every_s: float, total: int = 400, where: str = "body") -> Handler:
    """An answer sent one byte every ``every_s`` seconds: its ``body`` (``total`` bytes), or its ``head``
    (then the body at once). Each is valid: a client that waits long enough gets a whole, empty result."""

    def handle(conn: socket.socket, server: RawServer) -> None:
        read_request(conn, server)
        body = EMPTY_RESULT.ljust(total)  # JSON: trailing spaces are allowed
        head = _head("200 OK", {"Content-Type": "application/json", "Content-Length": str(len(body))})
        slow, fast = (head, body) if where == "head" else (body, b"")
        if where != "head":
            conn.sendall(head)
        for i in range(len(slow)):
            if server.stopping:
                return
            conn.sendall(slow[i:i + 1])
            server.count(1)
            time.sleep(every_s)
        conn.sendall(fast)

    return handle


def _padding(size: int, block: int = 1 << 20) -> Iterator[bytes]:
    """``size`` bytes of JSON whitespace, a block at a time."""
    spaces = b" " * block
    left = size
    while left > 0:
        n = min(block, left)
        yield spaces if n == block else b" " * n
        left -= n


def huge(size: int, chunked: bool = False) -> Handler:
    """A valid, empty Prometheus range result padded with whitespace to ``size`` bytes, never held whole."""

    def handle(conn: socket.socket, server: RawServer) -> None:
        read_request(conn, server)
        pad = max(0, size - len(EMPTY_RESULT))
        headers = {"Content-Type": "application/json"}
        headers.update({"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(pad + len(EMPTY_RESULT))})
        conn.sendall(_head("200 OK", headers))
        for piece in (*_padding(pad), EMPTY_RESULT):
            if server.stopping:
                return
            conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            server.count(len(piece))
        if chunked:
            conn.sendall(b"0\r\n\r\n")

    return handle


def bomb_body(unpacked: int) -> bytes:
    """gzip of a valid, empty Prometheus range result padded with whitespace to ``unpacked`` bytes."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip stream
    parts = [comp.compress(piece) for piece in _padding(max(0, unpacked - len(EMPTY_RESULT)))]
    parts.append(comp.compress(EMPTY_RESULT))
    parts.append(comp.flush())
    return b"".join(parts)


def gzip_bomb(unpacked: int) -> Handler:
    """A ``Content-Encoding: gzip`` answer that unpacks to ``unpacked`` bytes (about a thousandth of that sent)."""
    body = bomb_body(unpacked)

    def handle(conn: socket.socket, server: RawServer) -> None:
        read_request(conn, server)
        conn.sendall(_head("200 OK", {"Content-Type": "application/json", "Content-Encoding": "gzip",
                                      "Content-Length": str(len(body))}))
        conn.sendall(body)
        server.count(len(body))

    return handle


def echo_auth(status: int, kind: str = "text") -> Handler:
    """An error answer that repeats the request's Authorization header, as some proxies and debug servers do.

    ``kind``: ``text`` (a plain-text reason), ``json`` (Prometheus's error JSON) or ``reason`` (in the status line).
    """

    def handle(conn: socket.socket, server: RawServer) -> None:
        request = read_request(conn, server)
        auth = header(request, "Authorization") or "none"
        said = f"invalid credentials\nrca: error: forged line; you sent Authorization: {auth}"
        if kind == "json":
            body = json.dumps({"status": "error", "errorType": "bad_data", "error": said}).encode()
            ctype = "application/json"
        else:
            body, ctype = said.encode(), "text/plain; charset=utf-8"
        reason = f"Denied for {auth}" if kind == "reason" else "Error"
        conn.sendall(_head(f"{status} {reason}", {"Content-Type": ctype, "Content-Length": str(len(body))}) + body)

    return handle


def reply(status: int, body: bytes, headers: dict[str, str] | None = None) -> Handler:
    """One fixed answer to every request."""

    def handle(conn: socket.socket, server: RawServer) -> None:
        read_request(conn, server)
        all_headers = {"Content-Type": "application/json", **(headers or {}), "Content-Length": str(len(body))}
        conn.sendall(_head(f"{status} X", all_headers) + body)

    return handle


def silent(hold_s: float = 20.0) -> Handler:
    """Accept the connection, read what comes, never answer; hang up after ``hold_s`` (so a stuck client ends)."""

    def handle(conn: socket.socket, server: RawServer) -> None:
        conn.settimeout(0.1)
        until = time.monotonic() + hold_s
        while time.monotonic() < until and not server.stopping:
            try:
                if conn.recv(65536) == b"":
                    return
            except TimeoutError:
                continue

    return handle


def junk(data: bytes = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n") -> Handler:
    """Answer every connection with ``data`` (by default an HTTP error: a web server on the scheduler's port)."""

    def handle(conn: socket.socket, server: RawServer) -> None:
        conn.sendall(data)
        silent(5.0)(conn, server)

    return handle
