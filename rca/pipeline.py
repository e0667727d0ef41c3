"""The pipeline: the one module that sees collectors, store, graphs, engine and reports.

Each function is one job a face (CLI, HTTP API, scheduler) can ask for: investigate a plain
table, investigate what the store holds, run the bundled demo. Faces parse their input,
call one function here and present what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from graphs import CausalGraph, load_graph, shipped_graph
from rca.config import InvestigationSettings, Settings
from rca.engine.frames import Window, load_table, parse_time, parse_window
from rca.engine.investigate import Options, Question, investigate
from rca.engine.result import InvestigationResult
from rca.store import Store

if TYPE_CHECKING:
    from reports.chat_send import Delivery


def engine_options(settings: Settings) -> Options:
    e = settings.engine
    return Options(seed=e.seed, bootstrap=e.bootstrap, num_samples=e.num_samples, confidence=e.confidence,
                   min_rows=e.min_rows, regression_alpha=e.regression_alpha)


def make_question(target: str, at: str | None, baseline: str | None, current: str | None) -> Question:
    """Parse the CLI/API form of a question: ``--at T`` (or ``T1..T2``), or two ``START..END`` windows."""
    from rca.engine.frames import EngineInputError

    if at and current:
        raise EngineInputError("give either --at (an anomaly) or --current (a change), not both")
    if at:
        window = parse_window(at) if ".." in at else Window(parse_time(at), parse_time(at))
        return Question(target, at=window, baseline=parse_window(baseline) if baseline else None)
    if not (baseline and current):
        raise EngineInputError("say what to investigate: --at TIME, or --baseline START..END and --current START..END")
    return Question(target, baseline=parse_window(baseline), current=parse_window(current))


# --- the scheduled report ------------------------------------------------------------------

@dataclass(frozen=True)
class ReportOutcome:
    results: list[InvestigationResult]
    skipped: list[str]  # targets that could not be investigated, with the reason
    reports: dict[str, Path]
    report_url: str
    payloads: dict[str, dict[str, Any]]  # channel label -> JSON body (sent, or printed on a dry run)
    deliveries: list[Delivery]  # one per channel posted to
    failures_path: Path | None  # where failed posts were recorded, if any failed


def _span(text: str) -> pd.DateOffset | pd.Timedelta:
    import re

    from rca.engine.frames import EngineInputError

    m = re.fullmatch(r"\s*(\d+)\s*(hour|day|week|month)s?\s*", text or "")
    if not m:
        raise EngineInputError(f"cannot read the span {text!r}; write e.g. '13 weeks', '30 days', '3 months'")
    n, unit = int(m.group(1)), m.group(2)
    return pd.DateOffset(months=n) if unit == "month" else pd.Timedelta(**{f"{unit}s": n})


def resolve_question(spec: InvestigationSettings, latest: pd.Timestamp, bucket: pd.Timedelta) -> Question:
    """A configured investigation as a question; ``last: N weeks`` ends at the latest bucket's end."""
    if spec.last:
        span = _span(spec.last)
        end = latest + bucket - pd.Timedelta(seconds=1)
        cur_start = end + pd.Timedelta(seconds=1) - span
        base_start = cur_start - span
        return Question(spec.target, baseline=Window(base_start, cur_start - pd.Timedelta(seconds=1)),
                        current=Window(cur_start, end))
    if spec.at == "latest":
        return Question(spec.target, at=Window(latest, latest),
                        baseline=parse_window(spec.baseline) if spec.baseline else None)
    return make_question(spec.target, spec.at, spec.baseline, spec.current)


def _demo_investigations(settings: Settings, store: Store) -> list[InvestigationSettings]:
    """With nothing configured, `rca report` shows what it does on the generated sample organisation."""
    from rca import sample

    demo = sample.generate()
    store.write(demo.observations)
    return [InvestigationSettings(target=demo.target, scope=demo.scope, last="13 weeks"),
            InvestigationSettings(target="lead_time_seconds", scope=demo.scope, last="13 weeks")]


