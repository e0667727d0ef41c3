"""Incremental collection through the pipeline and the store: new commits only, force-push re-read."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from rca import pipeline
from rca.config import load_settings
from rca.store import Store
from tests.git_repos import Repo, day


def _settings(tmp_path: Path, repo: Path, data: str = "data", store_url: str | None = None, **git):
    cfg = tmp_path / f"{data}.yaml"
    scopes = git.pop("scopes", [])
    import yaml

    cfg.write_text(yaml.safe_dump({"data_dir": str(tmp_path / data), **({"store": {"url": store_url}} if store_url else {}),
                                   "git": {"repos": [{"path": str(repo), "name": "acme/app", "scopes": scopes}],
                                           **git}}))
    return load_settings(cfg)


def _stored(settings) -> pd.DataFrame:
    store = Store(settings.store_url)
    try:
        df = store.read()
    finally:
        store.close()
    return df.sort_values(["scope", "metric", "ts"]).reset_index(drop=True)


def _history(r: Repo, start: int, n: int) -> None:
    for i in range(start, start + n):
        who = ("Alice", "alice@example.com") if i % 3 else ("Bob", "bob@example.com")
        lines = "".join(f"v{j} = {i if j == i % 5 else j}\n" for j in range(8))
        msg = f"fix: value {i}" if i % 4 == 3 else f"feat: step {i}"
        r.commit(msg, {"svc/core.py": lines, f"svc/tests/test_{i % 2}.py": f"t{i}\n"}, author=who, when=day(i))


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    r = Repo(tmp_path / "app")
    _history(r, 0, 12)
    return r


def test_second_run_reads_only_new_commits_and_matches_a_full_read(tmp_path: Path, repo: Repo, store_url: str) -> None:
    s = _settings(tmp_path, repo.path, scopes=["svc/tests"], store_url=store_url)
    first = pipeline.collect(s)
    assert first.run("git").units["acme/app@HEAD"]["commits_read"] == 12 and first.run("git").units["acme/app@HEAD"]["full_read"]
    again = pipeline.collect(s)
    assert again.run("git").units["acme/app@HEAD"]["commits_read"] == 0 and again.rows_written == 0
    _history(repo, 12, 9)
    second = pipeline.collect(s)
    unit = second.run("git").units["acme/app@HEAD"]
    assert unit["commits_read"] == 9 and not unit["full_read"]
    fresh = _settings(tmp_path, repo.path, data="fresh", scopes=["svc/tests"])
    pipeline.collect(fresh)
    pd.testing.assert_frame_equal(_stored(s), _stored(fresh))
    assert {"acme/app", "acme/app/svc/tests"} == set(_stored(s).scope)


def test_a_new_fix_updates_the_old_bucket_of_the_commit_it_blames(tmp_path: Path, repo: Repo) -> None:
    s = _settings(tmp_path, repo.path)
    pipeline.collect(s)
    before = _stored(s)
    repo.commit("fix: v1 was wrong", {"svc/core.py": repo.path.joinpath("svc/core.py").read_text().replace(
        "v1 = ", "v1 = -")}, when=day(40))
    pipeline.collect(s)
    after = _stored(s)
    key = (after.metric == "bug_introducing_commits_count")
    assert after[key].value.sum() > before[before.metric == "bug_introducing_commits_count"].value.sum()
    fresh = _settings(tmp_path, repo.path, data="fresh")
    pipeline.collect(fresh)
    pd.testing.assert_frame_equal(after, _stored(fresh))


def test_force_push_is_detected_and_re_read_without_stale_rows(tmp_path: Path, repo: Repo) -> None:
    s = _settings(tmp_path, repo.path)
    pipeline.collect(s)
    repo.git("reset", "-q", "--hard", "HEAD~6")
    repo.commit("feat: rewritten", {"svc/other.py": "x\n"}, when=day(30))
    out = pipeline.collect(s)
    assert out.run("git").units["acme/app@HEAD"]["full_read"] and any("rewritten" in n for n in out.run("git").notes)
    fresh = _settings(tmp_path, repo.path, data="fresh")
    pipeline.collect(fresh)
    pd.testing.assert_frame_equal(_stored(s), _stored(fresh))
    # nothing of the dropped commits' weeks survives
    assert _stored(s).ts.max() == pd.Timestamp(day(28, 0)).tz_convert("UTC")


def test_changed_rules_trigger_a_full_re_read(tmp_path: Path, repo: Repo) -> None:
    pipeline.collect(_settings(tmp_path, repo.path))
    out = pipeline.collect(_settings(tmp_path, repo.path, newcomer_threshold=1))
    assert out.run("git").units["acme/app@HEAD"]["full_read"] and out.run("git").units["acme/app@HEAD"]["commits_read"] == 12


def test_one_broken_repository_is_recorded_and_the_others_land(tmp_path: Path, repo: Repo, rca) -> None:
    import yaml

    cfg = tmp_path / "two.yaml"
    cfg.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "d"), "git": {"repos": [
        {"path": str(repo.path)}, {"path": str(tmp_path / "missing")}]}}))
    res = rca("collect", "--config", str(cfg))
    assert res.code == 1
    said = [line for line in res.err.strip().splitlines() if not line.startswith("rca: progress: ")]
    assert said == [f"rca: error: git: missing: {str(tmp_path / 'missing')!r} does not exist; "
                    "give the path of a Git repository"]
    with Store(load_settings(cfg).store_url) as store:
        assert store.count() > 0 and set(store.scopes()) == {"app"}
        assert set(store.states("git")) == {"app@HEAD"}


def test_several_repositories_and_a_since_bound_in_one_configuration(tmp_path: Path, repo: Repo) -> None:
    import yaml

    other = Repo(tmp_path / "other")
    _history(other, 0, 5)
    cfg = tmp_path / "multi.yaml"
    cfg.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "m"), "git": {"bucket": "day", "repos": [
        {"path": str(repo.path), "name": "acme/app", "since": day(7, 0)},
        {"path": str(other.path), "branch": "main"}]}}))
    s = load_settings(cfg)
    out = pipeline.collect(s)
    assert {k: u["commits_read"] for k, u in out.run("git").units.items()} == {"acme/app@HEAD": 5, "other@main": 5}
    stored = _stored(s)
    counts = stored[stored.metric == "commits_count"].groupby("scope").value.agg(["sum", "count"])
    assert counts.loc["acme/app"].tolist() == [5, 5] and counts.loc["other"].tolist() == [5, 5]
    assert stored[stored.scope == "acme/app"].ts.min() == pd.Timestamp(day(7, 0))
    with Store(s.store_url) as store:
        assert store.states("git")["other@main"]["head"] == other.head()


def test_removing_a_path_scope_removes_its_rows(tmp_path: Path, repo: Repo) -> None:
    pipeline.collect(_settings(tmp_path, repo.path, scopes=["svc/tests"]))
    s = _settings(tmp_path, repo.path)
    out = pipeline.collect(s)
    assert out.run("git").units["acme/app@HEAD"]["full_read"] and set(_stored(s).scope) == {"acme/app"}
