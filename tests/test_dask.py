"""The heavy loops on a real Dask cluster give the numbers the local run gives.

A ``dask.distributed.LocalCluster`` (worker processes, loopback) is started once for the module,
and jobs run twice from the same store: without a ``compute`` section (in this process) and
with ``compute: {scheduler: tcp://...}``. The report over three scopes of the demo sample, a
recommendations bootstrap of refits, refutations and a bootstrap interval, a bootstrap whose
draws use NumPy's global generator and a collection of three repositories must come back
identical, and the tasks must really have run on the workers. Without dask installed, or with a
scheduler nobody runs, the job fails in one line; without a ``compute`` section nothing of Dask
is imported. The cluster failing to start is an error, never a skip.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from graphs.model import parse_graph
from rca import pipeline
from rca.pipeline import compute
from rca.sample import generate
from rca.store import Store
from tests.git_repos import Repo, day
from tests.hostile_servers import RawServer, junk, silent
from tests.postgres_server import free_port

SCOPES = ("acme/payments", "acme/search", "acme/checkout")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two single-threaded worker processes on loopback; a client of the test's own to watch them."""
    try:
        from distributed import Client, LocalCluster
    except ModuleNotFoundError as exc:
        raise RuntimeError(f"the Dask tests need {exc.name!r}: install whydunnit[dask] (make .venv/.installed does)") from None
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as lc, Client(lc.scheduler_address, set_as_default=False) as watcher:
        watcher.wait_for_workers(2, timeout=60)
        yield watcher
    compute.close()


def _on(cluster) -> dict[str, Any]:
    return {"compute": {"scheduler": cluster.scheduler.address, "timeout_s": 30}}


def _same(result: dict[str, Any]) -> dict[str, Any]:
    """A result without what differs between any two runs (how long it took, when the model was fitted)."""
    if isinstance(result, dict):
        return {k: _same(v) for k, v in result.items() if k not in ("timings_s", "fitted_at")}
    if isinstance(result, list | tuple):
        return [_same(v) for v in result]
    return result


def _ran_on_workers(cluster, job) -> tuple[Any, list[dict[str, Any]]]:
    """Run ``job()`` and return its value and the tasks the cluster ran meanwhile."""
    from distributed import get_task_stream

    with get_task_stream(client=cluster) as stream:
        value = job()
    return value, stream.data


@pytest.fixture(scope="module")
def three_scopes(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store with the demo organisation in three scopes (same mechanisms, each its own noise)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('dask') / 'rca.db'}"
    with Store(url) as store:
        store.write(pd.concat([generate(seed=7 + 4 * i).observations.assign(scope=s) for i, s in enumerate(SCOPES)]))
    return url


def test_the_report_over_three_scopes_is_the_same_on_the_cluster(cluster, three_scopes: str, tmp_path: Path) -> None:
    targets = [{"target": "bug_fix_commit_ratio", "scope": s, "last": "13 weeks"} for s in SCOPES]
    targets.append({"target": "lead_time_seconds", "scope": SCOPES[0], "last": "13 weeks"})  # shares a task
    targets.append({"target": "bug_fix_commit_ratio", "scope": "acme/nowhere", "last": "13 weeks"})  # skipped
    base = {"store": {"url": three_scopes}, "engine": {"bootstrap": 20}, "investigations": targets,
            "reports": {"out_dir": str(tmp_path), "formats": ["json"]}}
    here = pipeline.report(pipeline.settings(None, **base))
    there, tasks = _ran_on_workers(cluster, lambda: pipeline.report(pipeline.settings(None, **base, **_on(cluster))))
    assert [_same(r.to_dict()) for r in there.results] == [_same(r.to_dict()) for r in here.results]
    assert [(r.target, r.scope) for r in there.results] == [(t["target"], t["scope"]) for t in targets[:4]]
    assert there.skipped == here.skipped and "acme/nowhere" in there.skipped[0]
    assert len({r.to_dict()["observed"]["current"] for r in there.results[:3]}) == 3  # three scopes, three answers
    assert len(tasks) >= 1 and {t["worker"] for t in tasks} <= set(cluster.scheduler_info()["workers"])
    with Store(three_scopes) as store:  # the records are kept here, by the job, not by the workers
        kept = store.investigations(limit=20)
    assert sum(r.status == "done" for r in kept) == 8


