"""haven-deliver, the LDA for MTAs that run a command per message: the
message from standard input stored through havend's LMTP listener, and
the answer as a sysexits(3) status the MTA acts on: 0 stored, 67 unknown
user, 73 refused by the store (over quota), 75 try again later (havend
not reachable), 64 a bad command line, 78 no LMTP listener configured."""
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import BUILD, Haven, check_sanitizers, free_port, only_backends

MSG_LF = (b"From sender@example.org Mon Dec  7 10:00:00 2026\n"
          b"From: sender@example.org\nSubject: by the LDA\n\nline one\n.dot line\nend\n")
STORED = b"From: sender@example.org\r\nSubject: by the LDA\r\n\r\nline one\r\n.dot line\r\nend\r\n"


@pytest.fixture
def h(backend):
    d = tempfile.mkdtemp(prefix="haven-lda-", dir="/tmp")
    h = Haven(users=("alice", "bob"), backend=backend,
              extra_conf="lmtp_listen = %s/lmtp, 127.0.0.1:%d" % (d, free_port()))
    h.sock = d + "/lmtp"
    h.start()
    yield h
    check_sanitizers(h.stop())
    h.cleanup()
    shutil.rmtree(d, ignore_errors=True)


def deliver(*args, data=MSG_LF, env=None):
    return subprocess.run([os.path.join(BUILD, "haven-deliver")] + list(args), input=data,
                          capture_output=True, timeout=60, env=env)


def messages(h, user, box="INBOX"):
    m = h.login(user)
    n = int(m.select('"%s"' % box)[1][0])
    out = [m.fetch(str(i), "(BODY.PEEK[])")[1][0][1] for i in range(1, n + 1)]
    m.logout()
    return out


def test_stores_with_crlf_and_trace_header(h):
    r = deliver("-c", h.conf, "-f", "sender@example.org", "-d", "alice")
    assert r.returncode == 0, r.stderr
    (stored,) = messages(h, "alice")
    assert stored.startswith(b"Return-Path: <sender@example.org>\r\nDelivered-To: alice\r\n")
    assert stored.endswith(b"\r\n" + STORED)


def test_mailbox_option_and_sender_from_environment(h):
    m = h.login("bob")
    m.create("Lists")
    m.logout()
    env = dict(os.environ, SENDER="list@example.org")
    r = deliver("-a", h.sock, "-d", "bob", "-m", "Lists", env=env)
    assert r.returncode == 0, r.stderr
    (stored,) = messages(h, "bob", "Lists")
    assert stored.startswith(b"Return-Path: <list@example.org>\r\n")


def test_exit_codes(h):
    r = deliver("-a", h.sock, "-d", "nosuchuser")
    assert r.returncode == 67 and b"5.1.1" in r.stderr, r
    assert deliver("-a", h.sock).returncode == 64
    r = deliver("-a", "/nonexistent/lmtp", "-d", "alice")
    assert r.returncode == 75, r
    conf = os.path.join(h.dir, "nolmtp.conf")
    with open(conf, "w") as f:
        f.write("listen = 127.0.0.1:1\n")
    r = deliver("-c", conf, "-d", "alice")
    assert r.returncode == 78 and b"lmtp_listen" in r.stderr, r
    assert messages(h, "alice") == []


@only_backends("pgsql")  # the store that keeps quotas
def test_over_quota_is_a_permanent_refusal(h):
    h.pg.psql("SELECT haven.set_quota('alice', 10)", db=h.db)
    r = deliver("-a", h.sock, "-d", "alice")
    assert r.returncode == 73 and b"5.2.2" in r.stderr, r
