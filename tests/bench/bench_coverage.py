"""Benchmark of the coverage collector: one large Cobertura report, and a long history of a committed one.

- Parses a synthetic Cobertura report of ``--files`` files x ``--lines`` lines (one in ten a
  branch line) with :func:`collectors.coverage_formats.parse_file`, after a raw expat pass over
  the same bytes (the floor: no handlers but one counting elements); prints seconds and the
  peak RSS of this process.
- Builds a repository with ``git fast-import`` where each of ``--commits`` commits rewrites a
  committed ``coverage.xml`` (``--history-files`` files of 40 lines) and reads its history
  through the collector (one ``git log`` and one long-lived ``git cat-file --batch``).

- With ``--json-mb N``, writes a coverage.py 7 JSON report of about N MB (``coverage json``'s
  layout, with per-function and per-class entries) and reads it with ``parse_file`` in a child
  process, under ``/usr/bin/time``: wall time and peak RSS (the file is deleted afterwards).

Run: ``python -m tests.bench.bench_coverage [--quick] [--files N] [--lines N] [--commits N] [--json-mb N]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.bench_git import _peak_rss_mb, _run
from tests.git_repos import git


def cobertura(n_files: int, n_lines: int, seed: int = 0) -> bytes:
    """A Cobertura report in coverage.py's layout; ``seed`` shifts which lines are hit."""
    out = [b'<?xml version="1.0" ?>\n<coverage version="7" timestamp="1704448800000" line-rate="0.5" '
           b'branch-rate="0.5">\n<sources><source>/src</source></sources>\n<packages>\n']
    for i in range(n_files):
        out.append(b'<package name="p%d"><classes><class name="m%d.py" filename="pkg%d/m%d.py"><methods/><lines>\n'
                   % (i, i, i % 20, i))
        for j in range(n_lines):
            hit = (j + seed + i) % 3 != 0
            if j % 10 == 0:
                out.append(b'<line number="%d" hits="%d" branch="true" condition-coverage="50%% (1/2)"/>\n'
                           % (j + 1, hit))
            else:
                out.append(b'<line number="%d" hits="%d"/>\n' % (j + 1, hit))
        out.append(b"</lines></class></classes></package>\n")
    out.append(b"</packages>\n</coverage>\n")
    return b"".join(out)


def bench_parse(tmp: Path, n_files: int, n_lines: int) -> None:
    import xml.parsers.expat

    from collectors.coverage_formats import parse_file

    path = tmp / "big.xml"
    path.write_bytes(cobertura(n_files, n_lines))
    size_mb = path.stat().st_size / 1e6
    count = [0]

    def start(name: str, attrs: dict) -> None:
        count[0] += 1

    t0 = time.perf_counter()
    floor = xml.parsers.expat.ParserCreate()
    floor.StartElementHandler = start
    with open(path, "rb") as f:
        floor.ParseFile(f)
    t_floor = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = parse_file(path)
    t_ours = time.perf_counter() - t0
    print(f"Cobertura {n_files} files x {n_lines} lines ({size_mb:.0f} MB, {count[0]:,} elements): "
          f"raw expat {t_floor:.2f} s, parse_file {t_ours:.2f} s ({t_ours / t_floor:.1f}x), "
          f"totals {report.totals.lines_covered}/{report.totals.lines_valid} lines, peak RSS {_peak_rss_mb()} MB")


def bench_history(tmp: Path, n_commits: int, n_files: int) -> None:
    from collectors.coverage import CoverageSettings, collect

    repo = tmp / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    chunks: list[bytes] = []
    t0 = 1_704_110_400
    for i in range(n_commits):
        body = cobertura(n_files, 40, seed=i)
        chunks.append(b"commit refs/heads/main\nmark :%d\n" % (i + 1))
        chunks.append(b"committer CI <ci@example.com> %d +0000\ndata 4\ncov\n" % (t0 + i * 3600))
        if i:
            chunks.append(b"from :%d\n" % i)
        chunks.append(b"M 100644 inline coverage.xml\ndata %d\n%s\n" % (len(body), body))
        if i % 2:  # commits that do not touch the report are skipped by git log
            chunks.append(b"M 100644 inline other.txt\ndata 2\n%d\n" % (i % 10))
        chunks.append(b"\n")
    git(repo, "fast-import", "--quiet", input=b"".join(chunks))
    settings = CoverageSettings.model_validate({"sources": [{"scope": "s", "repo": str(repo), "file": "coverage.xml"}]})
    start = time.perf_counter()
    got = collect(settings, {})
    seconds = time.perf_counter() - start
    assert not got.failures, got.failures[:3]
    print(f"Git history: {n_commits} commits of a {len(body) / 1e3:.0f} kB coverage.xml read in {seconds:.2f} s "
          f"({n_commits / seconds:.0f} commits/s), {len(got.observations)} rows; peak RSS {_peak_rss_mb()} MB")


