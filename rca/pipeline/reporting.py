"""The report job: investigate the configured targets, write one report, post chat summaries.

Report files are written before any post is tried. Each target is investigated on its own
(one that cannot run, for lack of data or a typo, is listed in the report and in the outcome
and does not sink the others); targets asking the same question of the same rows share one
fitted model. Each channel is posted to on its own: a post that fails is recorded as one
JSON line in ``<data_dir>/notify-failures.jsonl`` (masked URL, error, the payload to resend)
and never stops the next channel. Without configured targets the job has nothing to report;
``dry_run`` then shows what it would do on the generated sample, and posts nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from core.errors import BadInput, WhydunnitError
from graphs import CausalGraph
from rca.config import InvestigationSettings, Settings, scrubber
from rca.engine import ModelCache
from rca.pipeline import records
from rca.pipeline.compute import on_cluster
from rca.pipeline.data import graph_of, stored_frame
from rca.pipeline.investigations import answer, question_record, settling_of
from rca.pipeline.settling import Settling
from rca.store import InvestigationRecord, Store
from results import InvestigationResult

if TYPE_CHECKING:
    from reports.chat_send import Delivery

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportOutcome:
    results: list[InvestigationResult]
    skipped: list[str]  # targets that could not be investigated, with the reason
    reports: dict[str, Path]
    report_url: str
    payloads: dict[str, dict[str, Any]]  # channel label -> JSON body (sent, or printed on a dry run)
    deliveries: list[Delivery]  # one per channel posted to
    failures_path: Path | None  # where failed posts were recorded, if any failed

    @property
    def ok(self) -> bool:
        return not self.skipped and all(d.ok for d in self.deliveries)


def demo_investigations(store: Store) -> list[InvestigationSettings]:
    """The generated sample organisation, stored, and the two targets a demo report shows."""
    from rca import sample

    demo = sample.generate()
    store.write(demo.observations, replace=demo.replaces)
    return [InvestigationSettings(target=demo.target, scope=demo.scope, last="13 weeks"),
            InvestigationSettings(target="lead_time_seconds", scope=demo.scope, last="13 weeks")]


def _investigate_all(store: Store, specs: list[InvestigationSettings], settings: Settings,
                     cache: ModelCache | None = None) -> tuple[list[InvestigationResult], list[str], list[str]]:
    """Investigate each spec; return the results, the skipped targets (with why) and the kept records' ids.

    Specs over the same graph and scope make one task: its frame is read from the store once, here,
    and its targets share the model cache. The tasks are independent, so with a Dask cluster
    configured they run on its workers (:func:`rca.engine.parallel.tasks`), each with a cache of its
    own (fitting is deterministic: the answers are the same); the store is only touched here,
    before and after. Results and skips keep the order of ``specs``.
    """
    from rca.engine.parallel import on_dask, tasks

    problems: dict[int, str] = {}
    groups: dict[tuple[str, str], list[tuple[int, InvestigationSettings, CausalGraph]]] = {}
    frames: dict[tuple[str, str], pd.DataFrame] = {}
    settling: dict[tuple[str, str], Settling] = {}
    opened: dict[int, InvestigationRecord] = {}
    for i, spec in enumerate(specs):
        try:
            graph = graph_of(spec.graph)
            key = (graph.name, spec.scope)
            if key not in frames:
                frames[key] = stored_frame(store, graph, spec.scope)
                settling[key] = settling_of(graph, frames[key], store=store, scope=spec.scope)
            opened[i] = records.opened(scope=spec.scope, target=spec.target, question=question_record(spec, graph))
        except WhydunnitError as exc:
            problems[i] = str(exc)
            continue
        groups.setdefault(key, []).append((i, spec, graph))
    # A task takes only the engine's options: the store's URL (and its password) never leaves this process.
    engine_only = Settings.model_construct(engine=settings.engine)
    shared = None if on_dask() else (ModelCache() if cache is None else cache)  # targets over the same rows fit once
    answers: dict[int, InvestigationResult] = {}
    for got in tasks(_answer_group, [(members, frames[key], engine_only, shared, settling[key])
                                     for key, members in groups.items()]):
        for i, outcome in got:
            if isinstance(outcome, str):
                problems[i] = outcome
            else:
                answers[i] = outcome
    results, skipped, ids = [], [], []
    for i, spec in enumerate(specs):
        if i in problems:
            skipped.append(f"{spec.target} in {spec.scope or '(no scope)'}: {problems[i]}")
            continue
        store.save_investigation(records.closed(opened[i], "done", result=answers[i]))
        results.append(answers[i])
        ids.append(opened[i].id)
    return results, skipped, ids


def _answer_group(task: tuple[list[tuple[int, InvestigationSettings, CausalGraph]], pd.DataFrame, Settings,
                              ModelCache | None, Settling]) -> list[tuple[int, InvestigationResult | str]]:
    """Answer the specs of one graph and scope on their frame (one task: here, or on a Dask worker).
    A spec the data cannot answer gives its one-line reason instead of a result."""
    members, frame, settings, cache, found = task
    cache = ModelCache() if cache is None else cache
    out: list[tuple[int, InvestigationResult | str]] = []
    for i, spec, graph in members:
        try:
            out.append((i, answer(spec, graph, frame, settings, cache=cache, settling=found)))
        except WhydunnitError as exc:
            out.append((i, str(exc)))
    return out


@on_cluster
def report(settings: Settings, *, dry_run: bool = False, out_dir: Path | None = None,
           environ: Mapping[str, str] | None = None, cache: ModelCache | None = None,
           name: str = "report") -> ReportOutcome:
    """Run the report job once (see the module's docstring). ``cache`` keeps fitted models between
    runs (a scheduled job's); ``name`` starts the report files' names (``<name>-<UTC stamp>``)."""
    from reports import write_reports

    if settings.investigations:
        store, specs = Store(settings.store_url), list(settings.investigations)
    elif dry_run:
        store = Store(f"sqlite:///{(settings.data_dir / 'demo.db').resolve()}")
        specs = demo_investigations(store)
    else:
        raise BadInput("nothing to report: add targets under `investigations:` in rca.yaml "
                       "(a dry run, or rca demo, shows a report on a generated sample)")
    with store:
        results, skipped, ids = _investigate_all(store, specs, settings, cache)
        if not results:
            raise BadInput("no configured investigation could run: " + "; ".join(skipped))
        stamp = pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%SZ")
        stem = f"{name}-{stamp}"
        base = settings.reports.url_base.rstrip("/")
        report_url = f"{base}/{stem}.html" if base else ""
        paths = write_reports(results, Path(out_dir or settings.reports.out_dir), stem,
                              list(settings.reports.formats), report_url=report_url, skipped=skipped)
        report_ref = str(paths.get("html") or next(iter(paths.values())))
        for id_ in ids:
            rec = store.investigation(id_)
            if rec is not None:
                store.save_investigation(replace(rec, report_path=report_ref))
    payloads, deliveries, failures = notify(settings, results, report_url, report_ref, skipped,
                                            dry_run=dry_run, environ=environ)
    return ReportOutcome(results=results, skipped=skipped, reports=paths, report_url=report_url, payloads=payloads,
                         deliveries=deliveries, failures_path=failures)


def notify(settings: Settings, results: list[InvestigationResult], report_url: str, report_ref: str,
           skipped: int | list[str],
           *, dry_run: bool = False, environ: Mapping[str, str] | None = None
           ) -> tuple[dict[str, dict[str, Any]], list[Delivery], Path | None]:
    """Build each channel's chat payload and (unless a dry run) post it; record what failed."""
    from reports import chat, chat_send

    n = settings.notify
    channels = [(c.label, c.kind, c) for c in n.channels]
    if dry_run and not channels:
        channels = [(kind, kind, None) for kind in chat.KINDS]
    if not isinstance(skipped, int):  # named in chat: scrubbed of the configuration's secrets like every error line
        scrub = scrubber(settings)
        skipped = [scrub(line) for line in skipped]
    payloads = {label: chat.payload(kind, results, report_url, skipped=skipped) for label, kind, _ in channels}
    deliveries: list[Delivery] = []
    failures: Path | None = None
    if dry_run:
        return payloads, deliveries, failures
    job_ends = time.monotonic() + n.job_deadline_s
    for label, kind, cfg in channels:
        left = job_ends - time.monotonic()
        if left <= 0:
            d = chat_send.Delivery(channel=label, kind=kind, ok=False, status=None, attempts=0,
                                   error=f"not tried: the job's {n.job_deadline_s:g} s for posting had passed")
        else:
            policy = chat_send.RetryPolicy(attempts=n.attempts, backoff_s=n.backoff_s, timeout_s=n.timeout_s,
                                           max_retry_after_s=n.max_retry_after_s, deadline_s=min(n.deadline_s, left))
            d = chat_send.deliver(label, kind, cfg.url_env, cfg.url_file, payloads[label], policy, environ=environ)
        deliveries.append(d)
        if not d.ok:
            failures = settings.data_dir / "notify-failures.jsonl"
            chat_send.record_failure(failures, d, payloads[label], report_ref)
    return payloads, deliveries, failures
