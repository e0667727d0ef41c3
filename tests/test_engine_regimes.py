"""Faults the fit window never saw, network delays on a leaf, improvements, and shares that add up.

Small seeded data with a known answer each; every test failed on the ranking that trusted the
fitted coefficient alone, ranked only the bad direction, or let the target's own part pull
against the observed change.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from graphs.model import parse_graph
from rca.engine import Options, Question, Window, investigate

OPTS = Options(seed=0, bootstrap=40)


def _minutes(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2026-01-01", periods=n, freq="min", tz="UTC", name="ts")


def _anomaly(df: pd.DataFrame, graph, target: str, rows: int):
    return investigate(df, graph, Question(target, at=Window(df.index[-rows], df.index[-1])), options=OPTS)


# --- (a) a CPU that saturates: the fit window never exercised CPU -> latency ---------------------

CPU_GRAPH = parse_graph("""digraph shop {
  graph [unit=hour];
  "cart.cpu" [agg=mean, higher_is_worse=true];
  "cart.latency_p90" [agg=mean, higher_is_worse=true];
  "front.cpu" [agg=mean, higher_is_worse=true];
  "front.latency_p90" [agg=mean, higher_is_worse=true];
  "cart.cpu" -> "cart.latency_p90" -> "front.latency_p90";
  "front.cpu" -> "front.latency_p90";
}""", "shop.dot")


def _saturating_cpu(seed: int, n: int = 400, k: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cpu = rng.normal(6.0, 1.5, n).clip(1)
    # in ordinary minutes the CPU barely moves the latency (a slightly negative fit, by chance of load)
    lat = 0.005 - 0.00005 * (cpu - 6) + rng.lognormal(np.log(0.0003), 0.3, n)
    cpu[-k:] = rng.normal(88.0, 0.5, k)  # contention: the CPU saturates ...
    lat[-k:] = rng.uniform(0.2, 0.45, k)  # ... and requests queue behind it
    fcpu = rng.normal(20.0, 3.0, n)
    front = 0.25 + 1.5 * lat + 0.004 * (fcpu - 20) + rng.lognormal(np.log(0.05), 0.4, n)
    return pd.DataFrame({"cart.cpu": cpu, "cart.latency_p90": lat, "front.cpu": fcpu, "front.latency_p90": front},
                        index=_minutes(n))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_saturated_cpu_the_fit_never_saw_is_where_the_deviation_starts(seed: int) -> None:
    r = _anomaly(_saturating_cpu(seed), CPU_GRAPH, "front.latency_p90", 3)
    assert r.causes[0].node == "cart.cpu", [(c.node, round(c.evidence, 1), c.direction) for c in r.causes]
    assert r.causes[1].node == "cart.latency_p90"
    # the fitted effect of cart.cpu (or of cart.latency on the front end) is ~0 or opposite: said, not hidden
    assert any(c.startswith("the fit window shows") and "cart." in c for c in r.caveats), r.caveats


# --- (b) a network delay on a leaf: the callee's call edge, not only the caller ----------------

LEAF_GRAPH = parse_graph("""digraph shop {
  graph [unit=hour];
  "payment.latency_p90" [agg=mean, higher_is_worse=true];
  "checkout->payment.latency_p50" [agg=mean, higher_is_worse=true];
  "checkout.cpu" [agg=mean, higher_is_worse=true];
  "checkout.latency_p90" [agg=mean, higher_is_worse=true];
  "front.latency_p90" [agg=mean, higher_is_worse=true];
  "payment.latency_p90" -> "checkout->payment.latency_p50" -> "checkout.latency_p90" -> "front.latency_p90";
  "checkout.cpu" -> "checkout.latency_p90";
}""", "shop.dot")


def _network_delay(seed: int, n: int = 400, k: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pay = rng.lognormal(np.log(0.003), 0.2, n)
    net = rng.normal(0.0015, 0.0002, n)
    net[-k:] += 0.22  # the delay: on the wire between checkout and payment only
    call = pay + net
    cpu = rng.normal(10, 2, n)
    # the caller's p90 hides its callee's p50 in ordinary minutes (its own spread is far wider)
    checkout = 0.02 + 0.002 * (cpu - 10) + rng.lognormal(np.log(0.03), 0.6, n)
    checkout[-k:] += 1.6 * call[-k:]
    front = 0.1 + checkout + rng.lognormal(np.log(0.05), 0.4, n)
    return pd.DataFrame({"payment.latency_p90": pay, "checkout->payment.latency_p50": call, "checkout.cpu": cpu,
                         "checkout.latency_p90": checkout, "front.latency_p90": front}, index=_minutes(n))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_network_delay_on_a_leaf_names_the_call_edge_first(seed: int) -> None:
    r = _anomaly(_network_delay(seed), LEAF_GRAPH, "front.latency_p90", 3)
    assert r.causes[0].node == "checkout->payment.latency_p50", [(c.node, round(c.evidence, 1), c.direction)
                                                                  for c in r.causes]


# --- (d) the target moved the good way: the same rule ranks the improvement --------------------

QUALITY = parse_graph("""digraph quality {
  graph [unit=week];
  coverage_ratio [agg=last, higher_is_worse=false];
  change_lines [agg=median, higher_is_worse=true];
  review_hours [agg=median, higher_is_worse=true];
  bug_ratio [agg=mean, higher_is_worse=true];
  coverage_ratio -> bug_ratio; change_lines -> bug_ratio; review_hours -> bug_ratio;
}""", "quality.dot")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_improvement_names_the_unusual_cause_that_pushed_it_first(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 110
    cov = 0.6 + 0.02 * rng.normal(size=n)
    cov[80:] += 0.12  # a testing push
    lines = np.exp(4 + 0.4 * rng.normal(size=n))
    review = rng.gamma(4.0, 3.0, n)
    bug = 0.55 - 0.6 * cov + 0.0005 * lines + 0.002 * review + 0.015 * rng.normal(size=n)
    df = pd.DataFrame({"coverage_ratio": cov, "change_lines": lines, "review_hours": review, "bug_ratio": bug},
                      index=pd.date_range("2023-01-02", periods=n, freq="7D", tz="UTC", name="ts"))
    q = Question("bug_ratio", baseline=Window(df.index[0], df.index[79]), current=Window(df.index[80], df.index[-1]))
    r = investigate(df, QUALITY, q, options=OPTS)
    assert r.observed.current < r.observed.baseline  # it got better
    assert r.causes[0].node == "coverage_ratio", [(c.node, round(c.contribution, 4), c.unusual) for c in r.causes]
    assert r.causes[0].direction == "better" and r.causes[0].significant
    assert r.explanation.index("coverage") < r.explanation.index("change lines") if "change lines" in r.explanation \
        else "coverage" in r.explanation


# --- (e) shares add up to the observed change, each with the sign of its push -------------------

SAT_GRAPH = parse_graph("""digraph sat {
  graph [unit=hour];
  "queue.depth" [agg=mean, higher_is_worse=true];
  "api.latency" [agg=mean, higher_is_worse=true];
  "queue.depth" -> "api.latency";
}""", "sat.dot")


@pytest.mark.parametrize("seed", [0, 1])
def test_shares_add_up_with_no_target_part_pulling_against_a_worse_target(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k = 300, 2
    depth = rng.gamma(3.0, 2.0, n)
    lat = 0.05 + 0.01 * depth + rng.normal(0, 0.004, n)
    depth[-k:] = 400.0  # a queue 60x deeper than ever ...
    lat[-k:] = 2.0  # ... but the latency saturates at the client's timeout: ~40x worse, not 60x
    df = pd.DataFrame({"queue.depth": depth, "api.latency": lat}, index=_minutes(n))
    r = _anomaly(df, SAT_GRAPH, "api.latency", k)
    by = {c.node: c for c in r.causes}
    total = sum(c.share for c in r.causes if c.node != "api.latency") + r.unexplained.share
    assert total == pytest.approx(1.0, abs=1e-6)
    assert by["queue.depth"].share == pytest.approx(1.0, abs=0.05)
    assert r.unexplained.share > -0.05, (r.unexplained, [(c.node, c.share) for c in r.causes])
    assert any("more than the whole change" in c for c in r.caveats), r.caveats
    lo, hi = by["queue.depth"].interval
    assert lo <= by["queue.depth"].contribution <= hi
    # held at its baseline, the queue leaves the latency where it was, not below zero
    change = r.observed.current - r.observed.baseline
    assert abs(r.counterfactuals[0].target - r.observed.baseline) < 0.1 * change


# --- no units declared: inside its fitted range an ancestor explains what the fit says it does ----

PETS = parse_graph("""digraph pets {
  "adoptions-db" [agg=mean, higher_is_worse=true];
  "payforadoption" [agg=mean, higher_is_worse=true];
  "PetSite" [agg=mean, higher_is_worse=true];
  "adoptions-db" -> "payforadoption" -> "PetSite";
}""", "pets.dot")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_ancestor_inside_its_fitted_range_does_not_take_a_fault_it_cannot_explain(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    db = rng.normal(0.0039, 0.0004, n)
    db[50] = 0.0098  # the fit window has seen the database this slow before
    pay = 0.2 + 3.0 * db + rng.normal(0, 0.02, n)
    db[-1] = 0.006  # unusual for the database (5 sd), but a move of 2 ms ...
    pay[-1] += 0.2  # ... beside a payment service 200 ms slower on its own
    site = 0.3 + pay + rng.normal(0, 0.02, n)
    df = pd.DataFrame({"adoptions-db": db, "payforadoption": pay, "PetSite": site}, index=_minutes(n))
    r = _anomaly(df, PETS, "PetSite", 1)
    assert r.causes[0].node == "payforadoption", [(c.node, round(c.evidence, 1), c.unusual) for c in r.causes]
