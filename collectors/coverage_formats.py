"""Coverage report formats: Cobertura XML, JaCoCo XML, LCOV and coverage.py JSON.

:func:`parse` reads one report (a file, or the bytes of a blob read from Git) into a
:class:`Report`: its totals, its per-file figures and its own timestamp, whatever the format.
The format is told from the content, never from the file name (:func:`detect`): an XML root
``<coverage line-rate=...>`` is Cobertura, ``<report>`` is JaCoCo; a JSON object with
``meta``, ``files`` and ``totals`` is coverage.py's; text whose first record is ``TN:``,
``SF:`` or ``VER:`` is LCOV. Anything else is a :class:`ReportError`, which names the report,
the line (and column, for XML and JSON) and what is wrong, in one line.

XML goes through defusedxml's parser, fed in chunks: entity declarations (billion laughs,
external entities) are refused as soon as they are declared, an external DTD named in a
DOCTYPE is never retrieved (JaCoCo and the original Cobertura name one), and an entity only
such a DTD could define is an error. Only counts are kept while reading, never the tree.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from collectors.observations import InputError

FORMATS: tuple[str, ...] = ("cobertura", "jacoco", "lcov", "coveragepy")
_CHUNK = 1 << 20
_HEAD = 4096
_CONDITION = re.compile(r"\((\d+)\s*/\s*(\d+)\)")
_LCOV_FIRST = re.compile(rb"(TN|SF|VER):")


class ReportError(InputError):
    """A report that cannot be read: where it is, the line (and column) and what is wrong."""

    def __init__(self, where: str, line: int | None, message: str, column: int | None = None) -> None:
        self.where, self.line, self.column, self.message = where, line, column, message
        pos = "" if line is None else f":{line}" + ("" if column is None else f":{column}")
        super().__init__(f"{where}{pos}: {message}")


@dataclass
class Figures:
    """Line and branch counts of a report, a file or a group of files."""

    lines_valid: int = 0
    lines_covered: int = 0
    branches_valid: int = 0
    branches_covered: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(self.lines_valid + other.lines_valid, self.lines_covered + other.lines_covered,
                       self.branches_valid + other.branches_valid, self.branches_covered + other.branches_covered)

    @property
    def line_ratio(self) -> float | None:
        return self.lines_covered / self.lines_valid if self.lines_valid else None

    @property
    def branch_ratio(self) -> float | None:
        return self.branches_covered / self.branches_valid if self.branches_valid else None


@dataclass
class Report:
    """One coverage report, whatever its format."""

    format: str
    totals: Figures
    files: dict[str, Figures] = field(default_factory=dict)  # path as the report names it -> figures
    timestamp: datetime | None = None  # the report's own time; naive if the report gives no offset


# --- entry points ----------------------------------------------------------------------------

def parse_file(path: str | Path) -> Report:
    """Read the report at ``path``; a :class:`ReportError` says why it cannot be read."""
    where = str(path)
    try:
        with open(path, "rb") as f:
            return parse(f, where)
    except OSError as exc:
        raise ReportError(where, None, f"cannot read: {exc.strerror or exc}") from None


def parse_bytes(data: bytes, where: str) -> Report:
    """Read a report held in memory (a blob read from Git); ``where`` names it in errors."""
    return parse(io.BytesIO(data), where)


def parse(stream: IO[bytes], where: str) -> Report:
    """Read a report from a binary stream that can seek (a file, a BytesIO), and check its counts."""
    head = stream.read(_HEAD)
    kind = detect(head, where)
    stream.seek(0)
    reader = _parse_xml if kind == "xml" else _parse_coveragepy if kind == "json" else _parse_lcov
    try:
        report = reader(stream, where)
    except RecursionError:
        raise ReportError(where, None, "nested too deeply for a coverage report") from None
    return checked(report, where)


_MAX_COUNT = 1 << 53  # past this a float (the value stored) no longer holds every count


def checked(report: Report, where: str) -> Report:
    """The report if every count makes sense (0 <= covered <= valid, for lines and for branches, in
    the totals and in each file), else a :class:`ReportError` naming the first that does not: a
    ratio is then always between 0 and 1."""
    for what, f in (*((f"file {p!r}", f) for p, f in report.files.items()), ("totals", report.totals)):
        for kind, covered, valid in (("lines", f.lines_covered, f.lines_valid),
                                     ("branches", f.branches_covered, f.branches_valid)):
            if not 0 <= covered <= valid <= _MAX_COUNT:
                raise ReportError(where, None, f"{what}: {covered} of {valid} {kind} covered; counts must be "
                                  f"0 <= covered <= valid (<= 2^53)")
    return report


def detect(head: bytes, where: str = "report") -> str:
    """``xml``, ``json`` or ``lcov`` from a report's first bytes; raise :class:`ReportError` if none.

    XML is split into Cobertura and JaCoCo by its root element while it is parsed.
    """
    text = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    stripped = text.lstrip()
    line = text[: len(text) - len(stripped)].count(b"\n") + 1
    if not stripped:
        what = "empty file" if not head else "only blank lines"
        raise ReportError(where, line, f"{what}: not a coverage report (an interrupted upload or a failed test run?)")
    if stripped.startswith(b"<"):
        return "xml"
    if stripped.startswith((b"{", b"[")):
        return "json"
    if _LCOV_FIRST.match(stripped):
        return "lcov"
    if stripped.startswith(b"SQLite format 3"):
        raise ReportError(where, 1, "is coverage.py's data file (.coverage), not a report; "
                          "write one with `coverage xml`, `coverage json` or `coverage lcov`")
    if stripped.startswith(b"\x1f\x8b"):
        raise ReportError(where, 1, "is gzip-compressed; decompress it first")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ReportError(where, 1, "is UTF-16 encoded; write the report as UTF-8")
    first = stripped.split(b"\n", 1)[0][:60].decode("utf-8", "replace").strip()
    raise ReportError(where, line, f"not a coverage report: neither XML (Cobertura, JaCoCo), coverage.py JSON "
                      f"nor LCOV (first line {first!r})")


def normalize_path(path: str) -> str:
    """A report's file path with forward slashes and no leading ``./``."""
    p = path.replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    return p


