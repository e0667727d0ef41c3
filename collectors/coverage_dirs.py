"""Coverage from a directory of reports, one per commit or build.

A report's time comes from the first of the source's ``time_from`` that gives one: its file name
(``pattern``, a regex with the named group ``time`` or ``commit``; a commit is resolved to its
committer time in ``repo``), a sidecar ``<report>.json`` (``{"time": ..., "commit": ...}``) or
the report's own timestamp. Times are read by the one reader (:func:`core.times.parse_time`) in
the source's ``timezone``, or by its ``time_format``. The state remembers each report's size and
modification time: a later run reads only new or changed reports; a report removed from the
directory keeps its observations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collectors.base import Progress, Replace
from collectors.coverage_history import Commits
from collectors.coverage_rows import SOURCE, SourceRun, add_reports, unreadable_report
from collectors.coverage_settings import STATE_VERSION, CoverageSourceSettings, zone_of
from core.errors import InputError
from core.times import parse_time

if TYPE_CHECKING:
    import pandas as pd

    from collectors.coverage_formats import Report

_SIDECAR_MAX = 1 << 20


def _listing(src: CoverageSourceSettings) -> list[Path]:
    """The reports in the source's directory: files matching ``files``, no hidden ones, no sidecars."""
    base = src.dir
    assert base is not None
    if not base.is_dir():
        what = "does not exist" if not base.exists() else "is not a directory"
        raise InputError(f"{src.scope}: report directory {str(base)!r} {what}")
    return sorted(p for p in base.glob(src.files) if p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(base).parts)
                  and not (p.suffix == ".json" and p.with_name(p.name[:-5]).is_file()))


def _sidecar(path: Path) -> tuple[dict[str, Any] | None, str]:
    import json

    side = path.with_name(path.name + ".json")
    if not side.is_file():
        return None, f"no sidecar {side.name}"
    try:
        with side.open("rb") as fh:
            raw = fh.read(_SIDECAR_MAX + 1)
        if len(raw) > _SIDECAR_MAX:
            return {}, f"sidecar {side} is larger than 1 MiB"
        doc = json.loads(raw)
    except (OSError, ValueError, RecursionError) as exc:
        return {}, f"sidecar {side} is not JSON ({type(exc).__name__ if isinstance(exc, RecursionError) else exc})"
    if not isinstance(doc, dict) or not ({"time", "commit"} & set(doc)):
        return {}, f"sidecar {side} has neither time nor commit"
    return doc, ""


def _report_time(path: Path, name: str, report: Report, src: CoverageSourceSettings, zone: tzinfo,
                 commits: Commits) -> tuple[pd.Timestamp | None, list[str]]:
    """The report's time by the first rule of ``time_from`` that gives one, else why none did."""
    why: list[str] = []
    for how in src.time_from:
        if how == "name":
            if not src.pattern:
                why.append("no pattern for the file name")
                continue
            m = re.search(src.pattern, name)
            if m is None:
                why.append(f"the name does not match the pattern {src.pattern}")
                continue
            got = m.groupdict()
            if got.get("commit"):
                ts, reason = commits.time(got["commit"])
                if ts is not None:
                    return ts, why
                why.append(reason)
            if got.get("time"):
                try:
                    return parse_time(got["time"], zone=zone, fmt=src.time_format), why
                except InputError as exc:
                    why.append(f"the time in the name: {exc}")
        elif how == "sidecar":
            doc, reason = _sidecar(path)
            if not doc:
                why.append(reason)
                continue
            if doc.get("commit"):
                ts, reason = commits.time(str(doc["commit"]))
                if ts is not None:
                    return ts, why
                why.append(reason)
            if doc.get("time") not in (None, ""):
                try:
                    return parse_time(str(doc["time"]), zone=zone), why
                except InputError as exc:
                    why.append(f"the sidecar's time: {exc}")
        elif report.timestamp is not None:
            try:
                return parse_time(report.timestamp, zone=zone), why
            except InputError:  # pandas' range ends in 2262
                why.append(f"the report's timestamp {report.timestamp.isoformat()} is out of range")
        else:
            why.append(f"the {report.format} report has no timestamp")
    return None, why


def collect_dir(src: CoverageSourceSettings, old: Mapping[str, Any] | None, progress: Progress | None,
                 timeout_s: float) -> tuple[SourceRun, dict[str, Any], str]:
    from collectors.coverage_formats import parse_file

    run = SourceRun()
    base = src.dir
    assert base is not None
    fp = src.fingerprint()
    full = not old or old.get("fingerprint") != fp
    if old and full:
        run.replaces = [Replace(s, SOURCE) for s in old.get("scopes", [])]
        run.notes.append(f"{src.scope}: the source's settings changed: every report in {base} is read again and "
                         "replaces what it stored")
    seen: dict[str, list] = {} if full else {k: list(v) for k, v in old.get("files", {}).items()}
    run.scopes = set() if full else set(old.get("scopes", []))
    paths = _listing(src)
    zone = zone_of(src.timezone)
    commits = Commits(src.repo, timeout_s)
    todo = []
    for path in paths:
        key = path.relative_to(base).as_posix()
        try:
            st = path.stat()
        except OSError:  # removed since it was listed: the next run sees it gone
            continue
        mark = [st.st_size, st.st_mtime_ns]
        before = seen.get(key)
        if before is not None and before[:2] == mark:
            continue
        todo.append((path, key, mark))
    got: list[tuple[pd.Timestamp, Any, str, Report]] = []
    try:
        for i, (path, key, mark) in enumerate(todo):
            if progress is not None:
                progress(f"coverage reports ({src.scope})", i, len(todo))
            try:
                report = parse_file(path)
            except Exception as exc:  # one report, whatever is wrong with it, must not cost the others
                run.failures.append(unreadable_report(exc, str(path)))
                seen[key] = [*mark, False]
                continue
            ts, why = _report_time(path, key, report, src, zone, commits)
            if ts is None:
                run.failures.append(f"{path}: no time for this report: {'; '.join(why)}; skipped")
                seen[key] = [*mark, False]
                continue
            got.append((ts, key, key, report))
            seen[key] = [*mark, True]
            run.read += 1
    finally:
        commits.close()
    if progress is not None and todo:
        progress(f"coverage reports ({src.scope})", len(todo), len(todo))
    add_reports(run, src, got)
    fresh = {key for _, key, _ in todo}
    unreadable = sum(1 for p in paths if (k := p.relative_to(base).as_posix()) not in fresh
                     and not seen.get(k, (0, 0, True))[2])
    state = {"v": STATE_VERSION, "kind": "dir", "fingerprint": fp, "files": seen, "scopes": sorted(run.scopes)}
    line = (f"{src.scope} ({base}): {run.read} report(s) read, {len(paths) - len(todo)} unchanged"
            + (f" ({unreadable} unreadable, reported before)" if unreadable else "")
            + (", full read" if full and old else ""))
    return run, state, line
