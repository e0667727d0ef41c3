"""The pipeline: the one seam every face (CLI, HTTP API, scheduler) calls.

It alone sees collectors, the store, graphs, the engine and the reports, and ties them in one
direction: collect -> store -> frame -> investigate -> render -> notify. Each job takes
in-memory inputs (frames, graph objects, settings) as well as names and paths, returns a
result object, and raises only :class:`PipelineError` (one line, no face's wording).

Inputs: :func:`settings` (``rca.yaml`` with overrides), :func:`request` (a question) and
:func:`graph`. Jobs: :func:`collect` and :func:`export_git` (sources into the store, or one
repository into a file); :func:`investigate`, :func:`what_if` and :func:`check_graph`
(questions); :func:`suggest_graph` (learn a graph from a table);
:func:`effect`, :func:`effects_by_scope` and :func:`recommendations` (effect
questions: what X does to Y, per scope, and which lever to move); :func:`report` (the scheduled
report with chat posts); :func:`demo` (the bundled sample); :func:`run_job`, :func:`refit` and
:func:`recover` (a scheduled job's recorded runs) and :func:`queue_question` /
:func:`answer_question` (questions the service answers later). Each job's module loads when the job
is first asked for, so a face pays at start-up only for the jobs it runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rca.pipeline.errors import BadInput, Internal, JobFailed, PipelineError, Unavailable

if TYPE_CHECKING:
    from rca.pipeline.collection import CollectorRun, CollectOutcome, TableOutcome, collect, export_git
    from rca.pipeline.demos import DemoOutcome, demo
    from rca.pipeline.effects import (
        Answer,
        actions,
        effect,
        effects_by_scope,
        recommendations,
        what_if,
        what_if_question,
    )
    from rca.pipeline.graph_pictures import graph_picture
    from rca.pipeline.inputs import graph, request, settings
    from rca.pipeline.investigations import Investigation, Request, check_graph, investigate
    from rca.pipeline.reporting import ReportOutcome, report
    from rca.pipeline.runs import RunOutcome, answer_question, queue_question, recover, refit, run_job
    from rca.pipeline.suggestions import SuggestOutcome, parse_tiers, suggest_graph

_LAZY = {
    **dict.fromkeys(("CollectOutcome", "CollectorRun", "TableOutcome", "collect", "export_git"), "collection"),
    **dict.fromkeys(("DemoOutcome", "demo"), "demos"),
    **dict.fromkeys(("Answer", "actions", "effect", "effects_by_scope", "recommendations", "what_if",
                     "what_if_question"), "effects"),
    **dict.fromkeys(("graph", "request", "settings"), "inputs"),
    "graph_picture": "graph_pictures",
    **dict.fromkeys(("Investigation", "Request", "check_graph", "investigate"), "investigations"),
    **dict.fromkeys(("ReportOutcome", "report"), "reporting"),
    **dict.fromkeys(("RunOutcome", "answer_question", "queue_question", "recover", "refit", "run_job"), "runs"),
    **dict.fromkeys(("SuggestOutcome", "parse_tiers", "suggest_graph"), "suggestions"),
}

__all__ = [
    "Answer", "BadInput", "CollectOutcome", "CollectorRun", "DemoOutcome", "Internal", "Investigation", "JobFailed",
    "PipelineError", "ReportOutcome", "Request", "TableOutcome", "Unavailable", "actions", "check_graph", "collect",
    "demo", "effect", "effects_by_scope", "export_git", "graph", "graph_picture", "investigate", "recommendations",
    "report", "request", "settings", "what_if", "what_if_question", "RunOutcome", "answer_question", "queue_question",
    "recover", "refit", "run_job", "SuggestOutcome", "parse_tiers", "suggest_graph",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"rca.pipeline.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'rca.pipeline' has no attribute {name!r}")
