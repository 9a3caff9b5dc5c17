"""worker_reuse: an idle user worker is kept (up to worker_reuse of them)
and adopted by the next user of the same uid and gid who has no worker,
its mail store reopened for that user (the PostgreSQL store keeps its warm
database connection). What a client of the next user sees is its own mail
only, and IDLE is woken by its own changes; a user of another uid never
gets a kept worker; beyond worker_reuse idle workers exit."""
import os
import signal
import time

import pytest

from conftest import Haven, IS_ROOT, check_sanitizers, read_until_tagged
from procs import children_of, wait_for
from rfc9051_common import Session, lit

CONF = "worker_idle_timeout = 1\nworker_reuse = 1\nworker_reuse_timeout = 60"


def workers(h):
    return sorted(pid for pid, argv in children_of(h.proc.pid)
                  if argv and os.path.basename(argv[0]) == "haven-worker")


def kept(h, n=1):
    """Wait until n workers have been kept (the log says so)."""
    assert wait_for(lambda: h.log_text().count("kept for reuse") >= n)


def message(who):
    return b"From: %s@example.org\r\nSubject: for %s\r\n\r\nmail of %s\r\n" % (who, who, who)


def append(s, who, box=b"INBOX"):
    s.ok(b"APPEND " + box + b" " + lit(message(who)))


NOBODY = 65534


@pytest.fixture
def h(backend):
    h = Haven(users=("alice", "bob"), backend=backend, extra_conf=CONF)
    if IS_ROOT:
        # dave: a user of another uid (its home made for it)
        home = os.path.join(h.home_root, "dave")
        os.mkdir(home, 0o700)
        os.chown(home, NOBODY, NOBODY)
        with open(os.path.join(h.dir, "passwd"), "a") as f:
            f.write("dave:{PLAIN}pw-dave:%d:%d::%s::\n" % (NOBODY, NOBODY, home))
        if backend == "pgsql":
            h.pg.psql("INSERT INTO haven.users (login) VALUES ('dave')", db=h.db)
    h.start()
    yield h
    check_sanitizers(h.stop())
    h.cleanup()


def test_the_next_user_gets_the_kept_worker_and_only_its_own_mail(h):
    a = Session(h, "alice")
    a.ok(b"CREATE AliceOnly")
    append(a, b"alice")
    first = workers(h)
    a.ok(b"LOGOUT")
    kept(h)
    assert workers(h) == first  # kept, not gone

    b = Session(h, "bob")
    assert workers(h) == first  # the same process serves bob now
    assert wait_for(lambda: "kept worker now serves bob" in h.log_text())
    listed = b"".join(b.ok(b'LIST "" "*"'))
    assert b"AliceOnly" not in listed
    assert b"* 0 EXISTS" in b"".join(b.ok(b"SELECT INBOX"))
    append(b, b"bob")
    body = b"".join(b.ok(b"FETCH 1 BODY.PEEK[]"))
    assert b"mail of bob" in body and b"alice" not in body
    # IDLE of the adopted store is woken by bob's changes, not polled
    other = Session(h, "bob")
    b.send(b"I1 IDLE\r\n")
    assert b.f.readline().startswith(b"+ ")
    append(other, b"bob")
    assert b.f.readline() == b"* 2 EXISTS\r\n"
    b.send(b"DONE\r\n")
    assert read_until_tagged(b.f, b"I1")[-1].startswith(b"I1 OK")
    b.ok(b"LOGOUT")
    other.ok(b"LOGOUT")

    # alice's mail is where she left it, whichever worker serves her
    kept(h, 2)
    a = Session(h, "alice")
    assert b"AliceOnly" in b"".join(a.ok(b'LIST "" "*"'))
    assert b"* 1 EXISTS" in b"".join(a.ok(b"SELECT INBOX"))
    assert b"mail of alice" in b"".join(a.ok(b"FETCH 1 BODY.PEEK[]"))
    a.ok(b"LOGOUT")


def test_beyond_worker_reuse_idle_workers_exit(h):
    a, b = Session(h, "alice"), Session(h, "bob")
    assert len(workers(h)) == 2
    a.ok(b"LOGOUT")
    b.ok(b"LOGOUT")
    kept(h)
    assert wait_for(lambda: len(workers(h)) == 1)
    time.sleep(2)  # the kept one stays (worker_reuse_timeout = 60)
    assert len(workers(h)) == 1
    assert h.log_text().count("kept for reuse") == 1


@pytest.mark.skipif(not IS_ROOT, reason="needs root: a user of another uid")
def test_a_user_of_another_uid_never_gets_a_kept_worker(h):
    a = Session(h, "alice")
    a.ok(b"LOGOUT")
    kept(h)
    first = workers(h)
    d = Session(h, "dave")
    assert b"* 0 EXISTS" in b"".join(d.ok(b"SELECT INBOX"))
    now = workers(h)
    assert len(now) == 2 and first[0] in now  # a new one; the kept one waits
    assert "now serves dave" not in h.log_text()
    d.ok(b"LOGOUT")


def test_kept_workers_go_at_a_reload(h):
    """A kept worker read the configuration of before a SIGHUP: it exits,
    and the next user gets a new worker with the new one."""
    a = Session(h, "alice")
    a.ok(b"LOGOUT")
    kept(h)
    first = workers(h)
    h.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: workers(h) == [])
    b = Session(h, "bob")
    assert b"* 0 EXISTS" in b"".join(b.ok(b"SELECT INBOX"))
    assert workers(h) and workers(h) != first
    assert "now serves bob" not in h.log_text()
    b.ok(b"LOGOUT")
