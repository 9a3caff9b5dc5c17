"""Sieve at delivery (RFC 5228 with fileinto, imap4flags, envelope,
subaddress, reject), in every store, with scripts installed the way an
administrator does it: the files of Pigeonhole's layout in the user's home
(mbox), the provisioning function haven.sieve_put (PostgreSQL). Mail comes
by LMTP and by haven-deliver. A script that does not compile or fails at
run time keeps the mail in INBOX and logs why. Vacation replies and
redirects go out through submission_host to an SMTP sink, and through a
real Postfix that relays the reply (and a reject's bounce) back. A worker
killed mid-fileinto stores nothing; the retry stores once."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

import postfix
from conftest import BUILD, IS_ROOT, Haven, check_sanitizers, free_port, mail_identity
from lmtp_client import Lmtp, code_text
from netwait import wait_listening


def message(subject, frm=b"sender@example.org"):
    return (b"From: " + frm + b"\r\nTo: alice@example.org\r\nSubject: " + subject +
            b"\r\nMessage-ID: <" + subject.replace(b" ", b".") + b"@example.org>\r\n\r\n"
            b"body of " + subject + b"\r\n")


@pytest.fixture
def h(backend):
    d = tempfile.mkdtemp(prefix="haven-sieve-", dir="/tmp")
    port = free_port()
    h = Haven(users=("alice", "bob"), backend=backend,
              extra_conf="lmtp_listen = 127.0.0.1:%d, %s/lmtp\n"
                         "lmtp_local_domains = localhost, example.org" % (port, d))
    h.lmtp_port = port
    h.lmtp_path = d + "/lmtp"
    h.start()
    wait_listening(port, h.proc, 30, h.log_text)
    yield h
    check_sanitizers(h.stop())
    h.cleanup()
    shutil.rmtree(d, ignore_errors=True)


def install(h, user, script, name="rules"):
    """The user's active script, as an administrator installs it."""
    if h.backend == "pgsql":
        h.pg.psql("SELECT haven.sieve_put(:'u', :'n', :'s', true)", db=h.db,
                  vars={"u": user, "n": name, "s": script})
        return
    home = os.path.join(h.home_root, user)
    os.makedirs(os.path.join(home, "sieve"), exist_ok=True)
    with open(os.path.join(home, "sieve", name + ".sieve"), "w") as f:
        f.write(script)
    link = os.path.join(home, ".dovecot.sieve")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink("sieve/%s.sieve" % name, link)
    if IS_ROOT:
        _, uid, gid = mail_identity()
        for p in (home, os.path.join(home, "sieve"), os.path.join(home, "sieve", name + ".sieve")):
            os.chown(p, uid, gid)
        os.lchown(link, uid, gid)


def send(h, rcpts, msg, frm=b"<sender@example.org>"):
    """One LMTP transaction: the replies after DATA, one per recipient."""
    c = Lmtp(h.lmtp_port)
    c.lhlo()
    c.ok(b"MAIL FROM:" + frm)
    for r in rcpts:
        c.ok(b"RCPT TO:<" + r + b">")
    replies = c.data(msg, len(rcpts))
    c.close()
    return replies


