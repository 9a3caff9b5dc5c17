"""NOTIFY (RFC 5465) on every store: session A asks, session B (or LMTP)
changes the store, and A is told without issuing a command: STATUS for
other mailboxes, EXISTS / FETCH (with MessageNew's fetch-atts) / EXPUNGE
for the selected one, LIST for mailboxes created, renamed, deleted,
subscribed. NOTIFY NONE stops it; every error case the RFC names gets its
exact answer and the session goes on. Reads wait generously (a loaded
machine) and assert on what arrives, never on how fast."""
import re
import shutil
import socket
import tempfile
import time

import pytest
from conftest import Haven, check_sanitizers, free_port
from lmtp_client import Lmtp
from netwait import wait_listening
from procs import children_of
from rfc9051_common import Session, simple_msg, untagged

WAIT = 60   # seconds a pushed response may take on a loaded machine

SUPPORTED = (b"BADEVENT (MessageNew MessageExpunge FlagChange MailboxName "
             b"SubscriptionChange)")


def pushed(s, patterns):
    """Read unsolicited responses until each pattern has matched one; then
    a NOOP as a fence. Returns every untagged response read, in order."""
    s.sock.settimeout(WAIT)
    want = [re.compile(p) for p in patterns]
    got = []
    deadline = time.monotonic() + WAIT
    while want:
        assert time.monotonic() < deadline, (patterns, got)
        r = s.response()
        got.append(r)
        want = [p for p in want if not p.search(r)]
    got += untagged(s.ok(b"NOOP"))
    return got


def quiet(s):
    """What arrives before and with a NOOP: nothing is pushed meanwhile."""
    return untagged(s.ok(b"NOOP"))


def test_capability_and_errors(haven):
    a = Session(haven)
    caps = untagged(a.ok(b"CAPABILITY"))[0]
    assert b" NOTIFY" in caps, caps
    for bad in (b"NOTIFY", b"NOTIFY BOGUS", b"NOTIFY SET", b"NOTIFY SET STATUS",
                b"NOTIFY NONE (PERSONAL (MailboxName))",
                b"NOTIFY SET PERSONAL",
                b"NOTIFY SET (PERSONAL)",
                b"NOTIFY SET (NOWHERE (MailboxName))",
                b"NOTIFY SET (SUBTREE (MailboxName))",
                b"NOTIFY SET (MAILBOXES () (MailboxName))",
                b"NOTIFY SET (PERSONAL ())",
                # section 5: MessageNew and MessageExpunge go together
                b"NOTIFY SET (PERSONAL (MessageNew))",
                b"NOTIFY SET (PERSONAL (MessageExpunge))",
                b"NOTIFY SET (PERSONAL (FlagChange))",
                b"NOTIFY SET (PERSONAL (FlagChange MessageNew))",
                # 6.1: one selected specifier, message events only
                b"NOTIFY SET (SELECTED (MessageNew MessageExpunge)) "
                b"(SELECTED-DELAYED (MessageNew MessageExpunge))",
                b"NOTIFY SET (SELECTED (MailboxName))",
                # fetch-atts only after MessageNew, only for SELECTED, valid
                b"NOTIFY SET (PERSONAL (MessageNew (UID) MessageExpunge))",
                b"NOTIFY SET (SELECTED ((UID) MessageNew MessageExpunge))",
                b"NOTIFY SET (SELECTED (MessageNew (BOGUS) MessageExpunge))",
                b"NOTIFY SET (SELECTED (MessageNew () MessageExpunge))"):
        assert a.bad(bad), bad
    # unknown and unsupported events: NO [BADEVENT (the supported ones)]
    for ev in (b"Bogus", b"AnnotationChange MessageNew MessageExpunge",
               b"MailboxMetadataChange", b"ServerMetadataChange"):
        line = a.no(b"NOTIFY SET (PERSONAL (" + ev + b"))")
        assert line.split(b" ", 1)[1] == b"NO [" + SUPPORTED + b"] Unsupported NOTIFY event\r\n"
    # a syntax error wins over an unknown event
    a.bad(b"NOTIFY SET (PERSONAL (Bogus)) (NOWHERE NONE)")
    a.ok(b"NOTIFY SET (PERSONAL NONE)")
    a.ok(b"NOTIFY NONE")
    a.ok(b"NOOP")
    a.close()


