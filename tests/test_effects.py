"""Average causal effects (rca.engine.effects): known effects recovered, naive slopes shown wrong,
intervals that cover, every estimand, clear answers and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from graphs.model import parse_graph
from rca.engine.effects import estimate_effect
from rca.engine.effects_data import nice_step
from rca.engine.errors import EngineInputError
from results.effect_answers import effect_answer
from results.effects import Refutation
from tests.effect_results import make_effect
from tests.effects_data import TRUE_EFFECT, confounded_frame, confounded_graph, weeks


def test_confounded_design_adjusted_estimate_is_right_and_naive_is_wrong() -> None:
    r = estimate_effect(confounded_frame(400, seed=1), confounded_graph(), "line_coverage_ratio",
                        "bug_fix_commit_ratio", seed=1, simulations=30)
    assert r.identification.estimand == "backdoor" and r.identification.variables == ("team_size",)
    # Adjusted: close to the truth and covering it, for both regression and double ML.
    assert r.method == "linear_regression"
    assert abs(r.effect - TRUE_EFFECT) < 0.03
    assert r.interval[0] <= TRUE_EFFECT <= r.interval[1]
    dml = next(e for e in r.estimates if e.method == "double_ml")
    assert abs(dml.value - TRUE_EFFECT) < 0.04 and dml.covers(TRUE_EFFECT)
    # Naive: badly biased (wrong sign: bigger teams write more tests AND fix more bugs), far outside.
    assert r.naive.value > 0.1
    assert not r.naive.covers(TRUE_EFFECT)
    # Refutations pass on a correct model; the sensitivity analysis names the observed confounder.
    assert [x.name for x in r.refutations] == ["placebo_treatment", "random_common_cause", "data_subset"]
    assert all(x.passed for x in r.refutations), r.refutations
    assert abs(r.refutations[0].new_effect) < 0.3 * abs(r.effect)
    assert r.sensitivity.strongest == "team_size" and 0 < r.sensitivity.robustness_value < 1
    # The sentence says what the numbers say: 10 points of coverage, about 1.8 points fewer bug fixes.
    assert r.step == pytest.approx(0.1) and r.step_effect == pytest.approx(r.effect * 0.1)
    assert r.answer.startswith("Raising line coverage ratio by 10 points lowers bug fix commit ratio by ")
    assert "95% CI" in r.answer and "survives the placebo, random-common-cause and subset checks" in r.answer
    assert "team size" in r.answer
    doc = json.loads(r.to_json())
    assert doc["effect"] == pytest.approx(r.effect, rel=1e-5) and doc["naive"]["method"] == "naive_regression"
    assert doc["identification"]["identified"] is True and doc["significant"] is True


def test_interval_coverage_and_bias_over_seeded_repetitions() -> None:
    """40 seeded data sets: the 95% interval covers the truth 33-40 times (expected 38; an interval half
    as wide as it should be covers ~27 times, the naive one never), and the mean estimate is unbiased."""
    graph = confounded_graph()
    covered, naive_covered, estimates, ses = 0, 0, [], []
    for seed in range(40):
        r = estimate_effect(confounded_frame(120, seed=100 + seed), graph, "line_coverage_ratio",
                            "bug_fix_commit_ratio", seed=seed, refute=False, dml=False)
        covered += r.interval[0] <= TRUE_EFFECT <= r.interval[1]
        naive_covered += r.naive.covers(TRUE_EFFECT)
        estimates.append(r.effect)
        ses.append(r.estimates[0].std_error)
    assert 33 <= covered <= 40
    assert naive_covered == 0
    bias = float(np.mean(estimates)) - TRUE_EFFECT
    assert abs(bias) < 3 * float(np.mean(ses)) / np.sqrt(40)  # within 3 standard errors of the mean


def test_lagged_treatment_counts_its_lagged_path() -> None:
    g = parse_graph("""
