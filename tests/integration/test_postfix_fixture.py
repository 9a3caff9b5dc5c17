"""The Postfix fixture (postfix.py) proved against a small LMTP server in
Python's standard library, before Haven has one: Postfix hands a
multi-recipient message over in one LMTP transaction with the bytes sent
(below its Received: header), a recipient refused for good is bounced with
its DSN code, one refused for now is deferred and delivered after the
server changes its mind and the queue is flushed, 8-bit bodies and UTF-8
addresses get through, a killed LMTP server's mail waits in the queue
(through a restart of Postfix) until it is back, and two instances run
side by side. Needs root (Postfix's master) and Debian's postfix."""
import os
import pwd
import re
import shutil
import smtplib
import socket
import socketserver
import subprocess
import tempfile
import threading

import pytest

import postfix
from procs import wait_for

pytestmark = pytest.mark.skipif(postfix.missing() is not None,
                                reason=postfix.missing() or "")


class Transaction:
    """One LMTP transaction as the sink saw it."""

    def __init__(self, lhlo, mail_from, params):
        self.lhlo, self.mail_from, self.params = lhlo, mail_from, params
        self.rcpts, self.refused, self.replies = [], {}, []
        self.data = None


class LmtpSink:
    """An LMTP server (RFC 2033) on a free loopback port or a unix socket:
    records every transaction and answers each recipient 250 unless told
    otherwise by answer(rcpt, reply, at): at "rcpt" (the RCPT command) or
    "data" (that recipient's reply after the message)."""

    def __init__(self, unix_path=None):
        self.answers, self.transactions, self.conns = {}, [], set()
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"sink": self})
        if unix_path:
            self.server = _UnixServer(unix_path, handler)
            os.chmod(unix_path, 0o666)  # Postfix's lmtp client runs as postfix
            self.target = "unix:" + unix_path
        else:
            self.server = _TcpServer(("127.0.0.1", 0), handler)
            self.target = "inet:127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, rcpt, reply, at="rcpt"):
        self.answers[rcpt] = (at, reply)

    def forget(self, rcpt):
        self.answers.pop(rcpt, None)

    def reply_for(self, rcpt, stage):
        at, reply = self.answers.get(rcpt, (None, None))
        return reply if at == stage else None

    def record(self, tx):
        with self.lock:
            self.transactions.append(tx)

    def of(self, queue_id):
        """The transactions that carried Postfix's queue file queue_id."""
        pat = re.compile(rb"^Received: .*?\bid %s\b" % queue_id.encode(), re.S)
        return [t for t in list(self.transactions) if pat.match(t.data)]

    def kill(self):
        """Stop listening and drop every connection (Postfix keeps LMTP
        connections open for reuse), as a server that died would."""
        self.server.shutdown()
        self.server.server_close()
        for c in list(self.conns):
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True


class _UnixServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


class _Handler(socketserver.StreamRequestHandler):
    sink = None

    def handle(self):
        self.sink.conns.add(self.connection)
        try:
            _Session(self.sink, self.rfile, self.wfile).run()
        finally:
            self.sink.conns.discard(self.connection)


_PATH = re.compile(r"^(?:FROM|TO):<([^>]*)>(.*)$", re.I)


