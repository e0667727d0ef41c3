"""The pipeline over the store: a failed investigation leaves the store as it was."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from collectors.observations import InputError
from graphs import shipped_graph
from rca.config import load_settings
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
    with pytest.raises(InputError, match="not a node"):
        investigate_store(store, shipped_graph(), sample.scope, Question("nope", at=q.current), settings)
    with pytest.raises(InputError, match="no observations"):
        investigate_store(store, shipped_graph(), "other/scope", q, settings)
    store.close()
    assert _digest(db) == before
