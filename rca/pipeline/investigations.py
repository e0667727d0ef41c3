"""Investigations and graph checks: a request in, a result (and its renderings) out.

A request names a target and a question (:class:`rca.config.InvestigationSettings`: the same
shape a configured report target has); the data is a frame or table given in memory or as a
file, or else the store's observations for the request's scope. Investigations of the store
are kept in it (question, JSON result, status) under an id, so they can be served again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from graphs import CausalGraph
from rca.config import InvestigationSettings, Settings, scrubber
from rca.engine import ModelCache, Question
from rca.engine import check_graph as engine_check_graph
from rca.engine import investigate as engine_investigate
from rca.engine.question import iso
from rca.pipeline import records
from rca.pipeline.compute import on_cluster
from rca.pipeline.data import Data, GraphRef, from_time, graph_of, stored_frame, wide_frame
from rca.pipeline.questions import question as to_question
from rca.pipeline.settling import LAG_METRICS, Settling, for_question, read_at, settle
from rca.pipeline.settling import span as settling_span
from results import InvestigationResult

if TYPE_CHECKING:
    import pandas as pd

    from rca.store import Store

Request = InvestigationSettings


@dataclass(frozen=True)
class Investigation:
    """One answered request: the result, its id in the store (if kept), its renderings."""

    result: InvestigationResult
    id: str | None = None
    rendered: Mapping[str, str] = field(default_factory=dict)  # format -> text
    unkept: str | None = None  # why the store could not keep it (read-only, down): the answer stands regardless


def question_record(request: Request, graph: CausalGraph) -> dict[str, object]:
    """The question as the store keeps it (what was asked, not the data)."""
    out = request.model_dump(exclude_none=True)
    out["graph"] = graph.name
    return out


def answer(request: Request, graph: CausalGraph, frame, settings: Settings, *,
           cache: ModelCache | None = None, settling: Settling | None = None) -> InvestigationResult:
    """Ask the engine ``request`` of a wide ``frame`` (the windows resolved against its rows).

    ``settling`` says which buckets are still settling (:mod:`rca.pipeline.settling`; measured from
    the table's time-to-fix figures by the caller, else the default span): settling nodes are left out
    of the graph when the rows asked about reach into them. The result says when its data end, and a
    caveat says how old they are when they stopped more than two buckets ago.
    """
    from datetime import UTC, datetime

    from results import wording

    q: Question = to_question(request, frame.index, graph.unit)
    found = settling if settling is not None else settling_span(frame, graph)
    asked = for_question(graph, frame, q, found)
    result = engine_investigate(frame, asked.graph, q, scope=request.scope, options=settings.engine, cache=cache)
    result = replace(result, data_end=iso(frame.index.max()), settling_since=asked.target_since,
                     caveats=result.caveats + asked.caveats)
    age = wording.data_age(result, datetime.now(UTC), what="this investigation")
    if age:
        result = replace(result, caveats=(*result.caveats, age[:1].lower() + age[1:].rstrip(".")))
    return replace(result, explanation=wording.explanation(result)) if asked.target_since else result


def settling_of(graph: CausalGraph, frame, raw=None, store: Store | None = None, scope: str = "",
                read: pd.Timestamp | None = None) -> Settling:
    """Which of ``frame``'s buckets are still settling for ``graph``, measured from ``raw`` (a table) or the
    store's figures for ``scope`` when the graph has settling nodes, counted back from ``read`` (when the
    history was read) if known."""
    if not settling_span(frame, graph, buckets=0).nodes:
        return settling_span(frame, graph)
    if raw is None and store is not None and scope:
        raw = store.read(scope=scope, metrics=list(LAG_METRICS))
    return settling_span(frame, graph, raw, read=read)


@on_cluster
def investigate(request: Request, settings: Settings, *, data: Data | None = None, graph: GraphRef | None = None,
                formats: Sequence[str] = (), keep: bool | None = None, store: Store | None = None,
                cache: ModelCache | None = None) -> Investigation:
    """Answer one request, from ``data`` if given, else from the store's observations for its scope.

    ``formats`` (json, md, html) are rendered into :attr:`Investigation.rendered`. ``keep``
    records the investigation in the store (default: when the data came from the store).
    """
    g = graph_of(graph if graph is not None else request.graph)
    if data is not None:
        frame, scope = wide_frame(data, g, request.scope)
        request = request.model_copy(update={"scope": scope})
    keep = data is None if keep is None else keep
    if data is not None and not keep:  # a table in, an answer out: the store (and SQLAlchemy) stay out of it
        result = answer(request, g, frame, settings, cache=cache, settling=_settling_of_data(g, frame, data))
        return Investigation(result, None, render_all(result, formats))
    from rca.store import Store

    own = store is None
    store = Store(settings.store_url) if own else store
    try:
        if data is None:
            frame = stored_frame(store, g, request.scope)
            found = settling_of(g, frame, store=store, scope=request.scope)
        else:
            found = _settling_of_data(g, frame, data)
        record = records.opened(scope=request.scope, target=request.target, question=question_record(request, g))
        done = records.keep(store if keep else None, record,
                            lambda: answer(request, g, frame, settings, cache=cache, settling=found),
                            scrub=scrubber(settings))
    finally:
        if own:
            store.close()
    unkept = scrubber(settings)(str(done.unkept)) if done.unkept is not None else None
    return Investigation(done.result, record.id if keep and unkept is None else None,
                         render_all(done.result, formats), unkept)


def _settling_of_data(graph: CausalGraph, frame, data: Data) -> Settling:
    """:func:`settling_of` measured from the table itself (read again only when the graph has settling nodes)."""
    from rca.pipeline.suggestions import read_table

    if not settling_span(frame, graph, buckets=0).nodes:
        return settling_span(frame, graph)
    return settling_of(graph, frame, read_table(data), read=read_at(data))


def render_all(result: InvestigationResult, formats: Sequence[str]) -> dict[str, str]:
    """The result rendered in each format asked for."""
    if not formats:
        return {}
    from reports import render

    return {fmt: render(result, fmt) for fmt in formats}


def check_graph(graph: GraphRef, data: Data, settings: Settings, *, permutations: int = 100, scope: str = "",
                since: str | None = None):
    """Check a graph against a table: unsupported edges, missed dependencies, fit quality per node.

    The latest buckets of metrics that are still settling (bug-introducing figures whose fixes have
    not come yet) are left out, as graph suggestions leave them out."""
    from dataclasses import replace

    from rca.pipeline.suggestions import read_table

    g = graph_of(graph)
    raw = read_table(data)
    frame, _ = wide_frame(raw, g, scope)
    frame, settling = settle(frame, g, raw, read=read_at(data))  # settling buckets would teach the check the censoring
    frame = from_time(frame, since)
    result = engine_check_graph(frame, g, permutations=permutations, seed=settings.engine.seed)
    return replace(result, notes=(settling.note(), *result.notes)) if settling.note() else result
