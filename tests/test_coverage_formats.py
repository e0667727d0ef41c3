"""Coverage report formats read from handcrafted files whose totals are computed by hand.

Each file exercises what real generators do: LCOV with the same file in several records
(merged line by line), summary-only records and functions to skip; JaCoCo with its DOCTYPE,
groups, class and method counters that must not be counted twice; Cobertura with method
lines repeating class lines, one file named by two classes, Windows paths and no root totals.
Hostile XML is refused in one line naming the file, without expanding or fetching anything.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.coverage_formats import Figures, ReportError, detect, parse_bytes, parse_file

LCOV = """TN:unit
SF:src/a.c
FN:1,main
FNDA:1,main
FNF:1
FNH:1
DA:1,1
DA:2,0
DA:3,0
DA:4,2
BRDA:2,0,0,1
BRDA:2,0,1,-
BRDA:3,0,0,0
BRDA:3,0,1,0
LF:4
LH:2
BRF:4
BRH:1
end_of_record
SF:src/empty.h
end_of_record
TN:integration
SF:./src/a.c
DA:2,3
DA:3,0
DA:5,0
BRDA:2,0,1,2
BRDA:3,0,1,0
end_of_record
SF:lib/summary.c
LF:10
LH:7
BRF:2
BRH:1
end_of_record
"""

# src/a.c, both records merged: lines 1 (1 hit), 2 (0 + 3), 3 (0), 4 (2), 5 (0) -> 3 of 5 covered;
# branches (2,0,0) taken, (2,0,1) taken in the second record, (3,0,*) never -> 2 of 4.
LCOV_FILES = {"src/a.c": Figures(5, 3, 4, 2), "src/empty.h": Figures(0, 0, 0, 0),
              "lib/summary.c": Figures(10, 7, 2, 1)}
LCOV_TOTALS = Figures(15, 10, 6, 3)

JACOCO = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<!DOCTYPE report PUBLIC "-//JACOCO//DTD Report 1.1//EN" "report.dtd"><report name="app">
<sessioninfo id="a" start="1704448800000" dump="1704448900000"/>
<sessioninfo id="b" start="1704452400000" dump="1704452500000"/>
<group name="core">
 <package name="com/acme/core">
  <class name="com/acme/core/Calc" sourcefilename="Calc.java">
   <method name="add" desc="(II)I" line="3"><counter type="LINE" missed="0" covered="2"/></method>
   <counter type="LINE" missed="1" covered="4"/>
  </class>
  <sourcefile name="Calc.java">
   <line nr="3" mi="0" ci="3" mb="0" cb="0"/>
   <counter type="INSTRUCTION" missed="3" covered="12"/>
   <counter type="BRANCH" missed="1" covered="3"/>
   <counter type="LINE" missed="1" covered="4"/>
  </sourcefile>
  <sourcefile name="Empty.java"/>
  <counter type="LINE" missed="1" covered="4"/>
  <counter type="BRANCH" missed="1" covered="3"/>
 </package>
 <counter type="LINE" missed="1" covered="4"/>
</group>
<package name="com/acme/web">
 <sourcefile name="Api.java"><counter type="LINE" missed="6" covered="4"/></sourcefile>
 <counter type="LINE" missed="6" covered="4"/>
</package>
<counter type="INSTRUCTION" missed="9" covered="20"/>
<counter type="BRANCH" missed="1" covered="3"/>
<counter type="LINE" missed="7" covered="8"/>
<counter type="METHOD" missed="1" covered="3"/>
</report>
"""

COBERTURA_OLD = """<?xml version="1.0"?>
<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">
<coverage line-rate="0.75" branch-rate="1.0" timestamp="1704448800" version="gcovr 7.0">
 <sources><source>/build/src</source></sources>
 <packages><package name="core" line-rate="0.75" branch-rate="1.0">
  <classes>
   <class name="Calc" filename="core/Calc.java" line-rate="0.3">
    <methods><method name="add" signature="()V">
     <lines><line number="3" hits="1"/><line number="99" hits="5"/></lines>
    </method></methods>
    <lines>
     <line number="3" hits="1" branch="false"/>
     <line number="4" hits="0" branch="true" condition-coverage="50% (1/2)"/>
     <line number="5" hits="0"/>
    </lines>
   </class>
   <class name="Calc$Inner" filename="core/Calc.java">
    <lines>
     <line number="5" hits="2"/>
     <line number="4" hits="1" branch="true" condition-coverage="100% (2/2)"/>
     <line number="8" hits="0"/>
    </lines>
   </class>
   <class name="Empty" filename="core\\Empty.java"><methods/><lines/></class>
  </classes>
 </package></packages>
</coverage>
"""


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def test_lcov_merges_records_of_the_same_file_and_reads_summaries(tmp_path: Path) -> None:
    r = parse_file(_write(tmp_path, "lcov.info", LCOV))
    assert r.format == "lcov" and r.timestamp is None
    assert r.files == LCOV_FILES
    assert r.totals == LCOV_TOTALS
    assert r.totals.line_ratio == pytest.approx(10 / 15) and r.totals.branch_ratio == pytest.approx(0.5)
    # Windows line endings and a byte-order mark change nothing.
    crlf = parse_file(_write(tmp_path, "crlf.info", b"\xef\xbb\xbf" + LCOV.replace("\n", "\r\n").encode()))
    assert crlf.files == LCOV_FILES


