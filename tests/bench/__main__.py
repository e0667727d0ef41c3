"""``python -m tests.bench [--quick]`` (what ``make bench`` runs): every benchmark, one after the other.

The Git collector's (:mod:`tests.bench.bench_git`), the coverage collector's
(:mod:`tests.bench.bench_coverage`), the Prometheus collector's
(:mod:`tests.bench.bench_prometheus`, which needs Debian's prometheus package), the effect
estimates' (:mod:`tests.bench.bench_effects`), ``rca serve`` under load
(:mod:`tests.bench.bench_serve`) and the causal engine's (:mod:`tests.bench.bench_engine`); each prints its own
figures and ratios. ``--quick`` is passed
to each but the Prometheus one, which it makes repeat 3 times instead of 7.
"""

import sys

from tests.bench import bench_coverage, bench_effects, bench_engine, bench_git, bench_prometheus, bench_serve

quick = ["--quick"] if "--quick" in sys.argv[1:] else []
bench_git.main(quick)
bench_coverage.main(quick)
bench_prometheus.main(["--repeat", "3"] if quick else [])
bench_effects.main(quick)
bench_serve.main(quick)
sys.exit(bench_engine.main(quick))
