"""Binary content (issue 17 item 11 and its class). A message appended
with a binary literal (~{n}, RFC 3516 4.4) is stored byte for byte: BINARY
gives its bytes back exactly, in a literal8 when they hold NUL. What reaches
a client in a plain literal or a string never holds NUL (RFC 9051 CHAR8):
BODY sections, RFC822.*, ENVELOPE and BODYSTRUCTURE strings send a NUL as
0x80 (as Dovecot does), keeping every size. The same for any line ends
(bare LF, CR before CRLF, a lone CR), on both stores."""
import re

import pytest

from rfc9051_common import lit
from viewtrack import TrackedSession

# The reported part: NUL - 0xE4 LF CR LF LF, seven bytes.
PART = b"\x00-\xe4\n\r\n\n"
REPORTED = (b"Subject: binary\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=bnd\r\n\r\n"
            b"--bnd\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: binary\r\n\r\n" + PART + b"\r\n--bnd--\r\n")


def lit8(data):
    return b"~{%d+}\r\n" % len(data) + data


def literals(raw):
    """(is_literal8, bytes) of every literal in a response."""
    out, pos = [], 0
    for m in re.finditer(rb"(~?)\{(\d+)\}\r\n", raw):
        if m.start() < pos:
            continue
        start = m.end()
        out.append((m.group(1) == b"~", raw[start:start + int(m.group(2))]))
        pos = start + int(m.group(2))
    return out


def no_nul_outside_literal8(lines):
    raw = b"".join(lines)
    for is8, data in literals(raw):
        if not is8:
            assert b"\x00" not in data, data[:80]
    # and none in the response text itself
    stripped = raw
    for is8, data in literals(raw):
        stripped = stripped.replace(data, b"", 1)
    assert b"\x00" not in stripped


def item(lines, name):
    """The value of FETCH item name (bytes of its literal or quoted)."""
    raw = b"".join(lines)
    i = raw.index(name + b" ")
    rest = raw[i + len(name) + 1:]
    m = re.match(rb"~?\{(\d+)\}\r\n", rest)
    if m:
        return rest[m.end():m.end() + int(m.group(1))]
    m = re.match(rb'"((?:[^"\\]|\\.)*)"|(\d+)|NIL', rest)
    return m.group(1) if m.group(1) is not None else m.group(2)


@pytest.fixture
def s(haven):
    s = TrackedSession(haven, name="A")
    yield s
    assert s.violations == []
    s.close()


def test_reported_binary_append(s):
    """The reported case, sent as ~{n+}: BINARY.SIZE[1] is 7 (was 9),
    BINARY[1] the seven bytes in a literal8, BODY[1] and BODY[] without a
    NUL in their plain literals."""
    out = s.ok(b"APPEND INBOX " + lit8(REPORTED))
    assert b"[APPENDUID " in out[-1]
    s.select()
    lines = s.ok(b"FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1] BODY.PEEK[1] BODY.PEEK[] "
                 b"BINARY.PEEK[] RFC822.SIZE)")
    assert item(lines, b"BINARY.SIZE[1]") == b"7"
    assert item(lines, b"BINARY[1]") == PART
    assert b"BINARY[1] ~{7}\r\n" in b"".join(lines)
    assert item(lines, b"BODY[1]") == PART.replace(b"\x00", b"\x80")
    assert item(lines, b"BODY[]") == REPORTED.replace(b"\x00", b"\x80")
    assert item(lines, b"BINARY[]") == REPORTED
    assert item(lines, b"RFC822.SIZE") == b"%d" % len(REPORTED)
    no_nul_outside_literal8(lines)


LINE_ENDS = [
    b"Subject: lf\n\nbare\nLF only\nFrom here\n",
    b"Subject: mixed\r\n\r\na\nb\r\r\nc\rd\r\n",
    b"\nstarts with an LF\r\n",
    b"Subject: cr at the end\r\n\r\nx\r",
    b"Subject: nul\r\nX-Nul: a\x00b\r\n\r\nbody \x00 with NUL\r\n",
    b"Subject: plain\r\n\r\nCRLF only\r\n",
]


@pytest.mark.parametrize("binary", [False, True])
def test_bytes_come_back(s, binary):
    """Every message, appended as literal8 (or plain literal when it holds
    no NUL), comes back byte for byte through BINARY[] and with the same
    size and line ends through BODY[]."""
    msgs = [m for m in LINE_ENDS if binary or b"\x00" not in m]
    for m in msgs:
        s.ok(b"APPEND INBOX " + (lit8(m) if binary else lit(m)))
    s.select()
    for i, m in enumerate(msgs, 1):
        lines = s.ok(b"FETCH %d (RFC822.SIZE BINARY.PEEK[] BODY.PEEK[] BINARY.SIZE[1])" % i)
        assert item(lines, b"RFC822.SIZE") == b"%d" % len(m)
        assert item(lines, b"BINARY[]") == m
        assert item(lines, b"BODY[]") == m.replace(b"\x00", b"\x80")
        no_nul_outside_literal8(lines)


NUL_MSG = (b"From: Nul <a\x00b@example.org>\r\nSubject: sub\x00ject\r\nX-Field: v\x00v\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"
           b"--x\r\nContent-Type: text/plain; name=\"f\x00.txt\"\r\n\r\nte\x00xt\r\n"
           b"--x\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
           b"\r\n" + b"\x00\x01\x02\xff" * 80000 + b"\r\n--x--\r\n")

ITEMS = [b"BODY.PEEK[]", b"BODY.PEEK[1]", b"BODY.PEEK[2]", b"BODY.PEEK[TEXT]",
         b"BODY.PEEK[HEADER]", b"BODY.PEEK[1.MIME]", b"BODY.PEEK[HEADER.FIELDS (X-Field Subject)]",
         b"BODY.PEEK[HEADER.FIELDS.NOT (From)]", b"RFC822.HEADER", b"RFC822", b"RFC822.TEXT",
         b"BODY.PEEK[]<0.40>", b"BODY.PEEK[2]<10.300000>", b"ENVELOPE", b"BODYSTRUCTURE",
         b"BODY", b"BINARY.PEEK[2]", b"BINARY.PEEK[]", b"BINARY.PEEK[1]<2.3>"]


@pytest.mark.parametrize("what", ITEMS)
def test_no_nul_in_plain_literals(s, what):
    """A NUL anywhere (header field, address, parameter, text part, a
    320 KB binary part that is streamed) never reaches a plain literal;
    BINARY items give the exact bytes."""
    s.ok(b"APPEND INBOX " + lit8(NUL_MSG))
    s.select()
    lines = s.ok(b"FETCH 1 (" + what + b")")
    no_nul_outside_literal8(lines)
    if what == b"BINARY.PEEK[2]":
        assert item(lines, b"BINARY[2]") == b"\x00\x01\x02\xff" * 80000
    if what == b"BINARY.PEEK[]":
        assert item(lines, b"BINARY[]") == NUL_MSG
    if what == b"BODY.PEEK[]":
        assert item(lines, b"BODY[]") == NUL_MSG.replace(b"\x00", b"\x80")


def test_nul_in_plain_literal_refused(s):
    """A NUL in an ordinary literal is not a message (RFC 9051 CHAR8): the
    APPEND is refused and nothing is stored; literal8 is the way."""
    line = s.no(b"APPEND INBOX " + lit(b"Subject: x\r\n\r\na\x00b\r\n"))
    assert b"UNKNOWN-CTE" in line or b"literal8" in line, line
    st = b"".join(s.ok(b"STATUS INBOX (MESSAGES)"))
    assert b"MESSAGES 0" in st
