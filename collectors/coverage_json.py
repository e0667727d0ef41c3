"""Coverage reports in coverage.py's JSON (``coverage json``), read as a stream.

A report of hundreds of megabytes is read piece by piece with the standard library's decoder
(C speed): only one file's entry is held at a time, and a value larger than any coverage.py
report writes is refused rather than held.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from collectors.coverage_report import CHUNK, Figures, Report, ReportError, normalize_path

_WS = re.compile(r"[ \t\n\r]*")
_VALUE_CAP = 64 << 20  # characters of one value (a file's entry, meta, totals): more is no coverage.py report


class _JsonReader:
    """A JSON document read in pieces, so memory holds one value of it, never the whole.

    The top-level object and its ``files`` object are walked here, token by token; every value
    inside them (``meta``, ``totals``, one file's entry) is decoded whole by the standard
    library's decoder (:meth:`json.JSONDecoder.raw_decode`, C speed) from a buffer that grows
    only as far as that value needs. Nesting too deep for the decoder, and a value larger than
    64 MiB, are :class:`ReportError`, as is malformed JSON (with its line and column).
    """

    def __init__(self, stream: IO[bytes], where: str) -> None:
        self.stream, self.where = stream, where
        self.decode = codecs.getincrementaldecoder("utf-8-sig")().decode
        self.scan = json.JSONDecoder().raw_decode
        self.buf, self.pos, self.eof = "", 0, False
        self.base = 0        # characters before buf[0]
        self.lines = 0       # line breaks before buf[0]
        self.last_nl = -1    # where the last of them is

    def more(self, at_least: int = 1) -> bool:
        """Read on until ``at_least`` more characters are in (or the end); whether any came."""
        if self.pos:  # drop what was read: the buffer holds the current value only
            done = self.buf[: self.pos]
            if (n := done.count("\n")):
                self.lines += n
                self.last_nl = self.base + done.rindex("\n")
            self.base += self.pos
            self.buf, self.pos = self.buf[self.pos:], 0
        got = []
        size = 0
        while size < at_least and not self.eof:
            chunk = self.stream.read(max(CHUNK, at_least - size))
            try:
                text = self.decode(chunk, final=not chunk)
            except UnicodeDecodeError:
                raise ReportError(self.where, None, "JSON that is not UTF-8") from None
            self.eof = not chunk
            got.append(text)
            size += len(text)
        self.buf += "".join(got)
        return size > 0

    def error(self, at: int, message: str) -> ReportError:
        line = self.lines + self.buf.count("\n", 0, at) + 1
        nl = self.buf.rfind("\n", 0, at)
        column = at - nl if nl >= 0 else self.base + at - self.last_nl
        return ReportError(self.where, line, message, column)

    def peek(self) -> str:
        """The next character that is not white space ("" at the end), not consumed."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()
            if self.pos < len(self.buf) or not self.more():
                return self.buf[self.pos : self.pos + 1]

    def expect(self, chars: str, what: str) -> str:
        c = self.peek()
        if not c or c not in chars:
            raise self.error(self.pos, f"malformed JSON (Expecting {what})")
        self.pos += 1
        return c

    def value(self, what: str) -> Any:
        """The next JSON value, decoded whole."""
        self.peek()
        while True:
            try:
                value, end = self.scan(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                cut = exc.pos >= len(self.buf) - 16 or exc.msg.startswith("Unterminated string")
                if cut and not self.eof and self._grow(what):
                    continue
                raise self.error(exc.pos, f"malformed JSON ({exc.msg})") from None
            except RecursionError:
                raise self.error(self.pos, f"{what} is nested too deeply for a coverage report") from None
            if end == len(self.buf) and not self.eof and self._grow(what):
                continue  # a number may go on in the next chunk
            self.pos = end
            return value

    def _grow(self, what: str) -> bool:
        held = len(self.buf) - self.pos
        if held > _VALUE_CAP:
            raise self.error(self.pos, f"{what} is larger than {_VALUE_CAP >> 20} MiB: not a coverage.py report")
        return self.more(at_least=max(held, 1))  # doubling: a long value is re-scanned only a few times

    def key(self, what: str) -> str:
        if self.peek() != '"':
            raise self.error(self.pos, "malformed JSON (Expecting property name enclosed in double quotes)")
        key = self.value(what)
        self.expect(":", "':' delimiter")
        return key

    def members(self, what: str) -> Iterator[str]:
        """The keys of the object that starts here; after each, the caller reads its value."""
        self.expect("{", "'{'")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            yield self.key(what)
            if self.expect(",}", "',' delimiter") == "}":
                return


def parse_coveragepy(stream: IO[bytes], where: str) -> Report:
    """coverage.py's ``coverage json``: ``totals`` and each file's ``summary`` (``num_statements``,
    ``covered_lines``, ``num_branches``, ``covered_branches``); ``meta.timestamp`` is the local
    time of the machine that wrote it, without an offset. Read as a stream (:class:`_JsonReader`):
    a report of several hundred megabytes takes a few megabytes of memory."""
    reader = _JsonReader(stream, where)
    if reader.peek() != "{":
        raise ReportError(where, 1, "JSON but not a coverage.py report (needs meta, files and totals; has list)")
    keys: list[str] = []
    found: dict[str, Any] = {}
    files: dict[str, Figures] = {}
    bad: list[ReportError] = []  # said after the document is known to be coverage.py's

    def figures(summary: Any, what: str) -> Figures:
        if not isinstance(summary, dict):
            raise ReportError(where, None, f"{what} has no summary object")
        try:
            return Figures(int(summary["num_statements"]), int(summary["covered_lines"]),
                           int(summary.get("num_branches", 0)), int(summary.get("covered_branches", 0)))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ReportError(where, None, f"{what}: summary lacks a number for {exc}") from None

    for key in reader.members("a key"):
        if len(keys) < 5:
            keys.append(key)
        if key == "files" and reader.peek() == "{":
            found["files"] = True
            for path in reader.members("a file's path"):
                entry = reader.value(f"file {path[:80]!r}")
                try:
                    files[normalize_path(path)] = figures(entry.get("summary") if isinstance(entry, dict) else None,
                                                          f"file {path!r}")
                except ReportError as exc:
                    bad.append(exc)
        else:
            found[key] = reader.value(key[:40])
    if reader.peek():
        raise reader.error(reader.pos, "malformed JSON (Extra data)")
    if not (isinstance(found.get("meta"), dict) and found.get("files") is True and isinstance(found.get("totals"), dict)):
        raise ReportError(where, 1, f"JSON but not a coverage.py report (needs meta, files and totals; has "
                                    f"{', '.join(keys)})")
    if bad:
        raise bad[0]
    stamp = None
    text = found["meta"].get("timestamp")
    if isinstance(text, str):
        try:
            stamp = datetime.fromisoformat(text)
        except ValueError:
            raise ReportError(where, None, f"meta.timestamp {text[:40]!r} is not an ISO 8601 time") from None
    return Report("coveragepy", figures(found["totals"], "totals"), files, stamp)
