"""The pipeline over the store: investigations are kept, and a failed one leaves the observations as they were."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphs import shipped_graph
from rca import pipeline
from rca.config import load_settings
from rca.pipeline import BadInput
from rca.sample import generate
from rca.store import Store


def _observation_rows(url: str) -> list[tuple]:
    with Store(url) as store:
        return list(store.read().sort_values(["ts", "scope", "metric"]).itertuples(index=False))


def test_store_path_finds_the_cause_keeps_the_record_and_failures_touch_no_observation(tmp_path: Path,
                                                                                       store_url: str) -> None:
    settings = pipeline.settings(None, data_dir=str(tmp_path), engine={"bootstrap": 5}, store={"url": store_url})
    sample = generate()
    with Store(settings.store_url) as store:
        store.write(sample.observations)
    before = _observation_rows(store_url)
    assert len(before) == len(sample.observations)
    windows = {k: f"{a.isoformat()}..{b.isoformat()}" for k, (a, b) in
               (("baseline", sample.baseline), ("current", sample.current))}
    done = pipeline.investigate(pipeline.request(target=sample.target, scope=sample.scope, **windows), settings)
    assert done.result.causes[0].node == "line_coverage_ratio"
    with pytest.raises(BadInput, match="not a node"):
        pipeline.investigate(pipeline.request(target="nope", scope=sample.scope, **windows), settings)
    with pytest.raises(BadInput, match="no observations"):
        pipeline.investigate(pipeline.request(target=sample.target, scope="other/scope", **windows), settings)
    assert _observation_rows(store_url) == before
    with Store(settings.store_url) as store:
        kept = store.investigation(done.id)
        failed = store.investigations(status="failed")
    assert kept is not None and kept.status == "done" and kept.result == done.result.to_dict()
    assert kept.question["current"] == windows["current"] and kept.question["graph"] == "delivery-quality"
    assert [r.target for r in failed] == ["nope"] and "not a node" in failed[0].error


def test_an_in_memory_frame_and_graph_object_need_no_file_and_no_store(tmp_path: Path) -> None:
    settings = pipeline.settings(None, data_dir=str(tmp_path / "nowhere"), engine={"bootstrap": 5})
    sample = generate()
    windows = {k: f"{a.isoformat()}..{b.isoformat()}" for k, (a, b) in
               (("baseline", sample.baseline), ("current", sample.current))}
    done = pipeline.investigate(pipeline.request(target=sample.target, **windows), settings,
                                data=sample.wide, graph=shipped_graph("delivery"), formats=["md"])
    assert done.id is None and done.result.causes[0].node == "line_coverage_ratio"
    assert done.rendered["md"].startswith("# ")
    assert not (tmp_path / "nowhere").exists()  # nothing was written anywhere


def test_the_long_table_collect_writes_is_accepted_where_a_wide_one_is(tmp_path: Path) -> None:
    settings = pipeline.settings(None, data_dir=str(tmp_path), engine={"bootstrap": 5})
    sample = generate()
    long = tmp_path / "long.csv"
    sample.observations.to_csv(long, index=False)
    windows = {k: f"{a.isoformat()}..{b.isoformat()}" for k, (a, b) in
               (("baseline", sample.baseline), ("current", sample.current))}
    done = pipeline.investigate(pipeline.request(target=sample.target, **windows), settings, data=long,
                                graph="delivery")
    assert done.result.causes[0].node == "line_coverage_ratio"
    assert done.result.scope == "acme/payments"  # a long table's own (only) scope


def test_cli_investigates_the_configured_store(rca, tmp_path: Path) -> None:
    sample = generate()
    cfg = tmp_path / "rca.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\nengine: {{bootstrap: 4}}\n")
    store = Store(load_settings(cfg).store_url)
    store.write(sample.observations)
    store.close()
    win = [f"{a.strftime('%Y-%m-%d')}..{b.strftime('%Y-%m-%dT%H:%M:%S')}" for a, b in (sample.baseline, sample.current)]
    args = ["investigate", "--config", str(cfg), "--graph", "delivery", "--target", sample.target,
            "--baseline", win[0], "--current", win[1]]
    res = rca(*args, "--scope", sample.scope)
    assert res.code == 0, res.err
    assert '"node": "line_coverage_ratio"' in res.out.split('"causes"')[1][:200]
    res = rca(*args)
    assert res.code == 2 and "say which scope" in res.err


def test_report_and_effect_questions_keep_their_records_in_either_store(tmp_path: Path, store_url: str) -> None:
    """The report job (several targets, one failing) and a recommendation, kept in SQLite or PostgreSQL alike."""
    sample = generate()
    settings = pipeline.settings(
        None, data_dir=str(tmp_path), store={"url": store_url}, engine={"bootstrap": 4},
        reports={"out_dir": str(tmp_path / "out"), "formats": ["json"]},
        investigations=[{"target": sample.target, "scope": sample.scope, "last": "13 weeks"},
                        {"target": "lead_time_seconds", "scope": sample.scope, "last": "13 weeks"},
                        {"target": sample.target, "scope": "acme/nowhere", "last": "13 weeks"}])
    with Store(store_url) as store:
        store.write(sample.observations)
    done = pipeline.report(settings)
    assert [r.target for r in done.results] == [sample.target, "lead_time_seconds"]
    assert len(done.skipped) == 1 and "acme/nowhere" in done.skipped[0]
    rec = pipeline.recommendations(sample.target, settings, scope=sample.scope, bootstrap=5, samples=200)
    with Store(store_url) as store:
        kept = store.investigations()
        assert {(r.kind, r.target, r.status) for r in kept} == {
            ("investigation", sample.target, "done"), ("investigation", "lead_time_seconds", "done"),
            ("recommendations", sample.target, "done")}
        assert all(r.report_path == str(done.reports["json"]) for r in kept if r.kind == "investigation")
        assert store.investigation(rec.id).result == rec.result.to_dict()
