"""The demo: a generated sample organisation with a known cause, investigated and reported.

No configuration and no collectors: the sample (:mod:`rca.sample`) is written to its own
store (``<data_dir>/demo.db``), investigated with the shipped ``delivery`` graph, asked one
effect question (what line coverage does to the bug-fix ratio, with refutation checks) and
which lever to move, and its reports written, so a new user sees the whole flow in one command.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from rca.config import InvestigationSettings, Settings
from rca.pipeline.effects import effect, recommendations
from rca.pipeline.investigations import investigate
from rca.store import Store
from results import InvestigationResult
from results.effects import EffectResult, Recommendations


@dataclass(frozen=True)
class DemoOutcome:
    result: InvestigationResult
    reports: dict[str, Path]
    store_url: str
    injected_cause: str
    id: str | None = None
    effect: EffectResult | None = None  # what the injected cause does to the target
    recommendations: Recommendations | None = None  # the target's levers, best first
    effect_ids: tuple[str, ...] = ()  # the effect answers kept in the store


# The demo's effect question keeps the refutation checks but runs fewer re-estimations than a
# question asked on its own (20, not 50) and leaves out the double-ML check (EconML's import and
# fit cost more than the rest of the question): the demo should stay quick. Most of what is
# left is importing DoWhy for the identification step.
DEMO_SIMULATIONS = 20


def _window(w: tuple[pd.Timestamp, pd.Timestamp]) -> str:
    return f"{w[0].isoformat()}..{w[1].isoformat()}"


def demo(settings: Settings, out_dir: Path | None = None, *, inject: bool = True) -> DemoOutcome:
    """Generate the sample organisation, store it, investigate it and write its reports."""
    from rca import sample
    from reports import write_reports

    s = sample.generate(inject=inject)
    request = InvestigationSettings(target=s.target, scope=s.scope, graph="delivery",
                                    baseline=_window(s.baseline), current=_window(s.current))
    with Store(f"sqlite:///{(settings.data_dir / 'demo.db').resolve()}") as store:
        store.write(s.observations, replace=s.replaces)
        done = investigate(request, settings, store=store, keep=True)
        asked = [effect(s.cause, s.target, settings, graph="delivery", scopes=s.scope, store=store, keep=True,
                        simulations=DEMO_SIMULATIONS, dml=False),
                 recommendations(s.target, settings, graph="delivery", scope=s.scope, store=store, keep=True)]
        stamp = pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%SZ")
        paths = write_reports(done.result, Path(out_dir or settings.reports.out_dir), f"demo-{s.target}-{stamp}",
                              list(settings.reports.formats), effects=[a.result for a in asked])
        report_path = str(paths.get("html") or next(iter(paths.values())))
        for id_ in [done.id, *(a.id for a in asked)]:
            record = store.investigation(id_) if id_ else None
            if record is not None:
                store.save_investigation(replace(record, report_path=report_path))
        return DemoOutcome(done.result, paths, store.shown, s.cause, done.id, effect=asked[0].result,
                           recommendations=asked[1].result, effect_ids=tuple(a.id for a in asked if a.id))
