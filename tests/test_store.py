"""The store, on SQLite and on a real PostgreSQL server: idempotent upserts, atomic writes, bucketed
wide frames, the investigations table. (PostgreSQL's own failure modes: tests/test_store_postgres.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from collectors.base import Replace
from collectors.observations import InputError
from graphs.model import parse_graph
from rca.frames import to_wide
from rca.pipeline import BadInput
from rca.pipeline.data import stored_frame
from rca.store import Store, StoreError, StoreUnavailable


def _obs(metric: str, values: list[float], start: str = "2026-03-02", freq: str = "D") -> pd.DataFrame:
    ts = pd.date_range(start, periods=len(values), freq=freq, tz="UTC")
    return pd.DataFrame({"ts": ts, "scope": "org/repo", "metric": metric, "value": values, "source": "git"})


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store(store_url) as store:
        yield store


def test_upsert_is_idempotent_and_replaces_values(store: Store) -> None:
    assert store.write(_obs("commits_count", [1, 2, 3])) == 3
    store.write(_obs("commits_count", [1, 2, 3]))
    assert store.count() == 3
    store.write(_obs("commits_count", [10]))
    got = store.read(metrics=["commits_count"])
    assert got["value"].tolist() == [10.0, 2.0, 3.0]


def test_failed_write_changes_nothing(store: Store) -> None:
    store.write(_obs("commits_count", [1, 2]))
    bad = pd.concat([_obs("churn_lines", [5, 6]), _obs("x", [1]).assign(source="nowhere")])
    with pytest.raises(InputError, match="unknown observation source"):
        store.write(bad, state={("git", "repo@main"): {"head": "abc"}})
    assert store.count() == 2
    assert store.states("git") == {}


def test_a_write_that_fails_inside_its_transaction_leaves_nothing(store: Store) -> None:
    """Rows upserted, rows replaced, then the state cannot be saved: the rows and the deletion roll back too."""
    store.write(_obs("commits_count", [1, 2, 3]), state={("git", "repo@main"): {"head": "old"}})
    with pytest.raises(TypeError):
        store.write(_obs("commits_count", [9, 9, 9, 9]),
                    replace=[Replace("org/repo", "git")], state={("git", "repo@main"): {"head": object()}})
    assert store.read()["value"].tolist() == [1.0, 2.0, 3.0]
    assert store.states("git") == {"repo@main": {"head": "old"}}


def test_concurrent_writers_of_the_same_rows_and_state_all_land(store_url: str) -> None:
    """Four writers, each with its own connection, upsert overlapping rows and the same state key at once.

    None fails (no deadlock, no duplicate key on PostgreSQL, no 'database is locked' on SQLite: they
    wait), and what is left is one writer's whole write for every key.
    """
    from concurrent.futures import ThreadPoolExecutor

    Store(store_url).close()  # the tables exist before the race starts

    def writer(i: int) -> int:
        with Store(store_url) as s:
            n = 0
            for rnd in range(3):
                rows = pd.concat([_obs("commits_count", [float(i)] * 30), _obs(f"w{i}_lines", [float(rnd)] * 5)])
                n += s.write(rows.sample(frac=1, random_state=i * 10 + rnd),  # each writer in its own order
                             state={("git", "shared"): {"by": i, "round": rnd}, ("git", f"own{i}"): {"round": rnd}})
            return n

    with ThreadPoolExecutor(4) as pool:
        written = list(pool.map(writer, range(4)))
    assert written == [3 * 35] * 4
    with Store(store_url) as s:
        got = s.read()
        states = s.states("git")
    assert len(got) == 30 + 4 * 5
    assert got.loc[got["metric"] == "commits_count", "value"].nunique() == 1  # one writer's rows, not a mix
    assert {k: v["round"] for k, v in states.items() if k != "shared"} == {f"own{i}": 2 for i in range(4)}
    assert states["shared"]["round"] == 2 and states["shared"]["by"] in range(4)


def test_state_is_saved_with_the_rows(store: Store) -> None:
    store.write(_obs("commits_count", [1]), state={("git", "repo@main"): {"head": "abc", "n": 1}})
    assert store.states("git") == {"repo@main": {"head": "abc", "n": 1}}


def test_replace_deletes_superseded_rows_in_the_same_transaction(store: Store) -> None:
    store.write(_obs("commits_count", [1, 1, 1, 1]))
    store.write(_obs("commits_count", [7], start="2026-03-03"),
                replace=[Replace("org/repo", "git", pd.Timestamp("2026-03-03", tz="UTC"))])
    assert store.read()["value"].tolist() == [1.0, 7.0]


def test_replace_of_one_metric_leaves_the_scopes_other_metrics_alone(store: Store) -> None:
    store.write(_obs("commits_count", [1, 1, 1]))
    store.write(_obs("churn_lines", [5, 5, 5]))
    store.write(_obs("commits_count", [7], start="2026-03-03"),
                replace=[Replace("org/repo", "git", pd.Timestamp("2026-03-03", tz="UTC"), metric="commits_count")])
    got = store.read().sort_values(["metric", "ts"])
    assert got.loc[got["metric"] == "commits_count", "value"].tolist() == [1.0, 7.0]
    assert got.loc[got["metric"] == "churn_lines", "value"].tolist() == [5.0, 5.0, 5.0]


def test_frame_aggregates_each_node_by_its_rule(store: Store) -> None:
    # Monday 2026-03-02 .. Sunday 2026-03-15: two weeks of daily values.
    store.write(_obs("commits_count", [1.0] * 14))
    store.write(_obs("line_coverage_ratio", [0.5 + i / 100 for i in range(14)]))
    store.write(_obs("build_duration_seconds", [100, 300, 200, 900, 100, 100, 100] * 2))
    g = parse_graph("""
