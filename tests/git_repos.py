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


_FIXES = ("fix: off-by-one in {f}", "cookies: Fix bugs found in {f}", "Fixes #{n}: crash in {f}",
          "hotfix(api): restore {f}", "Bug in {f}")
_OTHERS = ("feat: extend {f}", "docs: fix typo in {f}", "cookies: add a jar to {f}", "Refactor {f}",
           "chore(deps): bump {f}", "Update {f} (GH-{n})")


def messy_history(path: Path, steps: int = 40, seed: int = 0) -> Repo:
    """A history with what real ones have, for invariants that must hold on any history.

    On ``main``: commits of several authors with fixes of every kind, clock skew (committer
    times that go back, author times days before commit times), reverts of earlier commits,
    merges of branches (some forked long ago), squash merges whose bodies quote the branch's
    commits and a revert of one of them (as GitHub writes them), and reverts of commits of
    abandoned branches. Branch commits that never land stay in the clone under ``pull-N``
    (as fetched pull requests do), so ``git rev-parse`` finds them but ``main`` does not reach them.
    """
    import random
    from datetime import UTC, datetime, timedelta

    rng = random.Random(seed)
    r = Repo(path)
    people = [("Ann", "ann@example.com"), ("Bo", "bo@example.com"), ("Cy", "cy@example.com"),
              ("Di", "di@example.com"), ('Zoë "Z", Ng', "Zoe@Example.com")]  # quotes, comma, not ASCII
    files = {f"src/m{i}.py": [f"v{i}_{j} = {j}\n" for j in range(12)] for i in range(4)}
    files["tests/test_m.py"] = [f"def test_{j}(): assert {j}\n" for j in range(8)]
    clock = [datetime(2024, 1, 1, 9, tzinfo=UTC)]

    def stamps() -> tuple[str, str]:
        clock[0] += timedelta(hours=rng.uniform(1, 40))
        committed = clock[0]
        if rng.random() < 0.1:  # a skewed clock: earlier than its parent
            committed -= timedelta(hours=rng.uniform(1, 240))
        authored = committed - timedelta(hours=rng.uniform(0, 120) if rng.random() < 0.3 else 0)
        return authored.isoformat(), committed.isoformat()

    def edit(names: list[str]) -> dict[str, str]:
        out = {}
        for name in rng.sample(names, min(len(names), rng.choice((1, 1, 2)))):
            lines = files[name]
            for _ in range(rng.choice((1, 2))):
                lines[rng.randrange(len(lines))] = f"{name.split('/')[-1][:-3]}_{rng.randrange(10**6)} = 1\n"
            if rng.random() < 0.3:
                lines.insert(rng.randrange(len(lines)), f"extra_{rng.randrange(10**6)} = 2\n")
            out[name] = "".join(lines)
        return out

    def commit(message: str, changes: dict[str, str] | None, **kw) -> str:
        a, c = stamps()
        return r.commit(message, changes, author=rng.choice(people), when=a, committed=c, **kw)

    def message(fix: bool, what: str) -> str:
        return rng.choice(_FIXES if fix else _OTHERS).format(f=what, n=rng.randrange(1, 999))

    def branch(n: int, k: int) -> list[tuple[str, str]]:
        """Commits on a new branch forked k first-parent steps back, each on the branch's own file."""
        r.git("checkout", "-q", "-b", f"b{n}", f"main~{k}")
        own = f"feature/b{n}.py"
        lines = [f"b{n}_{j} = {j}\n" for j in range(6)]
        made = []
        for i in range(rng.randint(1, 3)):
            lines[rng.randrange(len(lines))] = f"b{n}_{i}_{rng.randrange(10**6)} = 3\n"
            msg = message(rng.random() < 0.3, own)
            made.append((commit(msg, {own: "".join(lines)}), msg))
        if rng.random() < 0.5:  # the branch reverts its own first commit (and keeps its file)
            sha, msg = made[0]
            lines.append(f"undo_{n} = 0\n")
            rev = f'Revert "{msg}"\n\nThis reverts commit {sha}.\n'
            made.append((commit(rev, {own: "".join(lines)}), rev.split("\n")[0]))
        files[own] = lines
        r.git("checkout", "-q", "main")
        return made

    landed = [commit("feat: base", {k: "".join(v) for k, v in files.items()})]
    depth = 1
    for n in range(steps):
        kind = rng.choices(("plain", "fix", "revert", "merge", "squash", "abandon"), (5, 3, 1, 2, 2, 1))[0]
        shared = [f for f in files if (r.path / f).exists()]
        if kind in ("plain", "fix"):
            landed.append(commit(message(kind == "fix", "it"), edit(shared)))
        elif kind == "revert":
            target = rng.choice(landed)
            landed.append(commit(f'Revert "an earlier change"\n\nThis reverts commit {target}.\n', edit(shared)))
        else:
            made = branch(n, rng.randint(0, min(depth - 1, 4)))
            own = f"feature/b{n}.py"
            if kind == "merge":
                if rng.random() < 0.5:
                    landed.append(commit(message(False, "it"), edit(shared)))
                    depth += 1
                a, c = stamps()
                r.merge(f"b{n}", f"Merge pull request #{n} from dev/b{n}", c, author=rng.choice(people))
                landed.extend(sha for sha, _ in made)
            elif kind == "squash":
                r.git("merge", "-q", "--squash", f"b{n}")
                body = "\n\n".join(f"* {msg}" for _, msg in made)
                if made[-1][1].startswith("Revert"):  # GitHub quotes the branch's revert in the squash
                    body += f"\n\nThis reverts commit {made[0][0]}."
                landed.append(commit(f"Update b{n} (#{n})\n\n{body}\n", None))
                r.git("branch", "-q", "-m", f"b{n}", f"pull-{n}")
            else:  # abandoned; a later commit on main says it reverts the branch's first commit
                files.pop(own)
                r.git("branch", "-q", "-m", f"b{n}", f"pull-{n}")
                landed.append(commit(f'Revert "{made[0][1]}"\n\nThis reverts commit {made[0][0]}.\n',
                                     edit(shared)))
        depth += 1
    return r


