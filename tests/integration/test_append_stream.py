"""APPEND as a stream: the message literal goes to the store as it arrives,
not gathered into the command first. The user worker's peak memory stays
no longer holds the command's copy of the message: what remains is the
store's (mbox gathers the message to append it under its lock; PostgreSQL
sends it to the database in chunks but keeps it for the parse at the end); errors in what comes before the literal are
answered before the client sends a byte of a synchronizing literal; a
connection dropped mid-literal stores nothing; pipelined APPENDs each get
their answer; an error after the literal leaves the session usable."""
import os
import socket
import time

import pytest

from conftest import Haven, ROOT, read_until_tagged
from procs import children_of
from rfc9051_common import Session, lit

PLAIN_BUILD = os.environ.get("HAVEN_PLAIN_BUILD", os.path.join(ROOT, "build"))
BIG = 40 * 1024 * 1024


def message(size, tag=b"big"):
    """A message of exactly size bytes: header, then 76-byte lines."""
    head = b"From: a@example.org\r\nSubject: %s\r\n\r\n" % tag
    line = b"x" * 74 + b"\r\n"
    n = (size - len(head)) // len(line)
    body = line * n
    return head + body + b"y" * (size - len(head) - len(body))


def user_worker(h):
    found = [pid for pid, argv in children_of(h.proc.pid)
             if argv and os.path.basename(argv[0]) == "haven-worker"]
    assert len(found) == 1, found
    return found[0]


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for %d" % (field, pid))


def plain_haven(backend):
    """The normal build's helpers: the sanitizers' allocator keeps freed
    memory in quarantine, so only the plain build's peak means anything."""
    h = Haven(users=("alice",), backend=backend, extra_conf="worker_idle_timeout = 300")
    conf = open(h.conf).read().replace("libexec_dir = ", "libexec_dir = %s\n#" % PLAIN_BUILD)
    open(h.conf, "w").write(conf)
    return h.start()


def send_in_pieces(sock, data, piece=1 << 20):
    for i in range(0, len(data), piece):
        sock.sendall(data[i:i + piece])


def fetch_size(s, box=b"INBOX", seq=b"*"):
    s.ok(b"SELECT " + box)
    out = b"".join(s.ok(b"FETCH %s (RFC822.SIZE)" % seq))
    s.ok(b"CLOSE")
    return out


@pytest.mark.skipif(not os.path.exists(os.path.join(PLAIN_BUILD, "haven-worker")),
                    reason="normal build missing")
def test_a_40mb_append_does_not_sit_in_the_worker(backend):
    h = plain_haven(backend)
    try:
        s = Session(h)
        s.ok(b"NOOP")
        pid = user_worker(h)
        base = status_kib(pid, "VmHWM")
        msg = message(BIG)
        tag = b"big"
        s.send(tag + b" APPEND INBOX {%d}\r\n" % len(msg))
        assert s.f.readline().startswith(b"+ ")
        send_in_pieces(s.sock, msg + b"\r\n")
        out = s.until(tag)
        assert out[-1].startswith(b"big OK [APPENDUID "), out
        peak = status_kib(pid, "VmHWM") - base
        size_kib = BIG // 1024
        print("40 MiB APPEND (%s): user worker peak +%d KiB" % (backend, peak))
        # The session holds one piece of the literal at a time: what
        # remains is the store's. mbox gathers the message (one copy; 3.4
        # copies before: the command, the store's, its growth); PostgreSQL
        # parses it as it goes to the database in chunks and keeps at most
        # 8 MiB of it for the search text (about 13 MiB in all; 5.4 copies
        # before).
        limit = {"mbox": 1.5, "pgsql": 0.5}[backend]
        assert peak < size_kib * limit, (backend, base, peak, size_kib)
        assert b"RFC822.SIZE %d)" % BIG in fetch_size(s)
        # The bytes are the ones sent.
        s.ok(b"EXAMINE INBOX")
        got = b"".join(s.ok(b"FETCH 1 BODY.PEEK[]<41943000.40>"))
        assert msg[41943000:41943040] in got
        s.close()
    finally:
        h.stop()
        h.cleanup()


def test_errors_before_the_literal_are_answered_before_its_bytes(haven):
    """A synchronizing literal gets no "+" when the command so far is
    wrong: the tagged answer comes instead, and the session goes on."""
    s = Session(haven)
    cases = [
        (b"APPEND nosuchbox {10}", b"NO [TRYCREATE]"),
        (b"APPEND INBOX (\\Bogus) {10}", b"BAD"),
        (b"APPEND INBOX (NIL) {10}", b"BAD"),
        (b'APPEND INBOX "31-Foo-2020 00:00:00 +0000" {10}', b"BAD"),
        (b"APPEND INBOX 12 {10}", b"BAD"),
        (b"APPEND INBOX (\\Seen) {60000000}", b"TOOBIG"),
        (b"APPEND INBOX UTF8 (~{10}", b"BAD"),
    ]
    for n, (cmd, want) in enumerate(cases):
        tag = b"e%d" % n
        s.send(tag + b" " + cmd + b"\r\n")
        line = s.f.readline()
        assert line.startswith(tag + b" ") and want in line, (cmd, line)
        # The bytes the client would have sent are not waited for: the
        # next command is read as a command.
        s.ok(b"NOOP")
    s.ok(b"SELECT INBOX")
    s.ok(b"CLOSE")
    assert b"MESSAGES 0" in b"".join(s.ok(b"STATUS INBOX (MESSAGES)"))
    # A non-synchronizing literal after the same errors is skipped whole.
    s.send(b"n1 APPEND nosuchbox {5+}\r\nhello\r\nn2 NOOP\r\n")
    assert b"n1 NO [TRYCREATE]" in s.f.readline()
    assert s.f.readline().startswith(b"n2 OK")
    s.close()


