"""Accuracy and speed of the causal engine against plain DoWhy defaults, on cases with known causes.

Run ``python -m tests.bench.bench_engine [--quick]``. Every case of :mod:`tests.bench.scenarios`
goes through :func:`rca.engine.investigation.investigate` (fit, verdict, attribution, bootstrap
intervals, counterfactuals, graph check: the whole investigation, timed). A subset of the change
and spike cases also goes through DoWhy with default arguments (``gcm.auto.assign_causal_mechanisms``,
``gcm.fit``, ``gcm.attribute_anomalies`` / ``gcm.distribution_change``), which takes tens of
seconds per case, so both methods are also scored on exactly that subset. A case is a top-k hit
when the injected node is among the k largest contributions (lagged copies folded into their
node; the target's own share counts as a node, so "unexplained" is a miss). A false alarm is
``regression.detected`` on a null case. One summary line per method, then the targets.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from graphs.model import unrolled
from rca.engine import Options, investigate
from rca.engine.frames import prepare
from tests.bench.scenarios import Case, cases

FULL = {"per_kind": 50, "micro": 15, "dowhy_weekly": 5, "dowhy_micro": 2}
QUICK = {"per_kind": 12, "micro": 4, "dowhy_weekly": 2, "dowhy_micro": 1}


@dataclass(frozen=True)
class Outcome:
    case: str
    group: str  # weekly-change, weekly-spike, micro-spike, null
    rank: int | None  # 1-based rank of the injected cause; None when absent or on a null case
    alarm: bool
    seconds: float
    error: str = ""


def _group(c: Case) -> str:
    return "null" if c.kind.startswith("null") else f"{c.family}-{c.kind}"


def _rank(ordered: list[str], cause: str | None) -> int | None:
    return ordered.index(cause) + 1 if cause in ordered else None


def run_ours(c: Case, seed: int) -> Outcome:
    t0 = time.perf_counter()
    r = investigate(c.data, c.graph, c.question, options=Options(seed=seed))
    seconds = time.perf_counter() - t0
    return Outcome(
        c.name, _group(c), _rank([x.node for x in r.causes], c.cause), r.regression.detected, seconds
    )


def run_dowhy(c: Case, seed: int) -> Outcome:
    """Plain DoWhy defaults on the same rows and the same (unrolled) graph."""
    from dowhy import gcm

    gcm.config.disable_progress_bars()
    gcm.util.general.set_random_seed(seed)
    prepared = prepare(c.data, c.graph)
    frame = prepared.frame
    q = c.question
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dag, columns = unrolled(c.graph)
            scm = gcm.InvertibleStructuralCausalModel(dag)
            if q.at is not None:
                reference = frame[frame.index < q.at.start]
                current = frame[q.at.mask(frame.index)]
                gcm.auto.assign_causal_mechanisms(scm, reference)
                gcm.fit(scm, reference)
                raw = gcm.attribute_anomalies(scm, q.target, anomaly_samples=current)
            else:
                reference = frame[q.baseline.mask(frame.index)]
                current = frame[q.current.mask(frame.index)]
                gcm.auto.assign_causal_mechanisms(scm, reference)
                gcm.fit(scm, reference)
                raw = gcm.distribution_change(scm, reference, current, q.target)
    except Exception as exc:  # DoWhy's failures on this data are part of what is measured
        return Outcome(
            c.name, _group(c), None, False, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"[:120]
        )
    seconds = time.perf_counter() - t0
    folded: dict[str, float] = defaultdict(float)
    for col, value in raw.items():
        folded[columns.get(col, (col, 0))[0]] += float(np.mean(value))
    ordered = sorted(folded, key=lambda k: (-folded[k], k))  # largest contribution to the score first
    return Outcome(c.name, _group(c), _rank(ordered, c.cause), False, seconds)


def _acc(rows: list[Outcome], k: int) -> float:
    return sum(1 for o in rows if o.rank is not None and o.rank <= k) / len(rows) if rows else float("nan")


def summary(method: str, outcomes: list[Outcome], *, alarms: bool = True) -> str:
    by: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by[o.group].append(o)
    parts = []
    for group in ("weekly-change", "weekly-spike", "micro-spike"):
        rows = by.get(group, [])
        if rows:
            parts.append(f"{group} top1 {_acc(rows, 1):.2f} top3 {_acc(rows, 3):.2f} (n={len(rows)})")
    if alarms and by.get("null"):
        nulls = by["null"]
        parts.append(f"false alarms {sum(o.alarm for o in nulls) / len(nulls):.2f} (n={len(nulls)})")
    times = []
    for group in ("weekly-change", "weekly-spike", "micro-spike"):
        rows = by.get(group, [])
        if rows:
            times.append(f"{group} {statistics.median(o.seconds for o in rows):.2f}")
    errors = sum(1 for o in outcomes if o.error)
    tail = f" | errors {errors}" if errors else ""
    return f"{method:24} " + " | ".join(parts) + " | median s: " + ", ".join(times) + tail


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer cases (a few minutes)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--dowhy", type=int, default=None, help="weekly change and spike cases run through DoWhy each"
    )
    ap.add_argument("--no-dowhy", action="store_true", help="skip the DoWhy baseline")
    args = ap.parse_args(argv)
    plan = dict(QUICK if args.quick else FULL)
    if args.dowhy is not None:
        plan["dowhy_weekly"] = args.dowhy
    print(f"# {'quick' if args.quick else 'full'} run, seed {args.seed}, {os.cpu_count()} cores", flush=True)
    t0 = time.perf_counter()
    all_cases = cases(plan["per_kind"], plan["micro"], seed=args.seed)
    print(f"# {len(all_cases)} cases generated in {time.perf_counter() - t0:.1f} s", flush=True)

    run_ours(all_cases[0], args.seed)  # warm-up: imports (DoWhy takes 1-2 s) are not an investigation's cost
    ours = [run_ours(c, args.seed) for c in all_cases]
    lines = [summary("whydunnit", ours)]
    print(lines[0], flush=True)

    code = 0
    if not args.no_dowhy:
        subset = (
            [c for c in all_cases if c.kind == "change" and c.family == "weekly"][: plan["dowhy_weekly"]]
            + [c for c in all_cases if c.kind == "spike" and c.family == "weekly"][: plan["dowhy_weekly"]]
            + [c for c in all_cases if c.kind == "spike" and c.family == "micro"][: plan["dowhy_micro"]]
        )
        print(
            f"# DoWhy defaults on {len(subset)} cases (the first {plan['dowhy_weekly']} weekly change and "
            "spike, "
            f"{plan['dowhy_micro']} micro spike){' -- quick: a handful only' if args.quick else ''}",
            flush=True,
        )
        theirs = []
        for c in subset:
            o = run_dowhy(c, args.seed)
            print(f"#   {c.name}: rank {o.rank} in {o.seconds:.1f} s {o.error}", flush=True)
            theirs.append(o)
        names = {c.name for c in subset}
        same = [o for o in ours if o.case in names]
        lines.append(summary("whydunnit (same cases)", same, alarms=False))
        lines.append(summary("dowhy defaults", theirs, alarms=False))
        ratio = statistics.median(o.seconds for o in theirs) / statistics.median(o.seconds for o in same)
        t1_ours, t1_theirs = _acc(same, 1), _acc(theirs, 1)
        lines.append(
            f"{'speed-up':24} {ratio:.0f}x faster (median per investigation, same cases); top1 "
            f"{t1_ours:.2f} vs {t1_theirs:.2f}"
        )
        for line in lines[1:]:
            print(line, flush=True)
        if ratio < 10 or t1_ours < t1_theirs:
            code = 1

    by: dict[str, list[Outcome]] = defaultdict(list)
    for o in ours:
        by[o.group].append(o)
    injected = by["weekly-change"] + by["weekly-spike"] + by["micro-spike"]
    checks = [
        ("top1 >= 0.90 (change+spike)", _acc(injected, 1) >= 0.90, f"{_acc(injected, 1):.2f}"),
        ("top3 >= 0.98 (change+spike)", _acc(injected, 3) >= 0.98, f"{_acc(injected, 3):.2f}"),
        (
            "false alarms <= 0.05",
            sum(o.alarm for o in by["null"]) / max(1, len(by["null"])) <= 0.05,
            f"{sum(o.alarm for o in by['null']) / max(1, len(by['null'])):.2f}",
        ),
        (
            "weekly 15-node investigation <= 3 s median",
            statistics.median(o.seconds for o in by["weekly-change"] + by["weekly-spike"]) <= 3.0,
            f"{statistics.median(o.seconds for o in by['weekly-change'] + by['weekly-spike']):.2f} s",
        ),
        (
            "40-node anomaly attribution <= 5 s median",
            statistics.median(o.seconds for o in by["micro-spike"]) <= 5.0,
            f"{statistics.median(o.seconds for o in by['micro-spike']):.2f} s",
        ),
    ]
    for name, ok, value in checks:
        print(f"# target {name}: {value} {'ok' if ok else 'MISSED'}")
        code = code or (0 if ok else 1)
    misses = [o for o in injected if o.rank != 1]
    if misses:
        print("# whydunnit misses: " + ", ".join(f"{o.case} (rank {o.rank})" for o in misses))
    return code


if __name__ == "__main__":
    sys.exit(main())