def mailbox(h, user, box="INBOX"):
    """[(flags, subject)] of every message of the mailbox."""
    m = h.login(user)
    typ, data = m.select('"%s"' % box, readonly=True)
    assert typ == "OK", data
    out = []
    for i in range(1, int(data[0]) + 1):
        typ, d = m.fetch(str(i), "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        flags = d[0][0].decode()
        flags = flags[flags.index("FLAGS (") + 7:]
        out.append((sorted(f for f in flags[:flags.index(")")].split() if f != "\\Recent"),
                    d[0][1].strip().decode().replace("Subject: ", "")))
    m.logout()
    return out


def create(h, user, *names):
    m = h.login(user)
    for n in names:
        assert m.create(n)[0] == "OK"
    m.logout()


FILEINTO = """require ["fileinto", "imap4flags"];
if header :contains "subject" "list" {
    fileinto :flags ["\\\\Seen", "$Lists"] "Lists";
} elsif header :contains "subject" "nowhere" {
    fileinto "Does/Not/Exist";
}
"""


def test_fileinto_with_flags(h):
    create(h, "alice", "Lists")
    install(h, "alice", FILEINTO)
    for subject in (b"a list post", b"personal", b"to nowhere"):
        (r,) = send(h, [b"alice@example.org"], message(subject))
        assert r[0] == 250, r
    assert mailbox(h, "alice", "Lists") == [(["$Lists", "\\Seen"], "a list post")]
    # a missing mailbox: kept in INBOX (Pigeonhole without :create), logged
    assert mailbox(h, "alice") == [([], "personal"), ([], "to nowhere")]
    assert 'fileinto "Does/Not/Exist"' in h.log_text()


def test_detail_with_and_without_a_script(h):
    create(h, "alice", "Work", "Other")
    create(h, "bob", "Work")
    install(h, "alice", 'require ["envelope", "subaddress", "fileinto"];\n'
                        'if envelope :detail "to" "other" { fileinto "Other"; }\n')
    replies = send(h, [b"alice+Work@example.org", b"alice+other@example.org",
                       b"bob+Work@example.org"], message(b"detailed"))
    assert [r[0] for r in replies] == [250, 250, 250], replies
    # the implicit keep goes where it would go without a script
    assert mailbox(h, "alice", "Work") == [([], "detailed")]
    assert mailbox(h, "alice", "Other") == [([], "detailed")]
    assert mailbox(h, "alice") == []
    assert mailbox(h, "bob", "Work") == [([], "detailed")]


def test_discard(h):
    install(h, "alice", 'if header :contains "subject" "spam" { discard; }\n')
    (r,) = send(h, [b"alice"], message(b"buy spam now"))
    assert r[0] == 250, r
    (r,) = send(h, [b"alice"], message(b"hello"))
    assert mailbox(h, "alice") == [([], "hello")]


def test_reject_refuses_for_that_recipient_only(h):
    install(h, "alice", 'require "reject";\n'
                        'if address :is "from" "pest@example.org" {\n'
                        '    reject "I do not take mail from you.";\n}\n')
    replies = send(h, [b"alice@example.org", b"bob@example.org"],
                   message(b"unwanted", frm=b"pest@example.org"))
    assert replies[0][0] == 550, replies
    assert code_text(replies[0])[1] == "5.7.1 I do not take mail from you."
    assert replies[1][0] == 250, replies
    assert mailbox(h, "alice") == []
    assert mailbox(h, "bob") == [([], "unwanted")]


def test_broken_script_keeps_mail_and_logs(h):
    install(h, "alice", 'fileinto "Lists";\n')   # no require: does not compile
    for subject in (b"one", b"two"):
        (r,) = send(h, [b"alice"], message(subject))
        assert r[0] == 250, r
    assert mailbox(h, "alice") == [([], "one"), ([], "two")]
    log = h.log_text()
    assert "does not compile" in log and "line 1" in log


def test_runtime_failure_keeps_mail_and_logs(h):
    # reject with keep is an action conflict: a run-time error (RFC 5429 2.1)
    install(h, "alice", 'require "reject";\nkeep;\nreject "no";\n')
    (r,) = send(h, [b"alice"], message(b"conflicted"))
    assert r[0] == 250, r
    assert mailbox(h, "alice") == [([], "conflicted")]
    assert "failed (mail kept in INBOX)" in h.log_text()


def test_redirect_without_outgoing_mail_keeps(h):
    install(h, "alice", 'redirect "elsewhere@example.net";\n')
    (r,) = send(h, [b"alice"], message(b"forward me"))
    assert r[0] == 250, r
    assert mailbox(h, "alice") == [([], "forward me")]
    assert "redirect to <elsewhere@example.net> not sent" in h.log_text()


def lda(h, user, msg):
    return subprocess.run([os.path.join(BUILD, "haven-deliver"), "-a", h.lmtp_path,
                           "-f", "pest@example.org", "-d", user],
                          input=msg.replace(b"\r\n", b"\n"), capture_output=True, timeout=60)


def test_lda_fileinto_and_reject(h):
    create(h, "alice", "Lists")
    install(h, "alice", 'require ["fileinto", "reject", "envelope"];\n'
                        'if envelope :is "from" "pest@example.org" {\n'
                        '    if header :contains "subject" "list" { fileinto "Lists"; }\n'
                        '    else { reject "Go away."; }\n}\n')
    r = lda(h, "alice", message(b"list mail"))
    assert r.returncode == 0, r.stderr
    r = lda(h, "alice", message(b"other mail"))
    assert r.returncode == 77 and b"5.7.1 Go away." in r.stderr, r
    assert mailbox(h, "alice", "Lists") == [([], "list mail")]
    assert mailbox(h, "alice") == []


class SmtpSink:
    """A small SMTP server on loopback that keeps what it receives:
    [(mail from, [rcpts], data)]. Python's standard library has no SMTP
    server any more (smtpd went in 3.12)."""

    def __init__(self):
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.port = self.srv.getsockname()[1]
        self.got = []
        self.lock = threading.Lock()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(conn,), daemon=True).start()

    def session(self, conn):
        f = conn.makefile("rb")
        conn.sendall(b"220 sink ESMTP\r\n")
        frm, rcpts = None, []
        for line in f:
            cmd = line.strip().upper()
            if cmd.startswith(b"EHLO") or cmd.startswith(b"HELO"):
                conn.sendall(b"250-sink\r\n250 8BITMIME\r\n")
            elif cmd.startswith(b"MAIL FROM:"):
                frm, rcpts = line.strip()[10:].strip(b"<>").decode(), []
                conn.sendall(b"250 ok\r\n")
            elif cmd.startswith(b"RCPT TO:"):
                rcpts.append(line.strip()[8:].strip(b"<>").decode())
                conn.sendall(b"250 ok\r\n")
            elif cmd == b"DATA":
                conn.sendall(b"354 go on\r\n")
                data = b""
                for l in f:
                    if l == b".\r\n":
                        break
                    data += l[1:] if l.startswith(b".") else l
                with self.lock:
                    self.got.append((frm, rcpts, data))
                conn.sendall(b"250 queued\r\n")
            elif cmd == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                break
            else:
                conn.sendall(b"500 what\r\n")
        conn.close()

    def close(self):
        self.srv.close()


