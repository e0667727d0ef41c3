"""Hostile requests and rows against a real ``rca serve`` (text logs, a scheduled job that fails with
secrets in its error): what used to be a 500, a 202 that failed later, a forged log line, a file
outside the reports folder or a secret in an answer is now a 404, a 400, one clean line, nothing
served, a mask.
"""

from __future__ import annotations

import re
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rca.pipeline.records import closed, opened
from rca.store import Store
from tests.serve_helpers import SAMPLE, TOKEN, Served, ask, poll

pytest_plugins = ["tests.reports_fixtures"]  # the headless Chromium fixture

UNKNOWN = "xyz123secret"  # a bearer credential nobody told the service about
LEAKY_REPO = f"/nonexistent/{TOKEN}/Bearer {UNKNOWN}"
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ +[\w.]+")  # a line the formatter wrote


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    job = (f"git: {{repos: [{{path: '{LEAKY_REPO}', name: leaky}}]}}\n"
           "jobs:\n  - {name: leaky, cron: '*/2 * * * * *', collect: [git]}\n")
    s = Served(tmp_path_factory.mktemp("serve-hostile"),
               serve={"log_format": "text", "max_body_bytes": 131072, "body_timeout_s": 2}, extra=job).start()
    try:
        yield s
    finally:
        s.stop()


def _log_since(served: Served, mark: int) -> str:
    return served.log_path.read_bytes()[mark:].decode("utf-8", errors="replace")


def _mark(served: Served) -> int:
    return served.log_path.stat().st_size


def test_impossible_report_names_are_404_not_500(served: Served) -> None:
    mark = _mark(served)
    with served.client() as c:
        for path in ("/reports/x%00y.html", "/reports/" + "a" * 5000 + ".html", "/reports/" + "/".join(["b" * 300] * 3)):
            r = c.get(path)
            assert r.status_code == 404 and list(r.json()) == ["error"] and len(r.json()["error"]) < 200, path
    log = _log_since(served, mark)
    assert "Traceback" not in log and " 500 " not in log


def test_deeply_nested_and_oversized_graphs_are_400(served: Served) -> None:
    base = {"target": SAMPLE.target, "scope": SAMPLE.scope, "last": "13 weeks"}
    dot = "digraph g {\n" + "".join(f"  n{i} -> n{i + 1} [lag=1];\n" for i in range(2500)) + "}\n"
    assert len(dot) > 60_000
    cases = [
        ({**base, "graph": "nodes:\n  a: " + "[" * 5_000 + "]" * 5_000 + "\n"}, "nested more than 64 levels deep"),
        ({**base, "graph": "nodes:\n  a: " + "[" * 20_000 + "]" * 20_000 + "\n"}, "(serve.max_graph_bytes)"),
        ({**base, "graph": {"nodes": {"a": {"label": "x"}}, "edges": [[[[[[[[[["a"]]]]]]]]]] * 1}},
         None),  # shallow enough to parse: refused for what it says, not for its depth
        ({**base, "graph": _nested_object(200)}, "nested more than 64 levels deep"),
        ({**base, "graph": dot}, "a graph sent in a request may be at most 16384 bytes (serve.max_graph_bytes)"),
    ]
    mark = _mark(served)
    with served.client(timeout=30) as c:
        for body, needle in cases:
            r = c.post("/investigations", json=body)
            assert r.status_code == 400, (r.status_code, r.text[:300])
            assert "\n" not in r.json()["error"] and len(r.json()["error"]) <= 1000
            if needle:
                assert needle in r.json()["error"], r.json()
        small = dot[:3000].rsplit("\n", 2)[0] + "\n}\n"  # under the cap: parsed, then refused for its nodes
        r = c.post("/investigations", json={**base, "graph": small})
        assert r.status_code == 400 and "is not a node of graph" in r.json()["error"], r.text
    assert "Traceback" not in _log_since(served, mark)


def _nested_object(depth: int) -> dict:
    inner: dict = {"x": 1}
    for _ in range(depth):
        inner = {"x": inner}
    return {"nodes": inner}


