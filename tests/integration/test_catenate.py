"""CATENATE (RFC 4469) on every store: APPEND builds a message of TEXT
literals and IMAP URLs (RFC 5092) to the user's own messages, sections
and partial ranges of them; in MULTIAPPEND and REPLACE too. The stored
message is compared byte for byte with the concatenation; every error
(BADURL for a bad, foreign, stale or missing reference, TOOBIG past
APPENDLIMIT, OVERQUOTA) leaves the mailbox as it was, and the session
goes on."""
import hashlib
import re

from rfc9051_common import Session, lit, untagged
from test_multiappend import big_message, status

HDR = (b"From: a@example.org\r\nTo: b@example.org\r\nSubject: parts\r\n"
       b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n")
P1H = b"Content-Type: text/plain\r\n\r\n"
P2H = b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
BODY = (b"--XX\r\n" + P1H + b"first part" + b"\r\n--XX\r\n" + P2H + b"second part" +
        b"\r\n--XX--\r\n")
SRC = HDR + BODY


def setup_src(s, msg=SRC):
    """Src holding msg: (uidvalidity, uid)."""
    s.ok(b"CREATE Src")
    s.ok(b"CREATE Dest")
    out = s.append(b"Src", msg)
    m = re.search(rb"APPENDUID (\d+) (\d+)", out[-1])
    return int(m.group(1)), int(m.group(2))


def url(v, uid, rest=b"", box=b"Src"):
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


def test_capability(haven):
    s = Session(haven)
    assert b" CATENATE " in untagged(s.ok(b"CAPABILITY"))[0]


def test_sections_and_partials_byte_for_byte(haven):
    s = Session(haven)
    v, u = setup_src(s)
    fields = b"/;SECTION=HEADER.FIELDS%20(SUBJECT%20FROM)"
    parts = [
        (b"TEXT " + lit(b"X-Top: 1\r\n"), b"X-Top: 1\r\n"),
        (b"URL " + url(v, u, b"/;SECTION=HEADER"), HDR),
        (b"URL " + url(v, u, b"/;SECTION=TEXT"), BODY),
        (b"URL " + url(v, u, b"/;SECTION=1.MIME"), P1H),
        (b"URL " + url(v, u, b"/;section=1"), b"first part"),
        (b"TEXT " + lit(b"|"), b"|"),
        (b"URL " + url(v, u, b"/;SECTION=2"), b"second part"),
        (b"URL " + url(v, u, fields), b"From: a@example.org\r\nSubject: parts\r\n\r\n"),
        (b"URL " + url(v, u, fields + b"/;PARTIAL=6.5"), b"a@exa"),
        (b"URL " + url(v, u, b"/;PARTIAL=6.7"), SRC[6:13]),
        (b"URL " + url(v, u, b"/;SECTION=TEXT/;PARTIAL=8"), BODY[8:]),
        (b'URL "imap://alice@localhost/Src/;UID=%d"' % u, SRC),
    ]
    out = s.ok(b"APPEND Dest (\\Seen) CATENATE (" + b" ".join(p for p, _ in parts) + b")")
    [uid] = appended(s, out)
    assert body_of(s, b"Dest", uid) == b"".join(e for _, e in parts)
    # the referenced message is neither changed nor marked \Seen
    s.ok(b"EXAMINE Src")
    f = untagged(s.ok(b"UID FETCH %d FLAGS" % u))[0]
    assert re.match(rb"\* 1 FETCH \(UID %d FLAGS \((\\Recent)?\)\)\r\n" % u, f), f


def test_synchronizing_literals_literal8_and_urls_alone(haven):
    s = Session(haven)
    v, u = setup_src(s)
    t1, t2 = b"X-A: 1\r\n", b"\r\nbin\x00ary\r\n"
    tag = s.next_tag()
    s.send(tag + b" APPEND Dest CATENATE (TEXT {%d}\r\n" % len(t1))
    assert s.response() == b"+ OK\r\n"
    s.send(t1 + b" URL " + url(v, u, b"/;SECTION=HEADER") + b" TEXT ~{%d}\r\n" % len(t2))
    assert s.response() == b"+ OK\r\n"
    s.send(t2 + b")\r\n")
    out = s.until(tag)
    [uid] = appended(s, out)
    assert body_of(s, b"Dest", uid) == t1 + HDR + t2
    # a CATENATE of URLs alone is a complete command (no literal)
    out = s.ok(b"APPEND Dest CATENATE (URL " + url(v, u, b"/;SECTION=2") + b" URL " +
               url(v, u, b"/;SECTION=1") + b")")
    [uid2] = appended(s, out)
    assert uid2 == uid + 1 and body_of(s, b"Dest", uid2) == b"second partfirst part"


def test_multiappend_with_catenate(haven):
    s = Session(haven)
    v, u = setup_src(s)
    out = s.ok(b"APPEND Dest CATENATE (URL " + url(v, u, b"/;SECTION=HEADER") + b") "
               b"(\\Flagged) CATENATE (TEXT " + lit(b"A: b\r\n\r\n") + b" URL " +
               url(v, u, b"/;SECTION=1") + b") " + lit(b"plain: 1\r\n\r\nx") +
               b" CATENATE (URL " + url(v, u) + b")")
    uids = appended(s, out)
    assert len(uids) == 4
    assert [body_of(s, b"Dest", x) for x in uids] == [
        HDR, b"A: b\r\n\r\nfirst part", b"plain: 1\r\n\r\nx", SRC]
    s.ok(b"SELECT Dest")
    f = untagged(s.ok(b"UID FETCH %d FLAGS" % uids[1]))[0]
    assert f == b"* 2 FETCH (UID %d FLAGS (\\Flagged \\Recent))\r\n" % uids[1], f
    s.ok(b"CLOSE")
    # one bad URL in the third message: none of the four is stored
    before = status(s, b"Dest")
    bad = url(v, u + 7)
    out = s.cmd(b"APPEND Dest CATENATE (URL " + url(v, u) + b") " + lit(b"a: 1\r\n\r\n") +
                b" CATENATE (TEXT " + lit(b"b: 2\r\n\r\n") + b" URL " + bad + b" TEXT " +
                lit(b"tail") + b") CATENATE (URL " + url(v, u) + b")")
    assert out[-1] == b"A%03d NO [BADURL %s] CATENATE cannot use this URL\r\n" % (
        s.n, bad.strip(b'"')), out
    assert status(s, b"Dest") == before
    assert s.ok(b"NOOP")


def test_badurl_cases_leave_the_mailbox_untouched(haven):
    s = Session(haven)
    v, u = setup_src(s)
    s.append(b"Src", b"Subject: gone\r\n\r\nbye\r\n")
    s.ok(b"SELECT Src")
    s.ok(b"UID STORE %d +FLAGS (\\Deleted)" % (u + 1))
    s.ok(b"EXPUNGE")
    s.ok(b"CREATE Other")
    before = status(s, b"Dest")
    cases = [
        b"/Src;UIDVALIDITY=%d/;UID=x1" % v,                       # unparsable
        b"/Src;UIDVALIDITY=%d/;UID=%d/;URLAUTH=anonymous" % (v, u),
        b"imap://bob@localhost/Src;UIDVALIDITY=%d/;UID=%d" % (v, u),   # another user's
        b"imap://localhost/Src/;UID=%d" % u,                       # anonymous
        b"/Src;UIDVALIDITY=%d/;UID=%d" % (v + 1, u),               # stale UIDVALIDITY
        b"/Src;UIDVALIDITY=%d/;UID=%d" % (v, u + 1),               # expunged
        b"/Src;UIDVALIDITY=%d/;UID=%d" % (v, u + 50),              # never there
        b"/Src;UIDVALIDITY=%d/;UID=%d/;SECTION=3" % (v, u),        # no such part
        b"/Src;UIDVALIDITY=%d/;UID=%d/;SECTION=1.2.3" % (v, u),
        b"/Src;UIDVALIDITY=%d/;UID=%d/;SECTION=BOGUS" % (v, u),
        b"/Nope/;UID=1",                                           # no such mailbox
        b"/Other/;UID=1",                                          # empty mailbox
    ]
    for c in cases:
        out = s.cmd(b"APPEND Dest CATENATE (TEXT " + lit(b"x: y\r\n") + b' URL "' + c +
                    b'" TEXT ' + lit(b"\r\nz") + b")")
        assert out == [b"A%03d NO [BADURL %s] CATENATE cannot use this URL\r\n" % (s.n, c)], c
    # refused before the "+" of a synchronizing TEXT that follows
    tag = s.next_tag()
    s.send(tag + b' APPEND Dest CATENATE (URL "/Nope/;UID=1" TEXT {5}\r\n')
    assert s.response() == tag + b" NO [BADURL /Nope/;UID=1] CATENATE cannot use this URL\r\n"
    assert status(s, b"Dest") == before
    assert status(s, b"INBOX")[0] == 0


def test_bad_syntax_and_the_session_goes_on(haven):
    s = Session(haven)
    v, u = setup_src(s)
    before = status(s, b"Dest")
    for args in (b"CATENATE ()", b"CATENATE (URL)", b'CATENATE (TEXT "inline")',
                 b'CATENATE (URL "/Src/;UID=1" BOGUS "x")', b"CATENATE URL"):
        out = s.cmd(b"APPEND Dest " + args)
        assert re.match(rb"A\d+ BAD ", out[-1]) and len(out) == 1, (args, out)
    # a non-synchronizing literal after the error is skipped, not run
    out = s.cmd(b"APPEND Dest CATENATE (FOO " + lit(b"A003 LOGOUT") + b")")
    assert re.match(rb"A\d+ BAD ", out[-1]), out
    assert status(s, b"Dest") == before
    s.ok(b"NOOP")


def test_replace_with_catenate(haven):
    s = Session(haven)
    v, u = setup_src(s)
    s.ok(b"SELECT Src")
    # the new message takes the old one's header, then the old one goes
    out = s.ok(b"REPLACE 1 Src CATENATE (URL " + url(v, u, b"/;SECTION=HEADER") + b" TEXT " +
               lit(b"new body\r\n") + b")")
    assert out[0] == b"* OK [APPENDUID %d %d] Replacement Message ready\r\n" % (v, u + 1), out
    assert out[-1] == b"A%03d OK REPLACE completed\r\n" % s.n
    out = s.ok(b"UID REPLACE %d Src CATENATE (URL " % (u + 1) + url(v, u + 1, b"/;SECTION=TEXT") +
               b")")
    assert out[0] == b"* OK [APPENDUID %d %d] Replacement Message ready\r\n" % (v, u + 2), out
    assert body_of(s, b"Src", u + 2) == b"new body\r\n"
    assert status(s, b"Src")[0] == 1


def test_toobig_and_overquota(haven_factory):
    h = haven_factory(extra_conf="max_literal = 20000\nquota_bytes = 32000\n")
    s = Session(h)
    big = big_message(15000, b"B")
    v, u = setup_src(s, big)
    before = status(s, b"Dest")
    out = s.cmd(b"APPEND Dest CATENATE (URL " + url(v, u) + b" URL " + url(v, u) + b")")
    assert out == [b"A%03d NO [TOOBIG] Catenated message too large\r\n" % s.n], out
    out = s.cmd(b"APPEND Dest CATENATE (URL " + url(v, u) + b" TEXT " + lit(b"x" * 6000) + b")")
    assert out == [b"A%03d NO [TOOBIG] Catenated message too large\r\n" % s.n], out
    out = s.cmd(b"APPEND Dest CATENATE (URL " + url(v, u) + b" TEXT " + lit(b"x" * 3000) + b")")
    assert re.match(rb"A\d+ NO \[OVERQUOTA\] ", out[-1]) and len(out) == 1, out
    assert status(s, b"Dest") == before
    out = s.ok(b"APPEND Dest CATENATE (URL " + url(v, u, b"/;PARTIAL=0.10000") + b")")
    assert body_of(s, b"Dest", appended(s, out)[0]) == big[:10000]


def test_several_megabytes_referenced(haven):
    s = Session(haven)
    big = big_message(6 * 1024 * 1024 + 17, b"M")
    v, u = setup_src(s, big)
    head = b"Subject: forwarded\r\nContent-Type: message/rfc822\r\n\r\n"
    out = s.ok(b"APPEND Dest CATENATE (TEXT " + lit(head) + b" URL " + url(v, u) + b" URL " +
               url(v, u, b"/;SECTION=TEXT") + b")")
    [uid] = appended(s, out)
    got = body_of(s, b"Dest", uid)
    text = big[big.index(b"\r\n\r\n") + 4:]
    assert len(got) == len(head) + len(big) + len(text)
    assert hashlib.sha256(got).digest() == hashlib.sha256(head + big + text).digest()