@pytest.fixture
def hs(backend):
    """A havend whose Sieve mail goes to a sink."""
    sink = SmtpSink()
    port = free_port()
    h = Haven(users=("alice", "bob"), backend=backend,
              extra_conf="lmtp_listen = 127.0.0.1:%d\nlmtp_local_domains = localhost, example.org\n"
                         "submission_host = 127.0.0.1:%d\nlmtp_hostname = mx.test"
                         % (port, sink.port))
    h.lmtp_port = port
    h.sink = sink
    h.start()
    wait_listening(port, h.proc, 30, h.log_text)
    yield h
    check_sanitizers(h.stop())
    h.cleanup()
    sink.close()


VACATION = """require ["vacation", "vacation-seconds"];
vacation :seconds 3 :subject "Away" "I am away until Monday.";
"""


def test_vacation_once_per_sender_per_period(hs):
    install(hs, "alice", VACATION)
    for frm in (b"ann@example.org", b"ann@example.org", b"ben@example.org"):
        (r,) = send(hs, [b"alice@example.org"], message(b"hi from " + frm, frm=frm),
                    frm=b"<" + frm + b">")
        assert r[0] == 250, r
    # none to the null sender, none to a mailing list
    (r,) = send(hs, [b"alice@example.org"], message(b"bounce"), frm=b"<>")
    listmsg = message(b"list post", frm=b"cat@example.org").replace(
        b"\r\n\r\n", b"\r\nList-Id: <talk.example.org>\r\n\r\n", 1)
    (r,) = send(hs, [b"alice@example.org"], listmsg, frm=b"<cat@example.org>")
    got = hs.sink.got
    assert sorted(g[1][0] for g in got) == ["ann@example.org", "ben@example.org"], got
    for frm, rcpts, data in got:
        assert frm == "" and b"Auto-Submitted: auto-replied" in data, data
        assert b"Subject: Away" in data and b"I am away until Monday." in data
    # every message is kept as well
    assert len(mailbox(hs, "alice")) == 5
    # the period over, ann is answered again
    time.sleep(3.5)
    send(hs, [b"alice@example.org"], message(b"again", frm=b"ann@example.org"),
         frm=b"<ann@example.org>")
    assert [g[1][0] for g in hs.sink.got].count("ann@example.org") == 2, hs.sink.got


