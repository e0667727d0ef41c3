"""``python -m tests.bench [--quick]`` (what ``make bench`` runs): every benchmark, one after the other.

The Git collector's (:mod:`tests.bench.bench_git`), the causal engine's
(:mod:`tests.bench.bench_engine`) and the effect estimates' (:mod:`tests.bench.bench_effects`);
each prints its own figures and ratios. ``--quick`` is passed to all three.
"""

import sys

from tests.bench import bench_effects, bench_engine, bench_git

quick = ["--quick"] if "--quick" in sys.argv[1:] else []
bench_git.main(quick)
bench_effects.main(quick)
sys.exit(bench_engine.main(quick))
