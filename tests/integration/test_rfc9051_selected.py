"""RFC 9051 section 6.4: the selected-state commands (CLOSE, UNSELECT,
EXPUNGE, SEARCH, FETCH, STORE, COPY, MOVE, UID) with the examples of the
RFC's text, as IMAP4rev1 and after ENABLE IMAP4rev2; the rule that no
EXPUNGE is sent during FETCH/STORE/SEARCH (7.5.1), and pipelining."""
import re

import pytest

from rfc9051_common import Session, lit, mode, simple_msg, untagged  # noqa: F401


def norecent(line):
    """\\Recent is not asserted about here (being implemented elsewhere)."""
    return line.replace(b" \\Recent", b"").replace(b"\\Recent ", b"").replace(b"(\\Recent)", b"()")


def nr(lines):
    return [norecent(l) for l in lines if not l.endswith(b" RECENT\r\n")]


def fetch_flags(lines):
    """{seq: set(flags)} from FETCH responses, \\Recent left out."""
    out = {}
    for l in lines:
        m = re.match(rb"\* (\d+) FETCH \((?:UID (\d+) )?FLAGS \(([^)]*)\)(?: UID (\d+))?\)\r\n$", l)
        if m:
            out[int(m.group(1))] = set(m.group(3).split()) - {b"\\Recent"}
    return out


def apply_expunges(lines, uids):
    """Plays the EXPUNGE responses in lines against the UIDs of the message
    sequence (in any order the server chose: each EXPUNGE renumbers at once,
    7.4.1) and returns the UIDs left. An EXISTS may only confirm the count."""
    uids = list(uids)
    for l in lines:
        m = re.match(rb"\* (\d+) (EXPUNGE|EXISTS|RECENT)\r\n$", l)
        if not m:
            continue
        n = int(m.group(1))
        if m.group(2) == b"EXPUNGE":
            assert 1 <= n <= len(uids), (l, uids)
            del uids[n - 1]
        elif m.group(2) == b"EXISTS":
            assert n == len(uids), (l, uids)
    return uids


def uidvalidity(s, box):
    out = untagged(s.ok(b"STATUS " + box + b" (UIDVALIDITY)"))
    return int(re.search(rb"UIDVALIDITY (\d+)", out[0]).group(1))


# A mailbox for the 6.4.4 SEARCH examples: FLAGGED SINCE 1-Feb-1994 NOT FROM
# "Smith" is 2, 10 and 11 (1 is too old, 5 is from Smith).
def search_box(s):
    for i in range(1, 12):
        date = b"15-Jan-1994 10:00:00 +0000" if i == 1 else b"%02d-Feb-1994 10:00:00 +0000" % i
        flags = b"\\Flagged" if i in (1, 2, 5, 10, 11) else b""
        if i == 3:
            flags = b"$Keyword \\Seen"
        frm = b"John Smith <smith@example.org>" if i == 5 else None
        extra = b""
        body_extra = b""
        if i == 6:
            extra = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
            body_extra = "Grüße von Gräfe\r\n".encode()
        msg = simple_msg(i, frm=frm, extra=extra) + body_extra + (b"x" * 2000 if i == 7 else b"")
        s.append(b"INBOX", msg, flags=flags, date=date)
    s.ok(b"SELECT INBOX")


def search(s, args, tag=None, uid=False):
    """Runs SEARCH; checks the rev1 (* SEARCH) or rev2 (* ESEARCH) form and
    returns the matching numbers as a list."""
    tag = tag or s.next_tag()
    out = s.ok((b"UID SEARCH " if uid else b"SEARCH ") + args, tag)
    u = untagged(out)
    assert len(u) == 1, out
    if s.rev2:
        m = re.match(rb'\* ESEARCH \(TAG "%s"\)( UID)?(?: ALL ([\d:,]+))?\r\n$' % tag, u[0])
        assert m, u
        assert bool(m.group(1)) == uid, u
        return expand(m.group(2)) if m.group(2) else []
    m = re.match(rb"\* SEARCH((?: \d+)*)\r\n$", u[0])
    assert m, u
    return [int(x) for x in m.group(1).split()]


def expand(seqset):
    out = []
    for part in seqset.split(b","):
        if b":" in part:
            a, b = part.split(b":")
            out += range(int(a), int(b) + 1)
        else:
            out.append(int(part))
    return out


# ---- 6.4.1 CLOSE / 6.4.2 UNSELECT ---------------------------------------------

