"""SORT and UID SORT (RFC 5256), SORT=DISPLAY (RFC 5957) and ESORT (RFC
5267) on every store: each sort key on a mailbox whose expected orders are
worked out by hand below, REVERSE, ties broken by sequence number, search
criteria, the ESEARCH form, and the error cases (tagged BAD / NO
[BADCHARSET], the session going on)."""
from rfc9051_common import Session, tagged, untagged  # noqa: F401


def msg(frm, to, cc, subject, date, body_len):
    h = []
    if frm:
        h.append(b"From: " + frm)
    if to:
        h.append(b"To: " + to)
    if cc:
        h.append(b"Cc: " + cc)
    h.append(b"Subject: " + subject)
    if date:
        h.append(b"Date: " + date)
    h.append(b"Message-ID: <m" + str(body_len).encode() + b"@test>")
    body = (b"x" * 70 + b"\r\n") * (body_len // 72)
    return b"\r\n".join(h) + b"\r\n\r\n" + body


# seq: (From, To, Cc, Subject, Date, INTERNALDATE, body bytes)
MSGS = [
    (b'"Zed" <bob@x.example>', b"carol@y.example", b"dave@z.example", b"Re: apple",
     b"Mon, 01 Jan 2024 10:00:00 +0000", b"05-Jan-2024 00:00:00 +0000", 1000),
    (b"alice@x.example", b'"Ann" <zoe@y.example>', None, b"[list] Banana (fwd)",
     b"Mon, 01 Jan 2024 09:00:00 -0200", b"03-Jan-2024 00:00:00 +0000", 4000),
    # no Date: the INTERNALDATE stands in (as Dovecot does)
    (b"=?UTF-8?Q?=C3=89mile?= <carl@x.example>", b"bob@y.example", None,
     b"=?UTF-8?Q?Fwd:_APPLE?=", None, b"02-Jan-2024 00:00:00 +0000", 100),
    (b'"bob" <Bob@x.example>', None, b'"Ann" <amy@z.example>', b"banana",
     b"Sun, 31 Dec 2023 23:00:00 +0000", b"04-Jan-2024 00:00:00 +0000", 2000),
]

EXPECTED = {
    b"ARRIVAL": [3, 2, 4, 1],
    b"DATE": [4, 1, 2, 3],           # 2 is 11:00 UTC; 3 has Jan 2 (INTERNALDATE)
    b"FROM": [2, 1, 4, 3],           # alice, bob, Bob (tie: seq), carl
    b"TO": [4, 3, 1, 2],             # none, bob, carol, zoe
    b"CC": [2, 3, 4, 1],             # none, none, amy, dave
    b"SUBJECT": [1, 3, 2, 4],        # apple, apple, banana, banana
    b"SIZE": [3, 1, 4, 2],
    b"DISPLAYFROM": [2, 4, 3, 1],    # alice@x.example, bob, Emile, zed
    b"DISPLAYTO": [4, 2, 3, 1],      # none, ann, bob@y.example, carol@y.example
    b"REVERSE SUBJECT": [2, 4, 1, 3],
    b"SUBJECT REVERSE DATE": [3, 1, 2, 4],
    b"REVERSE ARRIVAL": [1, 4, 2, 3],
    b"FROM SUBJECT": [2, 1, 4, 3],
    b"REVERSE FROM": [3, 1, 4, 2],   # REVERSE leaves the sequence tie ascending
}


def box(haven):
    """INBOX with MSGS; UIDs are seq + 1 (a first message was expunged)."""
    s = Session(haven)
    s.append(b"INBOX", b"Subject: gone\r\n\r\nx\r\n")
    for m in MSGS:
        s.append(b"INBOX", msg(*m[:5], m[6]), date=m[5])
    s.ok(b"SELECT INBOX")
    s.ok(b"STORE 1 +FLAGS (\\Deleted)")
    s.ok(b"EXPUNGE")
    return s


def sort_line(s, command):
    out = untagged(s.ok(command))
    assert len(out) == 1, out
    return out[0]


def nums(line, prefix=b"* SORT"):
    assert line.startswith(prefix) and line.endswith(b"\r\n"), line
    return [int(x) for x in line[len(prefix):].split()]


def test_capability(haven):
    s = Session(haven)
    caps = untagged(s.ok(b"CAPABILITY"))[0].split()
    for c in (b"SORT", b"SORT=DISPLAY", b"ESORT"):
        assert c in caps, caps
    s.close()


def test_every_key(haven):
    s = box(haven)
    for crit, want in EXPECTED.items():
        assert nums(sort_line(s, b"SORT (" + crit + b") UTF-8 ALL")) == want, crit
        uids = nums(sort_line(s, b"UID SORT (" + crit + b") UTF-8 ALL"))
        assert uids == [n + 1 for n in want], crit
    s.close()


def test_criteria_and_charset(haven):
    s = box(haven)
    assert sort_line(s, b"SORT (SUBJECT) UTF-8 FROM bob") == b"* SORT 1 4\r\n"
    assert sort_line(s, b"SORT (DATE) US-ASCII SUBJECT banana") == b"* SORT 4 2\r\n"
    assert sort_line(s, b"SORT (DATE) utf-8 OR LARGER 3000 1") == b"* SORT 1 2\r\n"
    assert sort_line(s, b"SORT (ARRIVAL) UTF-8 NOT ALL") == b"* SORT\r\n"
    assert sort_line(s, b"UID SORT (REVERSE DATE) UTF-8 UID 2:4") == b"* SORT 4 3 2\r\n"
    s.close()


def test_esort(haven):
    s = box(haven)
    tag = b"E1"
    out = untagged(s.ok(b"SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL", tag))
    assert out == [b'* ESEARCH (TAG "E1") MIN 4 MAX 3 COUNT 4\r\n'], out
    out = untagged(s.ok(b"SORT RETURN () (DATE) UTF-8 ALL", b"E2"))
    assert out == [b'* ESEARCH (TAG "E2") ALL 4,1:3\r\n'], out
    out = untagged(s.ok(b"UID SORT RETURN (ALL COUNT) (REVERSE SUBJECT) UTF-8 ALL", b"E3"))
    assert out == [b'* ESEARCH (TAG "E3") UID ALL 3,5,2,4 COUNT 4\r\n'], out
    out = untagged(s.ok(b"SORT RETURN (COUNT MIN) (DATE) UTF-8 NOT ALL", b"E4"))
    assert out == [b'* ESEARCH (TAG "E4") COUNT 0\r\n'], out
    s.close()


def test_errors(haven):
    s = box(haven)
    assert s.bad(b"SORT (BOGUS) UTF-8 ALL")
    assert s.bad(b"SORT () UTF-8 ALL")
    assert s.bad(b"SORT (REVERSE) UTF-8 ALL")
    assert s.bad(b"SORT (REVERSE REVERSE DATE) UTF-8 ALL")
    assert s.bad(b"SORT (DATE) UTF-8")
    assert s.bad(b"SORT (DATE)")
    assert s.bad(b"SORT DATE UTF-8 ALL")
    assert s.bad(b"SORT (DATE) UTF-8 BOGUSKEY")
    assert s.bad(b"SORT RETURN (SAVE) (DATE) UTF-8 ALL")
    assert s.bad(b"UID SORT")
    no = s.no(b"SORT (DATE) KOI8-XX ALL")
    assert b"[BADCHARSET" in no, no
    # the session goes on
    assert sort_line(s, b"SORT (SIZE) UTF-8 ALL") == b"* SORT 3 1 4 2\r\n"
    s.close()


def test_not_selected(haven):
    s = Session(haven)
    assert s.bad(b"SORT (DATE) UTF-8 ALL")
    s.close()


def test_long_header(haven):
    """A header longer than what a store reads ahead for sorting (the pg
    store's 16 KiB prefix): the fields after it still count."""
    s = Session(haven)
    pad = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 70) for i in range(400))
    s.append(b"INBOX", b"Subject: bbb\r\nFrom: b@x\r\n\r\nx\r\n")
    s.append(b"INBOX", pad + b"Subject: aaa\r\nFrom: z@x\r\n\r\nx\r\n")
    s.append(b"INBOX", b"Subject: ccc\r\nFrom: a@x\r\n\r\nx\r\n")
    s.ok(b"SELECT INBOX")
    assert sort_line(s, b"SORT (SUBJECT) UTF-8 ALL") == b"* SORT 2 1 3\r\n"
    assert sort_line(s, b"SORT (FROM) UTF-8 ALL") == b"* SORT 3 1 2\r\n"
    s.close()