def test_status_for_other_mailboxes(haven):
    a, b = Session(haven), Session(haven)
    b.ok(b"CREATE Work")
    out = a.ok(b"NOTIFY SET STATUS (MAILBOXES Work (MessageNew MessageExpunge FlagChange))")
    st = [l for l in out if l.startswith(b"* STATUS")]
    assert len(st) == 1 and re.match(
        rb'\* STATUS "?Work"? \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+ UNSEEN 0\)\r\n$', st[0]), out
    b.append(b"Work", simple_msg(1))
    got = pushed(a, [rb'\* STATUS "?Work"? \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1\)'])
    assert [l for l in got if l.startswith(b"* STATUS")][0:1] == got[0:1], got
    b.ok(b"SELECT Work")
    b.ok(b"STORE 1 +FLAGS (\\Seen \\Deleted)")
    got = pushed(a, [rb"UNSEEN 0\)"])
    assert all(b'Work' in l for l in got if l.startswith(b"* STATUS")), got
    b.ok(b"EXPUNGE")
    got = pushed(a, [rb'\* STATUS "?Work"? \(MESSAGES 0 UIDNEXT 2 '])
    # INBOX is not watched: nothing of it
    b.append(b"INBOX", simple_msg(2))
    b.append(b"Work", simple_msg(3))
    got = pushed(a, [rb'\* STATUS "?Work"? \(MESSAGES 1 UIDNEXT 3 '])
    assert not any(b"INBOX" in l for l in got), got
    a.close()
    b.close()


def test_selected_mailbox_pushed(haven):
    a, b = Session(haven), Session(haven)
    b.append(b"INBOX", simple_msg(1))
    a.ok(b"SELECT INBOX")
    a.ok(b"NOTIFY SET (SELECTED (MessageNew (UID BODY.PEEK[HEADER.FIELDS (Subject)]) "
         b"MessageExpunge FlagChange))")
    b.append(b"INBOX", simple_msg(2, subject=b"pushed two"))
    got = pushed(a, [rb"^\* 2 EXISTS", rb"^\* 2 FETCH \(UID 2 BODY\[HEADER.FIELDS \(Subject\)\]"])
    fetch = [l for l in got if b"FETCH" in l]
    assert len(fetch) == 1 and b"Subject: pushed two\r\n" in fetch[0], got
    assert got.index(fetch[0]) > [i for i, l in enumerate(got) if l.startswith(b"* 2 EXISTS")][0]
    b.ok(b"SELECT INBOX")
    b.ok(b"STORE 1 +FLAGS (\\Flagged)")
    got = pushed(a, [rb"^\* 1 FETCH \(UID 1 FLAGS \(.*\\Flagged"])
    b.ok(b"STORE 1 +FLAGS (\\Deleted)")
    b.ok(b"EXPUNGE")
    got = pushed(a, [rb"^\* 1 EXPUNGE"])
    assert not any(b"EXISTS" in l for l in got), got
    # NOTIFY NONE: nothing more between commands
    a.ok(b"NOTIFY NONE")
    b.append(b"INBOX", simple_msg(3))
    a.sock.settimeout(3)
    with pytest.raises(socket.timeout):
        a.response()
    a.close()
    b.close()


def test_selected_without_flagchange(haven):
    """SELECTED without FlagChange: new messages are pushed, flag changes
    are not (RFC 5465 5.1: only the events asked for)."""
    a, b = Session(haven), Session(haven)
    b.append(b"INBOX", simple_msg(1))
    a.ok(b"SELECT INBOX")
    a.ok(b"NOTIFY SET (SELECTED (MessageNew MessageExpunge))")
    b.ok(b"SELECT INBOX")
    b.ok(b"STORE 1 +FLAGS (\\Flagged)")
    b.append(b"INBOX", simple_msg(2))
    got = pushed(a, [rb"^\* 2 EXISTS"])
    assert not any(b"FETCH" in l for l in got), got
    a.close()
    b.close()


