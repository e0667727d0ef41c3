"""A bad coverage report costs only itself: it is skipped with its reason, the rest lands, state is
saved; counts that make no sense are refused; a big coverage.py JSON is read in little memory."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

import pytest

from collectors.coverage import CoverageSettings, collect
from collectors.coverage_formats import ReportError, parse, parse_bytes
from rca import pipeline
from rca.store import Store
from tests.git_repos import Repo, day
from tests.test_coverage_sources import cobertura, lcov

DEPTH = 50_000  # 100 KB of brackets: json.loads raised RecursionError


def _nested(where: str) -> str:
    deep = "[" * DEPTH + "]" * DEPTH
    if where == "top":
        return deep
    if where == "meta":
        return '{"meta": ' + deep + ', "files": {}, "totals": {"num_statements": 1, "covered_lines": 1}}'
    return ('{"meta": {"timestamp": "2024-01-05T10:00:00"}, "files": {"a.py": {"summary": {"num_statements": 2, '
            '"covered_lines": 1}, "executed_lines": ' + deep + '}}, "totals": {"num_statements": 2, '
            '"covered_lines": 1}}')


@pytest.mark.parametrize("where", ["top", "meta", "file"])
def test_a_deeply_nested_json_report_is_one_error(where: str) -> None:
    with pytest.raises(ReportError) as err:
        parse_bytes(_nested(where).encode(), "deep.json")
    assert str(err.value).startswith("deep.json:") and "\n" not in str(err.value)


def _store_config(tmp_path: Path, sources: list[dict]) -> Path:
    cfg = tmp_path / "rca.yaml"
    cfg.write_text(json.dumps({"data_dir": str(tmp_path / "data"), "coverage": {"sources": sources}}))
    return cfg


def test_one_bad_report_costs_only_itself_and_the_next_run_does_not_fail_again(tmp_path: Path) -> None:
    """A directory with good reports, a deeply nested one and one with a deeply nested sidecar; a
    committed report whose history holds a nested version; another source. Everything else lands,
    the run's failures name the bad ones, and the saved state spares the next run the same failures."""
    builds = tmp_path / "builds"
    builds.mkdir()
    (builds / "cov-20240101.xml").write_text(cobertura(5, 10))
    (builds / "cov-20240102.json").write_text(_nested("file"))
    (builds / "cov-20240103.info").write_text(lcov(9, 10))
    (builds / "cov-20240104.xml").write_text(cobertura(7, 10))
    (builds / "cov-20240104.xml.json").write_text("[" * DEPTH + "]" * DEPTH)  # a nested sidecar: the name decides
    other = tmp_path / "other"
    other.mkdir()
    (other / "cov-20240105.info").write_text(lcov(3, 4))
    r = Repo(tmp_path / "app")
    r.commit("one", {"coverage.json": _nested("meta")}, when=day(0))
    r.commit("two", {"coverage.json": json.dumps({"meta": {}, "files": {}, "totals": {
        "num_statements": 4, "covered_lines": 2}})}, when=day(1))
    pattern = r"cov-(?P<time>\d{8})"
    cfg = _store_config(tmp_path, [
        {"scope": "acme/dir", "dir": str(builds), "pattern": pattern, "time_from": ["sidecar", "name"]},
        {"scope": "acme/git", "repo": str(r.path), "file": "coverage.json"},
        {"scope": "acme/other", "dir": str(other), "pattern": pattern},
    ])
    settings = pipeline.settings(cfg)
    first = pipeline.collect(settings).run("coverage")
    assert first.error is None
    assert len(first.failures) == 2, first.failures
    assert any("cov-20240102.json" in f and "nested too deeply" in f for f in first.failures)
    assert any("acme/git" not in f and "app@" in f and "nested too deeply" in f for f in first.failures)
    with Store(settings.store_url) as store:
        got = store.read(metrics=["line_coverage_ratio"])
    ratios = {(row.scope, row.ts.strftime("%Y-%m-%d")): row.value for row in got.itertuples()}
    assert ratios == {("acme/dir", "2024-01-01"): 0.5, ("acme/dir", "2024-01-03"): 0.9,
                      ("acme/dir", "2024-01-04"): 0.7, ("acme/git", "2024-01-02"): 0.5,
                      ("acme/other", "2024-01-05"): 0.75}
    second = pipeline.collect(settings).run("coverage")
    assert second.error is None and second.failures == () and second.rows == 0
    assert any("1 unreadable, reported before" in line for line in second.lines)


