"""LMTP delivery (RFC 2033) into every store: one reply per recipient,
the message stored byte for byte behind the trace header (Return-Path,
Delivered-To, Received), user+detail into an existing mailbox, user@ a
local domain as the local user, unknown users refused with 550 5.1.1,
CHUNKING, PIPELINING, size limits, bad commands answered and the session
going on, quota (the PostgreSQL store) answered 552 5.2.2 for that
recipient only, and an LMTP worker killed mid-DATA storing nothing."""
import os
import re
import shutil
import signal
import socket
import tempfile

import pytest

from conftest import ROOT, Haven, IS_ROOT, check_sanitizers, free_port, only_backends
from lmtp_client import Lmtp, code_text, stuff
from netwait import wait_listening
from procs import children_of, wait_for

MSG = (b"From: Sender <sender@example.org>\r\nTo: alice@example.org\r\n"
       b"Subject: over LMTP\r\nMessage-ID: <lmtp-1@example.org>\r\n\r\n"
       b"first line\r\n.a line that starts with a dot\r\n..two dots\r\n.\r\nend\r\n")


@pytest.fixture
def h(backend):
    port = free_port()
    sock_dir = tempfile_dir()
    h = Haven(users=("alice", "bob"), backend=backend,
              extra_conf="lmtp_listen = 127.0.0.1:%d, %s/lmtp\nlmtp_max_message = 200000\n"
                         "lmtp_hostname = mx.test\nlmtp_local_domains = localhost, example.org"
              % (port, sock_dir))
    h.lmtp_port = port
    h.lmtp_path = sock_dir + "/lmtp"
    h.start()
    wait_listening(port, h.proc, 30, h.log_text)
    yield h
    check_sanitizers(h.stop())
    h.cleanup()
    shutil.rmtree(sock_dir, ignore_errors=True)


def tempfile_dir():
    """A short path: a unix socket's must fit in 108 bytes."""
    return tempfile.mkdtemp(prefix="haven-lmtp-", dir="/tmp")


def messages(h, user, box="INBOX"):
    """Every message of the mailbox, whole, in UID order."""
    m = h.login(user)
    typ, data = m.select('"%s"' % box)
    assert typ == "OK", data
    n = int(data[0])
    out = []
    for i in range(1, n + 1):
        typ, d = m.fetch(str(i), "(BODY.PEEK[])")
        out.append(d[0][1])
    m.logout()
    return out


def split_trace(stored):
    """(trace header lines, the rest) of a delivered copy."""
    m = re.match(rb"(Return-Path: [^\r]*\r\nDelivered-To: [^\r]*\r\nReceived: [^\r]*\r\n"
                 rb"\t[^\r]*\r\n\t[^\r]*\r\n)", stored)
    assert m, stored[:300]
    return m.group(1), stored[m.end():]


def transaction(c, rcpts, frm=b"<sender@example.org>"):
    c.ok(b"MAIL FROM:" + frm)
    return [c.cmd(b"RCPT TO:<" + r + b">") for r in rcpts]


def test_two_recipients_and_an_unknown_one(h):
    c = Lmtp(h.lmtp_port)
    assert b"mx.test" in c.greeting[1][0]
    caps = c.lhlo()[1]
    for cap in (b"PIPELINING", b"ENHANCEDSTATUSCODES", b"8BITMIME", b"SMTPUTF8",
                b"CHUNKING", b"SIZE 200000"):
        assert cap in caps, caps
    r = transaction(c, [b"alice@example.org", b"nosuchuser@example.org", b"bob"])
    assert [x[0] for x in r] == [250, 550, 250], r
    assert code_text(r[1])[1].startswith("5.1.1 ")
    replies = c.data(MSG, 2)
    assert [x[0] for x in replies] == [250, 250], replies
    assert b"alice@example.org" in replies[0][1][0] and b"bob" in replies[1][1][0]
    c.close()
    for user, rcpt in (("alice", b"alice@example.org"), ("bob", b"bob")):
        (stored,) = messages(h, user)
        trace, rest = split_trace(stored)
        assert rest == MSG, rest
        assert trace.startswith(b"Return-Path: <sender@example.org>\r\nDelivered-To: " + rcpt)
        assert b"by mx.test (Haven) with LMTP id " in trace and b"for <" + rcpt + b">" in trace