def test_mailbox_names_and_subscriptions(haven):
    a, b = Session(haven), Session(haven)
    a.ok(b"NOTIFY SET (PERSONAL (MailboxName SubscriptionChange)) "
         b"(SUBTREE Proj (MailboxName SubscriptionChange))")
    b.ok(b"CREATE Proj")
    got = pushed(a, [rb'^\* LIST \([^)]*\) "/" "?Proj"?\r\n'])
    assert not any(b"NonExistent" in l for l in got), got
    b.ok(b"SUBSCRIBE Proj")
    got = pushed(a, [rb'^\* LIST \([^)]*\\Subscribed[^)]*\) "/" "?Proj"?\r\n'])
    b.ok(b"UNSUBSCRIBE Proj")
    got = pushed(a, [rb'^\* LIST \((?![^)]*Subscribed)[^)]*\) "/" "?Proj"?\r\n'])
    # RFC 5465 5.4: the new name with OLDNAME, and nothing of the old
    b.ok(b"RENAME Proj Done")
    got = pushed(a, [rb'^\* LIST \([^)]*\) "/" "?Done"? \("OLDNAME" \("?Proj"?\)\)\r\n'])
    assert [l for l in got if l.startswith(b"* LIST")] == [got[0]], got
    b.ok(b"DELETE Done")
    got = pushed(a, [rb'^\* LIST \([^)]*\\NonExistent[^)]*\) "/" "?Done"?\r\n'])
    a.ok(b"NOTIFY NONE")
    b.ok(b"CREATE Later")
    assert not any(b"LIST" in l for l in quiet(a))
    a.close()
    b.close()


