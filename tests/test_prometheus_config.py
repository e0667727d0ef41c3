"""The prometheus: section: what it accepts, one-line errors that never echo a secret, and the read plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.prometheus import Plan, PrometheusSettings, QuerySettings, fingerprint, plan
from rca.config import ConfigError, load_settings

Q = "{metric: build_duration_seconds, scope_label: project, expr: 'avg_over_time(x[$bucket])'}"


def load(tmp_path: Path, section: str) -> PrometheusSettings:
    cfg = tmp_path / "rca.yaml"
    cfg.write_text("prometheus:\n" + section)
    return load_settings(cfg).prometheus


def test_a_full_section_loads(tmp_path: Path) -> None:
    s = load(tmp_path, "  url: https://prom.example.com/prometheus/\n"
                       "  auth: {username: rca, password_file: /run/secrets/prom}\n"
                       "  ca_file: /etc/ssl/ca.pem\n  until: 2025-11-20\n  queries:\n"
                       f"    - {Q}\n"
                       "    - {metric: workflow_duration_seconds, scope_label: [org, repo], bucket: week,\n"
                       "       since: 2025-01-01, expr: 'avg_over_time(y[$bucket])'}\n")
    assert s.configured and s.base_url == "https://prom.example.com/prometheus"
    assert s.queries[1].labels == ("org", "repo") and s.queries[1].promql == "avg_over_time(y[1w])"
    assert s.queries[1].since.isoformat() == "2025-01-01T00:00:00+00:00"
    assert s.until.isoformat() == "2025-11-20T00:00:00+00:00"
    assert s.auth.describe() == "basic auth as 'rca' with the password in /run/secrets/prom"


def test_the_default_section_asks_for_nothing() -> None:
    assert PrometheusSettings().configured is False


@pytest.mark.parametrize(("section", "needle"), [
    (f"  queries: [{Q}]\n", "prometheus queries need url"),
    (f"  url: prom:9090\n  queries: [{Q}]\n", "url must be an http:// or https:// address"),
    ("  url: https://admin:hunter2@prom.example.com\n", "url must not hold credentials"),
    ("  url: http://p\n  queries: [{metric: BuildTime, scope: x, expr: up}]\n", "must be snake_case"),
    ("  url: http://p\n  queries: [{metric: a_seconds, expr: up}]\n", "needs exactly one of scope_label"),
    ("  url: http://p\n  queries: [{metric: a_seconds, scope: x, scope_label: project, expr: up}]\n",
     "needs exactly one of scope_label"),
    (f"  url: http://p\n  queries: [{Q}, {Q}]\n", "several queries fill the metric(s) ['build_duration_seconds']"),
    ("  url: http://p\n  lookback: 3 months\n", "lookback '3 months' is not a duration"),
    ("  url: http://p\n  tls_verify: false\n  ca_file: /ca.pem\n", "the CA file would be ignored"),
    ("  url: http://p\n  max_points: 20000\n", "max_points"),
    ("  url: http://p\n  max_response_mb: 0\n", "max_response_mb"),
    ("  url: http://p\n  deadline_s: -1\n", "deadline_s"),
    ("  url: http://p\n  auth: {bearer_token_env: T, username: u, password_env: P}\n", "not both"),
    ("  url: http://p\n  auth: {username: u}\n", "basic auth needs username and one of"),
    ("  url: http://p\n  queries: [{metric: a_seconds, scope_label: 'x-y', expr: up}]\n", "not a Prometheus label name"),
    ("  url: http://p\n  queries: [{metric: a_seconds, scope_label: x, bucket: month, expr: up}]\n", "bucket"),
])
def test_bad_sections_are_one_line(tmp_path: Path, section: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, section)
    assert needle in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("section", [
    "  url: http://p\n  auth: {bearer_token_env: 'glpat-Xy9.secret-token'}\n",
    "  url: http://p\n  auth: {username: u, password_env: 'hunter2!'}\n",
    "  url: http://p\n  auth: {bearer_token_file: 'https://glpat-Xy9secret'}\n",
    "  url: https://admin:hunter2@prom.example.com\n",
])
def test_a_secret_in_the_wrong_place_is_never_echoed(tmp_path: Path, section: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, section)
    assert not any(secret in str(info.value) for secret in ("glpat", "hunter2"))


def _q(**kw: object) -> QuerySettings:
    return QuerySettings(**{"metric": "a_seconds", "scope": "x", "expr": "avg_over_time(a[$bucket])", **kw})


def test_the_plan_reads_complete_buckets_and_chunks_without_overlap() -> None:
    day = 86_400
    now = 1_800_000_000  # 2027: the until below is in the past
    s = PrometheusSettings(url="http://p", until="2025-11-20T13:00:00Z", queries=[_q(since="2025-11-01T05:00:00Z")])
    p = plan(s.queries[0], s, None, now=now)
    assert p == Plan(first=1_761_955_200, count=19, step=day, full_read=True)  # Nov 1..19: the 20th has not ended
    chunks = p.chunks(7)
    assert chunks == [(p.first + day - 1, p.first + 7 * day - 1), (p.first + 8 * day - 1, p.first + 14 * day - 1),
                      (p.first + 15 * day - 1, p.first + 19 * day - 1)]
    saved = {"fingerprint": fingerprint(s.queries[0], s), "last_bucket": "2025-11-19T00:00Z"}
    again = plan(s.queries[0], s, saved, now=now)
    assert (again.first, again.count, again.full_read) == (p.last, 1, False)  # the last bucket is re-read
    changed = s.model_copy(update={"queries": (_q(since="2025-11-01T05:00:00Z", expr="max_over_time(a[$bucket])"),)})
    assert plan(changed.queries[0], changed, saved, now=now).full_read is True
    later = s.model_copy(update={"lookback": "2w", "queries": (_q(),)})
    assert plan(later.queries[0], later, None, now=now).first == 1_763_596_800 - 14 * day  # lookback from until


def test_without_the_prometheus_binaries_the_fixture_fails_with_a_clear_message(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.prometheus_server import bench_series, serve

    monkeypatch.setenv("PATH", str(tmp_path))  # no prometheus, no promtool
    with pytest.raises(RuntimeError, match=r"need Debian's prometheus package .*make system-deps"):
        serve(bench_series(1, 1), tmp_path / "server")
