"""``python -m tests.bench [--quick]``: the engine benchmark (see :mod:`tests.bench.bench_engine`)."""

import sys

from tests.bench.bench_engine import main

sys.exit(main())
