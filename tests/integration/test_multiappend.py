"""MULTIAPPEND (RFC 3502) on every store: several messages in one APPEND,
stored all together with one APPENDUID carrying their UID set (RFC 4315),
or none of them: a bad second message (date, flags, NUL, size, what
follows it), a limit reached, a connection lost before the end, or a
kill -9 of the worker half-way through storing them leaves the mailbox as
it was. Big messages go through as in a single APPEND."""
import hashlib
import os
import re
import signal
import socket
import time
from datetime import datetime

from conftest import only_backends
from procs import wait_for
from rfc9051_common import Session, lit, simple_msg, untagged
from test_sieve import worker_stopped

DATE1 = b"21-Feb-2021 10:00:00 +0000"
DATE2 = b"17-Jul-1996 02:44:25 -0700"


def status(s, box=b"INBOX"):
    """(MESSAGES, UIDNEXT, UIDVALIDITY) of box."""
    out = b"".join(s.ok(b"STATUS " + box + b" (MESSAGES UIDNEXT UIDVALIDITY)"))
    m = re.search(rb"MESSAGES (\d+) UIDNEXT (\d+) UIDVALIDITY (\d+)", out)
    return tuple(int(x) for x in m.groups())


def big_message(size, tag):
    head = b"From: a@example.org\r\nSubject: %s\r\n\r\n" % tag
    line = b"%s" % tag[:1] * 74 + b"\r\n"
    body = line * ((size - len(head)) // len(line))
    return head + body + b"z" * (size - len(head) - len(body))


def fetch_all(s, box=b"INBOX"):
    """{uid: (flags, internaldate, sha256 of the body)} of every message."""
    s.ok(b"EXAMINE " + box)
    out = {}
    for r in untagged(s.ok(b"UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])")):
        m = re.match(rb"\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\) INTERNALDATE \"([^\"]+)\" "
                     rb"BODY\[\] \{(\d+)\}\r\n", r)
        assert m, r[:200]
        body = r[m.end():m.end() + int(m.group(4))]
        out[int(m.group(1))] = (set(m.group(2).split()) - {b"\\Recent"}, instant(m.group(3)),
                                hashlib.sha256(body).hexdigest())
    s.ok(b"CLOSE")
    return out


def instant(date):
    """An IMAP date-time as seconds (mbox keeps the instant, not the zone)."""
    return datetime.strptime(date.strip().decode(), "%d-%b-%Y %H:%M:%S %z").timestamp()


def sha(b):
    return hashlib.sha256(b).hexdigest()


def test_capability(haven):
    s = Session(haven)
    caps = untagged(s.ok(b"CAPABILITY"))[0]
    assert b" MULTIAPPEND" in caps, caps


def test_three_messages_one_appenduid(haven):
    s = Session(haven)
    s.append(b"INBOX", simple_msg(0))
    n0, uidnext, uidvalidity = status(s)
    m1, m2, m3 = simple_msg(1), simple_msg(2), simple_msg(3)
    out = s.ok(b"APPEND INBOX (\\Seen $Work) \"" + DATE1 + b"\" " + lit(m1) +
               b" " + lit(m2) + b" (\\Flagged) \"" + DATE2 + b"\" " + lit(m3))
    assert out[-1] == b"A%03d OK [APPENDUID %d %d:%d] APPEND completed\r\n" % (
        s.n, uidvalidity, uidnext, uidnext + 2), out
    assert status(s) == (n0 + 3, uidnext + 3, uidvalidity)
    got = fetch_all(s)
    assert got[uidnext] == ({b"\\Seen", b"$Work"}, instant(DATE1), sha(m1))
    assert got[uidnext + 1][0] == set() and got[uidnext + 1][2] == sha(m2)
    assert got[uidnext + 2] == ({b"\\Flagged"}, instant(DATE2), sha(m3))


def test_synchronizing_literals_each_get_a_continuation(haven):
    s = Session(haven)
    uidvalidity = status(s)[2]
    m1, m2 = simple_msg(1), simple_msg(2)
    s.send(b"s1 APPEND INBOX {%d}\r\n" % len(m1))
    assert s.f.readline().startswith(b"+ ")
    s.send(m1 + b" (\\Draft) {%d}\r\n" % len(m2))
    assert s.f.readline().startswith(b"+ ")
    s.send(m2 + b"\r\n")
    assert s.until(b"s1")[-1] == b"s1 OK [APPENDUID %d 1:2] APPEND completed\r\n" % uidvalidity
    got = fetch_all(s)
    assert got[2][0] == {b"\\Draft"} and got[2][2] == sha(m2)


def test_selected_session_sees_all_of_them(haven):
    s = Session(haven)
    s.ok(b"SELECT INBOX")
    out = s.ok(b"APPEND INBOX " + lit(simple_msg(1)) + b" " + lit(simple_msg(2)))
    assert b"* 2 EXISTS\r\n" in out, out


def refused_and_nothing_stored(s, command, expect):
    before = status(s)
    s.send(b"r " + command + b"\r\n")
    last = s.until(b"r")[-1]
    assert re.match(expect, last), (command[:200], last)
    assert status(s) == before, command[:200]
    s.ok(b"NOOP")


def test_a_bad_later_message_stores_none(haven):
    s = Session(haven)
    s.append(b"INBOX", simple_msg(0))
    m = simple_msg(1)
    one = b"APPEND INBOX " + lit(m) + b" "
    refused_and_nothing_stored(s, one + b'"31-Feb-2021 99:00:00 +0000" ' + lit(m),
                               rb"r BAD ")
    refused_and_nothing_stored(s, one + b"(\\Bogus) " + lit(m), rb"r BAD ")
    refused_and_nothing_stored(s, one + b"(\\Seen " + lit(m), rb"r BAD ")
    refused_and_nothing_stored(s, one + b"notaliteral", rb"r BAD ")
    refused_and_nothing_stored(s, one + lit(m) + b" junk", rb"r BAD ")
    refused_and_nothing_stored(s, b"APPEND INBOX " + lit(m) + lit(m), rb"r BAD ")
    nul = m[:10] + b"\x00" + m[11:]
    refused_and_nothing_stored(s, one + lit(nul), rb"r NO \[UNKNOWN-CTE\] ")
    # the first one is the bad one: nothing of the second is kept either
    refused_and_nothing_stored(s, b"APPEND INBOX " + lit(nul) + b" " + lit(m),
                               rb"r NO \[UNKNOWN-CTE\] ")
    refused_and_nothing_stored(s, b"APPEND Nowhere " + lit(m) + b" " + lit(m),
                               rb"r NO \[TRYCREATE\] ")
    # and the same session goes on to store a good one
    out = s.ok(b"APPEND INBOX " + lit(m) + b" " + lit(m))
    assert out[-1].startswith(b"A%03d OK [APPENDUID " % s.n), out


def test_a_later_literal_over_the_limit_stores_none(haven_factory):
    h = haven_factory(extra_conf="max_literal = 20000\n")
    s = Session(h)
    before = status(s)
    m = simple_msg(1)
    s.send(b"t1 APPEND INBOX " + lit(m) + b" {30000}\r\n")
    last = s.until(b"t1")[-1]
    # Refused before a byte of it is sent: over APPENDLIMIT (max_literal),
    # which RFC 7889 answers with NO [TOOBIG]; the session goes on
    assert last.startswith(b"t1 NO [TOOBIG] "), last
    assert status(s) == before


def test_literal_plus_not_literal_minus(haven):
    """LITERAL+ is offered, so LITERAL- is not (RFC 7888 section 5), and a
    non-synchronizing literal over 4096 bytes is taken as any other."""
    s = Session(haven)
    caps = untagged(s.ok(b"CAPABILITY"))[0].split()
    assert b"LITERAL+" in caps and b"LITERAL-" not in caps, caps
    m = big_message(10000, b"plus")
    out = s.ok(b"APPEND INBOX " + lit(m) + b" " + lit(m))
    assert out[-1].startswith(b"A%03d OK [APPENDUID " % s.n), out


def test_limits_on_a_group(haven_factory):
    h = haven_factory(extra_conf="max_multiappend_messages = 3\n"
                                 "max_multiappend_size = 10000\n")
    s = Session(h)
    before = status(s)
    m = simple_msg(1)
    refused_and_nothing_stored(s, b"APPEND INBOX " + b" ".join([lit(m)] * 4),
                               rb"r NO \[LIMIT\] ")
    big = big_message(6000, b"big")
    refused_and_nothing_stored(s, b"APPEND INBOX " + lit(big) + b" " + lit(big),
                               rb"r NO \[LIMIT\] ")
    # a synchronizing literal over the limit is refused before it is sent
    s.send(b"t2 APPEND INBOX " + lit(big) + b" {%d}\r\n" % len(big))
    assert re.match(rb"t2 NO \[LIMIT\] ", s.f.readline())
    s.ok(b"APPEND INBOX " + b" ".join([lit(m)] * 3))
    assert status(s)[0] == before[0] + 3


def test_a_lost_connection_stores_none(haven):
    s = Session(haven)
    before = status(s)
    m = big_message(200000, b"lost")
    s.send(b"l APPEND INBOX " + lit(m) + b" " + lit(m) + b" {%d+}\r\n" % len(m) + m[:1000])
    s.sock.shutdown(socket.SHUT_RDWR)
    s.close()
    time.sleep(1)
    s = Session(haven)
    assert status(s) == before


def test_big_messages(haven):
    s = Session(haven)
    m1, m2 = big_message(5 * 1024 * 1024, b"one"), big_message(3 * 1024 * 1024, b"two")
    s.send(b"b APPEND INBOX " + lit(m1) + b" " + lit(m2) + b"\r\n")
    assert s.until(b"b")[-1].startswith(b"b OK [APPENDUID ")
    got = fetch_all(s)
    assert [v[2] for _, v in sorted(got.items())] == [sha(m1), sha(m2)]


def test_kill_9_half_way_stores_none(haven):
    """The worker stops (test hook) with the first message of three stored
    in the mbox file, or inside the PostgreSQL transaction, and is
    killed there: the next session finds none of them."""
    s = Session(haven)
    s.append(b"INBOX", simple_msg(0))
    before = status(s)
    s.ok(b"LOGOUT")
    home = os.path.join(haven.home_root, "alice")
    inbox = os.path.join(home, "INBOX")
    size0 = os.path.getsize(inbox) if haven.backend == "mbox" else 0
    open(os.path.join(home, ".haven-test-stop-multiappend"), "w").close()
    s = Session(haven)
    ms = [big_message(100000, b"k%d" % i) for i in range(3)]
    s.send(b"k APPEND INBOX " + b" ".join(lit(m) for m in ms) + b"\r\n")
    pid = wait_for(lambda: worker_stopped(haven), timeout=60)
    assert pid, "the worker did not stop in the MULTIAPPEND"
    if haven.backend == "mbox":
        assert os.path.getsize(inbox) > size0 + 90000   # the first one is there (LF ends)
    os.kill(pid, signal.SIGKILL)
    try:
        assert s.f.readline() == b""    # no answer: it died
    except OSError:
        pass
    s.close()
    s = Session(haven)
    after = status(s)
    assert after[0] == before[0] and after[2] == before[2], (before, after)
    assert after[1] >= before[1]
    assert len(fetch_all(s)) == before[0]
    out = s.ok(b"APPEND INBOX " + lit(simple_msg(5)) + b" " + lit(simple_msg(6)))
    assert out[-1].startswith(b"A%03d OK [APPENDUID " % s.n)
    assert status(s)[0] == before[0] + 2


@only_backends("mbox")
def test_mbox_base_header_of_a_fresh_file(haven):
    """The first message into an empty mbox file carries X-IMAPbase: the
    last UID of the whole group, and the keywords of every message."""
    s = Session(haven)
    s.ok(b"APPEND INBOX " + lit(simple_msg(1)) + b" ($Later) " + lit(simple_msg(2)) +
         b" (Third) " + lit(simple_msg(3)))
    with open(os.path.join(haven.home_root, "alice", "INBOX"), "rb") as f:
        text = f.read()
    base = re.search(rb"^X-IMAPbase: (\d+) (\d+)(.*)$", text, re.M)
    assert base, text[:500]
    assert int(base.group(2)) == 3, base.group(0)     # the last UID given out
    assert base.group(3).split() == [b"$Later", b"Third"], base.group(0)
