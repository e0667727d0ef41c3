"""The report files under ``reports.out_dir``, as a face may serve them: listed, looked up, never outside.

Only files inside the reports folder (after following any links) of the kinds a report is written
in (:data:`REPORT_TYPES`) are ever listed or served: a name that climbs out (``../``), a link to a
file elsewhere, or a stored report path edited to name any other file gives nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rca.config import Settings

if TYPE_CHECKING:
    from rca.records import InvestigationRecord

REPORT_TYPES = {".html": "text/html; charset=utf-8", ".md": "text/markdown; charset=utf-8",
                ".json": "application/json", ".png": "image/png", ".svg": "image/svg+xml",
                ".jsonl": "application/x-ndjson"}


@dataclass(frozen=True)
class ReportFile:
    """One report file: its name under the reports folder (``/``-separated), size and media type."""

    name: str
    bytes: int
    media_type: str


def reports_dir(settings: Settings) -> Path:
    return Path(settings.reports.out_dir)


def list_reports(settings: Settings, limit: int = 100) -> list[ReportFile]:
    """The report files, newest first."""
    root = reports_dir(settings)
    if not root.is_dir():
        return []
    found = []
    for p in root.rglob("*"):
        if p.suffix in REPORT_TYPES and inside(root, p) is not None:  # no link to a file elsewhere
            found.append((p.lstat().st_mtime, p))
    found.sort(key=lambda x: x[0], reverse=True)
    return [ReportFile(p.relative_to(root).as_posix(), p.stat().st_size, REPORT_TYPES[p.suffix])
            for _, p in found[:limit]]


def report_file(settings: Settings, name: str) -> tuple[Path, str] | None:
    """The file ``name`` under the reports folder and its media type, or None."""
    root = reports_dir(settings)
    path = inside(root, root / name) if _sane_name(name) else None
    if path is None or path.suffix not in REPORT_TYPES:
        return None
    return path, REPORT_TYPES[path.suffix]


def question_report(settings: Settings, record: InvestigationRecord) -> str | None:
    """The HTML report of an answered question, or None when it is gone from the reports folder. The stored
    path is only trusted to name a file inside the folder: a row edited to name any other file gives None."""
    path = inside(reports_dir(settings), record.report_path or "")
    if path is None or path.suffix != ".html":
        return None
    return path.read_text(encoding="utf-8")


def _sane_name(name: str) -> bool:
    """A report name the file system can look up at all: no NUL, no part longer than a file name may be."""
    return "\x00" not in name and len(name) <= 1024 and all(len(part) <= 255 for part in name.split("/"))


def inside(root: Path, path: str | Path) -> Path | None:
    """``path`` resolved, if it is a file inside ``root`` (after following any links); else None."""
    try:
        real = Path(path).resolve()
        return real if real.is_relative_to(root.resolve()) and real.is_file() else None
    except (OSError, ValueError, RuntimeError):  # too long, a NUL, a loop of links
        return None
