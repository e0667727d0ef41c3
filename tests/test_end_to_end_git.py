"""From a real Git history to an explanation: collect into the store, then investigate it.

A repository built with ``git fast-import`` (one commit an hour, every 25th a fix) is
collected by ``rca collect`` into a SQLite store and investigated with the shipped
``git-quality`` graph, through the same commands a user runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.git_repos import fast_import


def test_collect_then_investigate_with_the_git_graph(rca, tmp_path: Path) -> None:
    repo = tmp_path / "svc"
    fast_import(repo, 4000, fix_every=25)  # 4,000 hours: 24 weekly buckets
    cfg = tmp_path / "rca.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\nengine: {{bootstrap: 20}}\n"
                   f"git:\n  repos:\n    - {{path: {repo}, name: acme/svc}}\n")
    res = rca("collect", "--config", str(cfg))
    assert res.code == 0, res.err
    res = rca("investigate", "--config", str(cfg), "--graph", "git-quality", "--scope", "acme/svc",
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
    assert {c["node"] for c in doc["causes"]} <= {"bug_fix_commit_ratio", "bug_introducing_commit_ratio",
                                                  "newcomer_commit_ratio", "median_change_size_lines",
                                                  "files_per_commit", "test_churn_ratio", "active_authors_count"}
