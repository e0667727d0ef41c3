"""Configuration precedence, highest first, at each face: what is asked explicitly (a flag, a request's
field), then the environment (``RCA_...``), then the file, then the defaults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from rca import pipeline
from rca.api import create_app
from tests.conftest import chain_frame, write_csv
from tests.prometheus_server import free_port
from tests.serve_helpers import RCA, SAMPLE, TOKEN, poll, prepare


def test_cli_flags_beat_the_environment_which_beats_the_file(rca, chain_graph: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    data = write_csv(chain_frame(shift_at=120, shift=-0.08), tmp_path / "m.csv")
    cfg = tmp_path / "rca.yaml"
    cfg.write_text("engine: {seed: 5, bootstrap: 0}\n")

    def seed(*flags: str) -> int:
        res = rca("investigate", "--data", str(data), "--graph", str(chain_graph), "--target", "bugs",
                  "--baseline", "2026-01-01..2026-04-30", "--current", "2026-05-01..2026-06-30", "--config", str(cfg),
                  *flags)
        assert res.code == 0, res.err
        return json.loads(res.out)["model"]["seed"]

    assert seed() == 5  # the file
    monkeypatch.setenv("RCA_ENGINE__SEED", "7")
    assert seed() == 7  # the environment beats the file
    assert seed("--seed", "3") == 3  # the flag beats both (it lost to the environment)
    cfg.write_text("engine: {bootstrap: 0}\n")
    monkeypatch.delenv("RCA_ENGINE__SEED")
    assert seed() == 0  # the default


def test_rca_serve_port_flag_beats_the_environment_and_the_file(tmp_path: Path) -> None:
    prepare(tmp_path / "data")
    flag, env, file = free_port(), free_port(), free_port()
    cfg = tmp_path / "rca.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\nserve: {{port: {file}, log_format: json}}\n")
    environ = {**os.environ, "RCA_API_TOKEN": TOKEN, "RCA_SERVE__PORT": str(env)}
    environ.pop("RCA_CONFIG", None)
    with (tmp_path / "serve.log").open("w") as log:
        proc = subprocess.Popen([str(RCA), "serve", "--config", str(cfg), "--port", str(flag)], stdout=log,
                                stderr=log, stdin=subprocess.DEVNULL, env=environ, cwd=tmp_path)
    try:
        deadline, answered = time.monotonic() + 60, None
        while answered is None and time.monotonic() < deadline and proc.poll() is None:
            for port in (flag, env, file):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        answered = port
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert answered == flag, (tmp_path / "serve.log").read_text()[-2000:]  # it listened on RCA_SERVE__PORT


def test_a_requests_fields_beat_the_environment_and_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prepare(tmp_path / "data")
    cfg = tmp_path / "rca.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\nreports: {{out_dir: {tmp_path / 'reports'}}}\n"
                   "engine: {seed: 5}\nserve: {auth: false}\n")
    monkeypatch.setenv("RCA_ENGINE__SEED", "7")
    service = pipeline.Service(pipeline.settings(cfg))
    ask = {"treatment": "line_coverage_ratio", "outcome": SAMPLE.target, "scopes": [SAMPLE.scope],
           "simulations": 2, "bootstrap": 2, "refute": False, "dml": False}
    with TestClient(create_app(service)) as client:
        seeds = []
        for extra in ({"seed": 11}, {}):
            r = client.post("/effects", json={**ask, **extra})
            assert r.status_code == 202, r.text
            doc = poll(client, r.json()["id"])
            assert doc["status"] == "done", doc
            seeds.append(doc["result"]["seed"])
    assert seeds == [11, 7]  # the request's own field, else the environment (over the file's 5)