def test_questions_that_cannot_be_read_are_400_when_asked(served: Served) -> None:
    base = {"target": SAMPLE.target, "scope": SAMPLE.scope}
    cases = [
        ({**base, "last": "99999999999 weeks"}, "longer than 100 years"),
        ({**base, "at": "9999-99-99"}, "'9999-99-99' is not a time"),
        ({**base, "baseline": "2026-03-01..2026-01-01", "current": "2026-04-01..2026-05-01"}, "ends before it starts"),
        ({**base, "at": "2026-05-01", "baseline": "2026-03-01..2026-01-01"}, "ends before it starts"),
    ]
    with served.client() as c:
        before = len(c.get("/investigations", params={"limit": 500}).json())
        for body, needle in cases:
            r = c.post("/investigations", json=body)
            assert r.status_code == 400 and needle in r.json()["error"], (body, r.text)
            assert "\n" not in r.json()["error"]
        assert len(c.get("/investigations", params={"limit": 500}).json()) == before  # nothing was queued
        r = c.post("/effects", content=b'{"treatment": "line_coverage_ratio", "outcome": "bug_fix_commit_ratio", '
                                        b'"confidence": NaN}', headers={"content-type": "application/json"})
        assert r.status_code == 400 and "confidence must be a number between 0.5 and 1" in r.json()["error"], r.text
        r = c.post("/recommendations", json={**base, "confidence": 1.5})
        assert r.status_code == 400 and "confidence must be a number between 0.5 and 1" in r.json()["error"], r.text


def test_a_request_path_cannot_forge_a_log_line_or_drive_the_terminal(served: Served) -> None:
    mark = _mark(served)
    forged = "2026-01-01 00:00:00,000 INFO    rca.api forged"
    with served.client() as c:
        r = c.get("/reports/x%0a" + forged.replace(" ", "%20") + "%1b[2J%1b]0;title%07.html")
        assert r.status_code == 404
        r = c.get("/runs/x%0d%0a" + forged.replace(" ", "%20"))
        assert r.status_code == 404
    log = _log_since(served, mark)
    assert "forged" in log  # the path was logged ...
    assert "\x1b" not in log and "\x07" not in log  # ... without its escape codes
    for line in log.splitlines():  # ... and every line is one the formatter wrote
        assert TEXT_LINE.match(line) or line.startswith("    | "), line
    assert not any(line.startswith("2026-01-01 00:00:00,000") for line in log.splitlines())


def test_a_body_that_never_arrives_is_408_and_the_connection_closed(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=15) as s:
        s.sendall(f"POST /investigations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                  "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"target\": ".encode())
        answer = b""
        while chunk := s.recv(4096):  # the service answers, then closes: recv returns b"" (or times out: fail)
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"did not arrive within 2 s (serve.body_timeout_s)" in answer


def test_head_health_and_security_headers(served: Served) -> None:
    with served.client(token=None) as anon:
        for path in ("/healthz", "/readyz"):
            r = anon.head(path)
            assert r.status_code == 200 and r.content == b"", path
        r = anon.get("/healthz")
    with served.client() as c:
        answers = [r, c.get("/runs"), c.get("/reports/nothing.html"), c.post("/investigations", json={})]
    for r in answers:
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp


def test_only_files_inside_the_reports_folder_are_listed_or_served(served: Served) -> None:
    out = served.root / "reports"
    (out / "questions").mkdir(parents=True, exist_ok=True)
    outside = served.root / "outside.html"
    outside.write_text("<html>not a report</html>")
    (out / "linked.html").symlink_to(outside)
    (out / "linked-dir").symlink_to(served.root, target_is_directory=True)
    (out / "inside.html").write_text("<html>a report</html>")
    (out / "alias.html").symlink_to(out / "inside.html")  # a link that stays inside is fine
    with Store(served.store_url) as store:
        edited = closed(opened(scope=SAMPLE.scope, target=SAMPLE.target, question={}), "done")
        store.save_investigation(edited.__class__(**{**edited.__dict__, "report_path": "/etc/hostname"}))
        sneaky = closed(opened(scope=SAMPLE.scope, target=SAMPLE.target, question={}), "done")
        store.save_investigation(sneaky.__class__(**{**sneaky.__dict__, "report_path": str(outside)}))
    with served.client() as c:
        names = [x["name"] for x in c.get("/reports").json()]
        assert "inside.html" in names and "alias.html" in names
        assert not any(n.startswith(("linked", "linked-dir")) for n in names), names
        assert c.get("/reports/linked.html").status_code == 404
        assert c.get("/reports/linked-dir/outside.html").status_code == 404
        assert c.get("/reports/alias.html").text == "<html>a report</html>"
        for rec in (edited, sneaky):
            r = c.get(f"/investigations/{rec.id}/report")
            assert r.status_code == 404 and "not a report" not in r.text, r.text
            assert Path("/etc/hostname").read_text().strip() not in r.text


