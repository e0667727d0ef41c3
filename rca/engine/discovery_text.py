"""Words and files for a suggested graph: the diff against the start graph, and the graph as YAML.

Kept apart from :mod:`rca.engine.discovery`, which computes; nothing here computes a statistic.
The YAML is the shipped graphs' format (``graphs/*.yaml``), so every command reads the result.
"""

from __future__ import annotations

import yaml

from graphs import CausalGraph
from rca.engine.discovery import SuggestedEdge, Suggestion

_MARK = {"kept": "=", "added": "+", "dropped": "-"}


def _edge(e: SuggestedEdge) -> str:
    return f"{e.source} -> {e.target}" + (f" (lag {e.lag})" if e.lag else "")


_WHY = {
    "not found": "not found by PC on all the rows",
    "unstable": "found on all the rows, but in too few stretches of the history",
    "cycle": "left out to break a cycle",
    "reversed": "found the other way",
}


def _support(e: SuggestedEdge) -> str:
    freq = "" if e.frequency is None else f", found in {e.frequency:.0%} of resamples"
    why = f"; {_WHY[e.why_dropped]}" if e.why_dropped else ""
    return (f"partial r={e.partial_r:+.2f}, p={e.p_value:.2g}{freq}" + ("" if e.oriented else ", direction not from data")
            + why)


def lines(s: Suggestion) -> list[str]:
    """The diff, one edge a line: ``=`` kept, ``+`` added, ``-`` dropped, each with its support."""
    kept, added, dropped = s.status("kept"), s.status("added"), s.status("dropped")
    head = (f"graph {s.graph.name}: {len(s.graph.edges)} edge(s) over {len(s.graph.nodes)} node(s) from {s.rows} rows "
            f"(PC, alpha {s.alpha:g}, lags up to {s.max_lag}, {s.resamples} resamples of half the history, {s.seconds:.1f} s)")
    if s.start is not None:
        head += f"; against {s.start}: {len(kept)} kept, {len(added)} added, {len(dropped)} dropped"
    out = [head]
    width = max((len(_edge(e)) for e in s.edges), default=0)
    for group in (kept, added, dropped):
        out += [f"  {_MARK[e.status]} {_edge(e):{width}}  {_support(e)}" for e in group]
    if s.tiers:
        out.append("tiers (earliest first): " + " | ".join(", ".join(t) for t in s.tiers))
    out += _changed(s)
    return out + [f"note: {n}" for n in s.notes]


_KIND = {"appeared": "appeared in the later half", "faded": "faded in the later half", "reversed": "reversed"}


def _changed(s: Suggestion, shown: int = 6) -> list[str]:
    h = s.changed
    if h is None:
        return []
    span = f"{h.early[0]} to {h.early[1]} against {h.late[0]} to {h.late[1]}"
    if not h.pairs:
        return [f"stable: no pair of metrics gained, lost or reversed a dependence between the halves ({span}; "
                f"{h.tested} pairs, q <= {h.alpha:g})"]
    out = [f"changed over the history: {len(h.pairs)} of {h.tested} pairs of metrics depend on each other in one "
           f"half and not the other, or the other way ({span}; correlation around the trend, q <= {h.alpha:g}):"]
    out += [f"  {d.a} ~ {d.b}: {_KIND[d.kind]} (r {d.early:+.2f}, then {d.late:+.2f}; p={d.p_value:.2g})"
            for d in h.pairs[:shown]]
    if len(h.pairs) > shown:
        out.append(f"  and {len(h.pairs) - shown} more")
    out.append(f"  the graph keeps what held across the years, so it may hold less well in recent weeks; to learn the "
               f"later years alone, add --since {h.late[0]} (and check it with graph check --since {h.late[0]})")
    return out


def graph_yaml(s: Suggestion, start: CausalGraph | None = None) -> str:
    """The suggested graph as a YAML graph file, each edge with its support as a comment."""
    g = s.graph
    nodes = {}
    for n in g.nodes.values():
        spec: dict[str, object] = {"metric": n.metric, "agg": n.agg, "higher_is_worse": n.higher_is_worse}
        if n.kind != "auto":
            spec["kind"] = n.kind
        spec["actionable"] = n.actionable
        if n.mechanism != "auto":
            spec["mechanism"] = n.mechanism
        if n.label:
            spec["label"] = n.label
        if n.denominator:
            spec["denominator"] = n.denominator
        nodes[n.name] = spec
    head = [f"# Suggested from {s.rows} rows by PC (alpha {s.alpha:g}, lags up to {s.max_lag}) under the tiers "
            + " < ".join("{" + ", ".join(t) + "}" for t in s.tiers)]
    if start is not None:
        head.append(f"# Start graph: {start.name}.")
    head += [f"# Note: {n}" for n in s.notes]
    body = yaml.safe_dump({"name": g.name, "unit": g.unit}, sort_keys=False)
    body += "nodes:\n"
    for name, spec in nodes.items():
        inner = ", ".join(f"{k}: {yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...').strip()}"
                          for k, v in spec.items())
        body += f"  {yaml.safe_dump(name).strip().removesuffix('...').strip()}: {{{inner}}}\n"
    body += "edges:\n" if g.edges else "edges: []\n"
    support = {(e.source, e.target, e.lag): e for e in s.edges if e.status != "dropped"}
    for e in g.edges:
        ends = ", ".join(yaml.safe_dump(x).strip().removesuffix("...").strip() for x in (e.source, e.target))
        lag = f", {{lag: {e.lag}}}" if e.lag else ""
        body += f"  - [{ends}{lag}]  # {_support(support[(e.source, e.target, e.lag)])}\n"
    return "\n".join(head) + "\n" + body
