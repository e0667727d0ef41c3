"""Where a question's graph and data come from: a graph object, file or shipped name; a frame,
a table file (wide or long) or the store's observations for a scope.

Whatever the source, the result is the engine's input: a graph and a wide frame indexed by
time with one column per node. Long observation tables (the store's, or a file written by
``rca collect --git --out``) go through the frame step (:mod:`rca.frames`), which buckets each
node by the graph's unit and its own aggregation.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from collectors import files, observations
from graphs import CausalGraph, load_graph
from rca.frames import to_wide
from rca.pipeline.errors import BadInput

if TYPE_CHECKING:
    from rca.store import Store

Data = pd.DataFrame | str | Path
GraphRef = CausalGraph | str | Path


def graph_of(graph: GraphRef) -> CausalGraph:
    """A graph object as given, else loaded from a file or a shipped name."""
    return graph if isinstance(graph, CausalGraph) else load_graph(graph)


def _one_scope(long: pd.DataFrame, scope: str, where: str) -> tuple[pd.DataFrame, str]:
    scopes = sorted(set(long["scope"]))
    if scope:
        if scope not in scopes:
            raise BadInput(f"{where} has no scope {scope!r}; it has {', '.join(scopes[:10])}")
        return long[long["scope"] == scope], scope
    if len(scopes) > 1:
        raise BadInput(f"{where} holds {len(scopes)} scopes ({', '.join(scopes[:5])}...): say which one (scope)")
    return long, scopes[0]


def wide_frame(data: Data, graph: CausalGraph, scope: str = "") -> tuple[pd.DataFrame, str]:
    """The wide, time-indexed frame of a table given in memory or as a file (wide or long), and its scope.

    A long table's scope is the one asked for (or its only one); a wide table's is ``scope``,
    else the file's name.
    """
    where = "the data" if isinstance(data, pd.DataFrame) else f"data file {str(data)!r}"
    raw = data if isinstance(data, pd.DataFrame) else files.read(data)
    if files.is_observation_table(raw):
        long = observations.validate(raw.assign(source="file") if "source" not in raw.columns else raw)
        rows, scope = _one_scope(long, scope, where)
        return to_wide(rows, graph), scope
    label = scope or ("" if isinstance(data, pd.DataFrame) else Path(str(data)).stem)
    if isinstance(raw.index, pd.DatetimeIndex):
        return raw, label
    return files.index_by_time(raw, where), label


def stored_frame(store: Store, graph: CausalGraph, scope: str) -> pd.DataFrame:
    """The wide frame of what the store holds for ``scope``, bucketed by the graph's unit."""
    if not scope:
        raise BadInput("without a data table, say which scope of the store to read (scope)")
    metrics = sorted({n.metric for n in graph.nodes.values()})
    long = store.read(scope=scope, metrics=metrics)
    if long.empty:
        known = store.scopes()
        hint = (f"; scopes in the store: {', '.join(known[:10])}" if known
                else "; the store is empty: collect first (rca collect)")
        raise BadInput(f"no observations for graph {graph.name!r} in scope {scope!r}{hint}")
    missing = sorted({n.metric for n in graph.nodes.values()} - set(long["metric"]))
    if missing:
        held = sorted(set(store.read(scope=scope)["metric"]))
        raise BadInput(f"scope {scope!r} has no {', '.join(missing[:5])} for graph {graph.name!r}"
                       f"{_fitting_graph_hint(held, graph.name)}")
    return to_wide(long, graph)


def _fitting_graph_hint(metrics: list[str], current: str) -> str:
    """Name the shipped graphs the stored metrics can fill, when the chosen one cannot be."""
    from graphs.model import shipped_graph, shipped_names

    fits = [n for n in shipped_names() if n != current
            and {node.metric for node in shipped_graph(n).nodes.values()} <= set(metrics)]
    return f"; use graph {' or '.join(map(repr, fits))}, which the stored metrics fill" if fits else ""
