"""The hard benchmark's generators: deterministic, honest about causes, integer counts (no engine runs)."""

from __future__ import annotations

import io
import json

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from graphs.model import parse_graph
from tests.bench import bench_hard
from tests.bench import hard_scenarios as hs
from tests.bench.hard_scenarios import FAMILIES, HardCase, family_cases

# two injected and two null cases per family: both modes of the families that have two
CASES = {fam: family_cases(fam, 2, 2, seed=3) for fam in FAMILIES}
ALL = [c for cs in CASES.values() for c in cs]


def _ids(cases: list[HardCase]) -> list[str]:
    return [c.name for c in cases]


@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_same_cases_other_seed_other_cases(family):
    again = family_cases(family, 2, 0, seed=3)  # the injected two again (the nulls follow the same path)
    for a, b in zip(CASES[family][:2], again, strict=True):
        assert a.name == b.name and a.cause == b.cause and a.graph_yaml() == b.graph_yaml()
        pd.testing.assert_frame_equal(a.data, b.data)
        assert a.question_args() == b.question_args()
    other = family_cases(family, 1, 0, seed=4)[0]
    assert not other.data.equals(CASES[family][0].data)


@pytest.mark.parametrize("case", ALL, ids=_ids(ALL))
def test_the_tool_gets_a_valid_graph_that_matches_the_table(case):
    graph = parse_graph(case.graph_yaml(), f"{case.name}.yaml")  # what `rca investigate --graph` reads
    assert set(graph.nodes) == set(case.data.columns)
    assert case.target in graph.nodes
    frame = pd.read_csv(io.StringIO(case.csv_text()))
    assert list(frame.columns[1:]) == list(case.data.columns)
    assert pd.to_datetime(frame.iloc[:, 0], utc=True, format="ISO8601").is_monotonic_increasing
    assert case.reference_mask().sum() >= 50 and case.current_mask().sum() >= 1
    assert not (case.reference_mask() & case.current_mask()).any()
    assert np.isfinite(case.data.to_numpy(dtype=float)).all()


@pytest.mark.parametrize("case", [c for c in ALL if c.injected], ids=_ids([c for c in ALL if c.injected]))
def test_the_injected_cause_is_upstream_of_the_target(case):
    graph = parse_graph(case.graph_yaml(), f"{case.name}.yaml")
    assert case.cause is not None and case.cause != case.target
    assert _upstream(case.true_edges, case.cause, case.target), "the data's own DAG must lead from cause to target"
    given_upstream = case.cause in graph.ancestors(case.target)
    if case.family == "wrong-graph":
        assert case.cause_upstream_in_given == given_upstream  # a wrong-graph case says which it is
    else:
        assert given_upstream and case.cause_upstream_in_given


def _upstream(edges, cause: str, target: str) -> bool:
    g = nx.DiGraph((s, t) for s, t, _ in edges)
    return cause in g and target in g and nx.has_path(g, cause, target)


_TWINS = {
    "micro-latency": lambda s, i: hs.micro_latency_case(s, i),
    "micro-errors": lambda s, i: hs.micro_errors_case(s, i),
    "se-ratios": lambda s, i: hs.se_ratios_case(s, i, "change"),
    "se-nonlinear-change": lambda s, i: hs.se_nonlinear_case(s, i, "change"),
    "se-nonlinear-anomaly": lambda s, i: hs.se_nonlinear_case(s, i, "anomaly"),
    "wrong-graph-change": lambda s, i: hs.wrong_graph_case(s, i, "change"),
    "wrong-graph-anomaly": lambda s, i: hs.wrong_graph_case(s, i, "anomaly"),
    "mid-chain-change": lambda s, i: hs.mid_chain_case(s, i, "change"),
    "mid-chain-anomaly": lambda s, i: hs.mid_chain_case(s, i, "anomaly"),
}


