"""``rca serve``'s HTTP API, on a real process on loopback over the demo sample.

Auth, a question asked and polled to done, its HTML report, one-line 400s, 413 for a body too
big, report files without path traversal, the metrics counting what happened, the OpenAPI
schema, JSON log lines with request ids and without the token.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.serve_helpers import SAMPLE, TOKEN, Served, ask, poll


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    s = Served(tmp_path_factory.mktemp("serve-api"), serve={"max_body_bytes": 4096}).start()
    try:
        yield s
    finally:
        s.stop()


def _metrics(served: Served) -> dict[tuple[str, tuple], float]:
    with served.client() as c:
        r = c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_health_needs_no_token_and_everything_else_does(served: Served) -> None:
    with served.client(token=None) as anon:
        assert anon.get("/healthz").json() == {"status": "ok"}
        ready = anon.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}  # the details name the store
        for method, path in (("GET", "/runs"), ("GET", "/metrics"), ("GET", "/openapi.json"),
                             ("POST", "/investigations"), ("GET", "/reports/x.html")):
            r = anon.request(method, path)
            assert r.status_code == 401 and r.json() == {"error": "missing bearer token: send Authorization: Bearer <token>"}
            assert r.headers["www-authenticate"].startswith("Bearer")
    with served.client(token="wrong-token") as wrong:
        r = wrong.get("/runs")
        assert r.status_code == 401 and r.json()["error"].startswith("invalid bearer token")
    with served.client(token=TOKEN[:-1]) as almost:
        assert almost.get("/runs").status_code == 401
    with httpx.Client(base_url=served.url, headers={"Authorization": f"Basic {TOKEN}"}) as basic:
        assert basic.get("/runs").status_code == 401
    with served.client() as c:
        assert c.get("/runs").status_code == 200
        ready = c.get("/readyz").json()
        assert ready["status"] == "ready" and ready["store"] == "ok" and ready["scheduler"] == "running"


def test_an_investigation_is_accepted_at_once_then_answered_with_json_and_html(served: Served) -> None:
    with served.client() as c:
        r = c.post("/investigations", json=ask())
        assert r.status_code == 202, r.text
        doc = r.json()
        assert doc["status"] == "queued" and r.headers["location"] == f"/investigations/{doc['id']}"
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
        done = poll(c, doc["id"])
        assert done["status"] == "done", done
        result = done["result"]
        assert result["target"] == SAMPLE.target and result["scope"] == SAMPLE.scope
        assert result["regression"]["detected"] and result["causes"][0]["node"] == SAMPLE.cause
        assert "graph_def" not in done["question"] and done["question"]["last"] == "13 weeks"
        html = c.get(done["report_url"])
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert "<html" in html.text.lower() and SAMPLE.cause in html.text
        browser = c.get(f"/investigations/{doc['id']}", headers={"accept": "text/html,application/xhtml+xml"})
        assert browser.headers["content-type"].startswith("text/html") and browser.text == html.text
        listed = c.get("/investigations", params={"limit": 5}).json()
        assert doc["id"] in [x["id"] for x in listed]
        assert c.get("/investigations/nope").status_code == 404


def test_bad_requests_are_400_with_one_line(served: Served) -> None:
    cases = [
        ({"target": SAMPLE.target}, "scope: Field required"),
        ({**ask(), "target": "no_such_node"}, "target 'no_such_node' is not a node of graph"),
        ({**ask(), "scope": "acme/nowhere"}, "the store has no scope 'acme/nowhere'"),
        ({**ask(), "graph": "/etc/passwd"}, "no shipped graph named '/etc/passwd'"),
        ({"target": SAMPLE.target, "scope": SAMPLE.scope}, "needs last, at, or baseline and current"),
        ({**ask(), "surprise": 1}, "surprise: Extra inputs are not permitted"),
    ]
    with served.client() as c:
        for body, needle in cases:
            r = c.post("/investigations", json=body)
            assert r.status_code == 400, (body, r.text)
            assert list(r.json()) == ["error"] and needle in r.json()["error"] and "\n" not in r.json()["error"]
            assert "Traceback" not in r.text
        r = c.post("/investigations", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 400 and "\n" not in r.json()["error"]
        r = c.post("/effects", json={"treatment": "line_coverage_ratio", "outcome": SAMPLE.target, "confidence": 2})
        assert r.status_code == 400 and "confidence" in r.json()["error"]


def test_a_body_over_the_limit_is_413_by_length_or_as_it_streams(served: Served) -> None:
    big = {**ask(), "graph": "x" * 5000}
    with served.client() as c:
        r = c.post("/investigations", json=big)
        assert r.status_code == 413 and "4096 bytes" in r.json()["error"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
            yield b'{"target": "'
            for _ in range(10):
                yield b"y" * 1000
            yield b'"}'

        r = c.post("/investigations", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413


def test_effects_and_recommendations_are_questions_too(served: Served) -> None:
    with served.client() as c:
        rec = c.post("/recommendations", json={"target": SAMPLE.target, "scope": SAMPLE.scope, "bootstrap": 20})
        eff = c.post("/effects", json={"treatment": SAMPLE.cause, "outcome": SAMPLE.target, "scopes": [SAMPLE.scope],
                                       "refute": False, "dml": False, "bootstrap": 20})
        assert rec.status_code == 202 and eff.status_code == 202, (rec.text, eff.text)
        assert rec.json()["kind"] == "recommendations" and eff.json()["kind"] == "effect"
        r = poll(c, rec.json()["id"])
        assert r["status"] == "done", r
        assert r["result"]["target"] == SAMPLE.target and r["result"]["recommendations"]
        e = poll(c, eff.json()["id"], timeout_s=90)
        assert e["status"] == "done", e
        assert e["result"]["treatment"] == SAMPLE.cause and e["result"]["outcome"] == SAMPLE.target
        assert c.get(e["report_url"]).status_code == 200
        bad = c.post("/effects", json={"treatment": SAMPLE.cause, "outcome": SAMPLE.target, "by_scope": True,
                                       "scopes": [SAMPLE.scope]})
        assert bad.status_code == 400 and "at least two scopes" in bad.json()["error"]


def test_report_files_are_served_without_path_traversal(served: Served) -> None:
    out = served.root / "reports"
    (out / "sub").mkdir(parents=True, exist_ok=True)
    (out / "sub" / "weekly.html").write_text("<html>weekly</html>")
    (served.root / "secret.html").write_text("<html>not yours</html>")
    with served.client() as c:
        r = c.get("/reports/sub/weekly.html")
        assert r.status_code == 200 and r.text == "<html>weekly</html>" and r.headers["content-type"].startswith("text/html")
        assert "sub/weekly.html" in [x["name"] for x in c.get("/reports").json()]
        for path in ("/reports/../secret.html", "/reports/%2e%2e/secret.html", "/reports/sub/%2e%2e/%2e%2e/secret.html",
                     "/reports/..%2fsecret.html", "/reports/%2fetc%2fpasswd", "/reports/sub", "/reports/nothing.html"):
            r = c.get(path)
            assert r.status_code == 404 and "not yours" not in r.text, path


def test_openapi_schema_is_served(served: Served) -> None:
    with served.client() as c:
        schema = c.get("/openapi.json").json()
    assert schema["info"]["title"] == "whydunnit"
    for path in ("/investigations", "/investigations/{id_}", "/investigations/{id_}/report", "/runs", "/effects",
                 "/recommendations", "/reports/{name}", "/healthz", "/readyz", "/metrics"):
        assert path in schema["paths"], path
    assert "InvestigationBody" in schema["components"]["schemas"]


def test_metrics_count_what_happened_and_logs_are_json_with_ids_and_no_token(served: Served) -> None:
    with served.client(token=None) as anon:
        anon.get("/runs")
    m = _metrics(served)
    assert m[("rca_investigations_total", (("kind", "investigation"), ("status", "done")))] >= 1
    assert m[("rca_investigation_duration_seconds_count", (("kind", "investigation"),))] >= 1
    assert m[("rca_http_rejected_total", (("reason", "unauthorized"),))] >= 1
    assert m[("rca_http_rejected_total", (("reason", "too_large"),))] >= 2
    assert m[("rca_http_rejected_total", (("reason", "bad_request"),))] >= 1
    assert m[("rca_queue_depth", ())] == 0 and m[("rca_queue_capacity", ())] == 4 and m[("rca_workers", ())] == 2
    assert m[("rca_http_requests_total", (("method", "POST"), ("route", "/investigations"), ("status", "202")))] >= 1
    assert ("rca_job_runs_total", (("job", "x"), ("status", "done"))) not in m  # no jobs configured here
    lines = served.log_lines()
    assert lines and all("raw" not in line for line in lines), [x for x in lines if "raw" in x][:3]
    access = [x for x in lines if x["logger"] == "rca.access"]
    assert access and all(re.fullmatch(r"[0-9a-f]{32}", x["request_id"]) for x in access)
    answered = [x for x in lines if x["logger"] == "rca.api" and x["msg"].startswith("investigation ")
                and " done in " in x["msg"]]
    assert answered and all("question_id" in x for x in answered)
    assert TOKEN not in Path(served.log_path).read_text()