def write_coveragepy(path: Path, target_mb: float, lines_per_file: int = 400) -> int:
    """A coverage.py 7 JSON report of about ``target_mb`` MB, written as it is made; returns its file count."""
    with open(path, "w") as out:
        out.write('{"meta": {"format": 3, "version": "7.6.1", "timestamp": "2024-01-05T10:00:00.000000", '
                  '"branch_coverage": true, "show_contexts": false}, "files": {')
        i = total_lines = total_covered = total_branches = 0
        while out.tell() < target_mb * 1_000_000:
            executed = [j for j in range(1, lines_per_file + 1) if (i + j) % 3]
            missing = [j for j in range(1, lines_per_file + 1) if not (i + j) % 3]
            n_branches = lines_per_file // 10
            summary = {"covered_lines": len(executed), "num_statements": lines_per_file, "percent_covered": 66.6,
                       "percent_covered_display": "67", "missing_lines": len(missing), "excluded_lines": 0,
                       "num_branches": n_branches, "num_partial_branches": 1, "covered_branches": n_branches // 2,
                       "missing_branches": n_branches - n_branches // 2}
            arcs = [[j, j + 1] for j in range(1, lines_per_file, 20)]
            part = {"executed_lines": executed, "summary": summary, "missing_lines": missing, "excluded_lines": [],
                    "executed_branches": arcs, "missing_branches": arcs}
            entry = {**part, "functions": {f"f{k}": {**part, "executed_lines": executed[k::8],
                                                     "missing_lines": missing[k::8]} for k in range(8)},
                     "classes": {"": part}}
            out.write(("," if i else "") + json.dumps(f"pkg{i % 50}/mod{i}.py") + ": " + json.dumps(entry))
            total_lines += lines_per_file
            total_covered += len(executed)
            total_branches += n_branches
            i += 1
        totals = {"covered_lines": total_covered, "num_statements": total_lines, "num_branches": total_branches,
                  "covered_branches": total_branches // 2}
        out.write('}, "totals": ' + json.dumps(totals) + "}\n")
    return i


def bench_json(tmp: Path, target_mb: float) -> None:
    path = tmp / "coverage.json"
    n = write_coveragepy(path, target_mb)
    size_mb = path.stat().st_size / 1e6
    code = ("import sys; from collectors.coverage_formats import parse_file; r = parse_file(sys.argv[1]); "
            "print(r.totals.lines_valid, len(r.files))")
    wall, rss, out = _run([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE)
    path.unlink()
    print(f"coverage.py JSON, {n:,} files ({size_mb:.0f} MB): parse_file {wall:.1f} s (process, imports included), "
          f"peak RSS {rss:,} MB; read {out.decode().split()}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller inputs")
    ap.add_argument("--files", type=int, default=None)
    ap.add_argument("--lines", type=int, default=500)
    ap.add_argument("--commits", type=int, default=None)
    ap.add_argument("--history-files", type=int, default=50)
    ap.add_argument("--json-mb", type=float, default=None, help="only: read a coverage.py JSON of about N MB")
    args = ap.parse_args(argv)
    if args.json_mb:
        with tempfile.TemporaryDirectory() as tmp:
            bench_json(Path(tmp), args.json_mb)
        return 0
    files = args.files or (400 if args.quick else 2_000)
    commits = args.commits or (100 if args.quick else 500)
    with tempfile.TemporaryDirectory() as tmp:
        bench_parse(Path(tmp), files, args.lines)
        bench_history(Path(tmp), commits, args.history_files)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