name: lag
unit: week
nodes: {team: {}, cov: {higher_is_worse: false, kind: ratio}, bugs: {kind: ratio}}
edges: [[team, cov], [team, bugs], [cov, bugs], [cov, bugs, {lag: 1}]]
""")
    rng = np.random.default_rng(2)
    n = 300
    team = rng.normal(8, 2, n)
    cov = 0.5 + 0.01 * team + rng.normal(0, 0.04, n)
    prev = np.r_[cov[0], cov[:-1]]
    bugs = 0.2 - 0.10 * cov - 0.08 * prev + 0.02 * team + rng.normal(0, 0.01, n)
    r = estimate_effect(pd.DataFrame({"team": team, "cov": cov, "bugs": bugs}, index=weeks(n)), g, "cov", "bugs",
                        seed=0, simulations=20)
    assert r.treatment_columns == ("cov", "cov[t-1]")
    assert r.interval[0] <= -0.18 <= r.interval[1] and abs(r.effect + 0.18) < 0.03
    assert [e.method for e in r.estimates] == ["linear_regression", "double_ml"] and r.estimates[1].covers(-0.18)
    assert all(x.passed for x in r.refutations)


def test_binary_treatment_is_estimated_doubly_robust_with_its_overlap() -> None:
    g = parse_graph("""
name: bin
unit: week
nodes: {size: {}, pairing: {higher_is_worse: false}, bugs: {}}
edges: [[size, pairing], [size, bugs], [pairing, bugs]]
""")
    rng = np.random.default_rng(3)
    n = 400
    size = rng.normal(0, 1, n)
    pairing = (rng.random(n) < 1 / (1 + np.exp(-1.2 * size))).astype(float)
    bugs = 1.0 - 0.5 * pairing + 1.0 * size + rng.normal(0, 0.5, n)
    r = estimate_effect(pd.DataFrame({"size": size, "pairing": pairing, "bugs": bugs}, index=weeks(n)), g,
                        "pairing", "bugs", seed=0, simulations=20, bootstrap=100)
    assert r.treatment_kind == "binary" and r.method == "doubly_robust"
    assert r.interval[0] <= -0.5 <= r.interval[1] and abs(r.effect + 0.5) < 0.15
    assert [e.method for e in r.estimates] == ["doubly_robust", "double_ml", "regression_adjustment"]
    assert r.naive.value > 0  # pairing is used on the big, buggy changes: the naive difference has the wrong sign
    assert r.refutations[0].passed, r.refutations[0]
    assert r.answer.startswith("Switching pairing on lowers bugs by ")
    # The overlap of the propensity scores is reported: logistic in 1.2 x size, so some rows sit past 5-95%.
    o = r.overlap
    assert o is not None and 0 < o.min_score < 0.1 and 0.9 < o.max_score < 1 and 0 < o.outside < 0.3
    assert o.treated + o.control == n
    assert json.loads(r.to_json())["overlap"]["treated"] == o.treated


def _hidden_confounder(n: int = 300, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pressure = rng.normal(size=n)
    budget = rng.normal(size=n)
    size = budget + pressure + rng.normal(size=n)
    review = 0.8 * size + rng.normal(size=n)
    bugs = 1.5 * review + 2 * pressure + rng.normal(size=n)
    return pd.DataFrame({"budget": budget, "size": size, "review": review, "bugs": bugs}, index=weeks(n))


def test_front_door_when_a_mediator_is_observed() -> None:
    g = parse_graph("""
name: fd
unit: week
nodes: {pressure: {}, size: {}, review: {}, bugs: {}}
edges: [[pressure, size], [pressure, bugs], [size, review], [review, bugs]]
""")
    r = estimate_effect(_hidden_confounder().drop(columns="budget"), g, "size", "bugs", seed=0, simulations=5,
                        bootstrap=30)
    assert r.identification.estimand == "frontdoor" and r.identification.variables == ("review",)
    assert r.identification.unobserved == ("pressure",) and "pressure" in r.identification.reason
    # Truth 0.8 * 1.5 = 1.2 (standard error ~0.1 here); the naive slope (~2.1) is far off.
    assert abs(r.effect - 1.2) < 0.25 and r.interval[0] < r.effect < r.interval[1]
    assert not r.naive.covers(1.2) and r.naive.value > 1.8
    assert r.refutations[1].passed is None and "does not apply" in r.refutations[1].detail


def test_instrument_when_only_an_instrument_is_observed() -> None:
    g = parse_graph("""
name: iv
unit: week
nodes: {pressure: {}, budget: {}, size: {}, bugs: {}}
edges: [[pressure, size], [pressure, bugs], [budget, size], [size, bugs]]
""")
    rng = np.random.default_rng(8)
    n = 300
    pressure, budget = rng.normal(size=n), rng.normal(size=n)
    size = budget + pressure + rng.normal(size=n)
    data = pd.DataFrame({"budget": budget, "size": size, "bugs": 1.2 * size + 2 * pressure + rng.normal(size=n)},
                        index=weeks(n))
    r = estimate_effect(data, g, "size", "bugs", seed=0, simulations=5, bootstrap=30)
    assert r.identification.estimand == "iv" and r.identification.variables == ("budget",)
    assert r.interval[0] <= 1.2 <= r.interval[1]


def test_unidentifiable_question_is_answered_not_raised() -> None:
    g = parse_graph("""
