"""Coverage report formats: Cobertura XML, JaCoCo XML, LCOV and coverage.py JSON.

:func:`parse` reads one report (a file, or the bytes of a blob read from Git) into a
:class:`Report`: its totals, its per-file figures and its own timestamp, whatever the format.
The format is told from the content, never from the file name (:func:`detect`): an XML root
``<coverage line-rate=...>`` is Cobertura, ``<report>`` is JaCoCo; a JSON object with
``meta``, ``files`` and ``totals`` is coverage.py's; text whose first record is ``TN:``,
``SF:`` or ``VER:`` is LCOV. Anything else is a :class:`ReportError`, which names the report,
the line (and column, for XML and JSON) and what is wrong, in one line.
Each format has its reader (:mod:`collectors.coverage_xml`, :mod:`collectors.coverage_lcov`,
:mod:`collectors.coverage_json`); the report's shape is :mod:`collectors.coverage_report`.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import IO

from collectors.coverage_report import Figures, Report, ReportError, checked, normalize_path

__all__ = ["FORMATS", "Figures", "Report", "ReportError", "checked", "detect", "normalize_path", "parse",
           "parse_bytes", "parse_file"]

FORMATS: tuple[str, ...] = ("cobertura", "jacoco", "lcov", "coveragepy")
_HEAD = 4096
_LCOV_FIRST = re.compile(rb"(TN|SF|VER):")


def parse_file(path: str | Path) -> Report:
    """Read the report at ``path``; a :class:`ReportError` says why it cannot be read."""
    where = str(path)
    try:
        with open(path, "rb") as f:
            return parse(f, where)
    except OSError as exc:
        raise ReportError(where, None, f"cannot read: {exc.strerror or exc}") from None


def parse_bytes(data: bytes, where: str) -> Report:
    """Read a report held in memory (a blob read from Git); ``where`` names it in errors."""
    return parse(io.BytesIO(data), where)


def parse(stream: IO[bytes], where: str) -> Report:
    """Read a report from a binary stream that can seek (a file, a BytesIO), and check its counts."""
    head = stream.read(_HEAD)
    kind = detect(head, where)
    stream.seek(0)
    if kind == "xml":
        from collectors.coverage_xml import parse_xml as reader
    elif kind == "json":
        from collectors.coverage_json import parse_coveragepy as reader
    else:
        from collectors.coverage_lcov import parse_lcov as reader
    try:
        report = reader(stream, where)
    except RecursionError:
        raise ReportError(where, None, "nested too deeply for a coverage report") from None
    return checked(report, where)


def detect(head: bytes, where: str = "report") -> str:
    """``xml``, ``json`` or ``lcov`` from a report's first bytes; raise :class:`ReportError` if none.

    XML is split into Cobertura and JaCoCo by its root element while it is parsed.
    """
    text = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    stripped = text.lstrip()
    line = text[: len(text) - len(stripped)].count(b"\n") + 1
    if not stripped:
        what = "empty file" if not head else "only blank lines"
        raise ReportError(where, line, f"{what}: not a coverage report (an interrupted upload or a failed test run?)")
    if stripped.startswith(b"<"):
        return "xml"
    if stripped.startswith((b"{", b"[")):
        return "json"
    if _LCOV_FIRST.match(stripped):
        return "lcov"
    if stripped.startswith(b"SQLite format 3"):
        raise ReportError(where, 1, "is coverage.py's data file (.coverage), not a report; "
                          "write one with `coverage xml`, `coverage json` or `coverage lcov`")
    if stripped.startswith(b"\x1f\x8b"):
        raise ReportError(where, 1, "is gzip-compressed; decompress it first")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ReportError(where, 1, "is UTF-16 encoded; write the report as UTF-8")
    first = stripped.split(b"\n", 1)[0][:60].decode("utf-8", "replace").strip()
    raise ReportError(where, line, f"not a coverage report: neither XML (Cobertura, JaCoCo), coverage.py JSON "
                      f"nor LCOV (first line {first!r})")
