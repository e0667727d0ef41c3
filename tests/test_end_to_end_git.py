"""From a real Git history to an explanation, through the commands a user runs.

A repository built with ``git fast-import`` (one commit an hour for 4,000 hours, every 25th a
fix) is collected into a SQLite store and, separately, exported with ``rca collect --git
--out`` as the long observation table; both are investigated with the shipped
``git-quality`` graph, and ``rca report`` runs on the Git-only store.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from graphs import shipped_graph
from rca import pipeline
from tests.git_repos import fast_import

CAUSES = {"bug_fix_commit_ratio"} | shipped_graph("git-quality").ancestors("bug_fix_commit_ratio")


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("e2e") / "svc"
    fast_import(repo, 4000, fix_every=25)  # 4,000 hours: 24 weekly buckets, 2024-01-01 to 2024-06-15
    return repo


@pytest.fixture(scope="module")
def store_config(svc: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A configuration whose store holds the repository's observations (and nothing else: Git only)."""
    home = tmp_path_factory.mktemp("store")
    cfg = home / "rca.yaml"
    cfg.write_text(f"data_dir: {home / 'data'}\nengine: {{bootstrap: 20}}\n"
                   f"git:\n  repos:\n    - {{path: {svc}, name: acme/svc}}\n")
    assert pipeline.collect(pipeline.settings(cfg)).ok
    return cfg


def test_collect_then_investigate_with_the_git_graph(rca, store_config: Path) -> None:
    res = rca("collect", "--config", str(store_config))
    assert res.code == 0, res.err
    assert "0 new commits" in res.out  # the fixture's run read everything; this one is incremental
    res = rca("investigate", "--config", str(store_config), "--graph", "git-quality", "--scope", "acme/svc",
              "--target", "bug_fix_commit_ratio", "--baseline", "2024-01-08..2024-03-03",
              "--current", "2024-03-04..2024-04-28")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert doc["scope"] == "acme/svc" and doc["model"]["graph"] == "git-quality"
    # Every 25th commit is a fix, whatever the week: 4% before and after, and no regression.
    assert abs(doc["observed"]["baseline"] - 0.04) < 0.01 and abs(doc["observed"]["current"] - 0.04) < 0.01
    assert doc["regression"]["detected"] is False
    change = doc["observed"]["current"] - doc["observed"]["baseline"]
    assert sum(c["contribution"] for c in doc["causes"]) == pytest.approx(change, abs=1e-3)
    assert {c["node"] for c in doc["causes"]} <= CAUSES


def test_the_exported_long_table_is_accepted_where_a_wide_one_is(rca, svc: Path, tmp_path: Path) -> None:
    """`rca collect --git --out` writes the long observation table (ts, scope, metric, value,
    source: several rows per week); `investigate --data` and `graph check --data` pivot it."""
    long = tmp_path / "long.csv"
    res = rca("collect", "--git", str(svc), "--out", str(long))
    assert res.code == 0, res.err
    table = pd.read_csv(long)
    assert list(table.columns) == ["ts", "scope", "metric", "value", "source"] and table.ts.duplicated().any()
    # Read today, years after its last commit, the history has had its fixes: no week is still settling.
    res = rca("graph", "check", "git-quality", "--data", str(long), "--format", "json", "--permutations", "20")
    assert res.code == 0, res.err
    check = json.loads(res.out)
    assert check["rows"] == 23 and not [c for c in check["caveats"] if "still settling" in c]
    # Collected the week of its last commit (the file's time says when): 24 weeks, the first only a lagged
    # input, and the latest ones left out while their bug-introducing figures settle (as many as the
    # fixes' median time to fix, 4 weeks here).
    written = pd.Timestamp(table.ts.max()).timestamp() + 2 * 86400
    os.utime(long, (written, written))
    res = rca("graph", "check", "git-quality", "--data", str(long), "--format", "json", "--permutations", "20")
    check = json.loads(res.out)
    settling = [c for c in check["caveats"] if "still settling" in c]
    assert check["rows"] == 19 and len(settling) == 1 and "latest 4 bucket(s)" in settling[0]
    res = rca("investigate", "--data", str(long), "--graph", "git-quality", "--target", "bug_fix_commit_ratio",
              "--baseline", "2024-01-08..2024-03-03", "--current", "2024-03-04..2024-04-28", "--bootstrap", "10")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert doc["scope"] == "svc"  # the table's own (only) scope
    assert abs(doc["observed"]["baseline"] - 0.04) < 0.01 and {c["node"] for c in doc["causes"]} <= CAUSES
    res = rca("investigate", "--data", str(long), "--graph", "git-quality", "--target", "bug_fix_commit_ratio",
              "--at", "latest", "--bootstrap", "0")
    assert res.code == 0, res.err
    assert json.loads(res.out)["window"] == {"at": "2024-06-10T00:00:00Z"}


def _stored(cfg: Path, metric: str) -> pd.Series:
    from rca.store import Store

    with Store(pipeline.settings(cfg).store_url) as store:
        rows = store.read(scope="acme/svc", metrics=[metric])
    return rows.set_index("ts")["value"]


@pytest.mark.parametrize(("at", "week"), [("latest", "2024-06-10"), ("2024-04-17", "2024-04-15"),
                                          ("2024-04-17T13:30:00Z", "2024-04-15")])
def test_at_latest_or_mid_week_on_a_git_store_asks_about_that_week(rca, store_config: Path, at: str,
                                                                   week: str) -> None:
    """`--at latest` means the newest week; a time inside a week (a Wednesday) means its week."""
    res = rca("investigate", "--config", str(store_config), "--graph", "git-quality", "--scope", "acme/svc",
              "--target", "bug_fix_commit_ratio", "--at", at, "--bootstrap", "0")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert doc["window"] == {"at": f"{week}T00:00:00Z"}
    stored = _stored(store_config, "bug_fix_commit_ratio")
    assert doc["observed"]["current"] == pytest.approx(stored[pd.Timestamp(week, tz="UTC")], abs=1e-6)


def test_report_without_a_graph_on_a_git_only_store_names_git_quality_and_exits_non_zero(
        rca, store_config: Path, tmp_path: Path) -> None:
    """An investigation without `graph:` asks for the delivery graph, which a Git-only store
    cannot fill (no line_coverage_ratio...): the error names the shipped graph that fits, and a
    target that could not run makes the exit status non-zero."""
    base = store_config.read_text() + f"reports: {{out_dir: {tmp_path / 'out'}}}\n"
    no_graph = "  - {target: bug_fix_commit_ratio, scope: acme/svc, last: 8 weeks}\n"
    with_graph = "  - {target: bug_fix_commit_ratio, scope: acme/svc, graph: git-quality, last: 8 weeks}\n"
    only = tmp_path / "only.yaml"
    only.write_text(base + "investigations:\n" + no_graph)
    res = rca("report", "--config", str(only))
    assert res.code == 2, res.err
    assert "line_coverage_ratio" in res.err and "use graph 'git-quality'" in res.err
    both = tmp_path / "both.yaml"
    both.write_text(base + "investigations:\n" + no_graph + with_graph)
    res = rca("report", "--config", str(both))
    assert res.code == 1, res.err  # the report is written; one target could not run
    assert "not investigated: bug_fix_commit_ratio in acme/svc" in res.err and "use graph 'git-quality'" in res.err
    md = next((tmp_path / "out").glob("report-*.md")).read_text()
    assert "use graph 'git-quality'" in md and "acme/svc" in md