def _loglinear_lead_time():
    """The delivery graph with lead time log-linear: recommendations then bootstrap by refitting."""
    import graphs

    text = (Path(graphs.__file__).parent / "delivery.yaml").read_text()
    return parse_graph(text.replace("kind: duration, actionable: false}",
                                    "kind: duration, actionable: false, mechanism: loglinear}"))


def test_a_recommendations_bootstrap_of_refits_is_the_same_on_the_cluster(cluster, three_scopes: str) -> None:
    g = _loglinear_lead_time()
    base = {"store": {"url": three_scopes}}
    ask = {"graph": g, "scope": SCOPES[0], "bootstrap": 24, "samples": 300}
    here = pipeline.recommendations("lead_time_seconds", pipeline.settings(None, **base), **ask)
    there, tasks = _ran_on_workers(cluster, lambda: pipeline.recommendations(
        "lead_time_seconds", pipeline.settings(None, **base, **_on(cluster)), **ask))
    assert any("sampled refits" in c for c in here.result.caveats)  # the Python loop, not the closed form
    assert _same(there.result.to_dict()) == _same(here.result.to_dict())
    assert all(np.isfinite(r.interval[0]) for r in there.result.items)
    assert len(tasks) >= 2  # the 24 refits went out in batches


def test_refutations_and_a_bootstrap_interval_are_the_same_on_the_cluster(cluster, three_scopes: str) -> None:
    base = {"store": {"url": three_scopes}}
    # A binary treatment: the doubly robust estimate (propensity model refitted in every re-estimate), then three
    # refuters whose re-estimates run as tasks.
    frame = generate().wide.assign(big_change=lambda d: (d["median_change_size_lines"] > 60).astype(float))
    g = parse_graph("""
name: binary
unit: week
nodes:
  newcomer_commit_ratio: {}
  big_change: {kind: ratio}
  bug_introducing_commit_ratio: {}
edges:
  - [newcomer_commit_ratio, big_change]
  - [newcomer_commit_ratio, bug_introducing_commit_ratio]
  - [big_change, bug_introducing_commit_ratio]
""")
    ask = {"graph": g, "data": frame, "simulations": 8, "bootstrap": 16, "dml": False}
    here = pipeline.effect("big_change", "bug_introducing_commit_ratio", pipeline.settings(None, **base), **ask)
    there, tasks = _ran_on_workers(cluster, lambda: pipeline.effect(
        "big_change", "bug_introducing_commit_ratio", pipeline.settings(None, **base, **_on(cluster)), **ask))
    assert _same(there.result.to_dict()) == _same(here.result.to_dict())
    assert [r.simulations for r in there.result.refutations if r.passed is not None] == [8, 8, 8]
    assert there.result.estimates[0].method == "doubly_robust" and len(tasks) >= 3


def _global_draw(rng: np.random.Generator) -> dict[str, float]:
    """A draw that uses NumPy's global generator, as DoWhy does: seeded from its own generator first."""
    from rca.engine.fitting import seed_everything

    rows = rng.integers(0, 100, 100)
    seed_everything(int(rng.integers(0, 2**32 - 1)))
    return {"x": float(rows.mean() + np.random.normal())}


def test_draws_that_use_the_global_generator_do_not_depend_on_order_or_place(cluster) -> None:
    """The nonlinear (DoWhy) bootstraps' loop, rca.engine.attribution.bootstrap, with a cheap draw."""
    from joblib import parallel_config

    from rca.engine.attribution import bootstrap

    np.random.seed(123)
    here = bootstrap(16, 5, _global_draw)
    after_here = np.random.random()
    np.random.seed(123)
    with parallel_config(backend="dask", client=cluster):
        there = bootstrap(16, 5, _global_draw)
    assert there == here and len({d["x"] for d in here}) == 16
    assert np.random.random() == after_here  # the loop left the global generator as it found it, either way