class _Session:
    def __init__(self, sink, rfile, wfile):
        self.sink, self.rfile, self.wfile = sink, rfile, wfile
        self.lhlo, self.tx = None, None

    def send(self, *lines):
        self.wfile.write(b"".join(l.encode() + b"\r\n" for l in lines))

    def run(self):
        self.send("220 sink.haven.invalid LMTP")
        for raw in self.rfile:
            line = raw.rstrip(b"\r\n").decode("utf-8", "surrogateescape")
            verb, _, arg = line.partition(" ")
            command = getattr(self, "cmd_" + verb.lower(), None)
            if command is None:
                self.send("500 5.5.2 unknown command")
            elif command(arg) is False:
                return

    def cmd_lhlo(self, arg):
        self.lhlo, self.tx = arg, None
        self.send("250-sink.haven.invalid", "250-PIPELINING", "250-ENHANCEDSTATUSCODES",
                  "250-8BITMIME", "250 SMTPUTF8")

    def cmd_mail(self, arg):
        m = _PATH.match(arg)
        if self.lhlo is None or m is None:
            return self.send("503 5.5.1 LHLO and MAIL FROM:<address> first")
        self.tx = Transaction(self.lhlo, m.group(1), m.group(2).split())
        self.send("250 2.1.0 Ok")

    def cmd_rcpt(self, arg):
        m = _PATH.match(arg)
        if self.tx is None or m is None:
            return self.send("503 5.5.1 MAIL first, then RCPT TO:<address>")
        reply = self.sink.reply_for(m.group(1), "rcpt")
        if reply:
            self.tx.refused[m.group(1)] = reply
            return self.send(reply)
        self.tx.rcpts.append(m.group(1))
        self.send("250 2.1.5 Ok")

    def cmd_data(self, arg):
        if self.tx is None or not self.tx.rcpts:
            return self.send("503 5.5.1 no valid recipients")
        self.send("354 go ahead")
        lines = []
        for raw in self.rfile:
            if raw == b".\r\n":
                break
            lines.append(raw[1:] if raw.startswith(b".") else raw)
        self.tx.data = b"".join(lines)
        for r in self.tx.rcpts:
            self.tx.replies.append(self.sink.reply_for(r, "data") or "250 2.0.0 <%s> Ok" % r)
        self.sink.record(self.tx)
        self.send(*self.tx.replies)
        self.tx = None

    def cmd_rset(self, arg):
        self.tx = None
        self.send("250 2.0.0 Ok")

    def cmd_noop(self, arg):
        self.send("250 2.0.0 Ok")

    def cmd_quit(self, arg):
        self.send("221 2.0.0 Bye")
        return False


# --- fixtures -------------------------------------------------------------

@pytest.fixture(scope="module")
def workdir():
    d = tempfile.mkdtemp(prefix="haven-postfix-test-")
    os.chmod(d, 0o755)  # the postfix user reaches unix sockets in it
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def sink():
    s = LmtpSink()
    yield s
    s.kill()


@pytest.fixture(scope="module")
def mta(workdir, sink):
    p = postfix.Postfix(workdir, sink.target)
    try:
        yield p.start()
    finally:
        p.cleanup()


def message(subject, body=b"Hello.\r\n", extra=b""):
    return (b"From: Sender <sender@example.org>\r\n"
            b"To: rcpt@example.org\r\n"
            b"Subject: " + subject + b"\r\n"
            b"Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n"
            b"Message-ID: <" + subject.replace(b" ", b"-") + b"@example.org>\r\n" +
            extra + b"\r\n" + body)


def below_received(data, queue_id):
    """data without the Received: header Postfix put on top (checked to
    name the queue file)."""
    m = re.match(rb"Received: [^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*", data)
    assert m, data[:300]
    assert b"(Postfix)" in m.group(0) and b" id %s" % queue_id.encode() in m.group(0), m.group(0)
    return data[m.end():]


def delivered(sink, queue_id, n=1):
    """The LMTP transactions of queue_id once n of them have arrived."""
    assert wait_for(lambda: len(sink.of(queue_id)) >= n, 30), \
        "sink got %d transactions of %s" % (len(sink.of(queue_id)), queue_id)
    return sink.of(queue_id)


# --- tests ----------------------------------------------------------------

def listening(pids):
    """The TCP addresses processes pids listen on (ss -ltnp)."""
    out = subprocess.run(["ss", "-Hltnp"], check=True, capture_output=True, text=True).stdout
    return {line.split()[3] for line in out.splitlines()
            if any("pid=%d," % p in line for p in pids)}


def test_instance_is_its_own(mta):
    """postfix check is clean; the instance's processes (all working in its
    queue directory) run as root (the master) and postfix (the daemons),
    and listen on our smtpd port only (not 25)."""
    assert mta.check() == []
    pids = mta.processes()
    assert len(pids) >= 2, pids
    owners = {os.stat("/proc/%d" % p).st_uid for p in pids}
    assert owners == {0, pwd.getpwnam("postfix").pw_uid}, owners
    assert listening(pids) == {"127.0.0.1:%d" % mta.smtp_port}
    with smtplib.SMTP("127.0.0.1", mta.smtp_port, timeout=30) as s:
        code, ehlo = s.ehlo("haven-test")
    assert code == 250 and b"SMTPUTF8" in ehlo and b"8BITMIME" in ehlo, ehlo
    assert "daemon started" in mta.log()


