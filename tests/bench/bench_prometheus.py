"""Benchmark of the Prometheus collector: 60 days of hourly samples of 20 series, read in full.

Starts Debian's prometheus over backfilled samples (tests.prometheus_server, 20 hourly gauges
over 60 days: 28,800 samples) and times one full-range read of all of them, hourly buckets:

- the HTTP floor: the same ``query_range`` request with urllib and ``json.loads``, nothing else;
- a plain ``custom_query_range`` loop, what a user would otherwise write: one request, values
  turned into floats per series (and, separately, the library's ``MetricRangeDataFrame``);
- the collector function alone (``collectors.prometheus.collect``: plan, request, conversion to
  the observation table; no store), also with requests of 100 points (15 requests);
- the whole ``rca collect`` process (Python start-up, configuration, the collector, the SQLite
  write), each run into a fresh store, and two of its parts on their own: ``Store.write`` of the
  rows, and ``import rca.pipeline`` in a fresh interpreter;
- and, for the record, ``get_metric_range_data`` (raw samples through instant queries of range
  selectors, one per chunk): how many points it returns for a day-sized chunk.

Each in-process figure is the median (and minimum) of ``--repeat`` runs after one warm-up.
Run: ``python -m tests.bench.bench_prometheus [--series 20] [--days 60] [--repeat 7]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.prometheus_server import DAY, END, HOUR, bench_series, serve


def _timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    fn()  # warm-up: imports, connection pool, Prometheus's caches
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=20)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)

    from prometheus_api_client import MetricRangeDataFrame, PrometheusConnect

    from collectors.prometheus import PrometheusSettings, collect

    start = END - args.days * DAY
    points = args.series * args.days * 24
    rows: list[tuple[str, float, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-prometheus-") as tmp:
        t0 = time.perf_counter()
        server = serve(bench_series(args.series, args.days), Path(tmp) / "server")
        setup = time.perf_counter() - t0
        try:
            print(f"prometheus at {server.url}: {args.series} series x {args.days} days hourly = {points:,} samples "
                  f"(backfill + start {setup:.1f} s)")
            query = {"metric": "bench_value", "expr": "last_over_time(bench_gauge[$bucket])", "scope_label": "series",
                     "bucket": "hour", "since": datetime.fromtimestamp(start, UTC).isoformat()}
            until = datetime.fromtimestamp(END, UTC).isoformat()

            # The floor: one HTTP request and JSON decoding, nothing else.
            url = (f"{server.url}/api/v1/query_range?" + urllib.parse.urlencode(
                {"query": "last_over_time(bench_gauge[1h])", "start": start + HOUR - 1, "end": END - 1, "step": HOUR}))

            def floor() -> int:
                with urllib.request.urlopen(url) as r:
                    return sum(len(s["values"]) for s in json.loads(r.read())["data"]["result"])

            med, best, n = _timed(floor, args.repeat)
            rows.append(("HTTP floor (urllib + json)", med, best, f"{n:,} points"))

            # What a user would write with the library.
            pc = PrometheusConnect(server.url)
            s_dt, e_dt = datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(END - HOUR, UTC)

            def plain() -> int:
                result = pc.custom_query_range("bench_gauge", s_dt, e_dt, step="1h")
                table = {tuple(sorted(s["metric"].items())): [(float(t), float(v)) for t, v in s["values"]]
                         for s in result}
                return sum(len(v) for v in table.values())

            med, best, n = _timed(plain, args.repeat)
            rows.append(("custom_query_range loop (floats per series)", med, best, f"{n:,} points"))

            caught: list[warnings.WarningMessage] = []

            def frame() -> int:
                with warnings.catch_warnings(record=True) as w:
                    warnings.simplefilter("always")
                    df = MetricRangeDataFrame(pc.custom_query_range("bench_gauge", s_dt, e_dt, step="1h"))
                caught[:] = w
                return len(df)

            med, best, n = _timed(frame, args.repeat)
            kinds = sorted({f"{w.category.__name__}" for w in caught})
            rows.append(("custom_query_range + MetricRangeDataFrame", med, best,
                         f"{n:,} rows; {len(caught)} warning(s) per call: {', '.join(kinds) or 'none'}"))

            settings = PrometheusSettings(url=server.url, until=until, retries=0, queries=[query])
            med, best, got = _timed(lambda: collect(settings, {}, None), args.repeat)
            rows.append(("collector function, 1 request", med, best,
                         f"{len(got.observations):,} observations"))  # type: ignore[union-attr]
            small = settings.model_copy(update={"max_points": 100})
            med, best, got = _timed(lambda: collect(small, {}, None), args.repeat)
            unit = got.units["bench_value"]  # type: ignore[union-attr]
            rows.append(("collector function, requests of 100 points", med, best,
                         f"{len(got.observations):,} observations in {unit['requests']} requests"))  # type: ignore[union-attr]

            # Where the rest of `rca collect` goes: the store write, and the imports of the pipeline package.
            from rca.store import Store

            table = got.observations  # type: ignore[union-attr]
            stores = iter(range(10_000))

            def write() -> int:
                with Store(f"sqlite:///{Path(tmp) / f'w{next(stores)}.db'}") as store:
                    return store.write(table)

            med, best, n = _timed(write, max(3, args.repeat // 2))
            rows.append(("Store.write of those rows (fresh SQLite)", med, best, f"{n:,} rows"))
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-c", "import rca.pipeline"], check=True)
                times.append(time.perf_counter() - t0)
            rows.append(("python -c 'import rca.pipeline' (start-up + imports)", statistics.median(times), min(times),
                         "what rca collect loads before collecting"))

            # The whole command, a fresh store each time.
            rca = Path(sys.executable).with_name("rca")
            times = []
            out = ""
            for i in range(max(3, args.repeat // 2)):
                data = Path(tmp) / f"data{i}"
                cfg = Path(tmp) / f"rca{i}.yaml"
                cfg.write_text(json.dumps({"data_dir": str(data), "prometheus": {
                    "url": server.url, "until": until, "retries": 0, "queries": [query]}}))
                t0 = time.perf_counter()
                proc = subprocess.run([str(rca), "collect", "--config", str(cfg)], capture_output=True, text=True)
                times.append(time.perf_counter() - t0)
                if proc.returncode != 0:
                    raise SystemExit(f"rca collect failed: {proc.stderr.strip()}")
                out = proc.stdout.strip().splitlines()[-1]
            rows.append(("rca collect (whole process, SQLite write)", statistics.median(times), min(times), out))
            t0 = time.perf_counter()
            subprocess.run([str(rca), "--help"], capture_output=True, check=True)
            rows.append(("rca --help (start-up alone)", time.perf_counter() - t0, time.perf_counter() - t0, ""))

            # get_metric_range_data: instant queries of a range selector, one per chunk.
            t0 = time.perf_counter()
            raw = pc.get_metric_range_data("bench_gauge", start_time=s_dt, end_time=datetime.fromtimestamp(END, UTC),
                                           chunk_size=timedelta(days=1))
            took = time.perf_counter() - t0
            n_raw = sum(len(s["values"]) for s in raw)
            distinct = len({(tuple(sorted(s["metric"].items())), t) for s in raw for t, _ in s["values"]})
            rows.append(("get_metric_range_data, chunk 1 day (ignores any step)", took, took,
                         f"{n_raw:,} points for {distinct:,} samples ({n_raw - distinct:,} duplicates at chunk edges), "
                         f"{len(raw)} entries"))
        finally:
            server.stop()

    width = max(len(r[0]) for r in rows)
    print(f"{'method':<{width}}  {'median s':>9}  {'min s':>7}  notes")
    for name, med, best, note in rows:
        print(f"{name:<{width}}  {med:9.3f}  {best:7.3f}  {note}")
    coll = next(r for r in rows if r[0].startswith("collector function, 1"))
    loop = next(r for r in rows if r[0].startswith("custom_query_range loop"))
    print(f"collector / plain loop (median): {coll[1] / loop[1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
