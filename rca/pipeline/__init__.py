"""The pipeline: the one seam every face (CLI, HTTP API, scheduler) calls.

It alone sees collectors, the store, graphs, the engine and the reports, and ties them in one
direction: collect -> store -> frame -> investigate -> render -> notify. Each job takes
in-memory inputs (frames, graph objects, settings) as well as names and paths, returns a
result object, and raises only the ground floor's errors (:class:`PipelineError`, the root:
:class:`BadInput`, :class:`Unavailable`, :class:`Internal`), one line, no face's wording.

Inputs: :func:`settings` (``rca.yaml`` with overrides), :func:`request` (a question) and
:func:`graph` (and :func:`graph_picture`: a graph drawn). Jobs: :func:`collect` and
:func:`export_git` (sources into the store, or one repository into a file); :func:`investigate`
and :func:`check_graph` (questions); :func:`suggest_graph` (learn a graph from a table);
:func:`effect`, :func:`effects_by_scope`, :func:`recommendations`, :func:`actions` and
:func:`what_if` (effect questions: what X does to Y, per scope, which lever or action to move,
what the target would have been; :func:`what_if_question` as the HTTP API asks one);
:func:`report` (the scheduled report with chat posts);
:func:`demo` (the bundled sample); :func:`run_job`, :func:`refit` and :func:`recover` (a
scheduled job's recorded runs) and :func:`queue_question` / :func:`answer_question` (questions
the service answers later). :class:`Service` is ``rca serve``'s long-lived handle on the store
and its workers: the faces that serve (the HTTP API, the scheduler) hold one and ask it.

The inputs, the errors and collection load with the package (they cost only the configuration's
schema); the other jobs load when first asked for, because each pulls in pandas, the engine, the
store or the service's metrics (``python -X importtime -c 'import rca.pipeline'``: importing them
all took about four times as long), so a face pays at start-up only for the jobs it runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from core.errors import BadInput, Internal, Unavailable
from core.errors import WhydunnitError as PipelineError
from rca.pipeline.collection import CollectorRun, CollectOutcome, TableOutcome, collect, export_git
from rca.pipeline.graph_pictures import graph_picture
from rca.pipeline.inputs import graph, request, settings

if TYPE_CHECKING:  # what loads on first use (handed on by __getattr__), named here for readers and tools
    from rca.pipeline.demos import DemoOutcome, demo  # noqa: F401
    from rca.pipeline.effects import (  # noqa: F401
        Answer,
        actions,
        effect,
        effects_by_scope,
        recommendations,
        what_if,
        what_if_question,
    )
    from rca.pipeline.investigations import Investigation, Request, check_graph, investigate  # noqa: F401
    from rca.pipeline.queued import answer_question, queue_question  # noqa: F401
    from rca.pipeline.reporting import ReportOutcome, report  # noqa: F401
    from rca.pipeline.runs import RunOutcome, recover, refit, run_job  # noqa: F401
    from rca.pipeline.service import Alongside, Service  # noqa: F401
    from rca.pipeline.suggestions import SuggestOutcome, parse_tiers, suggest_graph  # noqa: F401
    from rca.pipeline.workers import SharedModelCache  # noqa: F401

_ON_FIRST_USE = {
    "demos": ("DemoOutcome", "demo"),
    "effects": ("Answer", "actions", "effect", "effects_by_scope", "recommendations", "what_if", "what_if_question"),
    "investigations": ("Investigation", "Request", "check_graph", "investigate"),
    "queued": ("answer_question", "queue_question"),
    "reporting": ("ReportOutcome", "report"),
    "runs": ("RunOutcome", "recover", "refit", "run_job"),
    "service": ("Alongside", "Service"),
    "suggestions": ("SuggestOutcome", "parse_tiers", "suggest_graph"),
    "workers": ("SharedModelCache",),
}
_MODULE_OF = {name: module for module, names in _ON_FIRST_USE.items() for name in names}

__all__ = ["BadInput", "CollectOutcome", "CollectorRun", "Internal", "PipelineError", "TableOutcome", "Unavailable",
           "collect", "export_git", "graph", "graph_picture", "request", "settings", *_MODULE_OF]


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f"rca.pipeline.{_MODULE_OF[name]}"), name)
    raise AttributeError(f"module 'rca.pipeline' has no attribute {name!r}")
