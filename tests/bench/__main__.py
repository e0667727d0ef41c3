"""``python -m tests.bench [--quick]`` (what ``make bench`` runs): the benchmarks, today the Git collector's."""

from tests.bench.bench_git import main

main()
