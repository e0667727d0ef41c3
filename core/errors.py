"""The one error tree: what went wrong, in terms of what the person can do about it.

Modelled on httpx's single hierarchy: every error we raise on purpose is a
:class:`WhydunnitError` whose message is one line saying what is wrong and what to do, and
whose class says who can fix it. Faces map the three branches the same way:

=================  =========  ==========  ====================================================
branch             CLI exit   HTTP        meaning
=================  =========  ==========  ====================================================
:class:`BadInput`      2       400         the user can fix it (a path, a flag, a file, a graph)
:class:`Unavailable`   3       503         a server, store or cluster is down, slow or refusing;
                                           the same request may work later (the scheduler retries)
:class:`Internal`      1       500         a bug: logged with its traceback once
=================  =========  ==========  ====================================================

Layers subclass a branch for their own vocabulary (a graph error is a :class:`BadInput`, a
store outage an :class:`Unavailable`) so a face never needs to know which layer raised.
"""

from __future__ import annotations


class WhydunnitError(Exception):
    """Root of every error we raise on purpose; ``str(exc)`` is one line fit to show a user."""

    exit_code: int = 1
    http_status: int = 500
    retryable: bool = False


class BadInput(WhydunnitError, ValueError):
    """The request, the configuration or the data cannot answer the question as asked: the user can fix it.

    Also a :class:`ValueError`, as the layers' own input errors always were.
    """

    exit_code = 2
    http_status = 400


class Unavailable(WhydunnitError):
    """Something we depend on (a Prometheus server, the store, a cluster, a webhook) is down, slow or
    refusing: the same request may succeed later, so a scheduler retries it."""

    exit_code = 3
    http_status = 503
    retryable = True


class Internal(WhydunnitError):
    """Our own bug, caught at a face: logged with its traceback once, shown as one line."""

    exit_code = 1
    http_status = 500


def printable(text: str, limit: int = 500) -> str:
    """``text`` as one printable line of at most ``limit`` characters (for messages built from outside text).

    Control characters (a newline that would forge a log line, an escape sequence that would
    drive a terminal) become spaces or ``\\xNN``; runs of whitespace collapse to one space.
    """
    out = []
    for ch in str(text):
        if ch in "\r\n\t\v\f":
            out.append(" ")
        elif ch < " " or ch == "\x7f" or "\x80" <= ch <= "\x9f":
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    line = " ".join("".join(out).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