# --- XML: Cobertura and JaCoCo -------------------------------------------------------------------

def _local(tag: str) -> str:
    """An element's name without its namespace (expat gives ``uri}name`` here, ElementTree ``{uri}name``)."""
    return tag.rsplit("}", 1)[-1]


class _XmlTarget:
    """Receives the parser's first element, picks the format's reader, then hands the events to it.

    The reader's handlers are set on the expat parser itself, past ElementTree's per-element
    wrappers: only counts are kept, and this is 2-3 times faster. defusedxml's handlers for
    entity declarations and external references stay in place.
    """

    def __init__(self, where: str) -> None:
        self.where = where
        self.expat: Any = None  # the parser, once it exists: its position names the line of a bad value
        self.reader: _Cobertura | _JaCoCo | None = None

    def line(self) -> int | None:
        return getattr(self.expat, "CurrentLineNumber", None)

    def fail(self, message: str) -> ReportError:
        return ReportError(self.where, self.line(), message)

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        root = _local(tag)
        if root == "coverage" and ("line-rate" in attrib or "lines-valid" in attrib):
            reader: _Cobertura | _JaCoCo = _Cobertura(self, attrib)
        elif root == "coverage" and "clover" in attrib:
            raise self.fail("is a Clover XML report, which is not read; write Cobertura XML instead")
        elif root == "report":
            reader = _JaCoCo(self)
        else:
            raise self.fail(f"XML root <{root}> is neither Cobertura (<coverage line-rate=...>) nor JaCoCo "
                            "(<report>): not a coverage report")
        self.reader = reader
        if "}" in tag:  # a namespaced document: compare local names
            self.expat.StartElementHandler = lambda t, a: reader.start(_local(t), a)
            self.expat.EndElementHandler = lambda t: reader.end(_local(t))
        else:
            self.expat.StartElementHandler = reader.start
            self.expat.EndElementHandler = reader.end

    def end(self, tag: str) -> None:
        pass

    def data(self, text: str) -> None:
        """Text is not needed; having this method makes ElementTree refuse undefined entities (``&evil;``)."""

    def close(self) -> Report:
        if self.reader is None:
            raise ReportError(self.where, None, "XML without a root element")
        return self.reader.report()


