"""CATENATE (RFC 4469) on every store: APPEND builds a message of TEXT
literals and IMAP URLs (RFC 5092) to the user's own messages, sections
and partial ranges of them; in MULTIAPPEND and REPLACE too. The stored
message is compared byte for byte with the concatenation; every error
(BADURL for a bad, foreign, stale or missing reference, TOOBIG past
APPENDLIMIT, OVERQUOTA) leaves the mailbox as it was, and the session
goes on."""
import hashlib
import re

import pytest

from conftest import Haven, check_sanitizers
from rfc9051_common import Session, lit, untagged
from test_multiappend import big_message, status

HDR = (b"From: a@example.org\r\nTo: b@example.org\r\nSubject: parts\r\n"
       b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n")
P1H = b"Content-Type: text/plain\r\n\r\n"
P2H = b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
BODY = (b"--XX\r\n" + P1H + b"first part" + b"\r\n--XX\r\n" + P2H + b"second part" +
        b"\r\n--XX--\r\n")
SRC = HDR + BODY


@pytest.fixture(scope="module")
def servers():
    """One server per store for the module; each test has mailboxes of
    its own."""
    made = {}
    yield made
    for h in made.values():
        check_sanitizers(h.stop())
        h.cleanup()


@pytest.fixture
def server(backend, servers):
    if backend not in servers:
        servers[backend] = Haven(backend=backend).start()
    return servers[backend]


@pytest.fixture
def src(request):
    """This test's source and destination mailboxes."""
    name = re.sub(r"\W", "", request.node.originalname).encode()
    return b"S-" + name, b"D-" + name


def setup_src(s, boxes, msg=SRC):
    """The source holding msg: (uidvalidity, uid)."""
    s.ok(b"CREATE " + boxes[0])
    s.ok(b"CREATE " + boxes[1])
    out = s.append(boxes[0], msg)
    m = re.search(rb"APPENDUID (\d+) (\d+)", out[-1])
    return int(m.group(1)), int(m.group(2))


def url(box, v, uid, rest=b""):
    return b'"/%s;UIDVALIDITY=%d/;UID=%d%s"' % (box, v, uid, rest)


def body_of(s, box, uid):
    s.ok(b"EXAMINE " + box)
    r = untagged(s.ok(b"UID FETCH %d BINARY.PEEK[]" % uid))[0]
    m = re.search(rb"BINARY\[\] ~?\{(\d+)\}\r\n", r)
    s.ok(b"CLOSE")
    return r[m.end():m.end() + int(m.group(1))]


def appended(s, out):
    """The UIDs of a tagged APPENDUID answer."""
    m = re.match(rb"A\d+ OK \[APPENDUID (\d+) (\d+)(?::(\d+))?\] APPEND completed\r\n", out[-1])
    assert m, out
    first = int(m.group(2))
    return list(range(first, int(m.group(3) or first) + 1))


def test_capability(server):
    s = Session(server)
    assert b" CATENATE " in untagged(s.ok(b"CAPABILITY"))[0]


def test_sections_and_partials_byte_for_byte(server, src):
    s = Session(server)
    SRC_BOX, DEST = src
    v, u = setup_src(s, src)
    fields = b"/;SECTION=HEADER.FIELDS%20(SUBJECT%20FROM)"
    parts = [
        (b"TEXT " + lit(b"X-Top: 1\r\n"), b"X-Top: 1\r\n"),
        (b"URL " + url(SRC_BOX, v, u, b"/;SECTION=HEADER"), HDR),
        (b"URL " + url(SRC_BOX, v, u, b"/;SECTION=TEXT"), BODY),
        (b"URL " + url(SRC_BOX, v, u, b"/;SECTION=1.MIME"), P1H),
        (b"URL " + url(SRC_BOX, v, u, b"/;section=1"), b"first part"),
        (b"TEXT " + lit(b"|"), b"|"),
        (b"URL " + url(SRC_BOX, v, u, b"/;SECTION=2"), b"second part"),
        (b"URL " + url(SRC_BOX, v, u, fields), b"From: a@example.org\r\nSubject: parts\r\n\r\n"),
        (b"URL " + url(SRC_BOX, v, u, fields + b"/;PARTIAL=6.5"), b"a@exa"),
        (b"URL " + url(SRC_BOX, v, u, b"/;PARTIAL=6.7"), SRC[6:13]),
        (b"URL " + url(SRC_BOX, v, u, b"/;SECTION=TEXT/;PARTIAL=8"), BODY[8:]),
        (b'URL "imap://alice@localhost/%s/;UID=%d"' % (SRC_BOX, u), SRC),
    ]
    out = s.ok(b"APPEND " + DEST + b" (\\Seen) CATENATE (" + b" ".join(p for p, _ in parts) + b")")
    [uid] = appended(s, out)
    assert body_of(s, DEST, uid) == b"".join(e for _, e in parts)
    # the referenced message is neither changed nor marked \Seen
    s.ok(b"EXAMINE " + SRC_BOX)
    f = untagged(s.ok(b"UID FETCH %d FLAGS" % u))[0]
    assert re.match(rb"\* 1 FETCH \(UID %d FLAGS \((\\Recent)?\)\)\r\n" % u, f), f


def test_synchronizing_literals_literal8_and_urls_alone(server, src):
    s = Session(server)
    SRC_BOX, DEST = src
    v, u = setup_src(s, src)
    t1, t2 = b"X-A: 1\r\n", b"\r\nbin\x00ary\r\n"
    tag = s.next_tag()
    s.send(tag + b" APPEND " + DEST + b" CATENATE (TEXT {%d}\r\n" % len(t1))
    assert s.response() == b"+ OK\r\n"
    s.send(t1 + b" URL " + url(SRC_BOX, v, u, b"/;SECTION=HEADER") + b" TEXT ~{%d}\r\n" % len(t2))
    assert s.response() == b"+ OK\r\n"
    s.send(t2 + b")\r\n")
    out = s.until(tag)
    [uid] = appended(s, out)
    assert body_of(s, DEST, uid) == t1 + HDR + t2
    # a CATENATE of URLs alone is a complete command (no literal)
    out = s.ok(b"APPEND " + DEST + b" CATENATE (URL " + url(SRC_BOX, v, u, b"/;SECTION=2") + b" URL " +
               url(SRC_BOX, v, u, b"/;SECTION=1") + b")")
    [uid2] = appended(s, out)
    assert uid2 == uid + 1 and body_of(s, DEST, uid2) == b"second partfirst part"
    # UTF8 parts (RFC 6855 section 4) once enabled, and a URL as a literal
    utf8 = b"Subject: caf\xc3\xa9\r\n"
    ref = url(SRC_BOX, v, u, b"/;SECTION=1").strip(b'"')
    cmd = (b"APPEND " + DEST + b" CATENATE (UTF8 (~{%d+}\r\n" % len(utf8) + utf8 +
           b") URL " + lit(ref) + b" TEXT " + lit(b"!") + b")")
    assert re.match(rb"A\d+ BAD ", s.cmd(cmd)[-1])
    s.ok(b"ENABLE UTF8=ACCEPT")
    [uid3] = appended(s, s.ok(cmd))
    assert body_of(s, DEST, uid3) == utf8 + b"first part!"


def test_multiappend_with_catenate(server, src):
    s = Session(server)
    SRC_BOX, DEST = src
    v, u = setup_src(s, src)
    out = s.ok(b"APPEND " + DEST + b" CATENATE (URL " + url(SRC_BOX, v, u, b"/;SECTION=HEADER") + b") "
               b"(\\Flagged) CATENATE (TEXT " + lit(b"A: b\r\n\r\n") + b" URL " +
               url(SRC_BOX, v, u, b"/;SECTION=1") + b") " + lit(b"plain: 1\r\n\r\nx") +
               b" CATENATE (URL " + url(SRC_BOX, v, u) + b")")
    uids = appended(s, out)
    assert len(uids) == 4
    assert [body_of(s, DEST, x) for x in uids] == [
        HDR, b"A: b\r\n\r\nfirst part", b"plain: 1\r\n\r\nx", SRC]
    s.ok(b"SELECT " + DEST)
    f = untagged(s.ok(b"UID FETCH %d FLAGS" % uids[1]))[0]
    assert f == b"* 2 FETCH (UID %d FLAGS (\\Flagged \\Recent))\r\n" % uids[1], f
    s.ok(b"CLOSE")
    # one bad URL in the third message: none of the four is stored
    before = status(s, DEST)
    bad = url(SRC_BOX, v, u + 7)
    out = s.cmd(b"APPEND " + DEST + b" CATENATE (URL " + url(SRC_BOX, v, u) + b") " + lit(b"a: 1\r\n\r\n") +
                b" CATENATE (TEXT " + lit(b"b: 2\r\n\r\n") + b" URL " + bad + b" TEXT " +
                lit(b"tail") + b") CATENATE (URL " + url(SRC_BOX, v, u) + b")")
    assert out[-1] == b"A%03d NO [BADURL %s] CATENATE cannot use this URL\r\n" % (
        s.n, bad.strip(b'"')), out
    assert status(s, DEST) == before
    assert s.ok(b"NOOP")


def test_badurl_cases_leave_the_mailbox_untouched(server, src):
    s = Session(server)
    SRC_BOX, DEST = src
    v, u = setup_src(s, src)
    s.append(SRC_BOX, b"Subject: gone\r\n\r\nbye\r\n")
    s.ok(b"SELECT " + SRC_BOX)
    s.ok(b"UID STORE %d +FLAGS (\\Deleted)" % (u + 1))
    s.ok(b"EXPUNGE")
    other = SRC_BOX + b"-o"
    s.ok(b"CREATE " + other)
    before = status(s, DEST)
    at = b"/%s;UIDVALIDITY=%d/;UID=%d" % (SRC_BOX, v, u)
    cases = [
        b"/%s;UIDVALIDITY=%d/;UID=x1" % (SRC_BOX, v),              # unparsable
        at + b"/;URLAUTH=anonymous",
        b"imap://bob@localhost" + at,                               # another user's
        b"imap://localhost/%s/;UID=%d" % (SRC_BOX, u),              # anonymous
        b"/%s;UIDVALIDITY=%d/;UID=%d" % (SRC_BOX, v + 1, u),        # stale UIDVALIDITY
        b"/%s;UIDVALIDITY=%d/;UID=%d" % (SRC_BOX, v, u + 1),        # expunged
        b"/%s;UIDVALIDITY=%d/;UID=%d" % (SRC_BOX, v, u + 50),       # never there
        at + b"/;SECTION=3",                                        # no such part
        at + b"/;SECTION=1.2.3",
        at + b"/;SECTION=BOGUS",
        b"/Nope/;UID=1",                                            # no such mailbox
        b"/%s/;UID=1" % other,                                      # empty mailbox
    ]
    for c in cases:
        out = s.cmd(b"APPEND " + DEST + b" CATENATE (TEXT " + lit(b"x: y\r\n") + b' URL "' + c +
                    b'" TEXT ' + lit(b"\r\nz") + b")")
        assert out == [b"A%03d NO [BADURL %s] CATENATE cannot use this URL\r\n" % (s.n, c)], c
    # refused before the "+" of a synchronizing TEXT that follows
    tag = s.next_tag()
    s.send(tag + b" APPEND " + DEST + b' CATENATE (URL "/Nope/;UID=1" TEXT {5}\r\n')
    assert s.response() == tag + b" NO [BADURL /Nope/;UID=1] CATENATE cannot use this URL\r\n"
    assert status(s, DEST) == before
    assert status(s, b"INBOX")[0] == 0


def test_bad_syntax_and_the_session_goes_on(server, src):
    s = Session(server)
    SRC_BOX, DEST = src
    v, u = setup_src(s, src)
    before = status(s, DEST)
    for args in (b"CATENATE ()", b"CATENATE (URL)", b'CATENATE (TEXT "inline")',
                 b'CATENATE (URL "/Src/;UID=1" BOGUS "x")', b"CATENATE URL"):
        out = s.cmd(b"APPEND " + DEST + b" " + args)
        assert re.match(rb"A\d+ BAD ", out[-1]) and len(out) == 1, (args, out)
    # a non-synchronizing literal after the error is skipped, not run
    out = s.cmd(b"APPEND " + DEST + b" CATENATE (FOO " + lit(b"A003 LOGOUT") + b")")
    assert re.match(rb"A\d+ BAD ", out[-1]), out
    assert status(s, DEST) == before
    s.ok(b"NOOP")


def test_replace_with_catenate(server, src):
    s = Session(server)
    SRC_BOX, DEST = src
    v, u = setup_src(s, src)
    s.ok(b"SELECT " + SRC_BOX)
    # the new message takes the old one's header, then the old one goes
    out = s.ok(b"REPLACE 1 " + SRC_BOX + b" CATENATE (URL " + url(SRC_BOX, v, u, b"/;SECTION=HEADER") + b" TEXT " +
               lit(b"new body\r\n") + b")")
    assert out[0] == b"* OK [APPENDUID %d %d] Replacement Message ready\r\n" % (v, u + 1), out
    assert out[-1] == b"A%03d OK REPLACE completed\r\n" % s.n
    out = s.ok(b"UID REPLACE %d " % (u + 1) + SRC_BOX + b" CATENATE (URL " + url(SRC_BOX, v, u + 1, b"/;SECTION=TEXT") +
               b")")
    assert out[0] == b"* OK [APPENDUID %d %d] Replacement Message ready\r\n" % (v, u + 2), out
    assert body_of(s, SRC_BOX, u + 2) == b"new body\r\n"
    assert status(s, SRC_BOX)[0] == 1


def test_toobig_and_overquota(haven_factory, src):
    SRC_BOX, DEST = src
    h = haven_factory(extra_conf="max_literal = 20000\nquota_bytes = 32000\n")
    s = Session(h)
    big = big_message(15000, b"B")
    v, u = setup_src(s, src, big)
    before = status(s, DEST)
    out = s.cmd(b"APPEND " + DEST + b" CATENATE (URL " + url(SRC_BOX, v, u) + b" URL " + url(SRC_BOX, v, u) + b")")
    assert out == [b"A%03d NO [TOOBIG] Catenated message too large\r\n" % s.n], out
    out = s.cmd(b"APPEND " + DEST + b" CATENATE (URL " + url(SRC_BOX, v, u) + b" TEXT " + lit(b"x" * 6000) + b")")
    assert out == [b"A%03d NO [TOOBIG] Catenated message too large\r\n" % s.n], out
    out = s.cmd(b"APPEND " + DEST + b" CATENATE (URL " + url(SRC_BOX, v, u) + b" TEXT " + lit(b"x" * 3000) + b")")
    assert re.match(rb"A\d+ NO \[OVERQUOTA\] ", out[-1]) and len(out) == 1, out
    assert status(s, DEST) == before
    out = s.ok(b"APPEND " + DEST + b" CATENATE (URL " + url(SRC_BOX, v, u, b"/;PARTIAL=0.10000") + b")")
    assert body_of(s, DEST, appended(s, out)[0]) == big[:10000]


def test_several_megabytes_referenced(server, src):
    s = Session(server)
    SRC_BOX, DEST = src
    big = big_message(4 * 1024 * 1024 + 17, b"M")
    v, u = setup_src(s, src, big)
    head = b"Subject: forwarded\r\nContent-Type: message/rfc822\r\n\r\n"
    out = s.ok(b"APPEND " + DEST + b" CATENATE (TEXT " + lit(head) + b" URL " + url(SRC_BOX, v, u) + b" URL " +
               url(SRC_BOX, v, u, b"/;SECTION=TEXT") + b")")
    [uid] = appended(s, out)
    got = body_of(s, DEST, uid)
    text = big[big.index(b"\r\n\r\n") + 4:]
    assert len(got) == len(head) + len(big) + len(text)
    assert hashlib.sha256(got).digest() == hashlib.sha256(head + big + text).digest()


# Differential: the same CATENATE commands against Dovecot (which offers
# CATENATE), each server's own UIDVALIDITY in the URLs. Compared: the
# result of each command with its response code (APPENDUID's UIDVALIDITY
# and BADURL's URL made comparable), and the bytes stored. Relative URLs
# only: how an absolute URL's host must read is each server's own. Dovecot
# with Maildir: its mbox driver counts the CRLF before a closing boundary
# into the last part (RFC 2046 5.1.1 gives it to the boundary), which is
# its FETCH's way, not CATENATE's.
DIFF_CASES = [
    b"CATENATE (TEXT %(t1)s URL %(whole)s)",
    b"CATENATE (URL %(header)s TEXT %(t2)s URL %(p1mime)s URL %(p1)s URL %(p2)s)",
    b"CATENATE (URL %(text)s URL %(partial)s)",
    b"CATENATE (URL %(stale)s)",
    b"CATENATE (TEXT %(t1)s URL %(nouid)s)",
    b"CATENATE (URL %(whole)s) (\\Seen) CATENATE (TEXT %(t2)s URL %(p2)s)",
    b"CATENATE (URL %(whole)s) CATENATE (URL %(nouid)s)",
]


def diff_script(server):
    s = Session(server, login=False)
    s.ok(b"LOGIN alice pw-alice")
    v, u = setup_src(s, (b"S-diff", b"D-diff"))
    box = b"S-diff"
    args = {
        b"t1": lit(b"X-Top: 1\r\n"), b"t2": lit(b"\r\n--tail--\r\n"),
        b"whole": url(box, v, u), b"header": url(box, v, u, b"/;SECTION=HEADER"),
        b"text": url(box, v, u, b"/;SECTION=TEXT"), b"p1": url(box, v, u, b"/;SECTION=1"),
        b"p1mime": url(box, v, u, b"/;SECTION=1.MIME"), b"p2": url(box, v, u, b"/;SECTION=2"),
        b"partial": url(box, v, u, b"/;PARTIAL=6.7"), b"stale": url(box, v + 1, u),
        b"nouid": url(box, v, u + 9),
    }
    out = []
    for case in DIFF_CASES:
        r = s.cmd(b"APPEND D-diff " + case % args)[-1]
        r = re.sub(rb"^A\d+ ", b"", r).replace(b"%d" % v, b"V").replace(b"%d" % (v + 1), b"V1")
        m = re.match(rb"(OK|NO|BAD)(?: \[((?:APPENDUID|BADURL)[^\]]*)\])?", r)
        out.append((case, m.group(1), m.group(2)))
    s.ok(b"EXAMINE D-diff")
    stored = [r for r in untagged(s.ok(b"UID FETCH 1:* BINARY.PEEK[]")) if b"FETCH" in r]
    return out, [re.sub(rb"^\* \d+ FETCH \(UID \d+ |^\* \d+ FETCH \(", b"", r) for r in stored]


@pytest.fixture(scope="module")
def dovecot_catenate():
    from dovecot import available, dovecot_transcript
    if not available():
        pytest.skip("needs root and dovecot-imapd")
    return dovecot_transcript(diff_script)


def test_same_as_dovecot(server, dovecot_catenate):
    ours = diff_script(server)
    assert ours[0] == dovecot_catenate[0]
    assert ours[1] == dovecot_catenate[1]
