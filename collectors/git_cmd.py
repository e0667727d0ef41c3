"""The one way we run `git`: a repository handle whose commands can run nothing the repository names.

A repository is untrusted input. Its own configuration (``.git/config`` and what it includes,
``.git/info/attributes``, an in-tree ``.gitattributes``) can name programs Git would run for
us: filter and textconv drivers, external diff commands, hooks, a file-system monitor, a pager,
signature verifiers, credential helpers, ssh commands, and, when a partial clone misses an
object, a fetch from its remote through whatever transport or upload-pack program it names.
Every command goes through :meth:`Repo.run`, :meth:`Repo.stream` or :meth:`Repo.objects`,
which switch all of that off (measured on git 2.39 with a repository where each such setting
points at a program leaving a marker: see tests/test_git_hostile.py):

- the environment: no system or global configuration, no inherited ``GIT_*`` variable (a
  calling hook's ``GIT_DIR``, ``GIT_EXTERNAL_DIFF``, ``GIT_SSH``...), no prompt, no transport
  at all (``GIT_ALLOW_PROTOCOL`` empty beats any ``protocol.*.allow`` of the repository;
  ``GIT_NO_LAZY_FETCH``), no optional locks;
- configuration on the command line, which beats the repository's for single-valued keys
  (:data:`CONFIG`): hooks in ``/dev/null``, no fsmonitor, pager, credential helper, signature
  display, auto gc or colour, and the diff settings that change our counts pinned to Git's
  defaults;
- per subcommand, the flags that switch drivers off (``--no-textconv``, ``--no-ext-diff``,
  ``--no-show-signature``): an empty ``-c diff.<x>.textconv=`` does not switch a driver off
  (git 2.39 tries to run the empty command and fails), the flags do; and only the read-only
  subcommands the collectors use are accepted.

Each command is bounded in time: one that prints nothing (output or error) for ``timeout_s``
seconds is killed and raises :class:`GitTimeout`, one clear line (a FIFO where the
configuration includes a file, a lock that never clears...). A long history keeps printing and
is never cut. Commands run with ``LC_ALL=C`` so their output and messages do not depend on the
user's locale.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from collectors.observations import InputError

DEFAULT_TIMEOUT_S = 600.0
_CHUNK = 1 << 20
_ERR_KEEP = 16 << 10  # the end of a command's error output is what says why it failed

# Command-line configuration: it beats the repository's own for every single-valued key.
CONFIG: tuple[str, ...] = (
    "core.fsmonitor=false", "core.hooksPath=/dev/null", "core.pager=cat", "core.askPass=", "core.sshCommand=",
    "core.gitProxy=", "core.alternateRefsCommand=", "core.attributesFile=/dev/null", "credential.helper=",
    "log.showSignature=false", "gc.auto=0", "maintenance.auto=false", "protocol.allow=never",
    "uploadpack.packObjectsHook=", "submodule.recurse=false", "color.ui=never", "mailmap.file=",
    # what we count must not depend on the repository's taste: Git's defaults
    "diff.submodule=short", "diff.algorithm=myers", "diff.indentHeuristic=true", "diff.renameLimit=1000",
    "diff.relative=false", "diff.noprefix=false", "diff.mnemonicPrefix=false", "diff.ignoreSubmodules=none",
    "diff.interHunkContext=0", "log.follow=false", "i18n.logOutputEncoding=UTF-8", "core.quotePath=true",
    "core.bigFileThreshold=512m",
)
_ENV = {
    "LC_ALL": "C", "LANGUAGE": "C", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": "", "GIT_PAGER": "cat", "PAGER": "cat",
    "GIT_EDITOR": "false", "GIT_ALLOW_PROTOCOL": "", "GIT_NO_LAZY_FETCH": "1", "GIT_OPTIONAL_LOCKS": "0",
}
# The subcommands we run (all read-only, bar commit-graph, which writes only to a scratch object
# directory) and the flags each needs so that no driver of the repository runs.
_SAFE_FLAGS: dict[str, tuple[str, ...]] = {
    "log": ("--no-textconv", "--no-ext-diff", "--no-show-signature", "--no-color"),
    "diff": ("--no-textconv", "--no-ext-diff", "--no-color", "--submodule=short"),
    "blame": ("--no-textconv",),
    "rev-list": (), "rev-parse": (), "symbolic-ref": (), "for-each-ref": (), "merge-base": (), "cat-file": (),
    "commit-graph": (),
}
_UNSAFE = frozenset({"--textconv", "--filters", "--ext-diff", "--show-signature"})


class GitError(Exception):
    """A ``git`` command exited with a non-zero status; ``stderr`` says why."""

    def __init__(self, args: Sequence[str | bytes], status: int, stderr: bytes) -> None:
        self.command = [os.fsdecode(a) for a in args]
        self.status = status
        self.stderr = stderr.decode("utf-8", "replace").strip()
        super().__init__(f"git {' '.join(self.command[:3])}... exited with status {status}: {self.stderr}")


class GitTimeout(InputError):
    """A ``git`` command printed nothing for the allowed time and was stopped (bad input: the repository)."""


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return {**inherited, **_ENV, **(extra or {})}


def command(args: Sequence[str | bytes], config: Sequence[str] = ()) -> list[str | bytes]:
    """The full command line for ``git ARGS``: leading ``-c KEY=VALUE`` pairs of ``args`` kept, then
    ours, then the subcommand and the flags it needs. Raises ValueError for a subcommand or a flag
    that could run something or write (a mistake of ours, never the user's)."""
    args = list(args)
    extra: list[str | bytes] = []
    while len(args) >= 2 and args[0] == "-c":
        extra += args[:2]
        del args[:2]
    if not args or args[0] not in _SAFE_FLAGS:
        raise ValueError(f"git {args[0] if args else ''!r} is not one of the read-only commands the collectors run")
    unsafe = sorted(_UNSAFE.intersection(a for a in args if isinstance(a, str)))
    # %G? and the other %G placeholders verify signatures: they run gpg.program
    unsafe += [a for a in args if isinstance(a, str) and a.startswith(("--format=", "--pretty=")) and "%G" in a]
    if unsafe:
        raise ValueError(f"git {args[0]} {unsafe[0]} could run a program the repository names")
    head = ["git", "--no-pager", *(x for kv in (*CONFIG, *config) for x in ("-c", kv)), *extra]
    return [*head, args[0], *_SAFE_FLAGS[args[0]], *args[1:]]


def _describe(cmd: Sequence[str | bytes]) -> str:
    sub = next((os.fsdecode(a) for a in cmd if isinstance(a, str) and a in _SAFE_FLAGS), "git")
    return f"git {sub}"


def _timeout(cmd: Sequence[str | bytes], where: Path, timeout_s: float) -> GitTimeout:
    return GitTimeout(f"{_describe(cmd)} in {str(where)!r} printed nothing for {timeout_s:g} s and was stopped "
                      "(a hung or hostile repository?); if it is only slow, raise git.timeout_s (coverage.git_timeout_s)")


@dataclass
class _Pump:
    """A process's output in chunks as it comes; its error output kept in ``err`` (the last 16 KiB).

    Iterating raises :class:`GitTimeout` when neither output moves for ``timeout_s``. Only time
    spent waiting for git counts: a slow reader pauses git, not the clock. ``done``: read to the end.
    """

    proc: subprocess.Popen[bytes]
    cmd: Sequence[str | bytes]
    where: Path
    timeout_s: float
    err: bytearray
    done: bool = False

    def __iter__(self) -> Iterator[bytes]:
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout.fileno(), selectors.EVENT_READ, True)
            sel.register(self.proc.stderr.fileno(), selectors.EVENT_READ, False)
            while sel.get_map():
                ready = sel.select(self.timeout_s)
                if not ready:
                    raise _timeout(self.cmd, self.where, self.timeout_s)
                for key, _ in ready:
                    data = os.read(key.fd, _CHUNK)
                    if not data:
                        sel.unregister(key.fd)
                    elif key.data:
                        yield data
                    else:
                        self.err += data
                        del self.err[:-_ERR_KEEP]
        self.done = True


