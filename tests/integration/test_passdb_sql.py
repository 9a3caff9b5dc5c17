"""passdb = sql: users provisioned with nothing but psql calls of the
provisioning API (sql/, issue 18) log in through the auth helper's own
role (haven_auth); logins match case-insensitively and through aliases;
disable_user refuses, set_password switches passwords at once (the auth
cache notwithstanding); the user worker gets the user's id and quotas;
SCRAM-SHA-256 works from the secret create_user stored; the database
down gives NO [UNAVAILABLE] and logins work again when it is back."""
import imaplib
import os
import re

import pytest

import pgcluster
from conftest import Haven, check_sanitizers, pg_cluster, pg_database, read_until_tagged
from procs import descendants_of
from sasl_client import Scram, scram_login

pytestmark = pytest.mark.skipif(not pgcluster.available(),
                                reason="PostgreSQL server binaries missing (scripts/install-deps)")

AUTH_ROLE = "t_haven_authd"


def auth_role(pg):
    pg.psql("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s') THEN "
            "CREATE ROLE %s LOGIN IN ROLE haven_auth; END IF; END $$" % (AUTH_ROLE, AUTH_ROLE),
            db="postgres")


@pytest.fixture
def sqlhaven():
    pg = pg_cluster()
    auth_role(pg)
    h = Haven(backend="pgsql", users=())
    h.extra_conf_lines = ["passdb = sql", "passdb_sql_dsn = %s" % pg.dsn(user=AUTH_ROLE, db=h.db)]
    with open(h.conf, "a") as f:
        f.write("\n".join(h.extra_conf_lines) + "\n")
    h.start()
    yield h
    check_sanitizers(h.stop())
    h.cleanup()


def sql(h, q):
    return h.pg.psql(q, db=h.db)


def login_answer(h, user, password):
    m = h.imap()
    try:
        typ, data = m.login(user, password)
        m.logout()
        return typ
    except imaplib.IMAP4.error as e:
        return str(e)


def test_provisioned_user_logs_in_and_sees_special_use(sqlhaven):
    h = sqlhaven
    sql(h, "SELECT haven.create_user('carol@example.org', 'pw-one')")
    m = h.imap()
    assert m.login("carol@example.org", "pw-one")[0] == "OK"
    typ, data = m.list()
    lines = b"\n".join(data)
    for name, flag in ((b"Drafts", b"\\Drafts"), (b"Sent", b"\\Sent"), (b"Trash", b"\\Trash"),
                       (b"Junk", b"\\Junk"), (b"Archive", b"\\Archive")):
        assert re.search(rb"\(.*" + re.escape(flag) + rb".*\) \"[^\"]*\" \"?" + name, lines), lines
    m.logout()
    # Case does not matter; an alias is another name for the same user.
    assert login_answer(h, "Carol@Example.ORG", "pw-one") == "OK"
    sql(h, "SELECT haven.add_alias('c@example.org', 'carol@example.org')")
    assert login_answer(h, "C@example.org", "pw-one") == "OK"
    assert "AUTHENTICATIONFAILED" in login_answer(h, "carol@example.org", "pw-two")
    assert "AUTHENTICATIONFAILED" in login_answer(h, "nobody@example.org", "pw-one")
    # The session belongs to the canonical login, however it was typed.
    assert "login: user=carol@example.org" in h.log_text()


def test_disable_and_set_password(sqlhaven):
    h = sqlhaven
    sql(h, "SELECT haven.create_user('dave@example.org', 'old-pw')")
    assert login_answer(h, "dave@example.org", "old-pw") == "OK"
    sql(h, "SELECT haven.disable_user('dave@example.org')")
    assert "AUTHENTICATIONFAILED" in login_answer(h, "dave@example.org", "old-pw")
    sql(h, "SELECT haven.enable_user('dave@example.org')")
    assert login_answer(h, "dave@example.org", "old-pw") == "OK"
    # Right after a success (which the auth cache keeps): only the new
    # password works, at once.
    sql(h, "SELECT haven.set_password('dave@example.org', 'new-pw')")
    assert "AUTHENTICATIONFAILED" in login_answer(h, "dave@example.org", "old-pw")
    assert login_answer(h, "dave@example.org", "new-pw") == "OK"
    # A user without a password cannot log in with one.
    sql(h, "SELECT haven.create_user('erin@example.org', NULL)")
    assert "AUTHENTICATIONFAILED" in login_answer(h, "erin@example.org", "")


