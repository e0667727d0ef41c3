"""Investigations and graph checks: a request in, a result (and its renderings) out.

A request names a target and a question (:class:`rca.config.InvestigationSettings`: the same
shape a configured report target has); the data is a frame or table given in memory or as a
file, or else the store's observations for the request's scope. Investigations of the store
are kept in it (question, JSON result, status) under an id, so they can be served again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from graphs import CausalGraph
from rca.config import InvestigationSettings, Settings, scrubber
from rca.engine import ModelCache, Question
from rca.engine import check_graph as engine_check_graph
from rca.engine import investigate as engine_investigate
from rca.pipeline import records
from rca.pipeline.compute import on_cluster
from rca.pipeline.data import Data, GraphRef, graph_of, stored_frame, wide_frame
from rca.pipeline.errors import faced
from rca.pipeline.questions import question as to_question
from results import InvestigationResult

if TYPE_CHECKING:
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
           cache: ModelCache | None = None) -> InvestigationResult:
    """Ask the engine ``request`` of a wide ``frame`` (the windows resolved against its rows)."""
    q: Question = to_question(request, frame.index, graph.unit)
    return engine_investigate(frame, graph, q, scope=request.scope, options=settings.engine, cache=cache)


@faced
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
        result = answer(request, g, frame, settings, cache=cache)
        return Investigation(result, None, render_all(result, formats))
    from rca.store import Store

    own = store is None
    store = Store(settings.store_url) if own else store
    try:
        if data is None:
            frame = stored_frame(store, g, request.scope)
        record = records.opened(scope=request.scope, target=request.target, question=question_record(request, g))
        done = records.keep(store if keep else None, record, lambda: answer(request, g, frame, settings, cache=cache),
                            scrub=scrubber(settings))
    finally:
        if own:
            store.close()
    unkept = scrubber(settings)(str(done.unkept)) if done.unkept is not None else None
    return Investigation(done.result, record.id if keep and unkept is None else None,
                         render_all(done.result, formats), unkept)


def render_all(result: InvestigationResult, formats: Sequence[str]) -> dict[str, str]:
    """The result rendered in each format asked for."""
    if not formats:
        return {}
    from reports import render

    return {fmt: render(result, fmt) for fmt in formats}


@faced
def check_graph(graph: GraphRef, data: Data, settings: Settings, *, permutations: int = 100, scope: str = ""):
    """Check a graph against a table: unsupported edges, missed dependencies, fit quality per node.

    The latest buckets of metrics that are still settling (bug-introducing figures whose fixes have
    not come yet) are left out, as graph suggestions leave them out."""
    from dataclasses import replace

    from rca.pipeline.suggestions import read_table, settle

    g = graph_of(graph)
    raw = read_table(data)
    frame, _ = wide_frame(raw, g, scope)
    frame, settling = settle(frame, g, raw)  # still-settling buckets would teach the check the censoring
    result = engine_check_graph(frame, g, permutations=permutations, seed=settings.engine.seed)
    return replace(result, notes=(settling.note(), *result.notes)) if settling.note() else result
