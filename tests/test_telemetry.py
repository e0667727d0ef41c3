"""Structured logs of the service: JSON lines with the ids of what they belong to, secrets masked."""

from __future__ import annotations

import io
import json
import logging
import threading
from pathlib import Path

from rca import pipeline
from rca.telemetry import Occurrences, Redactor, api_tokens, log_context, secrets_of, setup_logging

HOOK = "https://hooks.slack.com/services/T000/B000/abcdefSECRET"
TOKEN = "api-token-abcdef0123456789"
PROM = "prometheus-bearer-token-xyz"


def test_secrets_of_the_configuration_never_reach_a_line(tmp_path: Path) -> None:
    token_file = tmp_path / "tokens"
    token_file.write_text("second-token-0000\n\n")
    env = {"RCA_API_TOKEN": TOKEN, "HOOK": HOOK, "PROM_TOKEN": PROM}
    settings = pipeline.settings(
        None, data_dir=str(tmp_path), store={"url": "postgresql+psycopg://rca:pa55word@db:5432/rca"},
        serve={"token_files": [str(token_file)]}, notify={"channels": [{"kind": "slack", "url_env": "HOOK"}]},
        prometheus={"url": "http://prom:9090", "auth": {"bearer_token_env": "PROM_TOKEN"}})
    assert api_tokens(settings, env) == [TOKEN, "second-token-0000"]
    redact = Redactor(secrets_of(settings, env))
    stream = io.StringIO()
    names = ("", "httpx", "apscheduler", "uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {n: (logging.getLogger(n).level, logging.getLogger(n).propagate, list(logging.getLogger(n).handlers))
             for n in names}
    handler = setup_logging("json", "INFO", redact, stream)
    try:
        log = logging.getLogger("rca.test")
        with log_context(run_id="run-1", job="weekly"):
            log.info("posting to %s with %s; store %s; prometheus %s; header Bearer %s", HOOK, TOKEN,
                     settings.store_url, PROM, "raw-unknown-token")
            log.warning("token %s from a file", "second-token-0000")

        def worker() -> None:
            with log_context(question_id="q-7"):
                log.info("answered")

        t = threading.Thread(target=worker)
        t.start()
        t.join()
        log.info("no context")
    finally:
        logging.getLogger().removeHandler(handler)
        for n, (level, propagate, handlers) in saved.items():
            lg = logging.getLogger(n)
            lg.setLevel(level)
            lg.propagate = propagate
            lg.handlers[:] = handlers
    text = stream.getvalue()
    for secret in (HOOK, TOKEN, "pa55word", PROM, "raw-unknown-token", "second-token-0000", "abcdefSECRET"):
        assert secret not in text, secret
    lines = [json.loads(line) for line in text.splitlines()]
    first = lines[0]
    assert first["run_id"] == "run-1" and first["job"] == "weekly" and first["level"] == "info"
    assert "https://hooks.slack.com/***" in first["msg"] and "rca:***@db:5432" in first["msg"]
    assert "Bearer ***" in first["msg"]
    assert lines[2]["question_id"] == "q-7" and "run_id" not in lines[2]  # a thread's own context
    assert set(lines[3]) == {"ts", "level", "logger", "msg"}


def _capture(fmt: str) -> tuple[io.StringIO, logging.Handler, dict]:
    names = ("", "httpx", "apscheduler", "uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {n: (logging.getLogger(n).level, logging.getLogger(n).propagate, list(logging.getLogger(n).handlers))
             for n in names}
    stream = io.StringIO()
    return stream, setup_logging(fmt, "INFO", Redactor(), stream), saved


def _restore(handler: logging.Handler, saved: dict) -> None:
    logging.getLogger().removeHandler(handler)
    for n, (level, propagate, handlers) in saved.items():
        lg = logging.getLogger(n)
        lg.setLevel(level)
        lg.propagate = propagate
        lg.handlers[:] = handlers


def test_outside_text_cannot_forge_a_line_or_drive_the_terminal() -> None:
    hostile = "GET /x\n2026-01-01 00:00:00,000 INFO    rca.api forged\x1b[2J\x9b31m\x07"
    for fmt in ("text", "json"):
        stream, handler, saved = _capture(fmt)
        try:
            log = logging.getLogger("rca.test")
            with log_context(request_id="r\n1"):
                log.info("request %s", hostile)
            try:
                raise ValueError(hostile)
            except ValueError:
                log.exception("internal error")
        finally:
            _restore(handler, saved)
        text = stream.getvalue()
        assert not any(c in text for c in "\x1b\x9b\x07"), (fmt, text)
        lines = text.splitlines()
        if fmt == "json":
            assert len(lines) == 2 and all(json.loads(line) for line in lines)
            assert json.loads(lines[0])["msg"] == "request " + hostile  # escaped, not lost
            assert "\\u001b" in lines[0] and "\\u009b" in lines[0]
        else:
            starts = [line for line in lines if not line.startswith("    | ")]
            assert len(starts) == 2 and all(line[:2] == "20" and "forged" not in line[:30] for line in starts), text
            assert "\\x1b[2J" in starts[0] and "[request_id=r 1]" in starts[0]


def test_a_condition_that_floods_is_logged_a_few_times() -> None:
    stream, handler, saved = _capture("json")
    try:
        closed = Occurrences(logging.getLogger("rca.test"), logging.WARNING, "closed %d connection(s) (%d in all)",
                             every_s=3600)
        for _ in range(10_000):
            closed()
        closed.flush()
        closed.flush()  # nothing new: nothing said
    finally:
        _restore(handler, saved)
    msgs = [json.loads(line)["msg"] for line in stream.getvalue().splitlines()]
    assert msgs == ["closed 1 connection(s) (1 in all)", "closed 9999 connection(s) (10000 in all)"]
