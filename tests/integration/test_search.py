"""SEARCH and UID SEARCH (RFC 9051 / 3501), ESEARCH result options
(RFC 4731) and the saved result "$" (RFC 5182), against a real havend:
every search key over the corpus plus generated messages with encoded-word
headers, base64 and quoted-printable bodies, flags, keywords and dates;
CHARSET, Unicode case-insensitivity, syntax errors and limits."""
import base64
import re

import pytest

from conftest import corpus_messages, read_until_tagged


def gen_messages():
    """(message bytes, flags, internal date) for the generated messages."""
    body1 = base64.encodebytes("Ünïcode body with needle-b64 and straße\r\n".encode()).replace(
        b"\n", b"\r\n")
    m1 = (b"From: =?ISO-8859-1?Q?Zo=EB_=C4rger?= <zoe@example.org>\r\n"
          b"To: bob@example.com\r\n"
          b"Subject: =?UTF-8?B?" + base64.b64encode("Café crème".encode()) + b"?=\r\n"
          b"Date: Mon, 3 Feb 2020 10:00:00 +0100\r\n"
          b"Message-ID: <m1@example.org>\r\n"
          b"MIME-Version: 1.0\r\n"
          b"Content-Type: text/plain; charset=utf-8\r\n"
          b"Content-Transfer-Encoding: base64\r\n"
          b"\r\n" + body1)
    m2 = (b"From: hans@example.de\r\n"
          b"To: alice@example.com\r\n"
          b"Bcc: secret@example.com\r\n"
          b"Subject: =?ISO-8859-1?Q?Gr=FC=DFe_aus_M=FCnchen?=\r\n"
          b"Date: Tue, 4 Feb 2020 23:30:00 -0800\r\n"
          b"MIME-Version: 1.0\r\n"
          b"Content-Type: text/plain; charset=iso-8859-1\r\n"
          b"Content-Transfer-Encoding: quoted-printable\r\n"
          b"\r\n"
          b"Sch=F6ne Gr=FC=DFe, qp-needle-=\r\nsplit\r\n")
    m3 = (b"From: Alice Example <alice@example.com>\r\n"
          b"To: dave@example.com\r\n"
          b"Cc: carol@example.net\r\n"
          b"X-Custom: magic-value-42\r\n"
          b"Subject: Meeting\r\n tomorrow\r\n"
          b"Date: Wed, 5 Feb 2020 08:00:00 +0000\r\n"
          b"MIME-Version: 1.0\r\n"
          b"Content-Type: multipart/mixed; boundary=\"b\"\r\n"
          b"\r\n"
          b"--b\r\n"
          b"Content-Type: text/plain\r\n"
          b"\r\n"
          b"plain body words xyzzy\r\n"
          b"--b\r\n"
          b"Content-Type: application/octet-stream\r\n"
          b"Content-Transfer-Encoding: base64\r\n"
          b"\r\n"
          b"YXR0YWNobWVudC1zZWNyZXQ=\r\n"
          b"--b--\r\n")
    m4 = (b"Subject: large one, no date\r\n"
          b"From: big@example.com\r\n"
          b"\r\n" + b"filler line of text to make this message large\r\n" * 1000)
    return [
        (m1, r"(\Seen \Flagged)", '"01-Jan-2020 12:00:00 +0000"'),
        (m2, r"(\Answered $Work)", '"15-Jan-2020 10:30:00 -0800"'),
        (m3, r"(\Deleted \Draft Urgent)", '"01-Feb-2020 00:00:00 +0000"'),
        (m4, None, '"01-Mar-2020 00:00:00 +0000"'),
    ]


NCORPUS = len(corpus_messages())
G1, G2, G3, G4 = NCORPUS + 1, NCORPUS + 2, NCORPUS + 3, NCORPUS + 4
ALL = list(range(1, G4 + 1))


@pytest.fixture
def box(haven):
    m = haven.login("alice")
    for name, data in corpus_messages():
        typ, resp = m.append("INBOX", None, '"01-Jun-2021 10:00:00 +0000"', data)
        assert typ == "OK", resp
    for data, flags, date in gen_messages():
        typ, resp = m.append("INBOX", flags, date, data)
        assert typ == "OK", resp
    typ, data = m.select("INBOX")
    assert int(data[0]) == G4
    yield m
    m.logout()


