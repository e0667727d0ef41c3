"""The `git` program, run directly: a repository handle that runs commands and returns their output.

The collector needs nothing of a Git library but running ``git`` in a repository and reading
what it prints, so it runs it with :mod:`subprocess` (GitPython cost ~0.2 s to import and
started ``git version`` twice before any work: as much as a fifth of reading a whole
history). Like GitPython, commands run with ``LC_ALL=C`` and ``LANGUAGE=C`` so their output
and messages do not depend on the user's locale.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from collectors.observations import InputError

_LOCALE = {"LC_ALL": "C", "LANGUAGE": "C"}


class GitError(Exception):
    """A ``git`` command exited with a non-zero status; ``stderr`` says why."""

    def __init__(self, args: Sequence[str | bytes], status: int, stderr: bytes) -> None:
        self.command = [os.fsdecode(a) for a in args]
        self.status = status
        self.stderr = stderr.decode("utf-8", "replace").strip()
        super().__init__(f"git {' '.join(self.command[:3])}... exited with status {status}: {self.stderr}")


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    return {**os.environ, **_LOCALE, **(extra or {})}


@dataclass(frozen=True)
class Repo:
    """An opened repository: where to run git, and what :func:`open_repo` learnt about it."""

    path: Path                 # the folder git runs in (a work tree's top, or a bare repository)
    git_dir: Path              # the absolute .git folder
    shallow: bool              # a shallow clone (part of the history is missing)
    shallow_file: Path         # where git lists a shallow clone's boundary commits

    def run(self, *args: str | bytes, env: dict[str, str] | None = None) -> bytes:
        """Run ``git ARGS`` here; its standard output, or :class:`GitError`."""
        cmd = ["git", *args]
        try:
            done = subprocess.run(cmd, cwd=self.path, env=_env(env), stdin=subprocess.DEVNULL,
                                  capture_output=True, check=False)
        except FileNotFoundError:
            raise InputError("the `git` program is not installed or not on PATH") from None
        if done.returncode != 0:
            raise GitError(cmd[1:], done.returncode, done.stderr)
        return done.stdout

    def text(self, *args: str) -> str:
        """``git ARGS``'s output as text without its trailing line break."""
        return self.run(*args).decode("utf-8", "replace").rstrip("\n")

    def ok(self, *args: str) -> bool:
        """Whether ``git ARGS`` succeeds (``merge-base --is-ancestor`` and other yes/no questions)."""
        try:
            self.run(*args)
        except GitError:
            return False
        return True

    @contextmanager
    def stream(self, *args: str, env: dict[str, str] | None = None
               ) -> Iterator[tuple[subprocess.Popen[bytes], IO[bytes]]]:
        """Start ``git ARGS`` with its output on a pipe; yield the process and the pipe.

        On leaving, a process still running (the reader stopped early) is killed; one that ended
        with a non-zero status while its output was read to the end raises :class:`GitError`.
        Its error output goes to a temporary file, so a chatty git can never block on it.
        """
        cmd = ["git", *args]
        with tempfile.TemporaryFile() as err:
            try:
                proc = subprocess.Popen(cmd, cwd=self.path, env=_env(env), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=err)
            except FileNotFoundError:
                raise InputError("the `git` program is not installed or not on PATH") from None
            finished = False
            try:
                yield proc, proc.stdout
                finished = True
            finally:
                if not finished:
                    proc.kill()
                proc.stdout.close()
                status = proc.wait()
            if status != 0:
                err.seek(0)
                raise GitError(cmd[1:], status, err.read())


def open_repo(path: str | Path) -> Repo:
    """Open the repository at ``path`` (a clone's top folder, or a bare repository), or raise
    :class:`InputError` saying why not."""
    p = Path(path)
    where = repr(str(p))
    if not p.exists():
        raise InputError(f"{where} does not exist; give the path of a Git repository")
    probe = Repo(p, p, False, p)
    try:
        raw = probe.run("rev-parse", "--is-bare-repository", "--is-shallow-repository", "--git-path", "shallow",
                        "--absolute-git-dir", "--show-cdup")
        out = [os.fsdecode(line) for line in raw.rstrip(b"\n").split(b"\n")]  # paths may not be UTF-8
    except (GitError, NotADirectoryError):
        raise InputError(f"{where} is not a Git repository (no .git found); give the path of a clone") from None
    bare, shallow, shallow_file, git_dir = out[:4]
    if bare != "true" and len(out) > 4 and out[4]:
        raise InputError(f"{where} is inside a Git repository but is not its top folder; give the path "
                         f"of the clone ({str((p / out[4]).resolve())!r})")
    return Repo(p, Path(git_dir), shallow == "true", p / shallow_file)
