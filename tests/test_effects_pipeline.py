"""Effect questions through the pipeline and the CLI, end to end on the demo sample: from the store (kept
with their kind) and from a table (--data); pooled, per scope and recommended; errors as one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from graphs import shipped_graph
from rca import pipeline
from rca.pipeline import BadInput
from rca.sample import generate
from rca.store import Store

TREATMENT, OUTCOME = "line_coverage_ratio", "bug_fix_commit_ratio"
FAST = {"simulations": 5, "dml": False}  # the tests check the wiring; the engine's own tests check the numbers


def _two_scopes() -> pd.DataFrame:
    """The demo's scope and a second one from another seed (same mechanisms, other noise)."""
    return pd.concat([generate().observations, generate(seed=11).observations.assign(scope="acme/search")])


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A config file and a store holding the two scopes; a long CSV of the same observations."""
    root = tmp_path_factory.mktemp("effects")
    cfg = root / "rca.yaml"
    cfg.write_text(f"data_dir: {root / 'data'}\n")
    with Store(pipeline.settings(cfg).store_url) as store:
        store.write(_two_scopes())
    long = root / "long.csv"
    _two_scopes().to_csv(long, index=False)
    return cfg, long


def _records(cfg: Path, **filters) -> list:
    with Store(pipeline.settings(cfg).store_url) as store:
        return store.investigations(**filters)


def test_store_questions_are_answered_and_kept_with_their_kind(stored) -> None:
    cfg, _ = stored
    settings = pipeline.settings(cfg)
    one = pipeline.effect(TREATMENT, OUTCOME, settings, scopes="acme/payments", **FAST)
    r = one.result
    assert r.identified and r.effect < 0 and r.interval[1] < 0 and r.rows == 103
    assert [x.name for x in r.refutations] == ["placebo_treatment", "random_common_cause", "data_subset"]
    assert one.kind == "effect" and one.scopes == ("acme/payments",) and one.id
    pooled = pipeline.effect(TREATMENT, OUTCOME, settings, **FAST)  # no scope: every scope, pooled
    assert pooled.scopes == ("acme/payments", "acme/search")
    assert pooled.result.rows == 2 * 103  # each scope loses its own first row to the lag: none crosses scopes
    assert any(c.startswith("pooled over 2 scopes") for c in pooled.result.caveats)
    by_scope = pipeline.effects_by_scope(TREATMENT, OUTCOME, settings, formats=["md"])
    assert {s.scope for s in by_scope.result.scopes} == {"acme/payments", "acme/search"}
    assert all(s.interval[1] < 0 for s in by_scope.result.scopes)
    assert "## Effects and recommendations" in by_scope.rendered["md"]
    recs = pipeline.recommendations(OUTCOME, settings, scope="acme/payments", bootstrap=20, formats=["json"])
    assert recs.result.top.lever == "line_coverage_ratio"
    assert json.loads(recs.rendered["json"])["recommendations"][0]["lever"] == "line_coverage_ratio"
    kept = {rec.id: rec for rec in _records(cfg)}
    assert kept[one.id].kind == "effect" and kept[one.id].status == "done"
    assert kept[one.id].result == r.to_dict() and kept[one.id].question["treatment"] == TREATMENT
    assert kept[pooled.id].question["scopes"] == ["acme/payments", "acme/search"]
    assert kept[by_scope.id].kind == "heterogeneity" and kept[recs.id].kind == "recommendations"
    assert {x.id for x in _records(cfg, kind="effect")} == {one.id, pooled.id}


def test_a_failed_question_is_kept_as_failed_and_scope_counts_are_checked(stored) -> None:
    cfg, _ = stored
    settings = pipeline.settings(cfg)
    with pytest.raises(BadInput, match="treatment 'nope' is not a node"):
        pipeline.effect("nope", OUTCOME, settings, scopes="acme/payments")
    failed = _records(cfg, status="failed", kind="effect")
    assert failed and "not a node" in failed[0].error
    with pytest.raises(BadInput, match="recommendations are for one scope at a time, and the data holds 2"):
        pipeline.recommendations(OUTCOME, settings)
    with pytest.raises(BadInput, match="effects by scope need at least 2 scopes"):
        pipeline.effects_by_scope(TREATMENT, OUTCOME, settings, scopes=["acme/payments"])
    with pytest.raises(BadInput, match="no observations for graph 'delivery-quality' in scope 'acme/nowhere'"):
        pipeline.effect(TREATMENT, OUTCOME, settings, scopes="acme/nowhere")


def test_in_memory_frame_and_graph_object_touch_no_store(tmp_path: Path) -> None:
    settings = pipeline.settings(None, data_dir=str(tmp_path / "nowhere"))
    done = pipeline.effect(TREATMENT, OUTCOME, settings, data=generate().wide, graph=shipped_graph("delivery"),
                           formats=["html"], **FAST)
    assert done.id is None and done.result.effect < 0 and 'id="effects"' in done.rendered["html"]
    assert not (tmp_path / "nowhere").exists()


def test_cli_effect_and_recommend_from_the_store(rca, stored) -> None:
    cfg, _ = stored
    res = rca("effect", "--config", str(cfg), "--treatment", TREATMENT, "--outcome", OUTCOME, "--scope",
              "acme/payments", "--simulations", "5")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert set(doc) >= {"treatment", "outcome", "identification", "effect", "interval", "refutations", "answer",
                        "naive", "sensitivity", "step", "step_effect", "step_interval"}
    assert doc["effect"] < 0 and doc["identification"]["estimand"] == "backdoor"
    assert "effect " in res.err and "kept in the store" in res.err
    res = rca("effect", "--config", str(cfg), "-T", TREATMENT, "-y", OUTCOME, "--by-scope")
    assert res.code == 0, res.err
    assert {s["scope"] for s in json.loads(res.out)["scopes"]} == {"acme/payments", "acme/search"}
    res = rca("recommend", "--config", str(cfg), "--target", OUTCOME, "--scope", "acme/payments", "--bootstrap", "20",
              "--format", "md")
    assert res.code == 0, res.err
    assert "## Effects and recommendations" in res.out and "| 1 | **line\\_coverage\\_ratio** |" in res.out


def test_cli_effect_and_recommend_from_a_data_file(rca, stored, tmp_path: Path) -> None:
    _, long = stored
    out = tmp_path / "effect.html"
    res = rca("effect", "--data", str(long), "--scope", "acme/payments", "--treatment", TREATMENT, "--outcome",
              OUTCOME, "--simulations", "5", "--format", "html", "--out", str(out))
    assert res.code == 0, res.err
    html = out.read_text()
    assert 'id="effects"' in html and 'data-chart="estimates"' in html and "kept in the store" not in res.err
    res = rca("recommend", "--data", str(long), "--scope", "acme/payments", "--target", OUTCOME, "--bootstrap", "20")
    assert res.code == 0, res.err
    assert json.loads(res.out)["recommendations"][0]["lever"] == "line_coverage_ratio"


UNIDENTIFIABLE = """
name: hidden
unit: week
nodes:
  pressure: {}
  line_coverage_ratio: {kind: ratio, higher_is_worse: false}
  bug_fix_commit_ratio: {kind: ratio}
