"""Posting to loopback servers that play each chat platform: shapes, limits, 429/5xx/4xx, timeouts,
and webhook URLs never reaching logs, errors or records."""

from __future__ import annotations

import json
import logging
import socket

import pytest

from reports import chat
from reports.chat_send import Channel, RetryPolicy, SecretError, mask, post, record_failure, resolve_url
from tests.chat_servers import SECRET, FakePlatform, Reply
from tests.report_results import make_result

FAST = RetryPolicy(attempts=4, backoff_s=0.05, max_backoff_s=0.2, timeout_s=2.0)


def _results(n: int = 3) -> list:
    return [make_result(f"metric_{i}_ratio", scope=f"team-{i}", detected=i % 2 == 0) for i in range(n)]


@pytest.mark.parametrize("kind", chat.KINDS)
def test_each_platform_accepts_the_summary(kind: str) -> None:
    with FakePlatform(kind) as server:
        body = chat.payload(kind, _results(), "https://reports.example.com/r.html")
        d = post(Channel(kind, f"team-{kind}", server.url), body, FAST)
    assert d.ok and d.attempts == 1, d
    assert server.problems == [[]]
    assert "https://reports.example.com/r.html" in json.dumps(server.received[0])


@pytest.mark.parametrize("kind", chat.KINDS)
def test_oversized_reports_are_truncated_not_rejected(kind: str) -> None:
    huge = [make_result(f"metric_{i}_ratio" + "x" * 400, scope="s" * 300, text="caveat " * 800) for i in range(60)]
    with FakePlatform(kind) as server:
        body = chat.payload(kind, huge, "https://reports.example.com/r.html")
        d = post(Channel(kind, kind, server.url), body, FAST)
    assert d.ok, (d, server.problems)
    text = json.dumps(server.received[0], ensure_ascii=False)
    assert "https://reports.example.com/r.html" in text  # the link to the full report survives
    if kind != "generic":
        assert "more in the full report" in text


def test_429_honours_retry_after_header() -> None:
    waits: list[float] = []
    with FakePlatform("slack", [Reply(429, {"Retry-After": "7"}, "rate_limited")]) as server:
        d = post(Channel("slack", "s", server.url), chat.payload("slack", _results(1)), FAST, sleep=waits.append)
    assert d.ok and d.attempts == 2 and len(server.times) == 2
    assert waits == [7.0]  # exactly what the server asked, not our own backoff


def test_429_honours_discords_retry_after_body_field() -> None:
    limited = Reply(429, {"Content-Type": "application/json"}, json.dumps({"message": "rate limited",
                                                                           "retry_after": 0.4, "global": False}))
    waits: list[float] = []
    with FakePlatform("discord", [limited]) as server:
        d = post(Channel("discord", "d", server.url), chat.payload("discord", _results(1)), FAST, sleep=waits.append)
    assert d.ok and d.attempts == 2 and len(server.times) == 2
    assert waits == [0.4]


@pytest.mark.parametrize("header", ["nan", "inf", "-inf", "soon"])
def test_a_retry_after_that_is_no_number_of_seconds_falls_back_to_backoff(header: str) -> None:
    waits: list[float] = []
    with FakePlatform("slack", [Reply(429, {"Retry-After": header})]) as server:
        d = post(Channel("slack", "s", server.url), chat.payload("slack", _results(1)), FAST,
                 sleep=waits.append, rng=lambda: 1.0)
    assert d.ok and d.attempts == 2 and len(server.times) == 2
    assert waits == [FAST.backoff_s]


def test_a_retry_after_longer_than_allowed_is_reported_not_slept() -> None:
    with FakePlatform("slack", [Reply(429, {"Retry-After": "3600"})]) as server:
        d = post(Channel("slack", "s", server.url), chat.payload("slack", _results(1)), FAST)
    assert not d.ok and d.status == 429 and d.attempts == 1 and "3600" in d.error
    assert len(server.times) == 1


@pytest.mark.parametrize("kind", chat.KINDS)
def test_500_then_200_is_retried(kind: str) -> None:
    with FakePlatform(kind, [Reply(500, body="oops")]) as server:
        d = post(Channel(kind, kind, server.url), chat.payload(kind, _results(2)), FAST)
    assert d.ok and d.attempts == 2 and 200 <= (d.status or 0) < 300
    assert server.problems == [[], []]


@pytest.mark.parametrize("kind", chat.KINDS)
def test_429_with_retry_after_zero_is_retried_on_every_platform(kind: str) -> None:
    with FakePlatform(kind, [Reply(429, {"Retry-After": "0"})]) as server:
        d = post(Channel(kind, kind, server.url), chat.payload(kind, _results(2)), FAST)
    assert d.ok and d.attempts == 2


def test_persistent_5xx_gives_up_after_the_limit_with_growing_backoff() -> None:
    waits: list[float] = []
    with FakePlatform("mattermost", [Reply(503)] * 10) as server:
        d = post(Channel("mattermost", "m", server.url), chat.payload("mattermost", _results(1)),
                 RetryPolicy(attempts=4, backoff_s=0.05, max_backoff_s=0.15, timeout_s=2.0), rng=lambda: 1.0,
                 sleep=waits.append)
    assert not d.ok and d.attempts == 4 and d.status == 503 and "gave up after 4" in d.error
    assert len(server.times) == 4
    assert waits == pytest.approx([0.05, 0.1, 0.15])  # doubling, capped


