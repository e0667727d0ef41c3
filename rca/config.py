"""One validated configuration: ``rca.yaml`` plus ``RCA_*`` environment overrides.

Precedence, highest first: explicit arguments (a face's flags or a request's fields, passed as
overrides), environment variables (``RCA_DATA_DIR``, nested with a double underscore:
``RCA_ENGINE__SEED=7``), the YAML file, defaults; section by section, so an override of one key
keeps the section's others. :func:`load_settings` lays them over each other in that order. The
file is found at ``--config``, else ``$RCA_CONFIG``, else ``./rca.yaml`` if it exists; with
none, the defaults are a complete, working configuration (a SQLite store under
``./whydunnit-data``). Unknown keys are errors, so a typo never silently does nothing.
Secrets are never read from this file's plain values when an environment or file
reference is given (see the sections that hold them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from collectors.coverage_settings import CoverageSettings
from collectors.files import FilesSettings
from collectors.git_rules import GitSettings
from collectors.prometheus_settings import PrometheusSettings
from core.errors import BadInput, InputError, printable
from core.secrets import Redactor
from graphs.model import load_yaml
from rca.engine.question import Options
from rca.serve_settings import ServeSettings, cron_fields

__all__ = ["ConfigError", "InvestigationSettings", "JobSettings", "NotifySettings", "ServeSettings", "Settings",
           "api_tokens", "cron_fields", "load_settings", "one_line", "scrubber", "secrets_of", "validated"]


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
        if self.url_env and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.url_env):
            # Never echo the value: it is most likely the webhook URL itself, pasted in the wrong place.
            raise ValueError(f"channel {self.name or self.kind!r}: url_env must be the NAME of an environment "
                             "variable (letters, digits, underscores), not the URL")
        return self

    @field_validator("url_file", mode="before")
    @classmethod
    def _a_path_not_a_url(cls, v: Any) -> Any:
        # Checked on the raw text: as a Path, "https://h/x" would already read "https:/h/x". Never echoed.
        if isinstance(v, str) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", v.strip()):
            raise ValueError("url_file must be the PATH of a file holding the webhook URL, not the URL")
        return v

    @property
    def label(self) -> str:
        return self.name or self.kind


class NotifySettings(_Section):
    channels: list[ChannelSettings] = []
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="one request, connecting to the last byte")
    attempts: int = Field(default=5, ge=1, le=20, description="tries per post, the first included")
    backoff_s: float = Field(default=1.0, ge=0, le=60, description="first retry delay; doubles, with jitter")
    max_retry_after_s: float = Field(default=300.0, ge=0)
    deadline_s: float = Field(default=60.0, gt=0, le=3600, description="one post, retries included, ends by this")
    job_deadline_s: float = Field(default=600.0, gt=0, le=86_400, description="all posts of one job end by this")


class InvestigationSettings(_Section):
    """One target of the scheduled report: ``last`` (relative) or explicit ``baseline``/``current`` or ``at``."""

    target: str
    scope: str = ""
    graph: str = "delivery"
    last: str | None = Field(default=None, description="e.g. '13 weeks': that span to the latest data vs the one before")
    baseline: str | None = None
    current: str | None = None
    at: str | None = None

    @field_validator("baseline", "current", "at", mode="before")
    @classmethod
    def _dates_as_text(cls, v: Any) -> Any:
        # YAML reads an unquoted 2026-03-30 as a date; a window is text, so take it as written.
        return v.isoformat() if isinstance(v, date | datetime) else v

    @model_validator(mode="after")
    def _one_question(self) -> InvestigationSettings:
        if not (self.last or self.at or (self.baseline and self.current)):
            raise ValueError(f"investigation of {self.target!r} needs last, at, or baseline and current")
        return self


class StoreSettings(_Section):
    url: str | None = Field(default=None, description="SQLAlchemy URL; default sqlite under data_dir")


class ComputeSettings(_Section):
    """Where the heavy loops run: in this process (no scheduler, the default), or on a Dask cluster
    (needs ``whydunnit[dask]``): ``tcp://HOST:PORT`` of a running scheduler, or ``local`` for a
    cluster of worker processes on this machine started for the run (:mod:`rca.pipeline.compute`)."""

    scheduler: str | None = Field(default=None, description="tcp://HOST:PORT of a Dask scheduler, or 'local'")
    workers: int = Field(default=2, ge=1, le=256, description="local only: worker processes")
    threads_per_worker: int = Field(default=1, ge=1, le=64, description="local only: threads in each worker")
    memory_limit: str = Field(default="auto", description="local only: memory per worker ('4GiB'; auto: a share of RAM)")
    timeout_s: float = Field(default=30.0, gt=0, le=3600, description="to reach the scheduler and see a worker")

    @field_validator("scheduler")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        if v is None or v == "local":
            return v
        if not re.fullmatch(r"tcp://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}", v):
            raise ValueError(f"scheduler must be tcp://HOST:PORT or local, not {v!r}")
        return v


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


class JobSettings(_Section):
    """One scheduled job of ``rca serve``: collect, then (``report``) investigate, write reports, post to chat."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    cron: str = Field(description="crontab: minute hour day month weekday; a sixth field in front is seconds")
    timezone: str = "UTC"
    collect: bool | list[str] = Field(default=False, description="true: every configured collector; or their names")
    report: bool = Field(default=False, description="investigate, write the reports and notify")
    investigations: list[InvestigationSettings] = Field(default=[], description="default: the top-level ones")
    notify: bool = Field(default=True, description="post the report's summary to notify.channels")
    misfire_grace_s: int = Field(default=300, ge=1, le=7 * 86_400, description="a run this late still runs")
    retry_s: int = Field(default=300, ge=0, le=86_400, description="a run the store or a source was unavailable "
                         "for is tried again after this long (0: wait for the next cron)")
    refit: str | None = Field(default=None, description="crontab for dropping and refitting the job's cached models")

    @field_validator("cron", "refit")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None:
            cron_fields(v)
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}; use an IANA name such as UTC or Europe/Berlin") from None
        return v

    @field_validator("collect")
    @classmethod
    def _collectors(cls, v: bool | list[str]) -> bool | list[str]:
        import collectors

        if isinstance(v, list):
            unknown = [n for n in v if n not in collectors.NAMES]
            if unknown:
                raise ValueError(f"unknown collector(s) {unknown}; use {', '.join(collectors.NAMES)}")
        return v

    @model_validator(mode="after")
    def _does_something(self) -> JobSettings:
        if not self.collect and not self.report:
            raise ValueError(f"job {self.name!r} does nothing: set collect and/or report")
        return self


