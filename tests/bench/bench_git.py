"""Benchmark of the Git collector's per-commit extraction against its floor and against PyDriller.

Builds a synthetic repository with ``git fast-import`` (default 20,000 commits; ``--quick``
5,000) and measures, each in its own process so peak memory is that method's own:

- raw ``git log --numstat`` (the floor), plain and with the collector's exact flags;
- our per-commit extraction (:func:`collectors.git.commit_table`, SZZ off);
- PyDriller's per-commit insertions, deletions and files, on a subset (it is slow), compared
  by per-commit rate;
- our full collection with SZZ, reported separately;
- the whole command a user runs, ``rca collect --git REPO --out FILE.csv --no-szz``, as a
  process (interpreter start-up and imports included) against a raw ``git log --numstat
  --format=...`` process printing the same fields, interleaved pair by pair; the median of
  the per-pair ratios is the figure (target <= 2x). Start-up is a fixed ~0.35 s, so a small
  history reads higher (2,000 synthetic commits: ~5x); psf/requests (6,489): ~1.6-1.9x.

Run: ``python -m tests.bench.bench_git [--commits N] [--quick] [--pydriller-commits N] [--repo DIR]``.
``--repo`` may name any clone (e.g. of psf/requests) to measure a real history.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.git_repos import BASE_ENV, fast_import

_TIME = "/usr/bin/time"


def _run(cmd: list[str], stdout=subprocess.DEVNULL) -> tuple[float, int, bytes]:
    """Run a command; return wall seconds, its peak RSS in MB and its stdout (if piped).

    The RSS comes from /usr/bin/time when it is installed (wait4's figure can include this
    process's own image at fork time), else from wait4.
    """
    env = {**os.environ, **BASE_ENV}
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        timed = [_TIME, "-f", "%M", "-o", rss_file.name, *cmd] if os.path.exists(_TIME) else cmd
        t0 = time.perf_counter()
        proc = subprocess.Popen(timed, stdout=stdout, env=env)
        out = proc.stdout.read() if stdout == subprocess.PIPE else b""
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"benchmark step failed: {' '.join(cmd)}")
        text = rss_file.read().strip().splitlines()
        rss_kb = int(text[-1]) if timed is not cmd and text and text[-1].isdigit() else usage.ru_maxrss
    return seconds, rss_kb // 1024, out


def _peak_rss_mb() -> int:
    """This process's own peak RSS (Linux VmHWM, which an exec resets; else getrusage)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _worker(kind: str, repo: str, limit: int) -> None:
    if kind == "build":
        fast_import(Path(repo), limit, n_files=400, fix_every=5)
        return
    if kind in ("ours", "ours-szz"):
        from collectors.git import COMMIT_COLUMNS, GitRules, RepoSpec, collect_repo

        t0 = time.perf_counter()
        res = collect_repo(RepoSpec(Path(repo)), GitRules(szz=kind == "ours-szz"))
        rows = res.commit_rows  # the per-commit table as rows (a DataFrame of them is pandas' time, not ours)
        seconds = time.perf_counter() - t0
        fix, bic = COMMIT_COLUMNS.index("is_bug_fix"), COMMIT_COLUMNS.index("is_bug_introducing")
        print(json.dumps({"seconds": seconds, "commits": len(rows), "rss_mb": _peak_rss_mb(),
                          "fixes": sum(bool(r[fix]) for r in rows), "bug_introducing": sum(bool(r[bic]) for r in rows)}))
        return
    from pydriller import Repository

    t0 = time.perf_counter()
    n = 0
    total = 0
    for c in Repository(repo, order="reverse").traverse_commits():
        total += c.insertions + c.deletions + len(c.modified_files)
        n += 1
        if n >= limit:
            break
    print(json.dumps({"seconds": time.perf_counter() - t0, "commits": n, "rss_mb": _peak_rss_mb(), "checksum": total}))


def _python(kind: str, repo: Path, limit: int = 0) -> tuple[dict, int, float]:
    wall, _, out = _run([sys.executable, "-m", "tests.bench.bench_git", "--worker", kind, str(repo),
                         "--pydriller-commits", str(limit)], stdout=subprocess.PIPE)
    res = json.loads(out) if out.strip() else {}
    return res, res.get("rss_mb", 0), wall


def _whole_command(repo: Path, log_format: str, runs: int, tmp: Path) -> list[tuple[float, float]]:
    """Wall seconds of (the export command, raw git log) in ``runs`` interleaved pairs, after a warm-up."""
    cfg = tmp / "empty.yaml"
    cfg.write_text("")
    ours = [sys.executable, "-m", "rca.cli", "collect", "--git", str(repo), "--out", str(tmp / "export.csv"),
            "--no-szz", "--config", str(cfg)]
    raw = ["git", "-C", str(repo), "log", "--numstat", f"--format={log_format}"]
    _run(ours)
    _run(raw)
    return [(_run(ours)[0], _run(raw)[0]) for _ in range(runs)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commits", type=int, default=20_000)
    ap.add_argument("--quick", action="store_true", help="5,000 commits, PyDriller on 500")
    ap.add_argument("--pydriller-commits", type=int, default=2_000)
    ap.add_argument("--repo", type=Path, help="reuse (or create) the synthetic repository here")
    ap.add_argument("--no-szz", action="store_true", help="skip the SZZ measurement")
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs for git log and ours (noise)")
    ap.add_argument("--worker", nargs=2, metavar=("KIND", "REPO"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _worker(args.worker[0], args.worker[1], args.pydriller_commits)
        return
    n = 5_000 if args.quick and args.commits == 20_000 else args.commits
    n_pyd = 500 if args.quick and args.pydriller_commits == 2_000 else min(args.pydriller_commits, n)
    with tempfile.TemporaryDirectory(prefix="bench-git-") as tmp:
        repo = args.repo or Path(tmp) / "synthetic"
        built = not (repo / ".git").exists()
        if built:
            t0 = time.perf_counter()
            _python("build", repo, n)  # in a child: this process stays small (RSS of forks)
            print(f"built {n:,} commits with git fast-import in {time.perf_counter() - t0:.1f} s ({repo})")
        count = int(subprocess.run(["git", "-C", str(repo), "rev-list", "--count", "HEAD"], capture_output=True,
                                   check=True, text=True).stdout)
        from collectors.git_log import LOG_FORMAT, LOG_OPTIONS

        raw_s = same_s = float("inf")
        ours: dict = {"seconds": float("inf")}
        for _ in range(max(1, args.repeat)):  # interleaved, best of N: the machine may be busy
            s, raw_rss, _ = _run(["git", "-C", str(repo), "log", "--numstat"])
            raw_s = min(raw_s, s)
            s, same_rss, _ = _run(["git", "-C", str(repo), "log", *LOG_OPTIONS, "--date-order", "--reverse"])
            same_s = min(same_s, s)
            run, rss, wall = _python("ours", repo)
            if run["seconds"] < ours["seconds"]:
                ours, ours_rss, ours_wall = run, rss, wall
        cmd_pairs = _whole_command(repo, LOG_FORMAT, max(5, args.repeat), Path(tmp))
        pyd, pyd_rss, _ = _python("pydriller", repo, n_pyd)
        rows = [
            ("git log --numstat (floor)", count, raw_s, raw_rss),
            ("git log, our flags (-z, format, -M)", count, same_s, same_rss),
            ("ours: commit_table (no SZZ)", ours["commits"], ours["seconds"], ours_rss),
            (f"PyDriller (first {pyd['commits']:,} commits)", pyd["commits"], pyd["seconds"], pyd_rss),
        ]
        if not args.no_szz:
            szz, szz_rss, _ = _python("ours-szz", repo)
            rows.append(("ours: with SZZ", szz["commits"], szz["seconds"], szz_rss))
        print(f"\nrepository: {count:,} commits{' (synthetic; every 5th commit a fix)' if built else ''}; "
              f"git log and ours: best of {max(1, args.repeat)} interleaved runs\n")
        print(f"{'method':40} {'commits':>9} {'seconds':>9} {'commits/s':>11} {'peak RSS MB':>12}")
        for name, c, s, rss in rows:
            print(f"{name:40} {c:>9,} {s:>9.2f} {c / s:>11,.0f} {rss:>12,}")
        ours_rate = ours["commits"] / ours["seconds"]
        print(f"\nours vs raw git log --numstat: {ours['seconds'] / raw_s:.2f}x the time (target <= 2x)")
        print(f"ours vs git log with our flags: {ours['seconds'] / same_s:.2f}x the time")
        print(f"ours vs PyDriller, per-commit rate: {ours_rate / (pyd['commits'] / pyd['seconds']):.0f}x faster "
              f"(target >= 25x; PyDriller timed on {pyd['commits']:,} commits only, rates compared)")
        print(f"ours peak RSS: {ours_rss} MB (Python process; git's own: {same_rss} MB; target < 500 MB at 100k)")
        print(f"ours wall time including interpreter start and imports: {ours_wall:.2f} s")
        ratios = [a / b for a, b in cmd_pairs]
        cmd_s, git_s = (statistics.median(x) for x in zip(*cmd_pairs, strict=True))
        print(f"whole command `rca collect --git REPO --out x.csv --no-szz`: median {cmd_s:.2f} s vs "
              f"`git log --numstat --format=...` {git_s:.2f} s: {statistics.median(ratios):.2f}x the time "
              f"(median of {len(ratios)} interleaved pairs, {min(ratios):.2f}-{max(ratios):.2f}; target <= 2x)")
        if not args.no_szz:
            print(f"SZZ: {szz['fixes']:,} fixes blamed, {szz['bug_introducing']:,} bug-introducing commits; "
                  f"{szz['seconds'] - ours['seconds']:.1f} s on top of extraction "
                  f"({szz['fixes'] / max(szz['seconds'] - ours['seconds'], 1e-9):,.0f} fixes/s)")


if __name__ == "__main__":
    main()