def run_report(settings: Settings, *, dry_run: bool = False, out_dir: Path | None = None,
               environ: dict[str, str] | None = None) -> ReportOutcome:
    """The scheduled-report job, once: investigate each configured target, write the multi-target
    report (HTML, Markdown, JSON list) and post chat summaries to the configured channels.

    A post that fails is recorded as one JSON line in ``<data_dir>/notify-failures.jsonl`` (masked
    URL, error, the payload to resend); the report files are written before any post is tried.
    With no ``investigations`` configured it runs on the demo sample (stored in ``demo.db``).
    """
    from collectors.observations import InputError
    from rca.store import bucket_days
    from reports import chat, chat_send, write_reports

    if settings.investigations:
        store = Store(settings.store_url)
        specs = list(settings.investigations)
    else:
        store = Store(f"sqlite:///{(settings.data_dir / 'demo.db').resolve()}")
        specs = _demo_investigations(settings, store)
    results, skipped = [], []
    try:
        for spec in specs:
            # One target that cannot be investigated (no data yet, a typo) must not sink the others.
            try:
                graph = load_graph(spec.graph) if Path(spec.graph).suffix else shipped_graph(spec.graph)
                frame = store.frame(graph, spec.scope)
                bucket = pd.Timedelta(days=bucket_days(graph.unit)) if graph.unit != "commit" else pd.Timedelta(0)
                question = resolve_question(spec, frame.index.max(), bucket)
                results.append(investigate_store(store, graph, spec.scope, question, settings))
            except InputError as exc:
                skipped.append(f"{spec.target} in {spec.scope}: {exc}")
    finally:
        store.close()
    if not results:
        raise InputError("no configured investigation could run: " + "; ".join(skipped))

    stamp = pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%SZ")
    stem = f"report-{stamp}"
    base = settings.reports.url_base.rstrip("/")
    report_url = f"{base}/{stem}.html" if base else ""
    paths = write_reports(results, Path(out_dir or settings.reports.out_dir), stem,
                          list(settings.reports.formats), report_url=report_url, skipped=skipped)
    report_ref = str(paths.get("html") or next(iter(paths.values())))

    n = settings.notify
    channels = [(c.label, c.kind, c) for c in n.channels]
    if dry_run and not channels:
        channels = [(kind, kind, None) for kind in chat.KINDS]
    payloads = {label: chat.payload(kind, results, report_url, skipped=len(skipped)) for label, kind, _ in channels}
    deliveries = []
    failures: Path | None = None
    if not dry_run:
        policy = chat_send.RetryPolicy(attempts=n.attempts, backoff_s=n.backoff_s, timeout_s=n.timeout_s,
                                       max_retry_after_s=n.max_retry_after_s)
        for label, kind, cfg in channels:
            try:
                url = chat_send.resolve_url(cfg.url_env, cfg.url_file, environ)
            except chat_send.SecretError as exc:
                d = chat_send.Delivery(channel=label, kind=kind, ok=False, status=None, attempts=0, error=str(exc))
            else:
                d = chat_send.post(chat_send.Channel(kind=kind, name=label, url=url), payloads[label], policy)
            deliveries.append(d)
            if not d.ok:
                failures = settings.data_dir / "notify-failures.jsonl"
                chat_send.record_failure(failures, d, payloads[label], report_ref)
    return ReportOutcome(results=results, skipped=skipped, reports=paths, report_url=report_url, payloads=payloads,
                         deliveries=deliveries, failures_path=failures)


def investigate_table(data: str | Path, graph: str | Path, question: Question, settings: Settings,
                      scope: str = "") -> InvestigationResult:
    """Investigate a CSV/Parquet table (first column time, one column per node) with a graph file."""
    g = load_graph(graph)
    table = load_table(data)
    return investigate(table, g, question, scope=scope or Path(str(data)).stem, options=engine_options(settings))


def investigate_store(store: Store, graph: CausalGraph, scope: str, question: Question,
                      settings: Settings) -> InvestigationResult:
    """Investigate what the store holds for ``scope``, bucketed by the graph's unit."""
    frame = store.frame(graph, scope)
    return investigate(frame, graph, question, scope=scope, options=engine_options(settings))


@dataclass(frozen=True)
class DemoOutcome:
    result: InvestigationResult
    reports: dict[str, Path]
    store_url: str
    injected_cause: str


def run_demo(settings: Settings, out_dir: Path | None = None, *, inject: bool = True) -> DemoOutcome:
    """Generate the sample organisation, store it, investigate it and write its reports."""
    from rca import sample
    from reports import write_reports

    demo = sample.generate(inject=inject)
    store = Store(f"sqlite:///{(settings.data_dir / 'demo.db').resolve()}")
    try:
        store.write(demo.observations)
        graph = shipped_graph("delivery")
        question = Question(demo.target, baseline=Window(*demo.baseline), current=Window(*demo.current))
        result = investigate_store(store, graph, demo.scope, question, settings)
    finally:
        store.close()
    target_dir = out_dir or settings.reports.out_dir
    stamp = pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%SZ")
    paths = write_reports(result, Path(target_dir), f"demo-{demo.target}-{stamp}", list(settings.reports.formats))
    return DemoOutcome(result=result, reports=paths, store_url=store.url, injected_cause=demo.cause)