class DraftSettings(_Section):
    """An OpenAI-compatible chat-completions endpoint (a local Ollama or vLLM server) that drafts candidate
    actions for ``rca recommend --ask-model``; the causal model ranks them, nothing else of the reply is used."""

    url: str | None = Field(default=None, description="base URL, e.g. http://127.0.0.1:11434/v1")
    model: str = Field(default="", description="the model's name on that server")
    api_key_env: str | None = Field(default=None, description="environment variable holding the key, if one is needed")
    timeout_s: float = Field(default=60.0, gt=0, le=600, description="for the whole reply")
    max_reply_bytes: int = Field(default=65536, ge=1024, le=1_048_576)
    max_actions: int = Field(default=8, ge=1, le=20)

    @field_validator("url")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", v):
            raise ValueError(f"url must be http(s)://HOST[:PORT]/PATH, not {v!r}")
        return v.rstrip("/") if v else v


class RecommendSettings(_Section):
    drafts: DraftSettings = DraftSettings()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RCA_", env_nested_delimiter="__", extra="forbid", frozen=True)

    data_dir: Path = Path("whydunnit-data")
    notify: NotifySettings = NotifySettings()  # chat channels for `rca report`
    investigations: list[InvestigationSettings] = []  # what `rca report` investigates
    serve: ServeSettings = ServeSettings()  # `rca serve`: the HTTP API
    jobs: list[JobSettings] = []  # `rca serve`: the scheduler's jobs
    store: StoreSettings = StoreSettings()
    compute: ComputeSettings = ComputeSettings()  # where heavy loops run: here, or on a Dask cluster
    engine: Options = Options()
    recommend: RecommendSettings = RecommendSettings()  # `rca recommend --ask-model`: who drafts actions
    reports: ReportSettings = ReportSettings()
    coverage: CoverageSettings = CoverageSettings()
    git: GitSettings = GitSettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    files: FilesSettings = FilesSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings lays flags over the environment over the file itself (the one place the order is
        # written): what arrives here is that result, so nothing else may lay the environment over it again.
        return (init_settings,)

    @model_validator(mode="after")
    def _jobs_can_run(self) -> Settings:
        seen: set[str] = set()
        for job in self.jobs:
            if job.name in seen:
                raise ValueError(f"two jobs are named {job.name!r}; job names must be unique")
            seen.add(job.name)
            if job.report and not (job.investigations or self.investigations):
                raise ValueError(f"job {job.name!r} reports, but no investigations are configured (in the job or "
                                 "at the top level)")
            wanted = job.collect if isinstance(job.collect, list) else []
            idle = [n for n in wanted if not getattr(self, n).configured]
            if idle:
                raise ValueError(f"job {job.name!r} collects {', '.join(idle)}, which rca.yaml does not configure")
            if job.collect is True and not any(getattr(self, n).configured for n in _collector_names()):
                raise ValueError(f"job {job.name!r} collects, but no collector is configured (git, prometheus, ...)")
        return self

    @property
    def store_url(self) -> str:
        return self.store.url or f"sqlite:///{(self.data_dir / 'whydunnit.db').resolve()}"


def _collector_names() -> tuple[str, ...]:
    import collectors

    return tuple(collectors.NAMES)


def _find(path: str | Path | None) -> Path | None:
    if path is not None:
        return Path(path)
    env = os.environ.get("RCA_CONFIG")
    if env:
        return Path(env)
    default = Path("rca.yaml")
    return default if default.is_file() else None


def one_line(exc: ValidationError) -> str:
    """A pydantic validation error as one line: where and what, for the first three problems."""
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    more = f" (+{len(exc.errors()) - 3} more)" if len(exc.errors()) > 3 else ""
    return "; ".join(parts) + more


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], fields: dict[str, Any]) -> M:
    """``model`` built from ``fields`` (a request's, a flag's); what is wrong with them is one
    :class:`~core.errors.BadInput` line, the first problems named (the one place a validation error
    becomes ours)."""
    try:
        return model(**fields)
    except ValidationError as exc:
        raise BadInput(one_line(exc)) from None


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Load and validate the configuration; raise :class:`ConfigError` with one line on failure."""
    found = _find(path)
    doc: dict[str, Any] = {}
    if found is not None:
        if found.is_dir():
            raise ConfigError(f"configuration {str(found)!r} is a directory; give the path of a YAML file "
                              "(such as rca.yaml)")
        if not found.is_file():
            raise ConfigError(f"configuration file {str(found)!r} does not exist")
        try:
            loaded = load_yaml(found.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            raise ConfigError(f"cannot read configuration {str(found)!r}: {printable(first, 300)}") from None
        except RecursionError:  # the loader bounds nesting; this is the interpreter's own limit, just in case
            raise ConfigError(f"cannot read configuration {str(found)!r}: nested too deeply") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"configuration {str(found)!r} must be a mapping of sections")
        doc = loaded or {}
    try:
        environment = EnvSettingsSource(Settings)()  # the RCA_* variables, as sections
    except SettingsError as exc:  # an RCA_* variable that is not the JSON its field needs
        cause = str(exc.__cause__ or exc).splitlines()[0]
        raise ConfigError(f"invalid configuration from the environment: {exc}".split(" from source")[0]
                          + f" ({cause}); a list or section given as RCA_... must be JSON") from None
    # Flags over the environment over the file (over the defaults, which the model fills in).
    doc = _merged(_merged(doc, environment), {k: v for k, v in overrides.items() if v is not None})
    where = f" in {str(found)!r}" if found else ""
    try:
        return Settings(**doc)
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration{where}: {one_line(exc)}") from None


def _merged(doc: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with ``overrides`` laid over it, section by section (a section's other keys stay)."""
    out = dict(doc)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


