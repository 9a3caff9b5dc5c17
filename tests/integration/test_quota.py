"""QUOTA (RFC 9208) and APPENDLIMIT (RFC 7889) on every store: one quota
root "" per user covering all of its mailboxes; exact GETQUOTA and
GETQUOTAROOT answers as APPEND, COPY, MOVE, EXPUNGE and DELETE change the
usage; [OVERQUOTA] on APPEND and COPY with nothing stored (a MOVE changes
no usage and passes); LMTP over quota (552 5.2.2 for that recipient
alone); limits from the configuration and from the SQL users row; the
error cases; STATUS (DELETED DELETED-STORAGE) and (APPENDLIMIT), LIST
RETURN (STATUS (APPENDLIMIT)), and an APPEND over the limit refused with
NO [TOOBIG] before its bytes are read."""
import re

import pytest

from conftest import Haven, check_sanitizers, free_port, only_backends, pg_cluster, \
    pg_database
from lmtp_client import Lmtp, code_text
from netwait import wait_listening
from rfc9051_common import Session, untagged

KIB = 1024


def msg(size, n=1):
    """A message of exactly size bytes (CRLF lines): its RFC822.SIZE."""
    head = b"From: a@example.org\r\nSubject: quota %d\r\n\r\n" % n
    body = size - len(head) - 2
    assert body >= 0
    return head + b"x" * body + b"\r\n"


def quota_of(lines):
    """{resource: (usage, limit)} of the one QUOTA response, checking its root."""
    q = [l for l in lines if l.startswith(b"* QUOTA ")]
    assert len(q) == 1, lines
    m = re.match(rb'\* QUOTA "" \(([^)]*)\)\r\n$', q[0])
    assert m, q
    v = m.group(1).split()
    return {v[i].decode(): (int(v[i + 1]), int(v[i + 2])) for i in range(0, len(v), 3)}


def getquota(s):
    return quota_of(s.ok(b'GETQUOTA ""'))


def status(s, box, items):
    out = [l for l in s.ok(b"STATUS " + box + b" (" + items + b")")
           if l.startswith(b"* STATUS")]
    return {k.decode(): int(v) for k, v in re.findall(rb"([A-Z-]+) (\d+)", out[0])}


def limited(factory, conf):
    return factory(extra_conf=conf)


def test_capability_without_quotaset(haven):
    s = Session(haven)
    caps = untagged(s.ok(b"CAPABILITY"))[0].split()
    for c in (b"QUOTA", b"QUOTA=RES-STORAGE", b"QUOTA=RES-MESSAGE", b"APPENDLIMIT=52428800"):
        assert c in caps, caps
    assert b"QUOTASET" not in caps
    s.close()


def test_no_limit_is_an_empty_list(haven):
    s = Session(haven)
    out = s.ok(b"GETQUOTAROOT INBOX")
    assert out[0] == b'* QUOTAROOT "INBOX" ""\r\n', out
    assert quota_of(out) == {}
    # RFC 9208 4.1.2: the mailbox need not exist
    out = s.ok(b"GETQUOTAROOT Not/Yet")
    assert out[0] == b'* QUOTAROOT "Not/Yet" ""\r\n', out
    s.close()


