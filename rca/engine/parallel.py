"""Independent tasks of a loop: here, one after another, or on a Dask cluster through joblib.

The engine's Python loops whose iterations do not depend on one another (bootstrap refits of
nonlinear models, refutation re-estimates, a report's investigations of several scopes, the
repositories of one collection) hand their iterations to :func:`tasks`. By default that is a
plain loop in this process: nothing is imported, nothing is pickled. When the caller has made
joblib's Dask backend the active one (``joblib.parallel_config(backend="dask")``: the pipeline
does for ``compute: {scheduler: ...}``, :mod:`rca.pipeline.compute`), the iterations go to the
cluster's workers instead, and come back in their order.

Either way the answers are the same: a task's randomness must come from its own argument (a
seed or the resample drawn for it beforehand), never from a generator shared with the tasks
before it, so the order in which workers run them does not matter. Only the outermost loop is
spread: a task that itself loops (an investigation's bootstrap) runs that loop in place on its
worker, which keeps one task's memory on one worker and the scheduler's queue short.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def on_dask() -> bool:
    """Whether joblib's active backend (in this thread) is a Dask cluster."""
    joblib = sys.modules.get("joblib")  # nothing can have chosen the Dask backend without importing joblib
    if joblib is None:
        return False
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return type(backend).__name__ == "DaskDistributedBackend"


def tasks(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[fn(x) for x in items]``, on the Dask cluster when one is the active joblib backend."""
    items = list(items)
    if len(items) < 2 or not on_dask():
        with _global_generators_kept():
            return [fn(x) for x in items]
    from joblib import Parallel, delayed

    return list(Parallel(n_jobs=-1)(delayed(_in_place)(fn, x) for x in items))


@contextmanager
def _global_generators_kept() -> Iterator[None]:
    """Leave NumPy's and Python's global generators as the loop found them, as tasks run on workers do:
    what runs after the loop then draws the same numbers however the loop ran."""
    np = sys.modules.get("numpy")
    saved = (np.random.get_state() if np is not None else None, random.getstate())
    try:
        yield
    finally:
        if saved[0] is not None:
            np.random.set_state(saved[0])
        random.setstate(saved[1])


def _in_place(fn: Callable[[Any], Any], x: Any) -> Any:
    """Run one task on a worker with any loop inside it run in place (not sent back to the cluster)."""
    from joblib import parallel_config

    with parallel_config(backend="sequential"):
        return fn(x)