def search(m, *criteria, charset=None):
    typ, data = m.search(charset, *criteria)
    assert typ == "OK", (criteria, data)
    return [int(x) for x in data[0].split()]


def uids(m):
    typ, data = m.uid("FETCH", "1:*", "(UID)")
    return [int(re.search(rb"UID (\d+)", d).group(1)) for d in data]


class Raw:
    """A raw connection for exact response checks."""

    def __init__(self, haven, user="alice"):
        self.s, self.f = haven.raw()
        self.n = 0
        lines = self.cmd("LOGIN %s %s" % (user, haven.users[user]))
        assert lines[-1].split()[1] == b"OK", lines

    def cmd(self, text):
        self.n += 1
        tag = self.tag = b"r%d" % self.n
        if isinstance(text, str):
            text = text.encode()
        self.s.sendall(tag + b" " + text + b"\r\n")
        return read_until_tagged(self.f, tag)

    def close(self):
        self.s.close()


def status(r, lines, want):
    """The tagged response of r's last command starts with want."""
    return lines[-1].startswith(r.tag + b" " + want)


# ---- keys ----------------------------------------------------------------

def test_flag_keys(box):
    m = box
    assert search(m, "ALL") == ALL
    assert search(m, "SEEN") == [G1]
    assert search(m, "UNSEEN") == [x for x in ALL if x != G1]
    assert search(m, "FLAGGED") == [G1]
    assert search(m, "UNFLAGGED") == [x for x in ALL if x != G1]
    assert search(m, "ANSWERED") == [G2]
    assert search(m, "UNANSWERED") == [x for x in ALL if x != G2]
    assert search(m, "DELETED") == [G3]
    assert search(m, "UNDELETED") == [x for x in ALL if x != G3]
    assert search(m, "DRAFT") == [G3]
    assert search(m, "UNDRAFT") == [x for x in ALL if x != G3]
    assert search(m, "KEYWORD", "$Work") == [G2]
    assert search(m, "KEYWORD", "urgent") == [G3]
    assert search(m, "KEYWORD", "NoSuchKeyword") == []
    assert search(m, "UNKEYWORD", "$Work") == [x for x in ALL if x != G2]
    # The SELECT claimed all that was appended: \Recent in this session.
    assert search(m, "RECENT") == ALL
    assert search(m, "NEW") == [x for x in ALL if x != G1]
    assert search(m, "OLD") == []
    assert search(m, "NOT", "RECENT") == []


def test_date_and_size_keys(box):
    m = box
    assert search(m, "ON", "15-Jan-2020") == [G2]
    assert search(m, "ON", '"1-Jan-2020"') == [G1]
    assert search(m, "BEFORE", "15-Jan-2020") == [G1]
    assert search(m, "BEFORE", "2-Feb-2020") == [G1, G2, G3]
    assert search(m, "SINCE", "1-Feb-2020") == list(range(1, NCORPUS + 1)) + [G3, G4]
    assert search(m, "SINCE", "1-Jun-2021") == list(range(1, NCORPUS + 1))
    assert search(m, "SENTON", "3-Feb-2020") == [G1]
    assert search(m, "SENTON", "4-Feb-2020") == [G2]
    old = search(m, "SENTBEFORE", "1-Jan-2020")
    assert old and all(x <= NCORPUS for x in old)
    assert search(m, "SENTBEFORE", "4-Feb-2020") == old + [G1]
    assert G4 not in search(m, "SENTSINCE", "1-Jan-1970")   # no Date: header
    assert search(m, "SENTSINCE", "5-Feb-2020") == [1, G3]    # bounce.txt is from 2022
    typ, data = m.fetch("1:*", "(RFC822.SIZE)")
    sizes = [int(re.search(rb"RFC822.SIZE (\d+)", d).group(1)) for d in data]
    big = max(sizes)
    assert sizes.index(big) + 1 == G4
    assert search(m, "LARGER", str(big - 1)) == [G4]
    assert search(m, "LARGER", str(big)) == []
    assert search(m, "SMALLER", str(big)) == [x for x in ALL if x != G4]
    assert search(m, "SMALLER", "1") == []