name: un
unit: week
nodes: {pressure: {}, size: {}, bugs: {}}
edges: [[pressure, size], [pressure, bugs], [size, bugs]]
""")
    r = estimate_effect(_hidden_confounder()[["size", "bugs"]], g, "size", "bugs", seed=0)
    assert r.identified is False and r.effect is None and r.interval is None and r.refutations == ()
    assert r.identification.estimand == "none"
    assert r.answer.startswith("The effect of size on bugs cannot be estimated from this graph")
    assert "pressure" in r.answer and "no data for pressure" in " ".join(r.caveats)
    assert r.naive is not None  # the naive slope is still there for the report to show what NOT to trust
    assert json.loads(r.to_json())["effect"] is None


def test_no_effect_says_so() -> None:
    frame = confounded_frame(300, seed=5, effect=0.0)
    r = estimate_effect(frame, confounded_graph(), "line_coverage_ratio", "bug_fix_commit_ratio", seed=0,
                        simulations=20, dml=False)
    assert r.interval[0] < 0 < r.interval[1]
    assert "has no clear effect on bug fix commit ratio" in r.answer and "includes zero" in r.answer


def test_failed_refutations_are_said_plainly() -> None:
    r = make_effect()
    r = replace(r, step=0.1, step_effect=-0.018, step_interval=(-0.027, -0.009), sensitivity=None,
                refutations=(Refutation("placebo_treatment", False, 0.0, -0.1, 0.001),
                             Refutation("data_subset", True, -0.18, -0.18, 0.9)),
                reliable=False, unreliable_because=("refutation_failed",))
    text = effect_answer(r)
    assert text.startswith("Unreliable: it fails the placebo check.")
    assert "lowers bug fix commit ratio by 1.8 points (95% CI 0.9 to 2.7 points)" in text
    assert "do not act on it" in text and "survives" not in text


@pytest.mark.parametrize(
    ("frame_edit", "treatment", "outcome", "message"),
    [
        (None, "nope", "bug_fix_commit_ratio", "treatment 'nope' is not a node"),
        (None, "line_coverage_ratio", "line_coverage_ratio", "pick two different nodes"),
        (None, "bug_fix_commit_ratio", "line_coverage_ratio", "is not downstream of"),
        (None, "review_hours", "team_size", "is not downstream of"),
        ("constant", "line_coverage_ratio", "bug_fix_commit_ratio", "is constant"),
        ("tiny", "line_coverage_ratio", "bug_fix_commit_ratio", "only 12 complete row(s)"),
        ("no-outcome", "line_coverage_ratio", "bug_fix_commit_ratio", "no column for 'bug_fix_commit_ratio'"),
    ],
)
def test_bad_questions_raise_one_clear_line(frame_edit, treatment, outcome, message) -> None:
    frame = confounded_frame(100, seed=6)
    if frame_edit == "constant":
        frame["line_coverage_ratio"] = 0.8
    elif frame_edit == "tiny":
        frame = frame.iloc[:12]
    elif frame_edit == "no-outcome":
        frame = frame.drop(columns="bug_fix_commit_ratio")
    with pytest.raises(EngineInputError) as err:
        estimate_effect(frame, confounded_graph(), treatment, outcome, seed=0)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_nice_steps() -> None:
    assert [nice_step(x) for x in (0.07, 0.13, 0.3, 17, 420)] == [0.05, 0.1, 0.2, 20, 500]


def test_seeded_results_repeat() -> None:
    frame = confounded_frame(150, seed=7)
    a, b = (estimate_effect(frame, confounded_graph(), "line_coverage_ratio", "bug_fix_commit_ratio", seed=3,
                            simulations=10).to_dict() for _ in range(2))
    a.pop("timings_s"), b.pop("timings_s")
    assert a == b


def test_results_and_engine_imports_stay_light() -> None:
    # (collectors.observations arrives only through graphs, which results may import)
    code = ("import sys, results.effects; bad = [m for m in sys.modules if m.split('.')[0] in "
            "('rca', 'reports')]; assert not bad, bad; "
            "import rca.engine.effects, rca.engine.heterogeneity, rca.engine.recommend; "
            "heavy = [m for m in ('dowhy', 'econml', 'sklearn', 'statsmodels', 'scipy.stats') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
