"""Benchmark of running past one machine: the store on PostgreSQL, the heavy loops on Dask.

Measures, on this machine:

- the store: writing ``--scopes`` scopes of the demo organisation (104 weeks x 11 metrics each)
  into SQLite and into a real PostgreSQL server (Debian's, started on loopback as the tests do),
  and reading one scope's graph frame back;
- the report job over those scopes (two targets each): in this process, then on a
  ``LocalCluster`` of ``--workers`` single-threaded worker processes (first run with the workers'
  imports, then a warm one), checking that the answers are identical;
- a recommendations bootstrap of ``--refits`` refits (log-linear lead time: the Python loop),
  in process and on the cluster;
- a collection of ``--repos`` synthetic repositories (``--commits`` each, SZZ on), in process and
  on the cluster (one repository per task), checking that the stored rows are identical;
- each worker's resident memory after the report and after the collection, and this process's.

With ``--nonlinear`` it also times an investigation with a nonlinear mechanism (DoWhy's sampling
estimator, each bootstrap draw a full attribution: minutes) in process and on the cluster.

Run: ``python -m tests.bench.bench_scale [--scopes N] [--workers N] [--refits N] [--repos N] [--commits N]
[--quick] [--no-postgres] [--nonlinear DRAWS]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd


def _same(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _same(v) for k, v in d.items() if k not in ("timings_s", "fitted_at")}
    if isinstance(d, list | tuple):
        return [_same(v) for v in d]
    return d


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def _cpu() -> float:
    """CPU seconds used so far by this process and its waited-for children (git): what a task costs a core,
    whatever else the machine is doing."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _organisation(n: int) -> pd.DataFrame:
    from rca.sample import generate

    return pd.concat([generate(seed=7 + 4 * i).observations.assign(scope=f"org/service-{i:03d}") for i in range(n)],
                     ignore_index=True)


def bench_store(obs: pd.DataFrame, urls: dict[str, str]) -> None:
    from graphs import shipped_graph
    from rca.pipeline.data import stored_frame
    from rca.store import Store

    g = shipped_graph("delivery")
    for name, url in urls.items():
        with Store(url) as store:
            _, write_s = _timed(lambda s=store: s.write(obs))
            _, again_s = _timed(lambda s=store: s.write(obs))  # every row an update now
            _, read_s = _timed(lambda s=store: stored_frame(s, g, "org/service-000"))
        print(f"  store {name:10s}: write {len(obs):,} rows {write_s:6.2f} s ({len(obs) / write_s:,.0f} rows/s), "
              f"rewrite {again_s:6.2f} s, one scope's frame {read_s * 1000:6.1f} ms")


def bench_report(url: str, scopes: int, address: str, out: Path) -> None:
    from rca import pipeline

    targets = [{"target": t, "scope": f"org/service-{i:03d}", "last": "13 weeks"}
               for i in range(scopes) for t in ("bug_fix_commit_ratio", "lead_time_seconds")]
    base = {"store": {"url": url}, "investigations": targets, "reports": {"out_dir": str(out), "formats": ["json"]}}
    here = pipeline.settings(None, **base)
    there = pipeline.settings(None, **base, compute={"scheduler": address, "timeout_s": 120})
    # Each side twice: the first run pays its imports (here: this process's; there: each worker's).
    a, cold_here = _timed(lambda: pipeline.report(here))
    b, cold_there = _timed(lambda: pipeline.report(there))
    cpu = _cpu()
    _, warm_here = _timed(lambda: pipeline.report(here))
    per_scope = (_cpu() - cpu) / scopes
    c, warm_there = _timed(lambda: pipeline.report(there))
    same = [_same(r.to_dict()) for r in a.results] == [_same(r.to_dict()) for r in b.results] == \
        [_same(r.to_dict()) for r in c.results]
    print(f"  report, {scopes} scopes x 2 targets (bootstrap {here.engine.bootstrap}): in process {cold_here:6.2f} s "
          f"first, {warm_here:6.2f} s warm; on the cluster {cold_there:6.2f} s first (workers import), "
          f"{warm_there:6.2f} s warm (warm speed-up {warm_here / warm_there:.2f}x); identical answers: {same}; "
          f"{per_scope:.2f} CPU s per scope in process")


def bench_recommend(url: str, refits: int, address: str) -> None:
    import graphs
    from graphs.model import parse_graph
    from rca import pipeline

    text = (Path(graphs.__file__).parent / "delivery.yaml").read_text()
    g = parse_graph(text.replace("kind: duration, actionable: false}", "kind: duration, actionable: false, "
                                 "mechanism: loglinear}"))
    ask = {"graph": g, "scope": "org/service-000", "bootstrap": refits, "samples": 1000}
    here = pipeline.settings(None, store={"url": url})
    there = pipeline.settings(None, store={"url": url}, compute={"scheduler": address, "timeout_s": 120})
    local_s = dask_s = float("inf")
    for _ in range(2):  # best of two, interleaved: the machine is shared
        a, s = _timed(lambda: pipeline.recommendations("lead_time_seconds", here, **ask))
        local_s = min(local_s, s)
        b, s = _timed(lambda: pipeline.recommendations("lead_time_seconds", there, **ask))
        dask_s = min(dask_s, s)
    same = _same(a.result.to_dict()) == _same(b.result.to_dict())
    print(f"  recommendations, {refits} sampled refits: in process {local_s:6.2f} s, on the cluster {dask_s:6.2f} s "
          f"(speed-up {local_s / dask_s:.2f}x); identical: {same}")


