"""One validated configuration: ``rca.yaml`` plus ``RCA_*`` environment overrides.

Precedence, highest first: explicit arguments, environment variables (``RCA_DATA_DIR``,
nested with a double underscore: ``RCA_ENGINE__SEED=7``), the YAML file, defaults. The
file is found at ``--config``, else ``$RCA_CONFIG``, else ``./rca.yaml`` if it exists; with
none, the defaults are a complete, working configuration (a SQLite store under
``./whydunnit-data``). Unknown keys are errors, so a typo never silently does nothing.
Secrets are never read from this file's plain values when an environment or file
reference is given (see the sections that hold them).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from collectors.observations import InputError


class ConfigError(InputError):
    """The configuration file or an override is invalid."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreSettings(_Section):
    url: str | None = Field(default=None, description="SQLAlchemy URL; default sqlite under data_dir")


class EngineSettings(_Section):
    seed: int = 0
    bootstrap: int = Field(default=200, ge=0, le=5000, description="resamples for intervals (0: none)")
    num_samples: int = Field(default=600, ge=50, le=100_000, description="Monte Carlo samples per evaluation")
    confidence: float = Field(default=0.9, gt=0.5, lt=1.0)
    min_rows: int = Field(default=10, ge=3)
    regression_alpha: float = Field(default=0.01, gt=0, lt=0.5)
    change_alpha: float = Field(default=0.05, gt=0, lt=0.5, description="FDR of the mechanism-change tests")


class ReportSettings(_Section):
    out_dir: Path = Path("whydunnit-data/reports")
    formats: list[str] = ["html", "md", "json"]

    @field_validator("formats")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        bad = set(v) - {"html", "md", "json"}
        if bad:
            raise ValueError(f"unknown report format(s) {sorted(bad)}; use html, md, json")
        return v


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RCA_", env_nested_delimiter="__", extra="forbid", frozen=True)

    data_dir: Path = Path("whydunnit-data")
    store: StoreSettings = StoreSettings()
    engine: EngineSettings = EngineSettings()
    reports: ReportSettings = ReportSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML document arrives as init kwargs (see load_settings): env must beat it.
        return env_settings, init_settings

    @property
    def store_url(self) -> str:
        return self.store.url or f"sqlite:///{(self.data_dir / 'whydunnit.db').resolve()}"


def _find(path: str | Path | None) -> Path | None:
    if path is not None:
        return Path(path)
    env = os.environ.get("RCA_CONFIG")
    if env:
        return Path(env)
    default = Path("rca.yaml")
    return default if default.is_file() else None


def _one_line(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    more = f" (+{len(exc.errors()) - 3} more)" if len(exc.errors()) > 3 else ""
    return "; ".join(parts) + more


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Load and validate the configuration; raise :class:`ConfigError` with one line on failure."""
    found = _find(path)
    doc: dict[str, Any] = {}
    if found is not None:
        if not found.is_file():
            raise ConfigError(f"configuration file {str(found)!r} does not exist")
        try:
            loaded = yaml.safe_load(found.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            raise ConfigError(f"cannot read configuration {str(found)!r}: {first}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"configuration {str(found)!r} must be a mapping of sections")
        doc = loaded or {}
    doc.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**doc)
    except ValidationError as exc:
        where = f" in {str(found)!r}" if found else ""
        raise ConfigError(f"invalid configuration{where}: {_one_line(exc)}") from None
