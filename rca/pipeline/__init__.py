"""The pipeline: the one seam every face (CLI, HTTP API, scheduler) calls.

It alone sees collectors, the store, graphs, the engine and the reports, and ties them in one
direction: collect -> store -> frame -> investigate -> render -> notify. Each job takes
in-memory inputs (frames, graph objects, settings) as well as names and paths, returns a
result object, and raises only :class:`PipelineError` (one line, no face's wording).

Inputs: :func:`settings` (``rca.yaml`` with overrides) and :func:`request` (a question).
Jobs: :func:`collect` and :func:`export_git` (sources into the store, or one repository into
a file); :func:`investigate`, :func:`what_if` and :func:`check_graph` (questions);
:func:`report` (the scheduled report with chat posts); :func:`demo` (the bundled sample).
"""

from rca.pipeline.collection import CollectorRun, CollectOutcome, TableOutcome, collect, export_git
from rca.pipeline.demo import DemoOutcome, demo
from rca.pipeline.errors import BadInput, JobFailed, PipelineError
from rca.pipeline.inputs import graph, request, settings
from rca.pipeline.investigations import Investigation, Request, check_graph, investigate, what_if
from rca.pipeline.reporting import ReportOutcome, report

__all__ = [
    "BadInput",
    "CollectOutcome",
    "CollectorRun",
    "DemoOutcome",
    "Investigation",
    "JobFailed",
    "PipelineError",
    "ReportOutcome",
    "Request",
    "TableOutcome",
    "check_graph",
    "collect",
    "demo",
    "export_git",
    "graph",
    "investigate",
    "report",
    "request",
    "settings",
    "what_if",
]
