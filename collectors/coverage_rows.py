"""What a coverage report gives: its observation rows, gathered per source.

A report's totals go to the source's scope; with ``scopes`` (path prefixes) each prefix's files
also to ``SCOPE/PREFIX``, and with ``per_file`` each file to ``SCOPE/PATH``. :class:`SourceRun` is
what one source's run gathers, whether from a directory or a Git history; :func:`add_reports`
turns the reports read into rows (one per time: of two reports with the same time the last wins,
and a note says so), and :func:`unreadable_report` is the line a report that could not be read costs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from collectors.base import Replace
from core import observations

if TYPE_CHECKING:  # pandas loads when rows are made
    import pandas as pd

    from collectors.coverage_formats import Figures, Report
    from collectors.coverage_settings import CoverageSourceSettings

SOURCE = "coverage"
METRICS: tuple[str, ...] = ("line_coverage_ratio", "covered_lines_count", "valid_lines_count",
                            "branch_coverage_ratio", "covered_branches_count", "valid_branches_count")
log = logging.getLogger("collectors.coverage")


def _figure_rows(ts: pd.Timestamp, scope: str, f: Figures) -> list[tuple[pd.Timestamp, str, str, float]]:
    rows = [(ts, scope, "covered_lines_count", float(f.lines_covered)),
            (ts, scope, "valid_lines_count", float(f.lines_valid))]
    if f.lines_valid:
        rows.append((ts, scope, "line_coverage_ratio", f.lines_covered / f.lines_valid))
    if f.branches_valid:  # a report without branches says nothing about them
        rows += [(ts, scope, "covered_branches_count", float(f.branches_covered)),
                 (ts, scope, "valid_branches_count", float(f.branches_valid)),
                 (ts, scope, "branch_coverage_ratio", f.branches_covered / f.branches_valid)]
    return rows


def _strip_root(path: str, roots: tuple[str, ...]) -> str:
    for root in roots:
        r = root if root.endswith("/") else root + "/"
        if path.startswith(r):
            return path[len(r):]
    return path


def report_rows(report: Report, ts: pd.Timestamp, scope: str, *, roots: tuple[str, ...] = (),
                prefixes: tuple[str, ...] = (), per_file: bool = False) -> list[tuple[pd.Timestamp, str, str, float]]:
    """The observation rows (ts, scope, metric, value) one report gives.

    Totals go to ``scope``; each prefix's files (after cutting ``roots``) to ``scope/prefix``
    (none if no file is under it); with ``per_file``, each file to ``scope/path``.
    """
    from collectors.coverage_formats import Figures

    rows = _figure_rows(ts, scope, report.totals)
    if not prefixes and not per_file:
        return rows
    files = {_strip_root(p, roots): f for p, f in report.files.items()}
    for prefix in prefixes:
        p = prefix.strip("/")
        under = [f for path, f in files.items() if path == p or path.startswith(p + "/")]
        if under:
            rows += _figure_rows(ts, f"{scope}/{p}", sum(under, Figures()))
    if per_file:
        for path, f in files.items():
            rows += _figure_rows(ts, f"{scope}/{path.lstrip('/')}", f)
    return rows


def frame(rows: list[tuple[pd.Timestamp, str, str, float]]) -> pd.DataFrame:
    import pandas as pd

    if not rows:
        return observations.empty()
    ts, scope, metric, value = zip(*rows, strict=True)
    return pd.DataFrame({"ts": pd.to_datetime(list(ts), utc=True), "scope": list(scope), "metric": list(metric),
                         "value": pd.Series(value, dtype="float64"), "source": SOURCE})


@dataclass
class SourceRun:
    """What one source's run gathered."""

    rows: list[tuple[pd.Timestamp, str, str, float]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    replaces: list[Replace] = field(default_factory=list)
    scopes: set[str] = field(default_factory=set)
    read: int = 0


def add_reports(run: SourceRun, src: CoverageSourceSettings, got: Iterable[tuple[pd.Timestamp, Any, str, Report]]
                 ) -> None:
    """Rows for the reports read. Of several with the same time the last wins (by file name, or
    by history order for commits), and a note says so: a bucket holds one value per time."""
    by_time: dict[pd.Timestamp, tuple[str, Report]] = {}
    for ts, _, name, report in sorted(got, key=lambda g: (g[0], g[1])):
        if ts in by_time:
            run.notes.append(f"{src.scope}: {by_time[ts][0]} and {name} have the same time {ts.isoformat()}; "
                             f"{name} is kept")
        by_time[ts] = (name, report)
    for ts, (_, report) in by_time.items():
        rows = report_rows(report, ts, src.scope, roots=src.roots, prefixes=src.scopes, per_file=src.per_file)
        run.rows += rows
        run.scopes.update(r[1] for r in rows)


def unreadable_report(exc: Exception, where: str) -> str:
    """The failure line of a report that could not be read. A :class:`ReportError` says what is wrong
    with the report; anything else is a fault of ours on it, logged with its traceback once."""
    from collectors.coverage_formats import ReportError

    if isinstance(exc, ReportError):
        return f"{exc}; skipped"
    log.error("reading the coverage report %s failed", where, exc_info=exc)
    first = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{where}: could not be read ({type(exc).__name__}{': ' + first if first else ''}); skipped"