def test_detail_goes_to_its_mailbox_when_it_exists(h):
    m = h.login("alice")
    assert m.create("Work")[0] == "OK"
    m.logout()
    c = Lmtp(h.lmtp_port)
    c.lhlo()
    r = transaction(c, [b"alice+Work@example.org", b"alice+nothere@localhost"])
    assert [x[0] for x in r] == [250, 250]
    assert [x[0] for x in c.data(MSG, 2)] == [250, 250]
    c.close()
    assert len(messages(h, "alice", "Work")) == 1
    (inbox,) = messages(h, "alice")
    assert b"Delivered-To: alice+nothere@localhost\r\n" in inbox


def test_foreign_domain_is_not_a_local_user(h):
    c = Lmtp(h.lmtp_port)
    c.lhlo()
    r = transaction(c, [b"alice@elsewhere.example"])
    assert r[0][0] == 550 and code_text(r[0])[1].startswith("5.1.1")
    # no valid recipient: DATA is refused, the session goes on
    assert c.cmd(b"DATA")[0] == 503
    c.ok(b"RSET")
    c.close()


def test_pipelined_transaction_and_chunking(h):
    c = Lmtp(h.lmtp_port)
    c.lhlo()
    body = MSG.replace(b"over LMTP", b"chunked")
    half = len(body) // 2
    c.send(b"MAIL FROM:<> BODY=8BITMIME\r\nRCPT TO:<alice>\r\nRCPT TO:<bob>\r\n"
           b"BDAT %d\r\n" % half + body[:half] + b"BDAT %d LAST\r\n" % (len(body) - half) +
           body[half:] + b"NOOP\r\n")
    codes = [c.reply()[0] for _ in range(7)]
    assert codes == [250, 250, 250, 250, 250, 250, 250], codes
    c.close()
    (stored,) = messages(h, "alice")
    trace, rest = split_trace(stored)
    assert rest == body and trace.startswith(b"Return-Path: <>\r\n")


def test_eight_bit_and_smtputf8(h):
    c = Lmtp(h.lmtp_port)
    c.lhlo()
    msg = ("From: Jörg <jörg@exämple.org>\r\nSubject: Grüße\r\n\r\nÄpfel und Birnen\r\n"
           ).encode()
    r = transaction(c, [b"alice"], frm="<jörg@exämple.org> SMTPUTF8 BODY=8BITMIME".encode())
    assert r[0][0] == 250
    assert [x[0] for x in c.data(msg, 1)] == [250]
    c.close()
    (stored,) = messages(h, "alice")
    trace, rest = split_trace(stored)
    assert rest == msg and "Return-Path: <jörg@exämple.org>".encode() in trace


def test_limits_and_bad_commands_answered_and_the_session_goes_on(h):
    c = Lmtp(h.lmtp_port)
    assert c.cmd(b"MAIL FROM:<a@b>")[0] == 503  # LHLO first
    assert c.cmd(b"HELO x")[0] == 500
    assert c.cmd(b"FOO bar")[0] == 500
    c.lhlo()
    assert c.cmd(b"RCPT TO:<alice>")[0] == 503  # MAIL first
    assert c.cmd(b"MAIL FROM:<a@b> SIZE=999999999")[0] == 552
    assert c.cmd(b"MAIL FROM:<a@b> FOO=1")[0] == 555
    assert c.cmd(b"MAIL FROM:<not an address>")[0] == 501
    c.ok(b"MAIL FROM:<a@b>")
    assert c.cmd(b"MAIL FROM:<a@b>")[0] == 503  # nested
    c.ok(b"RCPT TO:<alice>")
    big = b"Subject: big\r\n\r\n" + b"x" * 76 + b"\r\n"
    replies = c.data(big * 3000, 1)  # ~240 kB > lmtp_max_message
    assert replies[0][0] == 552 and code_text(replies[0])[1].startswith("5.3.4")
    assert c.cmd(b"X" * 5000)[0] == 500  # a line too long, skipped to its end
    c.ok(b"NOOP")
    transaction(c, [b"alice"])
    assert [x[0] for x in c.data(MSG, 1)] == [250]
    c.close()
    assert len(messages(h, "alice")) == 1