def test_sequence_and_uid_keys(box):
    m = box
    u = uids(m)
    assert search(m, "2:4") == [2, 3, 4]
    assert search(m, "*") == [G4]
    assert search(m, "%d:*" % (G4 - 1)) == [G4 - 1, G4]
    assert search(m, "1,3,%d" % (G4 + 5)) == [1, 3]
    assert search(m, "UID", "%d:%d" % (u[1], u[2])) == [2, 3]
    assert search(m, "UID", "*") == [G4]
    assert search(m, "UID", "%d:*" % (u[-1] + 100)) == [G4]
    typ, data = m.uid("SEARCH", "SEEN")
    assert typ == "OK" and [int(x) for x in data[0].split()] == [u[G1 - 1]]
    typ, data = m.uid("SEARCH", "UID", "%d:*" % u[-2])
    assert [int(x) for x in data[0].split()] == u[-2:]
    typ, data = m.uid("SEARCH", "1:2")
    assert [int(x) for x in data[0].split()] == u[:2]


def test_header_keys(box):
    m = box
    assert search(m, "FROM", "zoe") == [G1]
    assert search(m, "FROM", '"=?ISO-8859-1?Q?Zo=EB"') == [G1]      # raw form
    assert search(m, "FROM", "mimekit") == [6, 7]
    assert search(m, "TO", "alice@example.com") == [G2]
    assert search(m, "CC", "carol") == [G3]
    assert search(m, "BCC", "secret") == [G2]
    assert search(m, "SUBJECT", "tomorrow") == [G3]
    assert search(m, "SUBJECT", '"meeting tomorrow"') == [G3]    # unfolded
    assert search(m, "SUBJECT", "SIMPLE") == [6, 7]
    assert search(m, "HEADER", "X-Custom", '""') == [G3]
    assert search(m, "HEADER", "x-custom", "MAGIC-value") == [G3]
    assert search(m, "HEADER", "Message-ID", "<m1@example.org>") == [G1]
    assert search(m, "HEADER", "X-Nonexistent", '""') == []
    n_date = search(m, "HEADER", "Date", '""')
    assert G4 not in n_date and G1 in n_date


def test_body_and_text_keys(box):
    m = box
    assert search(m, "BODY", "needle-b64") == [G1]          # base64 decoded
    assert search(m, "BODY", "qp-needle-split") == [G2]     # QP soft break
    assert search(m, "BODY", "xyzzy") == [G3]
    assert search(m, "BODY", "attachment-secret") == []     # not a text part
    assert search(m, "BODY", "zoe") == []                   # not the header
    assert search(m, "TEXT", "hans") == [G2]
    assert search(m, "TEXT", "xyzzy") == [G3]
    assert search(m, "TEXT", "magic-value") == [G3]
    assert search(m, "TEXT", "filler") == [G4]
    assert search(m, "TEXT", "nothing-matches-this") == []
    # Embedded message (corpus): its header is body text of the outer one.
    assert 6 in search(m, "BODY", "mimekit")


def test_combinations(box):
    m = box
    assert search(m, "OR", "SEEN", "DRAFT") == [G1, G3]
    assert search(m, "NOT", "OR", "SEEN", "DRAFT") == [x for x in ALL if x not in (G1, G3)]
    assert search(m, "OR", "(SEEN", "FLAGGED)", "(DELETED", "UID", "*)") == [G1]
    assert search(m, "(OR", "BODY", "xyzzy", "SUBJECT", "caf)", "UNDELETED") == [G1]
    assert search(m, "NOT", "NOT", "NOT", "UNSEEN") == [G1]
    assert search(m, "UNSEEN", "OR", "FROM", "hans", "FROM", "alice@example.com") == [G2, G3]
    assert search(m, "SINCE", "1-Jan-2020", "BEFORE", "1-Feb-2020", "NOT", "SEEN") == [G2]


# ---- charsets and Unicode case folding -----------------------------------

