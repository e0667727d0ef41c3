"""A flood of half-sent requests against ``rca serve``, on loopback: what it holds and how /healthz fares.

``python -m tests.bench.bench_flood [--connections N] [--hold S] [--serve JSON] [--server-nofile N]``

Starts ``rca serve`` over the demo sample in a temporary folder (``--serve`` adds settings to its
``serve:`` section; ``--server-nofile`` lowers its descriptor limit, as a container's might be),
then keeps ``--connections`` connections open against it for ``--hold`` seconds, each having sent
half a request line and nothing more; one the service closes is opened again at once (a
slow-loris client that does not give up). Meanwhile it asks ``GET /healthz`` ten times a second
(timeout 5 s) and samples the service's open descriptors and memory from /proc. It prints the
connections opened and closed by the service, the peak descriptors and resident memory, the
/healthz latencies and failures, and the log's size (lines, tracebacks). Linux only (/proc);
only loopback.
"""

from __future__ import annotations

import argparse
import json
import resource
import selectors
import socket
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HALF = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n"


@dataclass
class FloodResult:
    opened: int = 0
    closed_by_server: int = 0
    connect_errors: int = 0
    peak_fds: int = 0
    base_fds: int = 0
    peak_rss_kb: int = 0
    base_rss_kb: int = 0
    healthz: list[float] = field(default_factory=list)
    healthz_failures: list[str] = field(default_factory=list)
    log_lines: int = 0
    tracebacks: int = 0
    seconds: float = 0.0

    def lines(self, connections: int, hold: float) -> list[str]:
        xs = sorted(self.healthz)

        def pct(q: float) -> float:
            return 1000 * xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")

        return [
            f"flood: {connections} half-sent connections at a time for {self.seconds:.0f} s (asked: {hold:.0f} s; "
            f"connecting waits while the service's listen queue is full): {self.opened} opened, "
            f"{self.closed_by_server} closed by the service, {self.connect_errors} connect errors",
            f"  service descriptors: {self.base_fds} before, peak {self.peak_fds}; resident memory: "
            f"{self.base_rss_kb / 1024:.0f} MB before, peak {self.peak_rss_kb / 1024:.0f} MB",
            f"  /healthz during the flood: {len(xs)} answered, {len(self.healthz_failures)} failed"
            + (f" (first: {self.healthz_failures[0]})" if self.healthz_failures else "")
            + (f"; p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms, max {1000 * xs[-1]:.1f} ms, "
               f"mean {1000 * statistics.fmean(xs):.1f} ms" if xs else ""),
            f"  log: {self.log_lines} lines during the flood, {self.tracebacks} tracebacks",
        ]


def _proc(pid: int) -> tuple[int, int]:
    """Open descriptors and resident memory (kB) of ``pid``."""
    fds = len(list(Path(f"/proc/{pid}/fd").iterdir()))
    rss = next((int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith("VmRSS:")), 0)
    return fds, rss


def flood(port: int, pid: int, connections: int, hold_s: float, res: FloodResult) -> None:
    """Keep ``connections`` half-sent connections open for ``hold_s``; sample the service meanwhile."""
    stop = threading.Event()
    res.base_fds, res.base_rss_kb = _proc(pid)

    def sample() -> None:
        while not stop.is_set():
            try:
                fds, rss = _proc(pid)
            except OSError:
                return
            res.peak_fds, res.peak_rss_kb = max(res.peak_fds, fds), max(res.peak_rss_kb, rss)
            time.sleep(0.05)

    def health() -> None:
        with httpx.Client(timeout=5) as c:
            while not stop.is_set():
                t0 = time.perf_counter()
                try:
                    r = c.get(f"http://127.0.0.1:{port}/healthz")
                    if r.status_code == 200:
                        res.healthz.append(time.perf_counter() - t0)
                    else:
                        res.healthz_failures.append(f"status {r.status_code}")
                except httpx.HTTPError as exc:
                    res.healthz_failures.append(repr(exc)[:120])
                time.sleep(0.1)

    threads = [threading.Thread(target=sample, daemon=True), threading.Thread(target=health, daemon=True)]
    for t in threads:
        t.start()
    sel = selectors.DefaultSelector()

    def open_one() -> None:
        s = socket.socket()
        s.setblocking(True)
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(HALF)
        except OSError:
            res.connect_errors += 1
            s.close()
            return
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        res.opened += 1

    t0 = time.monotonic()
    end = t0 + hold_s
    for _ in range(connections):
        open_one()
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:  # closed by the service: come back at once
                sel.unregister(s)
                s.close()
                res.closed_by_server += 1
                if time.monotonic() < end:
                    open_one()
    res.seconds = time.monotonic() - t0
    stop.set()
    for t in threads:
        t.join(10)
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    sel.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--connections", type=int, default=3000, help="half-sent connections kept open")
    p.add_argument("--hold", type=float, default=20.0, help="seconds the flood lasts")
    p.add_argument("--serve", default="{}", help='settings for the serve: section, as JSON (e.g. {"max_connections": 200})')
    p.add_argument("--server-nofile", type=int, default=0, help="the service's descriptor limit (default: as inherited)")
    args = p.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the flood needs its own descriptors
    if args.connections + 200 > hard:
        raise SystemExit(f"--connections {args.connections} needs more descriptors than this process may open ({hard})")
    from tests.serve_helpers import Served

    prefix = ["prlimit", f"--nofile={args.server_nofile}:{args.server_nofile}", "--"] if args.server_nofile else []
    served = Served(Path(tempfile.mkdtemp(prefix="bench-flood-")), serve=json.loads(args.serve), prefix=prefix).start()
    try:
        pid = served.proc.pid
        limits = next(line for line in Path(f"/proc/{pid}/limits").read_text().splitlines() if "open files" in line)
        print(f"rca serve on {served.url} (pid {pid}; serve: {args.serve}; {' '.join(limits.split()[3:5])} open files)")
        lines_before = len(served.log_path.read_text(errors="replace").splitlines())
        res = FloodResult()
        flood(served.port, pid, args.connections, args.hold, res)
        after = served.log_path.read_text(errors="replace").splitlines()[lines_before:]
        res.log_lines, res.tracebacks = len(after), sum("Traceback" in line for line in after)
        for line in res.lines(args.connections, args.hold):
            print(line)
        return 0 if not res.healthz_failures and not res.tracebacks else 1
    finally:
        served.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


if __name__ == "__main__":
    raise SystemExit(main())
