"""A real Postfix (tests/integration/postfix.py: Debian's package, its own
config directory, loopback ports) relaying SMTP mail to Haven over LMTP,
on every store: several recipients of one message, an unknown one bounced
with 5.1.1, one over quota bounced with 5.2.2 while the others get theirs
(the PostgreSQL store keeps quotas), 8-bit and SMTPUTF8 mail, every copy
byte for byte what was sent below the trace headers. And the faults:
the user worker that stores the message killed -9 while Postfix waits
for the answer, and the LMTP worker killed mid-conversation: Postfix
defers, tries again, and the message is there exactly once."""
import os
import re
import signal
import time

import pytest

import postfix
from conftest import Haven, check_sanitizers, free_port, only_backends
from procs import children_of, wait_for

pytestmark = pytest.mark.skipif(postfix.missing() is not None,
                                reason=postfix.missing() or "")


@pytest.fixture
def mta(backend, request, monkeypatch):
    stall = request.node.get_closest_marker("stall_at")
    if stall:  # test builds: the first LMTP worker stops mid-DATA (daemon/lmtp.c)
        monkeypatch.setenv("HAVEN_TEST_LMTP_STALL_AT", str(stall.args[0]))
    port = free_port()
    h = Haven(users=("alice", "bob", "carol"), backend=backend,
              extra_conf="lmtp_listen = 127.0.0.1:%d\nlmtp_local_domains = example.org" % port)
    h.start()  # the LMTP listener is bound with the IMAP one, before it answers
    pf = postfix.Postfix(None, "inet:127.0.0.1:%d" % port)
    pf.start()
    yield h, pf
    pf.stop()
    pf.cleanup()
    check_sanitizers(h.stop())
    h.cleanup()


def inbox(h, user):
    m = h.login(user)
    n = int(m.select("INBOX")[1][0])
    out = [m.fetch(str(i), "(BODY.PEEK[])")[1][0][1] for i in range(1, n + 1)]
    m.logout()
    return out


def below_trace(stored, rcpt):
    """What follows Haven's trace lines and Postfix's Received: header."""
    m = re.match(rb"Return-Path: <[^>]*>\r\nDelivered-To: " + re.escape(rcpt) +
                 rb"\r\nReceived: [^\r]*\r\n(\t[^\r]*\r\n)+"
                 rb"Received: [^\r]*\r\n(\t[^\r]*\r\n)*", stored)
    assert m, stored[:600]
    return stored[m.end():]


MSG = (b"From: Sender <sender@example.net>\r\nTo: alice@example.org, bob@example.org\r\n"
       b"Subject: through Postfix\r\nMessage-ID: <pf-1@example.net>\r\n"
       b"Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n\r\nHello,\r\n.a dotted line\r\nbye\r\n")


def test_several_recipients_unknown_bounced(mta):
    h, pf = mta
    r = pf.send("sender@example.net", ["alice@example.org", "bob@example.org",
                                      "nosuch@example.org"], MSG)
    got = pf.wait_statuses({"alice@example.org": "sent", "bob@example.org": "sent",
                            "nosuch@example.org": "bounced"}, r["queue_id"])
    assert got["nosuch@example.org"][1] == "5.1.1"
    for user in ("alice", "bob"):
        (stored,) = inbox(h, user)
        assert below_trace(stored, b"%s@example.org" % user.encode()) == MSG


@only_backends("pgsql")  # the store that keeps quotas
def test_over_quota_recipient_bounced_others_delivered(mta):
    h, pf = mta
    h.pg.psql("SELECT haven.set_quota('carol', 10)", db=h.db)
    r = pf.send("sender@example.net", ["alice@example.org", "carol@example.org"], MSG)
    got = pf.wait_statuses({"alice@example.org": "sent", "carol@example.org": "bounced"},
                           r["queue_id"])
    assert got["carol@example.org"][1] == "5.2.2"
    assert len(inbox(h, "alice")) == 1 and inbox(h, "carol") == []


def test_eight_bit_and_smtputf8(mta):
    h, pf = mta
    msg = ("From: Jörg <jörg@exämple.net>\r\nTo: bob@example.org\r\nSubject: Grüße\r\n"
           "Message-ID: <pf-2@example.net>\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\n"
           "\r\nÄpfel, Birnen, Öl\r\n").encode()
    r = pf.send("jörg@exämple.net", ["bob@example.org"], msg, smtputf8=True)
    pf.wait_delivered(["bob@example.org"], r["queue_id"])
    (stored,) = inbox(h, "bob")
    assert stored.startswith("Return-Path: <jörg@exämple.net>\r\n".encode())
    assert below_trace(stored, b"bob@example.org") == msg


def deferred_once(pf, rcpt):
    """Postfix's log has a deferred attempt for rcpt (its retry may have
    come and succeeded since: the latest status is not what matters)."""
    line = re.compile(r"to=<%s>.*status=deferred" % re.escape(rcpt))
    assert wait_for(lambda: line.search(pf.log()), 60), pf.log()


def procs_named(h, name):
    return [pid for pid, argv in children_of(h.proc.pid)
            if argv and os.path.basename(argv[0]) == name]


def test_storing_worker_killed_postfix_retries_delivered_once(mta):
    h, pf = mta
    m = h.login("alice")  # alice's worker, which will store the message
    (worker,) = procs_named(h, "haven-worker")
    os.kill(worker, signal.SIGSTOP)
    try:
        r = pf.send("sender@example.net", ["alice@example.org"], MSG)
        assert wait_for(lambda: "handed to worker pid %d" % worker in h.log_text(), 60)
        os.kill(worker, signal.SIGKILL)
    finally:
        try:
            os.kill(worker, signal.SIGCONT)
        except ProcessLookupError:
            pass
    deferred_once(pf, "alice@example.org")
    pf.flush()
    pf.wait_delivered(["alice@example.org"], r["queue_id"], timeout=90)
    (stored,) = inbox(h, "alice")
    assert below_trace(stored, b"alice@example.org") == MSG


def stopped(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return False


@pytest.mark.stall_at(200000)
def test_lmtp_worker_killed_mid_data_postfix_retries_delivered_once(mta):
    h, pf = mta
    big = MSG + (b"x" * 76 + b"\r\n") * 20000
    r = pf.send("sender@example.net", ["bob@example.org"], big)

    def stalled():
        return [p for p in procs_named(h, "haven-lmtp") if stopped(p)]
    pids = wait_for(stalled, 60)
    assert pids, h.log_text()
    os.kill(pids[0], signal.SIGKILL)
    deferred_once(pf, "bob@example.org")
    pf.flush()
    pf.wait_delivered(["bob@example.org"], r["queue_id"], timeout=120)
    (stored,) = inbox(h, "bob")
    assert below_trace(stored, b"bob@example.org") == big
