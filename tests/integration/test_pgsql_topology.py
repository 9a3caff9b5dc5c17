"""The PostgreSQL store behind the database topologies of a scale-out
deployment (issue 14):

* through PgBouncer in session pooling: login through the sql passdb,
  APPEND/FETCH/STORE/EXPUNGE, and IDLE push to a second session;
* through PgBouncer in transaction pooling (Debian 12's 1.18: no prepared
  statements there), with one server connection for every worker: with
  pgsql_prepare = no and a direct pgsql_listen_dsn the same mix works; with
  the default, the second worker's first statement meets the first one's
  preparation, that worker logs why and goes unnamed, its client sees
  nothing of it;
* a multi-host DSN with target_session_attrs=read-write across a failover:
  synchronous streaming replica, primary stopped (immediate) under a
  stream of APPENDs, replica promoted; what was in flight got
  NO [UNAVAILABLE], the worker reconnects to the new primary, every APPEND
  that got OK is there exactly once, IDLE push comes back (LISTEN again on
  the new primary)."""
import re
import threading
import time

import pytest

import pgbouncer
import pgcluster
from conftest import Haven, check_sanitizers, pg_cluster
from rfc9051_common import Session, lit
from test_passdb_sql import AUTH_ROLE, auth_role

pytestmark = [
    pytest.mark.skipif(not pgcluster.available(),
                       reason="PostgreSQL server binaries missing (scripts/install-deps)"),
]
needs_bouncer = pytest.mark.skipif(not pgbouncer.available(),
                                   reason="pgbouncer missing (scripts/install-deps)")


def set_conf(h, **kv):
    """Replace (or add) haven.conf keys of h before it starts."""
    with open(h.conf) as f:
        lines = [ln for ln in f.read().split("\n") if ln.split(" = ")[0] not in kv]
    lines += ["%s = %s" % (k, v) for k, v in kv.items()]
    with open(h.conf, "w") as f:
        f.write("\n".join(lines) + "\n")


def message(n):
    return b"From: topo@example.org\r\nMessage-ID: <t%d@topo>\r\nSubject: topo %d\r\n\r\nbody\r\n" \
        % (n, n)


def bounced_haven(mode, pool_size, listen_direct, **conf):
    """A havend whose store and sql passdb go through a new PgBouncer
    (mode pooling) to the session's cluster (its LISTEN too, unless
    listen_direct); users carol and dave."""
    pg = pg_cluster()
    auth_role(pg)
    h = Haven(backend="pgsql", users=(), tls=False)
    bouncer = pgbouncer.PgBouncer(pg, mode, ["haven_worker", AUTH_ROLE], pool_size).start()
    h.bouncer = bouncer
    for u in ("carol", "dave"):
        h.pg.psql("SELECT haven.create_user('%s', 'pw-%s')" % (u, u), db=h.db)
    set_conf(h, pgsql_dsn=bouncer.dsn(h.db, "haven_worker"), passdb="sql",
             passdb_sql_dsn=bouncer.dsn(h.db, AUTH_ROLE), **conf)
    if listen_direct:
        set_conf(h, pgsql_listen_dsn=pg.dsn(db=h.db, user="haven_worker"))
    return h


@pytest.fixture
def bounced():
    made = []

    def make(mode, pool_size=4, listen_direct=False, **conf):
        h = bounced_haven(mode, pool_size, listen_direct, **conf)
        made.append(h)
        return h.start()
    yield make
    for h in made:
        check_sanitizers(h.stop())
        h.bouncer.cleanup()
        h.cleanup()


def until_line(s, want):
    """Responses until one equal to want (an IDLE push); all of them."""
    seen = []
    while not seen or seen[-1] != want:
        try:
            seen.append(s.response())
        except OSError as e:
            raise AssertionError("waiting for %r, saw %r" % (want, seen)) from e
    return seen