def test_sort_modseq(haven):
    """RFC 7162 3.1.5: a SORT with MODSEQ carries the highest mod-sequence
    of what it returns (of MIN's message alone with RETURN (MIN))."""
    from test_condstore import box as cbox, modseqs, status_hms
    s = cbox(haven, 5)
    mark = status_hms(s)
    s.ok(b"STORE 2 +FLAGS.SILENT (\\Draft)")
    s.ok(b"STORE 4 +FLAGS.SILENT (\\Flagged)")
    hms = status_hms(s)
    out = untagged(s.ok(b"SORT (ARRIVAL) UTF-8 MODSEQ %d" % (mark + 1)))
    assert out == [b"* SORT 2 4 (MODSEQ %d)\r\n" % hms], out
    ms2 = modseqs(untagged(s.ok(b"FETCH 2 (MODSEQ)")))[2]
    out = untagged(s.ok(b"SORT RETURN (MIN) (ARRIVAL) UTF-8 MODSEQ %d" % (mark + 1), b"M1"))
    assert out == [b'* ESEARCH (TAG "M1") MIN 2 MODSEQ %d\r\n' % ms2], out
    assert untagged(s.ok(b"SORT (ARRIVAL) UTF-8 MODSEQ %d" % (hms + 1))) == [b"* SORT\r\n"]
    s.close()


