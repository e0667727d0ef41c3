"""The service: one long-lived store handle and the work that runs over it, for ``rca serve``'s faces.

A :class:`Service` opens the store and marks what a stopped process left unfinished
``interrupted``, then starts its workers (:class:`~rca.pipeline.workers.WorkerPool`) and
whatever runs alongside it (the scheduler: anything with the :class:`Alongside` shape, handed in
by whoever composes the process, so the service names no face). Its jobs are the pipeline's,
bound to its store: a question asked is checked and queued (:meth:`Service.ask`) and answered by
a worker; a job's run is recorded (:meth:`Service.run_job`); records, runs and report files are
read back scrubbed (:meth:`Service.question`, :meth:`Service.runs`, ...); readiness says whether
the store answers and the scheduler runs. SIGTERM's order is the service's too: :meth:`drain`
stops new work and lets the running work finish for a grace time, :meth:`close` marks what is
left ``interrupted`` and closes the store. Faces (the HTTP API, the scheduler) hold a service and
call these; none of them touches the store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from core.errors import BadInput, Internal
from rca.config import JobSettings, Settings, scrubber
from rca.pipeline import records, report_files
from rca.pipeline.queued import answer_question, queue_question
from rca.pipeline.runs import RunOutcome, recover, refit, run_job
from rca.pipeline.workers import SharedModelCache, WorkerPool
from rca.telemetry import ServiceMetrics, log_context

if TYPE_CHECKING:
    from rca.store import InvestigationRecord, RunRecord, Store
    from results import WhatIf

log = logging.getLogger("rca.api")  # the name operators filter the service's lines by (it began inside the API)


class Alongside(Protocol):
    """What runs beside the workers over the same service (the scheduler): started after the store
    opens, stopped first, asked whether it runs and what it holds."""

    @property
    def running(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self, wait_s: float = 0.0) -> dict[str, str]: ...

    def busy(self) -> dict[str, str]: ...

    def next_runs(self) -> dict[str, str | None]: ...

    def models_cached(self) -> int: ...


class Service:
    """Everything ``rca serve`` runs over one store: the workers, what runs alongside, and the figures about them."""

    def __init__(self, settings: Settings, *, environ: Mapping[str, str] | None = None,
                 metrics: ServiceMetrics | None = None, alongside: Callable[[Service], Alongside] | None = None) -> None:
        self.settings = settings
        self.environ = dict(environ) if environ is not None else None
        self.scrub = scrubber(settings, self.environ, limit=1000)  # outside text in an answer: secrets hidden, one line
        self.metrics = metrics or ServiceMetrics()
        self.cache = SharedModelCache()
        self.pool = WorkerPool(settings.serve.workers, settings.serve.queue, self._answer)
        self.metrics.queue_depth.set_function(lambda: self.pool.waiting)
        self.metrics.workers_busy.set_function(lambda: self.pool.busy)
        self.metrics.queue_capacity.set(settings.serve.queue)
        self.metrics.workers.set(settings.serve.workers)
        self._alongside = alongside
        self.alongside: Alongside | None = None
        self.store: Store | None = None
        self.draining = False
        self.started = False
        self._closed = False

    # --- life ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Open the store, mark what a stopped process left ``interrupted``, start the workers and what runs alongside."""
        from rca.store import Store

        self.store = Store(self.settings.store_url)
        self.store.use_wal()
        runs, questions = recover(self.store, "the service stopped before this finished (it was killed or crashed)")
        if runs or questions:
            log.warning("marked %d run(s) and %d question(s) left unfinished by a stopped service interrupted",
                        runs, questions)
        self.pool.start()
        if self._alongside is not None:
            self.alongside = self._alongside(self)
            self.alongside.start()
        self.metrics.models_cached.set_function(
            lambda: len(self.cache) + (self.alongside.models_cached() if self.alongside else 0))
        self.started = True
        # The first question would pay for importing the engine and the report modules: pay it now, aside.
        threading.Thread(target=_warm_up, name="rca-warm-up", daemon=True).start()
        log.info("service started with %d worker(s), %d waiting place(s), %d job(s); store %s",
                 self.settings.serve.workers, self.settings.serve.queue, len(self.settings.jobs), self.store.shown)

    def drain(self, grace_s: float) -> bool:
        """Stop taking work; let running work finish for up to ``grace_s``. True if all of it finished."""
        self.draining = True
        self.metrics.draining.set(1)
        deadline = time.monotonic() + grace_s
        log.info("stopping: no new work; waiting up to %.0f s for running work", grace_s)
        left = self.alongside.stop(wait_s=grace_s) if self.alongside else {}
        idle = self.pool.wait_idle(max(0.0, deadline - time.monotonic()))
        return idle and not left

    def busy(self) -> bool:
        return bool(self.pool.busy or self.pool.waiting or (self.alongside and self.alongside.busy()))

    def close(self) -> None:
        """Record what is still unfinished as interrupted and close the store (after :meth:`drain`)."""
        if self._closed or self.store is None:
            return
        self._closed = True
        self.draining = True
        if self.alongside is not None:
            self.alongside.stop(wait_s=0)
        unfinished = self.busy()
        self.pool.stop()
        if unfinished:
            runs, questions = self.store.interrupt_unfinished("the service stopped (SIGTERM) before this finished")
            log.warning("stopped with work unfinished: %d run(s), %d question(s) marked interrupted", runs, questions)
        self.store.close()
        log.info("stopped; store closed")

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Whether the service takes work: started, not stopping, the store answers and (if there is one) the
        scheduler runs; with the details (the store's error scrubbed, the queue's state)."""
        state: dict[str, Any] = {"store": "unknown", "scheduler": "off", "draining": self.draining}
        ok = self.started and not self.draining
        try:
            self._store().ping()
            state["store"] = "ok"
        except Exception as exc:
            state["store"] = self.scrub(str(exc))
            ok = False
        if self._alongside is not None:
            running = bool(self.alongside and self.alongside.running)
            state["scheduler"] = "running" if running else "stopped"
            ok = ok and running
        state["queue"] = {"waiting": self.pool.waiting, "busy": self.pool.busy,
                          "capacity": self.settings.serve.workers + self.settings.serve.queue}
        return ok, state

    # --- questions -------------------------------------------------------------------------------

    def reserve(self) -> bool:
        """Take a place for one question without waiting (False: every worker is busy and the queue is full)."""
        return self.pool.reserve()

    def ask(self, kind: str, fields: Mapping[str, Any]) -> InvestigationRecord:
        """Check a question and record it ``queued`` (after :meth:`reserve`); a worker answers it. A question
        refused gives its place back and raises (:class:`~core.errors.BadInput`, one line)."""
        try:
            rec = queue_question(kind, fields, self.settings, store=self._store())
        except BaseException:
            self.pool.release()
            raise
        self.pool.submit(rec.id)
        return rec

    def what_if(self, ask: Mapping[str, Any]) -> WhatIf:
        """A what-if as the HTTP API asks it, answered now from the store (in a place taken by :meth:`reserve`,
        given back here)."""
        from rca.pipeline.effects import what_if_question

        try:
            return what_if_question(ask, self.settings, store=self._store())
        finally:
            self.pool.release()

    def _answer(self, id_: str, queued_at: float) -> None:
        self.metrics.queue_wait.observe(time.monotonic() - queued_at)
        with log_context(question_id=id_):
            t0 = time.perf_counter()
            rec = answer_question(id_, self.settings, store=self._store(), cache=self.cache)
            took = time.perf_counter() - t0
            self.metrics.questions.labels(kind=rec.kind, status=rec.status).inc()
            self.metrics.question_seconds.labels(kind=rec.kind).observe(took)
            level = logging.INFO if rec.status == "done" else logging.WARNING
            log.log(level, "%s %s %s in %.2f s%s", rec.kind, rec.target, rec.status, took,
                    f": {rec.error}" if rec.error else "")

    # --- reading back ----------------------------------------------------------------------------

    def question(self, id_: str) -> InvestigationRecord | None:
        return records.question(self._store(), id_, self.scrub)

    def questions(self, *, limit: int = 50, status: str | None = None,
                  kind: str | None = None) -> list[InvestigationRecord]:
        return records.questions(self._store(), self.scrub, limit=limit, status=status, kind=kind)

    def run(self, id_: str) -> RunRecord | None:
        return records.run(self._store(), id_, self.scrub)

    def runs(self, *, limit: int = 50, job: str | None = None, status: str | None = None) -> list[RunRecord]:
        return records.runs(self._store(), self.scrub, limit=limit, job=job, status=status)

    def question_report(self, record: InvestigationRecord) -> str | None:
        """An answered question's HTML report (None: gone from the reports folder)."""
        return report_files.question_report(self.settings, record)

    def reports(self, limit: int = 100) -> list[report_files.ReportFile]:
        return report_files.list_reports(self.settings, limit)

    def report_file(self, name: str) -> tuple[Any, str] | None:
        """A report file's path and media type, if ``name`` is one under the reports folder."""
        return report_files.report_file(self.settings, name)

    # --- scheduled runs --------------------------------------------------------------------------

    def job(self, name: str) -> JobSettings:
        """The configured job ``name``; :class:`~core.errors.BadInput` if there is none."""
        job = next((j for j in self.settings.jobs if j.name == name), None)
        if job is None:
            raise BadInput(f"no job named {name!r}; jobs: {', '.join(j.name for j in self.settings.jobs) or 'none'}")
        return job

    def run_job(self, job: JobSettings, *, cache: SharedModelCache, run_id: str, trigger: str) -> RunOutcome:
        """One run of ``job``, recorded (:func:`rca.pipeline.runs.run_job`)."""
        return run_job(job, self.settings, store=self._store(), cache=cache, run_id=run_id, trigger=trigger,
                       environ=self.environ)

    def refit(self, job: JobSettings, *, cache: SharedModelCache, run_id: str) -> RunOutcome:
        """Drop and refit ``job``'s models, recorded as a run (:func:`rca.pipeline.runs.refit`)."""
        return refit(job, self.settings, store=self._store(), cache=cache, run_id=run_id)

    def _store(self) -> Store:
        if self.store is None:
            raise Internal("the service is not started: its store is not open")
        return self.store


def _warm_up() -> None:
    try:
        import rca.engine.investigation  # noqa: F401
        import reports.render  # noqa: F401
    except Exception:  # only a head start: the first question imports them itself
        log.debug("warm-up import failed", exc_info=True)