def bench_collect(tmp: Path, repos: int, commits: int, address: str) -> None:
    from rca import pipeline
    from rca.store import Store
    from tests.git_repos import fast_import

    paths = []
    for k in range(repos):
        paths.append(tmp / f"repo{k}")
        fast_import(paths[-1], commits, n_files=400, seed=k + 1, fix_every=5)
    git = {"repos": [{"path": str(p), "name": f"org/repo{k}"} for k, p in enumerate(paths)]}
    tables, took = [], [float("inf"), float("inf")]
    for attempt in range(2):  # best of two, interleaved, each into an empty store
        for side, extra in enumerate(({}, {"compute": {"scheduler": address, "timeout_s": 120}})):
            settings = pipeline.settings(None, data_dir=str(tmp / f"collect-{side}-{attempt}"), git=git, **extra)
            cpu = _cpu()
            _, s = _timed(lambda st=settings: pipeline.collect(st))
            took[side] = min(took[side], s)
            if side == 0:
                per_repo = (_cpu() - cpu) / repos
            with Store(settings.store_url) as store:
                tables.append(store.read().sort_values(["scope", "metric", "ts"]).reset_index(drop=True))
    same = all(t.equals(tables[0]) for t in tables)
    print(f"  collect {repos} repositories x {commits:,} commits (SZZ on): in process {took[0]:6.2f} s, on the cluster "
          f"{took[1]:6.2f} s (speed-up {took[0] / took[1]:.2f}x); identical rows: {same}; {per_repo:.1f} CPU s per "
          "repository in process (git included)")


def bench_nonlinear(address: str, draws: int) -> None:
    from graphs.model import parse_graph
    from rca import pipeline
    from tests.conftest import CHAIN_YAML, chain_frame

    g = parse_graph(CHAIN_YAML.replace("bugs: {agg: mean}", "bugs: {agg: mean, mechanism: nonlinear}"))
    frame = chain_frame(n=80, shift_at=60, shift=-0.1)
    req = pipeline.request(target="bugs", at="2026-03-02..2026-03-21")
    engine = {"bootstrap": draws, "num_samples": 200, "graph_check": False}
    a, local_s = _timed(lambda: pipeline.investigate(req, pipeline.settings(None, engine=engine), data=frame, graph=g))
    there = pipeline.settings(None, engine=engine, compute={"scheduler": address, "timeout_s": 120})
    b, dask_s = _timed(lambda: pipeline.investigate(req, there, data=frame, graph=g))
    same = _same(a.result.to_dict()) == _same(b.result.to_dict())
    print(f"  nonlinear investigation, {draws} bootstrap draws: in process {local_s:6.1f} s "
          f"(draws {a.result.timings_s.get('intervals', 0):.1f} s), on the cluster {dask_s:6.1f} s "
          f"(draws {b.result.timings_s.get('intervals', 0):.1f} s); identical: {same}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scopes", type=int, default=12)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--refits", type=int, default=200)
    ap.add_argument("--repos", type=int, default=4)
    ap.add_argument("--commits", type=int, default=2000, help="per synthetic repository")
    ap.add_argument("--quick", action="store_true", help="6 scopes, 60 refits, 2 repositories of 1,000 commits")
    ap.add_argument("--no-postgres", action="store_true", help="time the SQLite store only")
    ap.add_argument("--nonlinear", type=int, default=0, metavar="DRAWS", help="also a nonlinear investigation")
    args = ap.parse_args(argv)
    if args.quick:
        args.scopes, args.refits, args.repos, args.commits = 6, 60, 2, 1000
    from distributed import Client, LocalCluster

    print(f"bench_scale: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    tmp = Path(tempfile.mkdtemp(prefix="rca-bench-scale-"))
    obs = _organisation(args.scopes)
    urls = {"sqlite": f"sqlite:///{tmp / 'rca.db'}"}
    pg = None
    if not args.no_postgres:
        from tests.postgres_server import PostgresServer

        pg = PostgresServer().start()
        urls["postgresql"] = pg.database()
    try:
        bench_store(obs, urls)
        url = urls.get("postgresql", urls["sqlite"])
        (cluster, up_s) = _timed(lambda: LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                                      host="127.0.0.1", dashboard_address="127.0.0.1:0"))
        print(f"  LocalCluster of {args.workers} worker processes up in {up_s:.1f} s")
        with cluster, Client(cluster.scheduler_address, set_as_default=False) as watcher:
            bench_report(url, args.scopes, cluster.scheduler_address, tmp / "reports")
            rss = watcher.run(lambda: __import__("psutil").Process().memory_info().rss)
            print("  worker memory after the report: " + ", ".join(f"{v / 2**20:.0f} MiB" for v in rss.values())
                  + f"; this process {__import__('psutil').Process().memory_info().rss / 2**20:.0f} MiB")
            bench_recommend(url, args.refits, cluster.scheduler_address)
            bench_collect(tmp, args.repos, args.commits, cluster.scheduler_address)
            rss = watcher.run(lambda: __import__("psutil").Process().memory_info().rss)
            print("  worker memory after the collection: " + ", ".join(f"{v / 2**20:.0f} MiB" for v in rss.values()))
            if args.nonlinear:
                bench_nonlinear(cluster.scheduler_address, args.nonlinear)
            from rca.pipeline import compute

            compute.close()
    finally:
        if pg is not None:
            pg.stop()
    print(f"  load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