def test_errors_are_scrubbed_when_stored_and_when_served(served: Served) -> None:
    # A real run of the job fails on a repository path holding the API token and a bearer credential.
    with served.client() as c:
        deadline = time.monotonic() + 30
        runs: list = []
        while time.monotonic() < deadline and not runs:
            runs = c.get("/runs", params={"job": "leaky", "status": "failed"}).json()
            time.sleep(0.2)
        assert runs, "the job did not run"
        served_text = str(runs[0])
    assert "does not exist" in runs[0]["error"] and "***" in runs[0]["error"]
    assert TOKEN not in served_text and UNKNOWN not in served_text
    with sqlite3.connect(served.root / "data" / "whydunnit.db") as db:  # stored clean, not only served clean
        stored = db.execute("SELECT error, outputs FROM runs WHERE job = 'leaky' AND status = 'failed'").fetchall()
    assert stored and all(TOKEN not in (e + o) and UNKNOWN not in (e + o) for e, o in stored)

    # Rows another writer (an older version, a script) left raw are scrubbed on the way out.
    raw = f"proxy said: Authorization: Bearer {UNKNOWN}\nrca: error: forged {TOKEN}\x1b[2J"
    with Store(served.store_url) as store:
        store.start_run("raw-run", "other-writer", trigger="manual")
        store.finish_run("raw-run", "failed", error=raw, outputs={"collect": {"git": {"error": raw, "failures": [raw]}}})
        question = closed(opened(scope=SAMPLE.scope, target=SAMPLE.target, question={}), "failed", error=raw)
        store.save_investigation(question)
    with served.client() as c:
        answers = [c.get("/runs/raw-run").json(), c.get("/runs", params={"job": "other-writer"}).json(),
                   c.get(f"/investigations/{question.id}").json(), c.get("/investigations").json(),
                   c.get(f"/investigations/{question.id}/report").json()]
    for doc in answers:
        text = str(doc)
        assert TOKEN not in text and UNKNOWN not in text and "\x1b" not in text and "\\n" not in repr(doc), text
    assert answers[0]["error"].startswith("proxy said: Authorization: Bearer *** rca: error: forged ***")
    assert answers[0]["outputs"]["collect"]["git"]["failures"][0] == answers[0]["error"]
    log = served.log_path.read_text()
    assert TOKEN not in log and UNKNOWN not in log


def test_an_internal_error_is_one_500_and_one_traceback(served: Served) -> None:
    broken = served.root / "reports" / "questions" / "broken.html"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_bytes(b"<html>\xff\xfe not UTF-8</html>")
    with Store(served.store_url) as store:
        rec = closed(opened(scope=SAMPLE.scope, target=SAMPLE.target, question={}), "done")
        store.save_investigation(rec.__class__(**{**rec.__dict__, "report_path": str(broken)}))
    mark = _mark(served)
    with served.client() as c:
        r = c.get(f"/investigations/{rec.id}/report", headers={"x-request-id": "broken-report-1"})
    assert r.status_code == 500 and r.json() == {"error": "internal error; the service's log has the details "
                                                          "(broken-report-1)"}
    time.sleep(1)  # a second traceback came after the answer was sent (the server's own, for the same error)
    log = _log_since(served, mark)
    assert log.count("Traceback (most recent call last)") == 1, log
    assert "UnicodeDecodeError" in log


def test_a_served_report_renders_under_the_policy_and_a_script_does_not_run(served: Served, browser) -> None:
    with served.client() as c:
        r = c.post("/investigations", json=ask())
        assert r.status_code == 202, r.text
        assert poll(c, r.json()["id"])["status"] == "done"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    load, session = browser.load_url(f"{served.url}/investigations/{r.json()['id']}/report", headers=auth)
    assert load.console_errors == [], load.console_errors  # the policy blocks nothing the report needs
    assert load.requests == [load.url] and load.failed_requests == []
    assert browser.evaluate(session, "document.querySelectorAll('svg').length") > 0
    assert browser.evaluate(session, "document.querySelector('#headline').textContent.trim().length") > 0

    # A file in the reports folder with a script and an outside image: the header's policy stops both.
    (served.root / "reports" / "control.html").write_text(
        '<!doctype html><html><body><p id="p">control</p><script>window.__pwned = 1</script>'
        '<img src="http://127.0.0.1:9/x.png"></body></html>')
    load, session = browser.load_url(f"{served.url}/reports/control.html", headers=auth)
    assert browser.evaluate(session, "document.querySelector('#p').textContent") == "control"
    assert browser.evaluate(session, "typeof window.__pwned") == "undefined"
    assert any("Content Security Policy" in e for e in load.console_errors), load.console_errors
    assert not [u for u in load.requests if u.endswith("/x.png")] or load.failed_requests  # never fetched
    assert httpx.get(f"{served.url}/healthz").status_code == 200
