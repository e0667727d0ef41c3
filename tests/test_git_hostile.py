"""A repository is untrusted: collecting it runs nothing its configuration names, and counts the same.

One history (fixes enough for SZZ's scratch commit-graph, a merge, renames, a .mailmap, a
.git-blame-ignore-revs, a committed coverage report, signed commits) is collected first as it
is, then again after its configuration points every setting that can name a program (filters,
textconv, diff commands, hooks, fsmonitor, pagers, editors, signature verifiers, credential
helpers, ssh, transports, upload-pack...) at scripts that leave marker files
(:func:`tests.git_repos.make_hostile`). Every way the collectors read Git runs on it: the
export at each level, SZZ, the store's collector with an incremental second run, and the
coverage collector's Git history and commit look-ups. No marker may appear, and every number
must be what the untouched repository gave.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from collectors import coverage, git
from collectors.coverage import CoverageSettings
from collectors.git import GitSettings
from rca import pipeline
from tests.git_repos import SIGNATURES, Repo, day, fast_import, make_hostile, make_miscounting, signed_commit
from tests.test_coverage_sources import cobertura

ROOT = Path(__file__).resolve().parents[1]


def _history(path: Path) -> tuple[str, str]:
    """The history (see the module's docstring); returns the sha the store's first run stops at, and the tip."""
    fast_import(path, 70, n_files=10, fix_every=2)  # 34 fixes: SZZ writes its scratch commit-graph
    r = Repo(path)
    first = r.git("rev-list", "--max-parents=0", "HEAD").strip()
    r.commit("feat: attributes, mailmap, coverage", {
        ".gitattributes": "* diff=evil filter=evil merge=evil\n",
        ".mailmap": "Dev Zero <dev0@example.com> <dev1@example.com>\n",
        ".git-blame-ignore-revs": f"{first}\n", "coverage.xml": cobertura(5, 10),
    }, when=day(10))
    r.git("checkout", "-q", "-b", "topic")
    r.commit("feat: topic work", {"src/topic.py": "a = 1\nb = 2\nc = 3\n"}, when=day(11),
             author=("Dev Two", "dev2@example.com"))
    r.git("checkout", "-q", "main")
    r.commit("chore: coverage", {"coverage.xml": cobertura(6, 10)}, when=day(12))
    r.merge("topic", "Merge branch topic", day(13))
    middle = r.head()
    r.git("mv", "src/mod1.py", "src/renamed1.py")
    r.git("mv", "src/mod2.py", "src/renamed2.py")
    (path / "src/renamed1.py").write_text((path / "src/renamed1.py").read_text() + "extra = 1\n")
    r.commit("refactor: move modules", {"coverage.xml": cobertura(7, 10)}, when=day(14))
    r.commit("fix: topic values", {"src/topic.py": "a = 10\nb = 2\nc = 30\n", "coverage.xml": cobertura(8, 10)},
             when=day(15), author=("Dev Three", "dev3@example.com"))
    tip = r.head()
    for i, signature in enumerate(SIGNATURES.values()):  # shown with log.showSignature, each runs its verifier
        tip = signed_commit(path, tip, f"chore: signed {i}", signature, when=1_705_000_000 + i)
    r.git("update-ref", "refs/heads/main", tip)
    return middle, tip


def _coverage_settings(path: Path, reports: Path) -> CoverageSettings:
    return CoverageSettings.model_validate({"sources": [
        {"scope": "evil/history", "repo": str(path), "file": "coverage.xml"},
        {"scope": "evil/dir", "dir": str(reports), "repo": str(path), "pattern": r"cov-(?P<commit>[0-9a-f]+)\.xml"},
    ]})


def _everything(path: Path, reports: Path, out: Path, middle: str, tip: str) -> dict[str, Any]:
    """What every way of reading Git gives on the repository at ``path``."""
    got: dict[str, Any] = {}
    for level in ("commit", "week", "day"):
        pipeline.export_git(path, out / f"{level}.csv", level)
        got[level] = (out / f"{level}.csv").read_bytes()
    pipeline.export_git(path, out / "commit.parquet", "commit")
    import pandas as pd

    got["parquet"] = pd.read_parquet(out / "commit.parquet").to_dict("list")
    # the store's collector: a first run up to `middle`, then an incremental one to the tip
    settings = GitSettings.model_validate({"repos": [{"path": str(path), "name": "evil", "branch": "main"}]})
    ref = Path(git.open_repo(path).git_dir) / "refs" / "heads" / "main"
    ref.write_text(middle + "\n")
    first = git.collect(settings, {})
    ref.write_text(tip + "\n")
    second = git.collect(settings, dict(first.state))
    got["store"] = [first.observations.to_dict("list"), second.observations.to_dict("list"),
                    first.failures, second.failures, second.lines]
    cov = coverage.collect(_coverage_settings(path, reports), {})
    got["coverage"] = [cov.observations.sort_values(["scope", "ts", "metric"]).to_dict("list"), cov.failures]
    return got


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any], Path, str, str]:
    base = tmp_path_factory.mktemp("hostile")
    path = base / "evil"
    middle, tip = _history(path)
    reports = base / "reports"
    reports.mkdir()
    (reports / f"cov-{middle[:12]}.xml").write_text(cobertura(3, 4))
    (reports / f"cov-{tip[:12]}.xml").write_text(cobertura(4, 4))
    clean = _everything(path, reports, base / "clean", middle, tip)
    markers = make_hostile(path, base / "scripts")
    return path, reports, clean, markers, middle, tip


def test_collecting_a_hostile_repository_runs_nothing_and_counts_the_same(hostile, tmp_path: Path) -> None:
    path, reports, clean, markers, middle, tip = hostile
    assert clean["store"][2:4] == [(), ()] and clean["coverage"][1] == ()
    assert clean["commit"].count(b"\n") > 70 and len(clean["coverage"][0]["value"]) > 10  # something was read
    got = _everything(path, reports, tmp_path, middle, tip)
    assert sorted(p.name for p in markers.iterdir()) == []
    for key in clean:
        assert got[key] == clean[key], key


def test_settings_that_would_change_the_counts_do_not(hostile, tmp_path: Path) -> None:
    """On a copy also configured to count otherwise (every file binary, no rename detection, ...)."""
    path, reports, clean, markers, middle, tip = hostile
    copy = tmp_path / "copy" / path.name
    shutil.copytree(path, copy, symlinks=True)
    make_miscounting(copy)
    got = _everything(copy, reports, tmp_path, middle, tip)
    assert sorted(p.name for p in markers.iterdir()) == []
    for key in clean:
        assert got[key] == clean[key], key


def test_the_command_line_export_runs_nothing(hostile, tmp_path: Path) -> None:
    """What a user types (`rca collect --git evil --level commit --out x.csv`), in its own process."""
    path, _, clean, markers, *_ = hostile
    cfg = tmp_path / "rca.yaml"
    cfg.write_text("")
    done = subprocess.run([sys.executable, "-m", "rca.cli", "collect", "--git", str(path), "--level", "commit",
                           "--out", str(tmp_path / "x.csv"), "--config", str(cfg)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in markers.iterdir()) == []
    assert (tmp_path / "x.csv").read_bytes() == clean["commit"]


def test_the_hostile_configuration_does_run_its_programs_under_plain_git(hostile) -> None:
    """The fixture is armed: plain `git blame` (textconv), `git log` (signatures) and a worktree
    diff (filters) run the scripts. Otherwise the tests above would prove nothing."""
    path, _, _, markers, *_ = hostile
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    # (the process filter does not speak the protocol: git may die of it before a diff command runs)
    for args in (["blame", "HEAD", "--", "src/topic.py"], ["-c", "filter.evil.process=", "blame", "HEAD", "--",
                 "src/topic.py"], ["log", "-3"], ["log", "-1", "HEAD~2"], ["-c", "filter.evil.process=", "diff",
                 "HEAD~5", "HEAD"]):
        subprocess.run(["git", *args], cwd=path, env=env, capture_output=True, timeout=60)
    found = {p.name for p in markers.iterdir()}
    for p in markers.iterdir():
        p.unlink()
    assert {"textconv", "filter-process", "gpg-openpgp", "gpg-ssh", "gpg-x509", "diff-command"} <= found, found


def test_a_partial_clone_is_never_fetched_from(tmp_path: Path) -> None:
    """A partial clone misses blobs; Git would fetch them from the remote, through the programs the
    clone's configuration names (upload-pack, ssh, ext::). The collector says why it cannot read it."""
    src = Repo(tmp_path / "src")
    src.commit("feat: one", {"a.py": "a = 1\n", "coverage.xml": cobertura(1, 2)}, when=day(0))
    src.commit("fix: two", {"a.py": "a = 2\n", "coverage.xml": cobertura(2, 2)}, when=day(1))
    src.git("config", "uploadpack.allowFilter", "true")
    clone = tmp_path / "clone"
    src.git("clone", "-q", "--filter=blob:none", "--no-checkout", f"file://{src.path}", str(clone))
    markers = make_hostile(clone, tmp_path / "scripts")
    with pytest.raises(pipeline.BadInput) as err:
        pipeline.export_git(clone, tmp_path / "x.csv", "commit")
    assert sorted(p.name for p in markers.iterdir()) == []
    cov = coverage.collect(_coverage_settings(clone, tmp_path), {})
    assert sorted(p.name for p in markers.iterdir()) == []
    assert "partial clone" in str(err.value) and "\n" not in str(err.value)
    assert cov.observations.empty and "partial clone" in " ".join(cov.failures)


def test_a_repository_that_makes_git_hang_is_stopped(tmp_path: Path) -> None:
    """Its configuration includes a FIFO nobody writes to: every git command would wait forever."""
    from collectors.git import GitRules, RepoSpec, collect_repo
    from collectors.observations import InputError

    r = Repo(tmp_path / "r")
    r.commit("feat: one", {"a.py": "a = 1\n", "coverage.xml": cobertura(1, 2)}, when=day(0))
    os.mkfifo(tmp_path / "fifo")
    r.git("config", "include.path", str(tmp_path / "fifo"))
    with pytest.raises(InputError, match=r"^git rev-parse in .* printed nothing for 0.5 s and was stopped"):
        collect_repo(RepoSpec(r.path), GitRules(timeout_s=0.5))
    settings = CoverageSettings.model_validate({"git_timeout_s": 0.5, "sources": [
        {"scope": "s", "repo": str(r.path), "file": "coverage.xml"}]})
    got = coverage.collect(settings, {})
    assert got.observations.empty and "printed nothing for 0.5 s" in got.failures[0]


def test_a_repository_of_another_user_is_read_only_if_the_user_trusts_it(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The collector ignores the user's global Git configuration, except its safe.directory entries."""
    from collectors.git import RepoSpec, collect_repo
    from collectors.observations import InputError

    if os.geteuid() != 0:
        pytest.skip("giving a repository to another user needs root")
    r = Repo(tmp_path / "theirs")
    r.commit("feat: one", {"a.py": "a = 1\n"}, when=day(0))
    for folder, dirs, files in os.walk(r.path):
        for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
            os.lchown(name, 65534, 65534)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    with pytest.raises(InputError, match="belongs to another user"):
        collect_repo(RepoSpec(r.path))
    trusted = tmp_path / "gitconfig"
    trusted.write_text(f"[safe]\n\tdirectory = {r.path}\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(trusted))
    assert collect_repo(RepoSpec(r.path)).commits_read == 1