def _repos(root: Path) -> list[Path]:
    out = []
    for k in range(3):
        r = Repo(root / f"repo{k}")
        for i in range(10 + 4 * k):
            msg = f"fix: bug {i}" if i % 3 == 2 else f"feat: step {i}"
            r.commit(msg, {"src/core.py": "".join(f"v{j} = {i * j + k}\n" for j in range(6)),
                           f"tests/test_{i % 2}.py": f"t{i}\n"}, when=day(i * 2 + k))
        out.append(r.path)
    return out


def test_a_collection_of_three_repositories_lands_the_same_from_the_cluster(cluster, tmp_path: Path) -> None:
    paths = _repos(tmp_path)
    git = {"repos": [{"path": str(p), "name": f"acme/r{k}"} for k, p in enumerate(paths)]}
    stored = []
    for name, extra in (("here", {}), ("there", _on(cluster))):
        settings = pipeline.settings(None, data_dir=str(tmp_path / name), git=git, **extra)
        outcome, tasks = _ran_on_workers(cluster, lambda s=settings: pipeline.collect(s))
        assert outcome.ok and len(outcome.run("git").lines) == 3
        assert (len(tasks) >= 1) == (name == "there")
        with Store(settings.store_url) as store:
            stored.append((store.read().sort_values(["scope", "metric", "ts"]).reset_index(drop=True),
                           store.states("git")))
    pd.testing.assert_frame_equal(stored[0][0], stored[1][0])
    assert stored[0][1] == stored[1][1] and len(stored[0][1]) == 3
    again = pipeline.collect(pipeline.settings(None, data_dir=str(tmp_path / "there"), git=git, **_on(cluster)))
    assert again.rows_written == 0  # each part got its own saved state back: nothing new to read


def test_a_local_cluster_is_started_once_and_reused(three_scopes: str) -> None:
    settings = pipeline.settings(None, store={"url": three_scopes},
                                 compute={"scheduler": "local", "workers": 1, "timeout_s": 60})
    try:
        first = pipeline.recommendations("bug_fix_commit_ratio", settings, scope=SCOPES[1], bootstrap=4, samples=100)
        client = compute.client(settings.compute)
        again = pipeline.recommendations("bug_fix_commit_ratio", settings, scope=SCOPES[1], bootstrap=4, samples=100)
        assert compute.client(settings.compute) is client and client.status == "running"
        assert _same(first.result.to_dict()) == _same(again.result.to_dict())
    finally:
        compute.close()


def test_a_scheduler_nobody_runs_is_one_line(rca, tmp_path: Path, three_scopes: str) -> None:
    port = free_port()
    cfg = tmp_path / "rca.yaml"
    cfg.write_text(f"store: {{url: '{three_scopes}'}}\ncompute: {{scheduler: 'tcp://127.0.0.1:{port}', timeout_s: 2}}\n"
                   "investigations: [{target: bug_fix_commit_ratio, scope: acme/payments, last: 13 weeks}]\n")
    res = rca("report", "--config", str(cfg))
    assert res.code == 3 and res.err.count("\n") == 1, res.err
    assert res.err.startswith(f"rca: error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}: ")


@pytest.mark.parametrize(("server", "said"), [
    (silent, "did not answer Dask's handshake within 1 s (is it a Dask scheduler, and is the port right?)"),
    (junk, "answered with something that is not Dask's protocol (is it a Dask scheduler, and is the port right?)"),
])
def test_a_scheduler_that_never_answers_or_answers_junk_is_one_line(rca, tmp_path: Path, three_scopes: str, server,
                                                                     said: str) -> None:
    """A port that accepts and stays silent held the job forever; one that answers an HTTP error made
    distributed allocate 3.07 EiB (the first 8 bytes read as a frame's length) and fail with a traceback."""
    with RawServer(server()) as fake:
        cfg = tmp_path / "rca.yaml"
        cfg.write_text(f"store: {{url: '{three_scopes}'}}\ncompute: {{scheduler: 'tcp://127.0.0.1:{fake.port}', "
                       "timeout_s: 1}\ninvestigations: [{target: bug_fix_commit_ratio, scope: acme/payments, last: 13 weeks}]\n")
        res = rca("report", "--config", str(cfg))
    assert res.err == f"rca: error: the Dask scheduler at tcp://127.0.0.1:{fake.port} {said}\n"
    assert res.code == 3


