"""`rca demo`: the embedded default finds the cause it injected, and finds nothing when nothing was injected."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from rca.config import load_settings
from rca.pipeline import demo
from rca.sample import INJECTED_CAUSE, generate


def test_demo_command_writes_reports_and_names_the_injected_cause(rca, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RCA_CONFIG", raising=False)
    res = rca("demo", "--out", str(tmp_path / "reports"))
    assert res.code == 0, res.err
    lines = res.out.strip().splitlines()
    assert lines[0].startswith("report: ") and lines[0].endswith(".html")
    html = Path(lines[0].removeprefix("report: "))
    assert html.is_file() and "<!doctype html>" in html.read_text()
    # The headline names the cause and the way it moved, from the result's own levels.
    assert "attributed to falling line coverage ratio (82% to 68%)" in html.read_text()
    bundle = json.loads(html.with_suffix(".json").read_text())  # a report bundle: investigation and effects
    doc = bundle["investigations"][0]
    assert doc["regression"]["detected"] is True
    assert doc["causes"][0]["node"] == "line_coverage_ratio"
    assert doc["causes"][0]["significant"] is True
    assert doc["scope"] == "acme/payments"
    assert "top cause: line_coverage_ratio" in res.out
    # Effects and recommendations: the recommended lever is the one the generator made most effective, and
    # the effect question comes with its refutation checks.
    recs = bundle["recommendations"][0]["recommendations"]
    assert recs[0]["lever"] == "line_coverage_ratio" == INJECTED_CAUSE and recs[0]["interval"][0] > 0
    effect = bundle["effects"][0]
    assert (effect["treatment"], effect["outcome"]) == ("line_coverage_ratio", "bug_fix_commit_ratio")
    assert effect["effect"] < 0 and len(effect["refutations"]) == 3
    assert all(r["passed"] for r in effect["refutations"])
    page = html.read_text()
    assert "<h2>Effects and recommendations</h2>" in page and 'data-chart="levers"' in page
    assert "recommended lever: line_coverage_ratio: Raising line coverage ratio from 68% to 84%" in res.out
    assert "effect of line_coverage_ratio on bug_fix_commit_ratio: Raising line coverage ratio by" in res.out
    # The sample went through the store: it exists under the default data dir, with every answer kept.
    db = tmp_path / "whydunnit-data" / "demo.db"
    assert db.is_file()
    with sqlite3.connect(db) as conn:
        kinds = dict(conn.execute("SELECT kind, report_path FROM investigations").fetchall())
    assert set(kinds) == {"investigation", "effect", "recommendations"} and set(kinds.values()) == {str(html)}


def test_demo_without_injection_reports_no_regression(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=str(tmp_path), engine={"bootstrap": 10})
    outcome = demo(settings, tmp_path / "out", inject=False)
    assert outcome.result.regression.detected is False


def test_sample_is_deterministic_and_has_the_injected_drop() -> None:
    a, b = generate(), generate()
    assert a.wide.equals(b.wide)
    cov = a.wide["line_coverage_ratio"]
    assert cov.iloc[:-13].mean() - cov.iloc[-13:].mean() == pytest.approx(0.12, abs=0.03)


def test_the_sample_ends_with_the_last_whole_week_and_a_later_demo_replaces_the_earlier(tmp_path: Path) -> None:
    """A demo run today reads as today's data (its last week is the last whole one), and a demo a week
    later supersedes the earlier one in its store instead of blending two histories into one."""
    from rca.store import Store

    wed = pd.Timestamp("2026-12-02T01:00Z")
    assert generate(end=wed).wide.index[-1] == pd.Timestamp("2026-11-23", tz="UTC")  # 11-30's week not over
    assert generate(end="2026-11-30T00:00Z").wide.index[-1] == pd.Timestamp("2026-11-23", tz="UTC")
    assert generate(end="2026-11-29T23:59Z").wide.index[-1] == pd.Timestamp("2026-11-16", tz="UTC")
    earlier, later = generate(end=wed), generate(end=wed + pd.Timedelta(days=7))
    assert earlier.wide.to_numpy().tolist() == later.wide.to_numpy().tolist()  # values depend on the seed only
    with Store(f"sqlite:///{tmp_path / 'demo.db'}") as store:
        store.write(earlier.observations, replace=earlier.replaces)
        store.write(later.observations, replace=later.replaces)
        kept = store.read(scope=earlier.scope)
    assert len(kept) == len(later.observations)
    assert kept["ts"].min() == later.wide.index[0]


def test_shipped_graph_fits_the_sample_it_explains() -> None:
    from graphs import shipped_graph
    from rca.engine.checks import check_graph

    sample = generate(inject=False)
    check = check_graph(sample.wide, shipped_graph("delivery"), permutations=20)
    assert [f"{e.source}->{e.target}" for e in check.edges if not e.supported] == []
    assert check.violations <= 0.05 * check.tests
    assert check.fit["bug_introducing_commit_ratio"] > 0.7
