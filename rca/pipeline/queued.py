"""Questions asked through the service: checked and recorded ``queued`` at once, answered later by a worker.

:func:`queue_question` checks a question (its fields as the HTTP API takes them) and records it
``queued`` under a new id (what the client gets back at once); :func:`answer_question` answers it
(``running``, then ``done`` with the JSON result and an HTML report, or ``failed`` with one line),
in whatever worker picks it up. Questions are investigations and the effect questions
(:data:`results.questions.QUEUED_KINDS`), in the store's one table of questions. A question's
graph is a shipped name or a definition, never a path (:func:`rca.pipeline.data.graph_asked`): a
client of the service does not get to read the server's files.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import BadInput, WhydunnitError
from rca.config import InvestigationSettings, Settings, scrubber, validated
from rca.engine.fitting import ModelCache
from rca.pipeline.data import graph_asked
from rca.pipeline.questions import check as check_question
from rca.pipeline.records import closed, opened
from results.questions import QUEUED_KINDS

if TYPE_CHECKING:
    from graphs import CausalGraph
    from rca.store import InvestigationRecord, Store

log = logging.getLogger("rca.runs")


def _nodes(g: CausalGraph, **named: str | None) -> None:
    for what, node in named.items():
        if node is not None and node not in g.nodes:
            raise BadInput(f"{what} {node!r} is not a node of graph {g.name!r}; its nodes: "
                           f"{', '.join(list(g.nodes)[:12])}")


def _scopes_held(store: Store, scopes: list[str]) -> None:
    if not scopes:
        return
    held = store.scopes()
    unknown = [s for s in scopes if s not in held]
    if unknown:
        hint = f"; it holds {', '.join(held[:10])}" if held else "; the store is empty: collect first"
        raise BadInput(f"the store has no scope {', '.join(map(repr, unknown))}{hint}")


def _as_list(v: Any) -> list[str]:
    return [] if v in (None, "") else [v] if isinstance(v, str) else list(v)


def queue_question(kind: str, ask: Mapping[str, Any], settings: Settings, *, store: Store) -> InvestigationRecord:
    """Check a question (its fields as the API takes them) and record it ``queued`` under a new id.

    ``investigation``: ``target``, ``scope``, ``graph`` and ``at``, or ``baseline`` and ``current``, or
    ``last``. ``effect`` / ``heterogeneity``: ``treatment``, ``outcome``, ``scopes`` and their options.
    ``recommendations``: ``target``, ``scope``, ``levers`` and options. ``graph``, for each: a shipped
    name or a definition. Raises :class:`BadInput` (one line) for a question that cannot be answered.
    """
    if kind not in QUEUED_KINDS:
        raise BadInput(f"unknown kind of question {kind!r}; use {', '.join(QUEUED_KINDS)}")
    ask = {k: v for k, v in dict(ask).items() if v is not None}
    g = graph_asked(ask.pop("graph", None))
    question: dict[str, Any] = {**ask, "graph": g.name, "graph_def": g.to_dict()}
    if kind == "investigation":
        req = validated(InvestigationSettings, {**ask, "graph": g.name})
        if not req.scope:
            raise BadInput("say which scope of the store to investigate (scope)")
        check_question(req)
        _nodes(g, target=req.target)
        _scopes_held(store, [req.scope])
        scope, target = req.scope, req.target
        question = {**req.model_dump(exclude_none=True), "graph": g.name, "graph_def": g.to_dict()}
    elif kind in ("effect", "heterogeneity"):
        _nodes(g, treatment=ask.get("treatment"), outcome=ask.get("outcome"))
        if not ask.get("treatment") or not ask.get("outcome"):
            raise BadInput("an effect question needs a treatment and an outcome (graph nodes)")
        scopes = _as_list(ask.get("scopes"))
        if kind == "heterogeneity" and len(scopes) == 1:
            raise BadInput("effects by scope need at least two scopes (or none: every scope of the store)")
        _scopes_held(store, scopes)
        question["scopes"] = scopes
        scope, target = ", ".join(scopes) or "(every scope)", ask["outcome"]
    else:
        if not ask.get("target"):
            raise BadInput("recommendations need a target (the graph node to improve)")
        _nodes(g, target=ask["target"])
        for lever in _as_list(ask.get("levers")):
            _nodes(g, lever=lever)
        scope = ask.get("scope") or ""
        if not scope:
            raise BadInput("recommendations are for one scope: say which (scope)")
        _scopes_held(store, [scope])
        target = ask["target"]
    record = replace(opened(scope=scope, target=str(target)[:255], question=question, kind=kind), status="queued")
    store.save_investigation(record)
    return record


def _graph_of_record(question: Mapping[str, Any]) -> CausalGraph:
    from graphs.model import parse_graph

    return parse_graph(json.dumps(question["graph_def"]), question.get("graph", "graph"))


def _answer(record: InvestigationRecord, settings: Settings, store: Store, cache: ModelCache | None):
    """The result object and its HTML rendering."""
    from rca.pipeline.effects import effect, effects_by_scope, recommendations
    from rca.pipeline.inputs import request
    from rca.pipeline.investigations import investigate

    q = dict(record.question)
    g = _graph_of_record(q)
    opts = {k: q[k] for k in ("seed", "confidence") if k in q}
    if record.kind == "investigation":
        fields = {k: q.get(k) for k in ("target", "scope", "at", "baseline", "current", "last")}
        done = investigate(request(**fields, graph=g.name), settings, graph=g, keep=False,
                           store=store, cache=cache, formats=["html"])
    elif record.kind == "effect":
        done = effect(q["treatment"], q["outcome"], settings, graph=g, scopes=q.get("scopes", ()), keep=False,
                      store=store, formats=["html"], **opts,
                      **{k: q[k] for k in ("simulations", "bootstrap", "refute", "dml") if k in q})
    elif record.kind == "heterogeneity":
        done = effects_by_scope(q["treatment"], q["outcome"], settings, graph=g, scopes=q.get("scopes", ()),
                                features=tuple(q.get("features", ())), keep=False, store=store,
                                formats=["html"], **opts)
    else:
        done = recommendations(q["target"], settings, graph=g, scope=q["scope"], levers=q.get("levers"),
                               keep=False, store=store, formats=["html"], **opts,
                               **{k: q[k] for k in ("bootstrap",) if k in q})
    return done.result, done.rendered["html"]


def report_dir(settings: Settings) -> Path:
    """Where the service writes each answered question's HTML report (under ``reports.out_dir``)."""
    return Path(settings.reports.out_dir) / "questions"


def answer_question(id_: str, settings: Settings, *, store: Store, cache: ModelCache | None = None
                    ) -> InvestigationRecord:
    """Answer the queued question ``id_`` and record the answer (``done``) or why not (``failed``).

    Never raises for the question's own failure: the record says it. A question no longer
    ``queued`` (answered already, or interrupted) is left as it is and returned.
    """
    from results.io import write_text_atomic

    record = store.investigation(id_)
    if record is None:
        raise BadInput(f"no question {id_!r} in the store")
    if record.status != "queued":
        return record
    running = replace(record, status="running")
    store.save_investigation(running)
    try:
        result, html = _answer(record, settings, store, cache)
        path = write_text_atomic(report_dir(settings) / f"{record.id}.html", html)
        finished = replace(closed(running, "done", result=result), report_path=str(path))
    except WhydunnitError as exc:
        finished = closed(running, "failed", error=scrubber(settings)(str(exc)))
    except Exception as exc:  # a fault of ours fails this question, never the worker
        log.exception("question %s failed", id_)
        finished = closed(running, "failed", error=f"internal error: {type(exc).__name__}")
    store.save_investigation(finished)
    return finished
