"""The service's threads: a bounded pool of workers answering queued questions, and the fitted models they share.

:class:`WorkerPool` runs ``workers`` daemon threads taking question ids from a queue, at most
``workers + waiting`` at once: a place is reserved before a question is queued (no place: the
caller refuses it, never waits) and given back when it is answered. :class:`SharedModelCache` is
the engine's model cache made safe for several threads at once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rca.engine.fitting import Fitted, ModelCache, fingerprint
from rca.engine.fitting import fit as fit_model

if TYPE_CHECKING:
    from graphs import CausalGraph

log = logging.getLogger("rca.api")  # the name operators filter the service's lines by (it began inside the API)


@dataclass
class SharedModelCache(ModelCache):
    """A :class:`ModelCache` several threads may use at once. The lock guards the bookkeeping, not
    the fit: two threads fitting the same rows at the same moment both fit (the same model), and
    neither waits for the other's fit of different rows."""

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fit(self, frame, graph: CausalGraph) -> Fitted:
        key = fingerprint(graph, frame)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                self.hits += 1
                return self._models[key]
            self.misses += 1
        model = fit_model(frame, graph)
        with self._lock:
            self._models[key] = model
            while len(self._models) > self.capacity:
                self._models.popitem(last=False)
        return model

    def clear(self) -> int:
        """Drop every fitted model; return how many there were."""
        with self._lock:
            n = len(self._models)
            self._models.clear()
        return n

    def __len__(self) -> int:
        return len(self._models)


class WorkerPool:
    """``workers`` daemon threads taking question ids from a queue; at most ``workers + waiting`` at once.

    :meth:`reserve` takes a place without blocking (False: full, the caller answers 429); a place is
    given back when its question is answered, or by :meth:`release` if it is never submitted.
    """

    def __init__(self, workers: int, waiting: int, run: Callable[[str, float], None]) -> None:
        self.workers, self.capacity = workers, waiting
        self._run = run
        self._slots = threading.BoundedSemaphore(workers + waiting)
        self._queue: queue.Queue[tuple[str, float] | None] = queue.Queue()
        self._busy = 0
        self._lock = threading.Condition()
        self._threads = [threading.Thread(target=self._loop, name=f"rca-worker-{i}", daemon=True)
                         for i in range(workers)]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def reserve(self) -> bool:
        return self._slots.acquire(blocking=False)

    def release(self) -> None:
        self._slots.release()

    def submit(self, id_: str) -> None:
        """Queue ``id_`` (after a successful :meth:`reserve`)."""
        with self._lock:
            self._queue.put((id_, time.monotonic()))

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    @property
    def busy(self) -> int:
        return self._busy

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until nothing runs or waits (True), or ``timeout_s`` passed (False)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._busy or self._queue.qsize():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(timeout=min(left, 0.1))
            return True

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put(None)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            with self._lock:
                self._busy += 1
            try:
                self._run(*item)
            except Exception:  # the runner records its own failures; this keeps the thread alive regardless
                log.exception("worker failed on %s", item[0])
            finally:
                with self._lock:
                    self._busy -= 1
                    self._lock.notify_all()
                self._slots.release()
