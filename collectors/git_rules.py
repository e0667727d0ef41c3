"""The Git collector's rules: what counts as a test file, a bug fix, a revert and an identity.

Every rule here is stated in README.md ("Git collector"), because the first question about a
number is how it was computed. :class:`GitRules` holds the configurable parts (path patterns,
message patterns, thresholds) with defaults; :class:`Classifier` compiles them once and answers
per path and per message. Pure functions of their input: no Git, no I/O.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from collectors.base import Section
from core.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

# Test files: a pattern without "/" matches the file name, one with "/" the whole path;
# "**" spans folders, "*" does not, "{a,b}" is either.
DEFAULT_TEST_PATTERNS: tuple[str, ...] = (
    # Python
    "test_*.py", "*_test.py", "conftest.py", "**/tests/**", "**/test/**",
    # JavaScript / TypeScript
    "*.{test,spec}.{js,jsx,ts,tsx,mjs,cjs,mts,cts}", "**/__tests__/**",
    # Java / Kotlin
    "**/src/test/**", "*Test.java", "*Tests.java", "*IT.java",
    # Go
    "*_test.go",
    # Rust (integration tests and benches live in tests/, covered above)
    "**/benches/**",
)

# A bug-fix keyword anywhere in the message (case-insensitive, whole words).
DEFAULT_FIX_PATTERNS: tuple[str, ...] = (
    r"\b(?:fix(?:e[sd])?|fixing|bugs?|bugfix(?:es)?|hotfix(?:es)?)\b",
)

# Issue references (case-sensitive); the first capture group is the reference.
DEFAULT_ISSUE_PATTERNS: tuple[str, ...] = (
    r"(?<![\w/&])#(\d+)\b",                                         # GitHub/GitLab: #123
    r"\b(GH-\d+)\b",                                                # GitHub: GH-123
    r"\b(?!(?:UTF|SHA|ISO|PEP|RFC|CVE|MD|TLS|SSL|X|PR)-)([A-Z][A-Z0-9]+-\d+)\b",  # Jira: ABC-123
)

# Conventional Commits types that make a commit a fix; any other known type (feat, docs,
# chore...) makes it not a fix, whatever words follow.
DEFAULT_FIX_TYPES: tuple[str, ...] = ("fix", "bugfix", "hotfix")

# The known Conventional Commits types: only these (and the fix types) decide alone. Any other
# "word:" prefix ("cookies: Fix bugs found during CI") names a part of the code, not a type,
# and the keyword rules read the message. A type that says what a commit changes besides the
# product's behaviour (documentation, tests, style, build, CI, chores) is never a fix, so its
# common spellings count too: "doc: Fix grammar" and "tests: fix a flaky test" are not bug fixes.
DEFAULT_CONVENTIONAL_TYPES: tuple[str, ...] = (
    "feat", "fix", "docs", "doc", "chore", "refactor", "test", "tests", "build", "ci", "perf", "style", "revert",
)

_TYPE = re.compile(r"[A-Za-z][\w-]*")
_CONVENTIONAL = re.compile(r"^\s*([A-Za-z][\w-]*)(?:\([^)\n]*\))?!?:\s")
_REVERT_SHA = re.compile(r"This reverts commit ([0-9a-f]{7,40})")
_REVERT_SUBJECT = re.compile(r'^\s*Revert\s+"', re.IGNORECASE)
_COMMENT_PREFIXES = ("#", "//", "/*", "*", "*/", "<!--", "--", ";", "%", "\"\"\"", "'''")


class GitRules(Section):
    """The configurable rules, each with a working default (the ``git:`` section of ``rca.yaml``)."""

    test_patterns: tuple[str, ...] = DEFAULT_TEST_PATTERNS
    fix_patterns: tuple[str, ...] = DEFAULT_FIX_PATTERNS
    issue_patterns: tuple[str, ...] = DEFAULT_ISSUE_PATTERNS
    fix_types: tuple[str, ...] = DEFAULT_FIX_TYPES
    conventional_types: tuple[str, ...] = DEFAULT_CONVENTIONAL_TYPES
    newcomer_threshold: int = Field(default=5, ge=0, description="fewer prior commits than this: a newcomer")
    szz: bool = True
    szz_max_files: int = Field(default=20, ge=1, description="SZZ skips fixes touching more files than this")
    szz_workers: int = Field(default=0, ge=0, description="parallel blames (0: one per CPU)")
    bucket: Literal["day", "week"] = "week"
    timeout_s: float = Field(default=600.0, gt=0, description="a git command that prints nothing for this long is "
                                                              "stopped: a hung or hostile repository cannot hold a run")

    @field_validator("fix_patterns", "issue_patterns")
    @classmethod
    def _valid_regex(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for p in v:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {p!r}: {exc}") from None
        return v

    @field_validator("fix_types", "conventional_types")
    @classmethod
    def _valid_types(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [t for t in v if not _TYPE.fullmatch(t)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a commit type (a word: letters, digits, '-', '_')")
        return v

    def fingerprint(self, scopes: tuple[str, ...]) -> str:
        """What, if changed, makes earlier results incomparable (a full re-read follows)."""
        return repr((self.test_patterns, self.fix_patterns, self.issue_patterns, self.fix_types,
                     self.conventional_types, self.newcomer_threshold, self.szz, self.szz_max_files, self.bucket, scopes))


@dataclass(frozen=True)
class MessageVerdict:
    is_fix: bool
    kind: str            # "revert", "conventional", "keyword" or "" (not a fix)
    issue: str | None    # first issue reference, fix or not
    reverts: str | None  # the sha a revert names


_NOT_FIX = MessageVerdict(False, "", None, None)


def _issue_regex(patterns: tuple[str, ...]) -> tuple[re.Pattern[str] | None, list[tuple[int, int]]]:
    """One regex for all issue patterns (a search finds the earliest match of any), and for each
    pattern the number of its wrapping group and of the group holding the reference."""
    groups: list[tuple[int, int]] = []
    parts: list[str] = []
    at = 1
    for p in patterns:
        try:
            inner = re.compile(p).groups
        except re.error as exc:
            raise InputError(f"invalid issue pattern {p!r}: {exc}") from None
        groups.append((at, at + 1 if inner else at))
        parts.append(f"({p})")
        at += 1 + inner
    return (re.compile("|".join(parts)) if parts else None), groups


def glob_to_regex(pattern: str) -> str:
    """Translate one test-path glob to a regular expression over the whole path."""
    body = pattern if "/" in pattern else "**/" + pattern
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if body.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "{":
            end = body.find("}", i)
            if end < 0:
                raise InputError(f"test pattern {pattern!r} has an unclosed '{{'")
            out.append("(?:" + "|".join(re.escape(a) for a in body[i + 1 : end].split(",")) + ")")
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def _compile(patterns: tuple[str, ...], what: str, flags: int = 0) -> re.Pattern[str] | None:
    if not patterns:
        return None
    try:
        return re.compile("|".join(f"(?:{p})" for p in patterns), flags)
    except re.error as exc:
        raise InputError(f"invalid {what} pattern: {exc}") from None


class Classifier:
    """The compiled rules. Caches path answers (paths repeat across history)."""

    def __init__(self, rules: GitRules) -> None:
        self.rules = rules
        test_rx = "|".join(f"(?:{glob_to_regex(p)})" for p in rules.test_patterns)
        self._test = re.compile(f"^(?:{test_rx})$") if test_rx else None
        self._fix = _compile(rules.fix_patterns, "fix", re.IGNORECASE)
        self._issue, self._issue_groups = _issue_regex(rules.issue_patterns)
        self._fix_types = frozenset(t.lower() for t in rules.fix_types)
        self._types = self._fix_types | {t.lower() for t in rules.conventional_types}
        self._test_cache: dict[str, bool] = {}
        self._paths: dict[bytes, tuple[str, bool]] = {}
        self._people: dict[tuple[bytes, bytes], tuple[str, str]] = {}

    def is_test(self, path: str) -> bool:
        hit = self._test_cache.get(path)
        if hit is None:
            hit = bool(self._test and self._test.match(path))
            self._test_cache[path] = hit
        return hit

    def path(self, raw: bytes) -> tuple[str, bool]:
        """A raw path from git: its text (undecodable bytes kept as surrogates) and whether it is a test."""
        hit = self._paths.get(raw)
        if hit is None:
            text = os.fsdecode(raw)
            hit = self._paths[raw] = (text, self.is_test(text))
        return hit

    def person(self, name: bytes, email: bytes) -> tuple[str, str]:
        """Raw name and e-mail -> (name, identity); shared strings, since people repeat."""
        hit = self._people.get((name, email))
        if hit is None:
            text = name.decode("utf-8", "replace")
            hit = self._people[(name, email)] = (text, identity(text, email.decode("utf-8", "replace")))
        return hit

    def issue(self, message: str) -> str | None:
        """The earliest issue reference in the message (the first capture group of its pattern)."""
        m = self._issue.search(message) if self._issue else None
        if m is None:
            return None
        for outer, inner in self._issue_groups:
            if m.group(outer) is not None:
                ref = m.group(inner)
                return f"#{ref}" if ref.isdigit() else ref
        return None

    def message(self, message: str, is_merge: bool) -> MessageVerdict:
        """Classify a commit message: revert, fix by conventional type, fix by keyword, or not."""
        issue = self.issue(message)
        if is_merge:
            return MessageVerdict(False, "", issue, None) if issue else _NOT_FIX
        subject = message.split("\n", 1)[0]
        rev = _REVERT_SHA.search(message)
        if rev or _REVERT_SUBJECT.match(subject):
            return MessageVerdict(True, "revert", issue, rev.group(1) if rev else None)
        conv = _CONVENTIONAL.match(subject)
        if conv and conv.group(1).lower() in self._types:  # another "word:" is a scope-like prefix
            is_fix = conv.group(1).lower() in self._fix_types
            if not is_fix:
                return MessageVerdict(False, "", issue, None) if issue else _NOT_FIX
            return MessageVerdict(True, "conventional", issue, None)
        if self._fix and self._fix.search(message):
            return MessageVerdict(True, "keyword", issue, None)
        return MessageVerdict(False, "", issue, None) if issue else _NOT_FIX


def identity(name: str, email: str) -> str:
    """An author's identity after .mailmap (git applies it): the case-folded e-mail, else the name."""
    email = email.strip()
    if email:
        return email.casefold()
    name = name.strip()
    return f"name:{name.casefold()}" if name else "unknown"


