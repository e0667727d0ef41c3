"""From a real Prometheus server to an explanation, with the queries rca.example.yaml ships.

The example queries (GitLab CI pipelines exporter, Jenkins Prometheus plugin, a GitHub Actions
exporter, line coverage pushed as a gauge, HTTP error ratio and latency) are taken from the commented block of rca.example.yaml
as they are, pointed at the test server, collected by ``rca collect`` into a SQLite store and
investigated by ``rca investigate`` with a graph whose nodes are two of those metrics.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from rca.store import Store
from tests.prometheus_server import DAY, DAYS, END, START, PrometheusServer

ROOT = Path(__file__).parent.parent
GRAPH = """
name: service-health
unit: day
nodes:
  http_latency_p95_seconds: {agg: mean, higher_is_worse: true}
  http_error_ratio: {agg: mean, higher_is_worse: true, kind: ratio}
edges:
  - [http_latency_p95_seconds, http_error_ratio]
"""


def example_queries() -> str:
    """The example queries of rca.example.yaml, uncommented: YAML list items for ``queries:``."""
    text = (ROOT / "rca.example.yaml").read_text()
    block = text.split("  # --- example queries (begin) ---\n")[1].split("  # --- example queries (end) ---")[0]
    lines = block.splitlines()
    assert lines and all(line.startswith("  #") for line in lines)
    return "\n".join("  " + line[3:] for line in lines) + "\n"


def test_example_queries_fill_the_store_and_investigate(rca, prometheus: PrometheusServer, tmp_path: Path) -> None:
    cfg = tmp_path / "rca.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\nengine: {{bootstrap: 20}}\n"
                   f"prometheus:\n  url: {prometheus.url}\n  until: '{pd.Timestamp(END, unit='s', tz='UTC').isoformat()}'\n"
                   f"  lookback: 60d\n  retries: 0\n  queries:\n{example_queries()}")
    res = rca("collect", "--config", str(cfg))
    assert res.code == 0, res.err
    metrics = ["pipeline_duration_seconds", "pipeline_runs_count", "build_duration_seconds", "failed_builds_count",
               "workflow_duration_seconds", "line_coverage_ratio", "http_error_ratio", "http_latency_p95_seconds"]
    assert [line.split(":")[1].strip() for line in res.out.splitlines()[:-1]] == metrics
    assert all(line.endswith("full read, 1 request(s)") for line in res.out.splitlines()[:-1])

    with Store(f"sqlite:///{tmp_path / 'data' / 'whydunnit.db'}") as store:
        obs = store.read()
    scopes = obs.groupby("metric")["scope"].agg(lambda s: sorted(set(s))).to_dict()
    assert scopes == {
        "pipeline_duration_seconds": ["acme/checkout", "acme/payments", "acme/search"],
        "pipeline_runs_count": ["acme/checkout", "acme/payments", "acme/search"],
        "build_duration_seconds": ["checkout/main", "payments/main"],
        "failed_builds_count": ["checkout/main", "payments/main"],
        "workflow_duration_seconds": ["acme/checkout", "acme/payments"],
        "line_coverage_ratio": ["acme/checkout", "acme/payments", "acme/search"],
        "http_error_ratio": ["checkout", "payments", "search"],
        "http_latency_p95_seconds": ["checkout", "payments", "search"],
    }
    assert (obs.groupby(["metric", "scope"]).size() == DAYS).all()  # one row per day and scope, no gaps

    def value(metric: str, scope: str, day: int) -> float:
        hit = obs[(obs["metric"] == metric) & (obs["scope"] == scope)
                  & (obs["ts"] == pd.Timestamp(START + day * DAY, unit="s", tz="UTC"))]
        assert len(hit) == 1
        return float(hit["value"].iloc[0])

    # The feature-x branch (1,000 s slower) is filtered out; main's pipeline took 300 + (d % 10) * 6 s.
    assert value("pipeline_duration_seconds", "acme/payments", 4) == pytest.approx(324.0)
    assert value("pipeline_runs_count", "acme/payments", 4) == pytest.approx(12.0)
    assert value("build_duration_seconds", "payments/main", 5) == pytest.approx(242.0)  # ms -> s
    assert value("failed_builds_count", "checkout/main", 5) == pytest.approx(6.0)
    assert value("workflow_duration_seconds", "acme/checkout", 7) == pytest.approx(907.0)
    assert value("http_error_ratio", "search", 7) == 0.0
    assert value("line_coverage_ratio", "acme/search", 8) == 0.8 - 3 * 0.0625  # the last sample of the day, exactly

    graph = tmp_path / "service-health.yaml"
    graph.write_text(GRAPH)
    res = rca("investigate", "--config", str(cfg), "--graph", str(graph), "--scope", "checkout",
              "--target", "http_error_ratio", "--at", "2025-11-15", "--format", "json")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert doc["target"] == "http_error_ratio" and doc["scope"] == "checkout" and doc["kind"] == "anomaly"
    assert doc["causes"] and {c["node"] for c in doc["causes"]} <= {"http_latency_p95_seconds", "http_error_ratio"}
    assert doc["observed"]["current"] > doc["observed"]["baseline"]  # errors rose in the last ten days ...
    assert doc["causes"][0]["node"] == "http_latency_p95_seconds"  # ... with the latency they follow
