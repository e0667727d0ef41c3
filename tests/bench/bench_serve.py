"""Load on ``rca serve``, on loopback: many GETs while bursts of questions exceed the worker pool.

``python -m tests.bench.bench_serve [--posts N] [--getters N] [--rounds N] [--url URL --token T]``

Without ``--url`` it starts ``rca serve`` itself (2 workers, 4 waiting places, over the demo
sample in a temporary folder) and stops it after. Then, for each round, ``--getters`` threads
ask ``GET /healthz`` and ``GET /runs`` in a loop while ``--posts`` threads each send one
``POST /investigations`` at the same moment (a barrier); a round ends when every accepted
question is answered. It prints how many requests of each kind were sent, the concurrency, the
p50/p99/max latency of ``/healthz``, ``/runs`` and the POSTs, how many questions were
accepted (202) and refused (429), and checks that every accepted question ended done or failed
under a unique id. Requests are bounded in count and time and go only to loopback.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass
class LoadResult:
    posts: int = 0
    getters: int = 0
    seconds: float = 0.0
    status: Counter = field(default_factory=Counter)  # POST status -> count
    ids: list[str] = field(default_factory=list)  # accepted question ids, in order
    retry_after: set[str] = field(default_factory=set)  # Retry-After values seen on 429s
    latency: dict[str, list[float]] = field(default_factory=lambda: {"healthz": [], "runs": [], "post": []})
    errors: list[str] = field(default_factory=list)  # transport errors (none expected)
    final: dict[str, str] = field(default_factory=dict)  # id -> final status

    def pct(self, what: str, q: float) -> float:
        xs = sorted(self.latency[what])
        if not xs:
            return float("nan")
        return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]

    def lines(self) -> list[str]:
        gets = len(self.latency["healthz"]) + len(self.latency["runs"])
        out = [f"requests: {self.posts} POST /investigations at once, {gets} GETs from {self.getters} threads "
               f"({len(self.latency['healthz'])} /healthz, {len(self.latency['runs'])} /runs) in {self.seconds:.1f} s; "
               f"concurrency {self.posts + self.getters}"]
        for what in ("healthz", "runs", "post"):
            xs = self.latency[what]
            if xs:
                out.append(f"  {what:8s} p50 {1000 * self.pct(what, 0.5):7.1f} ms   p99 {1000 * self.pct(what, 0.99):7.1f} ms"
                           f"   max {1000 * max(xs):7.1f} ms   mean {1000 * statistics.fmean(xs):6.1f} ms")
        ends = Counter(self.final.values())
        other = sum(v for k, v in self.status.items() if k not in (202, 429))
        out.append(f"  POSTs: {self.status.get(202, 0)} accepted (202), {self.status.get(429, 0)} refused (429, "
                   f"Retry-After {', '.join(sorted(self.retry_after)) or '-'}), other {other}; "
                   f"accepted ended: {dict(ends)}; ids unique: {len(set(self.ids)) == len(self.ids)}")
        if self.errors:
            out.append(f"  transport errors: {len(self.errors)} (first: {self.errors[0]})")
        return out


def burst(url: str, token: str, *, posts: int = 24, getters: int = 8, body: dict | None = None,
          answer_timeout_s: float = 120.0, max_s: float = 120.0, result: LoadResult | None = None) -> LoadResult:
    """One round: ``getters`` GET loops while ``posts`` POSTs start together; wait for every accepted answer."""
    from tests.serve_helpers import ask

    res = result or LoadResult()
    res.posts += posts
    res.getters = max(res.getters, getters)
    headers = {"Authorization": f"Bearer {token}"}
    body = body or ask()
    stop = threading.Event()
    lock = threading.Lock()
    barrier = threading.Barrier(posts)
    t_start = time.perf_counter()
    hard_stop = time.monotonic() + max_s

    def getter(i: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=10) as c:
            n = 0
            while not stop.is_set() and time.monotonic() < hard_stop:
                what = "healthz" if n % 2 == 0 or i % 2 == 0 else "runs"
                n += 1
                t0 = time.perf_counter()
                try:
                    r = c.get("/healthz" if what == "healthz" else "/runs?limit=5")
                    r.raise_for_status()
                except httpx.HTTPError as exc:
                    with lock:
                        res.errors.append(f"GET {what}: {exc!r}")
                    continue
                with lock:
                    res.latency[what].append(time.perf_counter() - t0)
                time.sleep(0.005)

    def poster() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=30) as c:
            barrier.wait(timeout=30)
            t0 = time.perf_counter()
            try:
                r = c.post("/investigations", json=body)
            except httpx.HTTPError as exc:
                with lock:
                    res.errors.append(f"POST: {exc!r}")
                return
            with lock:
                res.latency["post"].append(time.perf_counter() - t0)
                res.status[r.status_code] += 1
                if r.status_code == 202:
                    res.ids.append(r.json()["id"])
                elif r.status_code == 429:
                    res.retry_after.add(r.headers.get("retry-after", ""))

    gets = [threading.Thread(target=getter, args=(i,), daemon=True) for i in range(getters)]
    for t in gets:
        t.start()
    time.sleep(0.2)  # the GET loops are going when the burst comes
    sends = [threading.Thread(target=poster, daemon=True) for _ in range(posts)]
    for t in sends:
        t.start()
    for t in sends:
        t.join(60)
    with lock:
        ids = list(res.ids)
    deadline = time.monotonic() + answer_timeout_s
    with httpx.Client(base_url=url, headers=headers, timeout=10) as c:
        for id_ in ids:
            while True:
                status = c.get(f"/investigations/{id_}").json().get("status")
                if status in ("done", "failed") or time.monotonic() > deadline:
                    res.final[id_] = status
                    break
                time.sleep(0.1)
    stop.set()
    for t in gets:
        t.join(15)
    res.seconds += time.perf_counter() - t_start
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--posts", type=int, default=24, help="POST /investigations sent at once per round")
    p.add_argument("--getters", type=int, default=8, help="threads asking GET /healthz and /runs meanwhile")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--url", help="an rca serve already running (default: start one)")
    p.add_argument("--token", help="its API token (with --url)")
    p.add_argument("--quick", action="store_true", help="one round")
    args = p.parse_args(argv)
    rounds = 1 if args.quick else args.rounds
    served = None
    if args.url is None:
        from tests.serve_helpers import TOKEN, Served

        served = Served(Path(tempfile.mkdtemp(prefix="bench-serve-"))).start()
        url, token = served.url, TOKEN
        print(f"rca serve on {url}: 2 workers, 4 waiting places, demo sample, engine bootstrap 20")
    else:
        url, token = args.url, args.token or ""
    try:
        res = LoadResult()
        for _ in range(rounds):
            burst(url, token, posts=args.posts, getters=args.getters, result=res)
        print(f"bench_serve: {rounds} round(s)")
        for line in res.lines():
            print(line)
        ok = all(s in ("done", "failed") for s in res.final.values()) and len(set(res.ids)) == len(res.ids)
        return 0 if ok and not res.errors else 1
    finally:
        if served is not None:
            served.stop()


if __name__ == "__main__":
    raise SystemExit(main())
