"""What-if and counterfactuals (rca.engine.what_if, `rca what-if`): an interval for the mean, caveats for thin
data, refusals for what the data cannot answer, seeds, and a counterfactual over a window the user chooses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rca import sample
from rca.engine import Options, intervene
from rca.engine.errors import EngineInputError
from tests.engine_helpers import AB, BC, CHAIN, chain_rows, frame

TOTAL = AB * BC  # a's total effect on c: -3


def test_the_interval_is_the_uncertainty_of_the_mean_not_the_spread_of_outcomes() -> None:
    """c = -3 a + noise (sd 0.9): under do(a = 1) 90% of single outcomes spread over 3, while the mean is known
    to about a tenth from 400 rows. The interval is the mean's, and it covers the truth."""
    data = frame(chain_rows(400, np.random.default_rng(1)), ["a", "b", "c"])
    w = intervene(data, CHAIN, "c", {"a": 1.0}, options=Options(seed=0, confidence=0.95))
    lo, hi = w.interval
    assert hi - lo < 0.4
    assert w.quantiles["p95"] - w.quantiles["p5"] > 2.5  # the spread of outcomes, reported apart
    assert lo <= TOTAL * 1.0 <= hi  # E[c | do(a = 1)] = -3 (every intercept is zero)
    assert lo <= w.mean <= hi
    assert json.loads(w.to_json())["interval_of"] == "mean"


def test_interval_coverage_of_the_mean_over_seeded_repetitions() -> None:
    """30 data sets of 60 rows: the 90% interval of E[c | do(a = 1)] covers -3 in 24-30 of them (expected 27;
    the old interval, the outcomes' spread, covered every time, and one half as wide as it should be ~16)."""
    covered = 0
    for seed in range(30):
        data = frame(chain_rows(60, np.random.default_rng(100 + seed)), ["a", "b", "c"])
        w = intervene(data, CHAIN, "c", {"a": 1.0}, options=Options(seed=seed, bootstrap=100))
        covered += w.interval[0] <= TOTAL <= w.interval[1]
        assert w.interval[1] - w.interval[0] < 1.5
    assert 24 <= covered <= 30


def test_thin_data_and_dropped_rows_are_caveats() -> None:
    rows = chain_rows(16, np.random.default_rng(2))
    rows[3, 1] = np.nan  # one row with a gap: dropped
    data = frame(rows, ["a", "b", "c"])
    w = intervene(data, CHAIN, "c", {"a": 0.5}, options=Options(seed=0))
    text = " ".join(w.caveats)
    assert "1 of 16 row(s) had missing values and were left out" in text
    assert "only 15 rows to fit the model" in text


def test_a_constant_node_is_refused_as_effect_questions_refuse_it() -> None:
    data = frame(chain_rows(100, np.random.default_rng(3)), ["a", "b", "c"])
    data["a"] = 2.0
    with pytest.raises(EngineInputError, match=r"'a' is constant \(2\) over the 100 complete row\(s\)"):
        intervene(data, CHAIN, "c", {"a": 1.0})


def _demo_csv(tmp_path: Path) -> tuple[Path, object]:
    demo = sample.generate()
    path = tmp_path / "demo.csv"
    demo.wide.to_csv(path)
    return path, demo


