"""SZZ: which earlier commits introduced the lines a bug fix had to change.

The variant (stated in README.md): for each bug-fix commit that is not a merge and touches at
most ``max_files`` files, take ``git diff -U0 -w --ignore-blank-lines -M`` against its first
parent; every deleted or changed line that is not blank and not comment-only is blamed with
``git blame -w --porcelain`` on the parent, skipping the commits listed in the branch's
``.git-blame-ignore-revs``. A blamed commit whose author time predates the fix's author time
is bug-introducing. A revert does not blame: the commit it names is bug-introducing. Fixes
run in parallel threads (each one drives its own ``git`` processes).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from collectors.git_cmd import GitError, GitTimeout, Repo
from collectors.git_rules import is_comment_or_blank

_HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_SHA_LINE = re.compile(rb"^([0-9a-f]{40}) \d+ \d+")


@dataclass(frozen=True)
class FixInput:
    sha: str
    parent: str
    author_ts: int


@dataclass(frozen=True)
class BlameLink:
    """``bug`` (a bug-introducing commit) was blamed by ``fix``."""

    fix: str
    bug: str
    bug_author_ts: int


def _unquote(raw: bytes) -> bytes:
    """Undo git's C-style quoting of a path in a diff header."""
    if not raw.startswith(b'"'):
        return raw
    body = raw[1:-1].decode("latin-1")
    return body.encode("latin-1").decode("unicode_escape").encode("latin-1")


def removed_lines(diff: bytes) -> dict[bytes, list[int]]:
    """Old path -> line numbers (in the old file) of deleted lines worth blaming."""
    out: dict[bytes, list[int]] = {}
    old_path: bytes | None = None
    skip = False
    old_left = new_left = 0
    line_no = 0
    for line in diff.split(b"\n"):
        if old_left > 0 or new_left > 0:
            if line.startswith(b"-"):
                old_left -= 1
                text = line[1:].decode("utf-8", "replace")
                if not skip and old_path is not None and not is_comment_or_blank(text):
                    out.setdefault(old_path, []).append(line_no)
                line_no += 1
            elif line.startswith(b"+"):
                new_left -= 1
            continue
        if line.startswith(b"diff --git "):
            old_path, skip = None, False
        elif line.startswith((b"new file mode ", b"deleted file mode ", b"index ")) and b"160000" in line:
            skip = True  # a submodule: its "lines" are commit pointers
        elif line.startswith(b"--- "):
            name = line[4:]
            old_path = None if name == b"/dev/null" else _unquote(name)[2:]
        elif line.startswith(b"@@"):
            m = _HUNK.match(line)
            if m:
                line_no = int(m.group(1))
                old_left = int(m.group(2)) if m.group(2) is not None else 1
                new_left = int(m.group(3)) if m.group(3) is not None else 1
    return out


def _ranges(lines: list[int]) -> list[str]:
    out: list[str] = []
    lines = sorted(set(lines))
    start = prev = lines[0]
    for n in lines[1:]:
        if n != prev + 1:
            out.append(f"{start},{prev}")
            start = n
        prev = n
    out.append(f"{start},{prev}")
    return out


def parse_porcelain(text: bytes) -> dict[str, int]:
    """Blamed sha -> its author time, from ``git blame --porcelain``."""
    found: dict[str, int] = {}
    current: str | None = None
    for line in text.split(b"\n"):
        m = _SHA_LINE.match(line)
        if m:
            current = m.group(1).decode()
            found.setdefault(current, -1)
        elif current is not None and line.startswith(b"author-time "):
            found[current] = int(line[12:])
    return found


def _run(repo: Repo, args: list[str | bytes], env: dict[str, str] | None = None) -> bytes:
    return repo.run(*args, env=env)


def commit_graph_env(repo: Repo, dest_dir: str) -> dict[str, str] | None:
    """Write a commit-graph (with changed-path filters) to a scratch object directory.

    Blame walks the history of each file; a commit-graph makes that walk several times
    faster. It goes to ``dest_dir``, offered to git as an extra (empty) alternate object
    directory through the environment, so the repository itself is never written to.
    """
    env = {"GIT_ALTERNATE_OBJECT_DIRECTORIES": dest_dir}
    os.makedirs(os.path.join(dest_dir, "info"), exist_ok=True)
    os.makedirs(os.path.join(dest_dir, "pack"), exist_ok=True)
    try:  # --progress: on a very long history it takes minutes, and progress is what tells a slow git from a hung one
        _run(repo, ["commit-graph", "write", "--reachable", "--changed-paths", "--progress",
                    f"--object-dir={dest_dir}"], env)
    except (GitError, GitTimeout):  # an optimisation only: blame works without it
        return None
    return env


def _blame_fix(repo: Repo, fix: FixInput, ignore_file: str | None, env: dict[str, str] | None
               ) -> tuple[list[BlameLink], int]:
    diff = _run(repo, ["-c", "core.quotePath=false", "diff", "-U0", "-w", "--ignore-blank-lines", "-M",
                       "--src-prefix=a/", "--dst-prefix=b/", fix.parent, fix.sha], env)
    links: list[BlameLink] = []
    failures = 0
    for path, lines in removed_lines(diff).items():
        args: list[str | bytes] = ["-c", "blame.ignoreRevsFile=", "blame", "--porcelain", "-w"]
        if ignore_file:
            args += ["--ignore-revs-file", ignore_file]
        for r in _ranges(lines):
            args += ["-L", r]
        args += [fix.parent, "--", os.fsdecode(path)]
        try:
            blamed = parse_porcelain(_run(repo, args, env))
        except GitError:
            failures += 1
            continue
        links.extend(BlameLink(fix.sha, sha, ts) for sha, ts in blamed.items() if 0 <= ts < fix.author_ts)
    return links, failures


def ignore_revs_file(repo: Repo, tip: str, dest_dir: str) -> str | None:
    """Write the tip's ``.git-blame-ignore-revs`` (if any) to a file and return its path."""
    try:
        content = _run(repo, ["cat-file", "blob", f"{tip}:.git-blame-ignore-revs"])
    except GitError:
        return None
    path = os.path.join(dest_dir, "blame-ignore-revs")
    with open(path, "wb") as fh:
        fh.write(content)
    return path


def run_szz(repo: Repo, fixes: Iterable[FixInput], *, ignore_file: str | None, workers: int = 0,
            env: dict[str, str] | None = None, progress: Callable[[int, int], None] | None = None
            ) -> tuple[list[BlameLink], int]:
    """Blame every fix (in parallel) and return the links found and the number of failed blames."""
    todo = list(fixes)
    links: list[BlameLink] = []
    failures = 0
    n_workers = workers or max(1, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        try:
            for done, (found, failed) in enumerate(pool.map(lambda f: _blame_fix(repo, f, ignore_file, env), todo), 1):
                links.extend(found)
                failures += failed
                if progress is not None and (done % 50 == 0 or done == len(todo)):
                    progress(done, len(todo))
        except BaseException:  # a stopped git (GitTimeout): the fixes not yet started would wait as long
            pool.shutdown(cancel_futures=True)
            raise
    return links, failures
