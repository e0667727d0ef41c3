"""Pytest fixtures for the report tests, loaded with ``pytest_plugins`` by the modules that use them
(the suite's conftest.py is shared with everyone): one real engine result, the artifacts folder,
and a headless Chromium for the session that fails, never skips, when the browser is missing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from results import InvestigationResult

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def engine_result() -> InvestigationResult:
    """One real investigation of the demo sample (small bootstrap to stay quick)."""
    from graphs import shipped_graph
    from rca import sample
    from rca.engine import Options, Question, Window, investigate

    demo = sample.generate()
    question = Question(demo.target, baseline=Window(*demo.baseline), current=Window(*demo.current))
    return investigate(demo.wide, shipped_graph("delivery"), question, scope=demo.scope,
                       options=Options(bootstrap=4, num_samples=200))


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Chromium; a missing browser fails the tests (run `make system-deps`), it never skips them."""
    from tests.cdp import Browser, find_chromium

    binary = find_chromium()
    if binary is None:
        pytest.fail("chromium is not installed: run `make system-deps` (apt-get install chromium)", pytrace=False)
    b = Browser(binary)
    try:
        yield b
    finally:
        b.close()
