"""The demo: a generated sample organisation with a known cause, investigated and reported.

No configuration and no collectors: the sample (:mod:`rca.sample`) is written to its own
store (``<data_dir>/demo.db``), investigated with the shipped ``delivery`` graph, and its
reports written, so a new user sees the whole flow in one command.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from rca.config import InvestigationSettings, Settings
from rca.pipeline.errors import faced
from rca.pipeline.investigations import investigate
from rca.store import Store
from results import InvestigationResult


@dataclass(frozen=True)
class DemoOutcome:
    result: InvestigationResult
    reports: dict[str, Path]
    store_url: str
    injected_cause: str
    id: str | None = None


def _window(w: tuple[pd.Timestamp, pd.Timestamp]) -> str:
    return f"{w[0].isoformat()}..{w[1].isoformat()}"


@faced
def demo(settings: Settings, out_dir: Path | None = None, *, inject: bool = True) -> DemoOutcome:
    """Generate the sample organisation, store it, investigate it and write its reports."""
    from rca import sample
    from reports import write_reports

    s = sample.generate(inject=inject)
    request = InvestigationSettings(target=s.target, scope=s.scope, graph="delivery",
                                    baseline=_window(s.baseline), current=_window(s.current))
    with Store(f"sqlite:///{(settings.data_dir / 'demo.db').resolve()}") as store:
        store.write(s.observations)
        done = investigate(request, settings, store=store, keep=True)
        stamp = pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%SZ")
        paths = write_reports(done.result, Path(out_dir or settings.reports.out_dir), f"demo-{s.target}-{stamp}",
                              list(settings.reports.formats))
        record = store.investigation(done.id) if done.id else None
        if record is not None:
            store.save_investigation(replace(record, report_path=str(paths.get("html") or next(iter(paths.values())))))
        return DemoOutcome(done.result, paths, store.shown, s.cause, done.id)
