"""What a hostile Prometheus server costs the collector: time and peak memory, one case per process.

A loopback server of tests.hostile_servers answers every request with one of:

- ``size600`` / ``size1024``: a valid, empty range result padded with whitespace to 600 MB or
  1 GB (streamed, never held by the server);
- ``bomb``: a gzip body of about 0.8 MB that unpacks to 800 MB;
- ``drip``: a valid answer sent one byte a second.

and ``collectors.prometheus.collect`` reads one query from it with the defaults (64 MB cap) and
``timeout_s`` 5, as a user would configure it. The process prints the failure line and the
seconds it took; run it under ``/usr/bin/time -v`` for the peak resident memory of the whole
process (Python, pandas and the server thread included; the interpreter alone is ~100 MB):

    /usr/bin/time -v python -m tests.bench.bench_prometheus_hostile size600
"""

from __future__ import annotations

import argparse
import time

from tests.hostile_servers import RawServer, drip, gzip_bomb, huge

CASES = {
    "size600": lambda: huge(600 << 20),
    "size1024": lambda: huge(1024 << 20),
    "bomb": lambda: gzip_bomb(800 << 20),
    "drip": lambda: drip(1.0, total=400),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("--timeout", type=float, default=5.0, help="timeout_s of the collector (default 5)")
    args = ap.parse_args(argv)

    import pandas  # noqa: F401  (imported before the clock starts: the figure is the collector's own time)

    from collectors.prometheus import PrometheusSettings, collect

    handler = CASES[args.case]()  # the bomb is compressed here, before the clock starts
    with RawServer(handler) as server:
        settings = PrometheusSettings(url=server.url, timeout_s=args.timeout, retries=0, until="2025-11-20T00:00:00Z",
                                      queries=[{"metric": "bench_seconds", "scope": "x", "since": "2025-11-01",
                                                "expr": "avg_over_time(x[$bucket])"}])
        t0 = time.perf_counter()
        got = collect(settings, {}, None)
        took = time.perf_counter() - t0
        sent = server.sent
    print(f"{args.case}: {took:.2f} s; the server got {sent / 2**20:.1f} MB out before the collector hung up")
    for line in got.failures:
        print(f"  failure: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
