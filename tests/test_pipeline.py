"""The pipeline over the store: a failed investigation leaves the store as it was."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from collectors.observations import InputError
from graphs import shipped_graph
from rca.config import load_settings
from rca.engine.errors import EngineInputError
from rca.engine.investigate import Question
from rca.pipeline import investigate_store, make_question
from rca.sample import generate
from rca.store import Store


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_store_path_finds_the_cause_and_failures_leave_it_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "rca.db"
    store = Store(f"sqlite:///{db}")
    sample = generate()
    store.write(sample.observations)
    settings = load_settings(None, data_dir=str(tmp_path), engine={"bootstrap": 5})
    before = _digest(db)
    q = make_question(sample.target, None, f"{sample.baseline[0].isoformat()}..{sample.baseline[1].isoformat()}",
                      f"{sample.current[0].isoformat()}..{sample.current[1].isoformat()}")
    result = investigate_store(store, shipped_graph(), sample.scope, q, settings)
    assert result.causes[0].node == "line_coverage_ratio"
    with pytest.raises(EngineInputError, match="not a node"):
        investigate_store(store, shipped_graph(), sample.scope, Question("nope", at=q.current), settings)
    with pytest.raises(InputError, match="no observations"):
        investigate_store(store, shipped_graph(), "other/scope", q, settings)
    store.close()
    assert _digest(db) == before


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
    assert res.code == 2 and "--scope" in res.err
