"""Coverage from Git: the history of a report committed to a repository, and commit times looked up.

:func:`collect_history` reads every commit on the branch's first-parent chain that changed the
report, at that commit, at its committer time. The state remembers the last head read; a later
run reads only the new commits, and a rewritten branch (or changed settings) is read again whole.
:class:`Commits` looks up the committer time of a commit a report's name or sidecar names,
through one long-lived ``git cat-file --batch``. Git runs through the one hardened runner
(:mod:`collectors.git_cmd`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collectors.base import Progress, Replace
from collectors.coverage_rows import SOURCE, SourceRun, add_reports, unreadable_report
from collectors.coverage_settings import STATE_VERSION, CoverageSourceSettings
from collectors.git_cmd import GitError, Objects, failure, open_repo, resolve_branch
from collectors.git_log import commit_time
from collectors.git_rules import repo_label
from core.errors import InputError
from core.times import parse_time

if TYPE_CHECKING:
    import pandas as pd

    from collectors.coverage_formats import Report

HEX = re.compile(r"[0-9a-fA-F]{4,64}")


class Commits:
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
        if not HEX.fullmatch(sha):
            return None, f"{sha!r} is not a commit sha"
        if self.objects is None and self.error is None:
            try:
                self.objects = self.stack.enter_context(open_repo(self.path, self.timeout_s).objects())
            except InputError as exc:
                self.error = str(exc)
        if self.error is not None:
            return None, self.error
        if sha not in self.cache:
            self.cache[sha] = commit_time_of(self.objects, sha)
        found = self.cache[sha]
        return found, "" if found is not None else f"commit {sha} is not in {self.path} (fetch it?)"

    def close(self) -> None:
        self.stack.close()


def commit_time_of(objects: Objects, rev: str) -> pd.Timestamp | None:
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


def collect_history(src: CoverageSourceSettings, old: Mapping[str, Any] | None, progress: Progress | None,
                 timeout_s: float) -> tuple[SourceRun, dict[str, Any], str]:
    import pandas as pd

    from collectors.coverage_formats import parse

    assert src.repo is not None and src.file is not None
    run = SourceRun()
    fp = src.fingerprint()
    file = src.file.strip("/")
    label = repo_label(src.repo)
    repo = open_repo(src.repo, timeout_s)
    try:
        branch, tip = resolve_branch(repo, src.branch, str(src.repo))
        head = old.get("head") if old else None
        full = (not old or old.get("fingerprint") != fp or not head or not HEX.fullmatch(str(head))
                or not repo.ok("merge-base", "--is-ancestor", head, tip))
        if old and full:
            run.replaces = [Replace(s, SOURCE) for s in old.get("scopes", [])]
            why = "settings changed" if old.get("fingerprint") != fp else f"{branch} was rewritten"
            run.notes.append(f"{src.scope}: {why}: the history of {file} is read again whole")
        run.scopes = set() if full else set(old.get("scopes", []))
        rev = tip if full else f"{head}..{tip}"
        since = () if src.since is None else (f"--since={parse_time(src.since).isoformat()}",)
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
                        run.failures.append(unreadable_report(exc, where))
                        continue
                got.append((pd.Timestamp(ct, unit="s", tz="UTC"), i, sha[:12], report))
                run.read += 1
        if progress is not None:
            progress(f"coverage history ({src.scope})", len(commits), len(commits))
    except GitError as exc:
        raise InputError(f"{src.scope}: git failed on {str(src.repo)!r}: {failure(exc)}") from None
    add_reports(run, src, got)
    state = {"v": STATE_VERSION, "kind": "git", "fingerprint": fp, "head": tip, "scopes": sorted(run.scopes)}
    line = (f"{src.scope} ({src.repo} {branch}:{file} @ {tip[:12]}): {run.read} commit(s) read"
            + (f", {gone} deleting the report" if gone else "") + (", full read" if full else ", incremental"))
    return run, state, line
