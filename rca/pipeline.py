"""The pipeline: the one module that sees collectors, store, graphs, engine and reports.

Each function is one job a face (CLI, HTTP API, scheduler) can ask for: investigate a plain
table, investigate what the store holds, run the bundled demo. Faces parse their input,
call one function here and present what it returns.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from collectors.git_rules import GitRules
from graphs import CausalGraph, load_graph, shipped_graph
from rca.config import InvestigationSettings, Settings
from rca.engine.errors import EngineInputError
from rca.engine.frames import Window, load_table, parse_time, parse_window
from rca.engine.investigate import Options, Question, investigate
from rca.engine.result import InvestigationResult, WhatIf
from rca.store import Store

if TYPE_CHECKING:
    from reports.chat_send import Delivery


def engine_options(settings: Settings) -> Options:
    e = settings.engine
    return Options(seed=e.seed, bootstrap=e.bootstrap, num_samples=e.num_samples, confidence=e.confidence,
                   min_rows=e.min_rows, regression_alpha=e.regression_alpha, change_alpha=e.change_alpha)


def make_question(target: str, at: str | None, baseline: str | None, current: str | None) -> Question:
    """Parse the CLI/API form of a question: ``--at T`` (or ``T1..T2``), or two ``START..END`` windows."""
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
                graph = load_graph(spec.graph)  # a file, or the name of a shipped graph
                frame = store.frame(graph, spec.scope)
                bucket = pd.Timedelta(days=bucket_days(graph.unit)) if graph.unit != "commit" else pd.Timedelta(0)
                question = resolve_question(spec, frame.index.max(), bucket)
                # The frame is already read (its last bucket set the windows): do not read it twice.
                results.append(investigate(frame, graph, question, scope=spec.scope, options=engine_options(settings)))
            except (InputError, EngineInputError) as exc:
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


def investigate_stored(graph: str | Path, scope: str, question: Question, settings: Settings) -> InvestigationResult:
    """Investigate the configured store's observations for ``scope`` with a graph file or shipped name."""
    if not scope:
        raise EngineInputError("without --data, say which scope of the store to investigate (--scope org/repo)")
    g = load_graph(graph)
    store = Store(settings.store_url)
    try:
        return investigate_store(store, g, scope, question, settings)
    finally:
        store.close()


def parse_settings(pairs: list[str]) -> dict[str, float]:
    """``NODE=VALUE`` pairs (the last ``=`` splits, so a node name may contain one) as a mapping."""
    out: dict[str, float] = {}
    for pair in pairs:
        node, sep, value = pair.rpartition("=")
        try:
            if not sep or not node:
                raise ValueError
            out[node] = float(value)
        except ValueError:
            raise EngineInputError(f"--set {pair!r} must be NODE=NUMBER, e.g. line_coverage_ratio=0.8") from None
    if not out:
        raise EngineInputError("say what to set: --set NODE=NUMBER (repeatable)")
    return out


def what_if(graph: str | Path, target: str, values: dict[str, float], settings: Settings, *,
            data: str | Path | None = None, scope: str = "") -> WhatIf:
    """The target's distribution had ``values`` been imposed, fitted on a table or on the store's ``scope``."""
    from rca.engine.investigate import what_if as engine_what_if

    g = load_graph(graph)
    if data is not None:
        frame = load_table(data)
    else:
        if not scope:
            raise EngineInputError("without --data, say which scope of the store to use (--scope org/repo)")
        store = Store(settings.store_url)
        try:
            frame = store.frame(g, scope)
        finally:
            store.close()
    return engine_what_if(frame, g, target, values, options=engine_options(settings))


def check_graph(data: str | Path, graph: str | Path, settings: Settings, *, permutations: int = 100):
    """Check a graph file against a CSV/Parquet table: unsupported edges, missed dependencies, fit quality."""
    from rca.engine.checks import check_graph as _check

    return _check(load_table(data), load_graph(graph), permutations=permutations, seed=settings.engine.seed)


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


# --- collection -------------------------------------------------------------------------------

GIT_STATE = "git"
Progress = Callable[[str, int, "int | None"], None]  # (stage, done, total): what the faces draw