def is_comment_or_blank(line: str) -> bool:
    """Lines SZZ does not blame: blank ones and those that are only a comment."""
    s = line.strip()
    return not s or s.startswith(_COMMENT_PREFIXES)


def in_prefix(path: str, prefix: str) -> bool:
    if prefix.endswith("/"):
        return path.startswith(prefix)
    return path == prefix or path.startswith(prefix + "/")


def repo_label(path: str | Path) -> str:
    """A repository's default scope label: its folder's name (undecodable bytes as U+FFFD, since a
    label is text that lands in CSV, JSON and the store)."""
    try:
        name = Path(path).resolve().name
    except (OSError, RuntimeError):  # a symbolic link loop: the name as given (opening it says what is wrong)
        name = Path(path).name
    return os.fsencode(name).decode("utf-8", "replace") if name else "repo"


@dataclass(frozen=True)
class RepoSpec:
    """One repository to read: where, under which label, which branch, from when."""

    path: Path
    label: str = ""
    branch: str | None = None          # default: the checked-out branch
    since: pd.Timestamp | None = None  # commits with an older committer time are not read
    scopes: tuple[str, ...] = ()       # path prefixes also measured as scopes LABEL/PREFIX


class GitRepoSettings(Section):
    """One repository to follow."""

    path: Path = Field(description="a clone with full history (a shallow one gets no SZZ/experience)")
    name: str | None = Field(default=None, description="scope label; default: the folder's name")
    branch: str | None = Field(default=None, description="branch to follow; default: the checked-out one")
    since: datetime | None = Field(default=None, description="read commits committed from then on (UTC)")
    scopes: tuple[str, ...] = Field(default=(), description="path prefixes measured as extra scopes LABEL/PREFIX")

    @property
    def label(self) -> str:
        return self.name or repo_label(self.path)

    def spec(self) -> RepoSpec:
        since = None
        if self.since is not None:
            import pandas as pd

            t = pd.Timestamp(self.since)
            since = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
        return RepoSpec(self.path, self.label, self.branch, since, self.scopes)


class GitSettings(GitRules):
    """The ``git:`` section: the repositories to follow and the rules to read them by."""

    repos: tuple[GitRepoSettings, ...] = ()

    @property
    def configured(self) -> bool:
        return bool(self.repos)

    @model_validator(mode="after")
    def _unique_labels(self) -> GitSettings:
        labels = [r.label for r in self.repos]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise ValueError(f"repositories share the label(s) {dup}; give each a distinct name")
        return self
