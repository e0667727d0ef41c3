"""One streaming ``git log --numstat`` pass, parsed into one small record per commit.

A single ``git log -z --numstat`` process runs; its output is read in chunks and parsed as
it arrives, so memory holds the records, never the diffs. Each record carries what
the per-commit table and the buckets need (line counts per scope, test churn, the message's
verdict) and nothing else. Renames are detected (``-M``) and counted as git counts them;
binary files (numstat ``-``) count as touched with no lines; merges carry no diff, as in
``git log --numstat``.

The markers that cut the output into commits and fields are a control byte followed by a
token drawn at random for each run: a commit message, a name or a path may hold any byte,
``\x01`` to ``\x03`` included, but cannot guess the token. A commit time Git cannot read (it
prints nothing for a negative one, or for a commit without that line) or one past
:data:`LATEST_TIME` is recorded as -1, and the collector leaves such a commit out, saying so;
an unreadable author time is replaced by the commit time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from collectors.git_cmd import Repo
from collectors.git_rules import Classifier, MessageVerdict, in_prefix

LATEST_TIME = 7_258_118_400  # 2200-01-01 UTC: a commit time from then on is not a real one
_OPTIONS = ("-z", "--numstat", "-M", "--no-color", "--no-ext-diff", "--no-textconv", "--no-show-signature",
            "--encoding=UTF-8")


@dataclass(frozen=True, slots=True)
class Marks:
    """The separators of one run's ``git log`` output: \x01 starts a commit, \x02 separates fields,
    \x03 ends the message (numstat follows, -z), each followed by the run's token."""

    token: str
    start: bytes = b""
    field: bytes = b""
    end: bytes = b""

    def __post_init__(self) -> None:  # the separators as bytes, made once: the parser uses them per commit
        for name, byte in (("start", b"\x01"), ("field", b"\x02"), ("end", b"\x03")):
            object.__setattr__(self, name, byte + self.token.encode())

    @property
    def format(self) -> str:
        t = self.token
        return f"%x01{t}%H%x02{t}%P%x02{t}%aN%x02{t}%aE%x02{t}%at%x02{t}%ct%x02{t}%B%x03{t}"

    @property
    def options(self) -> tuple[str, ...]:
        return (*_OPTIONS, f"--format={self.format}")


def new_marks() -> Marks:
    """Separators no repository can have put in its messages, names or paths beforehand."""
    return Marks(os.urandom(12).hex())


# One run's options with a fixed token, for benchmarks that run the same git log themselves.
LOG_FORMAT = Marks("0" * 24).format
LOG_OPTIONS = Marks("0" * 24).options


@dataclass(frozen=True, slots=True)
class ScopeStat:
    """A commit's changes restricted to one path prefix."""

    prefix: str
    added: int
    deleted: int
    files: int
    test_lines: int


class CommitRecord(NamedTuple):
    """One commit as read (immutable; a NamedTuple because one is built per commit, ~2.5x faster
    than a frozen dataclass)."""

    sha: str
    parents: tuple[str, ...]
    author_name: str
    author: str                      # identity: case-folded e-mail after .mailmap
    author_ts: int                   # Unix seconds (UTC)
    committer_ts: int
    added: int
    deleted: int
    files: int
    binary_files: int
    renamed_files: int
    test_lines: int
    verdict: MessageVerdict
    scopes: tuple[ScopeStat, ...]    # only the prefixes the commit touched

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


def commit_time(raw: bytes) -> int:
    """Unix seconds as git printed them; -1 for none (git prints nothing for a negative time) or past LATEST_TIME."""
    return int(raw) if raw.isdigit() and len(raw) < 12 and int(raw) < LATEST_TIME else -1


def parse_record(raw: bytes, classifier: Classifier, prefixes: tuple[str, ...], marks: Marks) -> CommitRecord:
    """Parse one commit's chunk: header fields, message, then ``added\\tdeleted\\tpath`` entries.

    The entries follow a NUL and a line break; each ends with a NUL, and a rename's is
    ``added\\tdeleted\\t`` then the old and the new path. Binary files count ``-`` lines.
    (Hot: one call per commit, so written for speed.)
    """
    head, _, stats = raw.partition(marks.end)
    sha, parents, name, email, ats, cts, message = head.split(marks.field, 6)
    parent_list = tuple(parents.decode().split())
    added = deleted = files = binary = renamed = test_lines = 0
    per_prefix: dict[str, list[int]] = {}
    path_of = classifier.path
    entries = iter(stats.lstrip(b"\x00\n").split(b"\x00"))
    for entry in entries:
        if not entry:
            continue
        a_raw, d_raw, path_raw = entry.split(b"\t", 2)
        if not path_raw:  # a rename: the old path, then the new one
            next(entries)
            path_raw = next(entries)
            renamed += 1
        path, is_test = path_of(path_raw)
        files += 1
        if a_raw == b"-" or d_raw == b"-":
            binary += 1
            a = d = 0
        else:
            a, d = int(a_raw), int(d_raw)
            added += a
            deleted += d
            if is_test:
                test_lines += a + d
        for prefix in prefixes:
            if in_prefix(path, prefix):
                acc = per_prefix.setdefault(prefix, [0, 0, 0, 0])
                acc[0] += a
                acc[1] += d
                acc[2] += 1
                acc[3] += (a + d) if is_test else 0
    if name == b"%aN" and email == b"%aE":  # no author line at all: git leaves these placeholders as they are
        name = email = b""
    author_name, author = classifier.person(name, email)
    verdict = classifier.message(message.decode("utf-8", "replace"), len(parent_list) > 1)
    committed = commit_time(cts)
    authored = commit_time(ats)
    return CommitRecord(sha.decode(), parent_list, author_name, author, committed if authored < 0 else authored,
                        committed, added, deleted, files,
                        binary, renamed, test_lines, verdict,
                        tuple(ScopeStat(p, *v) for p, v in per_prefix.items()) if per_prefix else ())


def readable(record: CommitRecord) -> bool:
    """Whether the commit's time could be read (see :data:`LATEST_TIME`)."""
    return record.committer_ts >= 0


def split_records(chunks: Iterable[bytes], start: bytes) -> Iterator[bytes]:
    """Cut a stream of byte chunks into one chunk per commit (each begins after ``start``).

    No reader thread is needed for git to run ahead of the parser: git writes into a 1 MiB
    pipe while the parser works on the last chunk. Memory holds one chunk, however long the history.
    """
    rest = b""
    for chunk in chunks:
        parts = (rest + chunk).split(start)
        rest = parts.pop()
        for part in parts:
            if part:
                yield part
    if rest:
        yield rest


def stream_log(repo: Repo, revs: list[str], classifier: Classifier, prefixes: tuple[str, ...] = (),
               extra: tuple[str, ...] = (), on_record: Callable[[int], None] | None = None
               ) -> Iterator[CommitRecord]:
    """Yield the commits of ``git log revs`` oldest first (parents before children).

    A consumer that stops early stops git too (it is killed, not read to the end)."""
    count = 0
    marks = new_marks()
    # GIT_FLUSH=0: git fills its buffer before writing instead of flushing after every commit
    # (its default on a pipe), so the pipe carries a few hundred large writes, not one per commit
    with repo.stream("log", *marks.options, "--date-order", "--reverse", *extra, *revs, "--",
                     env={"GIT_FLUSH": "0"}) as chunks:
        for raw in split_records(chunks, marks.start):
            yield parse_record(raw, classifier, prefixes, marks)
            count += 1
            if on_record is not None and count % 500 == 0:
                on_record(count)
    if on_record is not None:
        on_record(count)
