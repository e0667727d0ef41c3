"""Collection off a terminal (a CI log, a cron mail) says what it is doing: a line per repository and
phase (commits read, SZZ, rows written) on stderr, and how far it got while a phase runs long."""

from __future__ import annotations

from pathlib import Path

from collectors.base import progress_lines
from tests.git_repos import Repo, day


def test_a_stage_says_when_it_starts_how_far_it_got_and_when_it_is_done() -> None:
    lines: list[str] = []
    now = [0.0]
    update = progress_lines(lines.append, every_s=30, clock=lambda: now[0])
    update("acme: SZZ, fixes blamed", 0, 900)
    for done, t in ((50, 10), (100, 31), (150, 45), (600, 62)):
        now[0] = t
        update("acme: SZZ, fixes blamed", done, 900)
    now[0] = 70
    update("acme: SZZ, fixes blamed", 900, 900)
    update("acme: SZZ, fixes blamed", 900, 900)  # said once
    assert lines == ["acme: SZZ, fixes blamed: started, 900 to do",
                     "acme: SZZ, fixes blamed: 100 of 900 after 31 s",
                     "acme: SZZ, fixes blamed: 600 of 900 after 62 s",
                     "acme: SZZ, fixes blamed: done, 900 of 900 in 70.0 s"]
    unknown: list[str] = []
    progress_lines(unknown.append)("tables", 0, None)
    assert unknown == ["tables: started"]


def _repo(tmp_path: Path, commits: int) -> Repo:
    r = Repo(tmp_path / "shop")
    for i in range(commits):
        r.commit("fix: step" if i % 2 else "feat: step", {"lib.py": f"x = {i}\n" * (i + 1)}, when=day(i))
    return r


def test_an_export_off_a_terminal_logs_each_phase(tmp_path: Path, rca) -> None:
    repo = _repo(tmp_path, 6)
    res = rca("collect", "--git", str(repo.path), "--out", str(tmp_path / "o.csv"))
    assert res.code == 0, res.err
    lines = res.err.splitlines()
    assert "rca: progress: shop: commits read: started, 6 to do" in lines
    assert any(x.startswith("rca: progress: shop: commits read: done, 6 of 6 in ") for x in lines), lines
    assert any(x.startswith("rca: progress: shop: SZZ, fixes blamed: done, ") for x in lines), lines
    assert any(x.startswith("rca: progress: o.csv: rows written: done, ") for x in lines), lines
    assert res.out.strip().startswith("wrote ") and "from 6 commits" in res.out


def test_collecting_into_the_store_logs_the_write_and_says_one_commit(tmp_path: Path, rca) -> None:
    repo = _repo(tmp_path, 1)
    config = tmp_path / "rca.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\ngit:\n  repos:\n    - {{path: {repo.path}, name: acme/shop}}\n")
    res = rca("collect", "--config", str(config))
    assert res.code == 0, res.err
    assert "acme/shop: commits read: started, 1 to do" in res.err
    assert any(x.startswith("rca: progress: git: observations written to the store: done, ") for x in res.err.splitlines())
    assert "1 new commit, full read" in res.out and "1 new commits" not in res.out
