"""Coverage reports in XML: Cobertura and JaCoCo, told apart by the root element.

XML goes through defusedxml's parser, fed in chunks: entity declarations (billion laughs,
external entities) are refused as soon as they are declared, an external DTD named in a
DOCTYPE is never retrieved (JaCoCo and the original Cobertura name one), and an entity only
such a DTD could define is an error. Only counts are kept while reading, never the tree.
"""

from __future__ import annotations

import re
from array import array
from datetime import UTC, datetime
from typing import IO, Any

from collectors.coverage_report import CHUNK, Figures, Report, ReportError, normalize_path

_CONDITION = re.compile(r"\((\d+)\s*/\s*(\d+)\)")


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


def parse_xml(stream: IO[bytes], where: str) -> Report:
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import DefusedXMLParser, ParseError

    target = _XmlTarget(where)
    parser = DefusedXMLParser(target=target, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    expat = target.expat = parser.parser
    expat.ordered_attributes = False  # attributes as a dict, built in C
    expat.StartElementHandler = target.start
    expat.EndElementHandler = target.end
    try:
        while chunk := stream.read(CHUNK):
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

