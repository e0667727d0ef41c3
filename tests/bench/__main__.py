"""``python -m tests.bench [--quick]`` (what ``make bench`` runs): every benchmark, one after the other.

The Git collector's (:mod:`tests.bench.bench_git`), the coverage collector's
(:mod:`tests.bench.bench_coverage`), the effect estimates' (:mod:`tests.bench.bench_effects`) and
the causal engine's (:mod:`tests.bench.bench_engine`); each prints its own figures and ratios.
``--quick`` is passed to each.
"""

import sys

from tests.bench import bench_coverage, bench_effects, bench_engine, bench_git

quick = ["--quick"] if "--quick" in sys.argv[1:] else []
bench_git.main(quick)
bench_coverage.main(quick)
bench_effects.main(quick)
sys.exit(bench_engine.main(quick))