edges: [[pressure, line_coverage_ratio], [pressure, bug_fix_commit_ratio], [line_coverage_ratio, bug_fix_commit_ratio]]
"""


def _wide_csv(path: Path, frame: pd.DataFrame) -> Path:
    out = frame.copy()
    out.index = out.index.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.to_csv(path, index_label="ts")
    return path


@pytest.mark.parametrize(("case", "message"), [
    ("unknown", "rca: error: outcome 'bug_rate' is not a node of graph 'delivery-quality'"),
    ("unidentifiable", "rca: error: the effect of 'line_coverage_ratio' on 'bug_fix_commit_ratio' is not identifiable "
                       "from graph 'hidden': line_coverage_ratio and bug_fix_commit_ratio share the unobserved cause "
                       "pressure"),
    ("constant", "rca: error: 'line_coverage_ratio' is constant (80%)"),
    ("feature", "rca: error: --feature goes with --by-scope"),
])
def test_cli_errors_are_one_line_and_exit_2(rca, tmp_path: Path, case: str, message: str) -> None:
    wide = generate().wide
    graph, outcome, extra = "delivery", OUTCOME, []
    if case == "unknown":
        outcome = "bug_rate"
    elif case == "unidentifiable":  # no column for pressure: the graph's hidden common cause
        graph = str(tmp_path / "hidden.yaml")
        Path(graph).write_text(UNIDENTIFIABLE)
        wide = wide[[TREATMENT, OUTCOME]]
    elif case == "constant":
        wide = wide.assign(line_coverage_ratio=0.8)
    else:
        extra = ["--feature", "team_size"]
    data = _wide_csv(tmp_path / "wide.csv", wide)
    res = rca("effect", "--data", str(data), "--graph", graph, "--treatment", TREATMENT, "--outcome", outcome,
              "--simulations", "5", *extra)
    assert res.code == 2, (res.out, res.err)
    assert res.err.startswith(message), res.err
    assert res.err.count("\n") == 1 and res.out == ""


def test_a_wide_table_with_a_scope_column_gives_scopes_and_features(rca, tmp_path: Path) -> None:
    """Four teams whose effect grows with headcount, as one wide CSV with scope and feature columns."""
    import numpy as np

    from tests.effects_data import CONFOUNDED_YAML, weeks

    rng = np.random.default_rng(1)
    parts = []
    for i, size in enumerate((4.0, 8.0, 12.0, 16.0)):
        team = rng.normal(size, 2, 80)
        cov = 0.5 + 0.02 * team + rng.normal(0, 0.05, 80)
        bugs = 0.3 - 0.02 * size * cov + 0.01 * team + rng.normal(0, 0.01, 80)
        parts.append(pd.DataFrame({"team_size": team, "review_hours": rng.normal(5, 1, 80), TREATMENT: cov,
                                   OUTCOME: bugs, "scope": f"team-{i}", "headcount": size}, index=weeks(80)))
    data = _wide_csv(tmp_path / "teams.csv", pd.concat(parts))
    graph = tmp_path / "confounded.yaml"
    graph.write_text(CONFOUNDED_YAML)
    res = rca("effect", "--data", str(data), "--graph", str(graph), "-T", TREATMENT, "-y", OUTCOME, "--by-scope",
              "--feature", "headcount")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert [s["scope"] for s in doc["scopes"]] == ["team-3", "team-2", "team-1", "team-0"]
    assert doc["features"][0]["feature"] == "headcount" and doc["features"][0]["interval"][1] < 0
    res = rca("effect", "--data", str(data), "--graph", str(graph), "-T", TREATMENT, "-y", OUTCOME, "--scope", "team-0",
              "--scope", "team-3", "--simulations", "5")
    assert res.code == 0, res.err
    assert json.loads(res.out)["rows"] == 160
