"""Runs and queued questions: the jobs the service (``rca serve``) shares between its faces.

A scheduled job's run (:func:`run_job`) is one pass of collect -> investigate -> render ->
notify, as its ``jobs:`` entry asks, recorded in the store's ``runs`` table from start to end
(``running``, then ``done``, ``failed`` or ``interrupted``) with its error and outputs. A run
never raises for its own failures: a source that fails, a target that cannot be investigated
or a chat post that fails make the run ``failed`` with one line saying why, and what landed
stays landed. The scheduler calls it on a cron; anything else (a test, a manual trigger) may.

A question asked through the HTTP API is kept in two steps so the answer can come later:
:func:`queue_question` checks it and records it ``queued`` under a new id (what the client
gets back at once); :func:`answer_question` answers it (``running``, then ``done`` with the
JSON result and an HTML report, or ``failed`` with one line), in whatever worker picks it up.
Questions are investigations and the effect questions (``effect``, ``heterogeneity``,
``recommendations``), in the store's one table of questions.

:func:`recover` marks what a killed process left unfinished ``interrupted``, so no run or
question stays ``running`` forever. Fitted models are shared between runs and questions in a
:class:`SharedModelCache` (safe across threads); :func:`refit` drops a job's models and fits
them again on the job's own schedule.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rca.config import InvestigationSettings, JobSettings, NotifySettings, Settings, scrubber
from rca.engine.fitting import Fitted, ModelCache, fingerprint
from rca.engine.fitting import fit as fit_model
from rca.pipeline.errors import BadInput, PipelineError, faced, translated
from rca.pipeline.questions import check as check_question
from rca.pipeline.records import closed, opened

if TYPE_CHECKING:
    from graphs import CausalGraph
    from rca.store import InvestigationRecord, Store

log = logging.getLogger("rca.runs")

QUESTION_KINDS = ("investigation", "effect", "heterogeneity", "recommendations")


def owner() -> str:
    """Who runs this: ``host:pid`` (kept with each run)."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class SharedModelCache(ModelCache):
    """A :class:`ModelCache` several threads may use at once. The lock guards the bookkeeping, not
    the fit: two threads fitting the same rows at the same moment both fit (the same model), and
    neither waits for the other's fit of different rows."""

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fit(self, frame, graph: CausalGraph) -> Fitted:
        key = fingerprint(graph, frame)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                self.hits += 1
                return self._models[key]
            self.misses += 1
        model = fit_model(frame, graph)
        with self._lock:
            self._models[key] = model
            while len(self._models) > self.capacity:
                self._models.popitem(last=False)
        return model

    def clear(self) -> int:
        """Drop every fitted model; return how many there were."""
        with self._lock:
            n = len(self._models)
            self._models.clear()
        return n

    def __len__(self) -> int:
        return len(self._models)