def test_charset_literal_and_case(box):
    m = box
    m.literal = "Café".encode()
    typ, data = m.search("UTF-8", "SUBJECT")
    assert typ == "OK" and data[0].split() == [str(G1).encode()]
    m.literal = "CAFÉ CRÈME".encode()
    typ, data = m.search("UTF-8", "SUBJECT")
    assert data[0].split() == [str(G1).encode()]
    m.literal = "GRÜSSE".encode()        # ß folds to ss
    typ, data = m.search("UTF-8", "SUBJECT")
    assert data[0].split() == [str(G2).encode()]
    m.literal = "ZOË".encode()
    typ, data = m.search("UTF-8", "FROM")
    assert data[0].split() == [str(G1).encode()]
    m.literal = "SCHÖNE".encode()       # QP + ISO-8859-1 body
    typ, data = m.search("UTF-8", "BODY")
    assert data[0].split() == [str(G2).encode()]
    m.literal = "ÜNÏCODE".encode()
    typ, data = m.search("UTF-8", "BODY")
    assert data[0].split() == [str(G1).encode()]
    m.literal = "STRASSE".encode()
    typ, data = m.search("UTF-8", "TEXT")
    assert data[0].split() == [str(G1).encode()]
    # ISO-2022-JP (corpus): encoded-word subject and body, searched in UTF-8.
    m.literal = "日本語".encode()
    typ, data = m.search("UTF-8", "SUBJECT")
    assert data[0].split() == [b"2"]
    m.literal = "日本語".encode()
    typ, data = m.search("UTF-8", "BODY")
    assert data[0].split() == [b"2"]
    # A search string in another charset, converted by the server.
    m.literal = "München".encode("iso-8859-1")
    typ, data = m.search("ISO-8859-1", "SUBJECT")
    assert typ == "OK" and data[0].split() == [str(G2).encode()]
    assert search(m, "SUBJECT", "caf", charset="US-ASCII") == [G1]


def test_bad_charset(haven, box):
    r = Raw(haven)
    r.cmd("SELECT INBOX")
    lines = r.cmd("SEARCH CHARSET X-NO-SUCH-CHARSET SUBJECT foo")
    assert status(r, lines, b"NO [BADCHARSET (UTF-8 US-ASCII)]"), lines
    assert len(lines) == 1
    lines = r.cmd("UID SEARCH CHARSET \"UTF-8//TRANSLIT\" ALL")
    assert b"NO [BADCHARSET" in lines[-1]
    # Bytes not valid in the named charset: BAD.
    r.s.sendall(b"x1 SEARCH CHARSET ISO-2022-JP SUBJECT {2+}\r\n\x1b\xff\r\n")
    lines = read_until_tagged(r.f, b"x1")
    assert lines[-1].startswith(b"x1 BAD"), lines
    r.close()


# ---- errors and limits ---------------------------------------------------

@pytest.mark.parametrize("args", [
    "", "FOO", "SUBJECT", "OR SEEN", "NOT", "()", "LARGER abc", "LARGER 99999999999999999999",
    "BEFORE 32-Jan-2020", "ON yesterday", "UID x", "UID 0", "KEYWORD \\Seen", "HEADER Subject",
    "HEADER \"a:b\" x", "RETURN (FOO) ALL", "RETURN ALL", "CHARSET", "CHARSET UTF-8",
    "(SEEN", "SEEN)", "\"SEEN\"", "NIL", "1:x",
])
def test_syntax_errors(haven, box, args):
    r = Raw(haven)
    r.cmd("SELECT INBOX")
    lines = r.cmd(("SEARCH " + args).rstrip())
    assert status(r, lines, b"BAD"), (args, lines)
    assert len(lines) == 1, lines
    lines = r.cmd(("UID SEARCH " + args).rstrip())
    assert status(r, lines, b"BAD"), (args, lines)
    # The session goes on.
    lines = r.cmd("SEARCH SEEN")
    assert status(r, lines, b"OK")
    r.close()