@pytest.mark.parametrize(("text", "what"), [
    ('<coverage line-rate="1" lines-valid="1" lines-covered="-20000000000000000000000"><packages/></coverage>',
     "totals: -20000000000000000000000 of 1 lines covered"),
    ('<coverage line-rate="1" lines-valid="-2" lines-covered="-1"><packages/></coverage>', "totals: -1 of -2 lines"),
    ('<coverage line-rate="1" lines-valid="4" lines-covered="5"><packages/></coverage>', "totals: 5 of 4 lines"),
    ('<coverage line-rate="1" lines-valid="4" lines-covered="2" branches-valid="2" branches-covered="-1">'
     "<packages/></coverage>", "totals: -1 of 2 branches"),
    ('<report name="r"><counter type="LINE" missed="-3" covered="1"/></report>', "totals: 1 of -2 lines"),
    ('<report name="r"><package name="p"><sourcefile name="A.java"><counter type="LINE" missed="2" covered="-1"/>'
     "</sourcefile></package></report>", "file 'p/A.java': -1 of 1 lines"),
    ("SF:a.c\nLF:-5\nLH:-1\nend_of_record\n", ":2: LF:-5 is a negative count"),
    ("SF:a.c\nLF:2\nLH:3\nend_of_record\n", "file 'a.c': 3 of 2 lines"),
    ('{"meta": {}, "files": {}, "totals": {"num_statements": 2, "covered_lines": -1}}', "totals: -1 of 2 lines"),
    ('{"meta": {}, "files": {"a.py": {"summary": {"num_statements": -4, "covered_lines": 2}}}, '
     '"totals": {"num_statements": 4, "covered_lines": 2}}', "file 'a.py': 2 of -4 lines"),
    ('{"meta": {}, "files": {}, "totals": {"num_statements": 2, "covered_lines": 1, "num_branches": 1e400}}',
     "totals: summary lacks a number"),
])
def test_counts_that_make_no_sense_are_refused(text: str, what: str, tmp_path: Path) -> None:
    with pytest.raises(ReportError) as err:
        parse_bytes(text.encode(), "r")
    assert str(err.value).startswith(f"r{what}" if what.startswith(":") else f"r: {what}")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "cov-20240101.x").write_text(text)
    (tmp_path / "d" / "cov-20240102.x").write_text(cobertura(1, 4))
    got = collect(CoverageSettings.model_validate({"sources": [
        {"scope": "s", "dir": str(tmp_path / "d"), "pattern": r"cov-(?P<time>\d{8})"}]}), {})
    assert len(got.failures) == 1 and what in got.failures[0]
    ratios = got.observations[got.observations.metric.str.endswith("_ratio")]["value"]
    assert list(ratios) == [0.25]


def _coveragepy(n_files: int) -> bytes:
    entry = {"executed_lines": list(range(1, 400, 2)), "missing_lines": list(range(2, 400, 2)), "excluded_lines": [],
             "summary": {"num_statements": 399, "covered_lines": 200, "num_branches": 10, "covered_branches": 5}}
    files = ", ".join(f'"pkg/m{i}.py": ' + json.dumps(entry) for i in range(n_files))
    totals = {"num_statements": 399 * n_files, "covered_lines": 200 * n_files, "num_branches": 10 * n_files,
              "covered_branches": 5 * n_files}
    return ('{"meta": {"timestamp": "2024-01-05T10:00:00"}, "files": {' + files + '}, "totals": '
            + json.dumps(totals) + "}").encode()


def test_a_big_coverage_py_report_is_read_a_file_at_a_time() -> None:
    """8 MB of coverage.py JSON: decoding it whole took ~60 MB of Python objects; a file at a time, a few."""
    data = _coveragepy(4_000)
    assert len(data) > 7_000_000
    stream = io.BytesIO(data)
    tracemalloc.start()
    try:
        report = parse(stream, "big.json")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.totals.lines_valid == 399 * 4_000 and len(report.files) == 4_000
    assert peak < 12_000_000, peak


def test_a_commit_with_an_unreadable_time_in_a_report_s_history_is_skipped(tmp_path: Path) -> None:
    """The commit's report is skipped with a line; the other commits' reports land."""
    r = Repo(tmp_path / "app")
    r.commit("one", {"coverage.xml": cobertura(1, 4)}, when=day(0))
    tree = r.git("rev-parse", "HEAD^{tree}").strip()
    blob = r.git("hash-object", "-w", "--stdin", input=cobertura(2, 4).encode()).strip()
    tree = r.git("mktree", input=f"100644 blob {blob}\tcoverage.xml\n".encode()).strip()
    body = (f"tree {tree}\nparent {r.head()}\nauthor A <a@x> -5 +0000\ncommitter A <a@x> -5 +0000\n\nodd\n").encode()
    odd = r.git("hash-object", "-t", "commit", "-w", "--literally", "--stdin", input=body).strip()
    r.git("update-ref", "HEAD", odd)
    r.git("reset", "-q", "--hard")
    r.commit("three", {"coverage.xml": cobertura(3, 4)}, when=day(2))
    got = collect(CoverageSettings.model_validate({"sources": [
        {"scope": "s", "repo": str(r.path), "file": "coverage.xml"}]}), {})
    assert got.failures == (f"app: 1 commit(s) with a commit time Git cannot read or past 2200 (first: {odd[:12]}); "
                            "skipped",)
    rows = got.observations[got.observations.metric == "line_coverage_ratio"]
    assert list(rows["value"]) == [0.25, 0.75]
