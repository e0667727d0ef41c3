"""The hard engine benchmark: ``rca investigate`` as users meet it, on messy cases, against simple baselines.

Run ``python -m tests.bench.bench_hard [--quick] [--jobs N] [--petshop DIR]``. Every case of
:mod:`tests.bench.hard_scenarios` is written to a CSV and a graph YAML and goes, in one run,
through these methods:

``whydunnit``
    ``rca investigate --data metrics.csv --graph graph.yaml --target NODE (--at T | --baseline
    A..B --current C..D) --format json`` as a subprocess (the whole process, imports included),
    timed per case from outside. The ranking is ``causes`` in order; the verdict is
    ``regression.detected``.
``z-score`` / ``z-score (robust)``
    Every node's two-sample z: ``|mean(current) - mean(reference)| / (sd(reference) *
    sqrt(1/n_current + 1/n_reference))`` (the robust variant: medians and 1.4826 * MAD, falling
    back to the sd where the MAD is 0). Nodes ranked by z, the target left out unless no other
    node moved. False alarm: the target's own z > 3.
``traversal``
    Walk upstream from the target through parents (in the graph handed to the tool) whose z > 3;
    rank first the anomalous nodes reached none of whose parents is anomalous, then the other
    anomalous nodes reached, then everything else, each group by z. Same alarm as z-score.
``dowhy defaults``
    :mod:`tests.bench.dowhy_plain` as a subprocess on a small subset of injected cases: DoWhy's
    auto-assignment, fit and ``attribute_anomalies`` / ``distribution_change`` with default
    arguments. A crash is a miss (and listed). DoWhy gives no verdict: no false-alarm figure.

Scores per family: top-1 and top-3 (the 1-based rank of the injected node in the method's ranked
list; a list that names the target first misses top-1, and the target takes a place in top-3),
the false-alarm rate on null cases and the median seconds per case. ``micro`` pools the
micro-latency and micro-errors families; ``SE`` pools se-ratios, se-nonlinear, wrong-graph and
mid-chain. The optional real-data families are shown on their own and are not part of the pools:
``petshop`` (a local copy of https://github.com/amazon-science/petshop-root-cause-analysis
``dataset/``, ``--petshop``) and ``nezha-clean`` / ``nezha-faulted`` (a local copy of
https://github.com/IntelligentDDS/Nezha ``rca_data/``, ``--nezha``), the latter also scored on the
node where the fault shows first (``..., first``); see :mod:`tests.bench.family_nezha`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np

from tests.bench.hard_scenarios import FAMILIES, MICRO, SE, HardCase, family_cases, nezha_cases, petshop_cases

REPO = Path(__file__).resolve().parents[2]
# DoWhy takes 25-270 s per case here: quick runs it on two small change cases only
QUICK = {"injected": 3, "nulls": 2, "dowhy": {"se-ratios": 1, "se-nonlinear": 1}, "petshop": (3, 2), "nezha": 4,
         "nezha_nulls": 2}
FULL = {"injected": 12, "nulls": 8, "dowhy": dict.fromkeys(FAMILIES, 1), "petshop": (None, 8), "nezha": None,
        "nezha_nulls": 6}
Z_ALARM = 3.0
METHODS = ("whydunnit", "z-score", "z-score (robust)", "traversal", "dowhy defaults", "whydunnit (dowhy cases)")


@dataclass
class Outcome:
    case: str
    family: str
    method: str
    injected: bool
    kind: str
    rank: int | None  # 1-based rank of the injected node; None: not ranked (or a null case)
    alarm: bool | None  # the method's verdict; None where it gives none
    seconds: float
    error: str = ""
    target_first: bool = False
    top: list[str] = field(default_factory=list)  # the first three names
    extra: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# the cases on disk, as a user would hand them over
# --------------------------------------------------------------------------------------------


def write_case(c: HardCase, folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    suffix, text = c.graph_text()
    data, graph = folder / "metrics.csv", folder / f"graph{suffix}"
    data.write_text(c.csv_text(), encoding="utf-8")
    graph.write_text(text, encoding="utf-8")
    return data, graph


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCA_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def _fold(name: str) -> str:
    return re.sub(r"\[t-\d+\]$", "", name)


def _rank(ordered: list[str], cause: str | None, service_of: dict[str, str] | None = None) -> int | None:
    """1-based rank of ``cause`` in ``ordered``; with ``service_of``, among the services the nodes belong to."""
    if service_of:
        ordered = list(dict.fromkeys(service_of.get(n, n) for n in ordered))
    return ordered.index(cause) + 1 if cause is not None and cause in ordered else None


def _first_rank(ordered: list[str], first: tuple[str, ...]) -> int | None:
    """1-based rank of the best-placed node where the fault shows first."""
    ranks = [ordered.index(n) + 1 for n in first if n in ordered]
    return min(ranks) if ranks else None


def with_first(outs: list[Outcome], c: HardCase) -> list[Outcome]:
    """Beside each outcome of a case with first nodes, its score on them (family ``<family>, first``)."""
    extra = []
    for o in outs:
        if c.first_nodes and c.injected and o.extra.get("ordered") is not None:
            extra.append(Outcome(**{**asdict(o), "family": f"{o.family}, first",
                                    "rank": _first_rank(o.extra["ordered"], c.first_nodes)}))
    return outs + extra


def _first_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return (lines[-1] if lines else "")[:200]


# --------------------------------------------------------------------------------------------
# methods
# --------------------------------------------------------------------------------------------


def run_whydunnit(c: HardCase, folder: Path, timeout: float = 900.0) -> Outcome:
    data, graph = write_case(c, folder)
    rca = Path(sys.executable).with_name("rca")
    cmd = [str(rca), "investigate", "--data", str(data), "--graph", str(graph), "--target", c.target,
           *c.question_args(), "--format", "json"]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=folder, env=_clean_env(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Outcome(c.name, c.family, "whydunnit", c.injected, c.kind, None, None, timeout, "timeout")
    seconds = time.perf_counter() - t0
    if p.returncode != 0:
        return Outcome(c.name, c.family, "whydunnit", c.injected, c.kind, None, None, seconds,
                       f"exit {p.returncode}: {_first_line(p.stderr)}")
    try:
        doc = json.loads(p.stdout)
    except json.JSONDecodeError as exc:
        return Outcome(c.name, c.family, "whydunnit", c.injected, c.kind, None, None, seconds, f"bad JSON: {exc}")
    ordered: list[str] = []
    for cause in doc.get("causes", []):
        node = _fold(str(cause["node"]))
        if node not in ordered:
            ordered.append(node)
    extra = {
        "score": doc.get("regression", {}).get("score"),
        "significant": [_fold(x["node"]) for x in doc.get("causes", []) if x.get("significant")][:5],
        "unexplained": doc.get("unexplained"),
        "caveats": doc.get("caveats", [])[:4],
        "ordered": ordered,
    }
    return Outcome(
        c.name, c.family, "whydunnit", c.injected, c.kind, _rank(ordered, c.cause, c.service_of),
        bool(doc.get("regression", {}).get("detected")), seconds,
        target_first=bool(ordered) and ordered[0] == c.target, top=ordered[:3], extra=extra,
    )


def z_scores(c: HardCase, robust: bool = False) -> dict[str, float]:
    ref, cur = c.reference_mask(), c.current_mask()
    out: dict[str, float] = {}
    for node in c.nodes:
        x = c.data[node].to_numpy(dtype=float)
        a, b = x[ref], x[cur]
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if len(a) < 2 or len(b) == 0:
            out[node] = 0.0
            continue
        if robust:
            centre, now = float(np.median(a)), float(np.median(b))
            scale = 1.4826 * float(np.median(np.abs(a - centre)))
            if scale <= 0:
                scale = float(np.std(a, ddof=1))
        else:
            centre, now = float(np.mean(a)), float(np.mean(b))
            scale = float(np.std(a, ddof=1))
        diff = abs(now - centre)
        se = scale * np.sqrt(1.0 / len(b) + 1.0 / len(a))
        out[node] = diff / se if se > 0 else (float("inf") if diff > 0 else 0.0)
    return out


def _by_z(nodes, z: dict[str, float]) -> list[str]:
    return sorted(nodes, key=lambda n: (-z[n], n))


def run_zscore(c: HardCase, robust: bool = False) -> Outcome:
    t0 = time.perf_counter()
    z = z_scores(c, robust)
    others = _by_z([n for n in c.nodes if n != c.target], z)
    ordered = others if others and z[others[0]] > 0 else [c.target, *others]
    seconds = time.perf_counter() - t0
    return Outcome(c.name, c.family, "z-score (robust)" if robust else "z-score", c.injected, c.kind,
                   _rank(ordered, c.cause, c.service_of), bool(z[c.target] > Z_ALARM), seconds,
                   target_first=ordered[0] == c.target, top=ordered[:3], extra={"ordered": ordered})


def run_traversal(c: HardCase) -> Outcome:
    t0 = time.perf_counter()
    z = z_scores(c)
    g = c.given_dag()
    anomalous = {n for n in g.nodes if z[n] > Z_ALARM}
    reached: set[str] = set()
    frontier = [c.target]
    while frontier:
        node = frontier.pop()
        for p in g.predecessors(node):
            if p in anomalous and p not in reached:
                reached.add(p)
                frontier.append(p)
    roots = [n for n in reached if not any(p in anomalous for p in g.predecessors(n))]
    first = _by_z(roots, z)
    second = _by_z(reached - set(roots), z)
    rest = _by_z([n for n in g.nodes if n not in reached and n != c.target], z)
    ordered = first + second + rest
    if not first:  # nothing anomalous upstream: the target's own deviation leads
        ordered = [c.target, *ordered] if z[c.target] > Z_ALARM else ordered + [c.target]
    seconds = time.perf_counter() - t0
    return Outcome(c.name, c.family, "traversal", c.injected, c.kind, _rank(ordered, c.cause, c.service_of),
                   bool(z[c.target] > Z_ALARM), seconds, target_first=ordered[0] == c.target, top=ordered[:3],
                   extra={"ordered": ordered})


def run_dowhy(c: HardCase, folder: Path, timeout: float = 1800.0) -> Outcome:
    data, graph = write_case(c, folder)
    cmd = [sys.executable, "-m", "tests.bench.dowhy_plain", "--data", str(data), "--graph", str(graph),
           "--target", c.target, *c.question_args()]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=REPO, env=_clean_env(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Outcome(c.name, c.family, "dowhy defaults", c.injected, c.kind, None, None, timeout, "timeout")
    seconds = time.perf_counter() - t0
    try:
        doc = json.loads(p.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return Outcome(c.name, c.family, "dowhy defaults", c.injected, c.kind, None, None, seconds,
                       f"exit {p.returncode}: {_first_line(p.stderr)}")
    if "error" in doc:
        return Outcome(c.name, c.family, "dowhy defaults", c.injected, c.kind, None, None, seconds, doc["error"])
    contrib: dict[str, float] = doc["contributions"]
    if doc["kind"] == "anomaly":  # contributions to the anomaly score: the largest positive first
        ordered = sorted(contrib, key=lambda k: (-contrib[k], k))
    else:  # contributions to the change of the mean, signed: the largest magnitude first
        ordered = sorted(contrib, key=lambda k: (-abs(contrib[k]), k))
    return Outcome(c.name, c.family, "dowhy defaults", c.injected, c.kind, _rank(ordered, c.cause), None,
                   seconds, target_first=bool(ordered) and ordered[0] == c.target, top=ordered[:3])


def _one_case(args: tuple[HardCase, str, bool]) -> list[Outcome]:
    c, workdir, keep = args
    folder = Path(workdir) / c.name
    try:
        outs = [run_whydunnit(c, folder), run_zscore(c), run_zscore(c, robust=True), run_traversal(c)]
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    return with_first(outs, c)


def _one_dowhy(args: tuple[HardCase, str, bool]) -> Outcome:
    c, workdir, keep = args
    folder = Path(workdir) / f"{c.name}-dowhy"
    try:
        return run_dowhy(c, folder)
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# scoring and the table
# --------------------------------------------------------------------------------------------


@dataclass
class Score:
    n_inj: int
    n_null: int
    top1: float | None
    top3: float | None
    fa: float | None
    seconds: float | None


def score(rows: list[Outcome]) -> Score:
    inj = [o for o in rows if o.injected]
    nul = [o for o in rows if not o.injected]
    alarms = [o.alarm for o in nul if o.alarm is not None]
    return Score(
        len(inj), len(nul),
        sum(o.rank is not None and o.rank <= 1 for o in inj) / len(inj) if inj else None,
        sum(o.rank is not None and o.rank <= 3 for o in inj) / len(inj) if inj else None,
        sum(alarms) / len(alarms) if alarms else None,
        statistics.median(o.seconds for o in rows) if rows else None,
    )


def _f(x: float | None, width: int = 4, digits: int = 2) -> str:
    return f"{x:{width}.{digits}f}" if x is not None else " " * (width - 1) + "-"


def table(outcomes: list[Outcome], groups: list[tuple[str, tuple[str, ...]]]) -> str:
    by: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by[(o.method, o.family)].append(o)
    methods = [m for m in METHODS if any(k[0] == m for k in by)]
    cell = 25
    head1 = f"{'method':24}|" + "|".join(f" {label[:cell - 2]:<{cell - 1}}" for label, _ in groups)
    head2 = f"{'':24}|" + "|".join(f" {'top1 top3   FA     s':<{cell - 1}}" for _ in groups)
    lines = [head1, head2, "-" * len(head1)]
    for m in methods:
        cells = []
        for _, fams in groups:
            rows = [o for f in fams for o in by.get((m, f), [])]
            if not rows:
                cells.append(" " * cell)
                continue
            s = score(rows)
            cells.append(f" {_f(s.top1)} {_f(s.top3)} {_f(s.fa)} {_f(s.seconds, 5, 1)}  ")
        lines.append(f"{m:24}|" + "|".join(f"{x:<{cell}}" for x in cells))
    counts = []
    for _, fams in groups:
        rows = [o for f in fams for o in by.get(("whydunnit", f), [])]
        s = score(rows)
        counts.append(f" n={s.n_inj} injected, {s.n_null} null")
    lines.append(f"{'(cases, whydunnit)':24}|" + "|".join(f"{x:<{cell}}" for x in counts))
    return "\n".join(lines)


def where(c: HardCase, node: str | None) -> str:
    """Where a named node sits relative to the injected one, in the DAG the data follow."""
    if node is None:
        return "nothing"
    if node == c.target:
        return "the target"
    g = nx.DiGraph((s, t) for s, t, _ in c.true_edges)
    if c.cause in g and node in g:
        if node in nx.descendants(g, c.cause):
            return "downstream of the cause"
        if node in nx.ancestors(g, c.cause):
            return "upstream of the cause"
    return "off the cause's path"


def failure_notes(outcomes: list[Outcome], families: list[str], cases: dict[str, HardCase]) -> list[str]:
    notes = []
    for fam in families:
        ours = [o for o in outcomes if o.method == "whydunnit" and o.family == fam]
        if not ours:
            continue
        inj = [o for o in ours if o.injected]
        nul = [o for o in ours if not o.injected]
        parts = []
        if inj:
            parts.append(f"top-1 {sum(o.rank == 1 for o in inj)}/{len(inj)}")
            parts.append(f"names the target first in {sum(o.target_first for o in inj)}/{len(inj)} injected")
            parts.append(f"cause not ranked at all in {sum(o.rank is None and not o.error for o in inj)}/{len(inj)}")
            parts.append(f"regression not detected in {sum(o.alarm is False for o in inj)}/{len(inj)} injected")
        misses = [o for o in inj if o.rank != 1 and not o.error]
        if misses:
            kinds: dict[str, int] = defaultdict(int)
            for o in misses:
                kinds[where(cases[o.case], o.top[0] if o.top else None)] += 1
            parts.append("its top-1 on the misses: " + ", ".join(f"{v}x {k}" for k, v in sorted(kinds.items())))
        if nul:
            parts.append(f"false alarm in {sum(bool(o.alarm) for o in nul)}/{len(nul)} null")
        errors = [o for o in ours if o.error]
        if errors:
            parts.append(f"errors {len(errors)} ({errors[0].error[:80]})")
        notes.append(f"# whydunnit on {fam}: " + "; ".join(parts))
    return notes


# --------------------------------------------------------------------------------------------


def build_cases(plan: dict, seed: int, petshop: str | None, families: list[str], nezha: str | None = None,
                real_only: bool = False) -> list[HardCase]:
    out: list[HardCase] = []
    for fam in [] if real_only else families:
        out += family_cases(fam, plan["injected"], plan["nulls"], seed=seed)
    if petshop:
        inj, nul = plan["petshop"]
        out += petshop_cases(petshop, injected=inj, nulls=nul)
    if nezha:
        both = nezha_cases(nezha, nulls=plan["nezha_nulls"])
        for protocol in ("clean", "faulted"):
            mine = both[protocol]
            if plan["nezha"] is not None:  # a quick run: every k-th incident
                inj = [c for c in mine if c.injected]
                mine = inj[:: max(1, len(inj) // plan["nezha"])][: plan["nezha"]] + [c for c in mine if not c.injected][:2]
            out += mine
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few cases per family, DoWhy on 2 (a few minutes)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1, help="cases run in parallel (processes); timings then overlap")
    ap.add_argument("--injected", type=int, help="injected cases per family (default: 3 quick, 12 full)")
    ap.add_argument("--nulls", type=int, help="null cases per family (default: 2 quick, 8 full)")
    ap.add_argument("--family", action="append", choices=FAMILIES, help="only these families (repeatable)")
    ap.add_argument("--dowhy", type=int, help="injected cases per family through plain DoWhy (0: none)")
    ap.add_argument("--petshop", help="a local copy of the PetShop dataset/ folder (optional real data)")
    ap.add_argument("--nezha", help="a local copy of the Nezha dataset's rca_data/ folder (optional real data)")
    ap.add_argument("--real-only", action="store_true", help="only the real-data families (--petshop, --nezha)")
    ap.add_argument("--keep", help="keep every case's CSV and graph under this folder")
    ap.add_argument("--out", help="write every outcome as JSON here")
    ap.add_argument("--verbose", "-v", action="store_true", help="one line per case and method")
    args = ap.parse_args(argv)

    plan = json.loads(json.dumps(QUICK if args.quick else FULL))
    if args.injected is not None:
        plan["injected"] = args.injected
    if args.nulls is not None:
        plan["nulls"] = args.nulls
    families = args.family or list(FAMILIES)
    if args.dowhy is not None:
        plan["dowhy"] = dict.fromkeys(families, args.dowhy) if args.dowhy else {}
    petshop = args.petshop or os.environ.get("RCA_BENCH_PETSHOP")
    if petshop and not Path(petshop, "low_traffic").is_dir():
        print(f"# no PetShop data under {petshop}: family skipped", flush=True)
        petshop = None

    nezha = args.nezha or os.environ.get("RCA_BENCH_NEZHA")
    if nezha and not Path(nezha, "2022-08-22", "metric").is_dir():
        print(f"# no Nezha data under {nezha}: family skipped", flush=True)
        nezha = None

    print(f"# hard benchmark, {'quick' if args.quick else 'full'} run, seed {args.seed}, jobs {args.jobs}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    t0 = time.perf_counter()
    cases = build_cases(plan, args.seed, petshop, families, nezha, args.real_only)
    print(f"# {len(cases)} cases generated in {time.perf_counter() - t0:.1f} s", flush=True)

    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="rca-bench-hard-"))
    workdir.mkdir(parents=True, exist_ok=True)
    keep = bool(args.keep)
    # one untimed run first, so the first case does not pay for a cold disk cache
    run_whydunnit(cases[0], workdir / "_warmup")
    shutil.rmtree(workdir / "_warmup", ignore_errors=True)

    outcomes: list[Outcome] = []
    jobs = [(c, str(workdir), keep) for c in cases]
    t1 = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(_one_case, jobs))
    else:
        results = []
        for j in jobs:
            results.append(_one_case(j))
            if args.verbose:
                _print_case(j[0], results[-1])
    for r in results:
        outcomes += r
    print(f"# whydunnit and baselines: {time.perf_counter() - t1:.0f} s (load average {os.getloadavg()[0]:.1f})",
          flush=True)

    dowhy_cases = []
    for fam, k in plan["dowhy"].items():  # change cases first: DoWhy is quicker on them here
        mine = [c for c in cases if c.family == fam and c.injected]
        dowhy_cases += sorted(mine, key=lambda c: c.kind != "change")[:k]
    if dowhy_cases:
        print(f"# plain DoWhy defaults on {len(dowhy_cases)} injected case(s): "
              + ", ".join(c.name for c in dowhy_cases), flush=True)
        djobs = [(c, str(workdir), keep) for c in dowhy_cases]
        if args.jobs > 1:
            with ProcessPoolExecutor(args.jobs) as pool:
                theirs = list(pool.map(_one_dowhy, djobs))
        else:
            theirs = [_one_dowhy(j) for j in djobs]
        for o in theirs:
            print(f"#   {o.case}: rank {o.rank} in {o.seconds:.1f} s {o.error}", flush=True)
        outcomes += theirs
        names = {c.name for c in dowhy_cases}
        for o in list(outcomes):
            if o.method == "whydunnit" and o.case in names:
                outcomes.append(Outcome(**{**asdict(o), "method": "whydunnit (dowhy cases)"}))
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)

    real = ("petshop", "nezha-clean", "nezha-clean, first", "nezha-faulted", "nezha-faulted, first")
    present = [f for f in (*FAMILIES, *real) if any(o.family == f for o in outcomes)]
    groups = [(f, (f,)) for f in present]
    if not args.real_only:
        groups += [("micro", MICRO), ("SE", SE)]
    print()
    print(table(outcomes, groups))
    print()
    print(f"# top1/top3: rank of the injected node among the ranked causes (target first = a miss); FA: false "
          f"alarms on null cases (whydunnit: regression.detected; z-score and traversal: the target's z > "
          f"{Z_ALARM:g}); s: median seconds per case (whydunnit and DoWhy: whole process).")
    for line in failure_notes(outcomes, present, {c.name: c for c in cases}):
        print(line)
    wrong = [c for c in cases if c.family == "wrong-graph" and c.injected and not c.cause_upstream_in_given]
    if wrong:
        print(f"# wrong-graph: in {len(wrong)} injected case(s) the given graph cuts the cause off the target: "
              + ", ".join(c.name for c in wrong))
    if args.verbose and args.jobs > 1:
        for c, r in zip(cases, results, strict=True):
            _print_case(c, r)
    if args.out:
        Path(args.out).write_text(json.dumps([asdict(o) for o in outcomes], indent=1, default=str), encoding="utf-8")
        print(f"# outcomes written to {args.out}")
    return 0


def _print_case(c: HardCase, outs: list[Outcome]) -> None:
    bits = []
    for o in outs:
        tag = {"whydunnit": "why", "z-score": "z", "z-score (robust)": "rz", "traversal": "trav"}.get(o.method, o.method)
        if c.injected:
            bits.append(f"{tag}={o.rank}")
        else:
            bits.append(f"{tag}:{'ALARM' if o.alarm else 'ok'}")
    ours = outs[0]
    extra = f" top={ours.top}" + (f" ERROR {ours.error}" if ours.error else "")
    extra += f" detected={ours.alarm}" if c.injected else ""
    print(f"#   {c.name:38} cause={c.cause} " + " ".join(bits) + f" {ours.seconds:.1f}s" + extra, flush=True)


if __name__ == "__main__":
    sys.exit(main())
