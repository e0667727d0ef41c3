"""The coverage collector: line and branch coverage from the reports CI writes.

Each configured source is one scope and one of two kinds:

- a **directory** of reports, one per commit or build (``dir:``). A report's time comes from
  the first of ``time_from`` that gives one: its file name (``pattern``, a regex with the named
  group ``time`` or ``commit``; a commit is resolved to its committer time in ``repo``), a
  sidecar ``<report>.json`` (``{"time": ..., "commit": ...}``) or the report's own timestamp.
  The state remembers each report's size and modification time: a later run reads only new
  or changed reports; a report removed from the directory keeps its observations.
- the **Git history** of a report committed to a repository (``repo:`` and ``file:``): every
  commit on the branch's first-parent chain that changed the file, read at that commit, at
  its committer time. The state remembers the last head read; a later run reads only the
  new commits, and a rewritten branch is read again whole.

Reports are read by :mod:`collectors.coverage_formats` (imported when a run needs it, so
``rca --help`` stays fast). A report that cannot be read is one line in
``Collected.failures`` and the others still land. Changing a source's settings re-reads it
whole and replaces what it stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from collectors import observations
from collectors.base import Collected, Collector, Progress, Replace, Section
from collectors.git_cmd import DEFAULT_TIMEOUT_S, GitError, Objects, failure, open_repo, resolve_branch
from collectors.git_log import commit_time
from collectors.git_rules import repo_label
from collectors.observations import InputError

if TYPE_CHECKING:  # pandas loads when rows are made: reading rca.yaml's settings needs none
    import pandas as pd

    from collectors.coverage_formats import Figures, Report

__all__ = ["COLLECTOR", "METRICS", "CoverageSettings", "CoverageSourceSettings", "collect", "report_rows"]

STATE_VERSION = 1  # bump when reading changes what a report yields: every source is then read again
SOURCE = "coverage"
METRICS: tuple[str, ...] = ("line_coverage_ratio", "covered_lines_count", "valid_lines_count",
                            "branch_coverage_ratio", "covered_branches_count", "valid_branches_count")
TimeFrom = Literal["name", "sidecar", "report"]
_HEX = re.compile(r"[0-9a-fA-F]{4,64}")
_SIDECAR_MAX = 1 << 20
log = logging.getLogger(__name__)


class CoverageSourceSettings(Section):
    """One source of reports: a directory (``dir``) or a report's Git history (``repo`` + ``file``)."""

    scope: str = Field(description="the scope its observations get (org/repo, a service...)")
    dir: Path | None = Field(default=None, description="a directory of reports, one per commit or build")
    files: str = Field(default="*", description="glob of the reports inside dir (** recurses); "
                                               "hidden files and <report>.json sidecars are never reports")
    pattern: str | None = Field(default=None, description="regex searched in a report's path relative to dir "
                                                          "(its name), with the named group time and/or commit")
    time_format: str | None = Field(default=None, description="strptime format of the time group; default "
                                                              "ISO 8601, YYYYMMDD[HHMMSS] or Unix seconds")
    time_from: tuple[TimeFrom, ...] = Field(default=("name", "sidecar", "report"),
                                            description="where a report's time comes from, in order of preference")
    timezone: str = Field(default="UTC", description="zone of times written without an offset (coverage.py "
                                                    "JSON's meta.timestamp is the local time where it ran)")
    repo: Path | None = Field(default=None, description="Git repository: the history to read (with file), or "
                                                        "where commits named by file names or sidecars are found")
    file: str | None = Field(default=None, description="path of the committed report inside repo")
    branch: str | None = Field(default=None, description="with file: branch to follow; default the checked-out one")
    since: datetime | None = Field(default=None, description="with file: commits committed from then on (UTC)")
    roots: tuple[str, ...] = Field(default=(), description="prefixes cut from the reports' file paths "
                                                         "(/home/runner/work/app/app/)")
    scopes: tuple[str, ...] = Field(default=(), description="path prefixes also measured as scopes SCOPE/PREFIX")
    per_file: bool = Field(default=False, description="also store each file's figures under SCOPE/PATH")

    @field_validator("scope")
    @classmethod
    def _scope(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("scope must not be empty")
        return v.strip()

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            groups = re.compile(v).groupindex
        except re.error as exc:
            raise ValueError(f"pattern {v!r} is not a regular expression: {exc}") from None
        if not {"time", "commit"} & set(groups):
            raise ValueError(f"pattern {v!r} needs a named group (?P<time>...) or (?P<commit>...)")
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        _zone_of(v)
        return v

    @field_validator("time_from")
    @classmethod
    def _time_from(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v or len(set(v)) != len(v):
            raise ValueError("time_from lists name, sidecar and/or report, each at most once")
        return v

    @field_validator("roots", "scopes")
    @classmethod
    def _prefixes(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(p.replace("\\", "/") for p in v if p.strip())

    @model_validator(mode="after")
    def _kind(self) -> CoverageSourceSettings:
        if (self.dir is None) == (self.file is None):
            raise ValueError(f"coverage source {self.scope!r} needs either dir (a directory of reports) or "
                             "repo and file (a report committed to Git)")
        if self.file is not None:
            if self.repo is None:
                raise ValueError(f"coverage source {self.scope!r}: file {self.file!r} needs repo, the repository "
                                 "it is committed to")
            if "\n" in self.file or not self.file.strip("/"):
                raise ValueError(f"coverage source {self.scope!r}: file must be a path inside the repository")
        if self.pattern and "commit" in re.compile(self.pattern).groupindex and self.repo is None:
            raise ValueError(f"coverage source {self.scope!r}: pattern has a commit group, which needs repo to "
                             "look the commit's time up")
        return self

    @property
    def kind(self) -> str:
        return "dir" if self.dir is not None else "git"

    def fingerprint(self) -> str:
        """What the stored rows depend on: changing any of it re-reads the source whole."""
        text = f"{STATE_VERSION}:{self.model_dump_json()}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class CoverageSettings(Section):
    """The ``coverage:`` section: where coverage reports come from."""

    sources: tuple[CoverageSourceSettings, ...] = ()
    git_timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0, description="a git command that prints nothing "
                                 "for this long is stopped: a hung or hostile repository cannot hold a run")

    @property
    def configured(self) -> bool:
        return bool(self.sources)

    @model_validator(mode="after")
    def _unique_scopes(self) -> CoverageSettings:
        scopes = [s.scope for s in self.sources]
        dup = sorted({x for x in scopes if scopes.count(x) > 1})
        if dup:
            raise ValueError(f"coverage sources share the scope(s) {dup}; give each source its own scope")
        return self


def _zone_of(name: str) -> tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as UTC or Europe/Berlin") from None


# --- observation rows ----------------------------------------------------------------------------

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


def _frame(rows: list[tuple[pd.Timestamp, str, str, float]]) -> pd.DataFrame:
    import pandas as pd

    if not rows:
        return observations.empty()
    ts, scope, metric, value = zip(*rows, strict=True)
    return pd.DataFrame({"ts": pd.to_datetime(list(ts), utc=True), "scope": list(scope), "metric": list(metric),
                         "value": pd.Series(value, dtype="float64"), "source": SOURCE})


# --- times -----------------------------------------------------------------------------------------

def _utc(value: datetime | pd.Timestamp, zone: tzinfo) -> pd.Timestamp:
    import pandas as pd

    ts = pd.Timestamp(value)
    return ts.tz_localize(zone).tz_convert("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _parse_time(text: str, fmt: str | None, zone: tzinfo) -> pd.Timestamp:
    """A time written in a file name or a sidecar; raise ValueError if it is none."""
    import pandas as pd

    text = str(text).strip()
    if fmt:
        return _utc(datetime.strptime(text, fmt), zone)
    if text.isdigit():
        if len(text) == 8:
            return _utc(datetime.strptime(text, "%Y%m%d"), zone)
        if len(text) == 14:
            return _utc(datetime.strptime(text, "%Y%m%d%H%M%S"), zone)
        if len(text) == 13:
            return pd.Timestamp(int(text), unit="ms", tz="UTC")
        return pd.Timestamp(int(text), unit="s", tz="UTC")
    if re.fullmatch(r"\d+\.\d*", text):  # Unix seconds with a fraction (a JSON number)
        return pd.Timestamp(float(text), unit="s", tz="UTC")
    try:
        ts = pd.Timestamp(text)
    except (ValueError, OverflowError) as exc:
        raise ValueError(str(exc)) from None
    if ts is pd.NaT or pd.isna(ts):
        raise ValueError("empty time")
    return _utc(ts, zone)


class _Commits:
    """Commit times looked up in one repository through one long-lived ``git cat-file --batch``."""

    def __init__(self, path: Path | None, timeout_s: float) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self.stack = contextlib.ExitStack()
        self.objects: Objects | None = None
        self.error: str | None = None
        self.cache: dict[str, pd.Timestamp | None] = {}

    def time(self, sha: str) -> tuple[pd.Timestamp | None, str]:
        """The commit's committer time, or None and why not."""
        if self.path is None:
            return None, f"commit {sha} needs repo to look its time up"
        if not _HEX.fullmatch(sha):
            return None, f"{sha!r} is not a commit sha"
        if self.objects is None and self.error is None:
            try:
                self.objects = self.stack.enter_context(open_repo(self.path, self.timeout_s).objects())
            except InputError as exc:
                self.error = str(exc)
        if self.error is not None:
            return None, self.error
        if sha not in self.cache:
            self.cache[sha] = _commit_time(self.objects, sha)
        found = self.cache[sha]
        return found, "" if found is not None else f"commit {sha} is not in {self.path} (fetch it?)"

    def close(self) -> None:
        self.stack.close()


def _commit_time(objects: Objects, rev: str) -> pd.Timestamp | None:
    import pandas as pd

    got = objects.read(f"{rev}^{{commit}}")
    if got is None:  # missing or ambiguous
        return None
    for line in got[1].read().split(b"\n"):
        if line.startswith(b"committer "):
            seconds = commit_time(line.rsplit(b" ", 2)[1]) if line.count(b" ") >= 2 else -1
            return pd.Timestamp(seconds, unit="s", tz="UTC") if seconds >= 0 else None
        if not line:
            break
    return None


def _unreadable(exc: Exception, where: str) -> str:
    """The failure line of a report that could not be read. A :class:`ReportError` says what is wrong
    with the report; anything else is a fault of ours on it, logged with its traceback once."""
    from collectors.coverage_formats import ReportError

    if isinstance(exc, ReportError):
        return f"{exc}; skipped"
    log.error("reading the coverage report %s failed", where, exc_info=exc)
    first = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{where}: could not be read ({type(exc).__name__}{': ' + first if first else ''}); skipped"


# --- a directory of reports --------------------------------------------------------------------------

@dataclass
class _Run:
    """What one source's run gathered."""

    rows: list[tuple[pd.Timestamp, str, str, float]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    replaces: list[Replace] = field(default_factory=list)
    scopes: set[str] = field(default_factory=set)
    read: int = 0


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
                 commits: _Commits) -> tuple[pd.Timestamp | None, list[str]]:
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
                    return _parse_time(got["time"], src.time_format, zone), why
                except ValueError as exc:
                    why.append(f"{got['time']!r} in the name is not a time ({exc})")
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
                    return _parse_time(str(doc["time"]), None, zone), why
                except ValueError as exc:
                    why.append(f"sidecar time {doc['time']!r} is not a time ({exc})")
        elif report.timestamp is not None:
            try:
                return _utc(report.timestamp, zone), why
            except (ValueError, OverflowError):  # pandas' range ends in 2262
                why.append(f"the report's timestamp {report.timestamp.isoformat()} is out of range")
        else:
            why.append(f"the {report.format} report has no timestamp")
    return None, why


def _collect_dir(src: CoverageSourceSettings, old: Mapping[str, Any] | None, progress: Progress | None,
                 timeout_s: float) -> tuple[_Run, dict[str, Any], str]:
    from collectors.coverage_formats import parse_file

    run = _Run()
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
    zone = _zone_of(src.timezone)
    commits = _Commits(src.repo, timeout_s)
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
                run.failures.append(_unreadable(exc, str(path)))
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
    _add_reports(run, src, got)
    fresh = {key for _, key, _ in todo}
    unreadable = sum(1 for p in paths if (k := p.relative_to(base).as_posix()) not in fresh
                     and not seen.get(k, (0, 0, True))[2])
    state = {"v": STATE_VERSION, "kind": "dir", "fingerprint": fp, "files": seen, "scopes": sorted(run.scopes)}
    line = (f"{src.scope} ({base}): {run.read} report(s) read, {len(paths) - len(todo)} unchanged"
            + (f" ({unreadable} unreadable, reported before)" if unreadable else "")
            + (", full read" if full and old else ""))
    return run, state, line


def _add_reports(run: _Run, src: CoverageSourceSettings, got: Iterable[tuple[pd.Timestamp, Any, str, Report]]
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


# --- the Git history of a committed report --------------------------------------------------------------

def _collect_git(src: CoverageSourceSettings, old: Mapping[str, Any] | None, progress: Progress | None,
                 timeout_s: float) -> tuple[_Run, dict[str, Any], str]:
    import pandas as pd

    from collectors.coverage_formats import parse

    assert src.repo is not None and src.file is not None
    run = _Run()
    fp = src.fingerprint()
    file = src.file.strip("/")
    label = repo_label(src.repo)
    repo = open_repo(src.repo, timeout_s)
    try:
        branch, tip = resolve_branch(repo, src.branch, str(src.repo))
        head = old.get("head") if old else None
        full = (not old or old.get("fingerprint") != fp or not head or not _HEX.fullmatch(str(head))
                or not repo.ok("merge-base", "--is-ancestor", head, tip))
        if old and full:
            run.replaces = [Replace(s, SOURCE) for s in old.get("scopes", [])]
            why = "settings changed" if old.get("fingerprint") != fp else f"{branch} was rewritten"
            run.notes.append(f"{src.scope}: {why}: the history of {file} is read again whole")
        run.scopes = set() if full else set(old.get("scopes", []))
        rev = tip if full else f"{head}..{tip}"
        since = () if src.since is None else (f"--since={_utc(src.since, UTC).isoformat()}",)
        out = repo.run("log", "--first-parent", "--format=%H %ct", *since, rev, "--", file)
        commits = [(sha.decode(), commit_time(ct)) for sha, _, ct in
                   (line.partition(b" ") for line in reversed(out.splitlines()) if line.strip())]
        odd = [sha for sha, ct in commits if ct < 0]
        if odd:
            run.failures.append(f"{label}: {len(odd)} commit(s) with a commit time Git cannot read or past 2200 "
                                f"(first: {odd[0][:12]}); skipped")
        got: list[tuple[pd.Timestamp, Any, str, Report]] = []
        gone = 0
        with repo.objects() as objects:
            for i, (sha, ct) in enumerate(commits):
                if ct < 0:
                    continue
                if progress is not None and i % 50 == 0:
                    progress(f"coverage history ({src.scope})", i, len(commits))
                where = f"{label}@{sha[:12]}:{file}"
                blob = objects.read(f"{sha}:{file}")
                if blob is None:  # the commit deleted the report
                    gone += 1
                    continue
                kind, content = blob
                with content:
                    if kind != "blob":
                        run.failures.append(f"{where}: is a {kind}, not a file; skipped")
                        continue
                    try:
                        report = parse(content, where)
                    except Exception as exc:  # as for a directory's reports
                        run.failures.append(_unreadable(exc, where))
                        continue
                got.append((pd.Timestamp(ct, unit="s", tz="UTC"), i, sha[:12], report))
                run.read += 1
        if progress is not None:
            progress(f"coverage history ({src.scope})", len(commits), len(commits))
    except GitError as exc:
        raise InputError(f"{src.scope}: git failed on {str(src.repo)!r}: {failure(exc)}") from None
    _add_reports(run, src, got)
    state = {"v": STATE_VERSION, "kind": "git", "fingerprint": fp, "head": tip, "scopes": sorted(run.scopes)}
    line = (f"{src.scope} ({src.repo} {branch}:{file} @ {tip[:12]}): {run.read} commit(s) read"
            + (f", {gone} deleting the report" if gone else "") + (", full read" if full else ", incremental"))
    return run, state, line


# --- the collector seam ------------------------------------------------------------------------------------

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
            run, st, line = (_collect_dir if src.kind == "dir" else _collect_git)(src, old, progress,
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
    return Collected(observations=_frame(rows), replaces=tuple(replaces), state=new_state, lines=tuple(lines),
                     units=units, notes=tuple(notes), failures=tuple(failures))


COLLECTOR: Collector[CoverageSettings] = Collector("coverage", CoverageSettings, collect)
