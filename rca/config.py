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
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from collectors import git_rules
from collectors.observations import InputError


class ConfigError(InputError):
    """The configuration file or an override is invalid."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelSettings(_Section):
    """A chat webhook. Its URL is a secret: name the environment variable or the file that holds it."""

    kind: Literal["slack", "teams", "discord", "mattermost", "googlechat", "generic"]
    name: str = ""
    url_env: str | None = Field(default=None, description="environment variable holding the webhook URL")
    url_file: Path | None = Field(default=None, description="file whose first line is the webhook URL")

    @model_validator(mode="after")
    def _one_source(self) -> ChannelSettings:
        if bool(self.url_env) == bool(self.url_file):
            raise ValueError(f"channel {self.name or self.kind!r} needs exactly one of url_env or url_file "
                             "(webhook URLs are secrets and never go in this file)")
        import re

        if self.url_env and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.url_env):
            # Never echo the value: it is most likely the webhook URL itself, pasted in the wrong place.
            raise ValueError(f"channel {self.name or self.kind!r}: url_env must be the NAME of an environment "
                             "variable (letters, digits, underscores), not the URL")
        return self

    @property
    def label(self) -> str:
        return self.name or self.kind


class NotifySettings(_Section):
    channels: list[ChannelSettings] = []
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    attempts: int = Field(default=5, ge=1, le=20, description="tries per post, the first included")
    backoff_s: float = Field(default=1.0, ge=0, le=60, description="first retry delay; doubles, with jitter")
    max_retry_after_s: float = Field(default=300.0, ge=0)


class InvestigationSettings(_Section):
    """One target of the scheduled report: ``last`` (relative) or explicit ``baseline``/``current`` or ``at``."""

    target: str
    scope: str
    graph: str = "delivery"
    last: str | None = Field(default=None, description="e.g. '13 weeks': that span to the latest data vs the one before")
    baseline: str | None = None
    current: str | None = None
    at: str | None = None

    @model_validator(mode="after")
    def _one_question(self) -> InvestigationSettings:
        if not (self.last or self.at or (self.baseline and self.current)):
            raise ValueError(f"investigation of {self.target!r} needs last, at, or baseline and current")
        return self


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
    url_base: str = Field(default="", description="where out_dir is served; chat messages link <url_base>/<file>")

    @field_validator("formats")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        bad = set(v) - {"html", "md", "json"}
        if bad:
            raise ValueError(f"unknown report format(s) {sorted(bad)}; use html, md, json")
        return v


class GitRepoSettings(_Section):
    path: Path = Field(description="a clone with full history (a shallow one gets no SZZ/experience)")
    name: str | None = Field(default=None, description="scope label; default: the folder's name")
    branch: str | None = Field(default=None, description="branch to follow; default: the checked-out one")
    since: datetime | None = Field(default=None, description="read commits committed from then on (UTC)")
    scopes: list[str] = Field(default=[], description="path prefixes measured as extra scopes LABEL/PREFIX")

    @property
    def label(self) -> str:
        return self.name or (self.path.resolve().name or "repo")


def _regexes(v: list[str], flags: int = 0) -> list[str]:
    for p in v:
        try:
            re.compile(p, flags)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {p!r}: {exc}") from None
    return v


class GitSettings(_Section):
    repos: list[GitRepoSettings] = []
    bucket: Literal["day", "week"] = "week"
    test_patterns: list[str] = list(git_rules.DEFAULT_TEST_PATTERNS)
    fix_patterns: list[str] = list(git_rules.DEFAULT_FIX_PATTERNS)
    issue_patterns: list[str] = list(git_rules.DEFAULT_ISSUE_PATTERNS)
    fix_types: list[str] = list(git_rules.DEFAULT_FIX_TYPES)
    newcomer_threshold: int = Field(default=5, ge=0, description="fewer prior commits than this: a newcomer")
    szz: bool = True
    szz_max_files: int = Field(default=20, ge=1, description="SZZ skips fixes touching more files than this")
    szz_workers: int = Field(default=0, ge=0, description="parallel blames (0: one per CPU)")

    @field_validator("fix_patterns", "issue_patterns")
    @classmethod
    def _valid_regex(cls, v: list[str]) -> list[str]:
        return _regexes(v)

    @model_validator(mode="after")
    def _unique_labels(self) -> GitSettings:
        labels = [r.label for r in self.repos]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise ValueError(f"repositories share the label(s) {dup}; give each a distinct name")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RCA_", env_nested_delimiter="__", extra="forbid", frozen=True)

    data_dir: Path = Path("whydunnit-data")
    notify: NotifySettings = NotifySettings()  # chat channels for `rca report`
    investigations: list[InvestigationSettings] = []  # what `rca report` investigates
    store: StoreSettings = StoreSettings()
    engine: EngineSettings = EngineSettings()
    reports: ReportSettings = ReportSettings()
    git: GitSettings = GitSettings()

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
