"""Commits Git itself accepts but that are odd: each is collected (or left out, saying so), never a traceback.

Made with ``git hash-object --literally``, as a hostile or merely old repository can hold them:
a message with the control bytes the log output could use as separators, an author name with
them too, a negative time (Git prints none), a time past any real one, a commit without an
author name or e-mail. And ``--git`` pointing at a symbolic link loop.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from collectors.git import RepoSpec, collect_repo
from rca import pipeline
from tests.git_repos import Repo, day


def _raw_commit(r: Repo, author: bytes | None, committer: bytes, message: bytes) -> str:
    """A commit on top of HEAD (same tree), written as raw bytes (no author line if ``author`` is None);
    HEAD moves to it."""
    parent = r.head()
    tree = r.git("rev-parse", "HEAD^{tree}").strip()
    who = b"" if author is None else b"author %s\n" % author
    body = b"tree %s\nparent %s\n%scommitter %s\n\n%s" % (tree.encode(), parent.encode(), who, committer, message)
    sha = r.git("hash-object", "-t", "commit", "-w", "--literally", "--stdin", input=body).strip()
    r.git("update-ref", "HEAD", sha)
    return sha


def _repo(tmp_path: Path, author: bytes | None, committer: bytes, message: bytes) -> tuple[Repo, str]:
    """A normal commit, the odd one, then a normal fix on top."""
    r = Repo(tmp_path / "odd")
    r.commit("feat: start", {"a.py": "a = 1\nb = 2\n"}, when=day(0))
    odd = _raw_commit(r, author, committer, message)
    r.git("reset", "-q", "--hard")
    r.commit("fix: b", {"a.py": "a = 1\nb = 3\n"}, when=day(3))
    return r, odd


def _rows(tmp_path: Path, r: Repo) -> list[dict[str, str]]:
    out = tmp_path / "commits.csv"
    pipeline.export_git(r.path, out, "commit")
    with out.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_separator_bytes_in_a_message_and_a_name_are_kept(tmp_path: Path) -> None:
    message = b"fix: \x01 start\x02 field\x03 end \x01\x02\x03\nbody\x03\x02\x01 #12\n"
    r, odd = _repo(tmp_path, b"Eve \x02\x01\x03 Odd <eve@example.com> 1704200000 +0000",
                   b"Eve <eve@example.com> 1704200000 +0000", message)
    rows = {row["sha"]: row for row in _rows(tmp_path, r)}
    assert len(rows) == 3
    row = rows[odd]
    assert row["author_name"] == "Eve \x02\x01\x03 Odd" and row["author"] == "eve@example.com"
    assert (row["is_bug_fix"], row["fix_kind"], row["issue_ref"]) == ("True", "conventional", "#12")
    assert row["author_time"] == "2024-01-02 12:53:20+00:00"
    assert [int(rows[s]["lines_added"]) for s in rows] == [2, 0, 1]  # the odd commit changed nothing


STAMPS = [
    (b"-5", "negative: Git prints no time"),
    (b"99999999999999999999", "overflows 64 bits"),
    (b"253402300800", "the year 10000"),
    (b"9000000000", "past 2200"),
]


@pytest.mark.parametrize(("stamp", "why"), STAMPS)
def test_a_commit_with_an_unreadable_commit_time_is_left_out_with_a_note(tmp_path: Path, stamp: bytes,
                                                                         why: str) -> None:
    r, odd = _repo(tmp_path, b"Tim <tim@example.com> 1704200000 +0000", b"Tim <tim@example.com> " + stamp + b" +0000",
                   b"feat: odd time\n")
    res = collect_repo(RepoSpec(r.path))
    assert [row[1] for row in res.commit_rows] == [s for s in r.git("rev-list", "--reverse", "HEAD").split()
                                                   if s != odd]
    assert any("1 commit(s) with a commit time Git cannot read or past 2200 were left out" in n and odd[:12] in n
               for n in res.notes), why
    assert {row[2] for row in res.observation_rows} >= {"commits_count", "bug_fix_commit_ratio"}
    for level in ("commit", "week"):  # the export writes what it could read
        pipeline.export_git(r.path, tmp_path / f"{level}.csv", level)
    assert len(_rows(tmp_path, r)) == 2


@pytest.mark.parametrize(("stamp", "why"), STAMPS)
def test_an_unreadable_author_time_is_the_commit_time(tmp_path: Path, stamp: bytes, why: str) -> None:
    r, odd = _repo(tmp_path, b"Tim <tim@example.com> " + stamp + b" +0000", b"Tim <tim@example.com> 1704200000 +0000",
                   b"feat: odd time\n")
    rows = {row["sha"]: row for row in _rows(tmp_path, r)}
    assert len(rows) == 3
    assert rows[odd]["author_time"] == rows[odd]["committer_time"] == "2024-01-02 12:53:20+00:00", why


@pytest.mark.parametrize("author", [b" <> 1704200000 +0000", None], ids=["empty", "no author line"])
def test_a_commit_without_author_is_collected_as_unknown(tmp_path: Path, author: bytes | None) -> None:
    r, odd = _repo(tmp_path, author, b"Bot <> 1704200000 +0000", b"feat: nobody\n")
    rows = {row["sha"]: row for row in _rows(tmp_path, r)}
    assert (rows[odd]["author_name"], rows[odd]["author"]) == ("", "unknown")
    assert rows[odd]["author_time"] == "2024-01-02 12:53:20+00:00"
    week = collect_repo(RepoSpec(r.path)).observation_rows
    assert ("active_authors_count", 2.0) in {(m, v) for _, _, m, v in week}  # Alice and "unknown" in week one


def test_git_at_a_symbolic_link_loop_is_one_line(rca, tmp_path: Path) -> None:
    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")
    res = rca("collect", "--git", str(tmp_path / "a"), "--out", str(tmp_path / "x.csv"))
    assert res.code == 2
    assert res.err.strip().splitlines() == [f"rca: error: {str(tmp_path / 'a')!r} is a symbolic link that leads "
                                            "nowhere (a loop or a missing target); give the path of a Git repository"]
