"""Every face maps the one error tree the same way: bad input and our own bugs here, one test per face and
branch (a store that is down, the third branch, is tests/test_serve_store_down.py's, one test per face).

Bad input comes from a real mistake (a file that is not there, a scope the store lacks). A bug cannot
be made on purpose, so the internal branch puts one at the seam the face calls: a pipeline job that
raises an error of no kind of ours. What is checked is the face: the CLI's exit status and its one
line (and a bug's traceback, once), the HTTP status and body (and the log's one traceback), the
scheduler's recorded run, whether it is tried again, and its log lines.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rca import pipeline
from rca.api import create_app
from rca.scheduler import Scheduler
from rca.store import Store
from tests.serve_helpers import SAMPLE, prepare

YEARLY = "0 6 1 1 *"


def _bug(*args: object, **kwargs: object) -> None:
    raise RuntimeError("a bug near https://rca:hunter2hunter2@db.example/x")


def _settings(tmp_path: Path, **config: object):
    prepare(tmp_path / "data")
    return pipeline.settings(None, data_dir=str(tmp_path / "data"), engine={"bootstrap": 5},
                             reports={"out_dir": str(tmp_path / "reports")}, serve={"auth": False}, **config)


# --- the command line ------------------------------------------------------------------------------------


def test_cli_bad_input_is_one_line_and_exit_2(rca, tmp_path: Path) -> None:
    res = rca("investigate", "--data", str(tmp_path / "missing.csv"), "--graph", "delivery", "--target", "x",
              "--at", "latest")
    assert res.code == 2 and res.err.startswith("rca: error: data file ") and "does not exist" in res.err
    assert res.err.count("\n") == 1 and "Traceback" not in res.err


def test_cli_internal_error_is_one_line_then_its_traceback_once_and_exit_1(
        rca, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "graph", _bug)
    res = rca("graph", "show", "delivery")
    first, *rest = res.err.splitlines()
    assert res.code == 1 and first == ("rca: error: internal error: RuntimeError: a bug near https://rca:***@db.example/x "
                                       "(a bug in rca; the traceback follows)")
    assert res.err.count("Traceback (most recent call last):") == 1 and rest[-1].startswith("RuntimeError: ")
    assert "hunter2" not in res.err


# --- the HTTP API ----------------------------------------------------------------------------------------


@contextmanager
def _api(tmp_path: Path) -> Iterator[tuple[pipeline.Service, TestClient]]:
    service = pipeline.Service(_settings(tmp_path))
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        yield service, client


def test_api_bad_input_is_400_with_one_line(tmp_path: Path) -> None:
    with _api(tmp_path) as (_, client):
        r = client.post("/investigations", json={"target": SAMPLE.target, "scope": "nowhere", "last": "13 weeks"})
    assert r.status_code == 400 and r.json() == {
        "error": f"the store has no scope 'nowhere'; it holds {SAMPLE.scope}"}


def test_api_internal_error_is_500_and_its_traceback_logged_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    with _api(tmp_path) as (service, client):
        monkeypatch.setattr(service, "runs", _bug)
        caplog.clear()
        r = client.get("/runs", headers={"X-Request-ID": "req-1"})
    assert r.status_code == 500 and r.json() == {"error": "internal error; the service's log has the details (req-1)"}
    told = [x for x in caplog.records if x.exc_info]
    assert len(told) == 1 and told[0].name == "rca.api" and "RuntimeError" in told[0].getMessage()


# --- the scheduler ---------------------------------------------------------------------------------------


@contextmanager
def _scheduler(tmp_path: Path, **config: object) -> Iterator[tuple[pipeline.Service, Scheduler, Store]]:
    settings = _settings(tmp_path, **config)
    service = pipeline.Service(settings, alongside=Scheduler)
    service.start()
    try:
        with Store(settings.store_url) as store:
            yield service, service.alongside, store
    finally:
        service.alongside.stop(wait_s=10)
        service.close()


def test_scheduler_bad_input_is_a_failed_run_not_tried_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    jobs = [{"name": "weekly", "cron": YEARLY, "report": True, "notify": False, "retry_s": 1,
             "investigations": [{"target": SAMPLE.target, "scope": "nowhere", "last": "13 weeks"}]}]
    with _scheduler(tmp_path, jobs=jobs) as (_, sched, store):
        outcome = sched.run_now("weekly")
        assert outcome.status == "failed" and not outcome.retryable and "scope 'nowhere'" in outcome.error
        assert [(r.status, r.error) for r in store.runs()] == [("failed", outcome.error)]
        assert "weekly:retry" not in sched.next_runs()
    said = [x for x in caplog.records if x.name == "rca.scheduler" and x.levelno >= logging.ERROR]
    assert len(said) == 1 and said[0].exc_info is None and "trying again" not in said[0].getMessage()


def test_scheduler_internal_error_is_logged_with_its_traceback_once_and_the_jobs_go_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    jobs = [{"name": "weekly", "cron": YEARLY, "report": True, "notify": False, "retry_s": 1,
             "investigations": [{"target": SAMPLE.target, "scope": SAMPLE.scope, "last": "13 weeks"}]}]
    with _scheduler(tmp_path, jobs=jobs) as (service, sched, store):
        real = service.run_job
        monkeypatch.setattr(service, "run_job", _bug)
        outcome = sched.run_now("weekly")
        assert outcome.status == "failed" and not outcome.retryable
        assert outcome.error == "internal error: RuntimeError: a bug near https://rca:***@db.example/x"
        assert "weekly:retry" not in sched.next_runs()
        told = [x for x in caplog.records if x.exc_info]
        assert len(told) == 1 and told[0].name == "rca.scheduler"
        monkeypatch.setattr(service, "run_job", real)
        assert sched.run_now("weekly").ok and sched.running  # the scheduler and its jobs go on
        assert [r.status for r in store.runs()] == ["done"]  # the bug's run never reached the store
