"""A layered (left-to-right) layout of a causal graph for the report's SVG drawing.

Pure geometry over node names: a node's layer is its longest path from a root along the
graph's edges (edges that would close a loop, i.e. lagged feedback, are left out of the
layering), and nodes within a layer are ordered by a few barycentre sweeps to cut edge
crossings. Also finds the edges that lie on a path from the main causes to the target, which
the drawing highlights. No statistics: the inputs are edges and names.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx


@dataclass(frozen=True)
class Layout:
    layers: dict[str, int]  # node -> column (0 = roots); also holds the waypoints of long edges
    rows: dict[str, int]  # node -> position within its column
    routes: dict[tuple[str, str], list[str]]  # a long edge -> its waypoints, one per column it crosses

    def is_waypoint(self, node: str) -> bool:
        return node.startswith(WAYPOINT)


WAYPOINT = "\x00via:"  # cannot clash with a node name read from YAML, DOT or CSV


def _dag(edges: list[tuple[str, str]], nodes: list[str] | None) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(nodes or [])
    for s, t in edges:
        g.add_node(s)
        g.add_node(t)
    for s, t in edges:
        if s == t:
            continue
        g.add_edge(s, t)
        if not nx.is_directed_acyclic_graph(g):  # a lagged feedback edge: draw it, but don't layer by it
            g.remove_edge(s, t)
    return g


def layered(edges: list[tuple[str, str]], nodes: list[str] | None = None, sweeps: int = 4) -> Layout:
    """Columns by longest path from the roots; rows ordered to reduce crossings."""
    g = _dag(edges, nodes)
    layer: dict[str, int] = {}
    for n in nx.topological_sort(g):
        layer[n] = max((layer[p] + 1 for p in g.predecessors(n)), default=0)
    # Pull roots right next to their first child so sources don't all pile up in column 0.
    for n in sorted(layer, key=lambda k: -layer[k]):
        succ = [layer[s] for s in g.successors(n)]
        if succ and not list(g.predecessors(n)):
            layer[n] = min(succ) - 1
    # An edge spanning several columns gets a waypoint in each column it crosses, so the ordering
    # reserves it a slot and the drawing routes it between boxes instead of behind them.
    routed = nx.DiGraph()
    routed.add_nodes_from(layer)
    routes: dict[tuple[str, str], list[str]] = {}
    for s, t in g.edges:
        chain = [s]
        for k in range(layer[s] + 1, layer[t]):
            via = f"{WAYPOINT}{s}->{t}:{k}"
            layer[via] = k
            chain.append(via)
        chain.append(t)
        if len(chain) > 2:
            routes[(s, t)] = chain[1:-1]
        routed.add_edges_from(zip(chain, chain[1:], strict=False))
    columns: dict[int, list[str]] = {}
    for n in sorted(layer, key=lambda k: (layer[k], k.startswith(WAYPOINT), str(k))):
        columns.setdefault(layer[n], []).append(n)
    order = {n: i for col in columns.values() for i, n in enumerate(col)}
    for sweep in range(sweeps):
        keys = sorted(columns) if sweep % 2 == 0 else sorted(columns, reverse=True)
        for k in keys:
            col = columns[k]

            def centre(n: str, sweep: int = sweep) -> float:
                near = list(routed.predecessors(n)) if sweep % 2 == 0 else list(routed.successors(n))
                return sum(order[m] for m in near) / len(near) if near else order[n]

            col.sort(key=centre)
            for i, n in enumerate(col):
                order[n] = i
    return Layout(layers=layer, rows=order, routes=routes)


def path_edges(edges: list[tuple[str, str]], causes: set[str], target: str) -> set[tuple[str, str]]:
    """Edges lying on some directed path from one of ``causes`` to ``target``."""
    g = nx.DiGraph()
    g.add_edges_from((s, t) for s, t in edges if s != t)
    if target not in g:
        return set()
    into_target = nx.ancestors(g, target) | {target}
    from_causes: set[str] = set()
    for c in causes:
        if c in g:
            from_causes |= nx.descendants(g, c) | {c}
    return {(s, t) for s, t in g.edges if s in from_causes and s in into_target and t in into_target
            and t in from_causes}

