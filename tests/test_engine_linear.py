"""The closed-form attribution against hand-computed answers and against DoWhy's own estimators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rca.engine import Options, Question, Window, attribution, investigate, linear
from rca.engine.fitting import fit, seed_everything, to_dowhy
from rca.engine.frames import prepare
from tests.engine_helpers import AB, BC, CHAIN, chain_rows, frame


def test_exact_shapley_on_known_games() -> None:
    # v(S) = [0 in S] + 2 [1 in S and 2 in S]: player 0 gets 1, players 1 and 2 split 2.
    masks = linear.all_subsets(3)
    values = masks[:, 0] * 1.0 + 2.0 * (masks[:, 1] & masks[:, 2])
    assert np.allclose(linear.exact_shapley(values, 3), [1.0, 1.0, 1.0])
    # A symmetric game v(S) = |S|^2 over 4 players: 16 / 4 each.
    values = masks4 = linear.all_subsets(4).sum(axis=1) ** 2.0
    assert np.allclose(linear.exact_shapley(values, 4), [4.0] * 4)
    assert masks4.shape == (16,)


def test_permutation_shapley_matches_exact_on_additive_game() -> None:
    weights = np.array([3.0, -1.0, 0.5, 2.0, 0.0])
    phi = linear.permutation_shapley(lambda m: m @ weights, 5, 10, np.random.default_rng(0))
    assert np.allclose(phi, weights)


def test_anomaly_contribution_is_total_effect_times_deviation() -> None:
    rng = np.random.default_rng(1)
    rows = chain_rows(400, rng)
    a = rows[:, 0].mean() - 4.0  # c = -3 a rises, and for c higher is worse
    spike = np.array([[a, AB * a, BC * AB * a]])  # the root jumps; b and c follow with no noise of their own
    data = frame(np.vstack([rows, spike]), ["a", "b", "c"])
    at = data.index[-1]
    r = investigate(data, CHAIN, Question("c", at=Window(at, at)), options=Options(seed=0, bootstrap=100))
    got = {c.node: c for c in r.causes}
    assert got["a"].contribution == pytest.approx(
        BC * AB * -4.0, rel=0.06
    )  # +12, from estimated coefficients
    assert abs(got["b"].contribution) < 0.3 and abs(got["c"].contribution) < 0.3
    # Contributions add up exactly to the observed deviation from the fitted mean.
    assert sum(c.contribution for c in r.causes) == pytest.approx(spike[0, 2] - rows[:, 2].mean(), abs=1e-9)
    assert got["a"].significant and not got["b"].significant
    assert got["a"].interval[0] < got["a"].contribution < got["a"].interval[1]
    assert r.causes[0].node == "a" and r.regression.detected


def test_closed_form_matches_dowhy_attribute_anomalies() -> None:
    rng = np.random.default_rng(2)
    ref = frame(chain_rows(300, rng), ["a", "b", "c"])
    row = frame(np.array([[1.5, 4.0, -3.0]]), ["a", "b", "c"], start="2030-01-01")
    seed_everything(0)
    scm = to_dowhy(prepare(ref, CHAIN).frame, CHAIN)
    s = linear.structure(scm.graph, "c")
    ours = attribution.linear_anomaly(
        s, ref[list(s.columns)].to_numpy(), row[list(s.columns)].to_numpy(), draws=0, rng=rng
    ).point
    theirs = attribution.anomaly_contributions(scm, "c", row, num_samples=20000)
    for node in ("a", "b", "c"):
        assert ours[node] == pytest.approx(theirs[node], abs=0.08), node


def test_change_contribution_of_a_shifted_root() -> None:
    rng = np.random.default_rng(3)
    old, new = chain_rows(200, rng), chain_rows(200, rng, shift_a=1.0)
    data = frame(np.vstack([old, new]), ["a", "b", "c"])
    q = Question(
        "c", baseline=Window(data.index[0], data.index[199]), current=Window(data.index[200], data.index[-1])
    )
    r = investigate(data, CHAIN, q, options=Options(seed=0, bootstrap=100))
    got = {c.node: c for c in r.causes}
    observed = new[:, 2].mean() - old[:, 2].mean()
    assert sum(c.contribution for c in r.causes) == pytest.approx(observed, abs=1e-9)
    assert got["a"].contribution == pytest.approx(BC * AB * (new[:, 0].mean() - old[:, 0].mean()), rel=0.05)
    assert abs(got["b"].contribution) < 0.2 and abs(got["c"].contribution) < 0.2
    assert got["a"].significant and not got["b"].significant
    assert r.regression.detected is False  # c fell, and for c higher is worse
    assert r.model.quality["mechanism_change_p"]["a"] < 1e-6


def test_closed_form_matches_dowhy_distribution_change() -> None:
    rng = np.random.default_rng(4)
    old, new = chain_rows(150, rng), chain_rows(150, rng, shift_a=0.8)
    # Also change b's mechanism (its noise mean) so two players share the change.
    new[:, 1] += 0.7
    new[:, 2] += BC * 0.7
    cols = ["a", "b", "c"]
    seed_everything(0)
    scm = to_dowhy(frame(old, cols), CHAIN)
    s = linear.structure(scm.graph, "c")
    ours = attribution.linear_change(s, old, new, draws=0, rng=rng, alpha=0.05)
    theirs, changed = attribution.change_contributions(
        scm, "c", pd.DataFrame(old, columns=cols), pd.DataFrame(new, columns=cols), num_samples=20000
    )
    assert ours.changed == {"a": True, "b": True, "c": False} == changed
    for node in cols[:2]:
        assert ours.point[node] == pytest.approx(theirs[node], abs=0.12), node


def test_batched_ols_is_scale_free() -> None:
    # Parents in seconds (1e4) and in ratios (1e-2) side by side: the refit must equal plain lstsq.
    rng = np.random.default_rng(11)
    n = 150
    seconds, ratio = rng.lognormal(9.5, 0.3, n), rng.normal(0.8, 0.04, n)
    y = 0.3 - 0.3 * ratio + 2e-6 * seconds + rng.normal(0, 0.01, n)
    data = np.column_stack([seconds, ratio, y])
    s = linear.Structure(columns=("s", "r", "y"), parents=((), (), (0, 1)), target=2)
    got = linear.fit(s, data)
    want = np.linalg.lstsq(np.column_stack([np.ones(n), seconds, ratio]), y, rcond=None)[0]
    assert np.allclose(got.coef[2][0], want[1:], rtol=1e-6)
    assert got.intercept[0, 2] == pytest.approx(want[0], rel=1e-6)


def test_multiplicative_duration_gets_log_linear_and_matches_dowhy() -> None:
    from graphs.model import parse_graph

    graph = parse_graph(
        "name: mult\nunit: week\nnodes:\n  a: {}\n  wait_seconds: {}\nedges: [[a, wait_seconds]]\n", "m.yaml"
    )
    rng = np.random.default_rng(12)
    a = rng.normal(0, 1, 300)
    wait = 3600 * np.exp(0.4 * a + 0.3 * rng.normal(0, 1, 300))
    ref = frame(np.column_stack([a, wait]), ["a", "wait_seconds"])
    row = frame(np.array([[2.5, 3600 * np.exp(0.4 * 2.5 + 0.45)]]), ["a", "wait_seconds"], start="2030-01-01")
    seed_everything(0)
    fitted = fit(prepare(ref, graph).frame, graph)
    assert fitted.mechanisms["wait_seconds"] == "loglinear" and fitted.scm is None  # no DoWhy on this path
    scm = to_dowhy(prepare(ref, graph).frame, graph)
    s = linear.structure(scm.graph, "wait_seconds", frozenset({"wait_seconds"}))
    cols = list(s.columns)
    ours = attribution.sampled_anomaly(
        s, ref[cols].to_numpy(), row[cols].to_numpy(), draws=0, rng=np.random.default_rng(0), samples=4000
    ).point
    theirs = attribution.anomaly_contributions(scm, "wait_seconds", row, num_samples=20000)
    total = row["wait_seconds"].iloc[0] - ref["wait_seconds"].mean()
    assert sum(ours.values()) == pytest.approx(total, rel=1e-9)
    for node in cols:
        assert ours[node] == pytest.approx(theirs[node], rel=0.1, abs=0.02 * total), node
    assert ours["a"] > ours["wait_seconds"] > 0  # the interaction is shared, the larger jump is a's