@pytest.mark.parametrize("twin", list(_TWINS))
def test_null_cases_inject_nothing(twin):
    """A null case is its injected twin (same seed, same question) with the injection taken out.

    Everything that is neither the injected node nor downstream of it is identical, and so is every
    row before the question's window; the injected node and its descendants differ only inside the
    window. (se-ratios nulls also plant one holiday week with 1 commit and 1 fix: that row may differ.)
    """
    for seed in (17,):
        inj, null = _TWINS[twin](seed, True), _TWINS[twin](seed, False)
        assert null.cause is None and not null.injected and inj.cause is not None
        assert inj.question_args() == null.question_args() and inj.target == null.target
        g = nx.DiGraph((s, t) for s, t, _ in inj.true_edges)
        downstream = {inj.cause} | nx.descendants(g, inj.cause)
        window = inj.current_mask()
        planted = np.zeros(len(window), bool)
        if inj.family == "se-ratios":
            planted = np.asarray(null.data["commits_count"] == 1) & np.asarray(null.data["bug_fix_commit_ratio"] == 1.0)
        keep = ~planted
        for col in inj.data.columns:
            a, b = inj.data[col].to_numpy()[keep], null.data[col].to_numpy()[keep]
            if col in downstream:
                assert np.array_equal(a[~window[keep]], b[~window[keep]]), f"{col} moved before the window"
            else:
                assert np.array_equal(a, b), f"{col} moved but is not downstream of {inj.cause}"
        assert not np.array_equal(inj.data[inj.cause].to_numpy(), null.data[inj.cause].to_numpy())


def test_every_case_says_whether_it_is_null():
    for c in ALL:
        assert (c.cause is None) == (not c.injected)


@pytest.mark.parametrize("case", ALL, ids=_ids(ALL))
def test_count_columns_are_integers(case):
    for col in case.counts:
        assert pd.api.types.is_integer_dtype(case.data[col]), f"{col} is {case.data[col].dtype}"
        assert (case.data[col] >= 0).all()
    text = case.csv_text().splitlines()
    header = text[0].split(",")
    for col in case.counts:  # and they reach the CSV as whole numbers (no "3.0")
        i = header.index(col)
        assert all("." not in line.split(",")[i] for line in text[1:50])


def test_micro_errors_are_mostly_zero_counts():
    for c in CASES["micro-errors"]:
        ref = c.data[c.reference_mask()]
        zero_share = (ref == 0).to_numpy().mean()
        assert zero_share > 0.5
        assert set(c.counts) == set(c.data.columns)


def test_se_ratio_nulls_hold_a_one_commit_week_that_reads_100_percent():
    nulls = [c for c in CASES["se-ratios"] if not c.injected]
    assert {c.kind for c in nulls} == {"change", "anomaly"}
    for c in nulls:
        cur = c.data[c.current_mask()]
        hit = cur[(cur["commits_count"] == 1) & (cur["bug_fix_commit_ratio"] == 1.0)]
        assert len(hit) >= 1
        if c.kind == "anomaly":
            assert c.current_mask().sum() == 1 and len(hit) == 1


def test_wrong_graph_misses_one_true_edge_and_adds_one_spurious_edge():
    for c in CASES["wrong-graph"]:
        given = {(s, t) for s, t, _ in c.graph_edges}
        true = {(s, t) for s, t, _ in c.true_edges}
        assert len(true - given) == 1 and len(given - true) == 1
        assert c.hidden and all(h not in c.data.columns for h in c.hidden)


def test_baselines_score_a_planted_case():
    """The z-score and traversal baselines read the windows the way the tool does."""
    c = next(x for x in CASES["mid-chain"] if x.injected and x.kind == "anomaly")
    z = bench_hard.z_scores(c)
    assert z[c.cause] > 3
    assert bench_hard.run_traversal(c).rank is not None
    assert bench_hard.run_zscore(c, robust=True).rank is not None


def test_the_generator_and_the_baselines_do_not_import_the_engine():
    """The cases are built without the engine's modelling code; the CLI is the only way in."""
    import ast
    from pathlib import Path

    folder = Path(__file__).parent / "bench"
    for name in ("hard_scenarios.py", "bench_hard.py", "dowhy_plain.py"):
        tree = ast.parse((folder / name).read_text(encoding="utf-8"))
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        ours = sorted(m for m in imported if m.split(".")[0] in {"rca", "graphs", "collectors", "reports"})
        assert not ours, f"{name} imports {ours}"


# --- the real-data families' loaders, on files laid out as the datasets lay them out ---------------

