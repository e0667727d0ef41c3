"""The coverage collector: line and branch coverage from the reports CI writes.

Each configured source (:mod:`collectors.coverage_settings`) is one scope and one of two kinds:
a **directory** of reports, one per commit or build (:mod:`collectors.coverage_dirs`), or the
**Git history** of a report committed to a repository (:mod:`collectors.coverage_history`).
Reports are read by :mod:`collectors.coverage_formats` (imported when a run needs it, so
``rca --help`` stays fast) and turned into rows by :mod:`collectors.coverage_rows`. A report
that cannot be read is one line in ``Collected.failures`` and the others still land; a source
that cannot be read at all is one failure and keeps its saved state. Changing a source's
settings re-reads it whole and replaces what it stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collectors.base import Collected, Collector, Progress
from collectors.coverage_dirs import collect_dir
from collectors.coverage_history import collect_history
from collectors.coverage_rows import METRICS, frame, report_rows
from collectors.coverage_settings import CoverageSettings, CoverageSourceSettings
from core.errors import InputError

__all__ = ["COLLECTOR", "METRICS", "CoverageSettings", "CoverageSourceSettings", "collect", "report_rows"]


def collect(settings: CoverageSettings, state: Mapping[str, Any], progress: Progress | None = None) -> Collected:
    """Read every configured source (only new reports or commits where the saved state allows).

    A source that cannot be read at all (a missing directory, not a repository) is one failure
    and keeps its saved state; the other sources still land.
    """
    rows, replaces, new_state, lines, notes, failures, units = [], [], {}, [], [], [], {}
    for src in settings.sources:
        old = state.get(src.scope)
        if not isinstance(old, Mapping):  # nothing saved (or not ours): a first run
            old = None
        try:
            run, st, line = (collect_dir if src.kind == "dir" else collect_history)(src, old, progress,
                                                                                 settings.git_timeout_s)
        except InputError as exc:
            msg = str(exc)
            failures.append(msg if msg.startswith(f"{src.scope}:") else f"{src.scope}: {msg}")
            continue
        rows += run.rows
        replaces += run.replaces
        new_state[src.scope] = st
        lines.append(line)
        notes += run.notes
        failures += run.failures
        units[src.scope] = {"kind": src.kind, "reports_read": run.read, "failed": len(run.failures),
                            "rows": len(run.rows)}
    return Collected(observations=frame(rows), replaces=tuple(replaces), state=new_state, lines=tuple(lines),
                     units=units, notes=tuple(notes), failures=tuple(failures))


COLLECTOR: Collector[CoverageSettings] = Collector("coverage", CoverageSettings, collect)
