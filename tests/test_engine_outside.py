"""A cause the graph cuts off the target's paths: the data tie it to the target, and it is named.

Truth: d drives y (as do a and b); the given graph has a -> y and b -> y but no edge from d,
and d is a node of the graph (its own metric, unconnected). When d spikes, the model can
attribute nothing to it, so without the graph check's help the spike sits in y's own noise.
"""

from __future__ import annotations

import numpy as np

from graphs.model import parse_graph
from rca.engine import Options, Question, Window, investigate
from results import wording
from tests.engine_helpers import frame

_NODES = "nodes:\n  a: {higher_is_worse: true}\n  b: {higher_is_worse: true}\n  d: {higher_is_worse: true}\n" \
         "  y: {higher_is_worse: true}\n"
WRONG = parse_graph("name: wrong\nunit: day\n" + _NODES + "edges: [[a, y], [b, y]]\n", "wrong.yaml")
RIGHT = parse_graph("name: right\nunit: day\n" + _NODES + "edges: [[a, y], [b, y], [d, y]]\n", "right.yaml")


def _data(spike: float, seed: int = 3, n: int = 240):
    rng = np.random.default_rng(seed)
    a, b, d = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    d[-1] += spike
    y = 0.8 * a + 0.5 * b + 1.2 * d + rng.normal(0, 0.5, n)
    data = frame(np.column_stack([a, b, d, y]), ["a", "b", "d", "y"])
    return data, Question("y", at=Window(data.index[-1], data.index[-1]))


def test_a_spike_in_a_node_the_graph_cut_off_is_named_first_and_flagged() -> None:
    data, q = _data(spike=8.0)
    r = investigate(data, WRONG, q, options=Options(seed=0, bootstrap=50))
    assert r.regression.detected
    first = r.causes[0]
    assert first.node == "d" and first.outside_graph and first.unusual and first.direction == "worse"
    assert first.contribution == 0.0 and not first.significant  # the model has no path to attribute through
    assert [c.node for c in r.causes].index("y") > 0  # not left in the target's own noise
    assert "Off the paths graph wrong draws to y" in r.explanation and "rising d" in r.explanation
    assert r.to_dict()["causes"][0]["outside_graph"] is True
    head = wording.headline(r)
    assert "no modelled cause explains it, but rising d (" in head
    assert head.endswith("off the graph's paths to it, changed unusually.")
    assert "(off the graph's paths, tied in the data)" in wording.cause_title(r, "d")


def test_with_the_edge_in_the_graph_nothing_is_outside_and_the_cause_is_attributed() -> None:
    data, q = _data(spike=8.0)
    r = investigate(data, RIGHT, q, options=Options(seed=0, bootstrap=50))
    assert not any(c.outside_graph for c in r.causes)
    assert r.causes[0].node == "d" and r.causes[0].significant and r.causes[0].contribution > 0
    assert "Off the paths" not in r.explanation


def test_an_ordinary_last_day_names_no_outside_node() -> None:
    data, q = _data(spike=0.0)
    r = investigate(data, WRONG, q, options=Options(seed=0, bootstrap=50))
    outside = [c for c in r.causes if c.outside_graph]
    assert [c.node for c in outside] == ["d"]  # the tie is in the data whatever the day
    assert not outside[0].unusual and "Off the paths" not in r.explanation
    assert not r.regression.detected and abs(outside[0].evidence) < 3.5


def test_a_node_downstream_of_the_target_is_never_an_outside_cause() -> None:
    # z follows y (y -> z in truth and in the graph) and also d; the graph lacks d -> z. Only d, tied
    # to y through the missing edge d -> y, may be named; z is an effect of the target.
    rng = np.random.default_rng(5)
    n = 240
    a, b, d = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    d[-1] += 8.0
    y = 0.8 * a + 0.5 * b + 1.2 * d + rng.normal(0, 0.5, n)
    z = 0.9 * y + rng.normal(0, 0.3, n)
    data = frame(np.column_stack([a, b, d, y, z]), ["a", "b", "d", "y", "z"])
    g = parse_graph("name: g\nunit: day\n" + _NODES + "  z: {higher_is_worse: true}\n"
                    "edges: [[a, y], [b, y], [y, z]]\n", "g.yaml")
    r = investigate(data, g, Question("y", at=Window(data.index[-1], data.index[-1])),
                    options=Options(seed=0, bootstrap=50))
    assert "z" not in {c.node for c in r.causes}
    assert r.causes[0].node == "d" and r.causes[0].outside_graph
