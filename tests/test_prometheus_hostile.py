"""The Prometheus collector against servers that misbehave on purpose: bounded in time and size, secrets kept.

Each server is a real one on loopback (tests.hostile_servers, or the Proxy of
tests.prometheus_server in front of the session's real Prometheus): one that drips its answer a
byte at a time, one that sends a body of any size, a gzip bomb, one that echoes the
``Authorization`` header into its error, and replies whose JSON is valid but not a range result.
Every case is one line naming the query, and the other queries still land.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from collectors.base import Collected
from collectors.prometheus import PrometheusSettings, collect, plan
from core.errors import InputError
from core.observations import bucket_of
from core.secrets import basic_credential
from tests.hostile_servers import RawServer, drip, echo_auth, gzip_bomb, huge, reply
from tests.prometheus_server import END, START, PrometheusServer, Proxy, Reply, free_port

GOOD = {"metric": "build_duration_seconds", "scope_label": "project",
        "expr": "avg_over_time(ci_build_duration_seconds[$bucket])"}
OTHER = {"metric": "pipeline_runs_count", "scope_label": "project",
         "expr": "sum by (project) (increase(gitlab_ci_pipeline_run_count[$bucket]))"}
TOKEN = "PROMTOKENsecret999"
PROMQL = "avg_over_time(ci_build_duration_seconds[1d])"


def iso(seconds: float) -> str:
    return pd.Timestamp(seconds, unit="s", tz="UTC").isoformat()


def run(url: str, *queries: dict[str, Any], **kw: Any) -> Collected:
    doc: dict[str, Any] = {"url": url, "until": iso(END), "retries": 0, "backoff_s": 0.01,
                           "queries": [{"since": iso(START), **q} for q in (queries or (GOOD,))]}
    return collect(PrometheusSettings(**{**doc, **kw}), {}, None)


# --- time -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("where", "every_s"), [("body", 0.05), ("head", 0.1)])
def test_a_server_that_drips_its_answer_is_cut_off_at_the_whole_request_deadline(where: str, every_s: float) -> None:
    """A byte every 50-100 ms never trips a per-read timeout; the answer would take 20 s (body) or ~10 s (head)."""
    with RawServer(drip(every_s, total=400, where=where)) as server:
        got = run(server.url, timeout_s=1)
    assert got.failures == (f"build_duration_seconds: no complete answer from {server.url} within 1 s; raise "
                            "timeout_s, lower max_points (smaller requests) or use a coarser bucket",)
    assert server.sent < 100  # it stopped reading long before the answer was whole


def test_retries_end_by_the_deadline_of_the_request_and_its_retries() -> None:
    with RawServer(drip(0.05, total=400)) as server:
        got = run(server.url, timeout_s=1, retries=5, deadline_s=1.5)
    (line,) = got.failures
    assert line.startswith(f"build_duration_seconds: no complete answer from {server.url} within what was left of "
                           "deadline_s (after 1 retries); ")
    assert line.endswith("; stopped: deadline_s (1.5 s, a request with its retries and waits) ran out")
    assert len(server.requests) == 2


def test_a_retry_after_given_as_an_http_date_is_read(prometheus: PrometheusServer) -> None:
    later = format_datetime(datetime.fromtimestamp(time.time() + 3600, UTC), usegmt=True)
    with Proxy(prometheus.url, script=[Reply(429, "slow down", {"Content-Type": "text/plain", "Retry-After": later})]
               ) as proxy:
        got = run(proxy.url, retries=2, max_retry_after_s=60)
    (line,) = got.failures  # asked to wait an hour: reported, not slept through and not ignored
    assert line.startswith("build_duration_seconds: Prometheus rate-limited the query (HTTP 429 slow down); ")
    assert re.search(r"; it asked to wait (3599|3600) s \(Retry-After\), more than max_retry_after_s \(60 s\)$", line)
    assert len(proxy.seen) == 1
    past = format_datetime(datetime.fromtimestamp(time.time() - 60, UTC), usegmt=True)
    with Proxy(prometheus.url, script=[Reply(429, "slow down", {"Content-Type": "text/plain", "Retry-After": past})]
               ) as proxy:
        got = run(proxy.url, retries=1, max_retry_after_s=60)
    assert got.failures == () and len(proxy.seen) == 2  # a date already past: at once


# --- size -------------------------------------------------------------------------------------

@pytest.mark.parametrize("chunked", [False, True])
def test_an_answer_larger_than_the_cap_is_refused_while_streaming(chunked: bool) -> None:
    size = 64 << 20
    with RawServer(huge(size, chunked)) as server:
        got = run(server.url, max_response_mb=1)
    assert got.failures == ("build_duration_seconds: the answer is larger than max_response_mb (1 MB); lower "
                            "max_points (now 11000) to split the range into smaller requests, use a coarser bucket, "
                            f"or raise max_response_mb; the query was: {PROMQL}",)
    assert server.sent < size // 2  # it stopped reading: the rest was never sent


def test_a_gzip_bomb_is_refused_by_its_unpacked_size() -> None:
    with RawServer(gzip_bomb(40 << 20)) as server:  # 40 KB on the wire
        got = run(server.url, max_response_mb=1)
    assert got.failures == ("build_duration_seconds: the answer unpacks (gzip) to more than max_response_mb (1 MB); "
                            "lower max_points (now 11000) to split the range into smaller requests, use a coarser "
                            f"bucket, or raise max_response_mb; the query was: {PROMQL}",)
    with RawServer(gzip_bomb(100_000)) as server:  # under the cap: unpacked and read (an empty result)
        got = run(server.url, max_response_mb=1)
    assert got.failures[0].startswith("build_duration_seconds: no data: the query returned no series")


def test_a_gzip_answer_from_prometheus_is_read(prometheus: PrometheusServer) -> None:
    with Proxy(prometheus.url) as proxy:
        got = run(proxy.url)
    assert got.failures == () and len(got.observations) > 100
    gzipped = run(prometheus.url)  # Prometheus compresses when asked (Accept-Encoding: gzip)
    pd.testing.assert_frame_equal(gzipped.observations, got.observations)


# --- secrets ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "kind"), [(401, "text"), (400, "json"), (500, "reason"), (503, "json")])
def test_a_server_that_echoes_the_authorization_header_never_gets_it_into_a_message(
        status: int, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RCA_TEST_PROM_TOKEN", TOKEN)
    monkeypatch.setenv("RCA_TEST_PROM_PASSWORD", TOKEN)
    for auth, secrets in (({"bearer_token_env": "RCA_TEST_PROM_TOKEN"}, (TOKEN,)),
                          ({"username": "rca", "password_env": "RCA_TEST_PROM_PASSWORD"},
                           (TOKEN, basic_credential("rca", TOKEN)))):
        with RawServer(echo_auth(status, kind)) as server:
            got = run(server.url, auth=auth)
        assert secrets[-1] in server.requests[0].decode()  # it had the credentials to echo
        (line,) = got.failures
        assert f"HTTP {status}" in line and "\n" not in line and "***" in line
        text = "\n".join([*got.failures, *got.notes, *got.lines, repr(dict(got.state))])
        assert not any(s in text for s in secrets), line


def test_rca_collect_and_the_run_record_keep_the_token_out(rca, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rca.config import JobSettings, load_settings
    from rca.pipeline.runs import run_job
    from rca.store import Store

    monkeypatch.setenv("RCA_TEST_PROM_TOKEN", TOKEN)
    with RawServer(echo_auth(401, "text")) as server:
        cfg = tmp_path / "rca.yaml"
        cfg.write_text(f"data_dir: {tmp_path / 'data'}\nprometheus:\n  url: {server.url}\n  retries: 0\n"
                       "  auth: {bearer_token_env: RCA_TEST_PROM_TOKEN}\n  queries:\n"
                       "    - {metric: build_duration_seconds, scope_label: project, expr: 'avg_over_time(x[$bucket])'}\n")
        res = rca("collect", "--config", str(cfg))
        settings = load_settings(cfg)
        with Store(settings.store_url) as store:
            outcome = run_job(JobSettings(name="nightly", cron="0 3 * * *", collect=True), settings, store=store)
            row = store.run(outcome.id)
    assert res.code == 1 and len(server.requests) == 2
    # the forged "rca: error:" line in the answer stays inside this one (progress lines aside)
    (line,) = [x for x in res.err.splitlines() if not x.startswith("rca: progress: ")]
    assert line.startswith("rca: error: prometheus: build_duration_seconds: Prometheus refused the credentials "
                           "(HTTP 401 ") and TOKEN not in res.out + res.err
    assert row is not None and row.status == "failed" and "HTTP 401" in (row.error or "")
    stored = json.dumps({"error": row.error, "outputs": row.outputs})
    assert TOKEN not in stored and "prometheus" in row.outputs["collect"]


def test_a_redirect_is_not_followed_so_the_credentials_stay_with_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RCA_TEST_PROM_TOKEN", TOKEN)
    with RawServer(echo_auth(401)) as elsewhere, \
            RawServer(reply(302, b"", {"Location": f"{elsewhere.url}/login?token=abcdef123"})) as server:
        got = run(server.url, GOOD, OTHER, auth={"bearer_token_env": "RCA_TEST_PROM_TOKEN"})
    assert got.failures == ("build_duration_seconds: Prometheus answered HTTP 302 X (a redirect): set url to the address "
                            f"it redirects to, {elsewhere.url}/login?token=***",
                            f"pipeline_runs_count: not run: {server.url} was unreachable for build_duration_seconds")
    assert elsewhere.requests == []  # the token was never sent where the redirect pointed


# --- malformed answers ------------------------------------------------------------------------

T = END - 1  # an evaluation time the first request asks for


def _matrix(result: Any) -> str:
    return json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}})


MALFORMED = {
    "a value that is a word": (_matrix([{"metric": {"project": "a"}, "values": [[T, "yesterday"]]}]),
                               f'series 1: the value "yesterday" at {T} is not a number'),
    "a null value": (_matrix([{"metric": {"project": "a"}, "values": [[T, None]]}]),
                     f"series 1: the value null at {T} is not a number"),
    "a timestamp that is a word": (_matrix([{"metric": {"project": "a"}, "values": [["yesterday", "1"]]}]),
                                   'series 1: the time "yesterday" is not a Unix time'),
    "a timestamp out of range": (_matrix([{"metric": {"project": "a"}, "values": [[1e300, "1"]]}]),
                                 "series 1: the time 1e+300 is outside the range asked for"),
    "items that are strings": (_matrix(["project", "a"]), 'series 1 is "project", not an object'),
    "metric as a list": (_matrix([{"metric": ["project", "a"], "values": []}]),
                         "series 1: metric is a list, not an object of labels"),
    "values as a string": (_matrix([{"metric": {"project": "a"}, "values": "1,2,3"}]),
                           "series 1: values is a str, not a list of [time, value] pairs"),
    "a point of three": (_matrix([{"metric": {"project": "a"}, "values": [[T, "1", "2"]]}]),
                         f'series 1: the point [{T}, "1", "2"] is not a [time, value] pair'),
    "result as an object": (_matrix({"a": 1}), "result is a dict, not a list of series"),
    "no data": (json.dumps({"status": "success"}), "it has no data"),
    "a list": ("[1, 2]", "it is a list, not an object"),
    "a vector": (json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}}),
                 'resultType is "vector", not "matrix"'),
    "nesting 100,000 deep": ("[" * 100_000 + "]" * 100_000, "it is nested too deeply"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_answer_fails_its_query_and_the_others_land(case: str, prometheus: PrometheusServer) -> None:
    body, said = MALFORMED[case]
    with Proxy(prometheus.url, script=[Reply(200, body)]) as proxy:
        got = run(proxy.url, GOOD, OTHER)
    assert got.failures == (f"build_duration_seconds: the answer is not a Prometheus range result ({said}); "
                            "nothing of this query was stored",)
    assert set(got.observations["metric"]) == {"pipeline_runs_count"} and set(got.state) == {"pipeline_runs_count"}


def test_a_missing_ca_file_is_one_line(rca, tmp_path: Path) -> None:
    cfg = tmp_path / "rca.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\nprometheus:\n  url: https://127.0.0.1:{free_port()}\n"
                   f"  ca_file: {tmp_path / 'no-such-ca.pem'}\n  queries:\n"
                   "    - {metric: build_duration_seconds, scope_label: project, expr: 'avg_over_time(x[$bucket])'}\n")
    res = rca("collect", "--config", str(cfg))
    assert res.code == 1
    assert res.err.splitlines() == [f"rca: error: prometheus: prometheus.ca_file: cannot read "
                                    f"{str(tmp_path / 'no-such-ca.pem')!r} (No such file or directory); give the PEM "
                                    "file of the CA that signed the server's certificate"]
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("hello\n")
    with pytest.raises(InputError, match=r"^prometheus.ca_file: .*ca.pem' holds no PEM certificate"):
        run("https://127.0.0.1:9", ca_file=str(not_pem))


# --- buckets that have not ended ---------------------------------------------------------------

def test_an_until_in_the_future_reads_only_the_buckets_that_have_ended(prometheus: PrometheusServer) -> None:
    now = int(time.time())
    future = now + 10 * 86_400
    q = PrometheusSettings(url=prometheus.url, until=iso(future), queries=[{**GOOD, "since": iso(START)}])
    p = plan(q.queries[0], q, None, now)
    assert p.last + p.step <= now  # the last bucket read has ended
    assert p.last + p.step == bucket_of(now, "day")  # ... and it is the one just before today's
    with Proxy(prometheus.url) as proxy:
        got = run(proxy.url, until=iso(future))
    assert got.failures == () and len(got.observations) > 100
    assert float(proxy.seen[0].params["end"]) < now
    assert any(n.startswith(f"until ({iso_min(future)}) is in the future: read the buckets that have ended by now")
               for n in got.notes), got.notes


def iso_min(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%MZ")


def test_no_data_says_when_the_bucket_in_progress_ends(prometheus: PrometheusServer) -> None:
    now = int(time.time())
    ends = int(bucket_of(now, "day")) + 86_400
    got = run(prometheus.url, {"metric": "deploys_count", "scope": "x", "expr": "sum(increase(nothing_total[$bucket]))",
                               "since": iso(now - 3 * 86_400)}, until=None)
    (line,) = got.failures
    assert line.startswith("deploys_count: no data: the query returned no series between ")
    assert f"the day bucket in progress ends at {iso_min(ends)} and is read on the first run after that" in line


def test_read_body_unpacks_gzip_members_and_refuses_what_it_cannot_read() -> None:
    import gzip

    from core.bounded_http import TooLarge, Unreadable, read_body

    two = gzip.compress(b'{"a": ') + gzip.compress(b"1}")  # a stream of two gzip members
    assert read_body([two[:7], two[7:]], "gzip", 100) == b'{"a": 1}'
    assert read_body([b"x" * 50, b"y" * 50], "", 60, cut=True) == b"x" * 50 + b"y" * 10  # an error's first bytes
    with pytest.raises(TooLarge):
        read_body([b"x" * 50, b"y" * 50], "identity", 60)
    with pytest.raises(Unreadable, match="its gzip data is corrupt"):
        read_body([gzip.compress(b"hello")[:10] + b"\xff" * 8], "gzip", 100)  # a deflate block of the reserved type
    with pytest.raises(Unreadable, match="its gzip data ends before its end"):
        read_body([gzip.compress(b"hello world")[:-6]], "gzip", 100)
    with pytest.raises(Unreadable, match="Content-Encoding 'br', which was not asked for"):
        read_body([b"x"], "br", 100)