def test_own_changes_not_told(haven):
    """RFC 5465 section 5: the session is not told of what it changed
    itself (CREATE, SUBSCRIBE, APPEND, RENAME: no LIST, no STATUS), and
    5.2: no MessageNew FETCH for its own APPEND to the selected mailbox
    (the EXISTS, which the view needs, comes). Another session's change,
    made after them, still comes, and is all that comes."""
    a, b = Session(haven), Session(haven)
    a.ok(b"SELECT INBOX")
    a.ok(b"NOTIFY SET (SELECTED (MessageNew (UID BODY.PEEK[HEADER.FIELDS (Subject)]) "
         b"MessageExpunge)) (PERSONAL (MessageNew MessageExpunge MailboxName "
         b"SubscriptionChange))")
    told = a.ok(b"CREATE Mine") + a.ok(b"SUBSCRIBE Mine")
    told += a.append(b"Mine", simple_msg(1))
    told += a.ok(b"RENAME Mine Ours")
    told += a.append(b"INBOX", simple_msg(2))
    b.ok(b"CREATE Theirs")
    told += pushed(a, [rb'^\* LIST \([^)]*\) "/" "?Theirs"?\r\n'])
    assert [l for l in told if l.startswith(b"* ")] == [
        b"* 1 EXISTS\r\n", b"* 1 RECENT\r\n",
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Theirs"\r\n'], told
    a.close()
    b.close()


def worker_cpu_ticks(haven):
    """CPU time (clock ticks) alice's haven-worker has used."""
    (pid,) = [p for p, argv in children_of(haven.proc.pid)
              if argv and argv[0].endswith("haven-worker") and "alice" in argv]
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def test_no_wakeup_loop(haven):
    """Looking at the store (LIST, STATUS: locks, index files) must not
    wake the watch again, and sessions woken by each other's syncs (two
    NOTIFY sessions and one in IDLE) must not wake each other for ever: a
    worker left alone after a change stays idle."""
    a, c, i, b = Session(haven), Session(haven), Session(haven), Session(haven)
    b.ok(b"CREATE Work")
    every = (b"NOTIFY SET STATUS (SELECTED (MessageNew (UID FLAGS) MessageExpunge FlagChange)) "
             b"(PERSONAL (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange))")
    for s in (a, c):
        s.ok(b"SELECT INBOX")
        s.ok(every)
    i.ok(b"SELECT INBOX")
    i.send(b"I1 IDLE\r\n")
    assert i.response().startswith(b"+ ")
    b.append(b"Work", simple_msg(1))
    b.append(b"INBOX", simple_msg(2))
    for s in (a, c):
        pushed(s, [rb'\* STATUS "?Work"? \(MESSAGES 1 ', rb"^\* 1 FETCH \(UID 1 FLAGS"])
    before = worker_cpu_ticks(haven)
    time.sleep(5)
    used = worker_cpu_ticks(haven) - before
    assert used < 100, "the worker used %d ticks while nothing happened" % used
    for s in (a, c):
        assert not any(b"STATUS" in l or b"FETCH" in l for l in quiet(s))
    i.send(b"DONE\r\n")
    i.until(b"I1")
    for s in (a, b, c, i):
        s.close()


def test_in_idle_too(haven):
    a, b = Session(haven), Session(haven)
    b.ok(b"CREATE Other")
    a.ok(b"SELECT INBOX")
    a.ok(b"NOTIFY SET (SELECTED (MessageNew MessageExpunge)) "
         b"(MAILBOXES Other (MessageNew MessageExpunge))")
    a.send(b"I1 IDLE\r\n")
    assert a.response().startswith(b"+ ")
    b.append(b"Other", simple_msg(1))
    b.append(b"INBOX", simple_msg(2))
    a.sock.settimeout(WAIT)
    seen = []
    while not (any(b"STATUS" in l for l in seen) and any(b"EXISTS" in l for l in seen)):
        seen.append(a.response())
    a.send(b"DONE\r\n")
    a.until(b"I1")
    assert any(re.match(rb'\* STATUS "?Other"? \(MESSAGES 1 UIDNEXT 2 ', l) for l in seen)
    a.close()
    b.close()


@pytest.fixture
def lmtp_haven(backend):
    port = free_port()
    sock_dir = tempfile.mkdtemp(prefix="haven-lmtp-", dir="/tmp")
    h = Haven(users=("alice",), backend=backend,
              extra_conf="lmtp_listen = 127.0.0.1:%d, %s/lmtp\nlmtp_hostname = mx.test\n"
                         "lmtp_local_domains = example.org" % (port, sock_dir))
    h.lmtp_port = port
    h.start()
    wait_listening(port, h.proc, 30, h.log_text)
    yield h
    check_sanitizers(h.stop())
    h.cleanup()
    shutil.rmtree(sock_dir, ignore_errors=True)


def test_lmtp_delivery_notifies(lmtp_haven):
    a = Session(lmtp_haven)
    a.ok(b"CREATE Lists")
    a.ok(b"NOTIFY SET (INBOXES (MessageNew MessageExpunge))")
    c = Lmtp(lmtp_haven.lmtp_port)
    c.lhlo()
    c.ok(b"MAIL FROM:<sender@example.org>")
    c.ok(b"RCPT TO:<alice@example.org>")
    assert [x[0] for x in c.data(simple_msg(1), 1)] == [250]
    c.close()
    pushed(a, [rb'^\* STATUS "?INBOX"? \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+\)\r\n'])
    a.close()


def test_overflow_when_the_client_does_not_read(haven):
    """RFC 5465 5.8: past what the server keeps for a client that does not
    read, NOTIFICATIONOVERFLOW and NOTIFY NONE; the session goes on."""
    a, b = Session(haven), Session(haven)
    a.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    a.ok(b"SELECT INBOX")
    a.ok(b"NOTIFY SET (SELECTED (MessageNew (UID BODY.PEEK[]) MessageExpunge))")
    big = simple_msg(1) + (b"x" * 998 + b"\r\n") * 1000
    for _ in range(10):   # 10 MB pushed to a client that reads nothing
        b.append(b"INBOX", big)
    a.sock.settimeout(WAIT)
    seen = []
    while not any(b"NOTIFICATIONOVERFLOW" in l for l in seen):
        seen.append(a.response())
    assert seen[-1] == (b"* OK [NOTIFICATIONOVERFLOW] Too many changes unread, "
                        b"NOTIFY is now NONE\r\n"), seen[-1][:200]
    b.append(b"INBOX", simple_msg(2))
    out = untagged(a.ok(b"NOOP"))
    assert not any(b"BODY[]" in l for l in out)
    a.close()
    b.close()