@dataclass(frozen=True)
class Repo:
    """An opened repository: where to run git, and what :func:`open_repo` learnt about it."""

    path: Path                 # the folder git runs in (a work tree's top, or a bare repository)
    git_dir: Path              # the absolute .git folder
    shallow: bool              # a shallow clone (part of the history is missing)
    shallow_file: Path         # where git lists a shallow clone's boundary commits
    timeout_s: float = DEFAULT_TIMEOUT_S  # a command silent this long is stopped
    config: tuple[str, ...] = ()          # more command-line configuration (the user's safe.directory)

    def _start(self, args: Sequence[str | bytes], env: dict[str, str] | None, *,
               stdin: int = subprocess.DEVNULL, stderr: int | IO[bytes] = subprocess.PIPE
               ) -> tuple[list[str | bytes], subprocess.Popen[bytes]]:
        cmd = command(args, self.config)
        try:
            proc = subprocess.Popen(cmd, cwd=self.path, env=_env(env), stdin=stdin, stdout=subprocess.PIPE,
                                    stderr=stderr)
        except FileNotFoundError:
            raise InputError("the `git` program is not installed or not on PATH") from None
        except NotADirectoryError:
            raise InputError(f"{str(self.path)!r} is not a folder; give the path of a Git repository") from None
        return cmd, proc

    @contextmanager
    def stream(self, *args: str | bytes, env: dict[str, str] | None = None) -> Iterator[Iterator[bytes]]:
        """Start ``git ARGS``; yield its output as an iterator of chunks, read as git writes them.

        On leaving, a process still running (the reader stopped early) is killed; one that ended
        with a non-zero status while its output was read to the end raises :class:`GitError`.
        """
        cmd, proc = self._start(args, env)
        with contextlib.suppress(OSError, AttributeError):  # Linux: a 1 MiB pipe means fewer, larger reads
            fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, _CHUNK)
        err = bytearray()
        pump = _Pump(proc, cmd, self.path, self.timeout_s, err)
        try:
            yield iter(pump)
        finally:
            if not pump.done:  # stopped early, by the reader or by the clock
                proc.kill()
            proc.stdout.close()
            proc.stderr.close()
            status = proc.wait()
        if pump.done and status != 0:
            raise GitError(cmd[1:], status, bytes(err))

    def run(self, *args: str | bytes, env: dict[str, str] | None = None) -> bytes:
        """Run ``git ARGS`` here; its standard output, or :class:`GitError`."""
        with self.stream(*args, env=env) as chunks:
            return b"".join(chunks)

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
    def objects(self) -> Iterator[Objects]:
        """One ``git cat-file --batch`` for many object reads (see :class:`Objects`)."""
        with tempfile.TemporaryFile() as err:
            cmd, proc = self._start(["cat-file", "--batch"], None, stdin=subprocess.PIPE, stderr=err)
            reader = Objects(proc, cmd, self.path, self.timeout_s, err)
            try:
                yield reader
            finally:
                reader.close()
                with contextlib.suppress(OSError):
                    proc.stdin.close()
                if proc.poll() is None:
                    proc.kill()
                proc.stdout.close()
                proc.wait()