# --- hostile repositories ------------------------------------------------------------------------------

# Every hook Git knows (githooks(5)): a hostile repository may ship any of them.
HOOKS = ("applypatch-msg", "pre-applypatch", "post-applypatch", "pre-commit", "pre-merge-commit",
         "prepare-commit-msg", "commit-msg", "post-commit", "pre-rebase", "post-checkout", "post-merge", "pre-push",
         "pre-receive", "update", "proc-receive", "post-receive", "post-update", "reference-transaction",
         "push-to-checkout", "pre-auto-gc", "post-rewrite", "sendemail-validate", "fsmonitor-watchman",
         "p4-changelist", "p4-prepare-changelist", "p4-post-changelist", "p4-pre-submit", "post-index-change")

# Each setting that names a program, the marker its program leaves, and how the program behaves:
# "cat" passes its input through (a filter), "conv" prints the file it is given (textconv), "quiet" does nothing.
PROGRAM_SETTINGS: tuple[tuple[str, str, str], ...] = (
    ("filter.evil.clean", "filter-clean", "cat"),
    ("filter.evil.smudge", "filter-smudge", "cat"),
    ("filter.evil.process", "filter-process", "quiet"),
    ("diff.evil.textconv", "textconv", "conv"),
    ("diff.evil.command", "diff-command", "quiet"),
    ("diff.external", "diff-external", "quiet"),
    ("merge.evil.driver", "merge-driver", "quiet"),
    ("core.fsmonitor", "fsmonitor", "quiet"),
    ("core.pager", "pager", "quiet"),
    ("pager.log", "pager-log", "quiet"),
    ("pager.blame", "pager-blame", "quiet"),
    ("pager.diff", "pager-diff", "quiet"),
    ("pager.show", "pager-show", "quiet"),
    ("pager.cat-file", "pager-cat-file", "quiet"),
    ("core.editor", "editor", "quiet"),
    ("sequence.editor", "sequence-editor", "quiet"),
    ("core.sshCommand", "ssh-command", "quiet"),
    ("core.askPass", "askpass", "quiet"),
    ("core.gitProxy", "git-proxy", "quiet"),
    ("core.alternateRefsCommand", "alternate-refs", "quiet"),
    ("credential.helper", "credential-helper", "quiet"),
    ("gpg.program", "gpg", "quiet"),
    ("gpg.openpgp.program", "gpg-openpgp", "quiet"),
    ("gpg.ssh.program", "gpg-ssh", "quiet"),
    ("gpg.x509.program", "gpg-x509", "quiet"),
    ("gpg.ssh.defaultKeyCommand", "gpg-ssh-key", "quiet"),
    ("difftool.evil.cmd", "difftool", "quiet"),
    ("mergetool.evil.cmd", "mergetool", "quiet"),
    ("browser.evil.cmd", "browser", "quiet"),
    ("remote.origin.uploadpack", "uploadpack", "quiet"),
    ("remote.origin.receivepack", "receivepack", "quiet"),
    ("uploadpack.packObjectsHook", "pack-objects-hook", "quiet"),
    ("alias.log", "alias", "quiet"),
)