def test_usage_follows_append_copy_move_expunge_delete(haven_factory):
    h = limited(haven_factory, "quota_bytes = 1048576\nquota_messages = 100")
    s = Session(h)
    assert getquota(s) == {"STORAGE": (0, 1024), "MESSAGE": (0, 100)}
    for i in range(3):
        s.append(b"INBOX", msg(2 * KIB, i))
    assert getquota(s) == {"STORAGE": (6, 1024), "MESSAGE": (3, 100)}
    assert quota_of(s.ok(b"GETQUOTAROOT INBOX")) == getquota(s)
    s.ok(b"CREATE Other")
    s.ok(b"SELECT INBOX")
    s.ok(b"COPY 1:2 Other")
    assert getquota(s) == {"STORAGE": (10, 1024), "MESSAGE": (5, 100)}
    # a MOVE within the user's one root changes no usage
    s.ok(b"MOVE 3 Other")
    assert getquota(s) == {"STORAGE": (10, 1024), "MESSAGE": (5, 100)}
    s.ok(b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    s.ok(b"EXPUNGE")
    assert getquota(s) == {"STORAGE": (8, 1024), "MESSAGE": (4, 100)}
    s.ok(b"UNSELECT")
    s.ok(b"DELETE Other")
    assert getquota(s) == {"STORAGE": (2, 1024), "MESSAGE": (1, 100)}
    # a message of 1,500 bytes: STORAGE counts whole KiB, rounded down
    s.append(b"INBOX", msg(1500))
    assert getquota(s) == {"STORAGE": (3, 1024), "MESSAGE": (2, 100)}
    s.close()


def test_append_over_quota_stores_nothing(haven_factory):
    h = limited(haven_factory, "quota_bytes = 6000\nquota_messages = 3")
    s = Session(h)
    s.append(b"INBOX", msg(4000))
    # bytes: refused before the literal is sent (no "+" for it)
    s.send(b"a1 APPEND INBOX {2500}\r\n")
    line = s.f.readline()
    assert line.startswith(b"a1 NO [OVERQUOTA]"), line
    s.append(b"INBOX", msg(1000))
    s.append(b"INBOX", msg(500))
    # messages: the fourth
    assert b"[OVERQUOTA]" in s.no(b"APPEND INBOX {100+}\r\n" + msg(100))
    assert status(s, b"INBOX", b"MESSAGES SIZE") == {"MESSAGES": 3, "SIZE": 5500}
    assert getquota(s) == {"STORAGE": (5, 5), "MESSAGE": (3, 3)}
    s.ok(b"NOOP")
    s.close()


def test_copy_over_quota_stores_nothing_and_move_passes(haven_factory):
    h = limited(haven_factory, "quota_messages = 3")
    s = Session(h)
    s.append(b"INBOX", msg(300, 1))
    s.append(b"INBOX", msg(300, 2))
    s.ok(b"CREATE Other")
    s.ok(b"SELECT INBOX")
    assert b"[OVERQUOTA]" in s.no(b"COPY 1:2 Other")
    assert b"[OVERQUOTA]" in s.no(b"UID COPY 1:* Other")
    assert status(s, b"Other", b"MESSAGES") == {"MESSAGES": 0}
    s.ok(b"COPY 1 Other")
    s.ok(b"MOVE 1:2 INBOX")  # within one mailbox
    s.ok(b"SELECT INBOX")
    s.ok(b"MOVE 1:* Other")
    assert status(s, b"Other", b"MESSAGES") == {"MESSAGES": 3}
    assert getquota(s) == {"MESSAGE": (3, 3)}
    s.close()


def test_errors_answered_and_session_goes_on(haven):
    s = Session(haven)
    assert b"[NONEXISTENT]" in s.no(b'GETQUOTA "User quota"')
    assert b"[NONEXISTENT]" in s.no(b"GETQUOTA other")
    s.bad(b"GETQUOTA")
    s.bad(b'GETQUOTA "" extra')
    s.bad(b"GETQUOTA (x)")
    s.bad(b"GETQUOTAROOT")
    s.bad(b"GETQUOTAROOT a b")
    # SETQUOTA: the syntax is checked, then refused (no QUOTASET)
    assert b"[NOPERM]" in s.no(b'SETQUOTA "" (STORAGE 512)')
    assert b"[NOPERM]" in s.no(b'SETQUOTA "" ()')
    s.bad(b'SETQUOTA "" (STORAGE)')
    s.bad(b'SETQUOTA "" (STORAGE -1)')
    s.bad(b'SETQUOTA "" STORAGE 1')
    s.bad(b'SETQUOTA ""')
    s.ok(b"NOOP")
    s.close()


def test_quota_commands_need_login(haven):
    s = Session(haven, login=False)
    s.bad(b'GETQUOTA ""')
    s.bad(b"GETQUOTAROOT INBOX")
    s.close()


def test_status_deleted_and_deleted_storage(haven):
    s = Session(haven)
    for i, size in enumerate((3000, 5000, 700)):
        s.append(b"INBOX", msg(size, i))
    assert status(s, b"INBOX", b"DELETED DELETED-STORAGE") == {"DELETED": 0,
                                                                "DELETED-STORAGE": 0}
    s.ok(b"SELECT INBOX")
    s.ok(b"STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    # in STORAGE's units: (3000 + 5000) // 1024
    assert status(s, b"INBOX", b"MESSAGES DELETED DELETED-STORAGE") == {
        "MESSAGES": 3, "DELETED": 2, "DELETED-STORAGE": 7}
    s.close()


def test_appendlimit_status_list_and_toobig(haven_factory):
    h = haven_factory(extra_conf="max_literal = 100000")
    s = Session(h)
    caps = untagged(s.ok(b"CAPABILITY"))[0].split()
    assert b"APPENDLIMIT=100000" in caps, caps
    assert status(s, b"INBOX", b"APPENDLIMIT") == {"APPENDLIMIT": 100000}
    s.ok(b"CREATE Box")
    out = s.ok(b'LIST "" "*" RETURN (STATUS (APPENDLIMIT MESSAGES))')
    st = [l for l in out if l.startswith(b"* STATUS")]
    boxes = [l for l in out if l.startswith(b"* LIST")]
    assert len(st) == len(boxes) >= 2 and all(b"APPENDLIMIT 100000)" in l for l in st), out
    assert any(l.startswith(b'* STATUS "Box" (') for l in st), out
    # synchronizing: refused before a byte is sent; the session goes on
    s.send(b"t1 APPEND INBOX {100001}\r\n")
    line = s.f.readline()
    assert line.startswith(b"t1 NO [TOOBIG]"), line
    s.ok(b"NOOP")
    # non-synchronizing: the bytes are skipped
    assert b"[TOOBIG]" in s.no(b"APPEND INBOX {100001+}\r\n" + b"x" * 100001)
    s.ok(b"NOOP")
    # at the limit exactly: stored
    s.append(b"INBOX", msg(100000))
    assert status(s, b"INBOX", b"MESSAGES") == {"MESSAGES": 1}
    s.close()


def lmtp_haven(factory, conf):
    port = free_port()
    h = factory(users=("alice", "bob"),
                extra_conf="lmtp_listen = 127.0.0.1:%d\nlmtp_local_domains = localhost\n%s"
                % (port, conf))
    wait_listening(port, h.proc, 30, h.log_text)
    return h, port


LMTP_MSG = (b"From: s@example.org\r\nTo: alice@localhost\r\nSubject: lmtp\r\n\r\n" +
            b"z" * 3000 + b"\r\n")


def test_lmtp_over_quota_refuses_that_recipient_only(haven_factory):
    """Both stores: alice's INBOX is near the configured limit, bob's empty."""
    h, port = lmtp_haven(haven_factory, "quota_bytes = 5000")
    s = Session(h)
    s.append(b"INBOX", msg(3000))
    s.close()
    c = Lmtp(port)
    c.lhlo()
    c.ok(b"MAIL FROM:<s@example.org>")
    c.ok(b"RCPT TO:<alice@localhost>")
    c.ok(b"RCPT TO:<bob@localhost>")
    replies = c.data(LMTP_MSG, 2)
    assert replies[0][0] == 552 and code_text(replies[0])[1].startswith("5.2.2"), replies
    assert replies[1][0] == 250, replies
    c.close()
    a = Session(h)
    assert status(a, b"INBOX", b"MESSAGES") == {"MESSAGES": 1}
    a.close()
    b = Session(h, user="bob")
    assert status(b, b"INBOX", b"MESSAGES") == {"MESSAGES": 1}
    b.close()


@only_backends("pgsql")
def test_pgsql_row_limit_wins_over_config(haven_factory):
    h = limited(haven_factory, "quota_messages = 1000")
    h.pg.psql("SELECT haven.set_message_quota('alice', 2)", db=h.db)
    s = Session(h)
    assert getquota(s) == {"MESSAGE": (0, 2)}
    s.append(b"INBOX", msg(200, 1))
    s.append(b"INBOX", msg(200, 2))
    assert b"[OVERQUOTA]" in s.no(b"APPEND INBOX {200+}\r\n" + msg(200, 3))
    # bob has no row limit: the configured one
    b = Session(h, user="bob")
    assert getquota(b) == {"MESSAGE": (0, 1000)}
    b.close()
    s.close()


AUTH_ROLE = "t_haven_authd"


@pytest.fixture
def mbox_sql_passdb():
    """The mbox store with users (and their quotas) from passdb = sql."""
    import pgcluster
    if not pgcluster.available():
        pytest.skip("PostgreSQL server binaries missing")
    pg = pg_cluster()
    pg.psql("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s') THEN "
            "CREATE ROLE %s LOGIN IN ROLE haven_auth; END IF; END $$" % (AUTH_ROLE, AUTH_ROLE),
            db="postgres")
    db = pg_database()
    h = Haven(backend="mbox", users=(),
              extra_conf="passdb = sql\npassdb_sql_dsn = %s\nquota_messages = 50"
              % pg.dsn(user=AUTH_ROLE, db=db))
    h.pg, h.db = pg, db
    h.start()
    yield h
    check_sanitizers(h.stop())
    h.cleanup()


@only_backends("mbox")
def test_mbox_limit_from_the_sql_record(mbox_sql_passdb, backend):
    h = mbox_sql_passdb
    h.pg.psql("SELECT haven.create_user('carol', 'pw-carol');"
              "SELECT haven.set_quota('carol', 4096);"
              "SELECT haven.create_user('dave', 'pw-dave')", db=h.db)
    s = Session(h, user="carol")
    # the record's byte limit; no message limit in the record: the config's
    assert getquota(s) == {"STORAGE": (0, 4), "MESSAGE": (0, 50)}
    s.append(b"INBOX", msg(3000))
    assert b"[OVERQUOTA]" in s.no(b"APPEND INBOX {2000+}\r\n" + msg(2000))
    assert getquota(s) == {"STORAGE": (2, 4), "MESSAGE": (1, 50)}
    s.close()
    d = Session(h, user="dave")
    assert getquota(d) == {"MESSAGE": (0, 50)}
    d.close()


@only_backends("mbox")
def test_mbox_usage_sees_what_an_mda_wrote(haven_factory):
    """The usage remembered per mailbox follows its file: mail an MDA
    appends to the spool directly is counted at the next look, and
    counts toward the limit (though the MDA itself is not held to it)."""
    import os

    import mda
    h = limited(haven_factory, "quota_messages = 3")
    s = Session(h)
    s.append(b"INBOX", msg(2 * KIB, 1))
    assert getquota(s) == {"MESSAGE": (1, 3)}
    inbox = os.path.join(h.home_root, "alice", "INBOX")
    for i in (2, 3):
        mda.deliver(inbox, msg(2 * KIB, i))
    assert getquota(s) == {"MESSAGE": (3, 3)}
    assert b"[OVERQUOTA]" in s.no(b"APPEND INBOX {100+}\r\n" + msg(100))
    s.ok(b"SELECT INBOX")
    s.ok(b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    s.ok(b"EXPUNGE")
    assert getquota(s) == {"MESSAGE": (2, 3)}
    s.append(b"INBOX", msg(100))
    s.close()


def test_haven_admin_quota(haven_factory):
    """haven-admin quota USER: what GETQUOTA says, in bytes."""
    import os
    import subprocess

    from conftest import BUILD
    admin = os.path.join(BUILD, "haven-admin")
    if not os.path.exists(admin):
        pytest.skip("haven-admin not built")

    def run(*args, rc=0):
        r = subprocess.run([admin, "-c", h.conf, "quota"] + list(args), capture_output=True,
                           text=True, timeout=120)
        check_sanitizers(r.stderr)
        assert r.returncode == rc, (r.stdout, r.stderr)
        return r

    h = limited(haven_factory, "quota_messages = 10")
    s = Session(h)
    s.append(b"INBOX", msg(3000, 1))
    s.append(b"INBOX", msg(1500, 2))
    assert run("alice").stdout == "storage 4500 unlimited\nmessages 2 10\n"
    assert getquota(s) == {"MESSAGE": (2, 10)}
    s.close()
    assert "no such user" in run("nobody-here", rc=1).stderr
    run(rc=2)


CANNOT_SET = (b"NO [CANNOT] This store cannot change quota limits: they come from "
              b"the users' passdb records or the configuration\r\n")


def test_admin_setquota(haven_factory, backend):
    """quota_admins: alice's SETQUOTA and GETQUOTA reach user/LOGIN; bob's
    do not. PostgreSQL sets the limits in bob's row (once havend's role may
    call the provisioning functions), and bob's next APPEND meets them; the
    mbox store's limits come from the passdb or the configuration, so it
    cannot set them."""
    h = haven_factory(extra_conf="quota_admins = root, alice")
    a, b = Session(h), Session(h, user="bob")
    caps = untagged(a.ok(b"CAPABILITY"))[0].split()
    assert (b"QUOTASET" in caps) == (backend == "pgsql"), caps
    assert b"QUOTASET" not in untagged(b.ok(b"CAPABILITY"))[0].split()
    assert b.cmd(b'SETQUOTA "user/bob" (STORAGE 1)')[-1] == \
        b"A003 NO [NOPERM] Quota limits are set by the administrator, not over IMAP\r\n"
    assert b.no(b'GETQUOTA "user/alice"').endswith(b"NO [NONEXISTENT] No such quota root\r\n")
    assert a.no(b'SETQUOTA "" (STORAGE 1)').endswith(
        b"NO [NONEXISTENT] No such quota root (an administrator's are user/LOGIN)\r\n")
    if backend == "mbox":
        assert a.no(b'SETQUOTA "user/bob" (STORAGE 10)').endswith(CANNOT_SET)
        assert a.no(b'GETQUOTA "user/bob"').endswith(CANNOT_SET)
        b.append(b"INBOX", msg(300))
        return
    assert a.no(b'SETQUOTA "user/bob" (MESSAGE 1)').endswith(
        b"NO [NOPERM] The mail store's database role may not set quotas (sql/README.md: "
        b"GRANT EXECUTE ON haven.set_quota and haven.set_message_quota)\r\n")
    h.pg.psql("GRANT EXECUTE ON FUNCTION haven.set_quota(text, bigint), "
              "haven.set_message_quota(text, bigint) TO haven_worker", db=h.db)
    assert a.ok(b'SETQUOTA "user/bob" (STORAGE 10 message 1)') == [
        b'* QUOTA "user/bob" (STORAGE 0 10 MESSAGE 0 1)\r\n', b"A005 OK SETQUOTA completed\r\n"]
    b.append(b"INBOX", msg(2 * KIB))
    assert b.no(b"APPEND INBOX {200+}\r\n" + msg(200)).endswith(
        b"NO [OVERQUOTA] Quota exceeded\r\n")
    assert getquota(b) == {"STORAGE": (2, 10), "MESSAGE": (1, 1)}
    assert a.ok(b'GETQUOTA "user/bob"') == [
        b'* QUOTA "user/bob" (STORAGE 2 10 MESSAGE 1 1)\r\n', b"A006 OK GETQUOTA completed\r\n"]
    assert a.no(b'SETQUOTA "user/nobody" (STORAGE 1)').endswith(
        b"NO [NONEXISTENT] No such quota root\r\n")
    assert a.no(b'SETQUOTA "user/bob" (FOO 1)').endswith(
        b"NO [CANNOT] Only STORAGE and MESSAGE can be limited\r\n")
    assert a.no(b'SETQUOTA "user/bob" (STORAGE 0)').endswith(
        b"NO [LIMIT] A limit of 0 cannot be kept: leave the resource out for none\r\n")
    # RFC 9208 4.1.3: the limits left out are removed
    assert untagged(a.ok(b'SETQUOTA "user/bob" ()')) == [b'* QUOTA "user/bob" ()\r\n']
    b.append(b"INBOX", msg(200))
    a.close()
    b.close()