def test_limits(haven, box):
    r = Raw(haven)
    r.cmd("SELECT INBOX")
    lines = r.cmd("SEARCH " + "NOT " * 32 + "SEEN")
    assert status(r, lines, b"OK"), lines
    lines = r.cmd("SEARCH " + "NOT " * 33 + "SEEN")
    assert status(r, lines, b"BAD [LIMIT]"), lines
    lines = r.cmd("SEARCH " + "OR SEEN " * 40 + "SEEN")
    assert status(r, lines, b"BAD [LIMIT]"), lines
    lines = r.cmd("SEARCH " + "SEEN " * 1000)
    assert status(r, lines, b"OK"), lines
    lines = r.cmd("SEARCH " + "SEEN " * 1001)
    assert status(r, lines, b"BAD [LIMIT]"), lines
    lines = r.cmd("SEARCH " + "(" * 20 + "SEEN" + ")" * 20)
    assert status(r, lines, b"BAD"), lines
    lines = r.cmd("NOOP")
    assert status(r, lines, b"OK")
    r.close()


def test_not_selected(haven):
    r = Raw(haven)
    lines = r.cmd("SEARCH ALL")
    assert status(r, lines, b"BAD") or status(r, lines, b"NO"), lines
    r.close()


# ---- ESEARCH and SEARCHRES ------------------------------------------------

def test_capability(haven):
    m = haven.login("alice")
    typ, data = m.capability()
    caps = data[0].split()
    assert b"ESEARCH" in caps and b"SEARCHRES" in caps
    m.logout()


def test_esearch(haven, box):
    r = Raw(haven)
    r.cmd("SELECT INBOX")
    lines = r.cmd("SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN")
    assert lines[0] == b'* ESEARCH (TAG "%s") MIN 1 MAX %d ALL 1:%d,%d:%d COUNT %d\r\n' % (
        r.tag, G4, G1 - 1, G2, G4, G4 - 1), lines
    assert status(r, lines, b"OK")
    lines = r.cmd("SEARCH RETURN () OR SEEN DRAFT")
    assert lines[0] == b'* ESEARCH (TAG "%s") ALL %d,%d\r\n' % (r.tag, G1, G3)
    lines = r.cmd("SEARCH RETURN (COUNT) DELETED")
    assert lines[0] == b'* ESEARCH (TAG "%s") COUNT 1\r\n' % r.tag
    lines = r.cmd("SEARCH RETURN (MIN MAX ALL COUNT) SUBJECT nothing-matches")
    assert lines[0] == b'* ESEARCH (TAG "%s") COUNT 0\r\n' % r.tag
    lines = r.cmd("SEARCH RETURN (MIN) SUBJECT nothing-matches")
    assert lines[0] == b'* ESEARCH (TAG "%s")\r\n' % r.tag
    lines = r.cmd("UID SEARCH RETURN (MIN MAX) ALL")
    m = re.match(rb'\* ESEARCH \(TAG "r\d+"\) UID MIN (\d+) MAX (\d+)\r\n', lines[0])
    assert m, lines
    lines = r.cmd("UID SEARCH RETURN (ALL) ALL")
    allset = re.match(rb'\* ESEARCH \(TAG "r\d+"\) UID ALL (\S+)\r\n', lines[0]).group(1)
    lines = r.cmd("UID FETCH %s (UID)" % allset.decode())
    assert len(lines) == G4 + 1
    # Plain SEARCH stays an IMAP4rev1 SEARCH response.
    lines = r.cmd("SEARCH SEEN")
    assert lines[0] == b"* SEARCH %d\r\n" % G1
    lines = r.cmd("SEARCH SUBJECT nothing-matches")
    assert lines[0] == b"* SEARCH\r\n"
    r.close()