def _nezha_day(root, day: str = "2022-08-22", minutes: int = 90) -> list[int]:
    """A tiny day in Nezha's layout: two services, one call, two faults (one the loader skips)."""
    metric = root / day / "metric"
    metric.mkdir(parents=True)
    start = pd.Timestamp(f"{day} 03:51:19", tz="UTC")
    stamps = [start + pd.Timedelta(minutes=i) for i in range(minutes)]
    text = [s.strftime("%Y-%m-%d %H:%M:%S.123456 +0000 UTC m=+0.1") for s in stamps]
    rng = np.random.default_rng(0)
    for pod in ("frontend-579b9bff58-t2dbm", "cartservice-579f59597d-wc2lz"):
        pd.DataFrame({"Time": text, "TimeStamp": [int(s.timestamp()) for s in stamps], "PodName": pod,
                      "CpuUsageRate(%)": rng.uniform(3, 8, minutes),
                      "PodServerLatencyP90(s)": rng.uniform(0.1, 0.2, minutes)}).to_csv(metric / f"{pod}_metric.csv", index=False)
    pd.DataFrame({"Source": ["frontend", "frontend"], "Target": ["cartservice", "33.33.33.80"], "Weight": [1, 1]}).to_csv(
        metric / "dependency.csv", index=False)
    pd.DataFrame({"time": text, "timestamp": [int(s.timestamp()) for s in stamps],
                  "frontend_cartservice": rng.uniform(0.004, 0.006, minutes)}).to_csv(metric / "source_50.csv", index=False)
    faults = [(30, "cartservice-579f59597d-wc2lz", "network_delay"), (60, "frontend-579b9bff58-t2dbm", "return")]
    doc = {"03": [{"inject_time": str(stamps[i]), "inject_timestamp": str(int(stamps[i].timestamp()) - 19),
                   "inject_pod": pod, "inject_type": kind} for i, pod, kind in faults]}
    (root / day / f"{day}-fault_list.json").write_text(json.dumps(doc))
    return [i for i, _, _ in faults]


def test_the_nezha_loader_builds_both_protocols_from_the_call_graph(tmp_path) -> None:
    from tests.bench.family_nezha import nezha_cases

    at = _nezha_day(tmp_path)
    both = nezha_cases(tmp_path, nulls=2)
    clean, faulted = ([c for c in both[p] if c.injected] for p in ("clean", "faulted"))
    assert len(clean) == len(faulted) == 1  # the code fault (return) is no case
    c, f = clean[0], faulted[0]
    assert c.cause == "cartservice" and c.first_nodes == ("frontend->cartservice.latency_p50",)
    assert set(c.graph_edges) == {("cartservice.cpu", "cartservice.latency_p90", 0),
                                  ("frontend.cpu", "frontend.latency_p90", 0),
                                  ("cartservice.latency_p90", "frontend->cartservice.latency_p50", 0),
                                  ("frontend->cartservice.latency_p50", "frontend.latency_p90", 0)}
    asked = c.data.index >= c.at[0]
    assert asked.sum() == 3 and (c.data.index[asked] > c.data.index[~asked].max()).all()
    # clean leaves out every injection's minutes (both faults: 2 x 7), faulted only this one's (7)
    assert (~asked).sum() == 90 - 14 and (f.data.index < f.at[0]).sum() == 90 - 7
    g = parse_graph(c.graph_dot(), "g.dot")  # what a user writes: agg and higher_is_worse only
    assert all(n.kind == "auto" and n.mechanism == "auto" for n in g.nodes.values())
    assert at and c.service_of["frontend->cartservice.latency_p50"] == "cartservice"


def test_first_and_service_ranks_are_scored_apart() -> None:
    ordered = ["frontend->cartservice.latency_p50", "cartservice.cpu", "frontend.latency_p90"]
    svc = {"frontend->cartservice.latency_p50": "cartservice", "cartservice.cpu": "cartservice",
           "frontend.latency_p90": "frontend"}
    assert bench_hard._rank(ordered, "cartservice", svc) == 1
    assert bench_hard._rank(ordered, "frontend", svc) == 2
    assert bench_hard._first_rank(ordered, ("cartservice.cpu",)) == 2
