"""Issue 14: haven-admin who and kick across hosts. Two havend instances
on one machine share one PostgreSQL database (as hosts of a scale-out
do); haven-admin, given instance 1's configuration, asks through the
database (NOTIFY haven_admin) and hears every user worker of both: who
lists the sessions of both instances, kick ends alice's sessions on both
(each client reads the BYE a local kick sends) and leaves bob's alone.
A malformed request on the channel is ignored and logged."""
import os
import socket
import time

import pytest

import pgcluster
from conftest import BUILD, Haven, check_sanitizers

pytestmark = pytest.mark.skipif(not pgcluster.available(), reason="PostgreSQL not installed")

ADMIN = os.path.join(BUILD, "haven-admin")
HOST = socket.gethostname()
ROW = "%-24s %-24s %-40s %-20s %-3s %s"
IGNORED = "malformed haven-admin request ignored"
HEADER = ROW % ("HOST", "USER", "CLIENT", "SINCE", "TLS", "MAILBOX")


@pytest.fixture(scope="module")
def pair():
    one = Haven(tls=False, backend="pgsql").start()
    shared = "mail_backend = pgsql\npgsql_dsn = %s" % one.pg.dsn(db=one.db, user="haven_worker")
    two = Haven(tls=False, extra_conf=shared).start()
    yield one, two
    for h in (one, two):
        check_sanitizers(h.stop())
        h.cleanup()


def admin(h, *args, rc=0):
    import subprocess
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0")
    r = subprocess.run([ADMIN, "-c", h.conf] + list(args), capture_output=True, text=True,
                       timeout=60, env=env)
    check_sanitizers(r.stderr)
    assert r.returncode == rc, (args, r.returncode, r.stdout, r.stderr)
    return r


def client(m):
    return m.sock.getsockname()[0]  # the address, as the local who shows it


def expect_rows(out, t0, t1, sessions):
    """out is who's table of exactly sessions (user, imap, mailbox),
    rows sorted by their text, every SINCE within [t0, t1]."""
    lines = out.splitlines()
    assert lines[0] == HEADER, lines
    rows = lines[1:]
    assert rows == sorted(rows), rows
    got = []
    for line in rows:
        host, user, addr, since, tls, mb = line.split()
        t = time.mktime(time.strptime(since, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        assert int(t0) <= t <= t1, (line, t0, t1)
        assert line == ROW % (HOST, user, addr, since, "no", mb), line
        got.append((user, addr, mb))
    assert sorted(got) == sorted((u, client(m), mb) for u, m, mb in sessions), rows


def test_who_and_kick_reach_both_hosts(pair):
    one, two = pair
    t0 = time.time()
    a1 = one.login("alice")
    a1.select("INBOX")
    a2 = two.login("alice")
    b2 = two.login("bob")
    b2.select("INBOX")
    t1 = time.time()
    # asked with instance 2's configuration: instance 1's sessions too
    r = admin(two, "who")
    expect_rows(r.stdout, t0, t1, [("alice", a1, "INBOX"), ("alice", a2, "-"),
                                    ("bob", b2, "INBOX")])
    assert r.stderr == ""

    r = admin(one, "kick", "alice")
    assert r.stdout == "alice: 2 sessions ended\n", r.stdout
    for m in (a1, a2):
        assert m.readline() == b"* BYE Disconnected by the administrator\r\n"
        assert m.readline() == b""
    assert b2.noop()[0] == "OK"
    expect_rows(admin(one, "who").stdout, t0, t1, [("bob", b2, "INBOX")])
    assert admin(one, "kick", "nobody").stdout == "nobody: 0 sessions ended\n"
    b2.logout()


def test_bad_requests(pair):
    one, two = pair
    b1 = one.login("bob")
    # Anyone who may NOTIFY can send anything: the workers ignore it.
    for bad in ("kick zz alice", "who 0123456789abcdef extra", "kick 0123456789abcdef  bob"):
        one.pg.psql("NOTIFY haven_admin, '%s'" % bad, db=one.db)
    deadline = time.time() + 10
    while time.time() < deadline and one.log_text().count(IGNORED) < 3:
        assert b1.noop()[0] == "OK"
        time.sleep(0.1)
    time.sleep(0.5)
    # each of bob's workers (and a kicked alice's, not gone yet) saw all three
    n = one.log_text().count(IGNORED)
    assert n >= 3 and n % 3 == 0, n
    r = admin(one, "kick", "b b", rc=1)
    assert "not a user name that can be sent to the hosts" in r.stderr, r.stderr
    assert b1.noop()[0] == "OK"
    b1.logout()
