"""Configuration: defaults that work, YAML, environment overrides, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from rca.config import ConfigError, load_settings


def test_defaults_need_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RCA_CONFIG", raising=False)
    s = load_settings()
    assert s.store_url == f"sqlite:///{tmp_path / 'whydunnit-data' / 'whydunnit.db'}"
    assert s.engine.seed == 0


def test_example_file_is_valid() -> None:
    s = load_settings(Path(__file__).parent.parent / "rca.example.yaml")
    assert s.reports.formats == ["html", "md", "json"]


def test_environment_beats_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "rca.yaml"
    cfg.write_text("engine: {seed: 3, bootstrap: 5}\n")
    monkeypatch.setenv("RCA_ENGINE__SEED", "9")
    s = load_settings(cfg)
    assert (s.engine.seed, s.engine.bootstrap) == (9, 5)


@pytest.mark.parametrize(("text", "needle"), [
    ("engine: {seeed: 3}\n", "engine.seeed: Extra inputs are not permitted"),
    ("engine: {bootstrap: -1}\n", "engine.bootstrap"),
    ("reports: {formats: [pdf]}\n", "unknown report format"),
    ("- a\n- b\n", "must be a mapping"),
    ("engine: [\n", "cannot read configuration"),
])
def test_bad_configuration_is_one_line(tmp_path: Path, text: str, needle: str) -> None:
    cfg = tmp_path / "rca.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_bad_config_via_cli_is_exit_2(rca, tmp_path: Path) -> None:
    cfg = tmp_path / "rca.yaml"
    cfg.write_text("store: {uri: x}\n")
    res = rca("demo", "--config", str(cfg))
    assert res.code == 2
    assert res.err.startswith("rca: error: invalid configuration") and res.err.count("\n") == 1


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdef", "bcdefg", strict=True))


def test_yaml_aliases_are_refused_in_configuration_and_graphs(rca, tmp_path: Path) -> None:
    cfg = tmp_path / "rca.yaml"
    cfg.write_text("engine: {seed: 1}\nreports: &r {url_base: x}\nnotify: *r\n")
    with pytest.raises(ConfigError, match="aliases"):
        load_settings(cfg)
    graph = tmp_path / "bomb.yaml"
    graph.write_text(BOMB.replace("a: &a", "name: bomb\nunit: week\nlabels: &a") + "nodes:\n  n: {label: *g}\n")
    res = rca("graph", "show", str(graph))
    assert res.code == 2 and "aliases" in res.err and res.err.count("\n") == 1


@pytest.mark.parametrize(("env", "needle"), [
    ({"RCA_ENGINE__SEED": "-1"}, "engine.seed"),
    ({"RCA_INVESTIGATIONS": "oops"}, "must be JSON"),
    ({"RCA_ENGINE": "{not json"}, "must be JSON"),
])
def test_bad_environment_overrides_are_one_line(rca, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                env: dict[str, str], needle: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RCA_CONFIG", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    res = rca("report", "--dry-run")
    assert res.code == 2 and needle in res.err and res.err.count("\n") == 1, res.err
    assert res.err.startswith("rca: error: ")


def test_a_negative_seed_flag_is_one_line(rca, tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("ts,a\n2026-01-01,1\n")
    res = rca("investigate", "--data", str(data), "--graph", "delivery", "--target", "x", "--at", "2026-01-01",
              "--seed", "-1")
    assert res.code == 2 and "engine.seed" in res.err and res.err.count("\n") == 1


def test_unquoted_dates_in_investigation_windows_are_read_as_written(tmp_path: Path) -> None:
    cfg = tmp_path / "rca.yaml"
    cfg.write_text("investigations:\n  - {target: t, scope: s, at: 2026-03-30}\n"
                   "  - {target: t, scope: s, baseline: 2026-01-01..2026-02-01, current: 2026-02-02..2026-03-01}\n")
    s = load_settings(cfg)
    assert s.investigations[0].at == "2026-03-30"
    assert s.investigations[1].current == "2026-02-02..2026-03-01"


def test_a_directory_as_configuration_is_called_a_directory(rca, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory; give the path of a YAML file"):
        load_settings(tmp_path)
    res = rca("demo", "--config", str(tmp_path))
    assert res.code == 2 and "is a directory" in res.err and "does not exist" not in res.err


def test_deeply_nested_configuration_is_one_line(rca, tmp_path: Path) -> None:
    cfg = tmp_path / "rca.yaml"
    cfg.write_text("engine: " + "[" * 20_000 + "]" * 20_000 + "\n")
    with pytest.raises(ConfigError, match="nested more than 64 levels deep"):
        load_settings(cfg)
    cfg.write_text("engine:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(3000)))  # block style too
    res = rca("demo", "--config", str(cfg))
    assert res.code == 2 and "nested more than 64 levels deep" in res.err and res.err.count("\n") == 1, res.err
    assert "Traceback" not in res.err
