"""The Git collector's weekly drivers (releases, reverts, merge size, fix lag) on real repositories built here,
each against what `git` itself says."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from collectors.git import GitRules, RepoSpec, collect_repo
from tests.git_repos import Repo, day

WEEK = pd.Timedelta(days=7)


def _week(n: int) -> pd.Timestamp:
    return pd.Timestamp("2024-01-01", tz="UTC") + n * WEEK


def _weekly(res, scope: str | None = None) -> pd.DataFrame:
    obs = res.observations
    if scope is not None:
        obs = obs[obs.scope == scope]
    return obs.pivot_table(index="ts", columns="metric", values="value")


def _lines(n: int, tag: str) -> str:
    return "".join(f"{tag} line {i}\n" for i in range(n))


def _tag(r: Repo, name: str, rev: str, when: str | None = None) -> None:
    """A lightweight tag (``when`` None: dated by its commit) or an annotated one dated ``when``."""
    if when is None:
        r.git("tag", name, rev)
    else:
        r.git("tag", "-a", "-m", name, name, rev, env={"GIT_COMMITTER_DATE": when})


def test_releases_count_reachable_tags_by_their_date_and_weeks_since_follow(tmp_path: Path) -> None:
    r = Repo(tmp_path / "rel")
    c0 = r.commit("feat: start", {"a.py": "a\n"}, when=day(0))
    r.commit("feat: more", {"a.py": "b\n"}, when=day(8))
    c2 = r.commit("feat: again", {"a.py": "c\n"}, when=day(9))
    r.commit("feat: week 3", {"a.py": "d\n"}, when=day(15))
    r.commit("feat: week 5", {"a.py": "e\n"}, when=day(29))
    r.commit("feat: week 6", {"a.py": "f\n"}, when=day(36))
    _tag(r, "v0.1", c0)                       # lightweight: its commit's week (week 0)
    _tag(r, "v0.2", c2, when=day(16))         # annotated: its tagger date's week (week 2), not its commit's
    _tag(r, "v0.2.1", c2, when=day(17))       # a second release the same week
    r.git("checkout", "-q", "-b", "side")
    side = r.commit("feat: never merged", {"s.py": "s\n"}, when=day(20))
    _tag(r, "v9-side", side)                  # not reachable from main: no release of main
    r.git("checkout", "-q", "main")
    res = collect_repo(RepoSpec(r.path, "svc"), GitRules())
    w = _weekly(res)
    # git's own view: the tags merged into main, by creator date
    dates = r.git("for-each-ref", "--merged=main", "--format=%(refname:short) %(creatordate:unix)", "refs/tags")
    assert sorted(line.split()[0] for line in dates.splitlines()) == ["v0.1", "v0.2", "v0.2.1"]
    assert w.release_count.to_dict() == {_week(0): 1, _week(1): 0, _week(2): 2, _week(4): 0, _week(5): 0}
    # weeks since the latest release before the bucket (week 0: from the history's start); week 2 is 2 after week 0
    assert w.weeks_since_release.to_dict() == {_week(0): 0, _week(1): 1, _week(2): 2, _week(4): 2, _week(5): 3}
    # a release tagged later (a new tag on an old commit) changes the weeks since release from its week on
    _tag(r, "v0.3", c2, when=day(30))  # week 4
    again = collect_repo(RepoSpec(r.path, "svc"), GitRules(), state=res.state)
    w2 = _weekly(again)
    assert sorted(w2.index) == [_week(4), _week(5)] and not again.full_read
    assert w2.release_count.to_dict() == {_week(4): 1, _week(5): 0}
    assert w2.weeks_since_release.to_dict() == {_week(4): 2, _week(5): 1}
    full = _weekly(collect_repo(RepoSpec(r.path, "svc"), GitRules()))
    assert full.loc[[_week(4), _week(5)], ["release_count", "weeks_since_release"]].equals(
        w2[["release_count", "weeks_since_release"]])


def test_without_a_tag_the_weeks_without_a_release_run_from_the_first_commit(tmp_path: Path) -> None:
    r = Repo(tmp_path / "none")
    r.commit("feat: start", {"a.py": "a\n"}, when=day(2))
    r.commit("feat: later", {"a.py": "b\n"}, when=day(22))
    w = _weekly(collect_repo(RepoSpec(r.path, "svc"), GitRules()))
    assert w.release_count.tolist() == [0, 0] and w.weeks_since_release.tolist() == [0, 3]


def test_revert_ratio_counts_revert_commits_not_merges(tmp_path: Path) -> None:
    r = Repo(tmp_path / "rev")
    bad = r.commit("feat: cache", {"a.py": "a\nb\n"}, when=day(0))
    r.commit("feat: other", {"b.py": "b\n"}, when=day(1))
    r.git("revert", "--no-edit", bad, env={"GIT_AUTHOR_DATE": day(2), "GIT_COMMITTER_DATE": day(2)})
    r.commit('Revert "feat: other" (#12)', {"b.py": None}, when=day(3))  # a squash-merged revert: subject only
    r.commit("feat: revert-proof parser", {"c.py": "c\n"}, when=day(8))  # the word alone is no revert
    r.git("checkout", "-q", "-b", "revert-branch")
    r.commit("feat: on a branch", {"d.py": "d\n"}, when=day(9))
    r.git("checkout", "-q", "main")
    r.merge("revert-branch", 'Merge pull request #3 from x/revert-branch\n\nRevert "feat: cache"', when=day(10))
    res = collect_repo(RepoSpec(r.path, "svc"), GitRules())
    w = _weekly(res)
    log = r.git("log", "--no-merges", "--format=%H %s", "--grep=This reverts commit", "--grep=^Revert \"")
    assert len(log.splitlines()) == 2  # what git finds: the two revert commits, no merge
    assert w.loc[_week(0), "revert_commits_count"] == 2 and w.loc[_week(0), "revert_commit_ratio"] == 0.5
    assert w.loc[_week(1), "revert_commits_count"] == 0 and w.loc[_week(1), "revert_commit_ratio"] == 0


def test_merge_size_is_what_each_first_parent_merge_brought_in(tmp_path: Path) -> None:
    r = Repo(tmp_path / "merge")
    r.commit("feat: base", {"app/a.py": "a\n", "doc/x.md": "x\n"}, when=day(0))
    r.git("checkout", "-q", "-b", "big")
    r.commit("feat: one", {"app/b.py": _lines(10, "b")}, when=day(1))
    r.commit("feat: two", {"app/b.py": _lines(4, "b"), "doc/y.md": _lines(3, "y")}, when=day(1, 14))
    r.commit("feat: three", {"doc/z.md": _lines(5, "z")}, when=day(2))
    r.git("checkout", "-q", "main")
    big = r.merge("big", "Merge big", when=day(2, 16))
    r.git("checkout", "-q", "-b", "small")
    r.commit("feat: tiny", {"app/c.py": _lines(2, "c")}, when=day(3))
    r.git("checkout", "-q", "main")
    small = r.merge("small", "Merge small", when=day(3, 16))
    r.git("checkout", "-q", "-b", "later")
    r.commit("feat: later", {"app/d.py": _lines(7, "d")}, when=day(8))
    r.git("checkout", "-q", "main")
    r.merge("later", "Merge later", when=day(9))
    res = collect_repo(RepoSpec(r.path, "svc", scopes=("app",)), GitRules())

    def brought(m: str, path: str = "") -> tuple[int, int]:  # git's own view: P1..P2, its numstat lines
        rng = f"{m}^1..{m}^2"
        commits = r.git("rev-list", rng, *(["--", path] if path else [])).split()
        stat = r.git("log", "--numstat", "--format=", rng, *(["--", path] if path else []))
        lines = sum(int(a) + int(d) for a, d, _ in (x.split("\t") for x in stat.splitlines() if x.strip()))
        return len(commits), lines

    assert brought(big) == (3, 10 + 9 + 5) and brought(small) == (1, 2)  # two: b.py keeps 4 of its 10 lines (6 gone), y +3
    w = _weekly(res, "svc")
    assert w.loc[_week(0), "median_merge_size_commits"] == (3 + 1) / 2
    assert w.loc[_week(0), "median_merge_size_lines"] == (24 + 2) / 2
    assert w.loc[_week(1), ["median_merge_size_commits", "median_merge_size_lines"]].tolist() == [1, 7]
    app = _weekly(res, "svc/app")  # a scope counts the merged commits that touch it, and their lines under it
    assert brought(big, "app") == (2, 16)
    assert app.loc[_week(0), "median_merge_size_commits"] == (2 + 1) / 2
    assert app.loc[_week(0), "median_merge_size_lines"] == (16 + 2) / 2


def test_fix_lag_is_per_fix_to_the_latest_commit_it_blames(tmp_path: Path) -> None:
    r = Repo(tmp_path / "lag")
    r.commit("feat: old", {"a.py": "one = 1\ntwo = 2\n", "b.py": "x = 1\n"}, when=day(0))
    r.commit("feat: newer", {"a.py": "one = 1\ntwo = 22\n"}, when=day(10))
    r.commit("feat: c", {"c.py": "c = 1\n"}, when=day(12))
    fix1 = r.commit("fix: both lines", {"a.py": "one = 11\ntwo = 222\n"}, when=day(14))  # blames day 0 and day 10
    r.commit("fix: b", {"b.py": "x = 2\n"}, when=day(16))                                # blames day 0
    r.commit("fix: c", {"c.py": "c = 2\n"}, when=day(20))                                # blames day 12
    res = collect_repo(RepoSpec(r.path, "svc"), GitRules())
    blamed = r.git("blame", "--porcelain", f"{fix1}^", "--", "a.py")
    times = sorted({int(x.split()[1]) for x in blamed.splitlines() if x.startswith("author-time ")})
    fix_time = int(r.git("log", "-1", "--format=%at", fix1))
    assert fix_time - times[-1] == 4 * 86_400  # the latest blamed commit is 4 days older
    w = _weekly(res)
    # week 2 (days 14-20): fix 1 lags 4 days (not 14: its older line is not the latest), "fix: b" 16, "fix: c" 8
    assert w.loc[_week(2), "median_fix_lag_seconds"] == 8 * 86_400
    # the per-pair median (time to fix) weighs fix 1 twice: 4, 14, 16, 8 days
    assert w.loc[_week(2), "time_to_fix_seconds"] == 11 * 86_400


@pytest.mark.parametrize("bucket", ["day"])
def test_day_buckets_give_weeks_since_release_in_weeks(tmp_path: Path, bucket: str) -> None:
    r = Repo(tmp_path / "days")
    c0 = r.commit("feat: start", {"a.py": "a\n"}, when=day(0))
    r.commit("feat: later", {"a.py": "b\n"}, when=day(3))
    _tag(r, "v1", c0)
    w = _weekly(collect_repo(RepoSpec(r.path, "svc"), GitRules(bucket=bucket)))
    assert w.weeks_since_release.tolist() == [0, pytest.approx(3 / 7)]
