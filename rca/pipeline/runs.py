"""Scheduled runs: one pass of a job, recorded from start to end; its models refitted; what a stopped process left.

A scheduled job's run (:func:`run_job`) is one pass of collect -> investigate -> render ->
notify, as its ``jobs:`` entry asks, recorded in the store's ``runs`` table from start to end
(``running``, then ``done``, ``failed`` or ``interrupted``) with its error and outputs. A run
never raises for its own failures: a source that fails, a target that cannot be investigated
or a chat post that fails make the run ``failed`` with one line saying why, and what landed
stays landed; a run that failed because something was unavailable says so (``retryable``). Only
a store that cannot record the run at all raises. The scheduler calls it on a cron; anything
else (a test, a manual trigger) may. :func:`refit` drops a job's fitted models and fits them
again; :func:`recover` marks what a killed process left unfinished ``interrupted``, so no run or
question stays ``running`` forever.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from collectors.base import progress_lines
from core.errors import WhydunnitError
from rca.config import JobSettings, NotifySettings, Settings, scrubber
from rca.engine.fitting import ModelCache
from results.causes import top_cause

if TYPE_CHECKING:
    from rca.pipeline.workers import SharedModelCache
    from rca.store import Store
    from results import InvestigationResult

log = logging.getLogger("rca.runs")


def owner() -> str:
    """Who runs this: ``host:pid`` (kept with each run)."""
    return f"{socket.gethostname()}:{os.getpid()}"


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
    store.start_run(run_id, job.name, trigger=trigger, owner=owner())
    outputs: dict[str, Any] = {}
    problems: list[str] = []
    failed_collectors: list[str] = []
    retryable = False
    try:
        if job.collect:
            only = tuple(job.collect) if isinstance(job.collect, list) else ()
            got = collect(settings, progress=progress_lines(lambda line: log.info("%s", scrub(line))), only=only)
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
            outputs["results"] = [result_summary(r) for r in done.results]
            outputs["skipped"] = [scrub(x) for x in done.skipped]
            outputs["posts"] = [{"channel": d.channel, "ok": d.ok, "error": scrub(d.error) if d.error else d.error}
                                for d in done.deliveries]
            problems.extend(f"not investigated: {s}" for s in done.skipped)
            problems.extend(f"chat post to {d.channel} failed: {d.error}" for d in done.deliveries if not d.ok)
            log.info("wrote %s; %d result(s), %d skipped", ", ".join(outputs["reports"].values()), len(done.results),
                     len(done.skipped))
    except WhydunnitError as exc:
        problems.append(str(exc))
        retryable = exc.retryable
    except Exception as exc:  # a fault of ours fails this run, never the scheduler or the other jobs
        log.exception("job %s failed", job.name)
        problems.append(f"internal error: {type(exc).__name__}: {exc}")
    status = "failed" if problems else "done"
    error = "; ".join(scrub(p) for p in problems)[:4000] if problems else None
    store.finish_run(run_id, status, error=error, outputs=outputs)
    return RunOutcome(run_id, job.name, status, error, outputs, time.perf_counter() - t0, tuple(failed_collectors),
                      retryable)


def result_summary(r: InvestigationResult) -> dict[str, Any]:
    """What a run's record keeps of one investigation: where, what, whether it regressed, and its top cause
    (:func:`results.causes.top_cause`: the rule every report and chat message names it by)."""
    top = top_cause(r)
    return {"scope": r.scope, "target": r.target, "regression": r.regression.detected,
            "top_cause": top.node if top is not None else None}


def refit(job: JobSettings, settings: Settings, *, store: Store, cache: SharedModelCache,
          run_id: str | None = None) -> RunOutcome:
    """Drop ``job``'s fitted models and fit its targets' models again now, recorded as a run (trigger
    ``refit``). Models are keyed by the rows they were fitted on, so a run after new data fits anew
    anyway; the schedule bounds how long a model of unchanged rows is kept and warms the next run."""
    from rca.pipeline.data import graph_of, stored_frame
    from rca.pipeline.investigations import answer, settling_of

    run_id = run_id or str(uuid.uuid4())
    t0 = time.perf_counter()
    scrub = scrubber(settings)
    store.start_run(run_id, job.name, trigger="refit", owner=owner())
    dropped = cache.clear()
    problems: list[str] = []
    fitted = 0
    # Reaching the fit takes the engine's own path; no intervals are drawn (bootstrap 0), so it stays cheap.
    quick = settings.model_copy(update={"engine": settings.engine.model_copy(update={"bootstrap": 0})})
    for spec in (job.investigations or settings.investigations) if job.report else ():
        try:
            g = graph_of(spec.graph)
            frame = stored_frame(store, g, spec.scope)
            answer(spec, g, frame, quick, cache=cache, settling=settling_of(g, frame, store=store, scope=spec.scope))
            fitted += 1
        except WhydunnitError as exc:
            problems.append(f"{spec.target} in {spec.scope or '(no scope)'}: {exc}")
        except Exception as exc:
            log.exception("refit of %s failed", job.name)
            problems.append(f"internal error: {type(exc).__name__}: {exc}")
    outputs = {"models_dropped": dropped, "targets_refitted": fitted, "models_cached": len(cache)}
    status = "failed" if problems else "done"
    error = "; ".join(scrub(p) for p in problems)[:4000] if problems else None
    store.finish_run(run_id, status, error=error, outputs=outputs)
    return RunOutcome(run_id, job.name, status, error, outputs, time.perf_counter() - t0)


def recover(store: Store, reason: str = "the service stopped before this finished") -> tuple[int, int]:
    """Mark the runs and questions a stopped process left unfinished ``interrupted``: (runs, questions)."""
    return store.interrupt_unfinished(reason)
