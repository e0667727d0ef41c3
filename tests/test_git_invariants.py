"""Invariants of the Git collector's figures on messy generated histories (merges, squashes,
reverts of commits that never landed, clock skew): whatever the history, no bucket counts more
bug-introducing commits or fixes than commits, and only commits on the followed branch are ever
bug-introducing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from collectors import git_buckets as gb
from collectors.git import GitRules, RepoSpec, collect_repo
from core.observations import bucket_of
from tests.git_repos import messy_history

SCOPES = ("src", "feature")


def _check(obs: pd.DataFrame) -> None:
    wide = obs.pivot_table(index=["scope", "ts"], columns="metric", values="value")
    n = wide.commits_count  # a bucket of merges only has no counts of its own (NaN)
    over = wide[(wide.bug_introducing_commits_count > n) | (wide.bug_fix_commits_count > n)]
    assert over.empty, over[["commits_count", "bug_fix_commits_count", "bug_introducing_commits_count"]]
    assert not (wide.bug_introducing_commit_ratio > 1).any()


@pytest.mark.parametrize("seed", [1, 2])
def test_no_bucket_counts_more_bug_introducing_commits_than_commits(tmp_path: Path, seed: int) -> None:
    r = messy_history(tmp_path / "messy", steps=40, seed=seed)
    on_branch = set(r.git("rev-list", "main").split())
    every = set(r.git("rev-list", "--all").split())
    assert every - on_branch  # branch commits that never landed are in the clone
    for bucket in ("week", "day"):
        res = collect_repo(RepoSpec(r.path, "svc", scopes=SCOPES), GitRules(bucket=bucket))
        c = res.commits
        assert set(c.sha) == on_branch
        bic = c.is_bug_introducing.fillna(False).astype(bool)
        assert bic.any() and not c.is_merge[bic].any()
        _check(res.observations)
        # each bucket's count is exactly its own commits later found bug-introducing
        buckets = pd.Series([bucket_of(int(t.timestamp()), bucket) for t in c.committer_time], index=c.index)
        mine = bic[~c.is_merge].groupby(buckets[~c.is_merge]).sum()
        o = res.observations
        stored = o[(o.scope == "svc") & (o.metric == "bug_introducing_commits_count")]
        assert {int(t.timestamp()): v for t, v in zip(stored.ts, stored.value, strict=True)} == \
            {k: float(v) for k, v in mine.items()}
        # a revert of a commit that never landed is still a fix
        off = c[c.reverts.notna() & ~c.reverts.isin(on_branch)]
        assert len(off) and off.is_bug_fix.all() and (off.fix_kind == "revert").all()


def test_the_invariant_holds_across_incremental_runs(tmp_path: Path) -> None:
    r = messy_history(tmp_path / "messy", steps=40, seed=4)
    mid = r.git("rev-list", "--first-parent", "main").split()[20]
    rules = GitRules()
    first = collect_repo(RepoSpec(r.path, "svc", branch=mid, scopes=SCOPES), rules)
    _check(first.observations)
    then = collect_repo(RepoSpec(r.path, "svc", branch="main", scopes=SCOPES), rules, first.state)
    assert not then.full_read
    summaries = then.state["buckets"]
    _check(gb.observations(summaries, [(s, k) for s in summaries for k in summaries[s]], szz=True))
    full = collect_repo(RepoSpec(r.path, "svc", scopes=SCOPES), rules)
    total = full.observations[full.observations.metric == "bug_introducing_commits_count"].groupby("scope").value.sum()
    both = gb.observations(summaries, [(s, k) for s in summaries for k in summaries[s]], szz=True)
    assert both[both.metric == "bug_introducing_commits_count"].groupby("scope").value.sum().to_dict() == \
        total.to_dict()