def test_searchres_save(haven, box):
    r = Raw(haven)
    r.cmd("SELECT INBOX")
    # SAVE alone: no ESEARCH response.
    lines = r.cmd("SEARCH RETURN (SAVE) OR SEEN DRAFT")
    assert len(lines) == 1 and status(r, lines, b"OK"), lines
    lines = r.cmd("FETCH $ (FLAGS)")
    seqs = [int(l.split()[1]) for l in lines[:-1]]
    assert seqs == [G1, G3], lines
    lines = r.cmd("UID FETCH $ (FLAGS)")
    assert [int(l.split()[1]) for l in lines[:-1]] == [G1, G3]
    lines = r.cmd("SEARCH $")
    assert lines[0] == b"* SEARCH %d %d\r\n" % (G1, G3)
    lines = r.cmd("UID SEARCH UID $ DRAFT")
    assert len(lines[0].split()) == 3
    lines = r.cmd("SEARCH NOT $ SEEN")
    assert lines[0] == b"* SEARCH\r\n"
    # MIN/MAX with SAVE keep only those.
    lines = r.cmd("SEARCH RETURN (SAVE MAX) UNSEEN")
    assert lines[0] == b'* ESEARCH (TAG "%s") MAX %d\r\n' % (r.tag, G4)
    lines = r.cmd("SEARCH $")
    assert lines[0] == b"* SEARCH %d\r\n" % G4
    lines = r.cmd("SEARCH RETURN (SAVE MIN MAX) UNSEEN")
    lines = r.cmd("SEARCH $")
    assert lines[0] == b"* SEARCH 1 %d\r\n" % G4
    lines = r.cmd("UID SEARCH RETURN (SAVE COUNT MIN) UNSEEN")
    assert b"COUNT %d" % (G4 - 1) in lines[0]
    lines = r.cmd("SEARCH $")
    assert len(lines[0].split()) == 2 + G4 - 1
    # STORE / COPY with $.
    lines = r.cmd("SEARCH RETURN (SAVE) KEYWORD $Work")
    lines = r.cmd("STORE $ +FLAGS.SILENT (\\Flagged)")
    assert status(r, lines, b"OK")
    lines = r.cmd("SEARCH FLAGGED")
    assert lines[0] == b"* SEARCH %d %d\r\n" % (G1, G2)
    lines = r.cmd("CREATE Saved")
    lines = r.cmd("COPY $ Saved")
    assert status(r, lines, b"OK"), lines
    # A NO with SAVE empties $; a BAD leaves it alone.
    lines = r.cmd("SEARCH RETURN (SAVE) SEEN")
    lines = r.cmd("SEARCH RETURN (SAVE) FOO")
    assert status(r, lines, b"BAD")
    lines = r.cmd("SEARCH $")
    assert lines[0] == b"* SEARCH %d\r\n" % G1
    lines = r.cmd("SEARCH RETURN (SAVE) CHARSET X-UNKNOWN SEEN")
    assert b"NO [BADCHARSET" in lines[-1]
    lines = r.cmd("FETCH $ (FLAGS)")
    assert len(lines) == 1 and status(r, lines, b"OK")
    # Expunged messages leave $; reselecting empties it.
    lines = r.cmd("SEARCH RETURN (SAVE) OR SEEN DELETED")
    lines = r.cmd("EXPUNGE")
    assert any(b"EXPUNGE" in l for l in lines)
    lines = r.cmd("SEARCH $")
    assert lines[0] == b"* SEARCH %d\r\n" % G1
    lines = r.cmd("SELECT INBOX")
    lines = r.cmd("SEARCH $")
    assert lines[0] == b"* SEARCH\r\n"
    r.close()


def test_imap4rev2_always_esearch(haven, box):
    r = Raw(haven)
    lines = r.cmd("ENABLE IMAP4rev2")
    if not any(b"ENABLED" in l and b"IMAP4REV2" in l.upper() for l in lines):
        r.close()
        pytest.skip("IMAP4rev2 cannot be enabled")
    r.cmd("SELECT INBOX")
    lines = r.cmd("SEARCH SEEN")
    assert lines[0] == b'* ESEARCH (TAG "%s") ALL %d\r\n' % (r.tag, G1)
    lines = r.cmd("UID SEARCH SUBJECT nothing-matches")
    assert lines[0] == b'* ESEARCH (TAG "%s") UID\r\n' % r.tag
    r.close()


