"""The Prometheus collector against a real server: values read back equal the samples written.

The session's server (``prometheus`` fixture, tests/conftest.py) holds sixty days of hourly
samples (tests.prometheus_server.fixture_series). Each test reads them through the collector
and compares with the samples themselves: means, last values, maxima and counter increases per
bucket, across request chunks, around a hole, for several label sets mapped to scopes, and
across an incremental second run.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from collectors.prometheus import PrometheusSettings, collect
from core.observations import bucket_of
from rca.config import Settings
from rca.pipeline import collect as run_collect
from rca.store import Store
from tests.prometheus_server import (
    DAY,
    DAYS,
    END,
    HOUR,
    PROJECTS,
    SEARCH_HOLE_DAYS,
    START,
    PrometheusServer,
    Proxy,
    fixture_series,
    request_rate,
)

SERIES = fixture_series()


def iso(seconds: int) -> str:
    return pd.Timestamp(seconds, unit="s", tz="UTC").isoformat()


def settings(url: str, *queries: dict[str, Any], **kw: Any) -> PrometheusSettings:
    """A section reading ``queries`` over the whole fixture (unless overridden)."""
    doc: dict[str, Any] = {"url": url, "until": iso(END), "retries": 0, "queries": [
        {"since": iso(START), **q} for q in queries]}
    return PrometheusSettings(**{**doc, **kw})


def samples(name: str, **labels: str) -> dict[int, float]:
    """Unix seconds -> value of the one fixture series with this name and these labels."""
    found = [s for s in SERIES if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (name, labels, len(found))
    return dict(found[0].samples)


def by_bucket(points: dict[int, float], unit: str) -> dict[int, list[float]]:
    out: dict[int, list[float]] = defaultdict(list)
    for t, v in sorted(points.items()):
        out[int(bucket_of(t, unit))].append(v)
    return dict(out)


def rows(obs: pd.DataFrame, metric: str, scope: str) -> dict[int, float]:
    """Unix seconds of each bucket start -> value, for one metric and scope (and no duplicates)."""
    part = obs[(obs["metric"] == metric) & (obs["scope"] == scope)]
    seconds = [int(t.timestamp()) for t in part["ts"]]
    out = dict(zip(seconds, part["value"].tolist(), strict=True))
    assert len(out) == len(part), "one row per bucket"
    return out


def test_daily_means_equal_the_samples_and_a_hole_stays_missing(prometheus: PrometheusServer) -> None:
    got = collect(settings(prometheus.url, {"metric": "build_duration_seconds", "scope_label": "project",
                                            "expr": "avg_over_time(ci_build_duration_seconds[$bucket])"}), {}, None)
    assert got.failures == () and got.notes == ()
    assert set(got.observations["source"]) == {"prometheus"}
    for project in PROJECTS:
        expected = {day: sum(v) / len(v) for day, v in by_bucket(samples("ci_build_duration_seconds", project=project),
                                                                   "day").items()}
        read = rows(got.observations, "build_duration_seconds", project)
        assert read.keys() == expected.keys()
        assert read == pytest.approx(expected, rel=1e-12)
    search = rows(got.observations, "build_duration_seconds", "acme/search")
    assert len(search) == DAYS - len(SEARCH_HOLE_DAYS)
    assert all(START + d * DAY not in search for d in SEARCH_HOLE_DAYS)  # missing, not zero
    assert got.units["build_duration_seconds"]["full_read"] is True
    assert got.state["build_duration_seconds"]["last_bucket"] == "2025-11-19T00:00Z"


def test_hourly_values_are_the_samples_exactly_across_chunk_boundaries(prometheus: PrometheusServer) -> None:
    q = {"metric": "build_duration_seconds", "scope_label": "project", "bucket": "hour",
         "expr": "last_over_time(ci_build_duration_seconds[$bucket])"}
    got = collect(settings(prometheus.url, q, max_points=100), {}, None)
    assert got.failures == ()
    assert got.units["build_duration_seconds"]["requests"] == 15  # 1,440 hours in requests of 100 points
    for project in PROJECTS:
        assert rows(got.observations, "build_duration_seconds", project) == samples("ci_build_duration_seconds",
                                                                                   project=project)
    search = rows(got.observations, "build_duration_seconds", "acme/search")
    assert len(search) == DAYS * 24 - 48
    assert not any(START + d * DAY <= t < START + (d + 1) * DAY for t in search for d in SEARCH_HOLE_DAYS)
    # One request of 11,000 points reads the same thing.
    whole = collect(settings(prometheus.url, q), {}, None)
    assert whole.units["build_duration_seconds"]["requests"] == 1
    def ordered(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sort_values(["scope", "ts"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(ordered(whole.observations), ordered(got.observations))


def test_weekly_maxima_follow_monday_weeks(prometheus: PrometheusServer) -> None:
    got = collect(settings(prometheus.url, {"metric": "build_duration_max_seconds", "scope_label": "project",
                                            "bucket": "week",
                                            "expr": "max_over_time(ci_build_duration_seconds[$bucket])"}), {}, None)
    assert got.failures == ()
    expected = {week: max(v) for week, v in by_bucket(samples("ci_build_duration_seconds", project="acme/payments"),
                                                      "week").items()}
    last_complete = int(bucket_of(END, "week")) - 7 * DAY  # END is a Thursday: its week has not ended
    expected = {w: v for w, v in expected.items() if w <= last_complete}
    read = rows(got.observations, "build_duration_max_seconds", "acme/payments")
    assert read == expected
    first = min(read)
    assert pd.Timestamp(first, unit="s").day_name() == "Monday" and first < START  # the partial first week


def test_counters_through_increase_per_day(prometheus: PrometheusServer) -> None:
    got = collect(settings(prometheus.url, {"metric": "requests_count", "scope_label": "service",
                                            "expr": 'increase(http_requests_total{code="200"}[$bucket])'}), {}, None)
    assert got.failures == ()
    for service in ("checkout", "payments", "search"):
        rate = request_rate(service, "200")
        expected = {START + d * DAY: 24 * rate(d) for d in range(DAYS)}
        assert rows(got.observations, "requests_count", service) == pytest.approx(expected, rel=1e-9)


def test_label_sets_map_to_scopes_and_a_true_zero_is_kept(prometheus: PrometheusServer) -> None:
    errors = 'sum by (service) (increase(http_requests_total{code=~"5.."}[$bucket]))'
    total = "sum by (service) (increase(http_requests_total[$bucket]))"
    got = collect(settings(
        prometheus.url,
        {"metric": "http_error_ratio", "scope_label": "service", "expr": f"({errors} or {total} * 0) / {total}"},
        {"metric": "workflow_duration_seconds", "scope_label": ["org", "repo"],
         "expr": "sum by (org, repo) (increase(workflow_execution_time_seconds_sum[$bucket])) / "
                 "sum by (org, repo) (increase(workflow_execution_time_seconds_count[$bucket]))"},
    ), {}, None)
    assert got.failures == ()
    obs = got.observations
    assert set(obs.loc[obs["metric"] == "http_error_ratio", "scope"]) == {"checkout", "payments", "search"}
    # search has no 5xx series at all: `or ... * 0` makes its ratio a real 0, not a gap.
    assert set(rows(obs, "http_error_ratio", "search").values()) == {0.0}
    bad, good = request_rate("checkout", "500"), request_rate("checkout", "200")
    expected = {START + d * DAY: bad(d) / (bad(d) + good(d)) for d in range(DAYS)}
    assert rows(obs, "http_error_ratio", "checkout") == pytest.approx(expected, rel=1e-9)
    assert set(obs.loc[obs["metric"] == "workflow_duration_seconds", "scope"]) == {"acme/payments", "acme/checkout"}
    assert rows(obs, "workflow_duration_seconds", "acme/payments")[START + 3 * DAY] == pytest.approx(600 + 3, rel=1e-9)
    assert got.state["http_error_ratio"]["scopes"] == ["checkout", "payments", "search"]


def test_nan_and_infinite_points_are_dropped_with_a_note(prometheus: PrometheusServer) -> None:
    got = collect(settings(prometheus.url, {"metric": "queue_wait_seconds", "scope": "checkout", "bucket": "hour",
                                            "expr": "last_over_time(queue_wait_seconds[$bucket])"}), {}, None)
    assert got.failures == ()
    written = samples("queue_wait_seconds", service="checkout")
    finite = {t: v for t, v in written.items() if math.isfinite(v)}
    assert len(finite) == len(written) - 3
    assert rows(got.observations, "queue_wait_seconds", "checkout") == finite
    assert got.units["queue_wait_seconds"]["dropped_non_finite"] == 3
    assert any("dropped 3 NaN or infinite point(s)" in n for n in got.notes)


def test_an_instant_selector_is_read_at_each_bucket_end_with_a_note(prometheus: PrometheusServer) -> None:
    # Evaluated one second before each hour ends, the hourly samples are an hour old: outside the
    # 5-minute lookback. A day-old hour bucket read at 23:59:59 has none either; but a 5-minute
    # step would: the note says how to summarise the bucket instead.
    got = collect(settings(prometheus.url, {"metric": "build_duration_seconds", "scope_label": "project",
                                            "expr": "max by (project) (ci_build_duration_seconds)"}), {}, None)
    assert len(got.failures) == 1
    assert "no range selector" in got.failures[0] and "last_over_time(...[$bucket])" in got.failures[0]


def _pipeline_settings(tmp_path: Path, url: str, until: int, expr: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", prometheus={
        "url": url, "until": iso(until), "retries": 0,
        "queries": [{"metric": "build_duration_seconds", "scope_label": "project", "since": iso(START), "expr": expr}]})


def test_second_run_reads_only_the_new_range_and_replaces_the_last_bucket(prometheus: PrometheusServer,
                                                                           tmp_path: Path) -> None:
    expr = "avg_over_time(ci_build_duration_seconds[$bucket])"
    mid = START + 30 * DAY + 12 * HOUR  # the first run happens mid-day: day 29 is the last complete one
    first = run_collect(_pipeline_settings(tmp_path, prometheus.url, mid, expr)).run("prometheus")
    assert first.ok and first.units["build_duration_seconds"]["full_read"] is True
    assert first.units["build_duration_seconds"]["last_bucket"] == "2025-10-20T00:00Z"
    with Proxy(prometheus.url) as proxy:
        second = run_collect(_pipeline_settings(tmp_path, proxy.url, END, expr)).run("prometheus")
    assert second.ok, second.failures
    unit = second.units["build_duration_seconds"]
    assert unit["full_read"] is False and unit["first_bucket"] == "2025-10-20T00:00Z"  # day 29 again, then new ones
    assert [(s.params["start"], s.params["end"], s.params["step"]) for s in proxy.seen] == [
        (str(START + 30 * DAY - 1), str(END - 1), str(DAY))]
    assert second.lines[0].endswith("incremental, 1 request(s)")
    # What the two runs stored is what one full read gives.
    full = collect(settings(prometheus.url, {"metric": "build_duration_seconds", "scope_label": "project",
                                             "expr": expr}), {}, None).observations
    with Store(f"sqlite:///{tmp_path / 'data' / 'whydunnit.db'}") as store:
        stored = store.read(metrics=["build_duration_seconds"])
    key = ["scope", "ts"]
    a = stored.sort_values(key).reset_index(drop=True)[["ts", "scope", "value"]]
    b = full.sort_values(key).reset_index(drop=True)[["ts", "scope", "value"]]
    assert len(a) == len(b) == 3 * DAYS - len(SEARCH_HOLE_DAYS)
    assert a["scope"].tolist() == b["scope"].tolist()
    assert (a["ts"].dt.tz_convert("UTC") == b["ts"]).all() and a["value"].tolist() == b["value"].tolist()
    # Nothing new since: one more run re-reads the last day only.
    third = run_collect(_pipeline_settings(tmp_path, prometheus.url, END, expr)).run("prometheus")
    assert third.units["build_duration_seconds"]["points"] == 3 and third.rows == 3
    # A changed expression re-reads everything and replaces the metric's rows.
    changed = run_collect(_pipeline_settings(tmp_path, prometheus.url, END,
                                             "max_over_time(ci_build_duration_seconds[$bucket])")).run("prometheus")
    assert changed.units["build_duration_seconds"]["full_read"] is True
    with Store(f"sqlite:///{tmp_path / 'data' / 'whydunnit.db'}") as store:
        stored = store.read(metrics=["build_duration_seconds"], scope="acme/payments")
    assert len(stored) == DAYS
    assert stored["value"].max() == max(samples("ci_build_duration_seconds", project="acme/payments").values())