def worker_record(h, user):
    """The -c ID:QUOTA_BYTES:QUOTA_MESSAGES the master gave user's worker."""
    for pid, argv in descendants_of(h.proc.pid):
        if "-a" in argv and argv[argv.index("-a") + 1] == user and "-c" in argv:
            return argv[argv.index("-c") + 1]
    return None


def test_worker_gets_user_id_and_quotas(sqlhaven):
    h = sqlhaven
    uid = sql(h, "SELECT haven.create_user('fred@example.org', 'pw')")
    sql(h, "SELECT haven.set_quota('fred@example.org', 123456)")
    sql(h, "SELECT haven.set_message_quota('fred@example.org', 42)")
    m = h.imap()
    m.login("FRED@example.org", "pw")
    assert worker_record(h, "fred@example.org") == "%s:123456:42" % uid
    # The quota is the store's to enforce: over it, APPEND says so.
    sql(h, "SELECT haven.set_quota('fred@example.org', 10)")
    typ, data = m.append("INBOX", None, None, b"Subject: x\r\n\r\n" + b"y" * 100 + b"\r\n")
    assert typ == "NO" and b"OVERQUOTA" in data[0], data
    m.logout()


def test_scram_from_the_stored_secret(sqlhaven):
    h = sqlhaven
    sql(h, "SELECT haven.create_user('gina@example.org', 'sesame')")
    s, f = h.raw()
    line, ok = scram_login(s, f, b"a", Scram("gina@example.org", "sesame"))
    assert line.startswith(b"a OK"), line
    assert ok
    s.close()
    s, f = h.raw()
    line, ok = scram_login(s, f, b"b", Scram("gina@example.org", "wrong"))
    assert b"AUTHENTICATIONFAILED" in line, line
    s.close()
    # A password given as a hash has no SCRAM secret: PLAIN only.
    sql(h, "SELECT haven.set_password('gina@example.org', "
           "'{CRYPT}' || crypt('hashed', gen_salt('bf', 4)))")
    assert login_answer(h, "gina@example.org", "hashed") == "OK"
    s, f = h.raw()
    line, ok = scram_login(s, f, b"c", Scram("gina@example.org", "hashed"))
    assert b"AUTHENTICATIONFAILED" in line, line
    s.close()


def test_database_down_then_back(sqlhaven):
    h = sqlhaven
    sql(h, "SELECT haven.create_user('hank@example.org', 'pw')")
    assert login_answer(h, "hank@example.org", "pw") == "OK"
    h.pg.pg_ctl("stop", "-w", "-t", "60", "-m", "fast")
    try:
        # A new password so the cache cannot answer: the database must.
        answer = login_answer(h, "hank@example.org", "other")
        assert "UNAVAILABLE" in answer, answer
    finally:
        h.pg.pg_ctl("start", "-w", "-t", "60", "-l", h.pg.log)
        h.pg.wait_ready()
    assert login_answer(h, "hank@example.org", "pw") == "OK"


def test_scram_secret_column(sqlhaven):
    """0004's secret is RFC 5802's for the password, and only the auth
    helper's role reads it."""
    import base64
    import hashlib
    import hmac
    h = sqlhaven
    sql(h, "SELECT haven.create_user('ivy@example.org', 'p\u00e4ss')")
    it, salt, stored, server = h.pg.psql(
        "SELECT scram_sha256 FROM haven.users WHERE login = 'ivy@example.org'",
        db=h.db, user=AUTH_ROLE).split(",")
    salted = hashlib.pbkdf2_hmac("sha256", "p\u00e4ss".encode(), base64.b64decode(salt), int(it))
    ck = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    assert base64.b64decode(stored) == hashlib.sha256(ck).digest()
    assert base64.b64decode(server) == hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    h.pg.psql("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 't_mail2') "
              "THEN CREATE ROLE t_mail2 LOGIN IN ROLE haven_mail; END IF; END $$", db="postgres")
    r = h.pg.psql("SELECT scram_sha256 FROM haven.users", db=h.db, user="t_mail2", check=False)
    assert "permission denied" in r.stderr, r.stdout
