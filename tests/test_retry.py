"""core.retry: the one retry loop and the one Retry-After reader both outbound paths use.

The loop is driven with a clock and a sleep of the test's own (time passes only when the loop
waits), so every wait it chooses is checked exactly; the HTTP callers are tested against real
servers in test_chat_send.py and test_prometheus_*.py.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.retry import LONGEST_S, Outcome, Policy, Try, retry_after, run

NOW = 1_792_567_650.0  # Wed, 21 Oct 2026 07:27:30 GMT


@pytest.mark.parametrize(("value", "seconds"), [
    ("7", 7.0), (" 120 ", 120.0), ("0", 0.0), ("0.5", 0.5), (3, 3.0), (0.25, 0.25),
    ("-5", 0.0), (-1.0, 0.0),  # negative: at once
    ("1e300", LONGEST_S), ("99999999999999999999", LONGEST_S),  # huge: bounded, still more than any cap
    ("Wed, 21 Oct 2026 07:28:00 GMT", 30.0), ("Wednesday, 21-Oct-26 07:28:00 GMT", 30.0),  # RFC 1123 and RFC 850
    ("Wed Oct 21 07:28:00 2026", 30.0),  # asctime
    ("Wed, 21 Oct 2026 07:00:00 GMT", 0.0),  # a date already past: at once
    ("Fri, 31 Dec 9999 23:59:59 GMT", LONGEST_S),
])
def test_retry_after_reads_seconds_and_http_dates_bounded(value: str | float, seconds: float) -> None:
    assert retry_after(value, now=lambda: NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("value", [None, "", "soon", "nan", "NaN", "inf", "-inf", float("nan"), float("inf"), True,
                                   "Wed, 99 Oct 2026 07:28:00 GMT", "Mon, 01 Foo 2026 00:00:00 GMT"])
def test_retry_after_without_a_usable_ask_is_none(value: object) -> None:
    assert retry_after(value, now=lambda: NOW) is None  # type: ignore[arg-type]


class Script:
    """Attempts that answer from a list; time moves only when the loop sleeps (or an attempt takes ``cost``)."""

    def __init__(self, answers: list[Try[str]], cost: float = 0.0) -> None:
        self.answers, self.cost, self.now = list(answers), cost, 0.0
        self.calls: list[tuple[int, float]] = []
        self.waits: list[float] = []

    def attempt(self, n: int, left: float) -> Try[str]:
        self.calls.append((n, left))
        self.now += self.cost
        return self.answers.pop(0)

    def sleep(self, s: float) -> None:
        self.waits.append(s)
        self.now += s

    def run(self, policy: Policy, rng: Callable[[], float] = lambda: 1.0) -> Outcome[str]:
        return run(self.attempt, policy, sleep=self.sleep, clock=lambda: self.now, rng=rng)


AGAIN = Try("503", again=True)


def test_backoff_doubles_up_to_its_cap_and_stops_after_the_attempts() -> None:
    s = Script([AGAIN] * 5)
    out = s.run(Policy(attempts=5, backoff_s=1.0, max_backoff_s=3.0))
    assert out == Outcome("503", 5, "attempts") and s.waits == [1.0, 2.0, 3.0, 3.0]


def test_a_final_answer_ends_the_tries_at_once() -> None:
    s = Script([AGAIN, Try("200"), AGAIN])
    assert s.run(Policy(attempts=5)) == Outcome("200", 2, "done") and s.waits == [1.0]
    s = Script([Try("400")])
    assert s.run(Policy(attempts=5)) == Outcome("400", 1, "done") and s.waits == []


def test_full_jitter_draws_each_wait_below_the_backoff() -> None:
    s = Script([AGAIN] * 3)
    s.run(Policy(attempts=3, backoff_s=2.0, jitter=True), rng=lambda: 0.25)
    assert s.waits == [0.5, 1.0]
    s = Script([AGAIN] * 3)
    s.run(Policy(attempts=3, backoff_s=2.0, jitter=False), rng=lambda: 0.25)
    assert s.waits == [2.0, 4.0]


def test_a_retry_after_is_waited_exactly_and_one_too_long_ends_the_tries() -> None:
    s = Script([Try("429", again=True, retry_after=7.0), Try("429", again=True, retry_after=0.0), Try("200")])
    assert s.run(Policy(attempts=5, backoff_s=1.0)) == Outcome("200", 3, "done")
    assert s.waits == [7.0, 0.0]  # what the server asked, not the backoff (0 means at once)
    s = Script([Try("429", again=True, retry_after=301.0)])
    assert s.run(Policy(attempts=5, max_retry_after_s=300.0)) == Outcome("429", 1, "retry_after", 301.0)
    assert s.waits == []


def test_the_deadline_bounds_tries_and_waits_together() -> None:
    s = Script([AGAIN] * 10, cost=1.0)  # each try takes a second
    out = s.run(Policy(attempts=10, backoff_s=2.0, max_backoff_s=2.0, deadline_s=8.0))
    # tries at 0, 3, 6 (each 1 s, then a 2 s wait); after the third it is 7 s: a wait to 9 s would pass 8 s
    assert out == Outcome("503", 3, "deadline") and s.waits == [2.0, 2.0]
    assert [left for _, left in s.calls] == [8.0, 5.0, 2.0]  # each try is told what is left


def test_a_deadline_already_passed_makes_no_attempt() -> None:
    s = Script([Try("200")])
    assert s.run(Policy(deadline_s=0.0)) == Outcome(None, 0, "deadline") and s.calls == []


def test_on_retry_hears_of_each_retry_before_its_wait() -> None:
    heard: list[tuple[int, str, float]] = []
    s = Script([AGAIN, AGAIN, Try("200")])
    run(s.attempt, Policy(attempts=3), sleep=s.sleep, clock=lambda: s.now, on_retry=lambda n, v, w: heard.append((n, v, w)))
    assert heard == [(1, "503", 1.0), (2, "503", 2.0)]