def test_the_whole_post_ends_by_its_deadline_retries_and_waits_included() -> None:
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s

    with FakePlatform("slack", [Reply(503)] * 10) as server:
        d = post(Channel("slack", "s", server.url), chat.payload("slack", _results(1)),
                 RetryPolicy(attempts=10, backoff_s=4.0, max_backoff_s=4.0, deadline_s=10.0), rng=lambda: 1.0,
                 sleep=sleep, clock=lambda: now[0])
    assert not d.ok and "deadline of 10 s passed" in d.error and "HTTP 503" in d.error
    assert len(server.times) == 3 and now[0] == 8.0  # tries at 0, 4, 8; a wait to 12 would pass the deadline


@pytest.mark.parametrize("kind", chat.KINDS)
def test_400_stops_at_once(kind: str) -> None:
    with FakePlatform(kind, [Reply(400, body="Invalid JSON payload")]) as server:
        d = post(Channel(kind, kind, server.url), chat.payload(kind, _results(1)), FAST)
    assert not d.ok and d.attempts == 1 and d.status == 400 and "Invalid JSON payload" in d.error
    assert len(server.times) == 1


def test_a_server_that_drips_its_answer_is_cut_off_at_the_deadline() -> None:
    """httpx's timeout is per read: a byte every 0.2 s never trips it. The deadline must."""
    import threading
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def drip() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            try:
                for _ in range(1000):
                    if stop.is_set():
                        break
                    conn.sendall(b"x")
                    time.sleep(0.2)
            except OSError:
                pass
            conn.close()

    t = threading.Thread(target=drip, daemon=True)
    t.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/hooks/{SECRET}"
    try:
        d = post(Channel("slack", "s", url), {"text": "x"}, RetryPolicy(attempts=3, timeout_s=5.0, deadline_s=1.0))
    finally:
        stop.set()
        listener.close()
    assert not d.ok and d.status is None
    assert d.elapsed_s < 10  # the drip would take 200 s; the deadline is 1 s
    assert SECRET not in d.error


@pytest.mark.parametrize("url", ["http://[x/hook", "http://127.0.0.1:99999/hook", "http://h.example/a\r\nX-Evil: 1",
                                 "ftp://h.example/hook", "not a url"])
def test_malformed_webhook_urls_fail_that_post_only(url: str) -> None:
    d = post(Channel("slack", "s", url), {"text": "x"}, FAST)
    assert not d.ok and d.attempts == 0 and d.status is None and d.error
    assert "\n" not in d.error and "X-Evil" not in d.error


def test_timeouts_are_retried_then_reported() -> None:
    with FakePlatform("generic", [Reply(200, delay_s=1.0), Reply(200, delay_s=1.0)]) as server:
        d = post(Channel("generic", "w", server.url), chat.payload("generic", _results(1)),
                 RetryPolicy(attempts=2, backoff_s=0.01, timeout_s=0.3))
    assert not d.ok and d.attempts == 2 and d.status is None and "timed out" in d.error
    assert len(server.times) == 2


def test_connection_refused_is_retried_and_masked() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    url = f"http://127.0.0.1:{port}/hooks/{SECRET}"
    d = post(Channel("slack", "s", url), {"text": "x"}, RetryPolicy(attempts=2, backoff_s=0.01, timeout_s=1.0))
    assert not d.ok and d.attempts == 2 and "network error" in d.error
    assert SECRET not in json.dumps(d.to_dict()) and "SECRET" not in d.error


def test_secrets_never_reach_logs_errors_or_records(caplog, tmp_path) -> None:
    caplog.set_level(logging.DEBUG)  # everything, httpx's and httpcore's own loggers included
    echo = Reply(400, body=f"no such hook: /hooks/{SECRET}")  # a server that echoes the URL back
    with FakePlatform("slack", [Reply(500), echo]) as server:
        channel = Channel("slack", "alerts", server.url)
        d = post(channel, chat.payload("slack", _results(1)), FAST)
        ok = post(channel, chat.payload("slack", _results(1)), FAST)
    assert not d.ok and ok.ok
    record = tmp_path / "failures.jsonl"
    record_failure(record, d, {"text": "x"}, "report.html")
    for piece in (SECRET, "B0SECRET", "xoxbSuperSecretToken", "T0SECRET"):
        assert piece not in caplog.text
        assert piece not in repr(channel) and piece not in str(d) and piece not in d.error
        assert piece not in record.read_text()
    assert mask(server.url) in record.read_text()
    assert "chat post to alerts" in caplog.text  # the log does say what happened


def test_retry_after_reads_seconds_http_dates_and_discords_body() -> None:
    import httpx

    from reports.chat_send import retry_after

    assert retry_after(httpx.Response(429, headers={"Retry-After": "7"})) == 7.0
    date = httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"})
    assert retry_after(date, now=lambda: 1792567650.0) == 30.0  # 07:27:30 GMT then
    assert retry_after(httpx.Response(429, json={"retry_after": 0.25})) == 0.25
    assert retry_after(httpx.Response(429, text="slow down")) is None


def test_webhook_urls_come_from_the_environment_or_a_file(tmp_path) -> None:
    assert resolve_url("HOOK", environ={"HOOK": " https://h.example/x \n"}) == "https://h.example/x"
    f = tmp_path / "hook"
    f.write_text("https://h.example/from-file\n")
    assert resolve_url(url_file=f) == "https://h.example/from-file"
    with pytest.raises(SecretError, match="HOOK is not set"):
        resolve_url("HOOK", environ={})
    with pytest.raises(SecretError, match="cannot read"):
        resolve_url(url_file=tmp_path / "missing")