class Objects:
    """Objects read through one long-lived ``git cat-file --batch`` (raw content: no filter runs)."""

    def __init__(self, proc: subprocess.Popen[bytes], cmd: list[str | bytes], where: Path, timeout_s: float,
                 err: IO[bytes]) -> None:
        self._proc, self._cmd, self._where, self._timeout, self._err = proc, cmd, where, timeout_s, err
        self._fd = proc.stdout.fileno()
        self._buf = bytearray()
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._fd, selectors.EVENT_READ)

    def _fill(self) -> None:
        if not self._sel.select(self._timeout):
            self._proc.kill()
            raise _timeout(self._cmd, self._where, self._timeout)
        data = os.read(self._fd, _CHUNK)
        if not data:
            status = self._proc.wait()
            self._err.seek(0)
            raise GitError(self._cmd[1:], status, self._err.read()[-_ERR_KEEP:] or b"git cat-file --batch ended early")
        self._buf += data

    def close(self) -> None:
        self._sel.close()

    def _line(self) -> bytes:
        while (end := self._buf.find(b"\n")) < 0:
            self._fill()
        line = bytes(self._buf[:end])
        del self._buf[: end + 1]
        return line

    def read(self, rev: str, spool_bytes: int = 8 << 20) -> tuple[str, IO[bytes]] | None:
        """The object ``rev`` names: its type and its content in a file (in memory up to
        ``spool_bytes``, then on disk), positioned at its start; None if there is no such object."""
        if "\n" in rev or not rev:
            return None
        self._proc.stdin.write(rev.encode("utf-8", "surrogateescape") + b"\n")
        self._proc.stdin.flush()
        header = self._line()
        parts = header.split(b" ")
        if len(parts) != 3 or not parts[2].isdigit():  # "<rev> missing", "<rev> ambiguous"
            return None
        kind, size = parts[1].decode(), int(parts[2])
        out: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=spool_bytes)  # noqa: SIM115 (the caller closes it)
        left = size + 1  # the content, then a line break
        while left:
            if not self._buf:
                self._fill()
            take = min(left, len(self._buf))
            out.write(self._buf[:take])
            del self._buf[:take]
            left -= take
        out.seek(size)
        out.truncate()
        out.seek(0)
        return kind, out