def test_jacoco_counts_report_and_sourcefile_counters_only(tmp_path: Path) -> None:
    r = parse_file(_write(tmp_path, "jacoco.xml", JACOCO))
    assert r.format == "jacoco"
    assert r.totals == Figures(15, 8, 4, 3)
    assert r.files == {"com/acme/core/Calc.java": Figures(5, 4, 4, 3), "com/acme/core/Empty.java": Figures(),
                       "com/acme/web/Api.java": Figures(10, 4, 0, 0)}
    assert r.timestamp == datetime(2024, 1, 5, 11, tzinfo=UTC)  # the latest session's start


def test_cobertura_without_root_totals_counts_each_line_of_a_file_once(tmp_path: Path) -> None:
    r = parse_file(_write(tmp_path, "cobertura.xml", COBERTURA_OLD))
    assert r.format == "cobertura"
    # core/Calc.java: lines 3, 4, 5, 8 (99 is only in <methods>); 3 covered; line 4's branches 2/2.
    assert r.files == {"core/Calc.java": Figures(4, 3, 2, 2), "core/Empty.java": Figures()}
    assert r.totals == Figures(4, 3, 2, 2)
    assert r.timestamp == datetime(2024, 1, 5, 10, tzinfo=UTC)  # gcovr writes seconds, not milliseconds


def test_cobertura_root_totals_win_over_the_files(tmp_path: Path) -> None:
    text = COBERTURA_OLD.replace('<coverage line-rate="0.75"', '<coverage lines-valid="40" lines-covered="30" '
                                 'branches-valid="10" branches-covered="4" line-rate="0.75"')
    r = parse_file(_write(tmp_path, "c.xml", text))
    assert r.totals == Figures(40, 30, 10, 4)
    assert r.files["core/Calc.java"] == Figures(4, 3, 2, 2)


@pytest.mark.parametrize(("name", "text", "fmt"), [
    ("coverage.xml", LCOV, "lcov"),          # LCOV under a Cobertura name
    ("lcov.info", COBERTURA_OLD, "cobertura"),
    ("report.txt", JACOCO, "jacoco"),
    ("jacoco.xml", '{"meta": {"format": 3}, "files": {}, "totals": {"covered_lines": 0, "num_statements": 0}}',
     "coveragepy"),
])
def test_the_format_comes_from_the_content_not_the_name(tmp_path: Path, name: str, text: str, fmt: str) -> None:
    assert parse_file(_write(tmp_path, name, text)).format == fmt


@pytest.mark.parametrize(("text", "expected"), [
    ('{"total": {"lines": {"pct": 80}}}', "report.json:1: JSON but not a coverage.py report"),
    ("<testsuite tests='3'/>", "report.json:1: XML root <testsuite> is neither Cobertura"),
    ("<report><item/></report>", "report.json: XML root <report> without JaCoCo sessions"),
    ('<coverage generated="1" clover="4.4"><project/></coverage>', "report.json:1: is a Clover XML report"),
    ("\n\nhello world\n", "report.json:3: not a coverage report: neither XML"),
    ("", "report.json:1: empty file"),
    ("  \n\n", "report.json:3: only blank lines"),
    ("SQLite format 3\x00...", "report.json:1: is coverage.py's data file"),
])
def test_what_is_no_report_is_said_in_one_line(tmp_path: Path, text: str, expected: str) -> None:
    p = _write(tmp_path, "report.json", text)
    with pytest.raises(ReportError) as err:
        parse_file(p)
    assert str(err.value).startswith(str(tmp_path / expected.split(":")[0]) + ":" + expected.split(":", 1)[1])
    assert "\n" not in str(err.value)


def test_detect_reads_only_the_first_bytes() -> None:
    assert detect(b"<?xml version='1.0'?>\n<coverage") == "xml"
    assert detect(b"\n  {\"meta\"") == "json"
    assert detect(b"SF:/abs/path.c\nDA:1,1\n") == "lcov"
    assert detect(b"VER:2.0\n") == "lcov"


@pytest.mark.parametrize(("text", "where"), [
    (LCOV[: LCOV.index("SF:lib/summary.c") + 30], ":33: truncated: the file ends inside a record ('BR')"),
    (LCOV[: LCOV.index("SF:lib/summary.c") + 28], ":32: truncated: the SF record opened at line 30 has no end_of"),
    ("SF:a.c\nDA:1,one\nend_of_record\n", ":2: LCOV record DA:1,one has a value that is not a number"),
    ("TN:\nDA:1,1\n", ":2: DA record outside an SF"),
    ("SF:a.c\nDA:1,1\nSF:b.c\nend_of_record\n", ":3: SF record while the one opened at line 1 has no end_of_record"),
    ("TN:only\n", ":1: LCOV without any SF record"),
])
def test_broken_lcov_is_reported_by_line(tmp_path: Path, text: str, where: str) -> None:
    p = _write(tmp_path, "broken.info", text)
    with pytest.raises(ReportError) as err:
        parse_file(p)
    assert str(err.value).startswith(f"{p}{where}")


