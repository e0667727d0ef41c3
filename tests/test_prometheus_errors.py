"""The failures users meet with Prometheus, each one line naming the query, against real servers.

No mocks: the server is Debian's prometheus (the session's, plus one started here with a 1 ms
query timeout), and the failures Prometheus itself cannot produce (401, a flaky 503, a 429,
a slow answer, a TLS certificate nobody trusts, an HTML login page) come from a loopback proxy
in front of it (tests.prometheus_server.Proxy). A failing query never stops the others.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from collectors.base import Collected
from collectors.prometheus import PrometheusSettings, collect
from core.errors import InputError
from tests.prometheus_server import (
    END,
    START,
    PrometheusServer,
    Proxy,
    Reply,
    backfill,
    free_port,
    self_signed_cert,
)

GOOD = {"metric": "build_duration_seconds", "scope_label": "project",
        "expr": "avg_over_time(ci_build_duration_seconds[$bucket])"}
TOKEN = "s3cr3t-t0ken-value"


def iso(seconds: int) -> str:
    return pd.Timestamp(seconds, unit="s", tz="UTC").isoformat()


def run(url: str, *queries: dict[str, Any], **kw: Any) -> Collected:
    doc: dict[str, Any] = {"url": url, "until": iso(END), "retries": 0, "backoff_s": 0.01,
                           "queries": [{"since": iso(START), **q} for q in (queries or (GOOD,))]}
    return collect(PrometheusSettings(**{**doc, **kw}), {}, None)


def everything(got: Collected) -> str:
    return "\n".join([*got.failures, *got.notes, *got.lines, repr(dict(got.state)), repr(dict(got.units))])


@pytest.fixture(scope="module")
def slow_prometheus(prometheus: PrometheusServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """A second server over the same samples whose queries all time out (--query.timeout=1ms)."""
    work = tmp_path_factory.mktemp("slow-prometheus")
    samples = prometheus.data_dir.parent / "samples.om.txt"
    shutil.copy(samples, work / "samples.om.txt")
    backfill(work / "samples.om.txt", work / "data")
    server = PrometheusServer(work / "data", ["--query.timeout=1ms"]).start()
    try:
        yield server
    finally:
        server.stop()


def test_unreachable_server_fails_the_first_query_and_skips_the_rest(rca, tmp_path: Path) -> None:
    port = free_port()
    cfg = tmp_path / "rca.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\nprometheus:\n  url: http://127.0.0.1:{port}\n  retries: 0\n"
                   "  queries:\n"
                   "    - {metric: build_duration_seconds, scope_label: project, expr: 'avg_over_time(x[$bucket])'}\n"
                   "    - {metric: http_error_ratio, scope: checkout, expr: 'avg_over_time(y[$bucket])'}\n")
    res = rca("collect", "--config", str(cfg))
    assert res.code == 1
    assert [x for x in res.err.splitlines() if not x.startswith("rca: progress: ")] == [
        f"rca: error: prometheus: build_duration_seconds: cannot reach Prometheus at http://127.0.0.1:{port}: "
        "connection refused (is it running, and is the port right?)",
        f"rca: error: prometheus: http_error_ratio: not run: http://127.0.0.1:{port} was unreachable "
        "for build_duration_seconds",
    ]
    assert "stored 0 observations" in res.out


def test_a_host_that_does_not_resolve() -> None:
    got = run("http://prometheus.invalid:9090")
    assert got.failures == ("build_duration_seconds: cannot reach Prometheus at http://prometheus.invalid:9090: "
                            "the host name 'prometheus.invalid' does not resolve",)


def test_bad_promql_shows_prometheus_message_and_the_query_while_the_others_land(prometheus: PrometheusServer) -> None:
    got = run(prometheus.url, GOOD, {"metric": "broken_seconds", "scope": "x", "expr": "rate(foo[5m]"},
              {"metric": "dup_seconds", "scope": "x",
               "expr": 'label_replace(last_over_time(ci_build_duration_seconds[$bucket]), "project", "x", "", "")'})
    assert got.failures == (
        "broken_seconds: Prometheus rejected the query (HTTP 400 bad_data: 1:13: parse error: unclosed left "
        "parenthesis); the query was: rate(foo[5m]",
        "dup_seconds: Prometheus rejected the query (HTTP 422 execution: vector cannot contain metrics with the same "
        'labelset); the query was: label_replace(last_over_time(ci_build_duration_seconds[1d]), "project", "x", "", "")',
    )
    assert set(got.observations["metric"]) == {"build_duration_seconds"} and len(got.observations) > 100
    assert set(got.state) == {"build_duration_seconds"}  # the failed queries keep their old state (none)


def test_a_query_that_times_out_on_the_server_is_not_retried_and_says_what_to_do(
        slow_prometheus: PrometheusServer) -> None:
    heavy = {"metric": "peak_requests_count", "scope": "all",  # a subquery: 8,640 evaluations per bucket
             "expr": "max_over_time(sum(increase(http_requests_total[1d]))[30d:5m])"}
    with Proxy(slow_prometheus.url) as proxy:
        got = run(proxy.url, heavy, retries=3)
    # Where the server's deadline strikes decides its wording: 503 "timeout: query timed out in expression
    # evaluation", or 422 "execution: expanding series: context deadline exceeded". Both are timeouts.
    (line,) = got.failures
    said = re.fullmatch(r"peak_requests_count: the query timed out on the server \((HTTP 503 timeout: query timed "
                        r"out in expression evaluation|HTTP 422 execution: .*context deadline exceeded)\) reading "
                        r"2025-09-21T23:59Z\.\.2025-11-19T23:59Z; use a coarser bucket \(now day\), lower max_points "
                        r"\(now 11000\) to split the range into smaller requests, or a cheaper expression \(a recording "
                        r"rule\)", line)
    assert said, line
    assert len(proxy.seen) == 1  # its own timeout: a retry would only repeat it
    assert proxy.seen[0].params["timeout"] == "27"  # 90% of timeout_s: the server gives up first and says so


def test_flaky_5xx_and_429_are_retried_with_backoff(prometheus: PrometheusServer) -> None:
    with Proxy(prometheus.url, script=[Reply(503, "upstream restarting", {"Content-Type": "text/plain"}),
                                       Reply(502, "<html>bad gateway</html>", {"Content-Type": "text/html"})]) as proxy:
        got = run(proxy.url, retries=2)
    assert got.failures == () and len(got.observations) > 100
    assert len(proxy.seen) == 3
    with Proxy(prometheus.url, script=[Reply(429, "slow down", {"Content-Type": "text/plain", "Retry-After": "0"})]
               ) as proxy:
        got = run(proxy.url, retries=1, backoff_s=30)  # Retry-After is waited exactly (here: at once), not the backoff
    assert got.failures == () and len(proxy.seen) == 2
    with Proxy(prometheus.url, script=[Reply(429, "slow down", {"Content-Type": "text/plain", "Retry-After": "120"})]
               ) as proxy:
        got = run(proxy.url, retries=1, max_retry_after_s=60)  # a longer ask than allowed is reported, not slept
    assert got.failures == ("build_duration_seconds: Prometheus rate-limited the query (HTTP 429 slow down); run the "
                            "collection less often or raise retries; it asked to wait 120 s (Retry-After), more than "
                            "max_retry_after_s (60 s)",)
    assert len(proxy.seen) == 1
    with Proxy(prometheus.url, script=[Reply(503, "upstream restarting", {"Content-Type": "text/plain"})] * 3) as proxy:
        got = run(proxy.url, retries=2)
    assert got.failures == ("build_duration_seconds: Prometheus was unavailable (HTTP 503 upstream restarting) "
                            "after 2 retries reading 2025-09-21T23:59Z..2025-11-19T23:59Z; if it is overloaded rather "
                            "than restarting, use a coarser bucket (now day) or lower max_points (now 11000) to split "
                            "the range into smaller requests",)
    assert len(proxy.seen) == 3
    with Proxy(prometheus.url, script=[Reply(502, "<html>bad gateway</html>", {"Content-Type": "text/html"})] * 2
               ) as proxy:
        got = run(proxy.url, retries=1)
    assert got.failures == ("build_duration_seconds: Prometheus answered HTTP 502 Bad Gateway after 1 retries",)


def test_a_client_timeout_is_retried_then_reported(prometheus: PrometheusServer) -> None:
    with Proxy(prometheus.url, delay_s=1.0) as proxy:
        got = run(proxy.url, retries=1, timeout_s=0.2)
    assert got.failures == ("build_duration_seconds: no complete answer from " + proxy.url + " within 0.2 s (after 1 retries); "
                            "raise timeout_s, lower max_points (smaller requests) or use a coarser bucket",)
    assert len(proxy.seen) == 2


def test_bearer_token_from_the_environment_or_a_file(prometheus: PrometheusServer, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with Proxy(prometheus.url, token=TOKEN) as proxy:
        monkeypatch.setenv("RCA_TEST_PROM_TOKEN", TOKEN)
        good = run(proxy.url, auth={"bearer_token_env": "RCA_TEST_PROM_TOKEN"})
        assert good.failures == () and len(good.observations) > 100
        assert proxy.seen[-1].authorization == f"Bearer {TOKEN}"
        token_file = tmp_path / "token"
        token_file.write_text(TOKEN + "\n")
        assert run(proxy.url, auth={"bearer_token_file": str(token_file)}).failures == ()

        monkeypatch.setenv("RCA_TEST_PROM_TOKEN", "wrong-" + TOKEN)
        bad = run(proxy.url, auth={"bearer_token_env": "RCA_TEST_PROM_TOKEN"})
        assert bad.failures == ("build_duration_seconds: Prometheus refused the credentials (HTTP 401 Unauthorized): "
                                "the bearer token in $RCA_TEST_PROM_TOKEN",)
        assert TOKEN not in everything(bad)
        none = run(proxy.url)
        assert none.failures == ("build_duration_seconds: Prometheus wants credentials (HTTP 401 Unauthorized) and "
                                 "none are configured: set prometheus.auth",)

        monkeypatch.delenv("RCA_TEST_PROM_TOKEN")
        with pytest.raises(InputError, match=r"^prometheus.auth: the environment variable RCA_TEST_PROM_TOKEN "
                                             r"\(the bearer token\) is not set or empty$"):
            run(proxy.url, auth={"bearer_token_env": "RCA_TEST_PROM_TOKEN"})


def test_basic_auth(prometheus: PrometheusServer, monkeypatch: pytest.MonkeyPatch) -> None:
    with Proxy(prometheus.url, basic=("rca", TOKEN)) as proxy:
        monkeypatch.setenv("RCA_TEST_PROM_PASSWORD", TOKEN)
        assert run(proxy.url, auth={"username": "rca", "password_env": "RCA_TEST_PROM_PASSWORD"}).failures == ()
        monkeypatch.setenv("RCA_TEST_PROM_PASSWORD", "nope")
        bad = run(proxy.url, auth={"username": "rca", "password_env": "RCA_TEST_PROM_PASSWORD"})
        assert bad.failures == ("build_duration_seconds: Prometheus refused the credentials (HTTP 401 Unauthorized): "
                                "basic auth as 'rca' with the password in $RCA_TEST_PROM_PASSWORD",)


def test_an_empty_result_names_the_query_and_the_range(prometheus: PrometheusServer) -> None:
    got = run(prometheus.url, {"metric": "deploys_count", "scope": "checkout",
                               "expr": 'sum(increase(deployments_total{service="checkout"}[$bucket]))'})
    assert got.failures == ("deploys_count: no data: the query returned no series between 2025-09-21T00:00Z and "
                            "2025-11-20T00:00Z (60 day bucket(s)); the query was: "
                            'sum(increase(deployments_total{service="checkout"}[1d]))',)
    assert got.state == {}


def test_a_missing_scope_label_names_the_label_and_the_labels_there_are(prometheus: PrometheusServer) -> None:
    got = run(prometheus.url, {**GOOD, "scope_label": "service"})
    assert got.failures == ("build_duration_seconds: the series lack the scope label(s) 'service' (3 of 3 series; "
                            "their labels: project); change scope_label or keep the label in the expression "
                            "(e.g. sum by (service) (...))",)
    got = run(prometheus.url, {**GOOD, "scope_label": None, "scope": "acme"})
    assert got.failures == ("build_duration_seconds: several series map to scope 'acme' through the fixed scope "
                            "'acme'; they differ in project: aggregate them in the expression (sum by / avg by) or "
                            "add the label to scope_label",)
    got = run(prometheus.url, {"metric": "mixed_count", "scope": "checkout",
                               "expr": 'last_over_time({__name__=~"queue_wait_seconds|http_requests_total", '
                                       'service="checkout", code!="500"}[$bucket])'})
    assert got.failures[0].endswith("they differ in __name__, code: aggregate them in the expression (sum by / avg by) "
                                    "or add the label to scope_label")


def test_tls_needs_a_trusted_certificate(prometheus: PrometheusServer, tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    with Proxy(prometheus.url, tls=(cert, key)) as proxy:
        bad = run(proxy.url)
        assert bad.failures == (f"build_duration_seconds: TLS with {proxy.url} failed: certificate verify failed: "
                                "self-signed certificate; set prometheus.ca_file to the CA bundle that signed its "
                                "certificate",)
        assert run(proxy.url, ca_file=str(cert)).failures == ()
        unverified = run(proxy.url, tls_verify=False)
        assert unverified.failures == ()
        assert unverified.notes[0] == f"TLS certificates of {proxy.url} are not verified (tls_verify: false)"
    plain = run(proxy.url.replace("https://", "http://").replace(str(proxy.server.server_address[1]),
                                                                 str(free_port())))
    assert "connection refused" in plain.failures[0]


def test_a_wrong_base_url_or_a_login_page_fails_the_run(prometheus: PrometheusServer) -> None:
    got = run(prometheus.url + "/api/v1", GOOD, {**GOOD, "metric": "other_seconds"})
    assert got.failures == (
        f"build_duration_seconds: no Prometheus query API at {prometheus.url}/api/v1/api/v1/query_range "
        "(HTTP 404 page not found); url must be the server's base address (without /api/v1)",
        f"other_seconds: not run: {prometheus.url}/api/v1 was unreachable for build_duration_seconds",
    )
    with Proxy(prometheus.url, script=[Reply(200, "<html>Sign in</html>", {"Content-Type": "text/html"})]) as proxy:
        got = run(proxy.url)
    assert got.failures == (f"build_duration_seconds: {proxy.url} answered with text/html, not Prometheus's JSON: "
                            "is url the Prometheus server (not a login page or a UI in front of it)?",)
