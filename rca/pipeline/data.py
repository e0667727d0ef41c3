"""Where a question's graph and data come from: a graph object, file or shipped name (or, from a client
of the service, a shipped name or a definition: :func:`graph_asked`); a frame, a table file (wide
or long) or the store's observations for a scope.

Whatever the source, the result is the engine's input: a graph and a wide frame indexed by
time with one column per node (or, for questions over several scopes, one such frame per scope:
:func:`wide_frames`, :func:`stored_frames`). Long observation tables (the store's, or a file written by
``rca collect --git --out``) go through the frame step (:mod:`rca.frames`), which buckets each
node by the graph's unit and its own aggregation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from collectors import files
from core import observations
from core.errors import BadInput
from graphs import CausalGraph, load_graph
from rca.frames import to_wide

if TYPE_CHECKING:
    from rca.store import Store

Data = pd.DataFrame | str | Path
GraphRef = CausalGraph | str | Path


def graph_of(graph: GraphRef) -> CausalGraph:
    """A graph object as given, else loaded from a file or a shipped name."""
    return graph if isinstance(graph, CausalGraph) else load_graph(graph)


def graph_asked(ref: Any) -> CausalGraph:
    """A graph a client of the service sends: a shipped name, or a definition (a mapping, or YAML/DOT text).
    Never a path: a client of the service does not get to read the server's files."""
    from graphs.model import MAX_YAML_DEPTH, parse_graph, shipped_graph, shipped_names

    if ref is None or ref == "":
        return shipped_graph("delivery")
    if isinstance(ref, Mapping):
        if _depth(ref) > MAX_YAML_DEPTH:
            raise BadInput(f"the graph is nested more than {MAX_YAML_DEPTH} levels deep; send it as graphs/*.yaml are")
        return parse_graph(json.dumps(ref), "graph")
    if isinstance(ref, str) and "\n" not in ref and not ref.lstrip().startswith(("{", "digraph", "strict")):
        if ref not in shipped_names():
            raise BadInput(f"no shipped graph named {ref[:80]!r}; use {', '.join(shipped_names())}, "
                           "or send the graph itself (an object, or YAML/DOT text)")
        return shipped_graph(ref)
    if isinstance(ref, str):
        return parse_graph(ref, "graph")
    raise BadInput("graph must be a shipped graph's name or a graph definition (an object, or YAML/DOT text)")


def _depth(value: Any) -> int:
    """How deeply lists and mappings nest in ``value`` (counted without recursion: the value came from outside)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, Mapping | list | tuple):
            deepest = max(deepest, level)
            todo.extend((v, level + 1) for v in (item.values() if isinstance(item, Mapping) else item))
    return deepest


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


def from_time(frame: pd.DataFrame, since: str | None) -> pd.DataFrame:
    """The buckets from ``since`` on (any time the CLI takes: a date, YYYYMMDD, ISO); all of them when None."""
    if not since:
        return frame
    from core.times import parse_time

    start = parse_time(since)
    kept = frame[frame.index >= start]
    if kept.empty:
        end = frame.index.max()
        raise BadInput(f"no data from {start:%Y-%m-%d} on: the data end with {end:%Y-%m-%d}; give an earlier --since"
                       if len(frame) else "the data has no rows")
    return kept


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


def _chosen(have: list[str], scopes: Sequence[str], where: str) -> list[str]:
    """The scopes asked for (every one ``where`` holds when none is named); an unknown one is an error."""
    unknown = [s for s in scopes if s not in have]
    if unknown:
        raise BadInput(f"{where} has no scope {', '.join(map(repr, unknown))}; it has {', '.join(have[:10])}")
    return list(dict.fromkeys(scopes)) if scopes else have


def wide_frames(data: Data, graph: CausalGraph, scopes: Sequence[str] = ()) -> dict[str, pd.DataFrame]:
    """One wide, time-indexed frame per scope of a table given in memory or as a file.

    A long (observation) table, or a wide one with a ``scope`` column, gives the scopes named in
    ``scopes`` (every scope it holds when none is named). A wide table without a ``scope`` column
    is one scope: labelled ``scopes[0]`` when given, else by the file's name. Columns that are
    not graph nodes (features such as team size) stay in a wide table's frames.
    """
    where = "the data" if isinstance(data, pd.DataFrame) else f"data file {str(data)!r}"
    raw = data if isinstance(data, pd.DataFrame) else files.read(data)
    if files.is_observation_table(raw):
        long = observations.validate(raw.assign(source="file") if "source" not in raw.columns else raw)
        chosen = _chosen(sorted(set(long["scope"])), scopes, where)
        return {s: to_wide(long[long["scope"] == s], graph) for s in chosen}
    if "scope" in raw.columns:
        chosen = _chosen(sorted(set(raw["scope"].astype(str))), scopes, where)
        out = {}
        for s in chosen:
            rows = raw[raw["scope"].astype(str) == s].drop(columns=["scope"])
            out[s] = rows.sort_index() if isinstance(rows.index, pd.DatetimeIndex) else files.index_by_time(
                rows, f"{where}, scope {s!r}")
        return out
    if len(scopes) > 1:
        raise BadInput(f"{where} is one wide table without a scope column, so it holds one scope; "
                       f"name at most one (scopes), not {len(scopes)}")
    frame, label = wide_frame(raw, graph, scopes[0] if scopes else "")
    return {label or ("data" if isinstance(data, pd.DataFrame) else Path(str(data)).stem): frame}


def stored_frames(store: Store, graph: CausalGraph, scopes: Sequence[str] = ()) -> dict[str, pd.DataFrame]:
    """The wide frame of each scope named in ``scopes``; with none named, of every scope of the store
    that holds all of the graph's metrics (an error when there is none)."""
    if scopes:
        return {s: stored_frame(store, graph, s) for s in dict.fromkeys(scopes)}
    known = store.scopes()
    if not known:
        raise BadInput("the store is empty: collect first (rca collect), or give a data table")
    metrics = sorted({n.metric for n in graph.nodes.values()})
    held = store.read(metrics=metrics)
    full = [s for s in known if set(metrics) <= set(held.loc[held["scope"] == s, "metric"])]
    if not full:
        raise BadInput(f"no scope of the store holds every metric of graph {graph.name!r} "
                       f"(scopes: {', '.join(known[:10])}); say which scope(s) to read")
    return {s: to_wide(held[held["scope"] == s], graph) for s in full}
