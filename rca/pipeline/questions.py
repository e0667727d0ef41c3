"""Questions as the faces state them (text windows, relative spans) turned into engine questions.

A face asks with words: an anomaly ``at`` a time or a short ``START..END`` window, a change
from ``baseline`` to ``current`` (``START..END`` each; an open ``END`` means "to the latest
data"), or ``last: 13 weeks`` against the 13 weeks before. Times are read by
:func:`core.times.parse_time`, the project's one time reader.
"""

from __future__ import annotations

import re

import pandas as pd

from core.errors import BadInput
from core.observations import UNITS, bucket_of
from core.times import parse_time
from rca.config import InvestigationSettings
from rca.engine import Question, Window
from rca.frames import bucket_length


def parse_window(text: str) -> Window:
    """``START..END`` (both inclusive); ``END`` may be left out to mean "until the latest data"."""
    if ".." not in text:
        raise BadInput(f"window {text!r} must be START..END, e.g. 2026-01-01..2026-03-31")
    a, b = text.split("..", 1)
    if not a.strip():
        raise BadInput(f"window {text!r} needs a start: START..END")
    start = parse_time(a)
    end = parse_time(b) if b.strip() else None
    if end is not None and end < start:
        raise BadInput(f"window {text!r} ends before it starts")
    return Window(start, end)


# The longest span a question may name, per unit: 100 years (twice that back from the latest data is still a date).
_MAX_SPAN = {"hour": 876_600, "day": 36_525, "week": 5_218, "month": 1_200}


def _span(text: str) -> pd.DateOffset | pd.Timedelta:
    m = re.fullmatch(r"\s*(\d{1,12})\s*(hour|day|week|month)s?\s*", text or "")
    if not m or int(m.group(1)) == 0:
        raise BadInput(f"cannot read the span {text[:80]!r}; write e.g. '13 weeks', '30 days', '3 months'")
    n, unit = int(m.group(1)), m.group(2)
    if n > _MAX_SPAN[unit]:
        raise BadInput(f"the span {text.strip()!r} is longer than 100 years ({_MAX_SPAN[unit]} {unit}s); "
                       "write e.g. '13 weeks'")
    return pd.DateOffset(months=n) if unit == "month" else pd.Timedelta(**{f"{unit}s": n})


def _one_kind(spec: InvestigationSettings) -> None:
    if spec.last and (spec.at or spec.baseline or spec.current):
        raise BadInput(f"ask about either the last {spec.last.strip()[:40]} (last) or chosen windows (at, baseline, "
                       "current), not both")


def check(spec: InvestigationSettings) -> None:
    """Read a question's span and windows as :func:`question` will, without the data, so a question
    that cannot be read (a span of a billion weeks, a date that is none, a window ending before it
    starts) is refused when it is asked rather than failing when it is answered."""
    _one_kind(spec)
    if spec.last:
        _span(spec.last)
    for text in (spec.baseline, spec.current):
        if text:
            parse_window(text)
    if spec.at and spec.at.strip() != "latest":
        if ".." in spec.at:
            parse_window(spec.at)
        else:
            parse_time(spec.at)


def question(spec: InvestigationSettings, index: pd.DatetimeIndex, unit: str) -> Question:
    """The engine question a request asks of data whose rows stand at ``index`` (bucket starts of ``unit``).

    The newest row anchors ``last: N weeks`` and ``at: latest``. A time between rows means the
    bucket holding it: ``at: 2026-03-04`` (a Wednesday) asks about the week starting 2026-03-02.
    """
    _one_kind(spec)
    if len(index) == 0:
        raise BadInput("there is no data to ask about")
    latest = index.max()
    bucket = bucket_length(unit)
    if spec.last:
        span = _span(spec.last)
        end = latest + bucket - pd.Timedelta(seconds=1)
        cur_start = end + pd.Timedelta(seconds=1) - span
        return Question(spec.target, baseline=Window(cur_start - span, cur_start - pd.Timedelta(seconds=1)),
                        current=Window(cur_start, end))
    baseline = parse_window(spec.baseline) if spec.baseline else None
    if spec.at:
        if spec.current:
            raise BadInput("ask about either an anomaly (at) or a change (baseline and current), not both")
        if spec.at.strip() == "latest":
            return Question(spec.target, at=Window(latest, latest), baseline=baseline)
        if ".." in spec.at:
            return Question(spec.target, at=parse_window(spec.at), baseline=baseline)
        t = parse_time(spec.at)
        if t not in index and unit in UNITS:
            start = pd.Timestamp(bucket_of(int(t.timestamp()), unit), unit="s", tz="UTC")
            t = start if start in index else t
        return Question(spec.target, at=Window(t, t), baseline=baseline)
    if not (spec.baseline and spec.current):
        raise BadInput("say what to investigate: a time (at), or two windows (baseline and current)")
    return Question(spec.target, baseline=baseline, current=parse_window(spec.current))