def _parse_xml(stream: IO[bytes], where: str) -> Report:
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import DefusedXMLParser, ParseError

    target = _XmlTarget(where)
    parser = DefusedXMLParser(target=target, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    expat = target.expat = parser.parser
    expat.ordered_attributes = False  # attributes as a dict, built in C
    expat.StartElementHandler = target.start
    expat.EndElementHandler = target.end
    try:
        while chunk := stream.read(_CHUNK):
            parser.feed(chunk)
        return parser.close()
    except ParseError as exc:
        line, column = exc.position  # expat counts columns from 0, editors from 1
        message = str(exc).rsplit(": line ", 1)[0]
        raise ReportError(where, line, f"malformed XML ({message})", column + 1) from None
    except DefusedXmlException as exc:
        raise ReportError(where, target.line(), f"refused: {_defused_reason(exc)}") from None


def _defused_reason(exc: Exception) -> str:
    name = type(exc).__name__
    if name == "EntitiesForbidden":
        sysid = getattr(exc, "sysid", None)
        ref = f" pointing at {sysid!r}" if sysid else ""
        return (f"declares the XML entity {getattr(exc, 'name', '?')!r}{ref}; entities are never expanded "
                "(entity-expansion bombs, external entities)")
    if name == "ExternalReferenceForbidden":
        return f"refers to the external resource {getattr(exc, 'sysid', '?')!r}; nothing is fetched"
    if name == "DTDForbidden":
        return "has a DTD"
    return f"unsafe XML ({name})"


def _int(target: _XmlTarget, attrib: dict[str, str], key: str, default: int | None = None) -> int:
    raw = attrib.get(key)
    if raw is None:
        if default is None:
            raise target.fail(f"attribute {key!r} missing")
        return default
    try:
        return int(raw)
    except ValueError:
        try:
            value = float(raw)
        except ValueError:
            raise target.fail(f"{key}={raw!r} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise target.fail(f"{key}={raw!r} is not a finite number") from None
        return int(value)


def _epoch(value: int) -> datetime | None:
    """A Unix time in milliseconds (Cobertura, JaCoCo) or seconds (gcovr's Cobertura); 0 means none."""
    if value <= 0:
        return None
    seconds = value / 1000 if value > 100_000_000_000 else value  # 1e11 s is the year 5138
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


class _FileLines:
    """One file's lines, kept compact between the classes that name the same file (C#, Java inner classes)."""

    __slots__ = ("numbers", "hit", "branches")

    def __init__(self) -> None:
        self.numbers = array("i")
        self.hit = bytearray()
        self.branches: dict[int, tuple[int, int]] = {}

    def merge(self, lines: dict[int, bool], branches: dict[int, tuple[int, int]]) -> None:
        if self.numbers:  # the file was named before: take the union, line by line
            for n, h in zip(self.numbers, self.hit, strict=True):
                lines[n] = lines.get(n, False) or bool(h)
            for n, (c, t) in self.branches.items():
                oc, ot = branches.get(n, (0, 0))
                branches[n] = (max(c, oc), max(t, ot))
        self.numbers = array("i", lines.keys())
        self.hit = bytearray(lines.values())
        self.branches = branches

    def figures(self) -> Figures:
        return Figures(len(self.numbers), sum(self.hit), sum(t for _, t in self.branches.values()),
                       sum(min(c, t) for c, t in self.branches.values()))


class _Cobertura:
    """Cobertura XML (coverage.py, gcovr, Cobertura, coverlet...): ``class`` elements name files.

    Lines are counted under ``class/lines`` (``methods`` repeat them); a file named by several
    classes counts each line once. The root's ``lines-valid``/``lines-covered`` and
    ``branches-valid``/``branches-covered`` are the totals when present, else the files' sum.
    """

    def __init__(self, target: _XmlTarget, root: dict[str, str]) -> None:
        self.t = target
        self.root = root
        self.files: dict[str, _FileLines] = {}
        self.path: str | None = None
        self.in_method = 0
        self.lines: dict[int, bool] = {}
        self.branches: dict[int, tuple[int, int]] = {}

    def start(self, tag: str, a: dict[str, str]) -> None:
        if tag == "line":
            if self.path is None or self.in_method:
                return
            try:  # the common case, fast; _int says what is wrong otherwise
                number, hits = int(a["number"]), int(a.get("hits", 0))
            except (KeyError, ValueError):
                number, hits = _int(self.t, a, "number"), _int(self.t, a, "hits", 0)
            if hits > 0 or number not in self.lines:
                self.lines[number] = hits > 0
            if "branch" in a and a["branch"].lower() == "true":
                m = _CONDITION.search(a.get("condition-coverage", ""))
                if m is None:
                    raise self.t.fail(f"branch line {number} has no condition-coverage like '50% (1/2)'")
                covered, total = int(m.group(1)), int(m.group(2))
                old = self.branches.get(number, (0, 0))
                self.branches[number] = (max(covered, old[0]), max(total, old[1]))
        elif tag == "class":
            name = a.get("filename")
            if name is None:
                raise self.t.fail("<class> without a filename attribute")
            self.path = normalize_path(name)
            self.lines, self.branches = {}, {}
        elif tag == "method":
            self.in_method += 1

    def end(self, tag: str) -> None:
        if tag == "class" and self.path is not None:
            self.files.setdefault(self.path, _FileLines()).merge(self.lines, self.branches)
            self.path, self.lines, self.branches = None, {}, {}
        elif tag == "method":
            self.in_method -= 1

    def report(self) -> Report:
        files = {p: fl.figures() for p, fl in self.files.items()}
        total = sum(files.values(), Figures())
        if "lines-valid" in self.root and "lines-covered" in self.root:
            total.lines_valid = _int(self.t, self.root, "lines-valid")
            total.lines_covered = _int(self.t, self.root, "lines-covered")
        if "branches-valid" in self.root and "branches-covered" in self.root:
            total.branches_valid = _int(self.t, self.root, "branches-valid")
            total.branches_covered = _int(self.t, self.root, "branches-covered")
        stamp = _epoch(_int(self.t, self.root, "timestamp", 0)) if "timestamp" in self.root else None
        return Report("cobertura", total, files, stamp)


class _JaCoCo:
    """JaCoCo XML: ``counter`` elements of type LINE and BRANCH under ``report`` (the totals) and
    under ``package/sourcefile`` (the files, named ``package/File.java``); ``group`` nesting
    (multi-module reports) is allowed. The time is the latest ``sessioninfo`` start."""

    def __init__(self, target: _XmlTarget) -> None:
        self.t = target
        self.stack: list[str] = ["report"]
        self.package = ""
        self.file: str | None = None
        self.totals: Figures | None = None
        self.files: dict[str, Figures] = {}
        self.starts: list[int] = []

    def start(self, tag: str, a: dict[str, str]) -> None:
        parent = self.stack[-1]
        self.stack.append(tag)
        if tag == "counter":
            kind = a.get("type")
            if kind not in ("LINE", "BRANCH"):
                return
            missed, covered = _int(self.t, a, "missed"), _int(self.t, a, "covered")
            if parent == "report":
                fig = self.totals = self.totals or Figures()
            elif parent == "sourcefile" and self.file is not None:
                fig = self.files.setdefault(self.file, Figures())
            else:
                return
            if kind == "LINE":
                fig.lines_valid += missed + covered
                fig.lines_covered += covered
            else:
                fig.branches_valid += missed + covered
                fig.branches_covered += covered
        elif tag == "sourcefile":
            name = normalize_path(a.get("name", ""))
            self.file = f"{self.package}/{name}" if self.package else name
            self.files.setdefault(self.file, Figures())
        elif tag == "package":
            self.package = normalize_path(a.get("name", "")).strip("/")
        elif tag == "sessioninfo":
            self.starts.append(_int(self.t, a, "start", 0))

    def end(self, tag: str) -> None:
        self.stack.pop()
        if tag == "sourcefile":
            self.file = None
        elif tag == "package":
            self.package = ""

    def report(self) -> Report:
        if self.totals is None and not self.files and not self.starts:
            raise ReportError(self.t.where, None, "XML root <report> without JaCoCo sessions, source files or "
                              "counters: not a JaCoCo report")
        totals = self.totals if self.totals is not None else sum(self.files.values(), Figures())
        stamp = _epoch(max(self.starts)) if self.starts else None
        return Report("jacoco", totals, self.files, stamp)


# --- LCOV ----------------------------------------------------------------------------------------

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


def _parse_lcov(stream: IO[bytes], where: str) -> Report:
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


# --- coverage.py JSON ------------------------------------------------------------------------------

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
            chunk = self.stream.read(max(_CHUNK, at_least - size))
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


def _parse_coveragepy(stream: IO[bytes], where: str) -> Report:
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
