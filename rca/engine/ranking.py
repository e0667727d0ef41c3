"""Order the causes so the first is where the deviation starts, and set the unexplained part apart.

Contributions (how much of the target's deviation each node's noise carries) and evidence
(how unusual each node's own deviation is, :mod:`rca.engine.evidence`) are combined into tiers:

1. upstream nodes whose own deviation is unusual and whose contribution pushes the target the
   bad way, significant ones first;
2. the target itself, when its own deviation is unusual (the fault is in the target, or in
   something the graph does not model);
3. upstream nodes whose own deviation is unusual but that pull the other way;
4. everything else, the target last.

Within tiers 1 and 3, a node with an unusual ancestor in the same tier comes after the nodes
without one: when a callee and its caller both look unusual, the callee's deviation usually
explains the caller's (a misfit mechanism leaves some of it in the caller's noise), so the
fault starts at the callee. Then by evidence, then by contribution. An ancestor of an unusual
node that deviates moderately (``MODERATE``) in the same bad direction and carries at least as
much of the target's deviation joins the first tier too: a model that cannot extrapolate (a
boosted tree past its training range) shows the deviation in the child's noise, not in the
ancestor's, though it started there. The target's own share is
reported apart as :class:`~results.Unexplained`; it may appear among the causes but never
ahead of an upstream node whose own deviation is unusual.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import networkx as nx

from results import Cause, Unexplained

MODERATE = 2.5  # |evidence| of an ancestor that may have started an unusual node's deviation


def rank(causes: list[Cause], target: str, graph_edges: list[tuple[str, str]]) -> tuple[tuple[Cause, ...], Unexplained]:
    """The causes in reading order and the target's own (unexplained) part."""
    g = nx.DiGraph(graph_edges)
    g.add_nodes_from(c.node for c in causes)
    causes = _promote(causes, target, g)
    own = next((c for c in causes if c.node == target), None)
    unusual_bad = {c.node for c in causes if c.node != target and c.unusual and c.direction == "worse"}
    unusual_good = {c.node for c in causes if c.node != target and c.unusual and c.direction != "worse"}

    def blocked(node: str, tier: set[str]) -> bool:
        return bool(nx.ancestors(g, node) & tier) if node in g else False

    def key(c: Cause) -> tuple:
        if c.node == target:
            tier = 2 if c.unusual else 5
        elif c.node in unusual_bad:
            tier = 0 if c.significant else 1
        elif c.node in unusual_good:
            tier = 3
        else:
            tier = 4
        group = unusual_bad if tier in (0, 1) else unusual_good if tier == 3 else set()
        return (tier, blocked(c.node, group), -abs(c.evidence) if tier < 5 else 0.0, -abs(c.contribution), c.node)

    ordered = tuple(sorted(causes, key=key))
    unexplained = Unexplained(own.contribution, own.share) if own is not None else Unexplained(0.0, 0.0)
    return ordered, unexplained


def _promote(causes: list[Cause], target: str, g: nx.DiGraph) -> list[Cause]:
    """Mark as unusual the moderately deviating ancestors that carry more than an unusual node they feed."""
    by_node = {c.node: c for c in causes}
    promoted: set[str] = set()
    for c in causes:
        if c.node == target or not c.unusual or c.direction != "worse" or c.node not in g:
            continue
        for up in nx.ancestors(g, c.node):
            a = by_node.get(up)
            if (a is not None and up != target and not a.unusual and a.direction == "worse"
                    and abs(a.evidence) >= MODERATE and abs(a.contribution) >= abs(c.contribution)):
                promoted.add(up)
    out = []
    for c in causes:
        if c.node in promoted:
            excludes_zero = c.interval[0] > 0 or c.interval[1] < 0
            c = replace(c, unusual=True, significant=excludes_zero)
        out.append(c)
    return out


def fold(values: Mapping[str, float], columns: Mapping[str, tuple[str, int]], *, how: str = "sum") -> dict[str, float]:
    """Per-column values folded into their node: summed (contributions) or the largest in size (scores)."""
    out: dict[str, float] = {}
    for col, value in values.items():
        node = columns.get(col, (col, 0))[0]
        if how == "sum":
            out[node] = out.get(node, 0.0) + value
        elif node not in out or abs(value) > abs(out[node]):
            out[node] = value
    return out