# --- scheduled runs --------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOutcome:
    """How one run of a job ended (also in the store's ``runs`` table under ``id``)."""

    id: str
    job: str
    status: str  # done | failed
    error: str | None
    outputs: Mapping[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    collector_errors: tuple[str, ...] = ()  # the collectors that failed, by name
    retryable: bool = False  # it failed because something was unavailable (the store, a cluster): try again later

    @property
    def ok(self) -> bool:
        return self.status == "done"


def _job_settings(job: JobSettings, settings: Settings) -> Settings:
    update: dict[str, Any] = {"investigations": list(job.investigations or settings.investigations)}
    if not job.notify:
        update["notify"] = NotifySettings()  # no channels: the report is written, nothing is posted
    return settings.model_copy(update=update)


def run_job(job: JobSettings, settings: Settings, *, store: Store, cache: ModelCache | None = None,
            run_id: str | None = None, trigger: str = "schedule", environ: Mapping[str, str] | None = None
            ) -> RunOutcome:
    """Run ``job`` once and record the run in ``store`` (see the module's docstring)."""
    from rca.pipeline.collection import collect
    from rca.pipeline.reporting import report

    run_id = run_id or str(uuid.uuid4())
    t0 = time.perf_counter()
    # Errors come from outside (a server's reply, a repository, a driver): scrubbed of secrets and made one
    # printable line before they are stored, so the run log, GET /runs and the service's log never hold them.
    scrub = scrubber(settings, dict(environ) if environ is not None else None)
    with translated():
        store.start_run(run_id, job.name, trigger=trigger, owner=owner())
    outputs: dict[str, Any] = {}
    problems: list[str] = []
    failed_collectors: list[str] = []
    retryable = False
    try:
        if job.collect:
            only = tuple(job.collect) if isinstance(job.collect, list) else ()
            got = collect(settings, only=only)
            outputs["collect"] = {r.name: {"rows": r.rows, "error": scrub(r.error) if r.error else None,
                                           "failures": [scrub(f) for f in r.failures]}
                                  for r in got.runs}
            for r in got.runs:
                if r.error:
                    problems.append(f"{r.name}: {r.error}")
                problems.extend(f"{r.name}: {f}" for f in r.failures)
                if not r.ok:
                    failed_collectors.append(r.name)
            log.info("collected %d observation(s)%s", got.rows_written,
                     f"; failed: {', '.join(failed_collectors)}" if failed_collectors else "")
        if job.report:
            done = report(_job_settings(job, settings), cache=cache, name=job.name, environ=environ)
            outputs["reports"] = {fmt: str(p) for fmt, p in done.reports.items()}
            outputs["results"] = [{"scope": r.scope, "target": r.target, "regression": r.regression.detected,
                                   "top_cause": next((c.node for c in r.causes if c.node != r.target), None)}
                                  for r in done.results]
            outputs["skipped"] = [scrub(x) for x in done.skipped]
            outputs["posts"] = [{"channel": d.channel, "ok": d.ok, "error": scrub(d.error) if d.error else d.error}
                                for d in done.deliveries]
            problems.extend(f"not investigated: {s}" for s in done.skipped)
            problems.extend(f"chat post to {d.channel} failed: {d.error}" for d in done.deliveries if not d.ok)
            log.info("wrote %s; %d result(s), %d skipped", ", ".join(outputs["reports"].values()), len(done.results),
                     len(done.skipped))
    except PipelineError as exc:
        problems.append(str(exc))
        retryable = exc.retryable
    except Exception as exc:  # a fault of ours fails this run, never the scheduler or the other jobs
        log.exception("job %s failed", job.name)
        problems.append(f"internal error: {type(exc).__name__}: {exc}")
    status = "failed" if problems else "done"
    error = "; ".join(scrub(p) for p in problems)[:4000] if problems else None
    with translated():
        store.finish_run(run_id, status, error=error, outputs=outputs)
    return RunOutcome(run_id, job.name, status, error, outputs, time.perf_counter() - t0, tuple(failed_collectors),
                      retryable)


def refit(job: JobSettings, settings: Settings, *, store: Store, cache: SharedModelCache,
          run_id: str | None = None) -> RunOutcome:
    """Drop ``job``'s fitted models and fit its targets' models again now, recorded as a run (trigger
    ``refit``). Models are keyed by the rows they were fitted on, so a run after new data fits anew
    anyway; the schedule bounds how long a model of unchanged rows is kept and warms the next run."""
    from rca.pipeline.data import graph_of, stored_frame
    from rca.pipeline.investigations import answer

    run_id = run_id or str(uuid.uuid4())
    t0 = time.perf_counter()
    scrub = scrubber(settings)
    with translated():
        store.start_run(run_id, job.name, trigger="refit", owner=owner())
    dropped = cache.clear()
    problems: list[str] = []
    fitted = 0
    # Reaching the fit takes the engine's own path; no intervals are drawn (bootstrap 0), so it stays cheap.
    quick = settings.model_copy(update={"engine": settings.engine.model_copy(update={"bootstrap": 0})})
    for spec in (job.investigations or settings.investigations) if job.report else ():
        try:
            with translated():
                g = graph_of(spec.graph)
                answer(spec, g, stored_frame(store, g, spec.scope), quick, cache=cache)
                fitted += 1
        except PipelineError as exc:
            problems.append(f"{spec.target} in {spec.scope or '(no scope)'}: {exc}")
        except Exception as exc:
            log.exception("refit of %s failed", job.name)
            problems.append(f"internal error: {type(exc).__name__}: {exc}")
    outputs = {"models_dropped": dropped, "targets_refitted": fitted, "models_cached": len(cache)}
    status = "failed" if problems else "done"
    error = "; ".join(scrub(p) for p in problems)[:4000] if problems else None
    with translated():
        store.finish_run(run_id, status, error=error, outputs=outputs)
    return RunOutcome(run_id, job.name, status, error, outputs, time.perf_counter() - t0)


@faced
def recover(store: Store, reason: str = "the service stopped before this finished") -> tuple[int, int]:
    """Mark the runs and questions a stopped process left unfinished ``interrupted``: (runs, questions)."""
    return store.interrupt_unfinished(reason)


# --- questions asked through the service -------------------------------------------------------


def _graph(ref: Any) -> CausalGraph:
    """A question's graph: a shipped name, or a definition (a mapping, or YAML/DOT text). Never a path:
    a client of the service does not get to read the server's files."""
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


@faced
def queue_question(kind: str, ask: Mapping[str, Any], settings: Settings, *, store: Store) -> InvestigationRecord:
    """Check a question (its fields as the API takes them) and record it ``queued`` under a new id.

    ``investigation``: ``target``, ``scope``, ``graph`` and ``at``, or ``baseline`` and ``current``, or
    ``last``. ``effect`` / ``heterogeneity``: ``treatment``, ``outcome``, ``scopes`` and their options.
    ``recommendations``: ``target``, ``scope``, ``levers`` and options. ``graph``, for each: a shipped
    name or a definition. Raises :class:`BadInput` (one line) for a question that cannot be answered.
    """
    if kind not in QUESTION_KINDS:
        raise BadInput(f"unknown kind of question {kind!r}; use {', '.join(QUESTION_KINDS)}")
    ask = {k: v for k, v in dict(ask).items() if v is not None}
    g = _graph(ask.pop("graph", None))
    question: dict[str, Any] = {**ask, "graph": g.name, "graph_def": g.to_dict()}
    if kind == "investigation":
        req = InvestigationSettings(**{**ask, "graph": g.name})
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
    from rca import pipeline

    q = dict(record.question)
    g = _graph_of_record(q)
    opts = {k: q[k] for k in ("seed", "confidence") if k in q}
    if record.kind == "investigation":
        fields = {k: q.get(k) for k in ("target", "scope", "at", "baseline", "current", "last")}
        done = pipeline.investigate(pipeline.request(**fields, graph=g.name), settings, graph=g, keep=False,
                                    store=store, cache=cache, formats=["html"])
    elif record.kind == "effect":
        done = pipeline.effect(q["treatment"], q["outcome"], settings, graph=g, scopes=q.get("scopes", ()), keep=False,
                               store=store, formats=["html"], **opts,
                               **{k: q[k] for k in ("simulations", "bootstrap", "refute", "dml") if k in q})
    elif record.kind == "heterogeneity":
        done = pipeline.effects_by_scope(q["treatment"], q["outcome"], settings, graph=g, scopes=q.get("scopes", ()),
                                         features=tuple(q.get("features", ())), keep=False, store=store,
                                         formats=["html"], **opts)
    else:
        done = pipeline.recommendations(q["target"], settings, graph=g, scope=q["scope"], levers=q.get("levers"),
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

    with translated():
        record = store.investigation(id_)
    if record is None:
        raise BadInput(f"no question {id_!r} in the store")
    if record.status != "queued":
        return record
    running = replace(record, status="running")
    with translated():
        store.save_investigation(running)
    try:
        with translated():
            result, html = _answer(record, settings, store, cache)
            path = write_text_atomic(report_dir(settings) / f"{record.id}.html", html)
        finished = replace(closed(running, "done", result=result), report_path=str(path))
    except PipelineError as exc:
        finished = closed(running, "failed", error=scrubber(settings)(str(exc)))
    except Exception as exc:  # a fault of ours fails this question, never the worker
        log.exception("question %s failed", id_)
        finished = closed(running, "failed", error=f"internal error: {type(exc).__name__}")
    with translated():
        store.save_investigation(finished)
    return finished
