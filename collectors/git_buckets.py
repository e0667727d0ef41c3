"""Per-bucket summaries of commits, mergeable across incremental runs, and the metrics made from them.

A summary per (scope, bucket start) holds sums and the few value lists a median needs, as
plain JSON-able values, so an incremental run adds its new commits (and newly found
bug-introducing commits) to what earlier runs saw and re-emits only the buckets it touched.
Buckets start at 00:00 UTC (days) or Monday 00:00 UTC (weeks), by committer time. Release figures
come from the repository's release buckets (its tags), given when the rows are made, not from the
summaries: a tag can arrive without a commit.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# Metrics a bucket's later history still changes: SZZ finds a commit bug-introducing only when a later fix
# blames it, so the latest buckets read low until their bugs are fixed. Analyses leave those buckets out
# (the "settling" ones); ``time_to_fix_seconds``, the lag from introducing to fixing, says for how long.
SETTLING_METRICS: tuple[str, ...] = ("bug_introducing_commits_count", "bug_introducing_commit_ratio")
SETTLING_LAG_METRIC = "time_to_fix_seconds"

WEEK_SECONDS = 7 * 86_400

Summary = dict[str, Any]
Summaries = dict[str, dict[str, Summary]]  # scope -> str(bucket start, Unix seconds) -> summary


def new_summary() -> Summary:
    return {"n": 0, "merges": 0, "added": 0, "deleted": 0, "files": 0, "test": 0, "sizes": [], "authors": [],
            "newcomers": 0, "known": 0, "fixes": 0, "bic": 0, "ttf": [], "lead": [], "reverts": 0,
            "merge_commits": [], "merge_lines": [], "fix_lag": []}


def get(summaries: Summaries, scope: str, bucket: int, touched: set[tuple[str, str]]) -> Summary:
    key = str(bucket)
    touched.add((scope, key))
    return summaries.setdefault(scope, {}).setdefault(key, new_summary())


def add_commit(s: Summary, *, author: str, added: int, deleted: int, files: int, test: int,
               newcomer: bool | None, fix: bool, revert: bool = False) -> None:
    s["n"] += 1
    s["added"] += added
    s["deleted"] += deleted
    s["files"] += files
    s["test"] += test
    s["sizes"].append(added + deleted)
    if author not in s["authors"]:
        s["authors"].append(author)
    if newcomer is not None:
        s["known"] += 1
        s["newcomers"] += int(newcomer)
    s["fixes"] += int(fix)
    s["reverts"] += int(revert)


def add_merge(s: Summary, *, lead: int, commits: int, lines: int) -> None:
    """A first-parent merge: its lead time and its size (the commits it brought in, and their lines)."""
    s["merges"] += 1
    s["lead"].append(lead)
    s["merge_commits"].append(commits)
    s["merge_lines"].append(lines)


def _metrics(s: Summary, szz: bool, since_release: float, releases: int) -> Iterable[tuple[str, float]]:
    n = s["n"]
    churn = s["added"] + s["deleted"]
    yield "commits_count", n
    yield "merge_commits_count", s["merges"]
    if s["lead"]:
        yield "lead_time_seconds", statistics.median(s["lead"])
    if s.get("merge_commits"):
        yield "median_merge_size_commits", statistics.median(s["merge_commits"])
        yield "median_merge_size_lines", statistics.median(s["merge_lines"])
    yield "release_count", releases
    yield "weeks_since_release", since_release
    if n == 0:
        return
    yield "churn_lines", churn
    yield "added_lines", s["added"]
    yield "deleted_lines", s["deleted"]
    yield "median_change_size_lines", statistics.median(s["sizes"])
    yield "files_per_commit", s["files"] / n
    yield "active_authors_count", len(s["authors"])
    if s["known"]:
        yield "newcomer_commit_ratio", s["newcomers"] / s["known"]
    yield "test_churn_lines", s["test"]
    if churn:
        yield "test_churn_ratio", s["test"] / churn
    yield "bug_fix_commits_count", s["fixes"]
    yield "bug_fix_commit_ratio", s["fixes"] / n
    yield "revert_commits_count", s.get("reverts", 0)
    yield "revert_commit_ratio", s.get("reverts", 0) / n
    if szz:
        yield "bug_introducing_commits_count", s["bic"]
        yield "bug_introducing_commit_ratio", s["bic"] / n
    if s["ttf"]:
        yield "time_to_fix_seconds", statistics.median(s["ttf"])
    if s.get("fix_lag"):
        yield "median_fix_lag_seconds", statistics.median(s["fix_lag"])


def release_figures(bucket: int, releases: Sequence[int], origin: int) -> tuple[float, int]:
    """(weeks without a release up to ``bucket``, releases in ``bucket``), from the sorted bucket starts of every
    release (one entry per release) and the history's first bucket ``origin``.

    The weeks run from the latest release bucket before this one, or from the history's first bucket when
    none came before (a repository that never tags has gone that long without a release). They look only
    at earlier buckets, so they are settled when the bucket starts: a driver of what happens in it (a
    release among them), not a restatement of this bucket's own release."""
    before = bisect.bisect_left(releases, bucket)
    count = bisect.bisect_right(releases, bucket) - before
    last = releases[before - 1] if before else min(origin, bucket)
    return (bucket - last) / WEEK_SECONDS, count


def observation_rows(summaries: Summaries, keys: Iterable[tuple[str, str]], *, szz: bool,
                     releases: Sequence[int] = ()) -> list[tuple[int, str, str, float]]:
    """The observation rows ``(bucket start in Unix seconds, scope, metric, value)`` (source ``git``)
    for the given (scope, bucket) keys, in order; ``releases`` are the sorted bucket starts of the
    repository's releases (one per release)."""
    out = []
    origin = min((int(k) for buckets in summaries.values() for k in buckets), default=0)  # the history's first bucket
    for sc, key in sorted(keys):
        since, count = release_figures(int(key), releases, origin)
        out.extend((int(key), sc, name, float(v)) for name, v in _metrics(summaries[sc][key], szz, since, count))
    return out


def frame(rows: list[tuple[int, str, str, float]]) -> pd.DataFrame:
    """Observation rows as the observation table."""
    import pandas as pd

    return pd.DataFrame({
        "ts": pd.to_datetime(pd.Series([r[0] for r in rows], dtype="int64"), unit="s", utc=True),
        "scope": pd.Series([r[1] for r in rows], dtype="object"),
        "metric": pd.Series([r[2] for r in rows], dtype="object"),
        "value": pd.Series([r[3] for r in rows], dtype="float64"),
        "source": pd.Series(["git"] * len(rows), dtype="object"),
    })


def observations(summaries: Summaries, keys: Iterable[tuple[str, str]], *, szz: bool,
                 releases: Sequence[int] = ()) -> pd.DataFrame:
    """The observation table (source ``git``) for the given (scope, bucket) keys."""
    return frame(observation_rows(summaries, keys, szz=szz, releases=releases))
