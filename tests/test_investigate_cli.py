"""`rca investigate` on the generic data path: right answers on seeded cases, one-line errors on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import chain_frame, write_csv

CHANGE = ["--baseline", "2026-01-01..2026-04-30", "--current", "2026-05-01..2026-06-30"]


def _json(out: str) -> dict:
    doc = json.loads(out)
    assert isinstance(doc, dict)
    return doc


def test_change_mode_names_the_injected_cause_first(rca, chain_graph: Path, tmp_path: Path) -> None:
    data = write_csv(chain_frame(shift_at=120, shift=-0.08, node="coverage"), tmp_path / "m.csv")
    res = rca("investigate", "--data", str(data), "--graph", str(chain_graph), "--target", "bugs",
              *CHANGE, "--format", "json", "--bootstrap", "12")
    assert res.code == 0, res.err
    doc = _json(res.out)
    assert set(doc) >= {"target", "kind", "scope", "window", "observed", "regression", "causes",
                        "counterfactuals", "explanation", "caveats", "model", "timings_s"}
    assert doc["kind"] == "distribution_change"
    assert doc["regression"]["detected"] is True
    top = doc["causes"][0]
    assert top["node"] == "coverage"
    assert top["significant"] is True and top["direction"] == "worse"
    # bugs = ... - 0.5 * coverage: the drop of 0.08 (0.074 in this sample) adds 0.037 to the bug rate.
    assert top["contribution"] == pytest.approx(0.037, abs=0.008)
    assert top["interval"][0] <= top["contribution"] <= top["interval"][1]
    total = sum(c["contribution"] for c in doc["causes"])
    assert total == pytest.approx(doc["observed"]["current"] - doc["observed"]["baseline"], abs=1e-3)
    cf = doc["counterfactuals"][0]
    assert list(cf["intervention"]) == ["coverage"]
    # Holding coverage at its baseline removes its contribution and nothing else (the linear
    # case); what remains above the baseline is this sample's chance rise in change size.
    assert cf["target"] == pytest.approx(doc["observed"]["current"] - top["contribution"], abs=0.005)
    assert cf["interval"][0] <= cf["target"] <= cf["interval"][1]
    assert {"fit", "attribute"} <= set(doc["timings_s"])


def test_last_asks_about_that_span_to_the_latest_data_against_the_one_before(rca, chain_graph: Path,
                                                                           tmp_path: Path) -> None:
    data = write_csv(chain_frame(shift_at=120, shift=-0.08, node="coverage"), tmp_path / "m.csv")  # 160 days
    res = rca("investigate", "--data", str(data), "--graph", str(chain_graph), "--target", "bugs",
              "--last", "40 days", "--bootstrap", "8")
    assert res.code == 0, res.err
    doc = _json(res.out)
    assert doc["window"]["current"] == ["2026-05-01T00:00:00Z", "2026-06-09T23:59:59Z"]
    assert doc["window"]["baseline"] == ["2026-03-22T00:00:00Z", "2026-04-30T23:59:59Z"]
    assert doc["causes"][0]["node"] == "coverage" and doc["regression"]["detected"] is True
    for extra, said in ((["--at", "2026-05-03"], "not both"), ([], "cannot read the span")):
        bad = rca("investigate", "--data", str(data), "--graph", str(chain_graph), "--target", "bugs",
                  "--last", "40 days" if extra else "40 fortnights", *extra)
        assert bad.code == 2 and said in bad.err and len(bad.err.strip().splitlines()) == 1, bad.err


def test_change_mode_upstream_of_an_intermediate(rca, chain_graph: Path, tmp_path: Path) -> None:
    data = write_csv(chain_frame(shift_at=120, shift=25.0, node="change_size"), tmp_path / "m.csv")
    res = rca("investigate", "--data", str(data), "--graph", str(chain_graph), "--target", "bugs", *CHANGE,
              "--bootstrap", "8")
    doc = _json(res.out)
    assert doc["causes"][0]["node"] == "change_size"
    assert doc["causes"][0]["contribution"] == pytest.approx(0.1, abs=0.02)  # 25 lines * 0.004


def test_null_case_reports_no_regression(rca, chain_graph: Path, tmp_path: Path) -> None:
    data = write_csv(chain_frame(shift_at=None), tmp_path / "m.csv")
    res = rca("investigate", "--data", str(data), "--graph", str(chain_graph), "--target", "bugs", *CHANGE,
              "--bootstrap", "8")
    doc = _json(res.out)
    assert doc["regression"]["detected"] is False
    assert not any(c["significant"] and abs(c["share"]) > 0.5 and c["node"] != "bugs" for c in doc["causes"])


def test_anomaly_mode_attributes_a_spike(rca, chain_graph: Path, tmp_path: Path) -> None:
    frame = chain_frame(shift_at=None)
    frame.iloc[150, frame.columns.get_loc("coverage")] -= 0.4
    frame.iloc[150, frame.columns.get_loc("bugs")] += 0.2  # what the coverage drop causes
    at = frame.index[150].strftime("%Y-%m-%d")
    data = write_csv(frame, tmp_path / "m.csv")
    res = rca("investigate", "--data", str(data), "--graph", str(chain_graph), "--target", "bugs", "--at", at,
              "--bootstrap", "8")
    assert res.code == 0, res.err
    doc = _json(res.out)
    assert doc["kind"] == "anomaly" and doc["window"] == {"at": f"{at}T00:00:00Z"}
    assert doc["regression"]["detected"] is True
    assert doc["causes"][0]["node"] == "coverage"
    assert doc["model"]["rows"] == 150  # fitted on the rows before --at


def test_same_seed_same_result(rca, chain_graph: Path, tmp_path: Path) -> None:
    data = write_csv(chain_frame(shift_at=120, shift=-0.05), tmp_path / "m.csv")
    args = ("investigate", "--data", str(data), "--graph", str(chain_graph), "--target", "bugs", *CHANGE,
            "--bootstrap", "6", "--seed", "11")
    a, b = _json(rca(*args).out), _json(rca(*args).out)
    for doc in (a, b):
        doc.pop("timings_s")
        doc["model"].pop("fitted_at")
    assert a == b


def test_integer_valued_columns_work(rca, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 120
    commits = rng.poisson(20, n)
    bugs = rng.binomial(commits, 0.1)
    bugs[100:] += rng.poisson(4, 20)  # more bugs, not explained by commits
    incidents = (bugs // 2 + rng.poisson(1, n)).astype(int)
    incidents[-1] += 9  # an anomalous count no training row had
    import pandas as pd

    frame = pd.DataFrame({"ts": pd.date_range("2026-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
                          "commits": commits, "bugs": bugs, "incidents": incidents})
    frame.to_csv(tmp_path / "ints.csv", index=False)
    (tmp_path / "g.yaml").write_text("unit: day\nnodes: {commits: {agg: sum}, bugs: {agg: sum}, "
                                     "incidents: {agg: sum}}\nedges: [[commits, bugs], [bugs, incidents]]\n")
    last = frame["ts"].iloc[-1]
    res = rca("investigate", "--data", str(tmp_path / "ints.csv"), "--graph", str(tmp_path / "g.yaml"),
              "--target", "incidents", "--at", last, "--bootstrap", "5")
    assert res.code == 0, res.err
    doc = _json(res.out)
    assert doc["causes"][0]["node"] in {"incidents", "bugs"}
    assert doc["regression"]["detected"] is True


def test_nan_rows_are_left_out_and_said(rca, chain_graph: Path, tmp_path: Path) -> None:
    frame = chain_frame(shift_at=120, shift=-0.08)
    frame.iloc[[5, 17, 40], frame.columns.get_loc("deploys")] = np.nan
    data = write_csv(frame, tmp_path / "m.csv")
    res = rca("investigate", "--data", str(data), "--graph", str(chain_graph), "--target", "bugs", *CHANGE,
              "--bootstrap", "5")
    doc = _json(res.out)
    assert any("3 of 160 row(s) had missing values" in c for c in doc["caveats"])
    assert doc["causes"][0]["node"] == "coverage"


def test_constant_column_is_a_caveat_not_a_crash(rca, chain_graph: Path, tmp_path: Path) -> None:
    frame = chain_frame(shift_at=120, shift=-0.08)
    frame["deploys"] = 8.0
    data = write_csv(frame, tmp_path / "m.csv")
    res = rca("investigate", "--data", str(data), "--graph", str(chain_graph), "--target", "bugs", *CHANGE,
              "--bootstrap", "5")
    assert res.code == 0, res.err
    doc = _json(res.out)
    assert any("constant in the fit window" in c and "deploys" in c for c in doc["caveats"])


def test_markdown_and_html_formats(rca, chain_graph: Path, tmp_path: Path) -> None:
    data = write_csv(chain_frame(shift_at=120, shift=-0.08), tmp_path / "m.csv")
    for fmt, needle in (("md", "## Likely causes"), ("html", "<!doctype html>")):
        out = tmp_path / f"r.{fmt}"
        res = rca("investigate", "--data", str(data), "--graph", str(chain_graph), "--target", "bugs", *CHANGE,
                  "--bootstrap", "0", "--format", fmt, "--out", str(out))
        assert res.code == 0, res.err
        assert needle in out.read_text()


def _bad(rca, *args: str) -> str:
    res = rca("investigate", *args)
    assert res.code == 2, (res.out, res.err)
    assert res.out == ""
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert lines[0].startswith("rca: error: ")
    assert "Traceback" not in res.err
    return lines[0]


@pytest.fixture
def good_csv(tmp_path: Path) -> Path:
    return write_csv(chain_frame(shift_at=120, shift=-0.08), tmp_path / "m.csv")


def test_missing_data_file(rca, chain_graph: Path, tmp_path: Path) -> None:
    msg = _bad(rca, "--data", str(tmp_path / "nope.csv"), "--graph", str(chain_graph), "--target", "bugs", *CHANGE)
    assert "does not exist" in msg


def test_unreadable_data_file(rca, chain_graph: Path, tmp_path: Path) -> None:
    p = tmp_path / "bin.parquet"
    p.write_bytes(b"\x00\x01garbage")
    msg = _bad(rca, "--data", str(p), "--graph", str(chain_graph), "--target", "bugs", *CHANGE)
    assert "cannot read data file" in msg


def test_column_missing_from_data(rca, chain_graph: Path, tmp_path: Path) -> None:
    frame = chain_frame().drop(columns=["coverage"])
    data = write_csv(frame, tmp_path / "m.csv")
    msg = _bad(rca, "--data", str(data), "--graph", str(chain_graph), "--target", "bugs", *CHANGE)
    assert "lacks column(s) for graph node(s) coverage" in msg


def test_cyclic_graph(rca, good_csv: Path, tmp_path: Path) -> None:
    g = tmp_path / "cyc.dot"
    g.write_text("digraph { deploys -> change_size; change_size -> bugs; bugs -> deploys; coverage -> bugs; }")
    msg = _bad(rca, "--data", str(good_csv), "--graph", str(g), "--target", "bugs", *CHANGE)
    assert "cycle" in msg


def test_target_not_a_node(rca, good_csv: Path, chain_graph: Path) -> None:
    msg = _bad(rca, "--data", str(good_csv), "--graph", str(chain_graph), "--target", "latency", *CHANGE)
    assert "target 'latency' is not a node" in msg


def test_window_with_no_rows(rca, good_csv: Path, chain_graph: Path) -> None:
    msg = _bad(rca, "--data", str(good_csv), "--graph", str(chain_graph), "--target", "bugs",
               "--baseline", "2025-01-01..2025-02-01", "--current", "2026-05-01..2026-06-30")
    assert "baseline window" in msg and "no complete rows" in msg


def test_too_few_rows_says_how_many_are_needed(rca, chain_graph: Path, tmp_path: Path) -> None:
    data = write_csv(chain_frame(n=9, shift_at=None), tmp_path / "few.csv")
    msg = _bad(rca, "--data", str(data), "--graph", str(chain_graph), "--target", "bugs", "--at", "2026-01-09")
    assert "only 8 complete row(s)" in msg and "needs at least 10" in msg


def test_all_nan_column(rca, chain_graph: Path, tmp_path: Path) -> None:
    frame = chain_frame()
    frame["coverage"] = np.nan
    data = write_csv(frame, tmp_path / "m.csv")
    msg = _bad(rca, "--data", str(data), "--graph", str(chain_graph), "--target", "bugs", *CHANGE)
    assert "'coverage' has no values" in msg


def test_bad_time_and_window(rca, good_csv: Path, chain_graph: Path) -> None:
    assert "not a time" in _bad(rca, "--data", str(good_csv), "--graph", str(chain_graph), "--target", "bugs",
                                "--at", "yesterday-ish")
    assert "START..END" in _bad(rca, "--data", str(good_csv), "--graph", str(chain_graph), "--target", "bugs",
                                "--baseline", "2026-01-01", "--current", "2026-05-01..2026-06-30")


def test_unix_seconds_timestamps(rca, chain_graph: Path, tmp_path: Path) -> None:
    frame = chain_frame(shift_at=120, shift=-0.08)
    frame.index = (frame.index.astype("int64") // 10**9).astype("int64")
    frame.to_csv(tmp_path / "unix.csv", index_label="ts")
    start = int(frame.index[120])
    res = rca("investigate", "--data", str(tmp_path / "unix.csv"), "--graph", str(chain_graph), "--target", "bugs",
              "--baseline", f"{int(frame.index[0])}..{start - 1}", "--current", f"{start}..", "--bootstrap", "4")
    assert res.code == 0, res.err
    assert _json(res.out)["causes"][0]["node"] == "coverage"


def test_console_script_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "rca"
    proc = subprocess.run([str(exe), "investigate", "--data", str(tmp_path / "x.csv"), "--graph", "delivery",
                           "--target", "bug_fix_commit_ratio", "--at", "2026-01-01"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"rca: error: data file {str(tmp_path / 'x.csv')!r} does not exist"


def test_what_if_moves_the_target_by_the_mechanism(rca, chain_graph: Path, tmp_path: Path) -> None:
    data = write_csv(chain_frame(shift_at=None), tmp_path / "m.csv")
    res = rca("what-if", "--data", str(data), "--graph", str(chain_graph), "--target", "bugs",
              "--set", "coverage=0.6")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    # bugs = ... - 0.5 * coverage: holding coverage at 0.6 instead of ~0.8 adds ~0.1.
    assert doc["mean"] - doc["baseline_mean"] == pytest.approx(0.1, abs=0.015)
    assert doc["interval"][0] < doc["mean"] < doc["interval"][1]
    assert doc["intervention"] == {"coverage": 0.6}
    bad = rca("what-if", "--data", str(data), "--graph", str(chain_graph), "--target", "bugs", "--set", "coverage")
    assert bad.code == 2 and "NODE=NUMBER" in bad.err
    bad = rca("what-if", "--data", str(data), "--graph", str(chain_graph), "--target", "bugs", "--set", "nope=1")
    assert bad.code == 2 and "cannot set nope" in bad.err