def test_bad_bdat_closes_the_connection(h):
    """A refused BDAT line: its chunk's length is unknown, so nothing after
    it can be read as a command; the reply, then the end."""
    c = Lmtp(h.lmtp_port)
    c.lhlo()
    transaction(c, [b"alice"])
    c.send(b"BDAT 12x LAST\r\nRSET\r\nNOOP\r\n")
    assert c.reply()[0] == 501
    assert c.f.readline() == b""
    assert messages(h, "alice") == []


def test_unix_socket(h):
    c = Lmtp(path=h.lmtp_path)
    c.lhlo()
    transaction(c, [b"bob@localhost"])
    assert [x[0] for x in c.data(MSG, 1)] == [250]
    c.close()
    assert len(messages(h, "bob")) == 1


def test_idle_session_sees_the_delivery(h):
    m = h.login("alice")
    m.select("INBOX")
    tag = m._new_tag()
    m.send(tag + b" IDLE\r\n")
    assert m.readline().startswith(b"+")
    c = Lmtp(h.lmtp_port)
    c.lhlo()
    transaction(c, [b"alice"])
    assert [x[0] for x in c.data(MSG, 1)] == [250]
    c.close()
    assert m.readline() == b"* 1 EXISTS\r\n"
    m.send(b"DONE\r\n")
    m.readline()
    m.logout()


def lmtp_workers(h):
    return [pid for pid, argv in children_of(h.proc.pid)
            if argv and os.path.basename(argv[0]) == "haven-lmtp"]


PLAIN_BUILD = os.environ.get("HAVEN_PLAIN_BUILD", os.path.join(ROOT, "build"))


@pytest.mark.skipif(not os.path.exists(os.path.join(PLAIN_BUILD, "haven-lmtp")),
                    reason="normal build missing")
def test_normal_build_under_its_seccomp_filter(backend):
    """The normal build's filters are the real ones (a sanitized build
    allows more calls, for its reports): a whole delivery, Received: date
    included, with the LMTP worker's filter on."""
    port = free_port()
    h = Haven(users=("alice",), backend=backend, extra_conf="lmtp_listen = 127.0.0.1:%d" % port)
    conf = open(h.conf).read().replace("libexec_dir = ", "libexec_dir = %s\n#" % PLAIN_BUILD)
    open(h.conf, "w").write(conf)
    h.start()
    try:
        wait_listening(port, h.proc, 30, h.log_text)
        c = Lmtp(port)
        c.lhlo()
        transaction(c, [b"alice"])
        assert [x[0] for x in c.data(MSG, 1)] == [250]
        c.close()
        (stored,) = messages(h, "alice")
        assert split_trace(stored)[1] == MSG
    finally:
        text = h.stop()
        h.cleanup()
    assert "signal 31" not in text and "killed by signal" not in text, text


@pytest.mark.skipif(not IS_ROOT, reason="needs root (process model)")
def test_lmtp_worker_killed_mid_data_stores_nothing(h):
    c = Lmtp(h.lmtp_port)
    c.lhlo()
    transaction(c, [b"alice"])
    assert c.cmd(b"DATA")[0] == 354
    c.send(stuff(MSG)[:40])
    (pid,) = lmtp_workers(h)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises((ConnectionError, AssertionError, socket.timeout, OSError)):
        c.send(b"more\r\n.\r\n")
        c.reply()
    assert wait_for(lambda: not lmtp_workers(h))
    assert messages(h, "alice") == []
    # the server goes on
    c = Lmtp(h.lmtp_port)
    c.lhlo()
    transaction(c, [b"alice"])
    assert [x[0] for x in c.data(MSG, 1)] == [250]
    c.close()
    assert len(messages(h, "alice")) == 1


@only_backends("pgsql")  # the store that keeps quotas
def test_over_quota_recipient_refused_others_delivered(h):
    h.pg.psql("SELECT haven.set_quota('alice', 10)", db=h.db)
    c = Lmtp(h.lmtp_port)
    c.lhlo()
    assert [x[0] for x in transaction(c, [b"alice", b"bob"])] == [250, 250]
    replies = c.data(MSG, 2)
    assert replies[0][0] == 552 and code_text(replies[0])[1].startswith("5.2.2"), replies
    assert replies[1][0] == 250
    c.close()
    assert messages(h, "alice") == [] and len(messages(h, "bob")) == 1
