"""THREAD and UID THREAD (RFC 5256): ORDEREDSUBJECT, REFERENCES and REFS
on every store, on a mailbox whose threads are worked out by hand below
(references chains, a missing parent, In-Reply-To only, a message naming
itself, a duplicate Message-ID, subject merging), search criteria, the
RFC's empty answer, and the error cases."""
from rfc9051_common import Session, untagged  # noqa: F401

# Message-ID, References, In-Reply-To, Subject, hour of 2024-01-01 (UTC)
MSGS = [
    (b"<a@x>", None, None, b"hello", 1),
    (b"<b@x>", b"<a@x>", None, b"Re: hello", 2),
    (b"<c@x>", b"<a@x>\r\n <b@x>", None, b"Re: hello", 3),
    (b"<d@x>", b"<missing@x>", None, b"other", 4),
    (b"<e@x>", b"<missing@x>", None, b"Re: other", 5),
    (b"<f@x>", None, None, b"Re: hello", 0),
    (b"<g@x>", None, b"<c@x> <zzz@x>", b"whatever", 7),
    (b"<h@x>", b"<h@x>", None, b"self", 8),
    (b"<a@x>", None, None, b"dup", 9),
]

WANT = {
    b"REFERENCES": b"(1 (6)(2 3 7))((4)(5))(8)(9)",
    b"ORDEREDSUBJECT": b"(6 (1)(2)(3))(4 5)(7)(8)(9)",
    b"REFS": b"(6)((4)(5))(1 2 3 7)(8)(9)",
}


def msg(mid, refs, irt, subject, hour):
    h = [b"From: a@x.example", b"Message-ID: " + mid, b"Subject: " + subject,
         b"Date: Mon, 01 Jan 2024 %02d:00:00 +0000" % hour]
    if refs:
        h.append(b"References: " + refs)
    if irt:
        h.append(b"In-Reply-To: " + irt)
    return b"\r\n".join(h) + b"\r\n\r\nbody\r\n"


def box(haven):
    """INBOX with MSGS; UIDs are seq + 1 (a first message was expunged)."""
    s = Session(haven)
    s.append(b"INBOX", b"Subject: gone\r\n\r\nx\r\n")
    for m in MSGS:
        s.append(b"INBOX", msg(*m))
    s.ok(b"SELECT INBOX")
    s.ok(b"STORE 1 +FLAGS (\\Deleted)")
    s.ok(b"EXPUNGE")
    return s


def thread_line(s, command):
    out = untagged(s.ok(command))
    assert len(out) == 1, out
    return out[0]


def to_uids(t):
    """The same threads with every number one higher."""
    out, num = b"", b""
    for ch in t + b" ":
        c = bytes([ch])
        if c.isdigit():
            num += c
            continue
        if num:
            out += str(int(num) + 1).encode()
            num = b""
        out += c
    return out[:-1]


def test_capability(haven):
    s = Session(haven)
    caps = untagged(s.ok(b"CAPABILITY"))[0].split()
    for c in (b"THREAD=ORDEREDSUBJECT", b"THREAD=REFERENCES", b"THREAD=REFS"):
        assert c in caps, caps
    s.close()


def test_algorithms(haven):
    s = box(haven)
    for alg, want in WANT.items():
        assert thread_line(s, b"THREAD " + alg + b" UTF-8 ALL") == b"* THREAD " + want + b"\r\n"
        assert thread_line(s, b"UID THREAD " + alg + b" UTF-8 ALL") == \
            b"* THREAD " + to_uids(want) + b"\r\n"
    s.close()


def test_criteria(haven):
    s = box(haven)
    # without 1, 2's and 3's parent is a dummy: promoted, 2 at the top
    assert thread_line(s, b"THREAD REFERENCES UTF-8 2:5") == b"* THREAD (2 3)((4)(5))\r\n"
    assert thread_line(s, b"THREAD ORDEREDSUBJECT US-ASCII SUBJECT hello") == \
        b"* THREAD (6 (1)(2)(3))\r\n"
    # RFC 5256's example of an empty result
    assert thread_line(s, b'THREAD ORDEREDSUBJECT US-ASCII TEXT "gewp"') == b"* THREAD\r\n"
    s.close()


def test_errors(haven):
    s = box(haven)
    assert s.bad(b"THREAD BOGUS UTF-8 ALL")
    assert s.bad(b"THREAD REFERENCES UTF-8")
    assert s.bad(b"THREAD")
    assert s.bad(b"THREAD (REFERENCES) UTF-8 ALL")
    assert s.bad(b"THREAD REFERENCES UTF-8 BOGUSKEY")
    assert s.bad(b"UID THREAD")
    no = s.no(b"THREAD REFERENCES KOI8-XX ALL")
    assert b"[BADCHARSET" in no, no
    assert thread_line(s, b"THREAD REFS UTF-8 8") == b"* THREAD (8)\r\n"
    s.close()
