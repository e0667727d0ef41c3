"""Shared fixtures: small seeded data sets and a way to run the CLI in-process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rca.cli import main
from tests.postgres_server import PostgresServer, require_driver
from tests.prometheus_server import PrometheusServer, fixture_series, serve

CHAIN_YAML = """
name: chain
unit: day
nodes:
  deploys: {agg: sum, higher_is_worse: false}
  change_size: {agg: median}
  coverage: {agg: last, higher_is_worse: false}
  bugs: {agg: mean}
edges:
  - [change_size, bugs]
  - [coverage, bugs]
  - [deploys, change_size]
"""


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def rca(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``rca ARGS`` in-process; return exit code, stdout and stderr."""

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def chain_frame(n: int = 160, seed: int = 3, shift_at: int | None = 120, shift: float = 0.0,
                node: str = "coverage") -> pd.DataFrame:
    """deploys -> change_size -> bugs <- coverage, daily, with an optional shift in one root."""
    rng = np.random.default_rng(seed)
    deploys = rng.poisson(8, n).astype(float)
    coverage = rng.normal(0.8, 0.03, n)
    if shift_at is not None and node == "coverage":
        coverage[shift_at:] += shift
    change_size = 30 + 4 * deploys + rng.normal(0, 5, n)
    if shift_at is not None and node == "change_size":
        change_size[shift_at:] += shift
    bugs = 0.5 + 0.004 * change_size - 0.5 * coverage + rng.normal(0, 0.01, n)
    idx = pd.date_range("2026-01-01", periods=n, freq="D", tz="UTC")
    return pd.DataFrame({"deploys": deploys, "change_size": change_size, "coverage": coverage, "bugs": bugs},
                        index=pd.DatetimeIndex(idx, name="ts"))


@pytest.fixture
def chain_graph(tmp_path: Path) -> Path:
    p = tmp_path / "chain.yaml"
    p.write_text(CHAIN_YAML)
    return p


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    out = frame.copy()
    out.index = out.index.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.to_csv(path, index_label="ts")
    return path


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """A real Prometheus server over sixty days of hourly samples (tests.prometheus_server.fixture_series).

    Started once per test session and stopped at the end; it fails (never skips) when it cannot start.
    """
    server = serve(fixture_series(), tmp_path_factory.mktemp("prometheus"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server on loopback (tests.postgres_server), started once per session when a test
    asks for it and stopped at the end. It fails (never skips) when the server or the driver is missing."""
    require_driver()
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store's URL: a SQLite file, then a fresh database on the real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'rca.db'}"
    return request.getfixturevalue("postgres").database()
