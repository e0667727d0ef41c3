"""A coverage report's shape, whatever its format: counts per file and in total, its own time.

:class:`Report` holds a report's totals, its per-file :class:`Figures` and its own timestamp;
:class:`ReportError` says, in one line, which report (and line, and column) cannot be read and
why; :func:`checked` refuses counts that make no sense, so every ratio lies between 0 and 1.
The format readers (:mod:`collectors.coverage_xml`, :mod:`collectors.coverage_lcov`,
:mod:`collectors.coverage_json`) build these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.errors import InputError

CHUNK = 1 << 20  # reports are read in pieces of this many bytes, never whole


class ReportError(InputError):
    """A report that cannot be read: where it is, the line (and column) and what is wrong."""

    def __init__(self, where: str, line: int | None, message: str, column: int | None = None) -> None:
        self.where, self.line, self.column, self.message = where, line, column, message
        pos = "" if line is None else f":{line}" + ("" if column is None else f":{column}")
        super().__init__(f"{where}{pos}: {message}")


@dataclass
class Figures:
    """Line and branch counts of a report, a file or a group of files."""

    lines_valid: int = 0
    lines_covered: int = 0
    branches_valid: int = 0
    branches_covered: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(self.lines_valid + other.lines_valid, self.lines_covered + other.lines_covered,
                       self.branches_valid + other.branches_valid, self.branches_covered + other.branches_covered)

    @property
    def line_ratio(self) -> float | None:
        return self.lines_covered / self.lines_valid if self.lines_valid else None

    @property
    def branch_ratio(self) -> float | None:
        return self.branches_covered / self.branches_valid if self.branches_valid else None


@dataclass
class Report:
    """One coverage report, whatever its format."""

    format: str
    totals: Figures
    files: dict[str, Figures] = field(default_factory=dict)  # path as the report names it -> figures
    timestamp: datetime | None = None  # the report's own time; naive if the report gives no offset


_MAX_COUNT = 1 << 53  # past this a float (the value stored) no longer holds every count


def checked(report: Report, where: str) -> Report:
    """The report if every count makes sense (0 <= covered <= valid, for lines and for branches, in
    the totals and in each file), else a :class:`ReportError` naming the first that does not: a
    ratio is then always between 0 and 1."""
    for what, f in (*((f"file {p!r}", f) for p, f in report.files.items()), ("totals", report.totals)):
        for kind, covered, valid in (("lines", f.lines_covered, f.lines_valid),
                                     ("branches", f.branches_covered, f.branches_valid)):
            if not 0 <= covered <= valid <= _MAX_COUNT:
                raise ReportError(where, None, f"{what}: {covered} of {valid} {kind} covered; counts must be "
                                  f"0 <= covered <= valid (<= 2^53)")
    return report


def normalize_path(path: str) -> str:
    """A report's file path with forward slashes and no leading ``./``."""
    p = path.replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    return p
