"""Secrets: the one rule for hiding a secret in anything we print, log, store or serve.

A secret is hidden as ``***``. Two kinds of text carry secrets: addresses we were given (a
store URL with a password, a webhook URL whose path is the credential) and messages other
programs wrote about them (a driver's "cannot resolve host 'SECRET@db'", a proxy that echoes
``Authorization: Bearer ...``). :func:`mask_url` and :func:`mask_webhook` give an address fit to
show; :class:`Redactor` scrubs free text of the secrets it was told about, in every spelling a
program could repeat them (as written, percent-decoded or encoded, each ``@``-separated piece
of a password a parser cut in two, inside a base64 ``Basic`` credential), and of the secret
shapes it was not told about (bearer and basic credentials, URL passwords, password-like query
parameters). Only the standard library: any layer may import it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from urllib.parse import quote, unquote, urlsplit

MASK = "***"

# Query parameters whose value is a credential (libpq's password and sslpassword, OAuth and API keys, signed URLs).
_SECRET_PARAMS = r"(?:password|passwd|pwd|sslpassword|pass|secret|client_secret|token|access_token|refresh_token|" \
                 r"id_token|api[_-]?key|apikey|auth|sig|signature|x-amz-signature|x-goog-signature)"
_QUERY_SECRET = re.compile(rf"(?i)([?&;]{_SECRET_PARAMS}=)[^&#\s'\"]+")
# scheme://user:password@host: the password runs to the LAST '@' before the host, so one with an
# unescaped '@' in it is hidden whole, not cut where a URL parser would cut it.
_USERINFO = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@?#]*:)(?P<pw>.*)@(?P<rest>[^@]*)$", re.DOTALL)
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@'\"]*:)[^\s/'\"]+@(?=[^\s@/'\"]*(?:[/\s'\"?#]|$))")
# A credential after its scheme word; "the bearer token file" in a sentence is not one.
_AUTH_SCHEME = re.compile(r"(?i)\b(bearer|basic)(\s+)(?!(?:tokens?|auth\w*|header|credentials?|realm|scheme)\b)"
                          r"[A-Za-z0-9._~+/=:-]{4,}")
_AUTH_HEADER = re.compile(r"(?i)((?:proxy-)?authorization|x-api-key|api-key|private-token|x-auth-token)(['\"]?\s*[:=]\s*['\"]?)"
                          r"((?:bearer|basic|token|digest|negotiate)\s+)?[^\s'\",;]+")


def mask_url(url: str) -> str:
    """A URL fit to print: scheme, user, host, port and path kept; the password and credential query values hidden.

    ``postgresql://rca:Pa55w0rd@SECRET@db/x?password=y`` -> ``postgresql://rca:***@db/x?password=***``.
    """
    m = _USERINFO.match(url)
    if m:
        url = f"{m['head']}{MASK}@{m['rest']}"
    return _QUERY_SECRET.sub(rf"\g<1>{MASK}", url)


def mask_webhook(url: str) -> str:
    """A webhook address fit to print: its path and query are the credential, so only scheme, host and port stay.

    ``https://hooks.example.com/services/T0/B0/XYZ`` -> ``https://hooks.example.com/***``.
    """
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return MASK
    if not parts.scheme or not parts.hostname:
        return MASK
    return f"{parts.scheme}://{parts.hostname}{port}/{MASK}"


def url_secrets(url: str) -> set[str]:
    """The secret parts of ``url``: its password and its credential query values (as written)."""
    out = set()
    m = _USERINFO.match(url)
    if m and m["pw"]:
        out.add(m["pw"])
    out |= {v.group(0).split("=", 1)[1] for v in _QUERY_SECRET.finditer(url)}
    return out


def webhook_secrets(url: str) -> set[str]:
    """The secret parts of a webhook address: its path, each path segment and query item long enough to be a key."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return {url}
    pieces = [parts.path, parts.query, *parts.path.split("/"), *parts.query.split("&")]
    return {p for p in pieces if len(p) >= 6}


def spellings(secret: str) -> set[str]:
    """``secret`` in every spelling a message could repeat it in: as written, percent-decoded and
    percent-encoded, and each ``@``- or ``:``-separated piece long enough to be telling (a parser that
    cut ``pass@word@host`` at the first ``@`` prints ``word@host`` as the host). An address (``://``) is
    kept whole: its pieces are the caller's to name (:func:`webhook_secrets`)."""
    out = {secret, unquote(secret), quote(secret, safe="")}
    if "://" not in secret:
        out |= {piece for s in list(out) if "@" in s for piece in s.split("@") if len(piece) >= 4}
    return {s for s in out if len(s) >= 4}


class Redactor:
    """Scrubs text of known secrets (longest first, every spelling) and of secret shapes it was not told about.

    ``Redactor({"tok123": "***", url: mask_webhook(url)})``: keys are secrets, values what to show
    instead. :meth:`with_secrets` adds more without changing this one. Secrets shorter than 4
    characters are ignored: hiding every "ab" would shred messages and protect nothing.
    """

    def __init__(self, secrets: dict[str, str] | Iterable[str] | None = None) -> None:
        table: dict[str, str] = {}
        items = secrets.items() if isinstance(secrets, dict) else ((s, MASK) for s in (secrets or ()))
        for secret, shown in items:
            if not secret or len(secret) < 4:
                continue
            table[secret] = shown
            for spelling in spellings(secret):
                table.setdefault(spelling, MASK)
        self._table = table
        self._order = sorted(table, key=len, reverse=True)

    def with_secrets(self, secrets: dict[str, str] | Iterable[str]) -> Redactor:
        """A redactor that hides this one's secrets and ``secrets`` too."""
        more = secrets if isinstance(secrets, dict) else dict.fromkeys(secrets, MASK)
        return Redactor({**self._table, **more})

    def __call__(self, text: str) -> str:
        for secret in self._order:
            if secret in text:
                text = text.replace(secret, self._table[secret])
        text = _AUTH_HEADER.sub(lambda m: f"{m[1]}{m[2]}{m[3] or ''}{MASK}", text)
        text = _AUTH_SCHEME.sub(rf"\1\2{MASK}", text)
        text = _URL_PASSWORD.sub(rf"\g<1>{MASK}@", text)
        return _QUERY_SECRET.sub(rf"\g<1>{MASK}", text)


def basic_credential(user: str, password: str) -> str:
    """The base64 token of ``Authorization: Basic`` for a user and password: a spelling of the password
    a proxy echoing headers would repeat (give it to a :class:`Redactor` beside the password)."""
    return base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def redact(text: str, *secrets: str) -> str:
    """``text`` with ``secrets`` (every spelling) and any credential-shaped piece hidden."""
    return Redactor(secrets)(text)