def session_mix(h, user):
    """APPEND, FETCH, STORE, EXPUNGE in one session while another idles
    on the same mailbox and is told of each change."""
    a, b = Session(h, user), Session(h, user)
    b.ok(b"SELECT INBOX")
    b.send(b"I1 IDLE\r\n")
    assert b.response() == b"+ idling\r\n"
    a.ok(b"APPEND INBOX (\\Seen) " + lit(message(1)))
    until_line(b, b"* 1 EXISTS\r\n")
    a.ok(b"APPEND INBOX " + lit(message(2)))
    until_line(b, b"* 2 EXISTS\r\n")
    a.ok(b"SELECT INBOX")
    assert a.ok(b"FETCH 1:2 (UID FLAGS BODY.PEEK[HEADER.FIELDS (Message-ID)])")[:-1] == [
        b"* 1 FETCH (UID 1 FLAGS (\\Seen) BODY[HEADER.FIELDS (Message-ID)] {25}\r\n"
        b"Message-ID: <t1@topo>\r\n\r\n)\r\n",
        b"* 2 FETCH (UID 2 FLAGS () BODY[HEADER.FIELDS (Message-ID)] {25}\r\n"
        b"Message-ID: <t2@topo>\r\n\r\n)\r\n"]
    assert a.ok(b"STORE 1 +FLAGS (\\Deleted)")[:-1] == [
        b"* 1 FETCH (FLAGS (\\Seen \\Deleted))\r\n"]
    # (b selected INBOX first: the messages are \\Recent there)
    until_line(b, b"* 1 FETCH (UID 1 FLAGS (\\Seen \\Deleted \\Recent))\r\n")
    assert a.ok(b"EXPUNGE")[:-1] == [b"* 1 EXPUNGE\r\n"]
    until_line(b, b"* 1 EXPUNGE\r\n")
    b.send(b"DONE\r\n")
    assert b.until(b"I1")[-1].startswith(b"I1 OK")
    assert a.ok(b"UID SEARCH ALL")[0] == b"* SEARCH 2\r\n"
    a.close()
    b.close()


@needs_bouncer
def test_session_pooling(bounced):
    h = bounced("session")
    session_mix(h, "carol")


@needs_bouncer
def test_transaction_pooling_unnamed_statements(bounced):
    # One server connection for every worker: a statement prepared by
    # one would be met by the other's.
    h = bounced("transaction", pool_size=1, listen_direct=True, pgsql_prepare="no")
    other = Session(h, "dave")
    other.ok(b"APPEND INBOX " + lit(message(9)))
    session_mix(h, "carol")
    other.ok(b"SELECT INBOX")
    assert other.ok(b"UID SEARCH ALL")[0] == b"* SEARCH 1\r\n"
    other.close()



@needs_bouncer
def test_transaction_pooling_prepared_statements_switch_to_unnamed(bounced):
    # The default prepares statements per connection: under transaction
    # pooling the second worker's preparation meets the first one's on
    # the one server connection. That worker says so in the log, sends
    # its statements unnamed from then on, and its client sees nothing.
    h = bounced("transaction", pool_size=1, listen_direct=True)
    other = Session(h, "dave")
    other.ok(b"APPEND INBOX " + lit(message(9)))
    s = Session(h, "carol")
    s.ok(b"APPEND INBOX " + lit(message(1)))
    s.ok(b"SELECT INBOX")
    assert s.ok(b"UID FETCH 1:* BODY.PEEK[HEADER.FIELDS (Message-ID)]")[:-1] == [
        b"* 1 FETCH (UID 1 BODY[HEADER.FIELDS (Message-ID)] {25}\r\n"
        b"Message-ID: <t1@topo>\r\n\r\n)\r\n"]
    other.ok(b"SELECT INBOX")
    assert other.ok(b"UID SEARCH ALL")[0] == b"* SEARCH 1\r\n"
    s.close()
    other.close()
    warned = [ln for ln in h.log_text().split("\n") if "server connection is shared" in ln]
    assert len(warned) == 1 and "prepared statement" in warned[0], warned