def test_close_expunges_silently(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    for i in range(1, 4):
        s.append(b"INBOX", simple_msg(i), flags=b"\\Deleted" if i == 2 else b"")
    s.ok(b"SELECT INBOX")
    out = s.ok(b"CLOSE", b"A341")
    assert out == [b"A341 OK CLOSE completed\r\n"], out      # no EXPUNGE responses
    s.bad(b"FETCH 1 FLAGS")                                   # back in authenticated state
    st = untagged(s.ok(b"STATUS INBOX (MESSAGES)"))
    assert st == [b'* STATUS "INBOX" (MESSAGES 2)\r\n'], st
    # CLOSE on an EXAMINEd mailbox does not expunge
    s.ok(b"SELECT INBOX")
    s.ok(b"STORE 1 +FLAGS (\\Deleted)")
    s.ok(b"EXAMINE INBOX")
    assert s.ok(b"CLOSE") == [b"A%03d OK CLOSE completed\r\n" % s.n]
    assert untagged(s.ok(b"STATUS INBOX (MESSAGES)")) == [b'* STATUS "INBOX" (MESSAGES 2)\r\n']
    s.close()


def test_unselect_does_not_expunge(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    s.append(b"INBOX", simple_msg(1), flags=b"\\Deleted")
    s.ok(b"SELECT INBOX")
    out = s.ok(b"UNSELECT", b"A342")
    assert out == [b"A342 OK UNSELECT completed\r\n"], out
    s.bad(b"FETCH 1 FLAGS")
    assert untagged(s.ok(b"STATUS INBOX (MESSAGES DELETED)")) == \
        [b'* STATUS "INBOX" (MESSAGES 1 DELETED 1)\r\n']
    s.bad(b"UNSELECT")
    s.close()


# ---- 6.4.3 EXPUNGE ------------------------------------------------------------

def test_expunge_example(haven, mode):
    # messages 3, 4, 7 and 11 have \Deleted set
    s = Session(haven, rev2=(mode == "rev2"))
    for i in range(1, 12):
        s.append(b"INBOX", simple_msg(i), flags=b"\\Deleted" if i in (3, 4, 7, 11) else b"")
    s.ok(b"SELECT INBOX")
    out = s.ok(b"EXPUNGE", b"A202")
    # the RFC's example sends 3, 3, 5, 8; any order that renumbers correctly is valid
    assert out[-1] == b"A202 OK EXPUNGE completed\r\n"
    assert len([l for l in out if l.endswith(b" EXPUNGE\r\n")]) == 4, out
    assert all(re.match(rb"\* \d+ (EXPUNGE|EXISTS|RECENT)\r\n$", l) for l in out[:-1]), out
    assert apply_expunges(out, range(1, 12)) == [1, 2, 5, 6, 8, 9, 10], out
    out = untagged(s.ok(b"FETCH 1:* (UID)"))
    assert out == [b"* %d FETCH (UID %d)\r\n" % (n + 1, u)
                   for n, u in enumerate((1, 2, 5, 6, 8, 9, 10))], out
    assert s.ok(b"EXPUNGE") == [b"A%03d OK EXPUNGE completed\r\n" % s.n]
    s.close()


# ---- 6.4.4 SEARCH -------------------------------------------------------------

def test_search_examples(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    search_box(s)
    assert search(s, b'FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"', b"A282") == [2, 10, 11]
    if s.rev2:
        out = s.ok(b'SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"', b"A282")
        assert out[0] == b'* ESEARCH (TAG "A282") ALL 2,10:11\r\n', out
    else:
        out = s.ok(b'SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"', b"A282")
        assert out[0] == b"* SEARCH 2 10 11\r\n", out
    out = s.ok(b'SEARCH TEXT "string not in mailbox"', b"A284")
    assert out[0] == (b'* ESEARCH (TAG "A284")\r\n' if s.rev2 else b"* SEARCH\r\n"), out
    # RETURN options give ESEARCH in both modes (RFC 4731 / 9051)
    out = s.ok(b'SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"', b"A282")
    assert out[0] == b'* ESEARCH (TAG "A282") MIN 2 COUNT 3\r\n', out
    out = s.ok(b'SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"', b"A283")
    assert out[0] == b'* ESEARCH (TAG "A283") ALL 2,10:11\r\n', out
    out = s.ok(b"SEARCH RETURN (MIN MAX COUNT ALL) NOT FLAGGED", b"A285")
    m = re.match(rb'\* ESEARCH \(TAG "A285"\) (.*)\r\n$', out[0])
    assert m, out
    vals = m.group(1).split()      # return data items come in any order
    assert dict(zip(vals[::2], vals[1::2])) == {b"MIN": b"3", b"MAX": b"9", b"COUNT": b"6",
                                                 b"ALL": b"3:4,6:9"}, out
    out = s.ok(b"SEARCH RETURN (COUNT) TEXT nowhere", b"A286")
    assert out[0] == b'* ESEARCH (TAG "A286") COUNT 0\r\n', out
    # CHARSET UTF-8 with a literal (6.4.4 A285/A286)
    assert search(s, b"CHARSET UTF-8 TEXT " + lit("Gräfe".encode())) == [6]
    assert search(s, b"CHARSET UTF-8 BODY " + lit("grüsse".encode())) in ([], [6])
    out = s.cmd(b"SEARCH CHARSET X-NO-SUCH-CHARSET TEXT x")
    assert out[-1].startswith(b"A%03d NO [BADCHARSET" % s.n), out
    s.close()


def test_search_keys(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    search_box(s)
    assert search(s, b"ALL") == list(range(1, 12))
    assert search(s, b'OR FROM "smith" SUBJECT "message 3"') == [3, 5]
    assert search(s, b"NOT FLAGGED") == [3, 4, 6, 7, 8, 9]
    assert search(s, b"NOT NOT FLAGGED") == [1, 2, 5, 10, 11]
    assert search(s, b"OR (SEEN KEYWORD $Keyword) BEFORE 1-Feb-1994") == [1, 3]
    assert search(s, b"UNSEEN UNKEYWORD $Keyword 1:4") == [1, 2, 4]
    # dates are internal dates, compared by day
    assert search(s, b"BEFORE 1-Feb-1994") == [1]
    assert search(s, b"ON 3-Feb-1994") == [3]
    assert search(s, b"SINCE 10-Feb-1994") == [10, 11]
    assert search(s, b"SENTON 7-Feb-1994") == list(range(1, 12))
    assert search(s, b"LARGER 1000") == [7]
    assert search(s, b"SMALLER 1000 HEADER Message-ID <m4@") == [4]
    assert search(s, b"9:*") == [9, 10, 11]
    assert search(s, b"*") == [11]
    # UID ranges; * is the highest UID
    assert search(s, b"UID 3:5") == [3, 4, 5]
    assert search(s, b"UID 10:*") == [10, 11]
    assert search(s, b"UID 100:*") == [11]
    assert search(s, b"UID 3:5", uid=True) == [3, 4, 5]
    assert search(s, b"FLAGGED", uid=True) == [1, 2, 5, 10, 11]
    assert search(s, b"UID 200:300") == []
    s.bad(b"SEARCH NOSUCHKEY")
    s.bad(b"SEARCH SINCE 31-Foo-1994")
    s.close()


def test_search_save_and_dollar(haven, mode):
    # 6.4.4.4 examples
    s = Session(haven, rev2=(mode == "rev2"))
    search_box(s)
    out = s.ok(b'SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"', b"A282")
    assert out == [out[-1]] and out[-1].startswith(b"A282 OK"), out   # SAVE alone: no ESEARCH
    out = untagged(s.ok(b"FETCH $ (UID)", b"A283"))
    assert out == [b"* 2 FETCH (UID 2)\r\n", b"* 10 FETCH (UID 10)\r\n",
                   b"* 11 FETCH (UID 11)\r\n"], out
    assert search(s, b"$ NOT UID 10") == [2, 11]
    assert search(s, b"OR $ 1") == [1, 2, 10, 11]
    # SAVE with MIN MAX saves only min and max
    out = s.ok(b"SEARCH RETURN (MIN MAX SAVE) FLAGGED", b"A301")
    assert out[0] == b'* ESEARCH (TAG "A301") MIN 1 MAX 11\r\n', out
    assert search(s, b"$") == [1, 11]
    out = s.ok(b"UID SEARCH RETURN (SAVE ALL) SUBJECT message", b"A302")
    assert out[0] == b'* ESEARCH (TAG "A302") UID ALL 1:11\r\n', out
    assert len(s.ok(b"UID STORE $ +FLAGS.SILENT (\\Answered)")) == 1
    assert search(s, b"ANSWERED") == list(range(1, 12))
    # a search matching nothing saves the empty set
    s.ok(b"SEARCH RETURN (SAVE) UID 500")
    assert search(s, b"$") == []
    s.close()


# ---- 6.4.5 FETCH ---------------------------------------------------------------

MP = (b"From: Alice Example <alice@example.org>\r\n"
      b"To: Bob <bob@example.org>, carol@example.org\r\n"
      b"Cc: Dave <dave@example.org>\r\n"
      b"Subject: multipart test\r\n"
      b"Date: Wed, 17 Jul 1996 02:23:25 -0700\r\n"
      b"Message-ID: <mp1@example.org>\r\n"
      b"MIME-Version: 1.0\r\n"
      b"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
      b"\r\n"
      b"preamble\r\n"
      b"--outer\r\n"
      b"Content-Type: text/plain; charset=us-ascii\r\n"
      b"\r\n"
      b"part one\r\n"
      b"--outer\r\n"
      b"Content-Type: application/octet-stream\r\n"
      b"Content-Transfer-Encoding: base64\r\n"
      b"\r\n"
      b"AAECAwQ=\r\n"
      b"--outer\r\n"
      b"Content-Type: message/rfc822\r\n"
      b"\r\n"
      b"Subject: inner\r\n"
      b"From: c@example.org\r\n"
      b"\r\n"
      b"inner body\r\n"
      b"--outer--\r\n")
MP_HEADER = MP[:MP.index(b"\r\n\r\n") + 4]
MP_TEXT = MP[len(MP_HEADER):]

RFC_MSG = (b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
           b"From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
           b"Subject: afternoon meeting\r\n"
           b"To: mooch@owatagu.siam.edu.example\r\n"
           b"Message-Id: <B27397-0100000@Blurdybloop.example>\r\n"
           b"MIME-Version: 1.0\r\n"
           b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
           b"\r\n"
           b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n")
RFC_ENVELOPE = (b'("Mon, 7 Feb 1994 21:52:25 -0800 (PST)" "afternoon meeting" '
                b'(("Fred Foobar" NIL "foobar" "Blurdybloop.example")) '
                b'(("Fred Foobar" NIL "foobar" "Blurdybloop.example")) '
                b'(("Fred Foobar" NIL "foobar" "Blurdybloop.example")) '
                b'((NIL NIL "mooch" "owatagu.siam.edu.example")) NIL NIL NIL '
                b'"<B27397-0100000@Blurdybloop.example>")')
RFC_BODY = b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 55 1)'


@pytest.fixture
def fetch_session(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    s.append(b"INBOX", RFC_MSG, date=b"07-Feb-1994 21:52:25 -0800")
    s.append(b"INBOX", MP, date=b"17-Jul-1996 02:44:25 -0700")
    for i in range(3, 5):
        s.append(b"INBOX", simple_msg(i))
    s.ok(b"SELECT INBOX")
    yield s
    s.close()


def fetch1(s, seq, items):
    out = untagged(s.ok(b"FETCH %s %s" % (seq, items)))
    assert len(out) == 1, out
    return norecent(out[0])


def test_fetch_example_header_fields(fetch_session):
    s = fetch_session
    out = nr(s.ok(b"FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])", b"A654"))
    assert out[-1] == b"A654 OK FETCH completed\r\n"
    hdr = b"From: Alice Example <alice@example.org>\r\nDate: Wed, 17 Jul 1996 02:23:25 -0700\r\n\r\n"
    assert out[0] == b"* 2 FETCH (FLAGS (\\Seen) BODY[HEADER.FIELDS (DATE FROM)] {%d}\r\n%s)\r\n" \
        % (len(hdr), hdr), out
    assert [l[:12] for l in out[1:3]] == [b"* 3 FETCH (F", b"* 4 FETCH (F"]
    h4 = b"From: user4@example.org\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\n\r\n"
    assert out[2] == b"* 4 FETCH (FLAGS (\\Seen) BODY[HEADER.FIELDS (DATE FROM)] {%d}\r\n%s)\r\n" \
        % (len(h4), h4), out


def test_fetch_body_sections(fetch_session):
    s = fetch_session
    def sec(name, data, seq=b"2"):
        got = fetch1(s, seq, b"BODY.PEEK[%s]" % name)
        assert got == b"* %s FETCH (BODY[%s] {%d}\r\n%s)\r\n" % (seq, name, len(data), data), got
    sec(b"", MP)
    sec(b"HEADER", MP_HEADER)
    sec(b"TEXT", MP_TEXT)
    sec(b"HEADER.FIELDS (SUBJECT CC)", b"Cc: Dave <dave@example.org>\r\nSubject: multipart test\r\n\r\n")
    sec(b"HEADER.FIELDS (X-NONE)", b"\r\n")
    sec(b"HEADER.FIELDS.NOT (FROM TO CC DATE MESSAGE-ID MIME-VERSION CONTENT-TYPE)",
        b"Subject: multipart test\r\n\r\n")
    sec(b"1", b"part one")
    sec(b"1.MIME", b"Content-Type: text/plain; charset=us-ascii\r\n\r\n")
    sec(b"2", b"AAECAwQ=")
    sec(b"2.MIME", b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
    sec(b"3", b"Subject: inner\r\nFrom: c@example.org\r\n\r\ninner body")
    sec(b"3.HEADER", b"Subject: inner\r\nFrom: c@example.org\r\n\r\n")
    sec(b"3.TEXT", b"inner body")
    sec(b"3.HEADER.FIELDS (FROM)", b"From: c@example.org\r\n\r\n")
    sec(b"3.1", b"inner body")
    # a non-multipart message: part 1 is its body
    sec(b"1", b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n", seq=b"1")
    # a nonexistent part is empty (or NO), never an error that breaks the session
    out = s.cmd(b"FETCH 2 BODY.PEEK[7]")
    assert out[-1].startswith(b"A%03d OK" % s.n) or out[-1].startswith(b"A%03d NO" % s.n), out
    s.bad(b"FETCH 2 BODY[HEADER.FIELDS ()]")
    s.bad(b"FETCH 2 BODY[BOGUS]")


def test_fetch_partial(fetch_session):
    s = fetch_session
    assert fetch1(s, b"2", b"BODY.PEEK[]<0.10>") == b"* 2 FETCH (BODY[]<0> {10}\r\n%s)\r\n" % MP[:10]
    assert fetch1(s, b"2", b"BODY.PEEK[TEXT]<10.8>") == \
        b"* 2 FETCH (BODY[TEXT]<10> {8}\r\n%s)\r\n" % MP_TEXT[10:18]
    # a partial running past the end is truncated; one starting past it is empty
    assert fetch1(s, b"2", b"BODY.PEEK[1]<5.100>") == b"* 2 FETCH (BODY[1]<5> {3}\r\none)\r\n"
    got = fetch1(s, b"2", b"BODY.PEEK[1]<500.10>")
    assert got in (b'* 2 FETCH (BODY[1]<500> "")\r\n', b"* 2 FETCH (BODY[1]<500> {0}\r\n)\r\n"), got


def test_fetch_binary(fetch_session):
    s = fetch_session
    got = fetch1(s, b"2", b"BINARY.PEEK[2]")
    assert got == b"* 2 FETCH (BINARY[2] ~{5}\r\n\x00\x01\x02\x03\x04)\r\n", got
    assert fetch1(s, b"2", b"BINARY.SIZE[2]") == b"* 2 FETCH (BINARY.SIZE[2] 5)\r\n"
    assert fetch1(s, b"2", b"BINARY.SIZE[1]") == b"* 2 FETCH (BINARY.SIZE[1] 8)\r\n"
    got = fetch1(s, b"2", b"BINARY.PEEK[2]<1.2>")
    # no NUL in these two bytes: literal8 is not needed, either form is valid
    assert got in (b"* 2 FETCH (BINARY[2]<1> ~{2}\r\n\x01\x02)\r\n",
                   b"* 2 FETCH (BINARY[2]<1> {2}\r\n\x01\x02)\r\n"), got
    got = fetch1(s, b"2", b"BINARY.PEEK[1]")
    assert got == b"* 2 FETCH (BINARY[1] {8}\r\npart one)\r\n", got
    got = fetch1(s, b"1", b"BINARY.PEEK[]")
    assert got == b"* 1 FETCH (BINARY[] {%d}\r\n%s)\r\n" % (len(RFC_MSG), RFC_MSG), got
    # BINARY (not PEEK) sets \Seen
    got = fetch1(s, b"3", b"BINARY[1]")
    assert b"FLAGS (\\Seen)" in got and b"BINARY[1] {" in got, got
    s.bad(b"FETCH 2 BINARY[TEXT]")
    s.bad(b"FETCH 2 BINARY[1.MIME]")


def test_fetch_seen_and_peek(fetch_session):
    s = fetch_session
    got = fetch1(s, b"3", b"BODY.PEEK[TEXT]")
    assert b"FLAGS" not in got
    assert fetch_flags([fetch1(s, b"3", b"FLAGS")]) == {3: set()}
    got = fetch1(s, b"3", b"BODY[TEXT]")
    # the \Seen change is reported with the fetch
    assert re.match(rb"\* 3 FETCH \((?:UID 3 )?(?:FLAGS \(\\Seen\) )?BODY\[TEXT\] \{\d+\}\r\nbody of message 3"
                    rb"\r\n(?: FLAGS \(\\Seen\))?\)\r\n$", got), got
    assert b"FLAGS (\\Seen)" in got
    assert fetch_flags([fetch1(s, b"3", b"FLAGS")]) == {3: {b"\\Seen"}}


def test_fetch_structure_and_macros(fetch_session):
    s = fetch_session
    assert fetch1(s, b"1", b"ENVELOPE") == b"* 1 FETCH (ENVELOPE %s)\r\n" % RFC_ENVELOPE
    # type and subtype keep the case as written; parameter names and the
    # encoding are case-insensitive strings (the server lower-cases them)
    got = fetch1(s, b"1", b"BODY")
    assert got.startswith(b'* 1 FETCH (BODY ("TEXT" "PLAIN" (')
    assert got.lower() == (b"* 1 FETCH (BODY %s)\r\n" % RFC_BODY).lower(), got
    got = fetch1(s, b"1", b"BODYSTRUCTURE")
    assert got.startswith(b'* 1 FETCH (BODYSTRUCTURE ("TEXT" "PLAIN" (') and got.lower() == \
        b'* 1 fetch (bodystructure ("text" "plain" ("charset" "us-ascii") nil nil "7bit" 55 1 nil nil nil nil))\r\n', got
    # date-day-fixed is SP DIGIT for one-digit days; the zone need not be kept
    assert fetch1(s, b"1", b"INTERNALDATE") in (
        b'* 1 FETCH (INTERNALDATE " 8-Feb-1994 05:52:25 +0000")\r\n',
        b'* 1 FETCH (INTERNALDATE " 7-Feb-1994 21:52:25 -0800")\r\n')
    assert fetch1(s, b"1", b"RFC822.SIZE") == b"* 1 FETCH (RFC822.SIZE %d)\r\n" % len(RFC_MSG)
    assert fetch1(s, b"4", b"UID") == b"* 4 FETCH (UID 4)\r\n"
    idate = re.search(rb'INTERNALDATE "[^"]*"', fetch1(s, b"1", b"INTERNALDATE")).group(0)
    flags = b"FLAGS ()"
    size = b"RFC822.SIZE %d" % len(RFC_MSG)
    env = b"ENVELOPE " + RFC_ENVELOPE
    def macro(name):
        got = fetch1(s, b"1", name)
        m = re.match(rb"\* 1 FETCH \((.*)\)\r\n$", got, re.S)
        assert m, got
        return m.group(1)
    def split_items(text):
        # items are separated at top level by spaces between "NAME value" pairs
        depth, cur, inq = 0, b"", False
        toks = []
        for ch in text:
            c = bytes([ch])
            if c == b'"' and (not cur.endswith(b"\\")):
                inq = not inq
            if not inq:
                depth += c == b"(" or 0
                depth -= c == b")" or 0
            if c == b" " and depth == 0 and not inq:
                toks.append(cur)
                cur = b""
            else:
                cur += c
        toks.append(cur)
        return {toks[i] + b" " + toks[i + 1] for i in range(0, len(toks), 2)}
    assert split_items(macro(b"FAST")) == {flags, idate, size}
    assert split_items(macro(b"ALL")) == {flags, idate, size, env}
    full = split_items(macro(b"FULL"))
    body = [x for x in full if x.startswith(b"BODY ")]
    assert full - set(body) == {flags, idate, size, env}
    assert len(body) == 1 and body[0].lower() == b"body " + RFC_BODY.lower(), full


def test_fetch_multipart_bodystructure(fetch_session):
    s = fetch_session
    inner_env = (b'(NIL "inner" ((NIL NIL "c" "example.org")) ((NIL NIL "c" "example.org")) '
                 b'((NIL NIL "c" "example.org")) NIL NIL NIL NIL NIL)')
    got = fetch1(s, b"2", b"BODYSTRUCTURE")
    assert got == (b'* 2 FETCH (BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 8 0 '
                   b'NIL NIL NIL NIL)("application" "octet-stream" NIL NIL NIL "base64" 8 NIL NIL NIL NIL)'
                   b'("message" "rfc822" NIL NIL NIL "7bit" 49 ' + inner_env +
                   b' ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 0 NIL NIL NIL NIL) 3 '
                   b'NIL NIL NIL NIL) "mixed" ("boundary" "outer") NIL NIL NIL))\r\n'), got
    got = fetch1(s, b"2", b"BODY")
    assert got == (b'* 2 FETCH (BODY (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 8 0)'
                   b'("application" "octet-stream" NIL NIL NIL "base64" 8)'
                   b'("message" "rfc822" NIL NIL NIL "7bit" 49 ' + inner_env +
                   b' ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 0) 3) "mixed"))\r\n'), got
    got = fetch1(s, b"2", b"ENVELOPE")
    assert got == (b'* 2 FETCH (ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700" "multipart test" '
                   b'(("Alice Example" NIL "alice" "example.org")) (("Alice Example" NIL "alice" "example.org")) '
                   b'(("Alice Example" NIL "alice" "example.org")) '
                   b'(("Bob" NIL "bob" "example.org")(NIL NIL "carol" "example.org")) '
                   b'(("Dave" NIL "dave" "example.org")) NIL NIL "<mp1@example.org>"))\r\n'), got


def test_fetch_errors(fetch_session):
    s = fetch_session
    s.bad(b"FETCH 1 (BOGUS)")
    s.bad(b"FETCH x FLAGS")
    s.bad(b"FETCH 1")
    # a message number beyond EXISTS is BAD (6.4.5 / 9051 sequence-set rules)
    out = s.cmd(b"FETCH 9 FLAGS")
    assert out[-1].startswith(b"A%03d BAD" % s.n) or out[-1].startswith(b"A%03d NO" % s.n), out


# ---- 6.4.6 STORE ------------------------------------------------------------------

@pytest.fixture
def store_session(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    s.append(b"INBOX", simple_msg(1))
    s.append(b"INBOX", simple_msg(2), flags=b"\\Seen")
    s.append(b"INBOX", simple_msg(3), flags=b"$Keyword")
    s.append(b"INBOX", simple_msg(4), flags=b"\\Flagged \\Seen")
    s.ok(b"SELECT INBOX")
    yield s
    s.close()


def test_store_example(store_session):
    s = store_session
    out = s.ok(b"STORE 2:4 +FLAGS (\\Deleted)", b"A003")
    assert out[-1] == b"A003 OK STORE completed\r\n"
    assert len(out) == 4, out
    assert [l.split(b" FETCH")[0] for l in out[:3]] == [b"* 2", b"* 3", b"* 4"]
    assert fetch_flags(out) == {2: {b"\\Deleted", b"\\Seen"}, 3: {b"$Keyword", b"\\Deleted"},
                                4: {b"\\Deleted", b"\\Flagged", b"\\Seen"}}, out


def test_store_forms(store_session):
    s = store_session
    out = s.ok(b"STORE 1 FLAGS (\\Answered $Foo)")
    assert fetch_flags(out) == {1: {b"\\Answered", b"$Foo"}}
    out = s.ok(b"STORE 1 -FLAGS (\\Answered)")
    assert fetch_flags(out) == {1: {b"$Foo"}}
    out = s.ok(b"STORE 1:2 +FLAGS \\Draft")            # flag list without parentheses
    assert fetch_flags(out) == {1: {b"$Foo", b"\\Draft"}, 2: {b"\\Seen", b"\\Draft"}}
    # .SILENT: no FETCH responses for our own change
    assert s.ok(b"STORE 1:4 +FLAGS.SILENT (\\Flagged)") == [b"A%03d OK STORE completed\r\n" % s.n]
    assert s.ok(b"STORE 1:4 -FLAGS.SILENT (\\Flagged)") == [b"A%03d OK STORE completed\r\n" % s.n]
    assert s.ok(b"STORE 4 FLAGS.SILENT ()") == [b"A%03d OK STORE completed\r\n" % s.n]
    out = s.ok(b"FETCH 1:4 FLAGS")
    assert fetch_flags(out) == {1: {b"$Foo", b"\\Draft"}, 2: {b"\\Seen", b"\\Draft"},
                                3: {b"$Keyword"}, 4: set()}, out
    # an undefined system flag and an unknown data item are BAD
    s.bad(b"STORE 1 +FLAGS (\\Bogus)")
    s.bad(b"STORE 1 FROBNICATE (\\Seen)")


def test_store_read_only(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    s.append(b"INBOX", simple_msg(1))
    s.ok(b"EXAMINE INBOX")
    assert s.no(b"STORE 1 +FLAGS (\\Seen)")
    s.close()


# ---- 6.4.7 COPY / 6.4.8 MOVE -----------------------------------------------------------

def test_copy_example(store_session):
    s = store_session
    out = s.cmd(b"COPY 2:4 MEETING", b"A002")
    assert out == [b"A002 NO [TRYCREATE] Mailbox does not exist\r\n"], out
    s.ok(b"CREATE MEETING")
    v = uidvalidity(s, b"MEETING")
    out = s.ok(b"COPY 2:4 MEETING", b"A003")
    assert out == [b"A003 OK [COPYUID %d 2:4 1:3] COPY completed\r\n" % v], out
    # flags travel with the copies; the source is untouched
    s.ok(b"EXAMINE MEETING")
    assert fetch_flags(s.ok(b"FETCH 1:* FLAGS")) == {1: {b"\\Seen"}, 2: {b"$Keyword"},
                                                     3: {b"\\Flagged", b"\\Seen"}}
    s.ok(b"SELECT INBOX")
    assert len(untagged(s.ok(b"FETCH 1:* UID"))) == 4
    s.bad(b"COPY 2:4")


def test_move_example(store_session):
    s = store_session
    s.ok(b"CREATE foo")
    v = uidvalidity(s, b"foo")
    out = s.ok(b"UID MOVE 2:3 foo", b"a")
    # COPYUID comes in an untagged OK before the EXPUNGEs (6.4.8 example)
    assert re.match(rb"\* OK \[COPYUID %d 2:3 1:2\] " % v, out[0]), out
    assert out[-1].startswith(b"a OK"), out
    assert all(re.match(rb"\* \d+ (EXPUNGE|EXISTS|RECENT)\r\n$", l) for l in out[1:-1]), out
    assert apply_expunges(out, [1, 2, 3, 4]) == [1, 4], out
    out = s.ok(b"MOVE 1 foo")
    assert re.match(rb"\* OK \[COPYUID %d 1 3\] " % v, out[0]), out
    assert apply_expunges(out, [1, 4]) == [4], out
    assert untagged(s.ok(b"FETCH 1:* UID")) == [b"* 1 FETCH (UID 4)\r\n"]
    out = s.cmd(b"MOVE 1 nosuch")
    assert out == [b"A%03d NO [TRYCREATE] Mailbox does not exist\r\n" % s.n], out
    assert untagged(s.ok(b"STATUS foo (MESSAGES)")) == [b'* STATUS "foo" (MESSAGES 3)\r\n']


# ---- 6.4.9 UID ---------------------------------------------------------------------

def test_uid_commands(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    for i in range(1, 7):
        s.append(b"INBOX", simple_msg(i))
    s.ok(b"SELECT INBOX")
    s.ok(b"STORE 1:3 +FLAGS.SILENT (\\Deleted)")
    s.ok(b"EXPUNGE")
    # now UIDs 4 5 6 are messages 1 2 3
    # 6.4.9 example A999 UID FETCH 4827313:4828442 FLAGS: a range of
    # nonexistent UIDs matches nothing and is not an error ...
    assert s.ok(b"UID FETCH 4827313:4828442 FLAGS", b"A998") == [b"A998 OK UID FETCH completed\r\n"]
    # ... but n:* always includes the highest UID, even when n is above it
    out = s.ok(b"UID FETCH 4827313:* FLAGS", b"A999")
    assert len(out) == 2 and fetch_flags(out) == {3: set()} and b"UID 6" in out[0], out
    out = untagged(s.ok(b"UID FETCH 5:* (FLAGS)"))
    assert fetch_flags(out) == {2: set(), 3: set()} and b"UID 5" in out[0] and b"UID 6" in out[1], out
    # UID FETCH always includes UID
    out = untagged(s.ok(b"UID FETCH 4 RFC822.SIZE"))
    assert re.match(rb"\* 1 FETCH \((?=.*UID 4)(?=.*RFC822.SIZE \d+).*\)\r\n$", out[0]), out
    # nonexistent UIDs are not an error: no responses
    assert s.ok(b"UID FETCH 1:3 FLAGS") == [b"A%03d OK UID FETCH completed\r\n" % s.n]
    assert len(s.ok(b"UID STORE 1:3 +FLAGS (\\Seen)")) == 1
    assert len(s.ok(b"UID COPY 1:3 Drafts")) == 1
    assert untagged(s.ok(b"STATUS Drafts (MESSAGES)")) == [b'* STATUS "Drafts" (MESSAGES 0)\r\n']
    assert len(s.ok(b"UID MOVE 1:3 Drafts")) == 1
    assert len(s.ok(b"UID EXPUNGE 1:3")) == 1
    # UID STORE / COPY
    out = s.ok(b"UID STORE 5 +FLAGS (\\Flagged)")
    assert len(out) == 2 and fetch_flags(out) == {2: {b"\\Flagged"}} and b"UID 5" in out[0], out
    v = uidvalidity(s, b"Drafts")
    out = s.ok(b"UID COPY 4:5 Drafts")
    assert out[-1].startswith(b"A%03d OK [COPYUID %d 4:5 1:2] " % (s.n, v)), out
    # UID SEARCH
    assert search(s, b"FLAGGED", uid=True) == [5]
    assert search(s, b"ALL", uid=True) == [4, 5, 6]
    # UID EXPUNGE only removes the given UIDs (6.4.9 example A003 UID EXPUNGE 3000:3002)
    s.ok(b"STORE 1:3 +FLAGS.SILENT (\\Deleted)")
    out = s.ok(b"UID EXPUNGE 5:6", b"A003")
    assert len([l for l in out if l.endswith(b" EXPUNGE\r\n")]) == 2, out
    assert apply_expunges(out, [4, 5, 6]) == [4], out
    out = untagged(s.ok(b"FETCH 1:* (UID FLAGS)"))
    assert len(out) == 1 and b"UID 4" in out[0], out
    s.bad(b"UID FROB 1")
    s.bad(b"UID")
    s.close()


# ---- 7.5.1: no EXPUNGE during FETCH / STORE / SEARCH --------------------------

def test_no_expunge_during_fetch_store_search(haven, mode):
    a = Session(haven, rev2=(mode == "rev2"))
    b = Session(haven)
    for i in range(1, 5):
        a.append(b"INBOX", simple_msg(i))
    a.ok(b"SELECT INBOX")
    b.ok(b"SELECT INBOX")
    b.ok(b"STORE 2 +FLAGS.SILENT (\\Deleted)")
    out = b.ok(b"EXPUNGE")
    assert out[0] == b"* 2 EXPUNGE\r\n"
    # a still sees 4 messages; FETCH, STORE and SEARCH must not announce the expunge
    # (A FETCH may answer OK [EXPUNGEISSUED] without data for the message
    # another session expunged: RFC 9051 7.4.1; an untagged EXPUNGE never.)
    out = a.ok(b"FETCH 1:4 (UID)")
    assert not any(re.match(rb"\* \d+ EXPUNGE", l) for l in out), out
    assert b"* 4 FETCH (UID 4)\r\n" in nr(out)
    out = a.ok(b"STORE 3 +FLAGS (\\Flagged)")
    assert not any(re.match(rb"\* \d+ EXPUNGE", l) for l in out), out
    out = a.ok(b"SEARCH ALL")
    assert not any(re.match(rb"\* \d+ EXPUNGE", l) for l in out), out
    # (the message another session expunged may match or not: RFC 2180
    # 4.1.3; a store that still has it in memory says it does)
    assert search(a, b"UID 1:4") in ([1, 2, 3, 4], [1, 3, 4])
    # the expunge arrives with a later command that may send it
    out = a.ok(b"NOOP")
    assert b"* 2 EXPUNGE\r\n" in out, out
    assert untagged(a.ok(b"FETCH 1:* (UID)")) == [b"* 1 FETCH (UID 1)\r\n", b"* 2 FETCH (UID 3)\r\n",
                                                  b"* 3 FETCH (UID 4)\r\n"]
    a.close()
    b.close()


def test_uid_commands_may_send_expunge(haven, mode):
    a = Session(haven, rev2=(mode == "rev2"))
    b = Session(haven)
    for i in range(1, 4):
        a.append(b"INBOX", simple_msg(i))
    a.ok(b"SELECT INBOX")
    b.ok(b"SELECT INBOX")
    b.ok(b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.ok(b"EXPUNGE")
    out = a.ok(b"UID FETCH 1:* (FLAGS)")
    # either announced now (allowed for UID commands) or at the next NOOP
    if b"* 1 EXPUNGE\r\n" not in out:
        assert b"* 1 EXPUNGE\r\n" in a.ok(b"NOOP")
    a.close()
    b.close()


# ---- pipelining -----------------------------------------------------------------

def test_pipelined_commands_answered_in_order(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    s.append(b"INBOX", simple_msg(1))
    s.append(b"INBOX", simple_msg(2))
    s.send(b"p1 SELECT INBOX\r\np2 FETCH 1:2 (UID)\r\np3 STORE 1 +FLAGS (\\Flagged)\r\n"
           b"p4 SEARCH FLAGGED\r\np5 NOOP\r\np6 STATUS Drafts (MESSAGES)\r\np7 UNSELECT\r\n"
           b"p8 CAPABILITY\r\n")
    tags = []
    lines = s.until(b"p8")
    for l in lines:
        if not l.startswith(b"* "):
            tags.append(l.split(b" ")[0])
            assert l.split(b" ")[1] == b"OK", l
    assert tags == [b"p%d" % i for i in range(1, 9)], lines
    # each command's untagged data comes before its own tagged line
    joined = b"".join(lines)
    assert joined.index(b"* 2 FETCH (UID 2)") < joined.index(b"p2 OK")
    assert joined.index(b"p2 OK") < joined.index(b"* 1 FETCH", joined.index(b"p2 OK")) < joined.index(b"p3 OK")
    search_line = b'* ESEARCH (TAG "p4") ALL 1\r\n' if s.rev2 else b"* SEARCH 1\r\n"
    assert joined.index(b"p3 OK") < joined.index(search_line) < joined.index(b"p4 OK")
    assert joined.index(b"p5 OK") < joined.index(b'* STATUS "Drafts" (MESSAGES 0)') < joined.index(b"p6 OK")
    s.close()
