"""REPLACE and UID REPLACE (RFC 8508) on every store: the new message is
appended (APPENDUID in an untagged OK), then the old one is expunged
(EXPUNGE, or VANISHED for a QRESYNC client), in the selected mailbox or
into another one; every error leaves both mailboxes as they were, with
no EXPUNGE sent."""
import re

from rfc9051_common import Session, lit, simple_msg, untagged


def status(s, box=b"INBOX"):
    out = b"".join(s.ok(b"STATUS " + box + b" (MESSAGES UIDNEXT UIDVALIDITY)"))
    m = re.search(rb"MESSAGES (\d+) UIDNEXT (\d+) UIDVALIDITY (\d+)", out)
    return tuple(int(x) for x in m.groups())


def work(haven, n=3):
    """A session with Work holding n messages, selected."""
    s = Session(haven)
    s.ok(b"CREATE Work")
    for i in range(1, n + 1):
        s.append(b"Work", simple_msg(i))
    s.ok(b"SELECT Work")
    return s


def bodies(s):
    """{uid: subject} of the selected mailbox."""
    out = {}
    for r in untagged(s.ok(b"UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")):
        m = re.search(rb"UID (\d+) BODY\[HEADER.FIELDS \(SUBJECT\)\] \{\d+\}\r\nSubject: ([^\r]*)",
                      r)
        out[int(m.group(1))] = m.group(2)
    return out


def test_capability(haven):
    s = Session(haven)
    assert b" REPLACE" in untagged(s.ok(b"CAPABILITY"))[0]


def test_replace_in_the_selected_mailbox(haven):
    s = work(haven)
    _, uidnext, uidvalidity = status(s, b"Work")
    new = simple_msg(9, subject=b"new draft")
    out = s.ok(b"REPLACE 2 Work (\\Seen \\Draft) " + lit(new))
    assert out[0] == b"* OK [APPENDUID %d %d] Replacement Message ready\r\n" % (
        uidvalidity, uidnext), out
    assert b"* 2 EXPUNGE\r\n" in out and b"* 3 EXISTS\r\n" in out, out
    assert not any(b"FETCH" in l for l in out), out    # no STORE responses
    assert out[-1] == b"A%03d OK REPLACE completed\r\n" % s.n
    assert bodies(s) == {1: b"message 1", 3: b"message 3", uidnext: b"new draft"}
    f = untagged(s.ok(b"UID FETCH %d (FLAGS)" % uidnext))
    assert b"\\Seen" in f[0] and b"\\Draft" in f[0], f


def test_uid_replace_into_another_mailbox(haven):
    s = work(haven)
    s.ok(b"CREATE Outbox")
    _, uidnext, uidvalidity = status(s, b"Outbox")
    out = s.ok(b"UID REPLACE 3 Outbox " + lit(simple_msg(7, subject=b"sent one")))
    assert out[0] == b"* OK [APPENDUID %d %d] Replacement Message ready\r\n" % (
        uidvalidity, uidnext), out
    assert b"* 3 EXPUNGE\r\n" in out, out
    assert bodies(s) == {1: b"message 1", 2: b"message 2"}
    assert status(s, b"Outbox")[0] == 1


def test_qresync_client_gets_vanished(haven):
    s = work(haven)
    s.ok(b"UNSELECT")
    s.ok(b"ENABLE QRESYNC")
    s.ok(b"SELECT Work")
    out = s.ok(b"UID REPLACE 1 Work " + lit(simple_msg(5)))
    assert b"* VANISHED 1\r\n" in out, out


def test_synchronizing_literal(haven):
    s = work(haven, 1)
    m = simple_msg(4, subject=b"sync")
    s.send(b"r1 REPLACE 1 Work {%d}\r\n" % len(m))
    assert s.f.readline().startswith(b"+ ")
    s.send(m + b"\r\n")
    assert s.until(b"r1")[-1] == b"r1 OK REPLACE completed\r\n"


def unchanged_after(s, command, expect):
    before = (status(s, b"Work"), bodies(s))
    s.send(b"e " + command + b"\r\n")
    out = s.until(b"e")
    assert re.match(expect, out[-1]), (command, out)
    assert not any(b"EXPUNGE" in l or b"APPENDUID" in l for l in out), out
    assert (status(s, b"Work"), bodies(s)) == before, command


def test_errors_leave_everything_as_it_was(haven):
    s = work(haven)
    m = simple_msg(8)
    unchanged_after(s, b"REPLACE 4 Work " + lit(m), rb"e BAD ")         # no message 4
    unchanged_after(s, b"REPLACE 0 Work " + lit(m), rb"e BAD ")
    unchanged_after(s, b"REPLACE x Work " + lit(m), rb"e BAD ")
    unchanged_after(s, b"UID REPLACE 99 Work " + lit(m), rb"e NO \[NONEXISTENT\] ")
    unchanged_after(s, b"REPLACE 1 Nowhere " + lit(m), rb"e NO \[TRYCREATE\] ")
    unchanged_after(s, b"REPLACE 1 Work (\\Bogus) " + lit(m), rb"e BAD ")
    unchanged_after(s, b'REPLACE 1 Work "99-Foo-2000 00:00:00 +0000" ' + lit(m), rb"e BAD ")
    unchanged_after(s, b"REPLACE 1 Work " + lit(m) + b" " + lit(m), rb"e BAD ")
    unchanged_after(s, b"REPLACE 1 Work " + lit(m) + b" junk", rb"e BAD ")
    unchanged_after(s, b"REPLACE 1 Work " + lit(m[:5] + b"\x00" + m[6:]),
                    rb"e NO \[UNKNOWN-CTE\] ")
    unchanged_after(s, b"REPLACE 1 Work", rb"e BAD ")
    s.ok(b"EXAMINE Work")
    unchanged_after(s, b"REPLACE 1 Work " + lit(m), rb"e NO \[READ-ONLY\] ")
    s.ok(b"SELECT Work")
    s.ok(b"REPLACE 1 Work " + lit(m))


def test_not_in_authenticated_state(haven):
    s = Session(haven)
    s.send(b"n REPLACE 1 INBOX " + lit(simple_msg(1)) + b"\r\n")
    assert s.until(b"n")[-1].startswith(b"n BAD ")
    assert status(s)[0] == 0
