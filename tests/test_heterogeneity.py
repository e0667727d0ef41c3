"""Heterogeneous effects (rca.engine.heterogeneity): scopes with different true effects come out in the
right order with intervals that separate; features give slopes; bad inputs raise one clear line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rca.engine.errors import EngineInputError
from rca.engine.heterogeneity import heterogeneous_effects
from tests.effects_data import confounded_graph, weeks

TREATMENT, OUTCOME = "line_coverage_ratio", "bug_fix_commit_ratio"


def _scope(rng: np.random.Generator, n: int, effect: float, size: float = 8.0) -> pd.DataFrame:
    team = rng.normal(size, 2, n)
    cov = 0.5 + 0.02 * team + rng.normal(0, 0.05, n)
    review = rng.normal(5, 1, n)
    bugs = 0.3 + effect * cov + 0.01 * team + 0.002 * review + rng.normal(0, 0.01, n)
    return pd.DataFrame({"team_size": team, "review_hours": review, TREATMENT: cov, OUTCOME: bugs}, index=weeks(n))


def test_two_scopes_with_different_effects_are_ordered_and_separated() -> None:
    rng = np.random.default_rng(0)
    frames = {"payments": _scope(rng, 120, -0.30), "search": _scope(rng, 120, -0.05)}
    r = heterogeneous_effects(frames, confounded_graph(), TREATMENT, OUTCOME, seed=0)
    assert r.method == "LinearDML" and r.adjustment == ("team_size",)
    assert [s.scope for s in r.scopes] == ["payments", "search"]
    assert r.most_helped == "payments" and r.least_helped == "search" and r.separated
    pay, search = r.scopes
    assert pay.interval[0] <= -0.30 <= pay.interval[1] and search.interval[0] <= -0.05 <= search.interval[1]
    assert pay.interval[1] < search.interval[0]
    assert pay.benefit > search.benefit > 0  # more coverage lowers a bad outcome: a benefit
    assert pay.effect < r.average.value < search.effect
    assert r.answer.startswith("Raising line coverage ratio by 10 points does most for bug fix commit ratio in payments")
    assert "the two differ clearly" in r.answer
    assert json.loads(r.to_json())["scopes"][0]["scope"] == "payments"


def test_long_frame_with_features_gives_a_slope_per_feature() -> None:
    """Effects that grow with team size: the slope on team size is found and the scopes follow it."""
    rng = np.random.default_rng(1)
    parts = []
    for i, size in enumerate((4.0, 8.0, 12.0, 16.0)):
        f = _scope(rng, 80, -0.02 * size, size=size)
        parts.append(f.assign(scope=f"team-{i}", headcount=size, language="go" if i % 2 else "python"))
    long = pd.concat(parts)
    r = heterogeneous_effects(long, confounded_graph(), TREATMENT, OUTCOME, features=["headcount"], seed=0)
    slope = r.features[0]
    assert slope.feature == "headcount" and slope.interval[0] <= -0.02 <= slope.interval[1] and slope.interval[1] < 0
    assert [s.scope for s in r.scopes] == ["team-3", "team-2", "team-1", "team-0"]
    assert r.scopes[0].features == {"headcount": 16.0}
    with_text = heterogeneous_effects(long, confounded_graph(), TREATMENT, OUTCOME, features=["headcount", "language"],
                                      seed=0)
    assert with_text.modifiers == ("headcount", "language_python")


def test_bad_inputs_raise_one_clear_line() -> None:
    rng = np.random.default_rng(2)
    one = {"payments": _scope(rng, 60, -0.3)}
    with pytest.raises(EngineInputError, match="at least two scopes"):
        heterogeneous_effects(one, confounded_graph(), TREATMENT, OUTCOME)
    with pytest.raises(EngineInputError, match="no 'scope' column"):
        heterogeneous_effects(one["payments"], confounded_graph(), TREATMENT, OUTCOME)
    with pytest.raises(EngineInputError, match="no column for feature"):
        heterogeneous_effects({**one, "b": _scope(rng, 60, -0.1)}, confounded_graph(), TREATMENT, OUTCOME,
                              features=["age"])
    with pytest.raises(EngineInputError, match="is not downstream of"):
        heterogeneous_effects({**one, "b": _scope(rng, 60, -0.1)}, confounded_graph(), OUTCOME, TREATMENT)


def test_a_causal_forest_answers_when_every_scope_has_the_rows_for_it() -> None:
    """Four scopes of 250 rows: enough for CausalForestDML, which says it answered; its per-scope intervals
    cover the truths and keep the scopes in their order. Two scopes of 120 rows stay with LinearDML, and say why."""
    rng = np.random.default_rng(7)
    truth = {"a": -0.40, "b": -0.25, "c": -0.10, "d": 0.05}
    frames = {s: _scope(rng, 250, eff) for s, eff in truth.items()}
    r = heterogeneous_effects(frames, confounded_graph(), TREATMENT, OUTCOME, seed=0)
    assert r.method == "CausalForestDML" and "causal forest" in r.estimator_note
    assert [s.scope for s in r.scopes] == ["a", "b", "c", "d"]
    assert sum(s.interval[0] <= truth[s.scope] <= s.interval[1] for s in r.scopes) >= 3
    assert json.loads(r.to_json())["method"] == "CausalForestDML"
    small = heterogeneous_effects({s: frames[s].iloc[:120] for s in ("a", "d")}, confounded_graph(), TREATMENT, OUTCOME,
                                  seed=0)
    assert small.method == "LinearDML" and "a causal forest needs at least 1000 rows" in small.estimator_note
