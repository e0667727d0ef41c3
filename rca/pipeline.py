"""The pipeline: the one module that sees collectors, store, graphs, engine and reports.

Each function is one job a face (CLI, HTTP API, scheduler) can ask for: investigate a plain
table, investigate what the store holds, run the bundled demo. Faces parse their input,
call one function here and present what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from graphs import CausalGraph, load_graph, shipped_graph
from rca.config import Settings
from rca.engine.frames import Window, load_table, parse_time, parse_window
from rca.engine.investigate import Options, Question, investigate
from rca.engine.result import InvestigationResult
from rca.store import Store


def engine_options(settings: Settings) -> Options:
    e = settings.engine
    return Options(seed=e.seed, bootstrap=e.bootstrap, num_samples=e.num_samples, confidence=e.confidence,
                   min_rows=e.min_rows, regression_alpha=e.regression_alpha, change_alpha=e.change_alpha)


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