# --- the secrets the configuration points at -------------------------------------------------------

def _read_first_line(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").splitlines()[0].strip() or None
    except (OSError, UnicodeDecodeError, IndexError):
        return None


def api_tokens(settings: Settings, environ: dict[str, str] | None = None) -> list[str]:
    """The API tokens the service accepts: the values of ``serve.token_env`` and the lines of ``serve.token_files``."""
    env = os.environ if environ is None else environ
    tokens = [env[name].strip() for name in settings.serve.token_env if env.get(name, "").strip()]
    for path in settings.serve.token_files:
        try:
            tokens.extend(line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip())
        except (OSError, UnicodeDecodeError):
            continue
    return list(dict.fromkeys(tokens))


def secrets_of(settings: Settings, environ: dict[str, str] | None = None) -> dict[str, str]:
    """Every secret the configuration points at (API tokens, webhook URLs, Prometheus credentials, the
    store's password), mapped to what is shown instead."""
    from core.secrets import basic_credential, mask_url, mask_webhook, url_secrets, webhook_secrets

    env = os.environ if environ is None else environ
    out: dict[str, str] = {t: "***" for t in api_tokens(settings, env)}
    for ch in settings.notify.channels:
        url = env.get(ch.url_env, "") if ch.url_env else _read_first_line(Path(ch.url_file)) if ch.url_file else None
        if url:
            out[url.strip()] = mask_webhook(url.strip())
            out.update(dict.fromkeys(webhook_secrets(url.strip()), "***"))
    auth = settings.prometheus.auth
    for name in ("bearer_token_env", "password_env"):
        var = getattr(auth, name, None)
        if var and env.get(var):
            out[env[var]] = "***"
    for name in ("bearer_token_file", "password_file"):
        path = getattr(auth, name, None)
        value = _read_first_line(Path(path)) if path else None
        if value:
            out[value] = "***"
    password = env.get(auth.password_env or "") or (_read_first_line(Path(auth.password_file)) if auth.password_file
                                                      else None)
    if auth.username and password:  # what a proxy echoing the Authorization header would repeat
        out[basic_credential(auth.username, password)] = "***"
    url = settings.store_url
    if mask_url(url) != url:
        out[url] = mask_url(url)
        out.update(dict.fromkeys(url_secrets(url), "***"))
    return out


def scrubber(settings: Settings | None, environ: dict[str, str] | None = None, limit: int = 2000
             ) -> Callable[[str], str]:
    """What outside text passes through before it is printed, stored or served: the configuration's secrets
    and any credential-shaped piece (``Bearer ...``, ``://user:password@``) hidden, then one printable line
    of at most ``limit`` characters. Without settings, only the shapes are hidden."""
    redact = Redactor(secrets_of(settings, environ) if settings is not None else None)

    def scrub(text: object) -> str:
        return printable(redact(str(text)), limit)

    return scrub