def test_truncated_xml_and_json_are_reported_by_line_and_column(tmp_path: Path) -> None:
    cut = COBERTURA_OLD[: COBERTURA_OLD.index('<line number="5" hits="2"/>') + 10]
    with pytest.raises(ReportError) as err:
        parse_file(_write(tmp_path, "cut.xml", cut))
    assert err.value.line == cut.count("\n") + 1 and err.value.column is not None
    assert str(err.value).startswith(f"{tmp_path / 'cut.xml'}:{err.value.line}:{err.value.column}: malformed XML")
    with pytest.raises(ReportError) as err:
        parse_bytes(b'{"meta": {},\n "files": {', "blob")
    assert str(err.value).startswith("blob:2:12: malformed JSON")
    with pytest.raises(ReportError, match=r"^j:\d+: condition-coverage|^j:\d+: branch line 4 has no condition"):
        parse_bytes(COBERTURA_OLD.replace('condition-coverage="50% (1/2)"', "").encode(), "j")
    with pytest.raises(ReportError, match=r"^j:13: hits='many' is not a number"):
        parse_bytes(COBERTURA_OLD.replace('hits="0" branch="true"', 'hits="many" branch="true"').encode(), "j")


# --- hostile XML ----------------------------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE coverage [
 <!ENTITY lol "lol">
""" + "".join(f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n' for i in range(1, 10)) + """]>
<coverage line-rate="1">&lol9;</coverage>
"""

QUADRATIC = ('<?xml version="1.0"?>\n<!DOCTYPE coverage [<!ENTITY a "' + "x" * 50_000 + '">]>\n<coverage line-rate="1">'
             + "&a;" * 50_000 + "</coverage>\n")

XXE = """<?xml version="1.0"?>
<!DOCTYPE coverage [
 <!ENTITY xxe SYSTEM "file:///etc/passwd">
]>
<coverage line-rate="1" lines-valid="1" lines-covered="1"><sources><source>&xxe;</source></sources></coverage>
"""


@pytest.mark.parametrize(("text", "line", "what"), [
    (BILLION_LAUGHS, 3, "declares the XML entity 'lol'"),
    (QUADRATIC, 2, "declares the XML entity 'a'"),
    (XXE, 3, "declares the XML entity 'xxe' pointing at 'file:///etc/passwd'"),
])
def test_entity_declarations_are_refused_in_one_line(tmp_path: Path, text: str, line: int, what: str) -> None:
    p = _write(tmp_path, "evil.xml", text)
    with pytest.raises(ReportError) as err:
        parse_file(p)
    msg = str(err.value)
    assert msg.startswith(f"{p}:{line}: refused: {what}") and "\n" not in msg
    assert "root:" not in msg


@pytest.fixture
def dtd_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server serving a hostile DTD and recording every request it gets."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            requests.append(self.path)
            body = b'<!ENTITY evil SYSTEM "file:///etc/passwd">'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def test_an_external_dtd_is_never_fetched(tmp_path: Path, dtd_server: tuple[str, list[str]]) -> None:
    url, requests = dtd_server
    # The body needs an entity only the remote DTD would define: refused, nothing fetched.
    uses = _write(tmp_path, "uses.xml", f'<?xml version="1.0"?>\n<!DOCTYPE coverage SYSTEM "{url}/evil.dtd">\n'
                  '<coverage line-rate="1"><sources><source>&evil;</source></sources></coverage>\n')
    with pytest.raises(ReportError) as err:
        parse_file(uses)
    assert str(err.value) == f"{uses}:3:42: malformed XML (undefined entity &evil;)"
    # A parameter entity pulling the DTD in from the internal subset: refused where declared.
    pulls = _write(tmp_path, "pulls.xml", f'<?xml version="1.0"?>\n<!DOCTYPE coverage [\n<!ENTITY % remote SYSTEM '
                   f'"{url}/evil.dtd">\n%remote;\n]>\n<coverage line-rate="1"/>\n')
    with pytest.raises(ReportError, match=rf"^{pulls}:3: refused: declares the XML entity 'remote' pointing at "):
        parse_file(pulls)
    # A DOCTYPE that merely names a DTD (JaCoCo and old Cobertura reports all do) is read without it.
    names = _write(tmp_path, "names.xml", f'<?xml version="1.0"?>\n<!DOCTYPE coverage SYSTEM "{url}/coverage-04.dtd">'
                   '\n<coverage line-rate="1" lines-valid="2" lines-covered="2"/>\n')
    assert parse_file(names).totals == Figures(2, 2, 0, 0)
    assert requests == []