def _program(scripts: Path, markers: Path, name: str, behaviour: str) -> str:
    """A shell script that leaves ``markers/name`` when run, and its path."""
    body = {"cat": "cat", "conv": 'cat "$1"', "quiet": "exit 0"}[behaviour]
    script = scripts / name
    script.write_text(f'#!/bin/sh\necho "$@" >> "{markers / name}"\n{body}\n')
    script.chmod(0o755)
    return str(script)


def make_hostile(path: Path, scripts: Path) -> Path:
    """Give the repository at ``path`` a configuration in which everything Git could run is a
    program that leaves a marker file; return the folder where markers appear (empty until one runs).

    Filters and diff drivers are assigned to every path by ``.git/info/attributes`` (an in-tree
    ``.gitattributes`` may assign them too), hooks sit both in ``.git/hooks`` and in
    ``core.hooksPath``, signatures are shown by ``log.showSignature``, and the remote points at
    programs through ``ext::``, upload-pack and ssh. Set only after the history is made: the
    tests' own ``git commit`` must not run any of it.
    """
    markers = scripts / "markers"
    markers.mkdir(parents=True, exist_ok=True)
    git_dir = Path(git(path, "rev-parse", "--absolute-git-dir").strip())
    hooks = scripts / "hooks"
    hooks.mkdir(exist_ok=True)
    for folder in (hooks, git_dir / "hooks"):
        folder.mkdir(exist_ok=True)
        for hook in HOOKS:
            _program(folder, markers, hook, "quiet")
    settings = [(key, _program(scripts, markers, marker, how)) for key, marker, how in PROGRAM_SETTINGS]
    settings = [(k, f"!{v}" if k in ("alias.log", "credential.helper") else v) for k, v in settings]  # "!": a shell command
    settings += [
        ("core.hooksPath", str(hooks)), ("log.showSignature", "true"), ("gc.auto", "1"), ("gc.autoDetach", "false"),
        ("maintenance.auto", "true"), ("diff.tool", "evil"), ("merge.tool", "evil"), ("web.browser", "evil"),
        ("remote.origin.url", f"ext::{_program(scripts, markers, 'ext-transport', 'quiet')} %S"),
        ("remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*"),
        ("protocol.allow", "always"), ("protocol.ext.allow", "always"), ("protocol.file.allow", "always"),
        ("filter.evil.required", "false"), ("diff.submodule", "log"), ("submodule.recurse", "true"),
        ("color.ui", "always"), ("diff.noprefix", "true"), ("core.quotePath", "true"),
        ("gpg.ssh.allowedSignersFile", str(scripts / "allowed_signers")),
    ]
    (scripts / "allowed_signers").write_text("sig@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA\n")
    for key, value in settings:
        git(path, "config", "--add", key, value)
    (git_dir / "info").mkdir(exist_ok=True)
    (git_dir / "info" / "attributes").write_text("* diff=evil filter=evil merge=evil\n")
    return markers


# Settings that would change what is counted, not run anything: every file binary, no inexact
# rename detection, another diff algorithm, paths relative to a folder.
MISCOUNTING: tuple[tuple[str, str], ...] = (
    ("core.bigFileThreshold", "1"), ("diff.renameLimit", "1"), ("diff.algorithm", "patience"),
    ("diff.relative", "true"), ("diff.ignoreSubmodules", "all"), ("core.quotePath", "false"),
    ("diff.interHunkContext", "10"), ("log.follow", "true"), ("i18n.logOutputEncoding", "UTF-16"),
)


def make_miscounting(path: Path) -> None:
    """Add :data:`MISCOUNTING` to the repository's configuration."""
    for key, value in MISCOUNTING:
        git(path, "config", "--add", key, value)


def signed_commit(path: Path, parent: str, message: str, signature: str, when: int = 1_704_200_000) -> str:
    """A commit on top of ``parent`` (same tree) carrying a ``gpgsig`` header (not a valid signature:
    showing it is what runs the verifier), written with ``hash-object`` so no signing program runs."""
    tree = git(path, "rev-parse", f"{parent}^{{tree}}").strip()
    sig = "\n".join(" " + line for line in signature.splitlines())
    body = (f"tree {tree}\nparent {parent}\nauthor Sig <sig@example.com> {when} +0000\n"
            f"committer Sig <sig@example.com> {when} +0000\ngpgsig{sig}\n\n{message}\n")
    return git(path, "hash-object", "-t", "commit", "-w", "--stdin", input=body.encode()).strip()


SIGNATURES = {
    "openpgp": "-----BEGIN PGP SIGNATURE-----\n\niQEzBAABCAAdFiEE\n=abcd\n-----END PGP SIGNATURE-----",
    "ssh": "-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ==\n-----END SSH SIGNATURE-----",
    "x509": "-----BEGIN SIGNED MESSAGE-----\nMIAGCSqGSIb3DQEHAqCAMIACAQEx\n-----END SIGNED MESSAGE-----",
}
