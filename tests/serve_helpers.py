"""``rca serve`` as a real process on loopback, over a temporary store holding the demo sample."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from rca.sample import generate
from rca.store import Store
from tests.prometheus_server import free_port

TOKEN = "test-token-0123456789abcdef"
SAMPLE = generate()
RCA = Path(sys.executable).with_name("rca")


def prepare(data_dir: Path) -> str:
    """A store under ``data_dir`` holding the demo sample; returns its URL."""
    url = f"sqlite:///{data_dir / 'whydunnit.db'}"
    with Store(url) as store:
        if not store.count():
            store.write(SAMPLE.observations)
    return url


def config_text(root: Path, port: int, *, serve: dict[str, Any] | None = None, extra: str = "") -> str:
    serve_section = {"host": "127.0.0.1", "port": port, "workers": 2, "queue": 4, "shutdown_grace_s": 5,
                     "log_format": "json", **(serve or {})}
    return (f"data_dir: {root / 'data'}\n"
            f"engine: {{bootstrap: 20}}\n"
            f"reports: {{out_dir: {root / 'reports'}}}\n"
            f"serve: {json.dumps(serve_section)}\n"
            f"investigations:\n  - {{target: {SAMPLE.target}, scope: {SAMPLE.scope}, last: 13 weeks}}\n" + extra)


@dataclass
class Served:
    """One ``rca serve`` process; ``client`` sends the token."""

    root: Path
    serve: dict[str, Any] = field(default_factory=dict)
    extra: str = ""
    env: dict[str, str] = field(default_factory=dict)
    prefix: list[str] = field(default_factory=list)  # a command to run it under (prlimit --nofile=...)
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / "serve.log"

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.root / 'data' / 'whydunnit.db'}"

    def client(self, token: str | None = TOKEN, timeout: float = 10.0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def start(self, timeout_s: float = 60.0) -> Served:
        prepare(self.root / "data")
        for _attempt in range(3):  # the free port may be taken between probing and binding
            self.port = free_port()
            cfg = self.root / "rca.yaml"
            cfg.write_text(config_text(self.root, self.port, serve=self.serve, extra=self.extra))
            env = {**os.environ, "RCA_API_TOKEN": TOKEN, **self.env}
            env.pop("RCA_CONFIG", None)
            log = self.log_path.open("a")
            self.proc = subprocess.Popen([*self.prefix, str(RCA), "serve", "--config", str(cfg)], stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL, env=env, cwd=self.root)
            log.close()
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            if self.proc.poll() is None:
                break
        raise RuntimeError(f"rca serve did not start; its log ends with:\n{self.log_path.read_text()[-3000:]}")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout_s: float = 30.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout_s)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def log_lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                out.append({"raw": line})
        return out


def poll(client: httpx.Client, id_: str, timeout_s: float = 60.0, until: tuple[str, ...] = ("done", "failed")
         ) -> dict[str, Any]:
    """Poll ``GET /investigations/{id}`` until its status is one of ``until``."""
    deadline = time.monotonic() + timeout_s
    while True:
        doc = client.get(f"/investigations/{id_}").json()
        if doc.get("status") in until or time.monotonic() > deadline:
            return doc
        time.sleep(0.1)


def ask() -> dict[str, str]:
    """A question the demo sample answers: why did the bug-fix ratio rise in the last 13 weeks?"""
    return {"target": SAMPLE.target, "scope": SAMPLE.scope, "last": "13 weeks"}
