"""PostgreSQL goes down under a running service, then comes back: every face says "unavailable".

A real PostgreSQL cluster of this test's own (the session's is shared, so it is not the one
stopped): the HTTP API answers 503 with Retry-After to reads and questions alike, /readyz says
not ready, the CLI exits 3 with one line, the scheduler's run fails as one log line (no
traceback) and is tried again once the store is back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rca import pipeline
from rca.scheduler import Scheduler
from rca.store import Store
from rca.telemetry import ServiceMetrics
from tests.postgres_server import PostgresServer, bindir, require_driver
from tests.serve_helpers import SAMPLE, Served, ask


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    require_driver()
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


def _down(pg: PostgresServer) -> None:
    pg._run(bindir() / "pg_ctl", "-D", pg.data, "-m", "immediate", "-w", "stop")


def _up(pg: PostgresServer) -> None:
    opts = (f"-c listen_addresses=127.0.0.1 -p {pg.port} -c unix_socket_directories={pg.sockets} "
            "-c fsync=off -c max_connections=60")
    pg._run(bindir() / "pg_ctl", "-D", pg.data, "-l", pg.root / "server.log", "-o", opts, "-w", "start")


def _filled(pg: PostgresServer) -> str:
    url = pg.database()
    with Store(url) as store:
        store.write(SAMPLE.observations)
    return url


def test_the_api_answers_503_while_the_store_is_down(pg: PostgresServer, tmp_path: Path) -> None:
    url = _filled(pg)
    served = Served(tmp_path, extra=f"store: {{url: '{url}'}}\n").start()
    try:
        with served.client() as c:
            assert c.get("/runs").status_code == 200
            _down(pg)
            try:
                for method, path, body in (("GET", "/runs", None), ("GET", "/investigations", None),
                                           ("GET", "/investigations/some-id", None), ("POST", "/investigations", ask()),
                                           ("POST", "/recommendations", {"target": SAMPLE.target, "scope": SAMPLE.scope})):
                    r = c.request(method, path, json=body)
                    assert r.status_code == 503, (method, path, r.status_code, r.text)
                    assert r.headers["retry-after"] == "5" and "\n" not in r.json()["error"]
                    assert pg.password not in r.text
                ready = c.get("/readyz")
                assert ready.status_code == 503 and ready.json()["status"] == "not ready"
                assert pg.password not in ready.text
            finally:
                _up(pg)
            assert c.get("/runs").status_code == 200  # back without a restart
            assert c.post("/investigations", json=ask()).status_code == 202
    finally:
        served.stop()
    log = served.log_path.read_text()
    assert "Traceback" not in log and pg.password not in log


def test_the_cli_exits_3_and_the_scheduler_retries_once_the_store_is_back(pg: PostgresServer, tmp_path: Path,
                                                                         rca, caplog: pytest.LogCaptureFixture) -> None:
    url = _filled(pg)
    cfg = tmp_path / "rca.yaml"
    cfg.write_text(f"store: {{url: '{url}'}}\n")
    settings = pipeline.settings(
        None, data_dir=str(tmp_path / "data"), store={"url": url}, engine={"bootstrap": 5},
        reports={"out_dir": str(tmp_path / "reports")},
        investigations=[{"target": SAMPLE.target, "scope": SAMPLE.scope, "last": "13 weeks"}],
        jobs=[{"name": "weekly", "cron": "0 6 1 1 *", "report": True, "notify": False, "retry_s": 1}])
    with Store(url) as store:
        metrics = ServiceMetrics()
        sched = Scheduler(settings, store, metrics)
        sched.start()
        try:
            _down(pg)
            try:
                res = rca("investigate", "--graph", "delivery", "--target", SAMPLE.target, "--scope", SAMPLE.scope,
                          "--at", "latest", "--config", str(cfg))
                assert res.code == 3 and res.err.startswith("rca: error: cannot ") and res.err.count("\n") == 1, res
                assert pg.password not in res.err
                failed = sched.run_now("weekly")
                assert failed.status == "failed" and failed.retryable and "cannot" in failed.error
                assert pg.password not in failed.error
                assert "weekly:retry" in sched.next_runs()
                assert metrics.registry.get_sample_value("rca_job_runs_total", {"job": "weekly", "status": "failed"}) == 1
                said = [r for r in caplog.records if r.name == "rca.scheduler" and r.levelname == "ERROR"]
                assert len(said) == 1 and said[0].exc_info is None and "trying again in 1 s" in said[0].getMessage()
            finally:
                _up(pg)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not store.runs(job="weekly", status="done"):
                time.sleep(0.2)
            done = store.runs(job="weekly")
            assert [(r.trigger, r.status) for r in done] == [("retry", "done")], done
        finally:
            sched.stop(wait_s=10)
