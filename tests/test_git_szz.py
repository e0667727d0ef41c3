"""Bug-fix rules and SZZ on hand-made histories whose answers are known."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from collectors.git import GitRules, RepoSpec, collect_repo, commit_table
from collectors.git_rules import Classifier, glob_to_regex
from tests.git_repos import Repo, day

CASES = [
    ("fix: handle empty input", True, "conventional", None),
    ("fix(parser)!: crash on EOF", True, "conventional", None),
    ("hotfix: restore login", True, "conventional", None),
    ("Fixes #123 by checking bounds", True, "keyword", "#123"),
    ("Closes PAY-42: null check\n\nThis fixed the crash", True, "keyword", "PAY-42"),
    ("Bug in the exporter", True, "keyword", None),
    ("Hotfix for prod", True, "keyword", None),
    ('Revert "feat: new cache"\n\nThis reverts commit 0123456789abcdef0123456789abcdef01234567.', True, "revert", None),
    ("feat: add fixtures for JIRA-9", False, "", "JIRA-9"),
    ("docs: fix typo", False, "", None),
    ("Add debug logging; prefix and suffix", False, "", None),
    ("Use UTF-8 and SHA-256 everywhere", False, "", None),
    ("Implement GH-77 export", False, "", "GH-77"),
    # Only the known Conventional Commits types decide alone; any other "word:" prefix is a
    # scope-like prefix and the keyword rules read the message.
    ("cookies: Fix bugs found during CI", True, "keyword", None),
    ("adapters(http): handle a bug in retries", True, "keyword", None),
    ("cookies: add a jar", False, "", None),
    ("Docs: fix the README", False, "", None),
    ("build(deps): bump urllib3 to fix CVE-2024-1", False, "", None),
    ("revert: drop the cache fix", False, "", None),
    ("Bugfix: null check", True, "conventional", None),
    # A type that says the commit changes documentation or tests is not a fix, in either common spelling.
    ("doc: Fix grammar", False, "", None),
    ("doc(tutorial): fix a broken link", False, "", None),
    ("tests: fix a flaky test", False, "", None),
    ("Fix grammar in the docs", True, "keyword", None),
]


@pytest.mark.parametrize(("message", "is_fix", "kind", "issue"), CASES)
def test_fix_rules(message: str, is_fix: bool, kind: str, issue: str | None) -> None:
    v = Classifier(GitRules()).message(message, is_merge=False)
    assert (v.is_fix, v.kind, v.issue) == (is_fix, kind, issue)


def test_configured_conventional_types_decide_alone() -> None:
    default = Classifier(GitRules())
    assert GitRules().conventional_types == ("feat", "fix", "docs", "doc", "chore", "refactor", "test", "tests", "build",
                                             "ci", "perf", "style", "revert")
    assert default.message("deps: fix the lock file", is_merge=False).kind == "keyword"
    own = Classifier(GitRules(conventional_types=(*GitRules().conventional_types, "deps")))
    assert not own.message("deps: fix the lock file", is_merge=False).is_fix
    assert own.message("Deps(npm): bump", is_merge=False) == default.message("chore: bump", is_merge=False)
    # a fix type is a type, known or not: "hotfix:" is a fix without being listed
    assert own.message("hotfix: restore login", is_merge=False).kind == "conventional"
    with pytest.raises(ValueError, match="conventional_types"):
        GitRules(conventional_types=("feat", "not a type"))


def test_merges_are_never_fixes_and_reverts_name_their_commit() -> None:
    c = Classifier(GitRules())
    assert not c.message("Merge pull request #5 from x/fix-bug", is_merge=True).is_fix
    v = c.message('Revert "x"\n\nThis reverts commit abcdef1.', is_merge=False)
    assert v.reverts == "abcdef1"


@pytest.mark.parametrize(("path", "is_test"), [
    ("tests/test_x.py", True), ("pkg/test_x.py", True), ("pkg/x_test.py", True), ("conftest.py", True),
    ("web/a.test.tsx", True), ("web/__tests__/a.js", True), ("svc/src/test/java/A.java", True),
    ("src/main/java/ATest.java", True), ("cmd/x_test.go", True), ("crate/tests/it.rs", True),
    ("src/contest.py", False), ("src/testing.py", False), ("web/a.ts", False), ("latest/x.py", False),
])
def test_default_test_patterns(path: str, is_test: bool) -> None:
    assert Classifier(GitRules()).is_test(path) is is_test


def test_glob_translation() -> None:
    assert glob_to_regex("*.{a,b}") == r"(?:.*/)?[^/]*\.(?:a|b)"


def _lines(n: int, changed: dict[int, str] | None = None) -> str:
    changed = changed or {}
    return "".join(changed.get(i, f"value_{i} = {i}") + "\n" for i in range(1, n + 1))


@pytest.fixture
def szz_repo(tmp_path: Path) -> tuple[Repo, dict[str, str]]:
    r = Repo(tmp_path / "szz")
    s = {}
    s["base"] = r.commit("feat: base", {"app.py": _lines(10), "other.py": _lines(3)}, when=day(0))
    s["bug"] = r.commit("feat: tweak line 4", {"app.py": _lines(10, {4: "value_4 = 40  # wrong"})},
                        author=("Bob", "bob@example.com"), when=day(1))
    s["comment"] = r.commit("docs: comment", {"app.py": _lines(10, {4: "value_4 = 40  # wrong", 7: "# a note"})},
                            when=day(2))
    s["reformat"] = r.commit("style: reformat", {"app.py": _lines(10, {4: "value_4  =  40  # wrong",
                                                                        7: "# a note"})}, when=day(3))
    s["fix"] = r.commit("fix: line 4 and drop the note", {"app.py": _lines(10, {4: "value_4 = 4", 7: ""})},
                        author=("Carol", "carol@example.com"), when=day(10))
    return r, s


def test_szz_blames_the_commit_that_wrote_the_changed_line(szz_repo) -> None:
    r, s = szz_repo
    df = commit_table(r.path)[0].set_index("sha")
    assert df.loc[s["fix"]].is_bug_fix
    bics = set(df.index[df.is_bug_introducing.fillna(False)])
    # whitespace-only reformat skipped (blame -w); comment-only line not blamed; base untouched
    assert bics == {s["bug"]}
    assert df.loc[s["bug"]].time_to_fix_seconds == 9 * 86_400


def test_ignore_revs_file_and_max_files(tmp_path: Path) -> None:
    r = Repo(tmp_path / "ign")
    orig = r.commit("feat: base", {"a.py": "x = 1\ny = 2\n"}, when=day(0))
    fmt = r.commit("style: rename", {"a.py": "x = 10\ny = 2\n"}, when=day(1))
    (r.path / ".git-blame-ignore-revs").write_text(f"# formatting\n{fmt}\n")
    r.commit("chore: ignore formatting commit", {}, when=day(2))
    fix = r.commit("fix: x", {"a.py": "x = 11\ny = 2\n"}, when=day(3))
    df = commit_table(r.path)[0].set_index("sha")
    assert set(df.index[df.is_bug_introducing.fillna(False)]) == {orig}
    assert df.loc[fix].is_bug_fix
    # the same fix counts as too large when the limit is below its file count
    res = collect_repo(RepoSpec(r.path), GitRules(szz_max_files=0 + 1))
    assert res.commits.is_bug_introducing.fillna(False).sum() == 1
    r.commit("fix: two files", {"a.py": "x = 12\ny = 3\n", "b.py": "z\n"}, when=day(4))
    res = collect_repo(RepoSpec(r.path), GitRules(szz_max_files=1))
    assert any("touching more than 1 files" in n for n in res.notes)


def test_revert_marks_the_reverted_commit_and_pure_additions_blame_nothing(tmp_path: Path) -> None:
    r = Repo(tmp_path / "rev")
    r.commit("feat: base", {"a.py": "a\n"}, when=day(0))
    bad = r.commit("feat: cache", {"a.py": "a\ncache\n"}, when=day(1))
    r.git("revert", "--no-edit", bad, env={"GIT_AUTHOR_DATE": day(2), "GIT_COMMITTER_DATE": day(2)})
    r.commit("fix: add guard", {"a.py": "a\nguard\n"}, when=day(3))
    df = commit_table(r.path)[0]
    assert df.fix_kind.fillna("").tolist() == ["", "", "revert", "conventional"]
    assert isinstance(df.reverts.iloc[2], str) and bad.startswith(df.reverts.iloc[2])
    assert set(df.sha[df.is_bug_introducing.fillna(False)]) == {bad}


def test_a_squash_quoting_a_revert_of_a_commit_never_on_the_branch_blames_nothing(tmp_path: Path) -> None:
    """A squash merge whose body quotes "This reverts commit X" (X: a commit of the merged pull
    request, never on the followed branch) is a revert fix, but X is not bug-introducing: it
    never landed, so no week may count it (it would count more bug-introducing commits than
    commits)."""
    r = Repo(tmp_path / "squash")
    r.commit("feat: base", {"app.py": _lines(6), "other.py": _lines(3)}, when=day(-3))
    bug = r.commit("feat: tweak line 2", {"app.py": _lines(6, {2: "value_2 = 20"})}, when=day(1))
    r.git("checkout", "-q", "-b", "pr")
    x = r.commit("feat: experiment", {"other.py": _lines(3, {1: "experiment = 1"})}, when=day(2))
    r.git("revert", "--no-edit", x, env={"GIT_AUTHOR_DATE": day(3), "GIT_COMMITTER_DATE": day(3)})
    r.git("checkout", "-q", "main")
    r.git("branch", "-q", "-m", "pr", "pull-12")  # kept in the clone, as a fetched pull request is
    fix = r.commit("fix: line 2", {"app.py": _lines(6)}, when=day(8))
    squash = r.commit(f'Update other (#12)\n\n* feat: experiment\n\n* Revert "feat: experiment"\n\n'
                      f'This reverts commit {x}.\n', {"other.py": _lines(3, {3: "value_3 = 30"})}, when=day(15))
    res = collect_repo(RepoSpec(r.path, "svc"), GitRules())
    df = res.commits.set_index("sha")
    assert x not in df.index
    assert df.loc[squash].is_bug_fix and df.loc[squash].fix_kind == "revert" and df.loc[squash].reverts == x
    assert set(df.index[df.is_bug_introducing.fillna(False)]) == {bug}
    assert df.loc[bug].time_to_fix_seconds == 7 * 86_400  # from its fix only, not from the squash
    assert pd.isna(df.loc[fix].time_to_fix_seconds)
    obs = res.observations.pivot_table(index="ts", columns="metric", values="value")
    assert (obs.bug_introducing_commits_count <= obs.commits_count).all()
    assert obs.bug_introducing_commits_count.sum() == 1
    assert obs.time_to_fix_seconds.dropna().to_dict() == {pd.Timestamp("2024-01-08", tz="UTC"): 7 * 86_400}


def test_bucket_metrics_on_known_history(szz_repo) -> None:
    r, s = szz_repo
    res = collect_repo(RepoSpec(r.path, "svc"), GitRules(bucket="week", newcomer_threshold=1))
    obs = res.observations.pivot_table(index="ts", columns="metric", values="value")
    wk1 = obs.loc[pd.Timestamp("2024-01-01", tz="UTC")]
    assert wk1.commits_count == 4 and wk1.bug_introducing_commits_count == 1
    assert wk1.bug_introducing_commit_ratio == 0.25 and wk1.bug_fix_commit_ratio == 0
    assert wk1.active_authors_count == 2 and wk1.newcomer_commit_ratio == 0.5
    wk2 = obs.loc[pd.Timestamp("2024-01-08", tz="UTC")]
    assert wk2.commits_count == 1 and wk2.bug_fix_commit_ratio == 1 and wk2.time_to_fix_seconds == 9 * 86_400
    assert set(res.observations.scope) == {"svc"} and set(res.observations.source) == {"git"}


def test_lead_time_counts_each_branch_commit_once_across_repeated_merges(tmp_path: Path) -> None:
    r = Repo(tmp_path / "lead")
    r.commit("feat: base", {"a.py": "a\n"}, when=day(0))
    r.git("checkout", "-q", "-b", "topic")
    r.commit("feat: first", {"b.py": "b\n"}, when=day(1, 8))
    r.git("checkout", "-q", "main")
    m1 = r.merge("topic", "Merge topic (1)", when=day(2, 8))
    r.git("checkout", "-q", "topic")
    r.git("merge", "-q", "main", env={"GIT_AUTHOR_DATE": day(3), "GIT_COMMITTER_DATE": day(3)})  # fast-forward
    r.commit("feat: second", {"c.py": "c\n"}, when=day(4, 8))
    r.git("checkout", "-q", "main")
    r.commit("feat: on main", {"d.py": "d\n"}, when=day(5))
    m2 = r.merge("topic", "Merge topic (2)", when=day(6, 8))
    df = commit_table(r.path)[0].set_index("sha")
    expected = {m1: 86_400, m2: 2 * 86_400}  # m2: from "second" (day 4), not from "first" (day 1)
    assert df.lead_time_seconds.dropna().to_dict() == expected
    for m in expected:
        first_parent, other = r.git("rev-parse", f"{m}^1", f"{m}^2").split()
        branch = r.git("log", "--format=%at", f"{first_parent}..{other}").split()
        committed = int(r.git("log", "-1", "--format=%ct", m))
        assert expected[m] == committed - min(int(t) for t in branch)  # what git rev-list P1..P2 says
