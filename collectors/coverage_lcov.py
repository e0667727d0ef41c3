"""Coverage reports in LCOV text (``SF:``, ``DA:``, ``BRDA:`` records, as lcov, c8, Jest and tarpaulin write).

Read line by line as UTF-8 (an undecodable byte becomes a replacement character); a file named
in several records counts each line once; a record cut off before ``end_of_record`` makes the
whole report unreadable.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO

from collectors.coverage_report import Figures, Report, ReportError, normalize_path


class _LcovFile:
    __slots__ = ("lines", "branches", "lf", "lh", "brf", "brh")

    def __init__(self) -> None:
        self.lines: dict[int, int] = {}
        self.branches: dict[tuple[int, str, str], int] = {}
        self.lf = self.lh = self.brf = self.brh = 0

    def figures(self) -> Figures:
        if self.lines:
            lines_valid, lines_covered = len(self.lines), sum(1 for h in self.lines.values() if h > 0)
        else:  # a summary-only record: LF/LH are all there is
            lines_valid, lines_covered = self.lf, self.lh
        if self.branches:
            branches_valid, branches_covered = len(self.branches), sum(1 for h in self.branches.values() if h > 0)
        else:
            branches_valid, branches_covered = self.brf, self.brh
        return Figures(lines_valid, lines_covered, branches_valid, branches_covered)


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, str, bool]]:
    """(number, text, whether the line was ended by a newline)."""
    for number, raw in enumerate(io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline=None), 1):
        yield number, raw.rstrip("\n"), raw.endswith("\n")


class _LcovReader:
    """LCOV tracefiles (lcov/geninfo, llvm-cov, coverage.py, c8, grcov...), one line at a time.

    Records of the same file (``SF``) are merged: a line is covered if any record covers it
    (``DA`` hits added), a branch (``BRDA`` line, block, branch) if any record took it. A file
    with no ``DA``/``BRDA`` detail counts its ``LF``/``LH``/``BRF``/``BRH`` summary (the larger
    one if repeated: summaries cannot be merged). Other record types (``TN``, ``FN``, ``VER``...)
    are skipped; a record cut off before ``end_of_record`` makes the whole report unreadable.
    """

    def __init__(self, where: str) -> None:
        self.where = where
        self.files: dict[str, _LcovFile] = {}
        self.current: _LcovFile | None = None
        self.opened = 0

    def bad(self, number: int, message: str) -> ReportError:
        return ReportError(self.where, number, message)

    def ints(self, number: int, key: str, value: str, n: int) -> list[int]:
        out = []
        for part in value.split(",")[:n]:
            try:
                out.append(int(part))
            except ValueError:
                try:  # some generators write counts as floats (1.0, 2e3)
                    out.append(int(float(part)))
                except (ValueError, OverflowError):
                    raise self.bad(number, f"LCOV record {key}:{value[:40]} has a value that is not a number") from None
        return out

    def line(self, number: int, text: str) -> None:
        if text == "end_of_record":
            if self.current is None:
                raise self.bad(number, "end_of_record without an SF record before it")
            self.current = None
            return
        key, sep, value = text.partition(":")
        if not sep:
            raise self.bad(number, f"{text[:40]!r} is not an LCOV record (KEY:VALUE)")
        if key == "SF":
            if self.current is not None:
                raise self.bad(number, f"SF record while the one opened at line {self.opened} has no end_of_record")
            self.current = self.files.setdefault(normalize_path(value.strip()), _LcovFile())
            self.opened = number
            return
        if key not in ("DA", "BRDA", "LF", "LH", "BRF", "BRH"):
            return
        cur = self.current
        if cur is None:
            raise self.bad(number, f"{key} record outside an SF ... end_of_record record")
        if key == "DA":
            if value.count(",") < 1:
                raise self.bad(number, f"DA:{value[:40]} is not DA:<line>,<hits>")
            line_no, hits = self.ints(number, key, value, 2)
            cur.lines[line_no] = cur.lines.get(line_no, 0) + max(hits, 0)
        elif key == "BRDA":
            head, _, taken = value.rpartition(",")
            parts = head.split(",", 2)
            if len(parts) < 3:
                raise self.bad(number, f"BRDA:{value[:40]} is not BRDA:<line>,<block>,<branch>,<taken>")
            (line_no,) = self.ints(number, key, parts[0], 1)
            count = 0 if taken.strip() == "-" else self.ints(number, key, taken, 1)[0]
            bkey = (line_no, parts[1], parts[2])
            cur.branches[bkey] = cur.branches.get(bkey, 0) + max(count, 0)
        else:
            (n,) = self.ints(number, key, value, 1)
            if n < 0:
                raise self.bad(number, f"{key}:{value[:40]} is a negative count")
            attr = key.lower()
            setattr(cur, attr, max(getattr(cur, attr), n))

    def report(self, last: int) -> Report:
        if self.current is not None:
            raise self.bad(last, f"truncated: the SF record opened at line {self.opened} has no end_of_record")
        if not self.files:
            raise self.bad(last, "LCOV without any SF record: no file was measured")
        per_file = {p: f.figures() for p, f in self.files.items()}
        return Report("lcov", sum(per_file.values(), Figures()), per_file, None)


def parse_lcov(stream: IO[bytes], where: str) -> Report:
    reader = _LcovReader(where)
    last = 0
    for number, line, ended in _lines(stream):
        last = number
        text = line.strip()
        if not text:
            continue
        try:
            reader.line(number, text)
        except ReportError:
            if ended:
                raise
            raise reader.bad(number, f"truncated: the file ends inside a record ({text[:40]!r})") from None
    return reader.report(last)

