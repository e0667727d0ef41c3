"""Plain DoWhy gcm with default arguments, as a whole process: the baseline of :mod:`tests.bench.bench_hard`.

``python -m tests.bench.dowhy_plain --data metrics.csv --graph graph.yaml --target NODE
(--at START[..END] | --baseline START..END --current START..END)`` reads the same files the
``rca`` CLI reads, builds the DAG from the graph file (a lagged edge becomes a shifted copy of its
source column), then runs ``gcm.auto.assign_causal_mechanisms`` + ``gcm.fit`` +
``gcm.attribute_anomalies`` (anomaly) or ``gcm.distribution_change`` (change), all with default
arguments, on a fresh ``InvertibleStructuralCausalModel``. Prints one JSON object: the
contribution of each node (lagged copies summed into their node) and the seconds, or ``error``
(exit 1) when DoWhy raises. Nothing of whydunnit is imported: this is what a user of DoWhy alone
would write. Only the random seed is fixed and the progress bars are off.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import warnings

t_start = time.perf_counter()

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402


def _time(text: str) -> pd.Timestamp:
    ts = pd.Timestamp(text)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _window(text: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    if ".." in text:
        a, b = text.split("..", 1)
        return _time(a), _time(b)
    return _time(text), _time(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--graph", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--at")
    ap.add_argument("--baseline")
    ap.add_argument("--current")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    raw = pd.read_csv(args.data)
    index = pd.to_datetime(raw.iloc[:, 0], utc=True, format="ISO8601")
    frame = raw.drop(columns=raw.columns[0])
    frame.index = pd.DatetimeIndex(index)
    with open(args.graph, encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    dag = nx.DiGraph()
    dag.add_nodes_from(doc["nodes"])
    columns = {n: n for n in doc["nodes"]}
    for e in doc.get("edges", []):
        src, dst = e[0], e[1]
        lag = int(e[2].get("lag", 0)) if len(e) > 2 and isinstance(e[2], dict) else 0
        if lag:
            col = f"{src}[t-{lag}]"
            frame[col] = frame[src].shift(lag)
            columns[col] = src
            dag.add_edge(col, dst)
        else:
            dag.add_edge(src, dst)
    frame = frame[list(dag.nodes)].dropna()

    if args.at:
        lo, hi = _window(args.at)
        reference = frame[frame.index < lo] if not args.baseline else frame[
            (frame.index >= _window(args.baseline)[0]) & (frame.index <= _window(args.baseline)[1])]
        current = frame[(frame.index >= lo) & (frame.index <= hi)]
    else:
        b0, b1 = _window(args.baseline)
        c0, c1 = _window(args.current)
        reference = frame[(frame.index >= b0) & (frame.index <= b1)]
        current = frame[(frame.index >= c0) & (frame.index <= c1)]

    t0 = time.perf_counter()
    try:
        from dowhy import gcm

        gcm.config.disable_progress_bars()
        gcm.util.general.set_random_seed(args.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scm = gcm.InvertibleStructuralCausalModel(dag)
            gcm.auto.assign_causal_mechanisms(scm, reference)
            gcm.fit(scm, reference)
            t_fit = time.perf_counter() - t0
            if args.at:
                out = gcm.attribute_anomalies(scm, args.target, anomaly_samples=current)
            else:
                out = gcm.distribution_change(scm, reference, current, args.target)
    except Exception as exc:  # DoWhy's failures on this data are what is measured
        msg = re.sub(r"\s+", " ", f"{type(exc).__name__}: {exc}")[:200]
        print(json.dumps({"error": msg, "seconds": time.perf_counter() - t_start}))
        return 1
    contributions: dict[str, float] = {}
    for col, value in out.items():
        node = columns.get(col, col)
        contributions[node] = contributions.get(node, 0.0) + float(np.mean(value))
    print(json.dumps({
        "kind": "anomaly" if args.at else "change",
        "contributions": contributions,
        "seconds": {"fit": t_fit, "total": time.perf_counter() - t_start},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
