"""The one time reader: a written time means the same moment in a question, a report's name, a
sidecar, a collector's state and a table's time column (8 digits a date, 13 milliseconds, else seconds)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from collectors import files
from collectors.coverage import collect
from core.errors import InputError
from core.times import parse_time, parse_times
from rca import pipeline
from rca.pipeline.questions import parse_window
from tests.test_coverage_sources import cobertura, ratios, settings, write

T = pd.Timestamp


@pytest.mark.parametrize(("written", "moment"), [
    ("20260302", "2026-03-02T00:00Z"),  # YYYYMMDD, not 1970-08-23
    (20260302, "2026-03-02T00:00Z"),
    ("20260302101500", "2026-03-02T10:15Z"),
    ("1772409600", "2026-03-02T00:00Z"),  # Unix seconds
    ("1772409600000", "2026-03-02T00:00Z"),  # Unix milliseconds
    ("1772409600.5", "2026-03-02T00:00:00.5Z"),
    (1772409600, "2026-03-02T00:00Z"),
    ("-60", "1969-12-31T23:59Z"),
    ("2026-03-02T10:00+01:00", "2026-03-02T09:00Z"),
    ("2026-03-02", "2026-03-02T00:00Z"),
])
def test_one_rule_for_every_written_time(written: object, moment: str) -> None:
    assert parse_time(written) == T(moment)


def test_a_bad_time_is_one_line_saying_what_to_write() -> None:
    for bad in ("9999-99-99", "soon", "20261399"):
        with pytest.raises(InputError, match=rf"^'{bad}' is not a time; use ISO 8601 .* YYYYMMDD or Unix seconds$"):
            parse_time(bad)


def test_eight_digits_are_the_same_day_in_a_question_a_report_name_a_sidecar_and_a_table(tmp_path: Path) -> None:
    assert parse_window("20260302..20260308") == parse_window("2026-03-02..2026-03-08")
    assert pipeline.request(target="t", at="20260302").at == "20260302"
    d = tmp_path / "reports"
    write(d / "build-20260302.xml", cobertura(1, 2))
    by_name = collect(settings(dir=d, pattern=r"build-(?P<time>\d+)", time_from=["name"]), {})
    assert list(ratios(by_name)) == [T("2026-03-02T00:00Z")]
    write(d / "build-20260302.xml.json", '{"time": 20260309}')
    by_sidecar = collect(settings(dir=d, time_from=["sidecar"]), {})
    assert list(ratios(by_sidecar)) == [T("2026-03-09T00:00Z")]
    table = files.index_by_time(pd.DataFrame({"day": [20260302, 20260309], "bugs": [1, 2]}))
    assert list(table.index) == [T("2026-03-02T00:00Z"), T("2026-03-09T00:00Z")]


def test_a_time_column_reads_each_number_by_its_digits() -> None:
    got = parse_times(pd.Series([20260302, 1772409600, 1772409600000, 20260302101500, None]))
    assert list(got[:4]) == [T("2026-03-02T00:00Z")] * 3 + [T("2026-03-02T10:15Z")]
    assert got[4] is pd.NaT
    assert list(parse_times(pd.Series([0, 86_400.5]))) == [T("1970-01-01T00:00Z"), T("1970-01-02T00:00:00.5Z")]
