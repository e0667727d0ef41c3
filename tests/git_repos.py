"""Real Git repositories for the Git collector's tests, built with the `git` program itself.

:class:`Repo` makes commits with controlled author/committer dates and identities (through
``GIT_AUTHOR_DATE`` and friends) and asks `git` for the facts the tests compare against.
:func:`fast_import` builds bigger histories with ``git fast-import``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

BASE_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "LC_ALL": "C",
}


def git(cwd: Path, *args: str, env: dict[str, str] | None = None, input: bytes | None = None) -> str:
    full_env = {**os.environ, **BASE_ENV, **(env or {})}
    out = subprocess.run(["git", *args], cwd=cwd, env=full_env, input=input, capture_output=True, check=True)
    return out.stdout.decode("utf-8", "replace")


def day(n: int, hour: int = 12) -> str:
    """An ISO date n days after Monday 2024-01-01 (UTC)."""
    from datetime import UTC, datetime, timedelta

    return (datetime(2024, 1, 1, hour, tzinfo=UTC) + timedelta(days=n)).isoformat()


class Repo:
    def __init__(self, path: Path, branch: str = "main") -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        git(path, "init", "-q", "-b", branch)
        git(path, "config", "user.name", "Default")
        git(path, "config", "user.email", "default@example.com")
        git(path, "config", "commit.gpgsign", "false")

    def git(self, *args: str, **kw) -> str:
        return git(self.path, *args, **kw)

    def write(self, files: dict[str, str | bytes | None]) -> None:
        for name, content in files.items():
            f = self.path / name
            if content is None:
                f.unlink()
                continue
            f.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                f.write_bytes(content)
            else:
                f.write_text(content)

    def commit(self, message: str | bytes, files: dict[str, str | bytes | None] | None = None, *,
               author: tuple[str, str] = ("Alice", "alice@example.com"), when: str = "2024-01-01T12:00:00+00:00",
               committed: str | None = None, allow_empty: bool = False) -> str:
        self.write(files or {})
        self.git("add", "-A")
        env = {"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1], "GIT_AUTHOR_DATE": when,
               "GIT_COMMITTER_NAME": author[0], "GIT_COMMITTER_EMAIL": author[1],
               "GIT_COMMITTER_DATE": committed or when}
        msg = message.encode() if isinstance(message, str) else message
        args = ["commit", "-q", "--no-verify", "-F", "-"] + (["--allow-empty"] if allow_empty else [])
        self.git(*args, env=env, input=msg)
        return self.head()

    def merge(self, branch: str, message: str, when: str, author=("Alice", "alice@example.com")) -> str:
        env = {"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1], "GIT_AUTHOR_DATE": when,
               "GIT_COMMITTER_NAME": author[0], "GIT_COMMITTER_EMAIL": author[1], "GIT_COMMITTER_DATE": when}
        self.git("merge", "-q", "--no-ff", "--no-edit", "-m", message, branch, env=env)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def numstat(self) -> dict[str, tuple[int, int, int]]:
        """sha -> (added, deleted, files) as `git log --numstat` reports them (binary: 0 lines)."""
        out = self.git("log", "--numstat", "--format=@%H")
        stats: dict[str, list[int]] = {}
        sha = ""
        for line in out.splitlines():
            if line.startswith("@"):
                sha = line[1:]
                stats[sha] = [0, 0, 0]
            elif line.strip():
                a, d, _ = line.split("\t", 2)
                stats[sha][0] += 0 if a == "-" else int(a)
                stats[sha][1] += 0 if d == "-" else int(d)
                stats[sha][2] += 1
        return {k: tuple(v) for k, v in stats.items()}


def fast_import(path: Path, n_commits: int, *, n_files: int = 50, seed: int = 1, fix_every: int = 0) -> None:
    """A linear history of ``n_commits`` commits on ``main``, each changing one or two files.

    Commit i is authored by one of 7 people, one day apart; with ``fix_every``, every such
    commit says "fix: ..." (others "feat: ..."). Files are kept in memory as lists of lines.
    """
    import random

    rng = random.Random(seed)
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    files = {f"src/mod{i}.py" if i % 5 else f"tests/test_mod{i}.py": [f"line {j}\n" for j in range(20)]
             for i in range(n_files)}
    names = sorted(files)
    chunks: list[bytes] = []
    t0 = 1_704_110_400  # 2024-01-01T12:00:00Z
    for i in range(n_commits):
        who = i % 7
        msg = (f"fix: bug {i}" if fix_every and i % fix_every == 0 and i else f"feat: change {i}").encode()
        ts = t0 + i * 3600
        chunks.append(b"commit refs/heads/main\nmark :%d\n" % (i + 1))
        chunks.append(b"author Dev%d <dev%d@example.com> %d +0000\n" % (who, who, ts))
        chunks.append(b"committer Dev%d <dev%d@example.com> %d +0000\n" % (who, who, ts))
        chunks.append(b"data %d\n%s\n" % (len(msg), msg))
        if i:
            chunks.append(b"from :%d\n" % i)
        touched = names if i == 0 else rng.sample(names, rng.choice((1, 1, 2)))
        for name in touched:
            lines = files[name]
            if i:
                k = rng.randrange(len(lines))
                lines[k] = f"changed {i} {rng.random():.6f}\n"
                if rng.random() < 0.5:
                    lines.insert(rng.randrange(len(lines)), f"added {i}\n")
                if rng.random() < 0.2 and len(lines) > 5:
                    del lines[rng.randrange(len(lines))]
            body = "".join(lines).encode()
            chunks.append(b"M 100644 inline %s\ndata %d\n%s\n" % (name.encode(), len(body), body))
        chunks.append(b"\n")
    git(path, "fast-import", "--quiet", input=b"".join(chunks))
    git(path, "checkout", "-q", "main")
