"""Retries: the one loop that tries a request again, and the one reading of a server's ``Retry-After``.

Every outbound path (the Prometheus collector's queries, chat webhooks) retries what may work
later (a 429, a 5xx, a timeout) the same way, by :func:`run`: a wait of ``backoff_s`` that
doubles each retry up to ``max_backoff_s`` (with full jitter if asked); when the server says how
long to wait (``Retry-After`` in seconds or as an HTTP date, read by :func:`retry_after`),
exactly that instead, and an ask longer than ``max_retry_after_s`` ends the tries rather than
being slept through; and ``deadline_s`` bounds the whole, tries and waits together, so no
server holds the caller longer. The request is the caller's: :func:`run` calls it with the
attempt's number and the seconds left before the deadline, and the caller says (:class:`Try`)
whether the answer is final or worth another try. The :class:`Outcome` says why the tries
stopped, for the caller's message. Only the standard library.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Generic, Literal, TypeVar

T = TypeVar("T")

LONGEST_S = 366 * 86_400.0  # no ask is read as longer than a year: a far-future date or 1e300 is "too long", not inf


@dataclass(frozen=True)
class Policy:
    """How often and how long to try: ``attempts`` in all (the first included), waits, and the whole's deadline."""

    attempts: int = 4
    backoff_s: float = 1.0  # the first wait; doubles each retry
    max_backoff_s: float = 60.0
    max_retry_after_s: float = 300.0  # a server asking for a longer wait ends the tries (reported, not slept)
    deadline_s: float = math.inf  # tries and waits together
    jitter: bool = False  # full jitter: each wait a uniform draw between 0 and the backoff

    def backoff(self, retry: int, rng: Callable[[], float] = random.random) -> float:
        """The wait before retry number ``retry`` (1 for the first) when the server did not say."""
        wait = min(self.max_backoff_s, self.backoff_s * 2 ** (retry - 1))
        return rng() * wait if self.jitter else wait


@dataclass(frozen=True)
class Try(Generic[T]):
    """What one attempt gave: ``value`` (a result or the caller's account of a failure), whether another
    try may help (``again``), and how long the server asked to wait first (``retry_after``, seconds)."""

    value: T
    again: bool = False
    retry_after: float | None = None


Stop = Literal["done", "attempts", "deadline", "retry_after"]


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """How the tries ended: the last attempt's value (None if the deadline had passed before the first),
    how many were made, and why they stopped: ``done`` (an answer not worth retrying, good or bad),
    ``attempts`` (all used), ``deadline`` (no time left for the next wait or try) or ``retry_after``
    (the server asked for a wait longer than allowed: ``asked_s``)."""

    value: T | None
    attempts: int
    stopped: Stop
    asked_s: float | None = None


def run(attempt: Callable[[int, float], Try[T]], policy: Policy, *, sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic, rng: Callable[[], float] = random.random,
        on_retry: Callable[[int, T, float], None] | None = None) -> Outcome[T]:
    """Call ``attempt(number, seconds_left)`` until it is final, the attempts are used up or time runs out.

    ``on_retry(number, value, wait)`` is told of each retry before its wait (for a log line).
    """
    deadline = clock() + policy.deadline_s
    made = 0
    last: Try[T] | None = None
    while True:
        left = deadline - clock()
        if left <= 0:
            return Outcome(last.value if last else None, made, "deadline")
        made += 1
        last = attempt(made, left)
        if not last.again:
            return Outcome(last.value, made, "done")
        if made >= policy.attempts:
            return Outcome(last.value, made, "attempts")
        if last.retry_after is not None:
            if last.retry_after > policy.max_retry_after_s:
                return Outcome(last.value, made, "retry_after", last.retry_after)
            wait = last.retry_after
        else:
            wait = policy.backoff(made, rng)
        if clock() + wait >= deadline:
            return Outcome(last.value, made, "deadline")
        if on_retry is not None:
            on_retry(made, last.value, wait)
        sleep(wait)


def retry_after(value: str | float | None, now: Callable[[], float] = time.time) -> float | None:
    """The seconds a server asks to wait: ``Retry-After`` as a number of seconds (``"120"``) or an HTTP
    date (``"Wed, 21 Oct 2026 07:28:00 GMT"``), or a number a JSON body gave.

    None when there is no usable ask (missing, not a number or a date, NaN, infinite); a negative
    number or a date already past is 0; anything longer than a year is a year (:data:`LONGEST_S`).
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds: float | None = float(value)
    else:
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            seconds = _date_seconds(text, now)
    if seconds is None or not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), LONGEST_S)


def _date_seconds(text: str, now: Callable[[], float]) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.timestamp() - now()
    except (OverflowError, OSError, ValueError):
        return None
