"""`rca graph show --format dot|svg|png`: DOT that reads back as the same graph, and drawings by Graphviz's
real `dot` program, checked in headless Chromium (the DOM it draws and a screenshot)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from graphs import shipped_graph
from graphs.model import parse_graph
from rca.pipeline.graph_pictures import dot_text

pytest_plugins = ["tests.reports_fixtures"]  # its fixtures: browser, artifacts

ODD = parse_graph("""
name: odd names
unit: day
nodes:
  "svc::checkout/p99 latency": {kind: duration, label: 'Checkout "p99"'}
  "errors @edge": {kind: count, actionable: false}
  deploys: {agg: sum, mechanism: linear}
edges:
  - [deploys, "svc::checkout/p99 latency"]
  - ["svc::checkout/p99 latency", "errors @edge", {lag: 2}]
""")


def _same(a, b) -> None:
    assert a.name == b.name and a.unit == b.unit
    assert list(a.nodes) == list(b.nodes) and a.nodes == b.nodes
    assert [(e.source, e.target, e.lag) for e in a.edges] == [(e.source, e.target, e.lag) for e in b.edges]


@pytest.mark.parametrize("graph", [shipped_graph("delivery"), shipped_graph("git-quality"), ODD],
                         ids=["delivery", "git-quality", "odd"])
def test_dot_reads_back_as_the_same_graph(graph) -> None:
    _same(parse_graph(dot_text(graph), "back.dot"), graph)


def test_dot_needs_graphviz_and_says_so_in_one_line(rca, tmp_path: Path, monkeypatch) -> None:
    assert shutil.which("dot"), "graphviz's dot is not installed: run `make system-deps` (apt-get install graphviz)"
    png = rca("graph", "show", "delivery", "--format", "png")
    assert png.code == 2 and "--format png writes an image: give --out FILE.png" in png.err
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on it
    res = rca("graph", "show", "delivery", "--format", "svg")
    assert res.code == 2 and res.err.count("\n") == 1
    assert "needs Graphviz's dot program, which is not installed: apt-get install graphviz" in res.err
    dot = rca("graph", "show", "delivery", "--format", "dot")  # DOT itself needs no Graphviz
    assert dot.code == 0 and dot.out.startswith('digraph "delivery-quality" {')


GRAPH_JS = """(() => ({
  nodes: [...document.querySelectorAll('g.node > title')].map(t => t.textContent),
  edges: document.querySelectorAll('g.edge').length,
  boxes: [...document.querySelectorAll('g.node')].filter(g => g.getBoundingClientRect().width > 20).length,
  width: document.documentElement.getBoundingClientRect().width,
}))()"""


def test_svg_and_png_drawn_by_graphviz_in_chromium(rca, browser, tmp_path: Path, artifacts: Path) -> None:
    graph = shipped_graph("delivery")
    svg, png = tmp_path / "delivery.svg", tmp_path / "delivery.png"
    for path, fmt in ((svg, "svg"), (png, "png")):
        res = rca("graph", "show", "delivery", "--format", fmt, "--out", str(path))
        assert res.code == 0, res.err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    load, session = browser.load(svg, screenshot=artifacts / "graph-delivery-svg.png")
    assert load.console_errors == [] and load.requests == [load.url]
    got = browser.evaluate(session, GRAPH_JS)
    assert sorted(got["nodes"]) == sorted(graph.nodes)  # every node drawn, under its own name
    assert got["edges"] == len(graph.edges) and got["boxes"] == len(graph.nodes) and got["width"] > 300
    page = tmp_path / "png.html"
    page.write_text(f'<!doctype html><img id="g" src="{png.name}" alt="delivery graph">', encoding="utf-8")
    load, session = browser.load(page, screenshot=artifacts / "graph-delivery-png.png")
    assert load.console_errors == []
    size = browser.evaluate(session, "[document.getElementById('g').naturalWidth, document.getElementById('g').naturalHeight]")
    assert size[0] > 400 and size[1] > 100
    assert (artifacts / "graph-delivery-svg.png").stat().st_size > 10_000
