"""What the PostgreSQL store sends per IMAP command: statements counted in
PostgreSQL's own log (log_min_duration_statement = 0 for the test's
database; one "execute" line per statement the worker runs), and row locks
seen on the mailbox row itself. Round trips, not timings: a command that
starts sending a statement per message, or a read that starts taking a row
lock (and with it a commit that waits for a WAL flush), fails here whatever
the machine's speed.

* SELECT of a mailbox with nothing new to claim as \\Recent: one statement,
  and no lock on the mailbox row;
* FETCH of the ENVELOPE and BODYSTRUCTURE of 12 messages: not one
  statement per message;
* a sync that finds another session's flag change (in a view that has
  read its metadata): one statement, the new flags included;
* STORE, then FETCH FLAGS of the same message: one statement (the view's
  metadata takes its own change without a new read);
* LIST: one statement."""
import os
import re

import pytest

from conftest import Haven

BACKENDS = ["pgsql"]
N = 12


@pytest.fixture(scope="module")
def server():
    h = Haven(users=("alice",), backend="pgsql")
    h.pg.psql("ALTER DATABASE %s SET log_min_duration_statement = 0" % h.db, db="postgres")
    h.start()
    m = h.login("alice")
    for i in range(N):
        msg = ("From: a%d@example.org\r\nTo: b@example.org\r\nSubject: message %d\r\n"
               "Content-Type: text/plain\r\n\r\nbody %d\r\n" % (i, i, i)).encode()
        assert m.append("INBOX", None, None, msg)[0] == "OK"
    m.logout()
    yield h
    h.stop()
    h.cleanup()


def log_size(h):
    return os.path.getsize(h.pg.log)


def executes(h, since):
    """Statements the test database's worker connections ran since the log
    was since bytes long."""
    pids = set(h.pg.psql("SELECT pid FROM pg_stat_activity WHERE datname = '%s' "
                         "AND usename = 'haven_worker'" % h.db, db="postgres").split())
    with open(h.pg.log, "rb") as f:
        f.seek(since)
        text = f.read().decode("utf-8", "replace")
    return [ln for ln in text.splitlines()
            if re.search(r"\[(\d+)\] LOG:  duration: [\d.]+ ms  execute ", ln) and
            re.search(r"\[(\d+)\]", ln).group(1) in pids]


def counted(h, fn):
    before = log_size(h)
    r = fn()
    return r, executes(h, before)


def inbox_xmax(h):
    return h.pg.psql("SELECT m.xmax FROM haven.mailboxes m JOIN haven.users u ON u.id = m.user_id"
                     " WHERE u.login = 'alice' AND m.name = 'INBOX'", db=h.db)


def test_select_takes_no_lock_when_nothing_is_new(server):
    m = server.login("alice")
    assert m.select("INBOX")[0] == "OK"   # claims the new messages as \Recent
    m.close()
    xmax = inbox_xmax(server)
    r, stmts = counted(server, lambda: m.select("INBOX"))
    assert r == ("OK", [str(N).encode()])
    assert len(stmts) == 1, stmts
    assert inbox_xmax(server) == xmax, "SELECT locked the mailbox row"
    m.logout()


def test_fetch_is_not_a_statement_per_message(server):
    m = server.login("alice")
    m.select("INBOX")
    r, stmts = counted(server, lambda: m.fetch("1:%d" % N, "(ENVELOPE BODYSTRUCTURE)"))
    assert r[0] == "OK"
    subjects = re.findall(rb'"message (\d+)"', b"".join(x[0] if isinstance(x, tuple) else x
                                                          for x in r[1]))
    assert [int(s) for s in subjects] == list(range(N))
    assert len(stmts) <= 4, stmts
    m.logout()


def test_sync_of_a_flag_change_is_one_statement(server):
    m = server.login("alice")
    other = server.login("alice")
    m.select("INBOX")
    m.fetch("1:*", "(FLAGS)")   # the view's UIDs and metadata, read once
    other.select("INBOX")
    assert other.store("3", "+FLAGS", "(\\Answered)")[0] == "OK"
    r, stmts = counted(server, lambda: m.noop())
    assert r[0] == "OK"
    fetched = b" ".join(m.untagged_responses.pop("FETCH", [b""]))
    assert re.search(rb"^3 \(.*FLAGS \(\\Answered", fetched), fetched
    assert len(stmts) == 1, stmts
    other.logout()
    m.logout()


def test_store_then_fetch_flags_is_one_statement(server):
    m = server.login("alice")
    m.select("INBOX")
    m.fetch("1:*", "(FLAGS)")

    def store_fetch():
        assert m.store("2", "+FLAGS.SILENT", "(\\Flagged $Work)")[0] == "OK"
        return m.fetch("2", "(FLAGS)")
    r, stmts = counted(server, store_fetch)
    assert b"\\Flagged" in r[1][0] and b"$Work" in r[1][0]
    assert len(stmts) == 1, stmts
    m.logout()


def test_list_is_one_statement(server):
    m = server.login("alice")
    r, stmts = counted(server, lambda: m.list('""', "*"))
    assert r[0] == "OK" and any(b'"INBOX"' in x for x in r[1])
    assert len(stmts) == 1, stmts
    m.logout()
