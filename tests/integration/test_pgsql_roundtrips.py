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
* FETCH EMAILID of 12 messages: from the digest each body is stored
  under, in the same batched reads, no message read;
* a sync that finds another session's flag change (in a view that has
  read its metadata): one statement, the new flags included;
* STORE, then FETCH FLAGS of the same message: one statement (the view's
  metadata takes its own change without a new read);
* LIST: one statement;
* FETCH 1:* (UID FLAGS) of a mailbox of 30,000 messages: the metadata in
  a few growing reads, not one per 1,024 messages;
* UID SEARCH SUBJECT in it: the candidates the search text cannot confirm
  decided on rows read in one statement, not three statements each."""
import calendar
import os
import re
import time

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


def test_fetch_emailid_reads_no_message(server):
    m = server.login("alice")
    m.select("INBOX")
    r, stmts = counted(server, lambda: m.fetch("1:%d" % N, "(EMAILID)"))
    assert r[0] == "OK"
    ids = re.findall(rb"EMAILID \((M[0-9a-f]{32})\)", b" ".join(r[1]))
    assert len(ids) == N, r
    assert len(stmts) <= 4, stmts
    assert not [s for s in stmts if "body_chunks" in s], stmts
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


BIG = 30000


@pytest.fixture(scope="module")
def bigbox():
    """bob's INBOX of BIG messages (one APPENDed, the rest its copies made
    in SQL: \\Seen when the UID is a multiple of 3, $Work of 1,000,
    INTERNALDATE 1,700,000,000 + UID), then four more."""
    h = Haven(users=("bob",), backend="pgsql")
    h.pg.psql("ALTER DATABASE %s SET log_min_duration_statement = 0" % h.db, db="postgres")
    h.start()
    m = h.login("bob")
    assert m.append("INBOX", None, None, b"Subject: one\r\n\r\nbody\r\n")[0] == "OK"
    # the header keys' candidates: "topic 7" in the Subject of three
    # messages (one with a header longer than what is read ahead of the
    # evaluator, one unseen) and in the body of a fourth
    long = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"f" * 70) for i in range(300))
    for msg, flags in ((b"Subject: about topic 7\r\n\r\nbody\r\n", "(\\Seen)"),
                       (long + b"Subject: topic 7 again\r\n\r\nbody\r\n", "(\\Seen)"),
                       (b"Subject: other\r\n\r\ntopic 7 in the body\r\n", "(\\Seen)"),
                       (b"Subject: Re: Topic 7\r\n\r\nbody\r\n", None)):
        assert m.append("INBOX", flags, None, msg)[0] == "OK"
    m.logout()
    h.pg.psql("""
UPDATE haven.messages SET uid = uid + %d WHERE uid > 1;
INSERT INTO haven.messages (mailbox_id, uid, body_id, modseq, flags, keywords, internaldate, size)
SELECT m.mailbox_id, g, m.body_id, g + 1, CASE WHEN g %% 3 = 0 THEN 1 ELSE 0 END,
       CASE WHEN g %% 1000 = 0 THEN '{$Work}'::text[] ELSE '{}' END,
       to_timestamp(1700000000 + g), m.size
  FROM haven.messages m, generate_series(2, %d) g WHERE m.uid = 1;
UPDATE haven.messages SET internaldate = to_timestamp(1700000001) WHERE uid = 1;
UPDATE haven.mailboxes b SET uidnext = %d, highestmodseq = %d, keywords = '{$Work}'
  FROM haven.messages m WHERE b.id = m.mailbox_id;
""" % (BIG - 1, BIG, BIG + 5, BIG + 6), db=h.db)
    yield h
    h.stop()
    h.cleanup()


def test_fetch_all_reads_metadata_in_growing_windows(bigbox):
    m = bigbox.login("bob")
    assert m.select("INBOX") == ("OK", [str(BIG + 4).encode()])
    r, stmts = counted(bigbox, lambda: m.fetch("1:%d" % BIG, "(UID FLAGS)"))
    assert r[0] == "OK" and len(r[1]) == BIG
    for seq, line in enumerate(r[1], 1):
        got = re.match(rb"(\d+) \(UID (\d+) FLAGS \(([^)]*)\)\)$", line)
        assert got and int(got.group(1)) == seq and int(got.group(2)) == seq, line
        flags = set(got.group(3).split())
        want = ({b"\\Seen"} if seq % 3 == 0 else set()) | ({b"$Work"} if seq % 1000 == 0 else set())
        assert flags - {b"\\Recent"} == want, line
    # the UID list, then windows of 256, 512, ... 8,192 messages (8)
    assert len(stmts) <= 9, "%d statements: %s" % (len(stmts), stmts[:3])
    m.logout()


def test_metadata_far_into_a_big_mailbox(bigbox):
    m = bigbox.login("bob")
    m.select("INBOX")
    r = m.fetch("15000,29000", "(UID FLAGS INTERNALDATE RFC822.SIZE)")
    assert r[0] == "OK"
    for uid, line in zip((15000, 29000), r[1]):
        day = time.strftime("%d-%b-%Y %H:%M:%S +0000", time.gmtime(1700000000 + uid))
        assert b'INTERNALDATE "%s"' % day.encode() in line, line
        assert b"RFC822.SIZE 22" in line, line
    assert b"$Work" in r[1][1] and b"\\Seen" in r[1][0]
    m.logout()


def test_header_search_decides_candidates_in_one_statement(bigbox):
    m = bigbox.login("bob")
    m.select("INBOX")
    m.fetch("1", "(UID)")   # the view's UIDs, read once
    r, stmts = counted(bigbox, lambda: m.uid("SEARCH", "SUBJECT", '"topic 7"'))
    assert r == ("OK", [b" ".join(b"%d" % (BIG + i) for i in (1, 2, 4))])
    # the search, then the rows of its 4 candidates (the long header read
    # as before: the body's row and a chunk)
    assert len(stmts) <= 4, stmts
    r = m.uid("SEARCH", "UNSEEN", "SUBJECT", '"topic 7"')
    assert r == ("OK", [b"%d" % (BIG + 4)])
    r = m.uid("SEARCH", "NOT", "SUBJECT", '"topic 7"', "UID", "%d:*" % (BIG + 1))
    assert r == ("OK", [b"%d" % (BIG + 3)])
    m.logout()
