"""The scheduler, through what it does: a job asked to run now runs and is recorded; one failing job
does not stop the other, its failure is recorded and counted, and its next run succeeds once the
source is back; a job runs one instance at a time; refits drop and refit its models. Against real
servers, with crons that are never due while a test runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rca import pipeline
from rca.config import ConfigError, cron_fields, load_settings
from rca.scheduler import Scheduler
from rca.store import Store
from tests.prometheus_server import END, PrometheusServer, Proxy
from tests.serve_helpers import SAMPLE, prepare

QUERY = "avg by (project) (avg_over_time(ci_build_duration_seconds[$bucket]))"


def prometheus_section(url: str, timeout_s: float = 5) -> dict:
    import pandas as pd

    return {"url": url, "retries": 0, "timeout_s": timeout_s, "lookback": "60d",
            "until": pd.Timestamp(END, unit="s", tz="UTC").isoformat(),
            "queries": [{"metric": "build_duration_seconds", "expr": QUERY, "scope_label": "project", "bucket": "day"}]}


def _wait(cond, timeout_s: float = 30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError("timed out")


YEARLY = "0 6 1 1 *"  # never due while a test runs: every run here is asked for


@contextmanager
def _service(tmp_path: Path, **config) -> Iterator[tuple[pipeline.Service, Scheduler, Store]]:
    """A started service with the scheduler alongside, over a store holding the demo sample."""
    prepare(tmp_path / "data")
    settings = pipeline.settings(
        None, data_dir=str(tmp_path / "data"), engine={"bootstrap": 5}, reports={"out_dir": str(tmp_path / "reports")},
        investigations=[{"target": SAMPLE.target, "scope": SAMPLE.scope, "last": "13 weeks"}], **config)
    service = pipeline.Service(settings, alongside=Scheduler)
    service.start()
    try:
        with Store(settings.store_url) as store:
            yield service, service.alongside, store
    finally:
        left = service.alongside.stop(wait_s=30)
        service.close()
        assert left == {}


def _count(service: pipeline.Service, name: str, labels: dict[str, str]) -> float:
    return service.metrics.registry.get_sample_value(name, labels) or 0.0


def test_a_failing_job_is_recorded_the_other_runs_and_the_next_run_succeeds_once_fixed(
        tmp_path: Path, prometheus: PrometheusServer) -> None:
    with Proxy(upstream=None) as proxy:  # Prometheus "down": the proxy answers 502, as a load balancer would
        jobs = [{"name": "prom", "cron": YEARLY, "collect": ["prometheus"]},
                {"name": "weekly", "cron": YEARLY, "report": True, "notify": False}]
        with _service(tmp_path, prometheus=prometheus_section(proxy.url), jobs=jobs) as (service, sched, store):
            sched.trigger("prom")
            sched.trigger("weekly")
            failed = _wait(lambda: store.runs(job="prom", status="failed"))
            done = _wait(lambda: store.runs(job="weekly", status="done"))
            assert failed[0].trigger == done[0].trigger == "schedule"
            assert "prometheus" in failed[0].error and "502" in failed[0].error
            assert failed[0].outputs["collect"]["prometheus"]["rows"] == 0
            assert Path(done[0].outputs["reports"]["html"]).is_file()
            assert done[0].outputs["results"][0]["top_cause"] == SAMPLE.cause
            assert [r.id for r in service.runs(job="prom")] == [failed[0].id]  # what GET /runs serves
            assert _count(service, "rca_collector_errors_total", {"collector": "prometheus"}) == 1
            assert _count(service, "rca_job_runs_total", {"job": "prom", "status": "failed"}) == 1
            # Prometheus is back: the next run of the same job succeeds and stores the rows.
            proxy.upstream = prometheus.url
            ok = sched.run_now("prom")
            assert ok.ok and ok.outputs["collect"]["prometheus"]["rows"] > 0 and ok.error is None
            assert [(r.trigger, r.status) for r in store.runs(job="prom")] == [("manual", "done"), ("schedule", "failed")]
            assert set(store.read(metrics=["build_duration_seconds"])["scope"]) == {
                "acme/payments", "acme/checkout", "acme/search"}
            with pytest.raises(pipeline.BadInput, match="no job named 'nope'"):
                sched.trigger("nope")


def test_a_job_runs_one_instance_at_a_time_and_asks_that_come_together_make_one_run(
        tmp_path: Path, prometheus: PrometheusServer) -> None:
    with Proxy(upstream=prometheus.url, delay_s=1.5) as slow:  # each answer held back: the run takes a while
        jobs = [{"name": "prom", "cron": YEARLY, "collect": ["prometheus"]}]
        with _service(tmp_path, prometheus=prometheus_section(slow.url), jobs=jobs) as (service, sched, store):
            sched.trigger("prom")
            _wait(lambda: store.runs(job="prom", status="running"))
            for _ in range(4):  # while it runs
                sched.trigger("prom")
            _wait(lambda: store.runs(job="prom", status="done"))
            _wait(lambda: not sched.busy())
            assert [(r.trigger, r.status) for r in store.runs(job="prom")] == [("schedule", "done")]
            skipped = _count(service, "rca_job_runs_skipped_total", {"job": "prom", "reason": "still_running"})
            assert 1 <= skipped <= 4  # asks that met the run were skipped; asks that came together, coalesced
            assert _count(service, "rca_job_runs_total", {"job": "prom", "status": "done"}) == 1


def test_refit_drops_and_refits_a_jobs_models(tmp_path: Path) -> None:
    jobs = [{"name": "weekly", "cron": YEARLY, "report": True, "notify": False, "refit": "0 3 * * *"}]
    with _service(tmp_path, jobs=jobs) as (service, sched, store):
        first = sched.run_now("weekly")
        assert first.ok and sched.models_cached() == 1
        assert sched.run_now("weekly").ok and sched.models_cached() == 1  # the same rows: the model fitted once is reused
        refit = sched.refit_now("weekly")
        assert refit.ok and refit.outputs == {"models_dropped": 1, "targets_refitted": 1, "models_cached": 1}
        kinds = [(r.trigger, r.status) for r in store.runs()]
        assert kinds == [("refit", "done"), ("manual", "done"), ("manual", "done")]
        assert set(sched.next_runs()) == {"weekly", "weekly:refit"}


def test_cron_expressions_are_checked_at_load_with_crontab_weekdays(tmp_path: Path) -> None:
    assert cron_fields("*/5 * * * * *")["second"] == "*/5"
    assert cron_fields("0 6 * * 1-5")["day_of_week"] == "mon,tue,wed,thu,fri"
    assert cron_fields("0 6 * * 0")["day_of_week"] == cron_fields("0 6 * * 7")["day_of_week"] == "sun"
    assert cron_fields("0 6 * * sat,sun")["day_of_week"] == "sat,sun"
    cfg = tmp_path / "rca.yaml"
    base = "investigations: [{target: t, scope: s, last: 1 week}]\n"
    cases = [
        ("jobs: [{name: a, cron: '61 * * * *', report: true}]", "jobs.0.cron: cron '61 * * * *'"),
        ("jobs: [{name: a, cron: '* * *', report: true}]", "needs 5 fields"),
        ("jobs: [{name: a, cron: '0 0 * * 9', report: true}]", "day of week '9' is out of range"),
        ("jobs: [{name: a, cron: '0 0 * * *', report: true, refit: 'often'}]", "jobs.0.refit"),
        ("jobs: [{name: a, cron: '0 0 * * *'}]", "does nothing"),
        ("jobs: [{name: a, cron: '0 0 * * *', collect: [svn]}]", "unknown collector"),
        ("jobs: [{name: a, cron: '0 0 * * *', collect: [git]}]", "collects git, which rca.yaml does not configure"),
        ("jobs: [{name: a, cron: '0 0 * * *', report: true}, {name: a, cron: '0 1 * * *', report: true}]", "unique"),
        ("jobs: [{name: a, cron: '0 0 * * *', report: true, timezone: Mars/Base}]", "unknown time zone"),
        ("serve: {token_env: ['https://hooks.example.com/x']}", "NAMES of environment variables"),
        ("serve: {port: 0}", "serve.port"),
    ]
    for text, needle in cases:
        cfg.write_text(base + text + "\n")
        with pytest.raises(ConfigError) as info:
            load_settings(cfg)
        assert needle in str(info.value) and "\n" not in str(info.value), (text, str(info.value))
    cfg.write_text("jobs: [{name: a, cron: '0 0 * * *', report: true}]\n")
    with pytest.raises(ConfigError, match="no investigations are configured"):
        load_settings(cfg)


def test_serve_without_a_token_refuses_to_start_in_one_line(rca, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RCA_API_TOKEN", raising=False)
    cfg = tmp_path / "rca.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\n")
    res = rca("serve", "--config", str(cfg))
    assert res.code == 2 and res.err.startswith("rca: error: serve.auth is on but no API token is set")
    assert len(res.err.strip().splitlines()) == 1
