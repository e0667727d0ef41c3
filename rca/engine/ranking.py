"""Order the causes so the first is where the deviation starts, and set the unexplained part apart.

Contributions (how much of the target's deviation each node's noise carries) and evidence
(how unusual each node's own deviation is, :mod:`rca.engine.evidence`) are combined into tiers:

1. upstream nodes whose own deviation is unusual (its change is significant) and whose
   contribution pushes the target the way it went (its bad way, unless it clearly improved), and in
   an anomaly, unusual nodes on a graph path to those whatever their fitted effect
   (:func:`path_starts`);
2. the target itself, when its own deviation is unusual (the fault is in the target, or in
   something the graph does not model);
3. the other upstream nodes, by their evidence (a graph that explains nothing still ranks the
   candidates by how much each changed on its own, not by a column of zeros);
4. upstream nodes whose own deviation is unusual but that pulled the target the other way
   (they answer the opposite question to the one asked);
5. the target, when its own deviation is ordinary.

Within tiers 1 and 4, a node with an unusual ancestor in the same tier that explains it comes
after the nodes without one: when a callee and its caller both look unusual, the callee's
deviation usually explains the caller's (a misfit mechanism leaves some of it in the caller's
noise), so the fault starts at the callee. Then by evidence or contribution (see :func:`rank`),
then a significant contribution first. An ancestor of an unusual
node that deviates moderately (``MODERATE``) in the same bad direction and carries at least as
much of the target's deviation joins the first tier too: a model that cannot extrapolate (a
boosted tree past its training range) shows the deviation in the child's noise, not in the
ancestor's, though it started there. The target's own share is
reported apart as :class:`~results.Unexplained`; it may appear among the causes but never
ahead of an upstream node whose own deviation is unusual. A node off the graph's paths that the
data tie to the target (``outside_graph``) is placed by the same tiers, after the in-graph nodes
of its tier.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import networkx as nx

from results import Cause, Unexplained, notable

MODERATE = 2.5  # |evidence| of an ancestor that may have started an unusual node's deviation
AMPLIFICATION = 0.25  # a callee's move explains a caller's up to 4x its size (retries, pools, fan-out)


def path_starts(causes: list[Cause], target: str, graph_edges: list[tuple[str, str]], *, kind: str = "anomaly",
                own_worse: Mapping[str, bool] | None = None, went_worse: bool = True) -> set[str]:
    """Unusual nodes that lead by the graph's paths, whatever their fitted effect (anomalies only).

    In an anomaly the rows asked about may sit in a regime the fit window never saw: a CPU that
    saturates, a network that delays. A mechanism fitted on ordinary rows then puts ~0 (or even a
    small opposite effect) on an edge the graph declares, and the deviation shows up in the child's
    noise instead. So an unusual node that is an ancestor, on the graph's declared paths, of an
    unusual node leading the ranking (or of the unusual target), and whose own deviation went the
    way the target went (its own bad way when the target got worse), is where the deviation starts,
    whatever the fitted coefficient. A change between windows fits the new window too, so there the
    fitted effects decide.
    """
    if kind != "anomaly":
        return set()
    worse = own_worse or {}
    way = "worse" if went_worse else "better"
    unusual = {c.node for c in causes if c.unusual}
    leading = {c.node for c in causes if c.node != target and c.unusual and c.direction == way}
    if target in unusual:
        leading.add(target)
    g = nx.DiGraph(graph_edges)
    out: set[str] = set()
    for c in causes:
        if c.node == target or c.node not in unusual or c.node not in g or worse.get(c.node) is not went_worse:
            continue
        if c.direction != way and nx.descendants(g, c.node) & leading:
            out.add(c.node)
    return out


def rank(causes: list[Cause], target: str, graph_edges: list[tuple[str, str]], *, kind: str = "anomaly",
         suspected: list[tuple[str, str]] = (), unsupported: list[tuple[str, str]] = (),
         own_worse: Mapping[str, bool] | None = None, deviation: Mapping[str, float] | None = None,
         units: Mapping[str, str] | None = None, went_worse: bool = True,
         passed_down: Mapping[tuple[str, str], float] | None = None,
         unseen: frozenset[str] | set[str] = frozenset()) -> tuple[tuple[Cause, ...], Unexplained]:
    """The causes in reading order and the target's own (unexplained) part.

    ``kind`` decides what orders a tier: an anomaly's causes by their evidence (how far outside
    its range each node's own noise is: where the fault sits), a change's by their contribution
    (several mechanisms may drift at once, a trend in a root among them; the one that moved the
    target most is the answer). ``suspected`` are dependencies the data show and the graph lacks
    (Y's change explains X's), as (source, node): they count as paths when deciding which of two
    unusual nodes comes first, since a missing edge leaves its deviation in the child's noise;
    ``unsupported`` edges (the graph claims them, the data deny them) do not. ``own_worse`` says,
    per node, whether its own deviation went its bad way: it decides the side of an unusual node
    the model gives no contribution (one constant all through the fit window, say, a service at
    100% availability until it failed: the model cannot learn an effect it never saw vary).
    ``deviation`` and ``units`` (each node's raw move at the rows asked about, in its own unit)
    let an anomaly's blocking rule compare like with like: a callee that slowed by 5 ms does not
    explain a caller that slowed by 300 ms, even though both are unusual. ``went_worse`` says which
    way the target moved: the same rule ranks an improvement, the causes that pushed it the way it
    went (there: better) first. Where the units say nothing (none declared, or two different ones),
    an anomaly's ancestor explains a node if its value lies outside what the fit window saw
    (``unseen``: the graph decides in a regime the fit never exercised), else if the fitted model
    passes enough of its move down (``passed_down[(ancestor, node)]``, the node's predicted move, at
    least ``AMPLIFICATION`` of its observed one): inside the range it was fitted on, the model knows
    how much a database 2 ms slower slows its 200 ms caller.
    """
    g = nx.DiGraph(graph_edges)
    g.add_nodes_from(c.node for c in causes)
    way, against = ("worse", "better") if went_worse else ("better", "worse")
    by_path = path_starts(causes, target, graph_edges, kind=kind, own_worse=own_worse, went_worse=went_worse)
    causes = _promote(causes, target, g, way)
    if kind != "anomaly":
        # The graph check tests the fit window. Between two windows its verdict stands; at an anomaly
        # the rows asked about may be in a regime the fit window never exercised (see path_starts).
        g.remove_edges_from(unsupported)
    for src, dst in suspected:
        if src in g and dst in g and src not in nx.descendants(g, dst) and src != dst:
            g.add_edge(src, dst)
    own = next((c for c in causes if c.node == target), None)
    worse = own_worse or {}
    unusual_bad = {c.node for c in causes if c.node != target and c.unusual
                   and (c.direction == way or (c.direction == "neutral" and worse.get(c.node) is went_worse))}
    unusual_bad |= by_path
    # Pulling the other way takes a contribution large enough to name; a smaller one pulls nowhere,
    # and its node stays among the rest, ranked by its evidence.
    unusual_good = {c.node for c in causes if c.node != target and c.unusual and c.node not in unusual_bad
                    and c.direction == against and notable(c.share)}

    by_node = {c.node: c for c in causes}

    def blockers(node: str, group: set[str]) -> set[str]:
        # An anomaly at a few rows is rare by chance: an unusual ancestor at the same rows is where it
        # started (a callee's latency passes up to every caller, amplified past what a model of
        # normal days predicts). A change between windows is not: a root may drift (a trend) while
        # another mechanism changes, so an unusual ancestor explains this node's change only if it
        # carries a comparable part of the target's, or if its own change is far the surer of the
        # two (a huge upstream shift shows up as a small apparent change in a misfit mechanism).
        if node not in g:
            return set()
        ups = nx.ancestors(g, node) & group
        if kind == "anomaly":
            dev, unit = deviation or {}, units or {}
            mine = abs(dev.get(node, 0.0))

            def can_explain(a: str) -> bool:
                if unit.get(a) and unit.get(a) == unit.get(node) and a in dev:
                    return abs(dev[a]) >= AMPLIFICATION * mine
                if a in unseen or not passed_down or (a, node) not in passed_down:
                    return True  # nothing to compare: the path decides
                return abs(passed_down[(a, node)]) >= AMPLIFICATION * mine

            return {a for a in ups if can_explain(a)}
        mine, sure = abs(by_node[node].contribution), abs(by_node[node].evidence)
        return {a for a in ups if a in by_node
                and (abs(by_node[a].contribution) >= 0.5 * mine or abs(by_node[a].evidence) >= 2 * sure)}

    blocked = {n: blockers(n, unusual_bad) for n in unusual_bad} | {n: blockers(n, unusual_good) for n in unusual_good}
    # A node that explains blocked ones answers for their part too: their contribution (and their
    # significance) is its change seen through an edge the model has wrong or lacks.
    # So does its evidence: in an anomaly a node is as sure a start as the surest deviation it explains
    # (a CPU at 85% where 50% is usual explains a call edge 200x slower), ahead of an unusual node that
    # explains nothing.
    credit = {n: abs(by_node[n].contribution) for n in by_node}
    sure = {n: abs(by_node[n].evidence) for n in by_node}
    inherited = {n: by_node[n].significant for n in by_node}
    for node, ups in blocked.items():
        for up in ups:
            if not blocked.get(up):
                credit[up] += abs(by_node[node].contribution)
                sure[up] = max(sure[up], abs(by_node[node].evidence))
                inherited[up] = inherited[up] or by_node[node].significant

    # Ties (nodes flat all through the fit window score alike): the one whose unusual descendants
    # are more explains more of what went wrong.
    flagged = unusual_bad | unusual_good
    reach = {n: len(nx.descendants(g, n) & flagged) for n in flagged if n in g}

    def key(c: Cause) -> tuple:
        if c.node == target:
            tier = 1 if c.unusual else 4
        elif c.node in unusual_bad:
            tier = 0
        elif c.node in unusual_good:
            tier = 3
        else:
            tier = 2
        strength = (-sure[c.node], -credit[c.node]) if kind == "anomaly" or tier == 2 else (
            -credit[c.node], -abs(c.evidence))
        # A node that moved against the target's way (a service that got faster while the front end
        # slowed) is a less likely start.
        own_good = tier == 0 and c.node in worse and worse[c.node] is not went_worse
        # A candidate the graph cut off the target's paths (only the data tie it) comes after the
        # in-graph nodes of its tier: the graph's claim, where the data back it, is the stronger one.
        return (tier, c.outside_graph, bool(blocked.get(c.node)), own_good, *strength, -reach.get(c.node, 0),
                not inherited[c.node], c.node)

    ordered = tuple(sorted(causes, key=key))
    unexplained = Unexplained(own.contribution, own.share) if own is not None else Unexplained(0.0, 0.0)
    return ordered, unexplained


def _promote(causes: list[Cause], target: str, g: nx.DiGraph, way: str = "worse") -> list[Cause]:
    """Mark as unusual the moderately deviating ancestors that carry more than an unusual node they feed."""
    by_node = {c.node: c for c in causes}
    promoted: set[str] = set()
    for c in causes:
        if c.node == target or not c.unusual or c.direction != way or c.node not in g:
            continue
        for up in nx.ancestors(g, c.node):
            a = by_node.get(up)
            if (a is not None and up != target and not a.unusual and a.direction == way
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