@pytest.fixture
def replicated():
    """A primary (a copy of the session's cluster: this test stops it for
    good) and its synchronous streaming replica, a database of Haven's
    schema with users alice and bob, and a havend whose DSN names both
    hosts."""
    primary = pgcluster.PgCluster(dbname="haven").start_copy(pg_cluster(), standby=False)
    replica = pgcluster.PgCluster(dbname="haven")
    h = None
    try:
        primary.psql("CREATE DATABASE haven TEMPLATE haven_template", db="postgres")
        primary.psql("INSERT INTO haven.users (login) VALUES ('alice'), ('bob')")
        replica.start_copy(primary, standby=True)
        # an acknowledged commit is on both from here on
        primary.psql("ALTER SYSTEM SET synchronous_standby_names = '*'", db="postgres")
        primary.psql("SELECT pg_reload_conf()", db="postgres")
        wait_for(lambda: primary.psql("SELECT sync_state FROM pg_stat_replication",
                                      db="postgres") == "sync")
        h = Haven(backend="mbox", users=("alice", "bob"), tls=False)
        h.backend, h.pg, h.db = "pgsql", replica, "haven"
        set_conf(h, mail_backend="pgsql", pgsql_timeout="3000",
                 pgsql_dsn="host=%s,%s port=%d,%d dbname=haven user=haven_worker "
                 "target_session_attrs=read-write connect_timeout=2"
                 % (primary.sock, replica.sock, primary.port, replica.port))
        h.start()
        yield h, primary, replica
    finally:
        if h:
            check_sanitizers(h.stop())
            h.cleanup()
        for c in (replica, primary):
            c.pg_ctl("stop", "-m", "immediate", check=False)   # (thrown away)
            c.cleanup()


def wait_for(cond, timeout=30):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, "timed out waiting for %s" % cond
        time.sleep(0.05)


def test_failover_to_promoted_replica(replicated):
    h, primary, replica = replicated
    watcher = Session(h, "alice")
    watcher.ok(b"SELECT INBOX")
    watcher.send(b"I1 IDLE\r\n")
    assert watcher.response() == b"+ idling\r\n"
    s = Session(h, "alice")
    results = {}
    failed_over = threading.Event()

    def fail_over():
        time.sleep(0.5)
        primary.pg_ctl("stop", "-m", "immediate")
        time.sleep(0.5)
        replica.pg_ctl("promote", "-w", "-t", "60")
        failed_over.set()

    t = threading.Thread(target=fail_over)
    t.start()
    n = after = 0
    while after < 10:
        n += 1
        tag = b"F%d" % n
        s.send(tag + b" APPEND INBOX " + lit(message(n)) + b"\r\n")
        line = s.until(tag)[-1]
        results[n] = line.split()[1]
        if results[n] != b"OK":
            assert line.startswith(tag + b" NO [UNAVAILABLE] "), line
            time.sleep(0.05)
        elif failed_over.is_set():
            after += 1
        assert n < 3000, "no APPEND got through after the promotion"
    t.join()
    assert b"NO" in results.values(), "the failover was not noticed"
    # what the new primary holds, read through a fresh session
    s.ok(b"SELECT INBOX")
    stored = {}
    for line in s.ok(b"FETCH 1:* BODY.PEEK[HEADER.FIELDS (Message-ID)]")[:-1]:
        mid = int(re.search(rb"<t(\d+)@topo>", line).group(1))
        stored[mid] = stored.get(mid, 0) + 1
    acked = [mid for mid, res in results.items() if res == b"OK"]
    assert [mid for mid in acked if mid not in stored] == [], "acknowledged APPENDs lost"
    assert {mid: k for mid, k in stored.items() if k > 1} == {}, "APPENDs stored twice"
    # IDLE is told of the last message: the worker listens again, now on
    # the new primary
    until_line(watcher, b"* %d EXISTS\r\n" % len(stored))
    uid = replica.psql("SELECT id FROM haven.users WHERE login = 'alice'")
    wait_for(lambda: replica.psql("SELECT count(*) FROM pg_stat_activity WHERE query = "
                                  "'LISTEN haven_%s'" % uid, db="postgres") == "1")
    watcher.send(b"DONE\r\n")
    assert watcher.until(b"I1")[-1].startswith(b"I1 OK")
    watcher.close()
    s.close()
