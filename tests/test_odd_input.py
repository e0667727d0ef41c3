"""Odd and hostile input from the command line: one clear line, exit status 2, nothing on stdout."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from graphs.model import parse_graph
from rca.engine import Options, Question, Window, intervene, investigate
from rca.sample import generate


def _one_line(res) -> None:
    assert res.code == 2, res
    assert res.err.startswith("rca: error: ") and res.err.count("\n") == 1, res.err
    assert "Traceback" not in res.err


def test_malformed_dot_says_so_on_stderr_and_prints_nothing_on_stdout(rca, tmp_path: Path) -> None:
    bad = tmp_path / "bad.dot"
    bad.write_text("digraph { a -> ; }")
    res = rca("graph", "show", str(bad))
    _one_line(res)
    assert res.out == "" and "not valid Graphviz DOT" in res.err and "line:1" in res.err


def test_a_lag_of_a_billion_buckets_is_refused_at_load(rca, tmp_path: Path) -> None:
    g = tmp_path / "g.yaml"
    g.write_text("nodes: {a: {}, b: {}}\nedges: [[a, b, {lag: 1000000000}]]\n")
    res = rca("graph", "show", str(g))
    _one_line(res)
    assert "lag 1000000000 is more than" in res.err


def test_a_folder_as_data_is_called_a_folder(rca, tmp_path: Path) -> None:
    res = rca("investigate", "--data", str(tmp_path), "--graph", "delivery", "--target", "x", "--at", "2026-01-01")
    _one_line(res)
    assert "is a folder" in res.err


def test_a_negative_permutation_count_is_refused(rca, tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    generate().wide.to_csv(data)
    res = rca("graph", "check", "delivery", "--data", str(data), "--permutations", "-5")
    assert res.code == 2 and "p=-" not in res.out


def test_an_open_ended_window_ends_at_the_last_row_not_in_2262(rca, tmp_path: Path) -> None:
    s = generate()
    data = tmp_path / "d.csv"
    s.wide.to_csv(data)
    last = s.wide.index[-1]
    res = rca("investigate", "--data", str(data), "--graph", "delivery", "--target", s.target,
              "--at", f"{s.wide.index[-3].isoformat()}..", "--bootstrap", "5")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert doc["window"]["until"] == last.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "2262" not in res.out


def test_overlapping_windows_get_a_caveat() -> None:
    s = generate()
    q = Question(s.target, baseline=Window(s.wide.index[0], s.wide.index[-10]),
                 current=Window(s.wide.index[-20], s.wide.index[-1]))
    r = investigate(s.wide, parse_graph_delivery(), q, options=Options(bootstrap=5))
    assert any("windows overlap in 11 row(s)" in c for c in r.caveats)


def parse_graph_delivery():
    from graphs import shipped_graph

    return shipped_graph("delivery")


def test_a_200_node_graph_raises_no_pandas_warning_per_column() -> None:
    n_nodes, rows = 200, 60
    rng = np.random.default_rng(0)
    cols = {f"n{i}": rng.normal(0, 1, rows) for i in range(n_nodes)}
    df = pd.DataFrame(cols, index=pd.date_range("2026-01-01", periods=rows, freq="D", tz="UTC"))
    graph = parse_graph("nodes: {" + ", ".join(f"n{i}: {{}}" for i in range(n_nodes)) + "}\n"
                        "edges: [" + ", ".join(f"[n{i}, n{i + 1}, {{lag: 1}}]" for i in range(0, 40, 2)) + "]",
                        "wide.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.PerformanceWarning)
        from rca.engine.frames import prepare

        prepared = prepare(df, graph)
    assert prepared.frame.shape[1] == n_nodes + 20


def test_what_if_refuses_a_ratio_of_5_and_gives_the_same_answer_twice() -> None:
    s = generate()
    g = parse_graph_delivery()
    with pytest.raises(Exception, match="it is a ratio, between 0 and 1"):
        intervene(s.wide, g, s.target, {"line_coverage_ratio": 5.0})
    a = intervene(s.wide, g, s.target, {"line_coverage_ratio": 0.9}, options=Options(seed=3))
    b = intervene(s.wide, g, s.target, {"line_coverage_ratio": 0.9}, options=Options(seed=3))
    assert (a.mean, a.baseline_mean) == (b.mean, b.baseline_mean)
    far = intervene(s.wide, g, s.target, {"line_coverage_ratio": 0.99})
    assert far.notes and "extrapolates" in far.notes[0]


def test_a_read_only_store_still_gets_the_answer_written_and_says_it_was_not_kept(
        rca, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rca.store import Store
    from tests.serve_helpers import prepare

    monkeypatch.chdir(tmp_path)
    db = Path(prepare(tmp_path / "data").removeprefix("sqlite:///"))
    cfg = tmp_path / "rca.yaml"
    cfg.write_text(f"store: {{url: 'sqlite:///file:{db}?mode=ro&uri=true'}}\nengine: {{bootstrap: 5}}\n")
    s = generate()
    out = tmp_path / "answer.json"
    res = rca("investigate", "--graph", "delivery", "--target", s.target, "--scope", s.scope, "--at", "latest",
              "--out", str(out), "--config", str(cfg))
    assert res.code == 1, res
    assert json.loads(out.read_text())["target"] == s.target  # the answer is written
    errors = [line for line in res.err.splitlines() if line.startswith("rca: error: ")]
    assert len(errors) == 1 and "could not be kept in the store" in errors[0] and "readonly database" in errors[0]
    assert f"written to {out}" in errors[0]
    res = rca("investigate", "--graph", "delivery", "--target", s.target, "--scope", s.scope, "--at", "latest",
              "--config", str(cfg))
    assert res.code == 1 and json.loads(res.out)["target"] == s.target and "printed above" in res.err
    with Store(f"sqlite:///{db}") as store:
        assert store.investigations() == []


def test_error_lines_hide_secrets_and_cannot_forge_lines(rca, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "api-token-abcdef0123456789"
    monkeypatch.setenv("RCA_API_TOKEN", token)
    cfg = tmp_path / "rca.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\n"
                   f"git: {{repos: [{{path: '/nonexistent/{token}/Bearer xyz123secret', name: r}}]}}\n")
    res = rca("collect", "--config", str(cfg))
    assert res.code == 1 and "rca: error: git: r: " in res.err and "does not exist" in res.err
    assert token not in res.err and "xyz123secret" not in res.err and "Bearer ***" in res.err
    # A file name is outside text too: a newline or an escape sequence in it stays inside its line.
    data = tmp_path / "d.csv"
    generate().wide.to_csv(data)
    bad = data / "no\nrca: error: forged\x1b[2J" / "out.json"  # under a file: cannot be made
    res = rca("investigate", "--data", str(data), "--graph", "delivery", "--target", generate().target,
              "--at", "latest", "--bootstrap", "0", "--out", str(bad), "--config", str(cfg))
    assert res.code == 1 and res.err.count("\n") == 1 and "\x1b" not in res.err, res.err
    assert res.err.startswith("rca: error: Not a directory: ") and "\\x1b[2J" in res.err
