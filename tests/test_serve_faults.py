"""Faults of a real ``rca serve``: killed during a run and restarted; then stopped with SIGTERM during a run.

The run is a scheduled collection from a Prometheus that takes 30 s to answer (a loopback proxy
that holds every request), so it is surely running when the signal comes.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

import httpx

from tests.prometheus_server import Proxy
from tests.serve_helpers import SAMPLE, TOKEN, Served, ask, poll
from tests.test_scheduler import prometheus_section


def _slow_job(proxy: Proxy) -> str:
    section = prometheus_section(proxy.url, timeout_s=60)
    return (f"prometheus: {json.dumps(section)}\n"
            "jobs:\n  - {name: slow-collect, cron: '* * * * * *', collect: [prometheus]}\n")


def _running_run(served: Served, timeout_s: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout_s
    with served.client() as c:
        while time.monotonic() < deadline:
            runs = c.get("/runs", params={"status": "running"}).json()
            if runs:
                return runs[0]
            time.sleep(0.1)
    raise AssertionError("no run started")


def _db(root: Path) -> sqlite3.Connection:
    return sqlite3.connect(root / "data" / "whydunnit.db")


def test_killed_during_a_run_restarted_then_stopped_with_sigterm_during_another(tmp_path: Path) -> None:
    with Proxy(upstream=None, delay_s=30) as slow:
        # 1. SIGKILL during a run: nothing can clean up; the run stays "running" in the store.
        served = Served(tmp_path, extra=_slow_job(slow)).start()
        try:
            killed = _running_run(served)
            served.proc.kill()
            assert served.wait(10) == -signal.SIGKILL
        finally:
            served.stop()
        with _db(tmp_path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert db.execute("SELECT status FROM runs WHERE id = ?", (killed["id"],)).fetchone() == ("running",)
            observations = db.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
        assert observations == len(SAMPLE.observations)  # the killed collection wrote nothing half-way

        # 2. Restarted on the same store: the killed run is marked interrupted; the service works.
        again = Served(tmp_path, serve={"shutdown_grace_s": 3}, extra=_slow_job(slow)).start()
        try:
            with again.client() as c:
                after = c.get(f"/runs/{killed['id']}").json()
                assert after["status"] == "interrupted" and after["finished_at"] is not None
                assert "killed or crashed" in after["error"]
                assert httpx.get(f"{again.url}/readyz").status_code == 200
                r = c.post("/investigations", json=ask())
                assert r.status_code == 202 and poll(c, r.json()["id"])["status"] == "done"
            warned = [x for x in again.log_lines() if "left unfinished by a stopped service" in x.get("msg", "")]
            assert warned and warned[0]["msg"].startswith("marked 1 run(s)")

            # 3. SIGTERM during a run: no new work (503), reads and health still answered, the run recorded
            # as interrupted once the grace time is over, the store closed, exit status 0.
            running = _running_run(again)
            again.signal(signal.SIGTERM)
            with again.client() as c:
                deadline = time.monotonic() + 2
                while c.get("/readyz").status_code == 200 and time.monotonic() < deadline:
                    time.sleep(0.05)
                ready = c.get("/readyz")
                assert ready.status_code == 503 and ready.json()["draining"] is True
                assert c.get("/healthz").status_code == 200
                r = c.post("/investigations", json=ask())
                assert r.status_code == 503 and r.headers["retry-after"] == "5" and "stopping" in r.json()["error"]
                assert c.get("/runs").status_code == 200
            assert again.wait(20) == 0
        finally:
            again.stop()
    with _db(tmp_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT COUNT(*) FROM observations").fetchone()[0] == observations
        status, error = db.execute("SELECT status, error FROM runs WHERE id = ?", (running["id"],)).fetchone()
        left = db.execute("SELECT COUNT(*) FROM runs WHERE status = 'running'").fetchone()[0]
        questions = dict(db.execute("SELECT status, COUNT(*) FROM investigations GROUP BY status").fetchall())
    assert status == "interrupted" and "SIGTERM" in error and left == 0
    assert questions == {"done": 1}
    msgs = [x.get("msg", "") for x in again.log_lines()]
    assert "received SIGTERM" in msgs and "stopped; store closed" in msgs
    assert TOKEN not in again.log_path.read_text()