# Dask and distributed cannot be imported here, and every attempt to import them is noted.
_NO_DASK = """
import importlib.abc, sys
tried = []
class NoDask(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("dask", "distributed"):
            tried.append(name)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, NoDask())
from rca import pipeline
s = pipeline.settings(None, store={"url": sys.argv[1]}, engine={"bootstrap": 5}, reports={"out_dir": sys.argv[2]},
                      investigations=[{"target": "bug_fix_commit_ratio", "scope": "acme/payments", "last": "13 weeks"}])
assert len(pipeline.report(s).results) == 1
assert pipeline.recommendations("bug_fix_commit_ratio", s, scope="acme/payments", bootstrap=5, samples=100).result.items
print("tried to import:", tried, flush=True)
from rca.cli import main
main(["report", "--config", sys.argv[3]])
"""


def test_without_dask_the_default_path_runs_and_a_configured_scheduler_is_one_line(tmp_path: Path,
                                                                                   three_scopes: str) -> None:
    """Without a compute section nothing even tries to import Dask; with one, the job names the extra."""
    cfg = tmp_path / "cluster.yaml"  # not ./rca.yaml, which the default path would read
    cfg.write_text(f"store: {{url: '{three_scopes}'}}\ncompute: {{scheduler: local}}\n"
                   "investigations: [{target: bug_fix_commit_ratio, scope: acme/payments, last: 13 weeks}]\n")
    proc = subprocess.run([sys.executable, "-c", _NO_DASK, three_scopes, str(tmp_path), str(cfg)], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert proc.stdout.strip().splitlines()[-1:] == ["tried to import: []"], proc.stdout + proc.stderr
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("rca: error: compute.scheduler is 'local' but the Python package ")
    assert "whydunnit[dask]" in proc.stderr and "Traceback" not in proc.stderr


def test_the_compute_section_takes_a_tcp_address_or_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rca.config import ConfigError, load_settings

    assert load_settings(None).compute.scheduler is None  # the default: everything in this process
    monkeypatch.setenv("RCA_COMPUTE__SCHEDULER", "tcp://dask-scheduler.example:8786")
    assert load_settings(None).compute.scheduler == "tcp://dask-scheduler.example:8786"
    for bad in ("http://dask:8786", "tcp://dask", "dask:8786"):
        monkeypatch.setenv("RCA_COMPUTE__SCHEDULER", bad)
        with pytest.raises(ConfigError, match="compute.scheduler: scheduler must be tcp://HOST:PORT or local"):
            load_settings(None)


def test_report_tasks_carry_the_engine_options_but_not_the_store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What would travel to the workers: frames, graphs and options; never the store's URL (a password in it)."""
    import pickle

    import cloudpickle

    from rca.engine import parallel

    url = f"sqlite:///{tmp_path / 'pw-s3cr3t-marker' / 'rca.db'}"
    with Store(url) as store:
        store.write(generate().observations)
    shipped: list[bytes] = []
    real = parallel.tasks

    def spy(fn, items):
        items = list(items)
        shipped.append(cloudpickle.dumps((fn, items)))
        return real(fn, items)

    monkeypatch.setattr(parallel, "tasks", spy)
    settings = pipeline.settings(None, store={"url": url}, engine={"bootstrap": 7},
                                 reports={"out_dir": str(tmp_path / "out"), "formats": ["json"]},
                                 investigations=[{"target": "bug_fix_commit_ratio", "scope": SCOPES[0], "last": "13 weeks"}])
    assert len(pipeline.report(settings).results) == 1
    assert shipped and all(b"pw-s3cr3t-marker" not in blob for blob in shipped)
    _, items = pickle.loads(shipped[0])
    assert items[0][2].engine.bootstrap == 7