def test_kept_keys_follow_the_mailbox(haven):
    """The store keeps each message's keys across commands and sessions
    (backend op sort_keys): after appends and expunges by another session,
    a session that has sorted before answers every SORT and THREAD as a
    fresh session does."""
    s = box(haven)
    commands = [b"SORT (" + crit + b") UTF-8 ALL" for crit in EXPECTED] + \
        [b"UID SORT (SUBJECT) UTF-8 ALL", b"THREAD REFERENCES UTF-8 ALL",
         b"THREAD ORDEREDSUBJECT UTF-8 ALL", b"THREAD REFS UTF-8 ALL"]
    for c in commands:
        s.ok(c)
    other = Session(haven)
    other.append(b"INBOX", msg(b"aaron@x.example", b"a@y.example", None, b"Re: aardvark",
                               b"Sat, 30 Dec 2023 08:00:00 +0000", 300),
                 date=b"06-Jan-2024 00:00:00 +0000")
    other.append(b"INBOX", b"Subject: Re: apple\r\nIn-Reply-To: <m1000@test>\r\n"
                 b"References: <m1000@test>\r\n\r\nreply\r\n")
    other.ok(b"SELECT INBOX")
    other.ok(b"STORE 2 +FLAGS (\\Deleted)")
    other.ok(b"EXPUNGE")
    other.close()
    s.ok(b"NOOP")
    warm = [untagged(s.ok(c)) for c in commands]
    fresh = Session(haven)
    fresh.ok(b"SELECT INBOX")
    assert warm == [untagged(fresh.ok(c)) for c in commands]
    # aardvark, the three apples by sequence, banana
    assert nums(warm[list(EXPECTED).index(b"SUBJECT")][0]) == [4, 1, 2, 5, 3]
    fresh.close()
    s.close()