def test_multi_recipient_one_transaction(mta, sink):
    """Three recipients in two domains: one LMTP transaction carrying all
    three, and the message byte for byte below Received: (dot-stuffed
    lines, a lone dot, From_ at a line start, trailing blanks)."""
    rcpts = ["multi-1@example.org", "multi-2@example.org", "multi-3@example.net"]
    body = (b"Line one.\r\n.leading dot\r\n.\r\n..two dots\r\nFrom the start\r\n"
            b"trailing blanks \t \r\n\r\n\tindented\r\n\r\n")
    data = message(b"multi", body)
    qid = mta.send("sender@example.org", rcpts, data)["queue_id"]
    st = mta.wait_delivered(rcpts, qid)
    assert st == {r: ("sent", "2.0.0") for r in rcpts}
    [tx] = delivered(sink, qid)
    assert sorted(tx.rcpts) == rcpts and tx.mail_from == "sender@example.org"
    assert tx.lhlo == postfix.HOSTNAME
    assert below_received(tx.data, qid) == data
    mta.wait_queue_empty()


def test_refused_recipients_bounce(mta, sink):
    """550 5.1.1 at RCPT and 552 5.2.2 after DATA: both bounced with that
    DSN in the log, the third delivered, and the sender gets a bounce
    notice (a delivery-status report, from <>) naming both."""
    ok, gone, full = "b-ok@example.org", "b-gone@example.org", "b-full@example.org"
    sender = "b-sender@example.org"
    sink.answer(gone, "550 5.1.1 <%s> no such user" % gone, at="rcpt")
    sink.answer(full, "552 5.2.2 <%s> mailbox full" % full, at="data")
    qid = mta.send(sender, [ok, gone, full], message(b"bounce"))["queue_id"]
    st = mta.wait_statuses({ok: "sent", gone: "bounced", full: "bounced"}, qid)
    assert st[gone] == ("bounced", "5.1.1") and st[full] == ("bounced", "5.2.2"), st
    assert mta.bounces(qid) == {gone: "5.1.1", full: "5.2.2"}
    [tx] = delivered(sink, qid)
    assert sorted(tx.rcpts) == sorted([ok, full]) and list(tx.refused) == [gone]
    assert tx.replies[tx.rcpts.index(full)].startswith("552 5.2.2")
    notices = wait_for(lambda: [t for t in sink.transactions
                                if t.mail_from == "" and t.rcpts == [sender]], 30)
    assert len(notices) == 1, notices
    report = notices[0].data
    assert b"report-type=delivery-status" in report
    for r, code in ((gone, b"5.1.1"), (full, b"5.2.2")):
        assert b"Final-Recipient: rfc822; " + r.encode() in report
        assert b"Status: " + code in report
    mta.wait_queue_empty()


def test_deferred_then_delivered(mta, sink):
    """451 4.3.0 after DATA for one recipient: the other is delivered, this
    one deferred (in the queue with the server's answer), and once the
    server accepts and the queue is flushed it gets the same message."""
    ok, later = "d-ok@example.org", "d-later@example.org"
    sink.answer(later, "451 4.3.0 <%s> try again later" % later, at="data")
    data = message(b"deferred")
    qid = mta.send("sender@example.org", [ok, later], data)["queue_id"]
    st = mta.wait_statuses({ok: "sent", later: "deferred"}, qid)
    assert st[later] == ("deferred", "4.3.0")
    [q] = wait_for(lambda: [m for m in mta.queue()
                            if m["queue_id"] == qid and m["queue_name"] == "deferred"], 30)
    assert [r["address"] for r in q["recipients"]] == [later]
    assert "451 4.3.0" in q["recipients"][0]["delay_reason"]
    sink.forget(later)
    mta.flush()
    assert mta.wait_delivered([later], qid)[later] == ("sent", "2.0.0")
    first, *retries = delivered(sink, qid, 2)
    assert sorted(first.rcpts) == sorted([ok, later]) and retries[-1].rcpts == [later]
    assert below_received(retries[-1].data, qid) == data
    mta.wait_queue_empty()


