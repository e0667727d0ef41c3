"""The fast DOT reader reads what pydot reads, the same way, and hands pydot what it cannot."""

from __future__ import annotations

import pytest

from graphs import dot, model
from graphs.model import GraphError, parse_graph

TEXTS = [
    # quoted ids of every shape a metric name takes, an escaped quote, a chain, attributes without a value
    r'''strict digraph "svc graph" {
        graph [unit=hour, rankdir=LR];  // a comment
        /* a block
           comment */
        "PetSearch_AWS::ECS::Fargate" [agg=mean, higher_is_worse=true, shape=box];
        "api/v1@eu-west.latency p90" [agg="max"];
        "https://example.com/x?q=1" -> "api/v1@eu-west.latency p90" -> "PetSearch_AWS::ECS::Fargate" [lag=1];
        "say \"hi\"" -> plain_node;
        plain_node [higher_is_worse=false label="Plain node"]
        unit = hour
    }''',
    "digraph { a -> b; b -> c [lag=2]; a [agg=sum]; node [shape=box]; edge [color=red]; 1.5 -> c }",
    "# a preprocessor line\ndigraph g {\n a -> b\n}\n",
]


@pytest.mark.parametrize("text", TEXTS)
def test_the_fast_reader_and_pydot_read_the_same_graph(text: str) -> None:
    fast = dot._read_dot(text)
    assert fast is not None, "the fast reader should read this subset itself"
    slow = dot._pydot(text, "g.dot")
    assert fast.kind == slow.kind
    assert fast.nodes == slow.nodes
    assert fast.edges == slow.edges
    assert {k: v for k, v in fast.attrs.items()} == slow.attrs
    assert parse_graph(text, "g.dot") == model.build_graph(*_parts(slow))


def _parts(parsed: dot.DotGraph):
    edges = [model.Edge(a, b, model._lag(attrs.get("lag", 0), "g.dot")) for a, b, attrs in parsed.edges]
    nodes = {n: model._node(n, {k: v for k, v in spec.items() if k in model._NODE_FIELDS}, "g.dot")
             for n, spec in parsed.nodes.items()}
    return parsed.attrs.get("name", "g"), parsed.attrs.get("unit", "week"), nodes, edges, "g.dot"


@pytest.mark.parametrize("text", [
    "digraph { subgraph cluster_a { a -> b } b -> c }",  # subgraphs
    "digraph { a:port1 -> b }",  # ports
    'digraph { "a" + "b" -> c }',  # concatenated ids
    "digraph { a -> <<b>b</b>> }",  # HTML ids
])
def test_what_the_fast_reader_leaves_pydot_still_reads(text: str) -> None:
    assert dot._read_dot(text) is None
    graph = parse_graph(text, "g.dot")
    assert len(graph.edges) >= 1


def test_broken_dot_is_one_clear_line_from_pydot() -> None:
    assert dot._read_dot("digraph { a -> ; }") is None
    with pytest.raises(GraphError, match="not valid Graphviz DOT"):
        parse_graph("digraph { a -> ; }", "g.dot")


def test_reading_the_documented_subset_never_imports_pydot() -> None:
    import subprocess
    import sys

    code = ("import sys; from graphs.model import parse_graph;"
            "parse_graph('digraph { graph [unit=day]; \"a::b\" -> c [lag=1]; }', 'g.dot');"
            "print('pydot' in sys.modules or 'pyparsing' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
