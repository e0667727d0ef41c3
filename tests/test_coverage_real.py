"""Real reports: coverage.py measures a small package's tests, and writes Cobertura XML, JSON and LCOV.

The three must give the totals coverage.py itself reports (its JSON ``totals`` and
``coverage report --format=total``), file by file too; then ``rca collect`` stores them and a
second run adds only the report that is new.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from collectors.coverage_formats import Figures, parse_file
from rca.config import load_settings
from rca.store import Store

PRICING = '''
def price(amount, customer):
    if amount < 0:
        raise ValueError("negative")
    if customer == "vip":
        amount = amount * 0.8
    elif customer == "staff":
        amount = amount * 0.5
    return round(amount, 2)


def bulk(items):
    total = 0
    for amount in items:
        if amount > 100:
            total += amount * 0.9
        else:
            total += amount
    return total


def never_called(x):
    while x > 0:
        x -= 1
    return x
'''

TEXT = '''
def slug(text):
    out = []
    for ch in text.lower():
        if ch.isalnum():
            out.append(ch)
        elif out and out[-1] != "-":
            out.append("-")
    return "".join(out).strip("-")
'''

TESTS = '''
from shop.pricing import bulk, price
from shop.util.text import slug


def test_price():
    assert price(10, "vip") == 8
    assert price(10, "guest") == 10


def test_bulk():
    assert bulk([50, 200]) == 230


def test_slug():
    assert slug("Hello, World") == "hello-world"
'''


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """coverage.py's own figures and its three reports of one run."""
    root = tmp_path_factory.mktemp("shop")
    for name, text in {"shop/__init__.py": "", "shop/pricing.py": PRICING, "shop/util/__init__.py": "",
                       "shop/util/text.py": TEXT, "tests/test_shop.py": TESTS}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE", "PYTEST"))}
    env["TZ"] = "Asia/Tokyo"  # coverage.py's JSON timestamp is local time: make it differ from UTC

    def cov(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "coverage", *args], cwd=root, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    cov("run", "--branch", "--source=shop", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests")
    cov("xml", "-o", "cov.xml")
    cov("json", "-o", "cov.json")
    cov("lcov", "-o", "cov.info")
    total = float(cov("report", "--format=total", "--precision=6").strip())
    doc = json.loads((root / "cov.json").read_text())
    return {"root": root, "total": total, "json": doc,
            "paths": {"cobertura": root / "cov.xml", "coveragepy": root / "cov.json", "lcov": root / "cov.info"}}


def _figures(summary: dict) -> Figures:
    return Figures(summary["num_statements"], summary["covered_lines"], summary["num_branches"],
                   summary["covered_branches"])


@pytest.mark.parametrize("fmt", ["cobertura", "coveragepy", "lcov"])
def test_each_format_gives_coverage_pys_own_totals(reports: dict, fmt: str) -> None:
    r = parse_file(reports["paths"][fmt])
    assert r.format == fmt
    doc = reports["json"]
    assert r.totals == _figures(doc["totals"])
    assert r.totals.lines_valid > 20 and 0 < r.totals.branches_covered < r.totals.branches_valid
    assert r.files == {p: _figures(f["summary"]) for p, f in doc["files"].items()}
    assert r.files["shop/__init__.py"] == Figures()  # an empty module: no lines, no ratio
    # coverage.py's one-number total counts lines and branches together.
    t = r.totals
    combined = 100 * (t.lines_covered + t.branches_covered) / (t.lines_valid + t.branches_valid)
    assert combined == pytest.approx(reports["total"], abs=1e-6)


def test_report_timestamps_agree_once_the_json_zone_is_given(reports: dict) -> None:
    from collectors.coverage_settings import zone_of
    from core.times import parse_time

    xml = parse_file(reports["paths"]["cobertura"]).timestamp  # Unix milliseconds: an instant
    local = parse_file(reports["paths"]["coveragepy"]).timestamp  # Tokyo wall-clock time, no offset
    assert xml is not None and local is not None and local.tzinfo is None
    gap = abs(parse_time(local, zone=zone_of("Asia/Tokyo")) - pd.Timestamp(xml))
    assert gap < pd.Timedelta(minutes=10)  # written by two commands run one after the other
    assert abs(parse_time(local, zone=zone_of("UTC")) - pd.Timestamp(xml)) > pd.Timedelta(hours=8)


def _stored(cfg: Path) -> pd.DataFrame:
    with Store(load_settings(cfg).store_url) as store:
        return store.read()


def test_rca_collect_stores_coverage_and_reads_only_new_reports(rca, reports: dict, tmp_path: Path) -> None:
    builds = tmp_path / "builds"
    builds.mkdir()
    shutil.copy(reports["paths"]["cobertura"], builds / "coverage-20240105T100000Z.xml")
    shutil.copy(reports["paths"]["lcov"], builds / "coverage-20240112T100000Z.info")
    cfg = tmp_path / "rca.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\ncoverage:\n  sources:\n    - scope: acme/shop\n"
                   f"      dir: {builds}\n      pattern: 'coverage-(?P<time>\\d{{8}}T\\d{{6}}Z)'\n"
                   "      scopes: [shop/util]\n")
    first = rca("collect", "--config", str(cfg))
    assert first.code == 0, first.err
    assert "coverage: acme/shop (" in first.out and "2 report(s) read, 0 unchanged" in first.out
    df = _stored(cfg)
    assert set(df["source"]) == {"coverage"} and set(df["scope"]) == {"acme/shop", "acme/shop/shop/util"}
    ratio = df[(df.metric == "line_coverage_ratio") & (df.scope == "acme/shop")].sort_values("ts")
    totals = reports["json"]["totals"]
    assert list(ratio["ts"]) == [pd.Timestamp("2024-01-05T10:00Z"), pd.Timestamp("2024-01-12T10:00Z")]
    assert list(ratio["value"]) == pytest.approx([totals["covered_lines"] / totals["num_statements"]] * 2)
    util = df[(df.metric == "valid_lines_count") & (df.scope == "acme/shop/shop/util")]
    assert set(util["value"]) == {reports["json"]["files"]["shop/util/text.py"]["summary"]["num_statements"]}

    shutil.copy(reports["paths"]["coveragepy"], builds / "coverage-20240119T100000Z.json")
    second = rca("collect", "--config", str(cfg))
    assert second.code == 0, second.err
    assert "1 report(s) read, 2 unchanged" in second.out
    per_report = len(df) // 2
    assert f"stored {per_report} observations" in second.out
    after = _stored(cfg)
    assert len(after) == len(df) + per_report
    assert after["ts"].max() == pd.Timestamp("2024-01-19T10:00Z")
    third = rca("collect", "--config", str(cfg))
    assert third.code == 0 and "stored 0 observations" in third.out
