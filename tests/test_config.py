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