def test_pipelined_appends(haven):
    s = Session(haven)
    msgs = [message(1000 + 977 * i, b"p%d" % i) for i in range(12)]
    batch = b""
    for i, m in enumerate(msgs):
        # LITERAL+, LITERAL-, literal8 mixed in one write.
        form = (b"{%d+}", b"{%d-}", b"~{%d+}")[i % 3] % len(m)
        batch += b"p%d APPEND INBOX (\\Seen $K%d) " % (i, i) + form + b"\r\n" + m + b"\r\n"
    s.send(batch)
    uids = []
    for i in range(len(msgs)):
        out = s.until(b"p%d" % i)
        assert out[-1].startswith(b"p%d OK [APPENDUID " % i), out
        uids.append(int(out[-1].split()[4].rstrip(b"]")))
    assert uids == sorted(uids) and len(set(uids)) == len(uids)
    s.ok(b"EXAMINE INBOX")
    for i, m in enumerate(msgs):
        got = b"".join(s.ok(b"FETCH %d (FLAGS BODY.PEEK[])" % (i + 1)))
        assert m in got and b"$K%d" % i in got


def test_sync_literals_interleaved_with_other_commands(haven):
    s = Session(haven)
    m = message(5000, b"sync")
    s.send(b"a APPEND INBOX {%d}\r\n" % len(m))
    assert s.f.readline().startswith(b"+ ")
    # Half now, half later, then the end of the command.
    s.send(m[:2500])
    time.sleep(0.2)
    s.send(m[2500:] + b"\r\nb NOOP\r\n")
    assert s.until(b"a")[-1].startswith(b"a OK [APPENDUID ")
    assert s.until(b"b")[-1].startswith(b"b OK")
    # A mailbox name given as a literal, then the message.
    s.send(b"c APPEND {5}\r\n")
    assert s.f.readline().startswith(b"+ ")
    s.send(b"INBOX {%d}\r\n" % len(m))
    assert s.f.readline().startswith(b"+ ")
    s.send(m + b"\r\n")
    assert s.until(b"c")[-1].startswith(b"c OK [APPENDUID ")
    assert b"MESSAGES 2" in b"".join(s.ok(b"STATUS INBOX (MESSAGES)"))


def test_errors_after_the_literal(haven):
    """What follows the message is checked when it comes: nothing is stored
    and the session goes on."""
    s = Session(haven)
    m = message(3000, b"after")
    s.send(b"x1 APPEND INBOX " + lit(m) + b" junk\r\n")
    assert s.until(b"x1")[-1].startswith(b"x1 BAD")
    # Junk after a second message (MULTIAPPEND): nothing of either stored.
    s.send(b"x2 APPEND INBOX " + lit(m) + b" " + lit(m) + b" junk\r\n")
    assert s.until(b"x2")[-1].startswith(b"x2 BAD")
    s.ok(b"NOOP")
    # NUL in a plain literal: refused, session goes on.
    bad = m[:100] + b"\x00" + m[101:]
    s.send(b"x3 APPEND INBOX " + lit(bad) + b"\r\n")
    assert b"UNKNOWN-CTE" in s.until(b"x3")[-1]
    assert b"MESSAGES 0" in b"".join(s.ok(b"STATUS INBOX (MESSAGES)"))
    s.append(b"INBOX", m)
    assert b"MESSAGES 1" in b"".join(s.ok(b"STATUS INBOX (MESSAGES)"))


def test_a_dropped_connection_stores_nothing(haven):
    m = message(3 * 1024 * 1024, b"dropped")
    for form in (b"{%d}", b"{%d+}", b"~{%d+}"):
        s = Session(haven)
        s.send(b"d APPEND INBOX " + form % len(m) + b"\r\n")
        if form == b"{%d}":
            assert s.f.readline().startswith(b"+ ")
        send_in_pieces(s.sock, m[:len(m) // 2])
        s.sock.shutdown(socket.SHUT_RDWR)
        s.close()
    # Every worker has seen its connection go before this one asks.
    time.sleep(1)
    s = Session(haven)
    assert b"MESSAGES 0" in b"".join(s.ok(b"STATUS INBOX (MESSAGES)"))
    s.append(b"INBOX", m[:4000])
    s.ok(b"SELECT INBOX")
    out = b"".join(s.ok(b"FETCH 1:* (RFC822.SIZE)"))
    assert out.count(b"RFC822.SIZE") == 1 and b"RFC822.SIZE 4000" in out
    # (Leaks of the aborted appends show in the ASan log the fixture checks.)
