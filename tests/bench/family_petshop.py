"""PetShop, real incidents (optional): read from a local copy of the dataset's ``dataset/`` folder.

The PetShop dataset (CC-BY-4.0, https://github.com/amazon-science/petshop-root-cause-analysis) is not
vendored; nothing in the tests depends on it.
"""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pandas as pd

from tests.bench.hard_case import HardCase


def _petshop_scenario(root: Path, scenario: str):
    adj = pd.read_csv(root / scenario / "graph.csv", index_col=0)
    normal = pd.read_csv(root / scenario / "noissue" / "metrics.csv", header=[0, 1, 2], index_col=0)
    issues = []
    for split in ("train", "test"):
        folder = root / scenario / split
        if not folder.is_dir():
            continue
        for d in sorted(folder.iterdir(), key=lambda p: (len(p.name), p.name)):
            if (d / "metrics.csv").is_file() and (d / "target.json").is_file():
                m = pd.read_csv(d / "metrics.csv", header=[0, 1, 2], index_col=0)
                issues.append((f"{split}-{d.name}", m, json.loads((d / "target.json").read_text())))
    return adj, normal, issues


def _reduce(df: pd.DataFrame, metric: str, statistic: str) -> pd.DataFrame:
    sub = df.loc[:, (slice(None), [metric], [statistic])]
    sub.columns = [c[0] for c in sub.columns]
    return sub


def petshop_cases(root: str | Path, injected: int | None = None, nulls: int = 4) -> list[HardCase]:
    """Issues of the low- and high-traffic scenarios (``Average`` latency or availability at PetSite).

    The call graph (caller -> callee) is reversed into a causal graph (callee -> caller). Each case
    is the scenario's normal period followed by one abnormal row (the third row of the issue's
    window, as the dataset's own evaluation does), re-stamped 5 minutes after the last normal row
    (the dataset's normal period was recorded after the issues). Missing values are filled with
    the node's mean over the normal period (the dataset's own recipe); nodes never observed in the
    normal period are left out of the graph, their callers inheriting their callees. Null cases
    ask about a row of the normal period, the model fitted on the rows before it.
    """
    root = Path(root)
    cases: list[HardCase] = []
    nulls_out: list[HardCase] = []
    for scenario in ("low_traffic", "high_traffic"):
        if not (root / scenario / "noissue" / "metrics.csv").is_file():
            continue
        adj, normal_all, issues = _petshop_scenario(root, scenario)
        call = nx.from_pandas_adjacency(adj, create_using=nx.DiGraph)
        causal = call.reverse()
        for metric in ("latency", "availability"):
            normal = _reduce(normal_all, metric, "Average")
            normal.index = pd.to_datetime(normal.index.astype(float), unit="s", utc=True)
            observed = [c for c in normal.columns if normal[c].notna().any() and c in causal]
            g = causal.copy()
            for node in list(g.nodes):
                if node not in observed:
                    for p in list(g.predecessors(node)):
                        for ch in list(g.successors(node)):
                            if p != ch:
                                g.add_edge(p, ch)
                    g.remove_node(node)
            filled = normal[observed].fillna(normal[observed].mean())
            # What a user writes: how each node aggregates and which way is bad, no kinds or mechanisms.
            nodes = {c: {"agg": "mean", "higher_is_worse": metric == "latency"} for c in observed}
            edges = tuple((s, t, 0) for s, t in g.edges)
            step = pd.Timedelta(minutes=5)
            for label, m, tgt in issues:
                if tgt["target"]["metric"] != metric or tgt["target"]["agg"] != "Average":
                    continue
                ab = _reduce(m, metric, "Average")
                row = ab.iloc[2:3].reindex(columns=observed)
                row = row.fillna(filled.mean())
                row.index = pd.DatetimeIndex([filled.index[-1] + step], name="ts")
                data = pd.concat([filled, row])
                data.index.name = "ts"
                cause = tgt["root_cause"]["node"]
                target = tgt["target"]["node"]
                if cause not in observed or target not in observed:
                    continue
                cases.append(HardCase(
                    name=f"petshop-{scenario}-{metric}-{label}",
                    family="petshop", kind="anomaly", injected=True, data=data, nodes=nodes,
                    graph_edges=edges, true_edges=edges, target=target, cause=cause,
                    at=(row.index[0], row.index[0]),
                    cause_upstream_in_given=cause in nx.ancestors(g, target),
                    note=f"{scenario} {metric}: {tgt['metadata'].get('reproducibility', {}).get('command', '')}",
                    graph_name=f"petshop-{scenario}-{metric}", unit="hour", graph_format="dot",
                ))
            n = len(filled)
            for frac in (0.6, 0.7, 0.8, 0.9):
                cut = int(n * frac)
                data = filled.iloc[: cut + 1].copy()
                data.index.name = "ts"
                nulls_out.append(HardCase(
                    name=f"petshop-{scenario}-{metric}-null-{int(frac * 100)}",
                    family="petshop", kind="anomaly", injected=False, data=data, nodes=nodes,
                    graph_edges=edges, true_edges=edges, target="PetSite", cause=None,
                    at=(data.index[-1], data.index[-1]), note=f"{scenario} {metric}: a normal row",
                    graph_name=f"petshop-{scenario}-{metric}", unit="hour", graph_format="dot",
                ))
    if injected is not None:
        # spread the subset over scenarios and metrics: every k-th case
        step = max(1, len(cases) // max(1, injected))
        cases = cases[::step][:injected]
    step = max(1, len(nulls_out) // max(1, nulls))
    return cases + nulls_out[::step][:nulls]
