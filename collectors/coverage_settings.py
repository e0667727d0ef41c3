"""The ``coverage:`` section of ``rca.yaml``: where coverage reports come from, checked when it is read.

A source is one scope and one of two kinds: a directory of reports (``dir``) or the Git history of
a report committed to a repository (``repo`` and ``file``). Its :meth:`~CoverageSourceSettings.fingerprint`
is what the stored rows depend on: changing any setting re-reads the source whole. Reading the
settings costs no pandas and no Git.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from collectors.base import Section
from collectors.git_cmd import DEFAULT_TIMEOUT_S

STATE_VERSION = 1  # bump when reading changes what a report yields: every source is then read again
TimeFrom = Literal["name", "sidecar", "report"]


class CoverageSourceSettings(Section):
    """One source of reports: a directory (``dir``) or a report's Git history (``repo`` + ``file``)."""

    scope: str = Field(description="the scope its observations get (org/repo, a service...)")
    dir: Path | None = Field(default=None, description="a directory of reports, one per commit or build")
    files: str = Field(default="*", description="glob of the reports inside dir (** recurses); "
                                               "hidden files and <report>.json sidecars are never reports")
    pattern: str | None = Field(default=None, description="regex searched in a report's path relative to dir "
                                                          "(its name), with the named group time and/or commit")
    time_format: str | None = Field(default=None, description="strptime format of the time group; default "
                                                              "ISO 8601, YYYYMMDD[HHMMSS] or Unix seconds")
    time_from: tuple[TimeFrom, ...] = Field(default=("name", "sidecar", "report"),
                                            description="where a report's time comes from, in order of preference")
    timezone: str = Field(default="UTC", description="zone of times written without an offset (coverage.py "
                                                    "JSON's meta.timestamp is the local time where it ran)")
    repo: Path | None = Field(default=None, description="Git repository: the history to read (with file), or "
                                                        "where commits named by file names or sidecars are found")
    file: str | None = Field(default=None, description="path of the committed report inside repo")
    branch: str | None = Field(default=None, description="with file: branch to follow; default the checked-out one")
    since: datetime | None = Field(default=None, description="with file: commits committed from then on (UTC)")
    roots: tuple[str, ...] = Field(default=(), description="prefixes cut from the reports' file paths "
                                                         "(/home/runner/work/app/app/)")
    scopes: tuple[str, ...] = Field(default=(), description="path prefixes also measured as scopes SCOPE/PREFIX")
    per_file: bool = Field(default=False, description="also store each file's figures under SCOPE/PATH")

    @field_validator("scope")
    @classmethod
    def _scope(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("scope must not be empty")
        return v.strip()

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            groups = re.compile(v).groupindex
        except re.error as exc:
            raise ValueError(f"pattern {v!r} is not a regular expression: {exc}") from None
        if not {"time", "commit"} & set(groups):
            raise ValueError(f"pattern {v!r} needs a named group (?P<time>...) or (?P<commit>...)")
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        zone_of(v)
        return v

    @field_validator("time_from")
    @classmethod
    def _time_from(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v or len(set(v)) != len(v):
            raise ValueError("time_from lists name, sidecar and/or report, each at most once")
        return v

    @field_validator("roots", "scopes")
    @classmethod
    def _prefixes(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(p.replace("\\", "/") for p in v if p.strip())

    @model_validator(mode="after")
    def _kind(self) -> CoverageSourceSettings:
        if (self.dir is None) == (self.file is None):
            raise ValueError(f"coverage source {self.scope!r} needs either dir (a directory of reports) or "
                             "repo and file (a report committed to Git)")
        if self.file is not None:
            if self.repo is None:
                raise ValueError(f"coverage source {self.scope!r}: file {self.file!r} needs repo, the repository "
                                 "it is committed to")
            if "\n" in self.file or not self.file.strip("/"):
                raise ValueError(f"coverage source {self.scope!r}: file must be a path inside the repository")
        if self.pattern and "commit" in re.compile(self.pattern).groupindex and self.repo is None:
            raise ValueError(f"coverage source {self.scope!r}: pattern has a commit group, which needs repo to "
                             "look the commit's time up")
        return self

    @property
    def kind(self) -> str:
        return "dir" if self.dir is not None else "git"

    def fingerprint(self) -> str:
        """What the stored rows depend on: changing any of it re-reads the source whole."""
        text = f"{STATE_VERSION}:{self.model_dump_json()}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class CoverageSettings(Section):
    """The ``coverage:`` section: where coverage reports come from."""

    sources: tuple[CoverageSourceSettings, ...] = ()
    git_timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0, description="a git command that prints nothing "
                                 "for this long is stopped: a hung or hostile repository cannot hold a run")

    @property
    def configured(self) -> bool:
        return bool(self.sources)

    @model_validator(mode="after")
    def _unique_scopes(self) -> CoverageSettings:
        scopes = [s.scope for s in self.sources]
        dup = sorted({x for x in scopes if scopes.count(x) > 1})
        if dup:
            raise ValueError(f"coverage sources share the scope(s) {dup}; give each source its own scope")
        return self


def zone_of(name: str) -> tzinfo:
    """The time zone an IANA name names (``UTC``, ``Europe/Berlin``); ``ValueError`` in one line if none."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as UTC or Europe/Berlin") from None