def test_redirect_reaches_the_relay(hs):
    install(hs, "alice", 'require "copy";\n'
                         'if header :contains "subject" "copy" {\n'
                         '    redirect :copy "keeper@example.net";\n'
                         '} else { redirect "elsewhere@example.net"; }\n')
    send(hs, [b"alice@example.org"], message(b"forward me"))
    send(hs, [b"alice@example.org"], message(b"copy me"))
    got = hs.sink.got
    assert [(g[0], g[1]) for g in got] == [("sender@example.org", ["elsewhere@example.net"]),
                                            ("sender@example.org", ["keeper@example.net"])]
    assert b"Subject: forward me" in got[0][2]
    assert b"Delivered-To: alice@example.org\r\n" in got[0][2]   # loop detection
    # redirect replaces the keep; redirect :copy does not
    assert mailbox(hs, "alice") == [([], "copy me")]


def worker_stopped(h):
    """The pid of the user worker stopped by the test hook, or None."""
    from procs import descendants_of
    for pid, argv in descendants_of(h.proc.pid):
        if argv and argv[0].endswith("haven-worker"):
            try:
                with open("/proc/%d/stat" % pid) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "T":
                        return pid
            except OSError:
                pass
    return None


def test_worker_killed_mid_fileinto_then_retry_stores_once(h):
    create(h, "alice", "Lists")
    install(h, "alice", 'require "fileinto";\nfileinto "Lists";\n')
    stop = os.path.join(h.home_root, "alice", ".haven-test-stop-delivery")
    open(stop, "w").close()
    msg = message(b"killed once") + b"x" * 100000 + b"\r\n"
    result = []
    t = threading.Thread(target=lambda: result.append(send(h, [b"alice"], msg)))
    t.start()
    from procs import wait_for
    pid = wait_for(lambda: worker_stopped(h), timeout=30)
    assert pid, "the worker did not stop in the append"
    os.kill(pid, signal.SIGKILL)
    t.join(60)
    assert result[0][0][0] == 451, result    # the MTA keeps it and retries
    (r,) = send(h, [b"alice"], msg)
    assert r[0] == 250, r
    assert mailbox(h, "alice", "Lists") == [([], "killed once")]
    assert mailbox(h, "alice") == []


@pytest.mark.skipif(postfix.missing() is not None, reason=postfix.missing() or "")
def test_postfix_relays_vacation_reply_and_reject_bounce(backend):
    """A real Postfix in front (tests/integration/postfix.py) and behind:
    Haven's vacation reply goes to it by submission_host and comes back
    to bob by LMTP; a reject becomes Postfix's bounce with 5.7.1."""
    lmtp_port, smtp_port = free_port(), free_port()
    h = Haven(users=("alice", "bob"), backend=backend,
              extra_conf="lmtp_listen = 127.0.0.1:%d\nlmtp_local_domains = example.org\n"
                         "submission_host = 127.0.0.1:%d" % (lmtp_port, smtp_port))
    h.start()
    pf = postfix.Postfix(None, "inet:127.0.0.1:%d" % lmtp_port, smtp_port=smtp_port)
    pf.start()
    try:
        install(h, "alice", 'require ["vacation", "reject"];\n'
                            'if header :contains "subject" "spam" { reject "No spam."; }\n'
                            'else { vacation :days 1 "Back next week."; }\n')
        for subject in (b"lunch?", b"spam"):
            pf.send("bob@example.org", ["alice@example.org"],
                    message(subject, frm=b"bob@example.org"))
        from procs import wait_for
        assert wait_for(lambda: len(mailbox(h, "bob")) == 2, timeout=60), pf.log()
        assert mailbox(h, "alice") == [([], "lunch?")]
        m = h.login("bob")
        m.select("INBOX", readonly=True)
        bodies = [m.fetch(str(i), "(BODY.PEEK[])")[1][0][1] for i in (1, 2)]
        m.logout()
        reply = [b for b in bodies if b"Back next week." in b]
        bounce = [b for b in bodies if b"5.7.1" in b and b"No spam." in b]
        assert len(reply) == 1 and b"Auto-Submitted: auto-replied" in reply[0], bodies
        assert reply[0].startswith(b"Return-Path: <>\r\n"), reply
        assert len(bounce) == 1 and bounce[0] is not reply[0], bodies
    finally:
        pf.stop()
        pf.cleanup()
        check_sanitizers(h.stop())
        h.cleanup()