unit: week
nodes:
  commits_count: {agg: sum}
  line_coverage_ratio: {agg: last}
  build_duration_seconds: {agg: median}
  build_rate: {metric: commits_count, agg: rate}
""")
    wide = to_wide(store.read(scope="org/repo"), g)
    assert list(wide.index.strftime("%Y-%m-%d")) == ["2026-03-02", "2026-03-09"]
    assert wide["commits_count"].tolist() == [7.0, 7.0]
    assert wide["line_coverage_ratio"].tolist() == pytest.approx([0.56, 0.63])
    assert wide["build_duration_seconds"].tolist() == [100.0, 100.0]
    assert wide["build_rate"].tolist() == pytest.approx([1.0, 1.0])


def test_frame_for_unknown_scope_says_which_exist(store: Store) -> None:
    store.write(_obs("commits_count", [1]))
    g = parse_graph("nodes: {commits_count: {}}")
    with pytest.raises(BadInput, match="scopes in the store: org/repo"):
        stored_frame(store, g, "other/repo")


def test_a_password_in_the_store_url_is_never_shown(tmp_path: Path) -> None:
    url = "postgresql+psycopg://admin:s3cr3t-pw@127.0.0.1:1/whydunnit"
    with pytest.raises(StoreUnavailable) as err:  # nobody listens on port 1: an outage, not bad input
        Store(url, busy_timeout_s=1)
    assert "s3cr3t-pw" not in str(err.value) and "***" in str(err.value)


def test_a_locked_store_waits_then_says_so_in_one_line(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "locked.db"
    store = Store(f"sqlite:///{path}", busy_timeout_s=0.2)
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable, match=r"cannot write the store .*locked.*another process is writing"):
            store.write(_obs("commits_count", [1]))
    finally:
        holder.rollback()
        holder.close()
    with Store(f"sqlite:///{path}") as store:
        assert store.write(_obs("commits_count", [1])) == 1  # nothing was half-written; it works once free


def test_investigations_are_kept_and_listed_newest_first(store: Store) -> None:
    from datetime import datetime

    from rca.store import InvestigationRecord

    for i, status in enumerate(["done", "failed", "done"]):
        store.save_investigation(InvestigationRecord(
            id=f"id{i}", created_at=datetime(2026, 3, 1 + i), status=status, scope="org/repo", target="t",
            question={"at": "2026-03-02"}, result={"target": "t"} if status == "done" else None,
            error=None if status == "done" else "boom"))
    assert [r.id for r in store.investigations()] == ["id2", "id1", "id0"]
    assert [r.id for r in store.investigations(status="failed")] == ["id1"]
    got = store.investigation("id0")
    assert got is not None and got.result == {"target": "t"} and got.question == {"at": "2026-03-02"}
    assert store.investigation("nope") is None


def test_unwritable_store_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot"):
        Store(f"sqlite:///{blocker / 'sub' / 'rca.db'}")


def test_a_store_from_before_effect_questions_gains_the_kind_column(tmp_path: Path) -> None:
    """Opening an older SQLite file adds ``kind`` (old rows read as investigations); opening again is a no-op."""
    import sqlite3
    from dataclasses import replace
    from datetime import datetime

    from rca.store import InvestigationRecord

    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE investigations (id VARCHAR(36) PRIMARY KEY, created_at DATETIME NOT NULL, "
                     "finished_at DATETIME, status VARCHAR(16) NOT NULL, scope VARCHAR(255) NOT NULL, "
                     "target VARCHAR(255) NOT NULL, question TEXT NOT NULL, result TEXT, report_path TEXT, error TEXT)")
        conn.execute("INSERT INTO investigations VALUES ('old', '2026-01-01 00:00:00', NULL, 'done', 'org/repo', "
                     "'bugs', '{}', '{}', NULL, NULL)")
    for _ in range(2):
        with Store(f"sqlite:///{db}") as store:
            assert store.investigation("old").kind == "investigation"
    with Store(f"sqlite:///{db}") as store:
        new = InvestigationRecord(id="new", created_at=datetime(2026, 2, 1), status="done", scope="org/repo",
                                  target="bugs", question={"treatment": "coverage"}, kind="effect")
        store.save_investigation(new)
        store.save_investigation(replace(new, status="failed"))
        assert [r.id for r in store.investigations(kind="effect")] == ["new"]
        assert [r.id for r in store.investigations()] == ["new", "old"]
        assert store.investigation("new").status == "failed"


def test_runs_are_kept_and_unfinished_work_is_marked_interrupted(store: Store) -> None:
    """The scheduler's run log (``runs``) and the restart sweep, on either database."""
    from datetime import datetime

    from rca.store import InvestigationRecord

    store.use_wal()  # SQLite: write-ahead logging; PostgreSQL: nothing to do
    store.ping()
    store.start_run("r1", "nightly-collect", owner="host:1")
    store.finish_run("r1", "done", outputs={"rows": {"git": 12}})
    store.start_run("r2", "weekly-report", trigger="manual", owner="host:1")
    store.save_investigation(InvestigationRecord(id="q1", created_at=datetime(2026, 3, 1), status="queued",
                                                 scope="org/repo", target="t", question={}))
    assert store.interrupt_unfinished("the service was restarted") == (1, 1)
    done, cut = store.run("r1"), store.run("r2")
    assert done is not None and done.status == "done" and done.outputs == {"rows": {"git": 12}}
    assert cut is not None and cut.status == "interrupted" and cut.error == "the service was restarted"
    assert [r.id for r in store.runs(job="weekly-report")] == ["r2"]
    assert store.investigation("q1").status == "interrupted"