@dataclass(frozen=True)
class RepoCollected:
    label: str
    branch: str
    head: str
    commits_read: int
    full_read: bool
    notes: tuple[str, ...]


@dataclass(frozen=True)
class CollectOutcome:
    rows_written: int
    repos: tuple[RepoCollected, ...]
    store_url: str


def git_rules(settings: Settings, scopes: list[str] | tuple[str, ...] = (), bucket: str | None = None) -> GitRules:
    """The collector's rules from the ``git:`` section (plus one repository's path scopes)."""
    g = settings.git
    return GitRules(test_patterns=tuple(g.test_patterns), fix_patterns=tuple(g.fix_patterns),
                    issue_patterns=tuple(g.issue_patterns), fix_types=tuple(g.fix_types),
                    newcomer_threshold=g.newcomer_threshold, szz=g.szz, szz_max_files=g.szz_max_files,
                    szz_workers=g.szz_workers, bucket=bucket or g.bucket, scopes=tuple(scopes))


def _utc(ts: object) -> pd.Timestamp | None:
    if ts is None:
        return None
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def collect(settings: Settings, progress: Progress | None = None) -> CollectOutcome:
    """Run the configured collectors into the store: all repositories in ONE transaction.

    Each repository's state (what it has seen, per branch) is read from the store; only new
    commits are read. A full read (first run, rewritten history, changed rules) replaces the
    repository's earlier observations in the same transaction, so nothing is half-written.
    """
    from collectors.git import RepoSpec, collect_repo
    from collectors.observations import InputError

    if not settings.git.repos:
        raise InputError("nothing to collect: add repositories under `git: repos:` in the configuration, "
                         "or run `rca collect --git PATH --out FILE`")
    store = Store(settings.store_url)
    try:
        frames, replaces, states, done = [], [], {}, []
        for r in settings.git.repos:
            key = f"{r.label}@{r.branch or 'HEAD'}"
            spec = RepoSpec(r.path, r.label, r.branch, _utc(r.since))
            res = collect_repo(spec, git_rules(settings, r.scopes), store.get_state(GIT_STATE, key), progress)
            frames.append(res.observations)
            if res.full_read:
                replaces.extend({"scope": sc, "source": "git"} for sc in res.scopes)
            states[(GIT_STATE, key)] = res.state
            done.append(RepoCollected(res.label, res.branch, res.head, len(res.commits), res.full_read,
                                      res.notes))
        frame = pd.concat([f for f in frames if not f.empty] or frames[:1], ignore_index=True)
        written = store.write(frame, replace=replaces, state=states)
    finally:
        store.close()
    return CollectOutcome(written, tuple(done), store.url)


@dataclass(frozen=True)
class TableOutcome:
    path: Path
    rows: int
    commits_read: int
    notes: tuple[str, ...]


def collect_git_table(path: str | Path, out: str | Path, level: str = "week", *,
                      settings: Settings | None = None, branch: str | None = None, since: str | None = None,
                      scopes: tuple[str, ...] = (), progress: Progress | None = None) -> TableOutcome:
    """Read one repository without a store and write its observation table (or, with
    ``level="commit"``, its per-commit table) to CSV or Parquet, chosen by ``out``'s suffix."""
    from collectors.git import RepoSpec, collect_repo
    from collectors.observations import InputError

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise InputError(f"cannot write {str(out)!r}: use a .csv or .parquet file name")
    if level not in ("commit", "day", "week"):
        raise InputError(f"unknown level {level!r}; use commit, day or week")
    settings = settings or Settings()
    try:
        since_ts = _utc(since)
    except ValueError:
        raise InputError(f"--since {since!r} is not a date; use e.g. 2024-01-31") from None
    rules = git_rules(settings, scopes, bucket=None if level == "commit" else level)
    res = collect_repo(RepoSpec(Path(path), "", branch, since_ts), rules, None, progress)
    table = res.commits if level == "commit" else res.observations
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    try:
        if suffix == ".csv":
            table.to_csv(tmp, index=False)
        else:
            table.to_parquet(tmp, index=False)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return TableOutcome(out, len(table), len(res.commits), res.notes)
