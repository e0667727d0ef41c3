"""Hard benchmark cases: messy data with known injected root causes, and null cases.

Each family is a pure function of a seed and is generated with numpy/scipy only: nothing here
imports the engine (``rca.engine``) or shares its modelling assumptions. Every case carries the
table (first column time, one column per node), the graph text handed to the tool (YAML), the
question (an anomaly window ``at`` or ``baseline``/``current`` windows), the injected node (None
in null cases) and the DAG the data really follow.

Families:

``micro-latency``
    A 30-45 service call graph (a tree plus shared backends). A service's latency is its own
    heavy-tailed time (log-normal, sigma 0.5-1.1, or Pareto-tailed with alpha 1.5-3) plus the sum
    (sequential calls) or the max (parallel fan-out) of its callees' latencies; some calls only
    happen on a cache miss, some are cut by a timeout, some wait on a connection pool that
    queues (up to 3x) once the callee slows down; every client gives up at 30 s. An unobserved
    traffic level (a daily cycle plus slow noise) slows every service to its own degree. A fault
    adds a latency spike to one service's own time (anywhere, mid-chain included) on the last 1-3
    rows, sized so the front end only just leaves its normal range (1.0-1.3 times the smallest
    spike that lifts it above its 99th percentile). Target: the front end. 300-600 normal rows.
``micro-errors``
    Error counts per service: own errors negative-binomial with means 0.05-0.5 (mostly zero),
    scaled by an unobserved traffic cycle; a caller gets a binomial share of each callee's
    errors, or, behind a retrying client, twice them once they pass a threshold. Fault: a Poisson
    error burst in one service, 1.0-1.5 times the smallest that lifts the front end's errors
    above their 99.5th percentile (and 2 above their mean).
``se-ratios``
    Weekly delivery metrics of a small team: commits per week 1-40 (holiday weeks with one or two
    commits), ratios as binomial counts over that denominator, ``commits_count`` in the graph, a
    lagged edge. Change mode: the last 13 weeks. Injected: a shift in one upstream mechanism that
    moves the target's mean by 0.5-0.9 of its weekly standard deviation. Nulls: nothing
    injected, but a week with one commit and one fix (a 100% bug-fix ratio) sits in the current
    window, or is itself the anomaly asked about.
``se-nonlinear``
    Daily CI metrics: build time as a product (test count to a power, times a cache-miss
    threshold, times log-normal noise), runner utilisation with queueing saturation
    (``u / (1 - u)``), flaky retries multiplying the pipeline time, weekly seasonality and a
    trend. Change mode (last 30 days; the target's mean moves by 0.6-1.2 of its daily standard
    deviation) and spike mode (last 1-2 days, just above the target's 99th percentile).
``wrong-graph``
    Weekly delivery data from one DAG with an unobserved common cause (a slowly varying "release
    pressure" driving two nodes); the graph handed to the tool misses one true edge and has one
    spurious edge. The injected node is upstream of the target in the true DAG; whether it still
    is in the given graph is recorded (``cause_upstream_in_given``). Change mode (last 20 weeks,
    0.5-1.0 standard deviations) and spike mode (last week, 3-4.5 standard deviations).
``mid-chain``
    A chain ``A -> B -> C -> D -> E -> target`` (daily review and merge metrics) with side inputs
    and non-linear links (exp, power, tanh saturation); the fault sits at B or C. Change mode
    (last 25 days) and spike mode (last 1-2 days).

A seventh, optional family, ``petshop``, reads real data with known root causes (the PetShop
dataset, CC-BY-4.0, https://github.com/amazon-science/petshop-root-cause-analysis) from a local
copy; nothing in the tests or CI depends on it. So does ``nezha`` (Online Boutique incidents, MIT,
https://github.com/IntelligentDDS/Nezha), in two protocols (:mod:`tests.bench.family_nezha`).
Each family lives in its own module (``family_*.py``); the case type and shared helpers in
:mod:`tests.bench.hard_case`.
"""

from __future__ import annotations

from tests.bench.family_micro import micro_errors_case, micro_latency_case
from tests.bench.family_mid_chain import mid_chain_case
from tests.bench.family_nezha import nezha_cases
from tests.bench.family_petshop import petshop_cases
from tests.bench.family_se_nonlinear import se_nonlinear_case
from tests.bench.family_se_ratios import se_ratios_case
from tests.bench.family_wrong_graph import wrong_graph_case
from tests.bench.hard_case import HardCase

__all__ = ["FAMILIES", "MICRO", "SE", "HardCase", "family_cases", "micro_errors_case", "micro_latency_case",
           "mid_chain_case", "nezha_cases", "petshop_cases", "se_nonlinear_case", "se_ratios_case", "wrong_graph_case"]

FAMILIES = ("micro-latency", "micro-errors", "se-ratios", "se-nonlinear", "wrong-graph", "mid-chain")
MICRO = ("micro-latency", "micro-errors")
SE = ("se-ratios", "se-nonlinear", "wrong-graph", "mid-chain")


def family_cases(family: str, injected: int, nulls: int, seed: int = 0) -> list[HardCase]:
    """``injected`` injected and ``nulls`` null cases of one family; modes alternate where a family has two."""
    out: list[HardCase] = []
    base = seed * 1_000_003 + FAMILIES.index(family) * 10_007
    for i in range(injected + nulls):
        inj = i < injected
        j = i if inj else i - injected
        s = base + i
        mode = ("change", "anomaly")[j % 2]
        if family == "micro-latency":
            out.append(micro_latency_case(s, inj))
        elif family == "micro-errors":
            out.append(micro_errors_case(s, inj))
        elif family == "se-ratios":
            out.append(se_ratios_case(s, inj, "change" if inj else mode))
        elif family == "se-nonlinear":
            out.append(se_nonlinear_case(s, inj, mode))
        elif family == "wrong-graph":
            out.append(wrong_graph_case(s, inj, mode))
        elif family == "mid-chain":
            out.append(mid_chain_case(s, inj, mode))
        else:
            raise ValueError(f"unknown family {family!r}")
    return out
