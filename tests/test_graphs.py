"""Graph loading and validation: YAML and DOT, and one clear error per defect."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphs import GraphError, load_graph, shipped_graph
from graphs.model import parse_graph, unrolled


def test_shipped_delivery_graph_names_collector_metrics() -> None:
    g = shipped_graph("delivery")
    assert g.unit == "week"
    assert {"bug_fix_commit_ratio", "line_coverage_ratio", "lead_time_seconds"} <= set(g.nodes)
    assert g.nodes["line_coverage_ratio"].higher_is_worse is False
    assert any(e.lag == 1 for e in g.edges)


def test_yaml_and_dot_give_the_same_graph(tmp_path: Path) -> None:
    yaml_text = """
name: q
unit: week
nodes:
  "svc::api/p99 latency": {agg: median}
  cov: {agg: last, higher_is_worse: false}
edges:
  - [cov, "svc::api/p99 latency", {lag: 2}]
"""
    dot_text = """digraph q { graph [unit=week];
  "svc::api/p99 latency" [agg=median];
  cov [agg=last, higher_is_worse=false];
  cov -> "svc::api/p99 latency" [lag=2];
}"""
    (tmp_path / "q.yaml").write_text(yaml_text)
    (tmp_path / "q.dot").write_text(dot_text)
    a, b = load_graph(tmp_path / "q.yaml"), load_graph(tmp_path / "q.dot")
    assert a.nodes == b.nodes
    assert a.edges == b.edges
    assert a.edges[0].lag == 2
    dag, columns = unrolled(a)
    assert columns["cov[t-2]"] == ("cov", 2)
    assert ("cov[t-2]", "svc::api/p99 latency") in dag.edges


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("nodes: {a: {}, b: {}}\nedges: [[a, b], [b, a]]", "cycle a -> b -> a"),
        ("nodes: {a: {}}\nedges: [[a, zz]]", "unknown node 'zz'"),
        ("nodes: {a: {}}\nedges: [[a, a]]", "self-loop on 'a'"),
        ("nodes: {a: {agg: average}}", "agg 'average'"),
        ("nodes: {a: {}}\nunit: fortnight", "unit 'fortnight'"),
        ("nodes: {a: {}, b: {}}\nedges: [[a, b, {lag: -1}]]", "lag must be"),
        ("nodes: {a: {}, b: {}}\nedges: [[a, b], [a, b]]", "declared twice"),
        ("nodes: [a, b\n", "not valid YAML"),
        ("digraph { a -> b; b -> c; c -> a; }", "cycle"),
        ("graph { a -- b }", "must be a 'digraph'"),
    ],
)
def test_bad_graphs_are_rejected_with_one_line(text: str, needle: str) -> None:
    with pytest.raises(GraphError) as info:
        parse_graph(text, "g.yaml" if not text.startswith(("digraph", "graph")) else "g.dot")
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_lagged_edges_may_close_a_loop() -> None:
    g = parse_graph("nodes: {a: {}, b: {}}\nedges: [[a, b], [b, a, {lag: 1}], [a, a, {lag: 1}]]")
    dag, _ = unrolled(g)
    assert set(dag.edges) == {("a", "b"), ("b[t-1]", "a"), ("a[t-1]", "a")}


def test_missing_graph_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GraphError, match="does not exist"):
        load_graph(tmp_path / "nope.yaml")
