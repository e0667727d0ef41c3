"""A causal graph as Graphviz DOT, and drawn by Graphviz's ``dot`` as SVG or PNG (``rca graph show --format``).

The DOT text carries every field of the graph as attributes (``unit`` on the graph; ``metric``,
``agg``, ``higher_is_worse``, ``actionable``, ``kind``, ``mechanism``, ``denominator`` and ``label``
on nodes; ``lag`` on edges), so it reads back as the same graph; styling attributes (boxes, a grey
fill for nodes marked ``actionable: false``, dashed lagged edges labelled with their lag) only
change how Graphviz draws it. Every id and value is quoted and escaped, so node names with ``::``,
``/``, spaces or quotes survive.

SVG and PNG come from the ``dot`` program (Debian's ``graphviz`` package), run with the DOT text on
its standard input, a time bound and no shell; a missing ``dot`` is one line saying how to install it.
"""

from __future__ import annotations

import shutil
import subprocess

from graphs import CausalGraph
from rca.pipeline.errors import BadInput

DOT_TIMEOUT_S = 30.0


def _q(value: object) -> str:
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "")
    return f'"{text}"'


def dot_text(graph: CausalGraph) -> str:
    """The graph as a Graphviz ``digraph`` that :func:`graphs.model.parse_graph` reads back as the same graph."""
    # The graph's own fields as top-level statements (pydot reads those; a `graph [...]` list it does not).
    lines = [f"digraph {_q(graph.name)} {{", f"  name={_q(graph.name)};", f"  unit={_q(graph.unit)};",
             '  rankdir="LR";', '  fontname="Helvetica";',
             '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9, color="#5b6472"];']
    for name, n in graph.nodes.items():
        attrs = {"metric": n.metric, "agg": n.agg, "higher_is_worse": str(n.higher_is_worse).lower(),
                 "actionable": str(n.actionable).lower()}
        if n.label:
            attrs["label"] = n.label
        for key in ("kind", "mechanism"):
            value = getattr(n, key, None)
            if value and value != "auto":
                attrs[key] = value
        if n.denominator:
            attrs["denominator"] = n.denominator
        if not n.actionable:
            attrs["fillcolor"] = "#e8eaee"
        lines.append(f"  {_q(name)} [" + ", ".join(f"{k}={_q(v)}" for k, v in attrs.items()) + "];")
    for e in graph.edges:
        extra = f", style=dashed, label={_q(f'lag {e.lag}')}" if e.lag else ""
        lines.append(f"  {_q(e.source)} -> {_q(e.target)} [lag={e.lag}{extra}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def drawn(graph: CausalGraph, fmt: str) -> bytes:
    """The graph drawn by Graphviz's ``dot`` as ``svg`` or ``png``."""
    if fmt not in ("svg", "png"):
        raise BadInput(f"cannot draw a graph as {fmt!r}: use dot, svg or png")
    binary = shutil.which("dot")
    if binary is None:
        raise BadInput(f"drawing a graph as {fmt} needs Graphviz's dot program, which is not installed: "
                       "apt-get install graphviz (or use --format dot)")
    try:
        done = subprocess.run([binary, f"-T{fmt}"], input=dot_text(graph).encode("utf-8"), capture_output=True,
                              timeout=DOT_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise BadInput(f"Graphviz's dot took over {DOT_TIMEOUT_S:.0f} s to draw graph {graph.name!r}") from None
    if done.returncode != 0 or not done.stdout:
        first = done.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        raise BadInput(f"Graphviz's dot could not draw graph {graph.name!r}" + (f": {first[0][:200]}" if first else ""))
    return done.stdout


def graph_picture(graph: CausalGraph | str, fmt: str) -> bytes:
    """A graph (an object, a file or a shipped name) as ``dot`` text, or drawn as ``svg`` or ``png``."""
    from rca.pipeline.data import graph_of
    from rca.pipeline.errors import translated

    with translated():
        g = graph_of(graph)
    return dot_text(g).encode("utf-8") if fmt == "dot" else drawn(g, fmt)
