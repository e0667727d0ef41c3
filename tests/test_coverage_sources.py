"""Where coverage reports come from: a directory (times from names, sidecars or the reports) and
the Git history of a committed report; broken and hostile reports fail alone; runs are incremental."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from collectors.base import Collected, Replace
from collectors.coverage import CoverageSettings, collect
from rca.config import ConfigError, load_settings
from tests.git_repos import Repo, day

T = pd.Timestamp


def cobertura(covered: int, valid: int, *, stamp_ms: int | None = None, path: str = "src/app.py",
              branches: tuple[int, int] | None = None) -> str:
    """A Cobertura report of one file: ``covered`` of ``valid`` lines, optionally one branch line."""
    lines = [f'<line number="{i + 1}" hits="{1 if i < covered else 0}"/>' for i in range(valid)]
    if branches:
        lines[0] = (f'<line number="1" hits="1" branch="true" '
                    f'condition-coverage="{100 * branches[0] // branches[1]}% ({branches[0]}/{branches[1]})"/>')
    stamp = f' timestamp="{stamp_ms}"' if stamp_ms is not None else ""
    return (f'<?xml version="1.0" ?>\n<coverage line-rate="{covered / valid:.4f}"{stamp}>\n<packages><package name="p">'
            f'<classes><class name="c" filename="{path}"><lines>\n' + "\n".join(lines)
            + "\n</lines></class></classes></package></packages>\n</coverage>\n")


def lcov(covered: int, valid: int, path: str = "src/app.py") -> str:
    return f"SF:{path}\n" + "".join(f"DA:{i + 1},{1 if i < covered else 0}\n" for i in range(valid)) + "end_of_record\n"


def settings(**source: Any) -> CoverageSettings:
    source.setdefault("scope", "acme/app")
    return CoverageSettings.model_validate({"sources": [{k: str(v) if isinstance(v, Path) else v
                                                         for k, v in source.items()}]})


def ratios(got: Collected, scope: str = "acme/app") -> dict[pd.Timestamp, float]:
    df = got.observations
    rows = df[(df.scope == scope) & (df.metric == "line_coverage_ratio")]
    return dict(zip(rows["ts"], rows["value"], strict=True))


def write(path: Path, text: str, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


# --- a directory of reports -------------------------------------------------------------------------------

def test_times_from_the_file_name_a_time_or_a_commit(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "app")
    first = repo.commit("one", {"a.py": "1\n"}, when=day(0), committed=day(0, 15))
    second = repo.commit("two", {"a.py": "2\n"}, when=day(1), committed=day(2, 9))
    d = tmp_path / "reports"
    write(d / f"cov-{first[:7]}.xml", cobertura(1, 4))
    write(d / f"cov-{second}.info", lcov(2, 4))
    write(d / "cov-20240110T080000Z.xml", cobertura(3, 4))
    write(d / "cov-deadbee.xml", cobertura(4, 4, stamp_ms=1_705_000_000_000))  # unknown commit: its own time
    write(d / "cov-beefbee.info", lcov(1, 1))  # unknown commit and no time anywhere: a failure
    got = collect(settings(dir=d, repo=repo.path,
                           pattern=r"cov-(?:(?P<commit>[0-9a-f]{7,40})|(?P<time>\d{8}T\d{6}Z))\."), {})
    assert ratios(got) == {T(day(0, 15)): 0.25, T(day(2, 9)): 0.5, T("2024-01-10T08:00Z"): 0.75,
                           T(1_705_000_000, unit="s", tz="UTC"): 1.0}
    assert got.failures == (f"{d / 'cov-beefbee.info'}: no time for this report: commit beefbee is not in "
                            f"{repo.path} (fetch it?); no sidecar cov-beefbee.info.json; the lcov report has no "
                            "timestamp; skipped",)
    assert got.lines == (f"acme/app ({d}): 4 report(s) read, 0 unchanged",)


def test_times_from_sidecars_and_from_the_reports_themselves(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "app")
    sha = repo.commit("one", {"a.py": "1\n"}, when=day(3), committed=day(3, 18))
    d = tmp_path / "reports"
    write(d / "run1.info", lcov(1, 2))
    write(d / "run1.info.json", json.dumps({"time": "2024-02-01T12:00:00+01:00"}))
    write(d / "run2.info", lcov(1, 4))
    write(d / "run2.info.json", json.dumps({"commit": sha, "time": "2030-01-01"}))  # the commit wins
    write(d / "run3.xml", cobertura(3, 4, stamp_ms=1_704_448_800_000))  # no sidecar: its own timestamp
    write(d / "run4.json", json.dumps({"meta": {"timestamp": "2024-01-05T11:00:00"}, "files": {},
                                       "totals": {"covered_lines": 1, "num_statements": 1}}))
    write(d / "run5.info", lcov(1, 1))
    write(d / "run5.info.json", "{not json")
    got = collect(settings(dir=d, repo=repo.path, timezone="Europe/Berlin"), {})
    assert ratios(got) == {T("2024-02-01T11:00Z"): 0.5, T(day(3, 18)): 0.25, T("2024-01-05T10:00Z"): 1.0}
    # run4 (coverage.py JSON: Berlin wall-clock time) lands on run3's instant: the later name is kept.
    assert got.notes == ("acme/app: run3.xml and run4.json have the same time 2024-01-05T10:00:00+00:00; "
                         "run4.json is kept",)
    assert [f.split(": no time")[0] for f in got.failures] == [str(d / "run5.info")]
    assert "sidecar" in got.failures[0] and "is not JSON" in got.failures[0]


def test_time_from_sets_the_order_of_preference(tmp_path: Path) -> None:
    d = tmp_path / "reports"
    write(d / "build-20240301.xml", cobertura(1, 2, stamp_ms=1_704_448_800_000))
    by_name = collect(settings(dir=d, pattern=r"build-(?P<time>\d{8})"), {})
    assert list(ratios(by_name)) == [T("2024-03-01T00:00Z")]
    by_report = collect(settings(dir=d, pattern=r"build-(?P<time>\d{8})", time_from=["report", "name"]), {})
    assert list(ratios(by_report)) == [T("2024-01-05T10:00Z")]
    with_format = collect(settings(dir=d, pattern=r"build-(?P<time>\d+)", time_format="%Y%m%d",
                                   timezone="America/New_York", time_from=["name"]), {})
    assert list(ratios(with_format)) == [T("2024-03-01T05:00Z")]


def test_broken_and_hostile_reports_fail_alone(tmp_path: Path) -> None:
    d = tmp_path / "reports"
    good = cobertura(3, 4, stamp_ms=1_704_448_800_000)
    write(d / "a-good.xml", good)
    write(d / "b-cut.xml", good[: good.index("</lines>")])
    write(d / "c-empty.xml", "")
    write(d / "d-laughs.xml", '<?xml version="1.0"?>\n<!DOCTYPE c [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>\n'
          '<coverage line-rate="1">&b;</coverage>\n')
    write(d / "e-xxe.xml", '<?xml version="1.0"?>\n<!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
          '<coverage line-rate="1">&x;</coverage>\n')
    write(d / "f-cut.info", "SF:a.py\nDA:1,1\nDA:2")
    write(d / "g-good.info", lcov(1, 4))
    write(d / "g-good.info.json", '{"time": "2024-01-06T00:00:00Z"}')
    write(d / ".hidden.xml", "not a report, and hidden")
    got = collect(settings(dir=d), {})
    assert ratios(got) == {T("2024-01-05T10:00Z"): 0.75, T("2024-01-06T00:00Z"): 0.25}
    assert got.failures == (
        f"{d / 'b-cut.xml'}:8:1: malformed XML (no element found); skipped",
        f"{d / 'c-empty.xml'}:1: empty file: not a coverage report (an interrupted upload or a failed test run?); "
        "skipped",
        f"{d / 'd-laughs.xml'}:2: refused: declares the XML entity 'a'; entities are never expanded "
        "(entity-expansion bombs, external entities); skipped",
        f"{d / 'e-xxe.xml'}:2: refused: declares the XML entity 'x' pointing at 'file:///etc/passwd'; entities are "
        "never expanded (entity-expansion bombs, external entities); skipped",
        f"{d / 'f-cut.info'}:3: truncated: the file ends inside a record ('DA:2'); skipped",
    )
    # The next run does not report them again until they change, but says they are there.
    again = collect(settings(dir=d), got.state)
    assert again.failures == () and again.observations.empty
    assert again.lines == (f"acme/app ({d}): 0 report(s) read, 7 unchanged (5 unreadable, reported before)",)
    write(d / "b-cut.xml", cobertura(1, 4, stamp_ms=1_704_535_200_000), mtime=1_800_000_000)
    fixed = collect(settings(dir=d), again.state)
    assert fixed.failures == () and ratios(fixed) == {T("2024-01-06T10:00Z"): 0.25}


def test_second_runs_read_only_new_or_changed_reports(tmp_path: Path) -> None:
    d = tmp_path / "reports"
    for i in range(3):
        write(d / f"r{i}.xml", cobertura(i + 1, 4, stamp_ms=1_704_448_800_000 + i * 86_400_000), mtime=1_700_000_000)
    src = {"dir": d}
    first = collect(settings(**src), {})
    assert len(ratios(first)) == 3 and first.replaces == ()
    second = collect(settings(**src), first.state)
    assert second.observations.empty and second.lines[0].endswith("0 report(s) read, 3 unchanged")
    write(d / "r3.xml", cobertura(4, 4, stamp_ms=1_704_448_800_000 + 3 * 86_400_000))
    write(d / "r0.xml", cobertura(2, 4, stamp_ms=1_704_448_800_000))  # rewritten: read again
    third = collect(settings(**src), second.state)
    assert ratios(third) == {T("2024-01-05T10:00Z"): 0.5, T("2024-01-08T10:00Z"): 1.0}
    assert third.replaces == ()
    # Changed settings: everything is read again and replaces what the source stored before.
    (d / "r1.xml").unlink()
    fourth = collect(settings(**src, scopes=["src"]), third.state)
    assert len(ratios(fourth)) == 3 and len(ratios(fourth, "acme/app/src")) == 3
    assert fourth.replaces == (Replace("acme/app", "coverage"),)
    assert fourth.notes[0].startswith("acme/app: the source's settings changed")
    fifth = collect(settings(**src, scopes=["src"], per_file=True), fourth.state)
    assert set(fifth.observations["scope"]) == {"acme/app", "acme/app/src", "acme/app/src/app.py"}
    assert set(fifth.replaces) == {Replace("acme/app", "coverage"), Replace("acme/app/src", "coverage")}


def test_per_file_rows_prefix_scopes_and_roots(tmp_path: Path) -> None:
    d = tmp_path / "reports"
    write(d / "r.info", "SF:/home/runner/work/app/app/src/core/a.py\nDA:1,1\nDA:2,0\nBRDA:1,0,0,1\nBRDA:1,0,1,-\n"
          "end_of_record\nSF:/home/runner/work/app/app/src/core/__init__.py\nend_of_record\n"
          "SF:/home/runner/work/app/app/src/web/b.py\nDA:1,1\nend_of_record\n"
          "SF:/usr/lib/python3/x.py\nDA:1,0\nend_of_record\n")
    write(d / "r.info.json", '{"time": 1704067200.0}')
    got = collect(settings(dir=d, roots=["/home/runner/work/app/app"], scopes=["src/core", "src/none"],
                           per_file=True), {})
    df = got.observations
    table = {(s, m): v for s, m, v in zip(df.scope, df.metric, df.value, strict=True)}
    ts = set(df.ts)
    assert ts == {T("2024-01-01T00:00Z")}
    assert table[("acme/app", "valid_lines_count")] == 4 and table[("acme/app", "covered_lines_count")] == 2
    assert table[("acme/app/src/core", "line_coverage_ratio")] == 0.5
    assert table[("acme/app/src/core", "branch_coverage_ratio")] == 0.5
    assert table[("acme/app/src/core/a.py", "valid_branches_count")] == 2
    # A file with no lines has counts of zero and no ratio; a file without branches no branch figures.
    assert table[("acme/app/src/core/__init__.py", "valid_lines_count")] == 0
    assert ("acme/app/src/core/__init__.py", "line_coverage_ratio") not in table
    assert ("acme/app/src/web/b.py", "branch_coverage_ratio") not in table
    assert table[("acme/app/usr/lib/python3/x.py", "line_coverage_ratio")] == 0  # outside the roots: kept whole
    assert not any(s.startswith("acme/app/src/none") for s, _ in table)  # no file under it: no rows


def test_a_missing_directory_is_one_failure_and_the_other_sources_land(tmp_path: Path) -> None:
    d = tmp_path / "reports"
    write(d / "r.xml", cobertura(1, 2, stamp_ms=1_704_448_800_000))
    cfg = CoverageSettings.model_validate({"sources": [{"scope": "gone", "dir": str(tmp_path / "nope")},
                                                       {"scope": "here", "dir": str(d)}]})
    got = collect(cfg, {})
    assert got.failures == (f"gone: report directory {str(tmp_path / 'nope')!r} does not exist",)
    assert set(got.observations["scope"]) == {"here"} and set(got.state) == {"here"}


@pytest.mark.parametrize(("source", "message"), [
    ({"scope": "a"}, "needs either dir (a directory of reports) or repo and file"),
    ({"scope": "a", "dir": "r", "file": "c.xml", "repo": "."}, "needs either dir"),
    ({"scope": "a", "file": "c.xml"}, "file 'c.xml' needs repo"),
    ({"scope": "a", "dir": "r", "pattern": "cov-(\\d+)"}, "needs a named group (?P<time>...) or (?P<commit>...)"),
    ({"scope": "a", "dir": "r", "pattern": "cov-(?P<time>"}, "is not a regular expression"),
    ({"scope": "a", "dir": "r", "pattern": "(?P<commit>[0-9a-f]+)"}, "needs repo to look the commit's time up"),
    ({"scope": "a", "dir": "r", "timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
    ({"scope": "a", "dir": "r", "time_from": ["name", "name"]}, "each at most once"),
    ({"scope": "a", "dir": "r", "time_from": ["mtime"]}, "name', 'sidecar' or 'report'"),
])
def test_bad_settings_are_refused(source: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=None) as err:
        CoverageSettings.model_validate({"sources": [source]})
    assert message in str(err.value)


def test_bad_settings_are_one_line_in_rca_yaml(tmp_path: Path) -> None:
    cfg = write(tmp_path / "rca.yaml", "coverage:\n  sources:\n    - {scope: a, dir: r}\n    - {scope: a, dir: s}\n")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert "share the scope(s) ['a']" in str(err.value) and "\n" not in str(err.value)


# --- the Git history of a committed report ----------------------------------------------------------------

def test_the_history_of_a_committed_report(tmp_path: Path) -> None:
    r = Repo(tmp_path / "app")
    c1 = r.commit("add coverage", {"coverage.xml": cobertura(1, 4), "a.py": "1\n"}, when=day(0), committed=day(0, 13))
    r.commit("code only", {"a.py": "2\n"}, when=day(1))
    c3 = r.commit("coverage up", {"coverage.xml": cobertura(2, 4)}, when=day(2), committed=day(2, 9))
    c4 = r.commit("broken report", {"coverage.xml": cobertura(3, 4)[:200]}, when=day(3))
    r.commit("drop report", {"coverage.xml": None}, when=day(4))
    c6 = r.commit("lcov under the old name", {"coverage.xml": lcov(3, 4)}, when=day(5))
    r.git("checkout", "-q", "-b", "side")
    r.commit("side branch report", {"coverage.xml": lcov(1, 8)}, when=day(6))
    r.git("checkout", "-q", "main")
    r.commit("main moves on", {"b.py": "b\n"}, when=day(6, 13))
    merge = r.merge("side", "merge side", when=day(7))
    got = collect(settings(repo=r.path, file="coverage.xml"), {})
    # First-parent history: the side branch's own commit is not read, the merge that brought it is.
    assert ratios(got) == {T(day(0, 13)): 0.25, T(day(2, 9)): 0.5, T(day(5)): 0.75, T(day(7)): 0.125}
    assert got.failures == (f"app@{c4[:12]}:coverage.xml:6:1: malformed XML (unclosed token); skipped",)
    assert got.lines == (f"acme/app ({r.path} main:coverage.xml @ {merge[:12]}): 4 commit(s) read, 1 deleting "
                         "the report, full read",)
    assert got.state["acme/app"]["head"] == merge and c1 and c3 and c6

    # Incremental: only the new commit's report; then a rewritten branch is read whole again.
    new = r.commit("coverage down", {"coverage.xml": cobertura(1, 2)}, when=day(8))
    second = collect(settings(repo=r.path, file="coverage.xml"), got.state)
    assert ratios(second) == {T(day(8)): 0.5} and second.replaces == () and second.failures == ()
    assert second.lines[0].endswith("1 commit(s) read, incremental") and second.state["acme/app"]["head"] == new
    r.git("reset", "-q", "--hard", c3)
    r.commit("rewritten", {"coverage.xml": cobertura(4, 4)}, when=day(9))
    third = collect(settings(repo=r.path, file="coverage.xml"), second.state)
    assert ratios(third) == {T(day(0, 13)): 0.25, T(day(2, 9)): 0.5, T(day(9)): 1.0}
    assert third.replaces == (Replace("acme/app", "coverage"),)
    assert third.notes == ("acme/app: main was rewritten: the history of coverage.xml is read again whole",)
    since = collect(settings(repo=r.path, file="coverage.xml", since="2024-01-02"), {})
    assert list(ratios(since)) == [T(day(2, 9)), T(day(9))]


def test_git_sources_that_cannot_be_read(tmp_path: Path) -> None:
    r = Repo(tmp_path / "app")
    r.commit("one", {"a.py": "1\n"})
    cfg = CoverageSettings.model_validate({"sources": [
        {"scope": "nobranch", "repo": str(r.path), "file": "coverage.xml", "branch": "nope"},
        {"scope": "norepo", "repo": str(tmp_path), "file": "coverage.xml"},
        {"scope": "nofile", "repo": str(r.path), "file": "coverage.xml"},
    ]})
    got = collect(cfg, {})
    assert got.failures[0] == f"nobranch: branch 'nope' not found in {r.path}; branches: main"
    assert got.failures[1].startswith(f"norepo: {str(tmp_path)!r} is not a Git repository")
    assert got.lines == (f"nofile ({r.path} main:coverage.xml @ {r.head()[:12]}): 0 commit(s) read, full read",)
