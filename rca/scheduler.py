"""The scheduler of ``rca serve``: the configured ``jobs:`` on their crons (APScheduler 3.x).

Each job is an APScheduler job with a :class:`~apscheduler.triggers.cron.CronTrigger`, one
instance at a time (``max_instances=1``: a run still going when the next is due makes that
one skipped, and counted), missed runs coalesced into one (``coalesce=True``) and run if no
later than the job's ``misfire_grace_s``. A run is the service's (:meth:`rca.pipeline.Service.run_job`):
it records itself in the store and never raises for its own failures, so one failing job is
logged and recorded and the others run on. The three kinds of failure are told apart as every
face tells them: a run that failed because something was unavailable (the store down, so it
could not even be recorded; a cluster) is one log line, no traceback, and is tried again after
the job's ``retry_s`` (trigger ``retry``) unless its cron comes sooner; bad input (a target the
store cannot answer, a store that refuses the run's record) is a failed run, not retried; our
own bug is logged with its traceback once, and the scheduler and the other jobs go on. Each job
keeps its fitted models in its own :class:`~rca.pipeline.SharedModelCache` between runs; a job
with ``refit:`` drops and refits them on that cron (a run with trigger ``refit``).

This module is a face: it decides when, the pipeline decides what. It holds a
:class:`~rca.pipeline.Service` (the store, the job runs) and never touches the store itself.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from core.errors import BadInput, Unavailable
from rca.config import JobSettings
from rca.pipeline import RunOutcome, Service, SharedModelCache
from rca.serve_settings import cron_fields
from rca.telemetry import count_collectors, log_context

log = logging.getLogger("rca.scheduler")


def trigger_for(expr: str, timezone: str = "UTC"):
    """The APScheduler trigger of a crontab expression (5 fields, or 6 with seconds first)."""
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger(timezone=timezone, **cron_fields(expr))


class Scheduler:
    """The configured jobs on their crons, in background threads; :meth:`start`, then :meth:`stop`."""

    def __init__(self, service: Service, on_run: Callable[[RunOutcome], None] | None = None) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        settings = service.settings
        self.service, self.settings, self.metrics, self.on_run = service, settings, service.metrics, on_run
        self.scrub = service.scrub
        self.caches = {job.name: SharedModelCache() for job in settings.jobs}
        self._active: dict[str, str] = {}  # run id -> job name
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        workers = max(1, 2 * len(settings.jobs))  # a job and its refit may each run once at a time
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(workers)},
            job_defaults={"coalesce": True, "max_instances": 1}, timezone="UTC")

    # --- life ---------------------------------------------------------------------------------

    def start(self) -> None:
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED

        for job in self.settings.jobs:
            self._scheduler.add_job(self._run, trigger_for(job.cron, job.timezone), args=[job], id=job.name,
                                    name=job.name, max_instances=1, coalesce=True,
                                    misfire_grace_time=job.misfire_grace_s, replace_existing=True)
            if job.refit:
                self._scheduler.add_job(self._refit, trigger_for(job.refit, job.timezone), args=[job],
                                        id=f"{job.name}:refit", name=f"{job.name}:refit", max_instances=1,
                                        coalesce=True, misfire_grace_time=job.misfire_grace_s, replace_existing=True)
        self._scheduler.add_listener(self._skipped, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        self._scheduler.start()
        for j in self._scheduler.get_jobs():
            log.info("job %s scheduled; next run %s", j.id, j.next_run_time.isoformat() if j.next_run_time else "never")

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def busy(self) -> dict[str, str]:
        """The runs going on now: run id -> job name."""
        with self._lock:
            return dict(self._active)

    def next_runs(self) -> dict[str, str | None]:
        return {j.id: (j.next_run_time.isoformat() if j.next_run_time else None) for j in self._scheduler.get_jobs()}

    def stop(self, wait_s: float = 0.0) -> dict[str, str]:
        """Start no more runs; wait up to ``wait_s`` for the running ones. Returns those still running."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        deadline = time.monotonic() + wait_s
        with self._idle:
            while self._active and time.monotonic() < deadline:
                self._idle.wait(timeout=max(0.01, deadline - time.monotonic()))
            return dict(self._active)

    def models_cached(self) -> int:
        return sum(len(c) for c in self.caches.values())

    # --- runs -----------------------------------------------------------------------------------

    def trigger(self, name: str) -> None:
        """Have the job ``name`` run now through its schedule, in the background as its cron would run it:
        one instance at a time (a run still going makes this one skipped, and counted), asks that come
        together coalesced into one run. :class:`BadInput` if there is no such job or nothing is scheduled."""
        job = self.service.job(name)
        if not self.running:
            raise BadInput("the scheduler is not running: start it first")
        self._scheduler.modify_job(job.name, next_run_time=datetime.now(UTC))

    def run_now(self, name: str) -> RunOutcome:
        """Run the job ``name`` once in this thread (trigger ``manual``); :class:`BadInput` if there is none."""
        return self._run(self.service.job(name), trigger="manual")

    def refit_now(self, name: str) -> RunOutcome:
        """Drop and refit the job ``name``'s models once in this thread (trigger ``refit``)."""
        return self._refit(self.service.job(name))

    def _track(self, run_id: str, job: JobSettings, start: bool) -> None:
        with self._idle:
            if start:
                self._active[run_id] = job.name
            else:
                self._active.pop(run_id, None)
                self._idle.notify_all()

    def _run(self, job: JobSettings, trigger: str = "schedule") -> RunOutcome:
        run_id = str(uuid.uuid4())
        with log_context(run_id=run_id, job=job.name):
            if trigger == "retry" and job.name in self.busy().values():  # the job is running again already
                log.info("retry not needed: the job is running")
                return RunOutcome(run_id, job.name, "skipped", None)
            self._track(run_id, job, True)
            t0 = time.perf_counter()
            try:
                log.info("run started (%s)", trigger)
                outcome, bug = self._outcome(job, run_id, trigger, t0)
                if not bug:  # a bug's one line, with its traceback, is written already
                    log.log(logging.INFO if outcome.ok else logging.ERROR, "run %s in %.2f s%s%s", outcome.status,
                            outcome.seconds, f": {outcome.error}" if outcome.error else "",
                            self._retry_later(job, outcome))
                if self.metrics is not None:
                    self.metrics.job_runs.labels(job=job.name, status=outcome.status).inc()
                    self.metrics.job_seconds.labels(job=job.name).observe(outcome.seconds)
                    count_collectors(self.metrics, outcome.collector_errors)
                    self.metrics.models_cached.set(self.models_cached())
                if self.on_run is not None:
                    self.on_run(outcome)
                return outcome
            finally:
                self._track(run_id, job, False)

    def _outcome(self, job: JobSettings, run_id: str, trigger: str, t0: float) -> tuple[RunOutcome, bool]:
        """The run's outcome, whichever way it failed, and whether it failed for a bug of ours. A run
        records its own failures; what it raises is the store refusing or missing its record."""
        def failed(error: str, retryable: bool = False) -> RunOutcome:
            return RunOutcome(run_id, job.name, "failed", error, {}, time.perf_counter() - t0, retryable=retryable)

        try:
            return self.service.run_job(job, cache=self.caches[job.name], run_id=run_id, trigger=trigger), False
        except Unavailable as exc:  # the store is down: the run could not be recorded; tried again later
            return failed(self.scrub(str(exc)), retryable=True), False
        except BadInput as exc:  # the store refuses the record (read-only, say): trying again will not help
            return failed(self.scrub(str(exc))), False
        except Exception as exc:  # our own bug: its traceback once; the scheduler and the other jobs go on
            log.exception("run failed: internal error")
            return failed(self.scrub(f"internal error: {type(exc).__name__}: {exc}")), True

    def _retry_later(self, job: JobSettings, outcome: RunOutcome) -> str:
        """Schedule one more run of ``job`` after its ``retry_s`` if ``outcome`` failed for want of something
        unavailable and the cron does not come sooner; say so (for the run's log line)."""
        if outcome.ok or not outcome.retryable or not job.retry_s or not self._scheduler.running:
            return ""
        from apscheduler.triggers.date import DateTrigger

        when = datetime.now(UTC) + timedelta(seconds=job.retry_s)
        regular = self._scheduler.get_job(job.name)
        if regular is not None and regular.next_run_time is not None and regular.next_run_time <= when:
            return "; the next scheduled run comes sooner than a retry"
        self._scheduler.add_job(self._run, DateTrigger(run_date=when), args=[job], kwargs={"trigger": "retry"},
                                id=f"{job.name}:retry", name=f"{job.name}:retry", max_instances=1,
                                misfire_grace_time=job.misfire_grace_s, replace_existing=True)
        return f"; trying again in {job.retry_s} s"

    def _refit(self, job: JobSettings) -> RunOutcome:
        run_id = str(uuid.uuid4())
        with log_context(run_id=run_id, job=job.name):
            self._track(run_id, job, True)
            try:
                outcome = self.service.refit(job, cache=self.caches[job.name], run_id=run_id)
                log.info("refit %s: %s", outcome.status, outcome.outputs)
                if self.metrics is not None:
                    self.metrics.models_cached.set(self.models_cached())
                return outcome
            finally:
                self._track(run_id, job, False)

    def _skipped(self, event) -> None:
        from apscheduler.events import EVENT_JOB_MISSED

        reason = "missed" if event.code == EVENT_JOB_MISSED else "still_running"
        job = str(event.job_id)
        with log_context(job=job.removesuffix(":refit")):
            log.warning("run of %s not started: %s", job,
                        "missed by more than its grace time" if reason == "missed" else "the previous run is still going")
        if self.metrics is not None:
            self.metrics.job_skipped.labels(job=job, reason=reason).inc()