def test_cli_seed_and_a_counterfactual_over_a_chosen_window(rca, tmp_path: Path) -> None:
    """The demo drops line coverage by 12 points in its last quarter. Had coverage stayed at its earlier
    level over those weeks, the bug-fix ratio would have averaged lower than it did: by about the total
    effect (-0.28 per unit) times the drop, within the interval the refits give."""
    path, demo = _demo_csv(tmp_path)
    wide = demo.wide
    last = wide.index[-13:]
    window = f"{last[0]:%Y-%m-%d}..{last[-1]:%Y-%m-%d}"
    before = float(wide["line_coverage_ratio"].iloc[:-13].mean())
    args = ["what-if", "--data", str(path), "--graph", "delivery", "--target", "bug_fix_commit_ratio",
            "--set", f"line_coverage_ratio={before:.4f}", "--window", window]
    a, b = rca(*args, "--seed", "3"), rca(*args, "--seed", "3")
    assert a.code == 0, a.err
    doc = json.loads(a.out)
    assert doc == json.loads(b.out)  # same seed, same answer
    assert doc["kind"] == "counterfactual" and doc["window_rows"] == 13 and doc["seed"] == 3
    drop = before - float(wide["line_coverage_ratio"].iloc[-13:].mean())
    assert doc["baseline_mean"] - doc["mean"] == pytest.approx(0.28 * drop, rel=0.35)
    assert doc["interval"][0] <= doc["mean"] <= doc["interval"][1]
    assert doc["answer"].startswith(f"Had line coverage ratio stayed at {before * 100:.0f}% over the 13 rows from ")
    other = json.loads(rca(*args, "--seed", "4").out)
    assert other["interval"] != doc["interval"]  # the seed drives the refits
    html = rca(*args, "--format", "html", "--out", str(tmp_path / "w.html"))
    assert html.code == 0, html.err
    page = (tmp_path / "w.html").read_text()
    assert 'class="edge hot" data-from="line_coverage_ratio"' in page  # the held node's paths are marked


def test_an_empty_window_is_one_line(rca, tmp_path: Path) -> None:
    path, _ = _demo_csv(tmp_path)
    res = rca("what-if", "--data", str(path), "--graph", "delivery", "--target", "bug_fix_commit_ratio",
              "--set", "line_coverage_ratio=0.8", "--window", "2010-01-01..2010-02-01")
    assert res.code == 2 and "has no complete rows" in res.err and "\n" not in res.err.strip()


def test_what_if_over_the_http_api(tmp_path: Path) -> None:
    """`POST /what-if` on a real `rca serve` over the demo store: an intervention and a counterfactual answered
    at once, bad questions as one-line 400s, and a graph that is a path on the server refused."""
    from tests.serve_helpers import SAMPLE, Served

    served = Served(tmp_path).start()
    try:
        with served.client(timeout=60) as c:
            ok = c.post("/what-if", json={"target": SAMPLE.target, "scope": SAMPLE.scope,
                                          "set": {"line_coverage_ratio": 0.85}, "seed": 2})
            assert ok.status_code == 200, ok.text
            doc = ok.json()
            assert doc["kind"] == "intervention" and doc["seed"] == 2 and doc["interval_of"] == "mean"
            assert doc["interval"][0] <= doc["mean"] <= doc["interval"][1] < doc["baseline_mean"]
            since = f"{SAMPLE.baseline[0]:%Y-%m-%d}.."
            cf = c.post("/what-if", json={"target": SAMPLE.target, "scope": SAMPLE.scope, "window": since,
                                          "set": {"line_coverage_ratio": 0.85}})
            assert cf.status_code == 200 and cf.json()["kind"] == "counterfactual", cf.text
            for body, said in (
                ({"target": SAMPLE.target, "scope": SAMPLE.scope, "set": {"line_coverage_ratio": 5}}, "it is a ratio"),
                ({"target": "nope", "scope": SAMPLE.scope, "set": {"line_coverage_ratio": 0.8}}, "target 'nope'"),
                ({"target": SAMPLE.target, "scope": "acme/none", "set": {"line_coverage_ratio": 0.8}}, "acme/none"),
                ({"target": SAMPLE.target, "scope": SAMPLE.scope, "set": {"line_coverage_ratio": 0.8},
                  "graph": "/etc/passwd"}, "no shipped graph named '/etc/passwd'"),
            ):
                bad = c.post("/what-if", json=body)
                assert bad.status_code == 400 and said in bad.json()["error"], bad.text
                assert "\n" not in bad.json()["error"]
            assert c.post("/what-if", json={"target": SAMPLE.target, "scope": SAMPLE.scope, "set": {}}).status_code == 400
    finally:
        served.stop()
