"""A flood of half-sent requests against a real ``rca serve``: capped, timed out, /healthz still answers,
and the log says so in a few lines.

Hundreds of connections each send half a request line and then nothing (the slow-loris pattern).
Before, each one was held until the client left, so enough of them ran the process out of file
descriptors; /healthz then timed out and the log filled with a traceback per failed accept().
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import httpx

from tests.serve_helpers import Served

CAP = 40
DEADLINE_S = 6.0
FLOOD = 300


def _open_half_sent(port: int, n: int) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # no blank line: the head never ends
        socks.append(s)
    return socks


def _closed_by_server(s: socket.socket) -> bool:
    s.setblocking(False)
    try:
        return s.recv(64) == b""
    except BlockingIOError:
        return False
    except OSError:  # reset: closed too
        return True


def _descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _wait(cond, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def test_half_sent_requests_are_capped_and_timed_out_while_healthz_answers(tmp_path: Path) -> None:
    served = Served(tmp_path, serve={"max_connections": CAP, "header_timeout_s": DEADLINE_S}).start()
    socks: list[socket.socket] = []
    try:
        pid = served.proc.pid
        before = _descriptors(pid)
        log_before = len(served.log_path.read_text().splitlines())
        t0 = time.monotonic()
        socks = _open_half_sent(served.port, FLOOD)
        # The cap: the service closes the longest-idle connections as new ones come, holding at most CAP.
        assert _wait(lambda: sum(_closed_by_server(s) for s in socks) >= FLOOD - CAP, DEADLINE_S - 1)
        open_now = sum(not _closed_by_server(s) for s in socks)
        assert time.monotonic() - t0 < DEADLINE_S, "the flood took longer than the deadline: nothing measured"
        assert 0 < open_now <= CAP and _descriptors(pid) <= before + CAP + 2, (open_now, _descriptors(pid) - before)
        # /healthz answers while the flood holds (each new connection takes the place of the longest-idle one;
        # the client's timeout is what a probe would allow).
        for _ in range(5):
            assert httpx.get(f"{served.url}/healthz", timeout=5).json() == {"status": "ok"}
        # The deadline: the rest, which nothing else will push out, are closed once it passes.
        assert _wait(lambda: all(_closed_by_server(s) for s in socks), 2 * DEADLINE_S + 5)
        assert _descriptors(pid) <= before + 2
        with served.client() as c:  # the service works on after the flood
            assert c.get("/runs").status_code == 200
        for _ in range(200):  # malformed requests: each answered 400, the lot one log line
            with socket.create_connection(("127.0.0.1", served.port), timeout=5) as s:
                s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
                assert s.recv(64).startswith(b"HTTP/1.1 400 ")
    finally:
        for s in socks:
            s.close()
        served.stop()
    lines = served.log_lines()[log_before:]
    text = served.log_path.read_text()
    assert "Traceback" not in text and all("raw" not in x for x in lines), [x for x in lines if "raw" in x][:3]
    msgs = [x.get("msg", "") for x in lines]
    assert any("connection limit reached (serve.max_connections=40)" in m for m in msgs), msgs
    assert any("sent no complete request head within 6 s" in m for m in msgs), msgs
    assert 1 <= sum("Invalid HTTP request received" in m for m in msgs) <= 2, msgs
    warnings = [x for x in lines if x.get("level") in ("warning", "error")]
    assert len(warnings) <= 8, warnings  # rate-limited: a few lines for hundreds of closures
