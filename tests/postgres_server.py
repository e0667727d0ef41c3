"""A real PostgreSQL server for the store's tests: Debian's ``postgresql``, started on loopback.

``initdb`` makes a cluster in a fresh temporary folder, ``pg_ctl`` starts it on a free
127.0.0.1 port with its unix socket in that folder (never the system's /var/run/postgresql),
and a password user ``rca`` (scram-sha-256 over TCP) owns the databases the tests create:
one per test, so every test starts from an empty store. PostgreSQL refuses to run as root, so
as root (CI) the cluster belongs to the ``postgres`` user that Debian's package creates
(``runuser -u postgres``). A missing binary, a missing driver or a server that does not come
up is an error that says what is missing, never a skip: these tests must fail in CI when they
cannot run.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.prometheus_server import free_port

HOWTO = ("run `make system-deps` or `apt-get install -y --no-install-recommends postgresql` "
         "(the tests use its initdb and pg_ctl)")


def bindir() -> Path:
    """Where Debian's PostgreSQL binaries are (the newest major version), or an error saying how to get them."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    raise RuntimeError(f"the PostgreSQL store tests need a PostgreSQL server (initdb, pg_ctl): {HOWTO}")


@dataclass
class PostgresServer:
    """One throwaway cluster; :meth:`database` gives a URL to a new, empty database."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rca-pg-")))
    user: str = "rca"
    password: str = field(default_factory=lambda: "pw-" + secrets.token_hex(8))
    port: int = 0
    run_as: str | None = None  # the OS user that owns the cluster (``postgres`` when we are root)
    _count: int = 0

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def sockets(self) -> Path:
        return self.root / "sockets"

    def _cmd(self, *args: str | Path) -> list[str]:
        argv = [str(a) for a in args]
        return ["runuser", "-u", self.run_as, "--", *argv] if self.run_as else argv

    def _run(self, *args: str | Path, timeout: float = 60) -> str:
        proc = subprocess.run(self._cmd(*args), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, cwd=self.root)
        if proc.returncode != 0:
            raise RuntimeError(f"{Path(str(args[0])).name} failed ({proc.returncode}): "
                               f"{(proc.stderr or proc.stdout).strip()[-1500:]}")
        return proc.stdout

    def start(self, timeout_s: float = 60.0) -> PostgresServer:
        bins = bindir()
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("PostgreSQL refuses to run as root and there is no `postgres` user to run it as: "
                                   f"{HOWTO}") from None
            if shutil.which("runuser") is None:
                raise RuntimeError("running PostgreSQL as the `postgres` user needs runuser (util-linux)")
            self.run_as = "postgres"
        self.sockets.mkdir(parents=True, exist_ok=True)
        if self.run_as:
            ids = pwd.getpwnam(self.run_as)
            for p in (self.root, self.sockets):
                os.chown(p, ids.pw_uid, ids.pw_gid)
        superpw = self.root / "superuser.pw"
        superpw.write_text(secrets.token_hex(16) + "\n")
        if self.run_as:
            os.chown(superpw, pwd.getpwnam(self.run_as).pw_uid, -1)
        # Local (socket) connections trust the cluster's owner; TCP asks every user for a password.
        self._run(bins / "initdb", "-D", self.data, "-U", "postgres", "--auth-local=trust",
                  "--auth-host=scram-sha-256", f"--pwfile={superpw}", "-E", "UTF8", "--locale=C.UTF-8")
        log = self.root / "server.log"
        for _attempt in range(3):  # the free port may be taken between probing and binding it
            self.port = free_port()
            opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.sockets} "
                    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
            try:
                self._run(bins / "pg_ctl", "-D", self.data, "-l", log, "-o", opts, "-w", "-t", str(int(timeout_s)),
                          "start", timeout=timeout_s + 10)
                break
            except RuntimeError:
                if "already in use" not in (log.read_text(errors="replace") if log.exists() else ""):
                    tail = log.read_text(errors="replace")[-1500:] if log.exists() else "(no log)"
                    raise RuntimeError(f"PostgreSQL did not start on 127.0.0.1:{self.port}: {tail}") from None
        else:
            raise RuntimeError("PostgreSQL could not bind a free loopback port in three tries")
        self.psql(f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}' CREATEDB")
        return self

    def psql(self, sql: str, db: str = "postgres") -> str:
        """Run ``sql`` as the superuser over the unix socket."""
        return self._run(bindir() / "psql", "-h", self.sockets, "-p", str(self.port), "-U", "postgres", "-d", db,
                         "-v", "ON_ERROR_STOP=1", "-Atqc", sql)

    def url(self, db: str, *, password: str | None = None, port: int | None = None) -> str:
        pw = self.password if password is None else password
        return f"postgresql+psycopg://{self.user}:{pw}@127.0.0.1:{port or self.port}/{db}"

    def database(self) -> str:
        """A new empty database owned by the password user; its URL."""
        self._count += 1
        name = f"t{self._count}_{secrets.token_hex(3)}"
        self.psql(f"CREATE DATABASE {name} OWNER {self.user}")
        return self.url(name)

    def stop(self) -> None:
        if self.port and (self.data / "postmaster.pid").exists():
            subprocess.run(self._cmd(bindir() / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"),
                           capture_output=True, timeout=60, stdin=subprocess.DEVNULL, cwd=self.root)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def require_driver() -> None:
    """psycopg (v3) must be importable for the tests to reach the server."""
    try:
        import psycopg  # noqa: F401
    except ModuleNotFoundError:
        raise RuntimeError("the PostgreSQL store tests need psycopg: install whydunnit[postgres] "
                           "(make .venv/.installed does)") from None

