"""The scheduler of ``rca serve``: the configured ``jobs:`` on their crons (APScheduler 3.x).

Each job is an APScheduler job with a :class:`~apscheduler.triggers.cron.CronTrigger`, one
instance at a time (``max_instances=1``: a run still going when the next is due makes that
one skipped, and counted), missed runs coalesced into one (``coalesce=True``) and run if no
later than the job's ``misfire_grace_s``. A run is :func:`rca.pipeline.runs.run_job`: it
records itself in the store and never raises for its own failures, so one failing job is
logged and recorded and the others run on. A run that failed because something was unavailable
(the store down, so it could not even be recorded; a cluster) is one log line, no traceback, and
is tried again after the job's ``retry_s`` (trigger ``retry``) unless its cron comes sooner.
Each job keeps its fitted models in its own :class:`~rca.pipeline.runs.SharedModelCache`
between runs; a job with ``refit:`` drops and refits them on that cron (a run with trigger ``refit``).

This module is a face: it decides when, the pipeline decides what.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from core.errors import Unavailable
from rca.config import JobSettings, Settings, cron_fields, scrubber
from rca.telemetry import ServiceMetrics, count_collectors, log_context

if TYPE_CHECKING:
    from rca.pipeline.runs import RunOutcome
    from rca.store import Store

log = logging.getLogger("rca.scheduler")


def trigger_for(expr: str, timezone: str = "UTC"):
    """The APScheduler trigger of a crontab expression (5 fields, or 6 with seconds first)."""
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger(timezone=timezone, **cron_fields(expr))


class Scheduler:
    """The configured jobs on their crons, in background threads; :meth:`start`, then :meth:`stop`."""

    def __init__(self, settings: Settings, store: Store, metrics: ServiceMetrics | None = None,
                 on_run: Callable[[RunOutcome], None] | None = None) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        from rca.pipeline.runs import SharedModelCache

        self.settings, self.store, self.metrics, self.on_run = settings, store, metrics, on_run
        self.scrub = scrubber(settings)
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

    def run_now(self, name: str) -> RunOutcome:
        """Run the job ``name`` once in this thread (trigger ``manual``)."""
        job = next((j for j in self.settings.jobs if j.name == name), None)
        if job is None:
            from rca.pipeline import BadInput

            raise BadInput(f"no job named {name!r}; jobs: {', '.join(j.name for j in self.settings.jobs) or 'none'}")
        return self._run(job, trigger="manual")

    def _track(self, run_id: str, job: JobSettings, start: bool) -> None:
        with self._idle:
            if start:
                self._active[run_id] = job.name
            else:
                self._active.pop(run_id, None)
                self._idle.notify_all()

    def _run(self, job: JobSettings, trigger: str = "schedule") -> RunOutcome:
        from rca.pipeline.runs import RunOutcome, run_job

        run_id = str(uuid.uuid4())
        with log_context(run_id=run_id, job=job.name):
            if trigger == "retry" and job.name in self.busy().values():  # the job is running again already
                log.info("retry not needed: the job is running")
                return RunOutcome(run_id, job.name, "skipped", None)
            self._track(run_id, job, True)
            t0 = time.perf_counter()
            try:
                log.info("run started (%s)", trigger)
                try:
                    outcome = run_job(job, self.settings, store=self.store, cache=self.caches[job.name], run_id=run_id,
                                      trigger=trigger)
                except Unavailable as exc:  # the store itself: the run could not be recorded, so it is only logged
                    outcome = RunOutcome(run_id, job.name, "failed", self.scrub(str(exc)), {}, time.perf_counter() - t0,
                                         retryable=True)
                level = logging.INFO if outcome.ok else logging.ERROR
                log.log(level, "run %s in %.2f s%s%s", outcome.status, outcome.seconds,
                        f": {outcome.error}" if outcome.error else "", self._retry_later(job, outcome))
                if self.metrics is not None:
                    self.metrics.job_runs.labels(job=job.name, status=outcome.status).inc()
                    self.metrics.job_seconds.labels(job=job.name).observe(outcome.seconds)
                    count_collectors(self.metrics, outcome.collector_errors)
                    self.metrics.models_cached.set(self.models_cached())
                if self.on_run is not None:
                    self.on_run(outcome)
                return outcome
            except Exception:  # the store itself failed: logged here, the scheduler and other jobs go on
                log.exception("run could not be recorded")
                if self.metrics is not None:
                    self.metrics.job_runs.labels(job=job.name, status="failed").inc()
                raise
            finally:
                self._track(run_id, job, False)

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
        from rca.pipeline.runs import refit

        run_id = str(uuid.uuid4())
        with log_context(run_id=run_id, job=job.name):
            self._track(run_id, job, True)
            try:
                outcome = refit(job, self.settings, store=self.store, cache=self.caches[job.name], run_id=run_id)
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