def test_deferred_retried_by_itself(mta, sink):
    """Without a flush: the next queue run (every second or two here, not
    Postfix's default of five minutes) takes the deferred recipient
    again."""
    rcpt = "r-later@example.org"
    sink.answer(rcpt, "451 4.3.0 <%s> try again later" % rcpt, at="rcpt")
    qid = mta.send("sender@example.org", [rcpt], message(b"retried"))["queue_id"]
    mta.wait_statuses({rcpt: "deferred"}, qid)
    sink.forget(rcpt)
    assert mta.wait_delivered([rcpt], qid)[rcpt] == ("sent", "2.0.0")
    mta.wait_queue_empty()


def test_8bit_body(mta, sink):
    """A Latin-1 body and header byte: BODY=8BITMIME reaches the server
    and the bytes are not converted."""
    rcpt = "latin1@example.org"
    data = message(b"caf\xe9", b"Gr\xfc\xdfe aus K\xf6ln.\r\n",
                   b"Content-Type: text/plain; charset=iso-8859-1\r\n"
                   b"Content-Transfer-Encoding: 8bit\r\n")
    qid = mta.send("sender@example.org", [rcpt], data)["queue_id"]
    mta.wait_delivered([rcpt], qid)
    [tx] = delivered(sink, qid)
    assert "BODY=8BITMIME" in tx.params, tx.params
    assert below_received(tx.data, qid) == data


def test_smtputf8_addresses(mta, sink):
    """UTF-8 sender and recipients (local parts and domains), UTF-8
    headers: SMTPUTF8 on MAIL FROM, the addresses and bytes unchanged."""
    sender = "jörg@exämple.org"
    rcpts = ["δοκιμή@παράδειγμα.example", "用户@例子.example"]
    data = message("grüße ✓".encode(), "Unicode body: ✓ €\r\n".encode(),
                   "To: δοκιμή@παράδειγμα.example\r\n".encode())
    qid = mta.send(sender, rcpts, data, smtputf8=True)["queue_id"]
    assert mta.wait_delivered(rcpts, qid) == {r: ("sent", "2.0.0") for r in rcpts}
    [tx] = delivered(sink, qid)
    assert "SMTPUTF8" in tx.params and "BODY=8BITMIME" in tx.params, tx.params
    assert tx.mail_from == sender and sorted(tx.rcpts) == sorted(rcpts)
    assert below_received(tx.data, qid) == data


def test_server_killed_restart_and_second_instance(workdir, mta, sink):
    """A second instance (LMTP over a unix socket, a size limit) beside the
    first: its LMTP server dies, mail waits deferred (4.4.1) through a
    stop and start of Postfix, and goes out on flush() once a server
    listens again; the size limit is announced and enforced."""
    sock = os.path.join(workdir, "lmtp.sock")
    sinks = [LmtpSink(unix_path=sock)]
    p = postfix.Postfix(workdir, sinks[0].target, message_size_limit=20000)
    try:
        p.start()
        assert p.smtp_port != mta.smtp_port and p.dir != mta.dir
        check_size_limit(p)
        sinks[0].kill()
        os.unlink(sock)
        rcpt = "k-waits@example.org"
        qid = p.send("sender@example.org", [rcpt], message(b"killed"))["queue_id"]
        assert p.wait_statuses({rcpt: "deferred"}, qid)[rcpt][1] == "4.4.1"
        p.stop()
        assert p.processes() == []
        p.start()
        assert [m["queue_id"] for m in p.queue()] == [qid]
        sinks.append(LmtpSink(unix_path=sock))
        p.flush()
        assert p.wait_delivered([rcpt], qid)[rcpt] == ("sent", "2.0.0")
        assert [t.rcpts for t in delivered(sinks[1], qid)] == [[rcpt]]
        assert sinks[0].of(qid) == [] and sink.of(qid) == []
    finally:
        p.cleanup()
        for s in sinks:
            s.kill()
    assert p.processes() == []
    # the first instance is untouched
    qid = mta.send("sender@example.org", ["k-first@example.org"], message(b"first"))["queue_id"]
    mta.wait_delivered(["k-first@example.org"], qid)


def check_size_limit(p):
    with smtplib.SMTP("127.0.0.1", p.smtp_port, timeout=30) as s:
        assert s.ehlo("haven-test")[0] == 250
        assert s.esmtp_features.get("size") == "20000"
    with pytest.raises(smtplib.SMTPDataError) as e:
        p.send("sender@example.org", ["big@example.org"],
               message(b"big", (b"x" * 76 + b"\r\n") * 400))
    assert e.value.smtp_code == 552 and b"5.3.4" in e.value.smtp_error