def failure(exc: GitError) -> str:
    """What a failed git command means for the user, in one line."""
    if "promisor remote" in exc.stderr:
        return ("it is a partial clone whose missing objects Git would fetch from its remote, which the "
                "collectors never do; collect a full clone (made without --filter)")
    return " ".join(exc.stderr.split()) or str(exc)


def _trusted_safe_directories() -> tuple[str, ...]:
    """The ``safe.directory`` entries of the user's own (system and global) Git configuration:
    ours ignores both, so the user's word that a repository owned by someone else is safe is passed on."""
    try:
        done = subprocess.run(["git", "config", "--get-all", "safe.directory"], cwd="/", capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=30, check=False,
                              env={**os.environ, "LC_ALL": "C", "GIT_DIR": os.devnull})
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return tuple(f"safe.directory={v}" for v in os.fsdecode(done.stdout).splitlines() if v)


def open_repo(path: str | Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> Repo:
    """Open the repository at ``path`` (a clone's top folder, or a bare repository), or raise
    :class:`InputError` saying why not."""
    p = Path(path)
    where = repr(str(p))
    if not p.exists():
        if p.is_symlink():
            raise InputError(f"{where} is a symbolic link that leads nowhere (a loop or a missing target); "
                             "give the path of a Git repository")
        raise InputError(f"{where} does not exist; give the path of a Git repository")
    if not p.is_dir():
        raise InputError(f"{where} is not a folder; give the path of a Git repository")
    probe = Repo(p, p, False, p, timeout_s)
    question = ("rev-parse", "--is-bare-repository", "--is-shallow-repository", "--git-path", "shallow",
                "--absolute-git-dir", "--show-cdup")
    try:
        raw = probe.run(*question)
    except GitError as exc:
        if "dubious ownership" not in exc.stderr:
            raise InputError(f"{where} is not a Git repository (no .git found); give the path of a clone") from None
        probe = Repo(p, p, False, p, timeout_s, _trusted_safe_directories())
        try:
            raw = probe.run(*question)
        except GitError:
            raise InputError(f"{where} belongs to another user, and Git reads such a repository only if your Git "
                             "configuration trusts it: `git config --global --add safe.directory "
                             f"{p.resolve()}`, or collect a clone you own") from None
    out = [os.fsdecode(line) for line in raw.rstrip(b"\n").split(b"\n")]  # paths may not be UTF-8
    bare, shallow, shallow_file, git_dir = out[:4]
    if bare != "true" and len(out) > 4 and out[4]:
        raise InputError(f"{where} is inside a Git repository but is not its top folder; give the path "
                         f"of the clone ({str((p / out[4]).resolve())!r})")
    return Repo(p, Path(git_dir), shallow == "true", p / shallow_file, timeout_s, probe.config)


def resolve_branch(repo: Repo, branch: str | None, where: str) -> tuple[str, str]:
    """The branch to follow (``None``: the checked-out one; ``HEAD`` when detached) and its tip's sha,
    or :class:`InputError` for an empty repository or a branch that is not there."""
    if branch is None:
        try:
            branch = repo.text("symbolic-ref", "--quiet", "HEAD").removeprefix("refs/heads/")
        except GitError:
            branch = "HEAD"  # detached
    try:
        tip = repo.text("rev-parse", "--verify", "--quiet", "--end-of-options", f"{branch}^{{commit}}")
    except GitError:
        if not repo.ok("rev-parse", "--verify", "--quiet", "HEAD^{commit}"):
            raise InputError(f"{where} is an empty repository (no commits yet); nothing to collect") from None
        names = ", ".join(repo.text("for-each-ref", "--count=10", "--format=%(refname:short)", "refs/heads").split())
        raise InputError(f"branch {branch!r} not found in {where}; branches: {names or 'none'}") from None
    return branch, tip
