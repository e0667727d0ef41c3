"""Every per-commit field of the Git collector against what `git` itself says, on real repositories."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from collectors.git import GitRules, commit_table
from tests.git_repos import Repo, day, fast_import


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """A small history with everything the parser must survive."""
    r = Repo(tmp_path_factory.mktemp("mixed") / "proj")
    r.commit("Initial import", {"src/app.py": "a\nb\nc\n", "README.md": "hi\n", "logo.png": b"\x89PNG\x00\x01\x02"},
             author=("Alice", "Alice@Example.COM"), when=day(0))
    r.commit("feat: add tests", {"tests/test_app.py": "def test():\n    pass\n", "src/app.py": "a\nB\nc\nd\n"},
             author=("Bob", "bob@example.com"), when=day(1, 9), committed=day(1, 15))
    r.commit("Rename module", {"src/app.py": None, "src/main.py": "a\nB\nc\nd\n"}, author=("Alice", "alice@old.example"),
             when=day(2))
    r.commit("fixes #12: binary and JIRA-7", {"logo.png": b"\x89PNG\x00\x09", "web/app.test.ts": "x\n"},
             author=("Carol", "carol@example.com"), when=day(3))
    r.git("checkout", "-q", "-b", "topic")
    r.commit("topic work", {"web/index.ts": "1\n2\n"}, author=("Dan", "dan@example.com"), when=day(4))
    r.git("checkout", "-q", "main")
    r.commit("main work", {"README.md": "hello\n"}, author=("Alice", "alice@example.com"), when=day(5))
    r.merge("topic", "Merge branch 'topic'", when=day(6))
    r.commit(b"Caf\xe9 latin-1 message, not UTF-8", {"src/main.py": "a\n"}, author=("Eve", ""), when=day(7))
    (r.path / ".mailmap").write_text("Alice <alice@example.com> <alice@old.example>\n")
    r.commit("docs: mailmap", {}, author=("Alice", "alice@example.com"), when=day(8))
    return r


@pytest.fixture(scope="module")
def table(mixed: Repo) -> pd.DataFrame:
    df, notes = commit_table(mixed.path, GitRules(newcomer_threshold=2))
    assert notes == ()
    return df.set_index("sha")


def _git_fields(r: Repo, fmt: str) -> dict[str, list[str]]:
    out = r.git("log", f"--format=%H%x00{fmt}%x00").split("\x00\n")
    return {p.split("\x00")[0]: p.split("\x00")[1:] for p in (x.strip("\n") for x in out) if p}


def test_every_commit_once_with_gits_line_counts(mixed: Repo, table: pd.DataFrame) -> None:
    expected = mixed.numstat()
    assert sorted(table.index) == sorted(expected)
    for sha, (a, d, f) in expected.items():
        row = table.loc[sha]
        assert (row.lines_added, row.lines_deleted, row.files_touched) == (a, d, f), sha


def test_times_merges_and_identity(mixed: Repo, table: pd.DataFrame) -> None:
    facts = _git_fields(mixed, "%at%x00%ct%x00%P%x00%aE")
    for sha, (at, ct, parents, email) in facts.items():
        row = table.loc[sha]
        assert row.author_time == pd.Timestamp(int(at), unit="s", tz="UTC")
        assert row.committer_time == pd.Timestamp(int(ct), unit="s", tz="UTC")
        assert row.is_merge == (len(parents.split()) > 1)
        # .mailmap applied by git, e-mail case-folded; no e-mail: the name
        assert row.author == (email.casefold() if email else f"name:{row.author_name.casefold()}")
    assert set(table.author) == {"alice@example.com", "bob@example.com", "carol@example.com", "dan@example.com",
                                 "name:eve"}


def test_oldest_first_and_experience_counts_prior_commits(mixed: Repo, table: pd.DataFrame) -> None:
    order = mixed.git("log", "--reverse", "--date-order", "--format=%H").split()
    assert list(table.index) == order
    seen: Counter[str] = Counter()
    for sha in order:
        row = table.loc[sha]
        assert row.experience_commits == seen[row.author]
        assert bool(row.is_newcomer) == (seen[row.author] < 2)
        seen[row.author] += 1


def test_binary_rename_tests_messages(mixed: Repo, table: pd.DataFrame) -> None:
    by_msg = {m.split("\x00")[0]: m.split("\x00")[1] for m in mixed.git("log", "--format=%s%x00%H").splitlines()}
    first = table.loc[by_msg["Initial import"]]
    assert first.binary_files == 1 and first.files_touched == 3
    renamed = table.loc[by_msg["Rename module"]]
    assert renamed.renamed_files == 1 and (renamed.lines_added, renamed.lines_deleted) == (0, 0)
    tests = table.loc[by_msg["feat: add tests"]]
    assert tests.test_lines_changed == 2 and not tests.is_bug_fix
    fix = table.loc[by_msg["fixes #12: binary and JIRA-7"]]
    assert fix.is_bug_fix and fix.issue_ref == "#12" and fix.test_lines_changed == 1 and fix.binary_files == 1
    merge = table.loc[by_msg["Merge branch 'topic'"]]
    assert merge.is_merge and not merge.is_bug_fix and merge.lines_added == 0
    # lead time: first commit of the merged branch (day 4, 12:00) to the merge (day 6, 12:00)
    assert merge.lead_time_seconds == 2 * 86_400
    latin = table.loc[by_msg[next(k for k in by_msg if k.startswith("Caf"))]]
    assert latin.author == "name:eve" and latin.lines_deleted == 3


def test_totals_agree_with_git_log_on_a_bigger_history(tmp_path: Path) -> None:
    fast_import(tmp_path / "big", 1500, fix_every=9)
    r = Repo.__new__(Repo)
    r.path = tmp_path / "big"
    df, _ = commit_table(r.path)
    stats = r.numstat()
    assert len(df) == len(stats) == 1500
    assert int(df.lines_added.sum()) == sum(v[0] for v in stats.values())
    assert int(df.lines_deleted.sum()) == sum(v[1] for v in stats.values())
    assert int(df.files_touched.sum()) == sum(v[2] for v in stats.values())
    assert int(df.is_bug_fix.sum()) == len([i for i in range(1, 1500) if i % 9 == 0])


def test_since_bounds_the_range_but_experience_counts_all_history(mixed: Repo) -> None:
    df, _ = commit_table(mixed.path, since=pd.Timestamp(day(5, 0)))
    expected = mixed.git("log", f"--since={day(5, 0)}", "--format=%H").split()
    assert sorted(df.sha) == sorted(expected)
    alice = df[df.author == "alice@example.com"].iloc[0]
    assert alice.experience_commits == 2  # day 0 and day 2 (through .mailmap), before the bound


def test_path_prefix_scope_counts_only_its_files(mixed: Repo) -> None:
    from collectors.git import RepoSpec, collect_repo

    res = collect_repo(RepoSpec(mixed.path, "proj", scopes=("web",)))
    obs = res.observations
    web = obs[obs.scope == "proj/web"].set_index("metric").value
    # "fixes #12" adds web/app.test.ts (+1, a test file); "topic work" adds web/index.ts (+2)
    assert (web.commits_count, web.churn_lines, web.test_churn_lines, web.files_per_commit) == (2, 3, 1, 1)
    assert web.merge_commits_count == 1 and web.lead_time_seconds == 2 * 86_400  # the merge brought web/
    assert web.bug_fix_commit_ratio == 0.5
    whole = obs[obs.scope == "proj"].groupby("metric").value.sum()
    assert whole.commits_count == 8 and whole.churn_lines == sum(v[0] + v[1] for v in mixed.numstat().values())
