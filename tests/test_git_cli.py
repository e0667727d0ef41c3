"""`rca collect` on good and bad input: tables written, or one error line and exit status 2."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from tests.git_repos import Repo, day, git


@pytest.fixture
def small(tmp_path: Path) -> Repo:
    r = Repo(tmp_path / "small")
    for i in range(8):
        r.commit(f"fix: step {i}" if i % 3 == 2 else f"feat: step {i}",
                 {"lib.py": "".join(f"x{j} = {i if j <= i else 0}\n" for j in range(6))}, when=day(i))
    return r


def _one_error_line(res) -> str:
    assert res.code == 2, res
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rca: error: "), res.err
    assert "Traceback" not in res.err + res.out
    return lines[0]


def test_commit_table_to_csv_and_parquet(small: Repo, tmp_path: Path, rca) -> None:
    res = rca("collect", "--git", str(small.path), "--out", str(tmp_path / "c.csv"), "--level", "commit")
    assert res.code == 0, res.err
    csv = pd.read_csv(tmp_path / "c.csv")
    assert len(csv) == 8 and csv.sha.tolist() == small.git("log", "--reverse", "--format=%H").split()
    res = rca("collect", "--git", str(small.path), "--out", str(tmp_path / "c.parquet"), "--level", "commit")
    assert res.code == 0
    pq = pd.read_parquet(tmp_path / "c.parquet")
    assert pq.lines_added.sum() == csv.lines_added.sum() == sum(v[0] for v in small.numstat().values())


def test_observation_table_by_day(small: Repo, tmp_path: Path, rca) -> None:
    res = rca("collect", "--git", str(small.path), "--out", str(tmp_path / "o.csv"), "--level", "day")
    assert res.code == 0, res.err
    obs = pd.read_csv(tmp_path / "o.csv")
    assert list(obs.columns) == ["ts", "scope", "metric", "value", "source"]
    counts = obs[obs.metric == "commits_count"]
    assert len(counts) == 8 and counts.value.sum() == 8 and set(obs.scope) == {"small"}


@pytest.mark.parametrize("case", ["missing", "not_a_repo", "subfolder", "empty", "branch", "suffix", "no_out"])
def test_bad_input_is_one_line_and_exit_2(case: str, small: Repo, tmp_path: Path, rca) -> None:
    out = str(tmp_path / "o.csv")
    if case == "missing":
        msg = _one_error_line(rca("collect", "--git", str(tmp_path / "nope"), "--out", out))
        assert "does not exist" in msg
    elif case == "not_a_repo":
        (tmp_path / "plain").mkdir()
        assert "not a Git repository" in _one_error_line(rca("collect", "--git", str(tmp_path / "plain"), "--out", out))
    elif case == "subfolder":  # git itself would read the enclosing clone; we ask for its top
        (small.path / "pkg").mkdir()
        msg = _one_error_line(rca("collect", "--git", str(small.path / "pkg"), "--out", out))
        assert "not its top folder" in msg and str(small.path) in msg
    elif case == "empty":
        Repo(tmp_path / "empty")
        assert "empty repository" in _one_error_line(rca("collect", "--git", str(tmp_path / "empty"), "--out", out))
    elif case == "branch":
        msg = _one_error_line(rca("collect", "--git", str(small.path), "--out", out, "--branch", "nope"))
        assert "branch 'nope' not found" in msg and "main" in msg
    elif case == "suffix":
        assert ".csv or .parquet" in _one_error_line(rca("collect", "--git", str(small.path), "--out", "x.txt"))
    elif case == "no_out":
        assert "--out" in _one_error_line(rca("collect", "--git", str(small.path)))
    assert not Path(out).exists()


def test_no_repositories_configured(tmp_path: Path, rca) -> None:
    cfg = tmp_path / "rca.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'd'}\n")
    assert "nothing to collect" in _one_error_line(rca("collect", "--config", str(cfg)))


def test_bad_git_config_is_one_line(tmp_path: Path, rca) -> None:
    cfg = tmp_path / "rca.yaml"
    cfg.write_text("git:\n  repos: [{path: x, colour: blue}]\n  fix_patterns: ['(']\n")
    msg = _one_error_line(rca("collect", "--config", str(cfg)))
    assert "colour" in msg and "fix_patterns" in msg


def test_shallow_clone_says_what_it_did(small: Repo, tmp_path: Path, rca) -> None:
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "3", f"file://{small.path}", str(clone))
    res = rca("collect", "--git", str(clone), "--out", str(tmp_path / "s.csv"), "--level", "commit")
    assert res.code == 0, res.err
    assert "shallow clone" in res.err and "SZZ and author experience need the full history" in res.err
    df = pd.read_csv(tmp_path / "s.csv")
    full = small.git("log", "-2", "--format=%H").split()  # the boundary commit (3rd) is left out
    assert sorted(df.sha) == sorted(full)
    assert df.is_bug_introducing.isna().all() and df.experience_commits.isna().all()
    assert df.lines_added.tolist() == [small.numstat()[s][0] for s in df.sha]


def test_a_folder_name_that_is_not_utf8_gives_a_readable_label(tmp_path: Path, rca) -> None:
    r = Repo(tmp_path / os.fsdecode(b"caf\xe9"))
    r.commit("fix: one", {"a.py": "a\n"}, when=day(0))
    res = rca("collect", "--git", str(r.path), "--out", str(tmp_path / "o.csv"))
    assert res.code == 0, res.err
    assert set(pd.read_csv(tmp_path / "o.csv").scope) == {"caf\ufffd"}


def test_submodule_and_non_utf8_paths(small: Repo, tmp_path: Path, rca) -> None:
    r = Repo(tmp_path / "super")
    r.commit("feat: base", {"a.txt": "a\n"}, when=day(0))
    r.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(small.path), "vendor/small")
    r.commit("feat: add submodule", {}, when=day(1))
    git(small.path, "commit", "-q", "--allow-empty", "-m", "more")
    git(r.path / "vendor/small", "-c", "protocol.file.allow=always", "pull", "-q", "origin", "main")
    r.commit("fix: bump submodule", {}, when=day(2))
    (r.path / os.fsdecode(b"caf\xe9 \t.txt")).write_text("x\n")  # Latin-1 bytes and a tab in the name
    r.commit("feat: odd file name", {}, when=day(3))
    res = rca("collect", "--git", str(r.path), "--out", str(tmp_path / "sub.csv"), "--level", "commit")
    assert res.code == 0, res.err
    df = pd.read_csv(tmp_path / "sub.csv")
    stats = r.numstat()
    assert [(a, d, f) for a, d, f in zip(df.lines_added, df.lines_deleted, df.files_touched, strict=True)] == [
        stats[s] for s in df.sha]
    assert not df.is_bug_introducing.any()  # a submodule pointer is not a line to blame
