"""The ground floor: one error tree mapped the same way by every face, and one rule for hiding secrets."""

from __future__ import annotations

import base64

import pytest

from core.errors import BadInput, Internal, Unavailable, WhydunnitError, printable
from core.secrets import Redactor, basic_credential, mask_url, mask_webhook, redact, url_secrets
from rca.store import Store, StoreError, StoreUnavailable


def test_every_layers_input_error_is_the_same_branch() -> None:
    from collectors.observations import InputError
    from graphs.model import GraphError
    from rca.config import ConfigError
    from rca.engine.errors import EngineInputError
    from rca.pipeline import PipelineError

    for cls in (InputError, GraphError, ConfigError, EngineInputError, StoreError):
        assert issubclass(cls, BadInput) and issubclass(cls, PipelineError), cls
        assert (cls.exit_code, cls.http_status) == (2, 400)
    assert issubclass(StoreUnavailable, Unavailable) and not issubclass(StoreUnavailable, BadInput)
    assert (Unavailable.exit_code, Unavailable.http_status, Unavailable.retryable) == (3, 503, True)
    assert (Internal.exit_code, Internal.http_status) == (1, 500)
    assert PipelineError is WhydunnitError


def test_a_password_with_an_unescaped_at_is_refused_and_never_shown() -> None:
    # psycopg cut it at the first '@' and reported "failed to resolve host 'SECRET@127.0.0.1'".
    url = "postgresql://rca:Pa55w0rd@SECRET@127.0.0.1:1/db"
    with pytest.raises(StoreError) as err:
        Store(url, busy_timeout_s=1)
    msg = str(err.value)
    assert "Pa55w0rd" not in msg and "SECRET" not in msg and "%40" in msg, msg
    assert msg.startswith("the store URL postgresql://rca:***@127.0.0.1:1/db ")


def test_a_password_in_the_query_string_is_never_shown() -> None:
    url = "postgresql+psycopg://rca@127.0.0.1:1/db?sslmode=disable&password=QueryPa55"
    assert mask_url(url) == "postgresql+psycopg://rca@127.0.0.1:1/db?sslmode=disable&password=***"
    with pytest.raises(StoreUnavailable) as err:  # nobody listens on port 1
        Store(url, busy_timeout_s=1)
    assert "QueryPa55" not in str(err.value) and "password=***" in str(err.value)


@pytest.mark.parametrize("text", [
    "failed to resolve host 'SECRET@127.0.0.1'",
    "password authentication failed for user rca (password Pa55w0rd@SECRET)",
    "url was postgresql://rca:Pa55w0rd%40SECRET@h/db",
])
def test_every_spelling_of_a_known_password_is_hidden(text: str) -> None:
    out = Redactor(url_secrets("postgresql://rca:Pa55w0rd@SECRET@h/db"))(text)
    assert "SECRET" not in out and "Pa55w0rd" not in out and "***" in out, out


def test_credentials_it_was_not_told_about_are_hidden_but_sentences_stay() -> None:
    echoed = ("HTTP 401 from proxy: {'authorization': 'Bearer PROMTOKENsecret999'} "
              "Authorization: Basic cmNhOnMzY3JldA== at https://u:pw123@h/x?token=abc123&a=1")
    out = redact(echoed)
    for secret in ("PROMTOKENsecret999", "cmNhOnMzY3JldA==", "pw123", "abc123"):
        assert secret not in out, out
    assert "a=1" in out and "HTTP 401 from proxy" in out
    sentence = "prometheus.auth: the bearer token file is empty; use basic auth instead"
    assert redact(sentence) == sentence


def test_a_basic_credential_is_a_spelling_of_its_password() -> None:
    token = basic_credential("rca", "s3cret-pw")
    assert base64.b64decode(token) == b"rca:s3cret-pw"
    assert Redactor(["s3cret-pw", token])(f"echo {token} and s3cret-pw") == "echo *** and ***"


def test_webhook_addresses_keep_only_their_host() -> None:
    assert mask_webhook("https://hooks.slack.com:8443/services/T0/B0/XYZ?x=1") == "https://hooks.slack.com:8443/***"
    assert mask_webhook("not a url") == "***"


def test_printable_keeps_one_line_and_no_terminal_codes() -> None:
    forged = "x\nrca: error: forged\r\n\x1b[2J\x07" + "y" * 600
    line = printable(forged, limit=80)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\x07" not in line
    assert line.startswith("x rca: error: forged \\x1b[2J\\x07") and len(line) == 80
