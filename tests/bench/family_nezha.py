"""Nezha's Online Boutique incidents (optional, real data): read from a local copy of its ``rca_data/`` folder.

The Nezha dataset (MIT licence, https://github.com/IntelligentDDS/Nezha, FSE'23) recorded Online
Boutique on Kubernetes for two days with one fault injected every ~8 minutes: CPU contention, CPU
consumed (a hog), network delay, and two code faults (return, exception). Per minute it keeps every
pod's CPU and server-side p90 latency, each call edge's latency seen by the caller
(``source_50.csv``) and the recorded call graph (``dependency.csv``). Only the faults that CPU and
latency can show are cases (CPU contention, CPU hog, network delay: 42 of the 56).

The graph is the call graph turned causal: ``S.cpu -> S.latency_p90`` for every service, and for a
call ``C -> S``: ``S.latency_p90 -> "C->S.latency_p50" -> C.latency_p90``. The target is the entry
service's p90 latency. The DOT file says only ``agg`` and ``higher_is_worse`` (what a user writes).

Two protocols, one CSV per incident each: **clean**, fitted on the day's fault-free minutes (every
injection's window, a minute before to five after, left out), and **faulted**, fitted on every
other minute of the day, the other incidents' faulted minutes included. The incident's rows (30 s
to 3.5 min after the injection, where the fault shows) follow the fit rows, re-stamped a minute
apart. Scores: the faulted service (a node counts for its service; a call edge for its callee), and
separately the node where the fault shows first (the service's CPU node for a CPU fault, the call
edges into it for a network delay). Nulls ask about a fault-free minute, fitted on the fault-free
minutes before it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from tests.bench.hard_case import HardCase

DAYS = ("2022-08-22", "2022-08-23")
FAULTS = {"cpu_contention": "cpu", "cpu_consumed": "cpu", "network_delay": "network"}
ENTRY = "frontend"
SHOWS = (30, 210)  # seconds after the injection: the minutes a fault shows in (sampled at ~:20 s)
AWAY = (60, 300)  # seconds before and after an injection that are not fault-free


def _service(pod: str) -> str:
    return pod.rsplit("-", 2)[0]


def _minutes(text: pd.Series) -> pd.DatetimeIndex:
    """The minute of each sample, from its printed time (one pod's numeric stamps are garbled)."""
    return pd.DatetimeIndex(pd.to_datetime(text.str[:19], utc=True)).floor("min")


def cpu(s: str) -> str:
    return f"{s}.cpu"


def latency(s: str) -> str:
    return f"{s}.latency_p90"


def edge(caller: str, callee: str) -> str:
    return f"{caller}->{callee}.latency_p50"


def load_day(root: Path, day: str) -> tuple[pd.DataFrame, list[tuple[str, str]], list[dict]]:
    """The day's minutes (one column per node, indexed by UTC minute), its call edges, its faults."""
    metric = root / day / "metric"
    cols: dict[str, pd.Series] = {}
    for f in sorted(metric.glob("*_metric.csv")):
        m = pd.read_csv(f)
        s = _service(str(m["PodName"].iloc[0]))
        idx = _minutes(m["Time"])
        cols[cpu(s)] = pd.Series(m["CpuUsageRate(%)"].to_numpy(float), index=idx)
        cols[latency(s)] = pd.Series(m["PodServerLatencyP90(s)"].to_numpy(float), index=idx)
    services = {n.rsplit(".", 1)[0] for n in cols}
    dep = pd.read_csv(metric / "dependency.csv")
    calls = [(a, b) for a, b in zip(dep["Source"], dep["Target"], strict=True) if a in services and b in services]
    src = pd.read_csv(metric / "source_50.csv")
    idx = _minutes(src["time"])
    for a, b in calls:
        if f"{a}_{b}" in src.columns:
            cols[edge(a, b)] = pd.Series(src[f"{a}_{b}"].to_numpy(float), index=idx)
    calls = [(a, b) for a, b in calls if edge(a, b) in cols]
    frame = pd.DataFrame({k: v[~v.index.duplicated()] for k, v in cols.items()}).sort_index()
    frame.index.name = "ts"
    faults = [x for v in json.loads((root / day / f"{day}-fault_list.json").read_text()).values() for x in v]
    return frame.dropna(), calls, faults


def graph_of(frame: pd.DataFrame, calls: list[tuple[str, str]]) -> tuple[dict[str, dict], tuple]:
    services = sorted({n.rsplit(".", 1)[0] for n in frame.columns if "->" not in n})
    edges = [(cpu(s), latency(s), 0) for s in services]
    for a, b in calls:
        edges += [(latency(b), edge(a, b), 0), (edge(a, b), latency(a), 0)]
    nodes = {n: {"agg": "mean", "higher_is_worse": True} for n in frame.columns}
    return nodes, tuple(edges)


def _restamped(fit: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows.copy()
    rows.index = pd.DatetimeIndex([fit.index[-1] + pd.Timedelta(minutes=i + 1) for i in range(len(rows))], name="ts")
    return pd.concat([fit, rows])


def nezha_cases(root: str | Path, nulls: int = 6) -> dict[str, list[HardCase]]:
    """``{"clean": [...], "faulted": [...]}``: the 42 incidents under both protocols, nulls with the clean ones."""
    root = Path(root)
    out: dict[str, list[HardCase]] = {"clean": [], "faulted": []}
    null_cases: list[HardCase] = []
    for day in DAYS:
        if not (root / day / "metric").is_dir():
            continue
        frame, calls, faults = load_day(root, day)
        nodes, edges = graph_of(frame, calls)
        t = np.asarray((frame.index - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1))
        away = np.zeros(len(frame), dtype=bool)
        for f in faults:
            at = int(f["inject_timestamp"])
            away |= (t >= at - AWAY[0]) & (t <= at + AWAY[1])
        clean = frame[~away]
        callers = {b: [a for a, c in calls if c == b] for _, b in calls}
        for f in faults:
            kind = FAULTS.get(f["inject_type"])
            if kind is None:
                continue
            at, svc = int(f["inject_timestamp"]), _service(f["inject_pod"])
            shows = np.asarray((t > at + SHOWS[0]) & (t <= at + SHOWS[1]))
            mine = np.asarray((t >= at - AWAY[0]) & (t <= at + AWAY[1]))
            rows = frame[shows]
            if rows.empty:
                continue
            first = (cpu(svc),) if kind == "cpu" else tuple(edge(a, svc) for a in callers.get(svc, ())) or (latency(svc),)
            stamp = pd.Timestamp(at, unit="s", tz="UTC").strftime("%H%M")
            for protocol, fit in (("clean", clean), ("faulted", frame[~mine])):
                data = _restamped(fit, rows)
                out[protocol].append(HardCase(
                    name=f"nezha-{protocol}-{day}-{stamp}-{svc}-{f['inject_type']}",
                    family=f"nezha-{protocol}", kind="anomaly", injected=True, data=data, nodes=nodes,
                    graph_edges=edges, true_edges=edges, target=latency(ENTRY), cause=svc,
                    at=(data.index[len(fit)], data.index[-1]), graph_name="online-boutique", unit="hour",
                    graph_format="dot", service_of=_services(nodes), first_nodes=first,
                    note=f"{day} {f['inject_time']} {f['inject_type']} at {svc}",
                ))
        n = len(clean)
        for k in range(nulls // len(DAYS)):
            cut = int(n * (0.5 + 0.45 * k / max(1, nulls // len(DAYS) - 1)))
            data = clean.iloc[: cut + 1]
            null_cases.append(HardCase(
                name=f"nezha-clean-{day}-null-{cut}", family="nezha-clean", kind="anomaly", injected=False,
                data=data, nodes=nodes, graph_edges=edges, true_edges=edges, target=latency(ENTRY), cause=None,
                at=(data.index[-1], data.index[-1]), graph_name="online-boutique", unit="hour", graph_format="dot",
                note=f"{day}: a fault-free minute",
            ))
    out["clean"] += null_cases
    return out


def _services(nodes: dict[str, dict]) -> dict[str, str]:
    """Each node's service: its own, or a call edge's callee."""
    out = {}
    for n in nodes:
        head = n.rsplit(".", 1)[0]
        out[n] = head.split("->")[-1]
    return out
