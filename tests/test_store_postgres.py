"""PostgreSQL's own ways to fail, against a real server (tests/postgres_server.py): a wrong password, a
port nobody listens on and a missing driver each give one line that masks the password, in the
message and in every log record; a store made before the ``kind`` column gains it on open.

The store tests that SQLite and PostgreSQL share are in tests/test_store.py (parametrised).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from rca.store import Store, StoreError, StoreUnavailable, masked
from tests.postgres_server import PostgresServer, free_port

WORST = "p@ss:w/rd%?#x"  # a password with every character a URL gives a meaning to


def _encoded(pw: str) -> str:
    from urllib.parse import quote

    return quote(pw, safe="")


def _log_everything(caplog: pytest.LogCaptureFixture) -> None:
    """Every record SQLAlchemy (whose own logger says WARN unless told otherwise), psycopg and we make."""
    for name in (None, "sqlalchemy", "psycopg"):
        caplog.set_level(logging.DEBUG, logger=name)


def _refused(url: str, caplog: pytest.LogCaptureFixture, *secrets: str,
             kind: type[Exception] = StoreError) -> str:
    """Open ``url``; the error (a ``kind``) must be one line with ``***`` and no secret, and so must every log record."""
    _log_everything(caplog)
    with pytest.raises(kind) as err:
        Store(url, busy_timeout_s=5)
    msg = str(err.value)
    assert "\n" not in msg and "***" in msg, msg
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)
    for secret in secrets:
        assert secret not in msg, msg
        assert secret not in logged
    return msg


def test_a_wrong_password_is_one_masked_line(postgres: PostgresServer, caplog: pytest.LogCaptureFixture) -> None:
    url = postgres.database()
    db = url.rsplit("/", 1)[1]
    _log_everything(caplog)
    with Store(url) as store:  # a working store logs its connections and statements at DEBUG: never the password
        store.write(pd.DataFrame({"ts": [pd.Timestamp("2026-03-02", tz="UTC")], "scope": "s", "metric": "m",
                                  "value": [1.0], "source": "git"}))
    assert caplog.records and all(postgres.password not in r.getMessage() for r in caplog.records)
    msg = _refused(postgres.url(db, password="Wr0ng-s3cret"), caplog, "Wr0ng-s3cret", postgres.password)
    assert msg.startswith(f"cannot open the store at postgresql+psycopg://rca:***@127.0.0.1:{postgres.port}/{db}: ")
    assert "password authentication failed" in msg


def test_a_port_nobody_listens_on_is_one_masked_line(postgres: PostgresServer, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    msg = _refused(postgres.url("whydunnit", port=port), caplog, postgres.password, kind=StoreUnavailable)
    assert f"127.0.0.1:{port}" in msg and ("refused" in msg or "failed" in msg)


def test_a_password_with_url_characters_connects_and_is_masked_whole(
        postgres: PostgresServer, caplog: pytest.LogCaptureFixture) -> None:
    postgres.psql(f"CREATE ROLE odd LOGIN PASSWORD '{WORST}'")
    db = postgres.database().rsplit("/", 1)[1]
    postgres.psql(f"GRANT ALL ON DATABASE {db} TO odd")
    postgres.psql("GRANT ALL ON SCHEMA public TO odd", db=db)
    good = f"postgresql+psycopg://odd:{_encoded(WORST)}@127.0.0.1:{postgres.port}/{db}"
    with Store(good) as store:
        assert store.count() == 0 and WORST not in store.shown and _encoded(WORST) not in store.shown
    # Pasted without escaping: the password runs to the last '@', and none of it is shown.
    raw = f"postgresql+psycopg://odd:{WORST}-typo@127.0.0.1:{postgres.port}/{db}"
    assert masked(raw) == f"postgresql+psycopg://odd:***@127.0.0.1:{postgres.port}/{db}"
    _refused(raw, caplog, WORST, "ss:w/rd", "rd%?#x")
    _refused(good.replace(_encoded(WORST), _encoded(WORST + "-typo")), caplog, WORST, _encoded(WORST))


def test_a_url_without_a_driver_uses_psycopg(postgres: PostgresServer) -> None:
    url = postgres.database()
    for bare in ("postgresql://", "postgres://"):
        with Store(url.replace("postgresql+psycopg://", bare)) as store:
            assert store.engine.dialect.driver == "psycopg" and store.count() == 0


def test_the_cli_says_one_line_when_the_server_is_down(rca, tmp_path: Path, postgres: PostgresServer) -> None:
    url = postgres.url("whydunnit", port=free_port())
    cfg = tmp_path / "rca.yaml"
    cfg.write_text(f"store: {{url: '{url}'}}\n")
    res = rca("investigate", "--config", str(cfg), "--graph", "delivery", "--target", "bug_fix_commit_ratio",
              "--scope", "acme/payments", "--at", "latest")
    assert res.code == 3 and res.out == ""  # unavailable: try again later, not "fix your input"
    assert res.err.count("\n") == 1 and res.err.startswith("rca: error: cannot open the store at postgresql+psycopg://rca:***@")
    assert postgres.password not in res.err


# Blocks `import psycopg` (and its C parts) the way an environment without the extra would fail.
_NO_PSYCOPG = """
import importlib.abc, sys
class NoPsycopg(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "psycopg" or name.startswith(("psycopg.", "psycopg_")):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, NoPsycopg())
sys.argv = ["rca", *sys.argv[1:]]
from rca.cli import main
main(sys.argv[1:])
"""


def test_without_psycopg_the_error_is_one_line_naming_the_extra(tmp_path: Path) -> None:
    cfg = tmp_path / "rca.yaml"
    cfg.write_text("store: {url: 'postgresql+psycopg://admin:s3cr3t-pw@127.0.0.1:1/whydunnit'}\n")
    proc = subprocess.run([sys.executable, "-c", _NO_PSYCOPG, "investigate", "--config", str(cfg), "--graph", "delivery",
                           "--target", "bug_fix_commit_ratio", "--scope", "acme/payments", "--at", "latest"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "whydunnit[postgres]" in proc.stderr and "'psycopg'" in proc.stderr and "Traceback" not in proc.stderr
    assert "s3cr3t-pw" not in proc.stderr and "***" in proc.stderr


def test_the_blocker_really_blocks_psycopg() -> None:
    """The simulation above is only worth something if psycopg is otherwise importable here."""
    hook = textwrap.dedent(_NO_PSYCOPG.split("sys.argv")[0])
    proc = subprocess.run([sys.executable, "-c", hook + "import psycopg"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "No module named 'psycopg'" in proc.stderr
    assert subprocess.run([sys.executable, "-c", "import psycopg"], timeout=60).returncode == 0


def test_a_store_from_before_effect_questions_gains_the_kind_column(postgres: PostgresServer) -> None:
    url = postgres.database()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TABLE investigations (id VARCHAR(36) PRIMARY KEY, created_at TIMESTAMP NOT NULL, "
            "finished_at TIMESTAMP, status VARCHAR(16) NOT NULL, scope VARCHAR(255) NOT NULL, "
            "target VARCHAR(255) NOT NULL, question TEXT NOT NULL, result TEXT, report_path TEXT, error TEXT)"))
        conn.execute(sa.text("INSERT INTO investigations VALUES ('old', '2026-01-01 00:00:00', NULL, 'done', "
                             "'org/repo', 'bugs', '{}', '{}', NULL, NULL)"))
    engine.dispose()
    for _ in range(2):
        with Store(url) as store:
            got = store.investigation("old")
            assert got is not None and got.kind == "investigation" and got.created_at == pd.Timestamp("2026-01-01")