def test_many_messages(haven):
    """Results compress into ranges; only needed messages are read."""
    m = haven.login("bob")
    for i in range(300):
        body = ("Subject: msg %d\r\nFrom: n%d@example.com\r\n\r\nbody %s\r\n" % (
            i, i, "even" if i % 2 == 0 else "odd")).encode()
        assert m.append("INBOX", r"(\Seen)" if i < 100 else None, None, body)[0] == "OK"
    m.select("INBOX")
    assert search(m, "BODY", "even") == list(range(1, 301, 2))
    assert search(m, "UNSEEN", "SUBJECT", '"msg 1"') == [
        i + 1 for i in range(100, 300) if str(i).startswith("1")]
    typ, data = m._simple_command("SEARCH", "RETURN", "(ALL COUNT)", "UNSEEN")
    typ, data = m._untagged_response(typ, data, "ESEARCH")
    assert data[0].endswith(b"COUNT 200 ALL 101:300") or b"ALL 101:300" in data[0], data
    m.logout()


# ---- issue 17: addresses as parsed, every MIME header --------------------

def test_address_keys_match_the_parsed_address(haven):
    """Item 8: FROM user-from@domain.org finds the address written with
    comments and folding; TO, CC and BCC alike; the display name and the
    raw text still match."""
    m = haven.login("bob")
    forms = [b"<user-from (comment)@ (comment) domain.org>",
             b"\"Some One\" <user-from@\r\n domain.org>",
             b"user-from (x) @ domain . org",
             b"user-from@other.org"]
    for f in forms:
        msg = (b"From: %s\r\nTo: %s\r\nCc: %s\r\nBcc: %s\r\nSubject: s\r\n\r\nbody\r\n"
               % (f, f, f, f))
        assert m.append("INBOX", None, None, msg)[0] == "OK"
    m.select("INBOX")
    for key in ("FROM", "TO", "CC", "BCC"):
        assert search(m, key, "user-from@domain.org") == [1, 2, 3], key
        assert search(m, key, "USER-FROM@") == [1, 2, 3, 4], key
    assert search(m, "FROM", '"Some One"') == [2]
    assert search(m, "FROM", "comment") == [1]
    assert search(m, "HEADER", "From", "user-from@domain.org") == []
    m.logout()


def test_text_covers_mime_part_headers(haven):
    """Item 9: a word only in an attachment's Content-Disposition (plain
    or RFC 2231-encoded) is found by TEXT, not by BODY."""
    m = haven.login("bob")
    for disp in (b'attachment; filename="invoice.pdf"',
                 b"attachment;\r\n filename*0*=utf-8''in%76oice;\r\n filename*1=\".pdf\"",
                 b'attachment; filename="receipt.pdf"'):
        msg = (b"Subject: s\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
               b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
               b"--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
               b"Content-Disposition: " + disp + b"\r\n\r\nJVBERi0=\r\n--b--\r\n")
        assert m.append("INBOX", None, None, msg)[0] == "OK"
    m.select("INBOX")
    assert search(m, "TEXT", "invoice") == [1, 2]
    assert search(m, "TEXT", "invoice.pdf") == [1, 2]
    assert search(m, "BODY", "invoice") == []
    assert search(m, "TEXT", "attached") == [1, 2, 3]
    m.logout()


def test_keyword_learned_during_search(haven):
    """A keyword another session gave a message after this one selected
    the mailbox (and before it synced) is first seen in the middle of a
    SEARCH that reads the message's metadata: the view's keyword table
    grows then, and the search goes on with the keywords it already knew
    (with ASan: no read of the table's old memory)."""
    m = haven.login("alice")
    other = haven.login("alice")
    for i in range(3):
        msg = b"Subject: kw test %d\r\n\r\nbody\r\n" % i
        assert m.append("INBOX", "(Old%d)" % i, None, msg)[0] == "OK"
    m.select("INBOX")
    other.select("INBOX")
    assert other.store("1:3", "+FLAGS", "(Brandnew1 Brandnew2 Brandnew3)")[0] == "OK"
    for key in ("Old0", "Old1", "Old2"):
        assert search(m, "KEYWORD", key, "SUBJECT", '"kw test"') == [int(key[-1]) + 1]
    assert search(m, "KEYWORD", "Brandnew2", "SUBJECT", '"kw test"') in ([], [1, 2, 3])
    other.logout()
    m.logout()
