"""Load on a real ``rca serve`` (loopback, bounded): GETs keep being answered while a burst of
questions beyond the pool gets 429s, and no accepted question is lost or duplicated. How fast they
are answered is a figure of the machine, measured by ``python -m tests.bench.bench_serve`` (p50, p99
and max of each kind of request), not asserted here."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.bench.bench_serve import burst
from tests.serve_helpers import TOKEN, Served


def test_a_burst_beyond_the_pool_gets_429s_health_keeps_answering_and_nothing_is_lost(tmp_path: Path) -> None:
    served = Served(tmp_path, serve={"workers": 2, "queue": 2, "retry_after_s": 3}).start()
    try:
        res = burst(served.url, TOKEN, posts=16, getters=6, max_s=90)
        assert not res.errors, res.errors[:3]  # every GET and POST answered, none dropped or timed out
        assert sum(res.status.values()) == 16 and set(res.status) <= {202, 429}, res.status
        assert res.status[429] >= 1 and res.status[202] >= 1, res.status  # 16 at once, 4 places
        assert res.retry_after == {"3"}
        assert len(set(res.ids)) == len(res.ids) == res.status[202]
        assert set(res.final) == set(res.ids) and set(res.final.values()) <= {"done", "failed"}, res.final
        assert len(res.latency["healthz"]) >= 20 and len(res.latency["runs"]) >= 5  # answered all along the burst
        with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            text = c.get("/metrics").text
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for f in text_string_to_metric_families(text) for s in f.samples}
        assert samples[("rca_http_rejected_total", (("reason", "queue_full"),))] == res.status[429]
        assert samples[("rca_queue_depth", ())] == 0
    finally:
        served.stop()
    # The store holds exactly the accepted questions, each once, none left unfinished.
    with sqlite3.connect(tmp_path / "data" / "whydunnit.db") as db:
        rows = db.execute("SELECT id, status FROM investigations WHERE kind = 'investigation'").fetchall()
    assert sorted(r[0] for r in rows) == sorted(res.ids)
    assert {r[1] for r in rows} <= {"done", "failed"}
