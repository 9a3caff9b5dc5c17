"""The provisioning API and roles of sql/migrations/0002 against a real
PostgreSQL cluster: what each haven.* function writes and refuses, that
passwords hashed in SQL verify with the auth helper's crypt(3) (libxcrypt),
that delete_user leaves no row in any table, and what each group role may
and may not do. One cluster and database for the module, every table
emptied before each test."""
import ctypes
import ctypes.util
import json
import os
import re
import subprocess
import time

import pytest

import pgcluster

pytestmark = pytest.mark.skipif(not pgcluster.available(),
                                reason="PostgreSQL server binaries missing (scripts/install-deps)")

# the versions the migrations directory holds: every one is applied
VERSIONS = sorted(int(f.split("-")[0]) for f in os.listdir(pgcluster.MIGRATIONS)
                  if re.match(r"^\d{4}-.*\.sql$", f))

MAILBOXES = {"INBOX": [], "Drafts": ["\\Drafts"], "Sent": ["\\Sent"], "Trash": ["\\Trash"],
             "Junk": ["\\Junk"], "Archive": ["\\Archive"]}

# Login roles for the group roles, made once per cluster.
PROV, MAIL, AUTH = "t_provision", "t_mail", "t_auth"

_libcrypt = ctypes.CDLL(ctypes.util.find_library("crypt"))
_libcrypt.crypt.restype = ctypes.c_char_p
_libcrypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
_libcrypt.crypt_gensalt.restype = ctypes.c_char_p
_libcrypt.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]


def crypt(password, setting):
    """crypt(3) as auth/password.c calls it (libxcrypt)."""
    out = _libcrypt.crypt(password.encode(), setting.encode())
    return out.decode() if out else None


def verifies(password, stored):
    return stored is not None and crypt(password, stored) == stored


def make_hash(prefix):
    return crypt("from-outside", _libcrypt.crypt_gensalt(prefix.encode(), 0, None, 0).decode())


class Db:
    """One database of the cluster, spoken to through psql."""

    def __init__(self, cluster, name):
        self.cluster, self.name = cluster, name

    def sql(self, q, user=None):
        return self.cluster.psql(q, db=self.name, user=user)

    def fails(self, q, user=None):
        """q must fail; its error text (with the SQLSTATE)."""
        r = self.cluster.psql(q, db=self.name, user=user, check=False,
                              vars={"VERBOSITY": "verbose"})
        assert r.returncode != 0, "%r succeeded: %s" % (q, r.stdout)
        return r.stderr

    def each_fails(self, queries, user=None):
        """Every query must fail (one psql session for all of them); their
        error texts in order."""
        script = "".join("\\warn ==%d==\n%s;\n" % (i, q) for i, q in enumerate(queries))
        r = self.cluster.psql(script, db=self.name, user=user, check=False,
                              vars={"VERBOSITY": "verbose", "ON_ERROR_STOP": "0"})
        parts = re.split(r"^==(\d+)==\n", r.stderr, flags=re.M)
        errors = dict(zip(map(int, parts[1::2]), parts[2::2]))
        assert sorted(errors) == list(range(len(queries))), r.stderr
        for i, q in enumerate(queries):
            assert "ERROR:" in errors[i], "%r succeeded" % q
        return [errors[i] for i in range(len(queries))]

    def one(self, q, user=None):
        rows = self.sql(q, user).splitlines()
        assert len(rows) == 1, rows
        return rows[0]

    def user_row(self, login):
        return self.sql("SELECT id, login, password, enabled, quota_bytes, quota_messages,"
                        " domain_id FROM haven.users WHERE lower(login) = lower('%s')" % login)

    def password(self, login):
        return self.one("SELECT coalesce(password, '<null>') FROM haven.users"
                        " WHERE lower(login) = lower('%s')" % login)

    def table_counts(self):
        tables = self.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'haven'"
                          " ORDER BY 1").split()
        assert "messages" in tables and "body_chunks" in tables
        return {t: int(self.one("SELECT count(*) FROM haven.%s" % t)) for t in tables}


@pytest.fixture(scope="module")
def cluster():
    c = pgcluster.PgCluster().start()
    try:
        c.migrate()
        c.psql("CREATE ROLE %s LOGIN IN ROLE haven_provision;"
               "CREATE ROLE %s LOGIN IN ROLE haven_mail;"
               "CREATE ROLE %s LOGIN IN ROLE haven_auth" % (PROV, MAIL, AUTH))
        yield c
    finally:
        c.cleanup()


@pytest.fixture(scope="module")
def truncate_all(cluster):
    """One statement that empties every table but schema_migrations."""
    tables = haven_tables(Db(cluster, cluster.dbname))
    return "TRUNCATE %s RESTART IDENTITY" % ", ".join(
        "haven." + t for t in tables if t != "schema_migrations")


@pytest.fixture
def db(cluster, truncate_all):
    d = Db(cluster, cluster.dbname)
    d.sql(truncate_all)
    return d


def haven_tables(db):
    return db.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'haven' ORDER BY 1").split()


# ---- create_user ------------------------------------------------------------

def special_uses(db, user_id):
    got = {}
    for line in db.sql("SELECT name, array_to_json(special_use) FROM haven.mailboxes"
                       " WHERE user_id = %s" % user_id).splitlines():
        name, use = line.split("|", 1)
        got[name] = json.loads(use)
    return got


def test_create_user_makes_mailboxes_and_subscriptions(db):
    uid = int(db.one("SELECT haven.create_user('Alice@Example.org', 'secret')", user=PROV))
    row = db.one("SELECT id, login, enabled, quota_bytes IS NULL, quota_messages IS NULL"
                 " FROM haven.users")
    assert row == "%d|Alice@Example.org|t|t|t" % uid
    assert special_uses(db, uid) == MAILBOXES
    subs = db.sql("SELECT name FROM haven.subscriptions WHERE user_id = %d" % uid).split()
    assert sorted(subs) == sorted(MAILBOXES)
    # The login's domain, lower-case, is attached.
    assert db.one("SELECT d.name FROM haven.users u JOIN haven.domains d ON d.id = u.domain_id") \
        == "example.org"
    uid2 = int(db.one("SELECT haven.create_user('bob@EXAMPLE.org', NULL)", user=PROV))
    assert special_uses(db, uid2) == MAILBOXES
    assert db.one("SELECT count(DISTINCT domain_id) FROM haven.users") == "1"


def test_login_without_domain(db):
    db.sql("SELECT haven.create_user('bob', NULL)")
    assert db.one("SELECT domain_id IS NULL FROM haven.users") == "t"
    assert db.one("SELECT count(*) FROM haven.domains") == "0"


@pytest.mark.parametrize("password", ["secret", "pässwörd €uro", "a" * 72])
def test_password_is_bcrypt_that_libxcrypt_verifies(db, password):
    db.sql("SELECT haven.create_user('carol', $pw$%s$pw$)" % password)
    stored = db.password("carol")
    assert stored.startswith("$2a$10$") and len(stored) == 60
    assert verifies(password, stored)
    assert not verifies(password[:-1] + chr(ord(password[-1]) + 1), stored)
    assert not verifies(password[:-1], stored)
    if len(password.encode()) == 72:
        # bcrypt reads 72 bytes and no more: why create_user refuses longer.
        assert verifies(password + "anything", stored)
    # and pgcrypto agrees
    assert db.one("SELECT password = crypt($pw$%s$pw$, password) FROM haven.users" % password) == "t"


@pytest.mark.parametrize("prefix", ["$y$", "$6$", "$2b$"])
def test_crypt_hash_is_stored_as_given(db, prefix):
    h = make_hash(prefix)
    assert h.startswith(prefix)
    db.sql("SELECT haven.create_user('dave', '{CRYPT}%s')" % h)
    assert db.password("dave") == h
    assert verifies("from-outside", db.password("dave"))


def test_pgcrypto_moved_or_missing(db):
    """Hashing finds pgcrypto in whatever schema holds it, and says so
    clearly when it is gone."""
    db.sql("CREATE SCHEMA crypto; ALTER EXTENSION pgcrypto SET SCHEMA crypto")
    try:
        db.sql("SELECT haven.create_user('moved', 'pw')")
        assert verifies("pw", db.password("moved"))
        db.sql("DROP EXTENSION pgcrypto")
        try:
            err = db.fails("SELECT haven.set_password('moved', 'pw2')")
            assert "the pgcrypto extension is missing" in err and "42883" in err
            assert verifies("pw", db.password("moved"))
        finally:
            db.sql("CREATE EXTENSION pgcrypto SCHEMA crypto")
    finally:
        db.sql("ALTER EXTENSION pgcrypto SET SCHEMA public; DROP SCHEMA crypto")


def test_null_password_means_no_password_login(db):
    db.sql("SELECT haven.create_user('erin', NULL)")
    assert db.password("erin") == "<null>"


@pytest.mark.parametrize("password,why", [
    ("", "empty password"),
    ("a" * 73, "longer than 72 bytes"),
    ("{SSHA}abcdef", "unsupported password scheme {SSHA}"),
    ("{PLAIN}secret", "unsupported password scheme {PLAIN}"),
    ("{CRYPT}not a hash", "{CRYPT} must be followed by a crypt(3) hash"),
    ("{CRYPT}", "{CRYPT} must be followed by a crypt(3) hash"),
])
def test_bad_password_refused(db, password, why):
    err = db.fails("SELECT haven.create_user('frank', $pw$%s$pw$)" % password)
    assert why in err and "22023" in err
    assert db.one("SELECT count(*) FROM haven.users") == "0"


@pytest.mark.parametrize("login,why", [
    ("''", "must be 1 to 255 bytes"),
    ("'%s'" % ("x" * 256), "must be 1 to 255 bytes"),
    ("'a b'", "blank"), ("E'a\\tb'", "control character"), ("'a/b'", "'/'"),
    ("'a:b'", "':'"), ("'a\\b'", "'\\'"), ("'.'", "blank"), ("'..'", "blank"),
    ("'a@'", "one '@'"), ("'@b.org'", "one '@'"), ("'a@b@c.org'", "one '@'"),
])
def test_bad_login_refused(db, login, why):
    err = db.fails("SELECT haven.create_user(%s, 'pw')" % login)
    assert "bad login" in err and why in err and "22023" in err
    assert db.one("SELECT count(*) FROM haven.users") == "0"


def test_null_login_refused(db):
    err = db.fails("SELECT haven.create_user(NULL, 'pw')")
    assert "login must not be NULL" in err and "22004" in err


def test_duplicate_login_refused_in_any_case(db):
    db.sql("SELECT haven.create_user('Gina@Example.org', NULL)")
    for other in ("Gina@Example.org", "gina@example.org", "GINA@EXAMPLE.ORG"):
        err = db.fails("SELECT haven.create_user('%s', 'pw2')" % other, user=PROV)
        assert 'login "%s" is taken: a user has that login' % other in err and "23505" in err
    assert db.one("SELECT count(*) FROM haven.users") == "1"
    assert db.one("SELECT count(*) FROM haven.mailboxes") == "6"


def test_concurrent_creates_of_one_login_give_a_clear_error(db, cluster):
    """The second of two concurrent create_user calls for the same login
    waits for the first and then refuses with the API's message, not with
    a unique-index violation."""
    env = dict(os.environ, PGAPPNAME="first")
    argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", cluster.sock, "-U", PROV,
            "-d", db.name]
    first = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    first.stdin.write("BEGIN;\nSELECT haven.create_user('hank@example.org', 'one');\n")
    first.stdin.flush()
    wait_for(db, "application_name = 'first' AND state = 'idle in transaction'")
    second = subprocess.Popen(argv + ["-v", "VERBOSITY=verbose", "-c",
                                      "SELECT haven.create_user('HANK@example.org', 'two')"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, PGAPPNAME="second"))
    wait_for(db, "application_name = 'second' AND wait_event_type = 'Lock'")
    first.stdin.write("COMMIT;\n")
    first.stdin.close()
    assert first.wait(timeout=60) == 0, first.stderr.read()
    out, err = second.communicate(timeout=60)
    assert second.returncode != 0
    assert 'login "HANK@example.org" is taken: a user has that login' in err, err
    assert verifies("one", db.password("hank@example.org"))


def wait_for(db, condition, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if db.one("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                  " AND %s" % condition) == "1":
            return
        time.sleep(0.05)
    raise AssertionError("no session with " + condition)


# ---- unknown logins ---------------------------------------------------------

@pytest.mark.parametrize("call", [
    "haven.set_password('ghost', 'pw')", "haven.disable_user('ghost')",
    "haven.enable_user('ghost')", "haven.delete_user('ghost')",
    "haven.rename_user('ghost', 'spirit')", "haven.set_quota('ghost', 10)",
    "haven.set_message_quota('ghost', 10)", "haven.add_alias('boo', 'ghost')",
    "haven.user_info('ghost')",
])
def test_unknown_login_refused(db, call):
    db.sql("SELECT haven.create_user('ivan', NULL)")
    err = db.fails("SELECT %s" % call, user=PROV)
    assert 'unknown login "ghost"' in err and "P0002" in err
    assert db.one("SELECT count(*) FROM haven.users") == "1"


@pytest.mark.parametrize("call", [
    "haven.set_password(NULL, 'pw')", "haven.disable_user(NULL)", "haven.delete_user(NULL)",
    "haven.set_quota(NULL, 1)",
])
def test_null_login_refused_everywhere(db, call):
    assert "login must not be NULL" in db.fails("SELECT %s" % call)


# ---- set_password, disable/enable ---------------------------------------------

def test_set_password_replaces_the_hash(db):
    db.sql("SELECT haven.create_user('judy', 'old-secret')")
    before = db.password("judy")
    db.sql("SELECT haven.set_password('JUDY', 'new-secret')", user=PROV)
    after = db.password("judy")
    assert after != before and after.startswith("$2a$10$")
    assert verifies("new-secret", after) and not verifies("old-secret", after)
    assert db.one("SELECT password = crypt('old-secret', password) FROM haven.users") == "f"
    assert db.one("SELECT password = crypt('new-secret', password) FROM haven.users") == "t"
    h = make_hash("$y$")
    db.sql("SELECT haven.set_password('judy', '{CRYPT}%s')" % h)
    assert db.password("judy") == h
    db.sql("SELECT haven.set_password('judy', NULL)")
    assert db.password("judy") == "<null>"
    assert "empty password" in db.fails("SELECT haven.set_password('judy', '')")
    assert db.password("judy") == "<null>"


def test_disable_and_enable(db):
    db.sql("SELECT haven.create_user('kate', NULL)")
    db.sql("SELECT haven.disable_user('Kate')", user=PROV)
    assert db.one("SELECT enabled FROM haven.users") == "f"
    db.sql("SELECT haven.disable_user('kate')")
    assert db.one("SELECT enabled FROM haven.users") == "f"
    db.sql("SELECT haven.enable_user('KATE')", user=PROV)
    assert db.one("SELECT enabled FROM haven.users") == "t"


# ---- delete_user -----------------------------------------------------------------

def deliver(db, login, mailbox, uid, body_id, size):
    """A message row as a user worker (haven_mail) writes it."""
    db.sql("INSERT INTO haven.messages (mailbox_id, uid, body_id, modseq, internaldate, size)"
           " SELECT b.id, %d, %d, 2, now(), %d FROM haven.mailboxes b"
           " JOIN haven.users u ON u.id = b.user_id"
           " WHERE lower(u.login) = lower('%s') AND b.name = '%s'"
           % (uid, body_id, size, login, mailbox), user=MAIL)


def add_body(db, text, chunks=1):
    bid = int(db.one("INSERT INTO haven.bodies (sha256, size) VALUES (sha256('%s'), %d)"
                     " RETURNING id" % (text, len(text) * chunks), user=MAIL))
    for seq in range(chunks):
        db.sql("INSERT INTO haven.body_chunks (body_id, seq, data)"
               " VALUES (%d, %d, convert_to('%s', 'UTF8'))" % (bid, seq, text), user=MAIL)
    return bid


def test_delete_user_leaves_no_row_anywhere(db):
    # Another user holds a body the deleted one shares (stored once).
    db.sql("SELECT haven.create_user('leo@example.org', NULL)")
    shared = add_body(db, "shared message")
    deliver(db, "leo@example.org", "INBOX", 1, shared, 14)
    baseline = db.table_counts()

    db.sql("SELECT haven.create_user('mia@example.org', NULL)")
    db.sql("SELECT haven.create_user('nora@other.org', NULL)")
    db.sql("SELECT haven.add_alias('boss@other.org', 'nora@other.org')")
    db.sql("SELECT haven.add_alias('n@other.org', 'nora@other.org')")
    own = add_body(db, "nora only", chunks=3)
    deliver(db, "nora@other.org", "INBOX", 1, own, 27)
    deliver(db, "nora@other.org", "Archive", 1, own, 27)
    deliver(db, "nora@other.org", "Sent", 1, shared, 14)
    db.sql("INSERT INTO haven.expunged (mailbox_id, uid, modseq) SELECT id, 7, 3"
           " FROM haven.mailboxes WHERE name = 'Trash' AND user_id ="
           " (SELECT id FROM haven.users WHERE login = 'nora@other.org')", user=MAIL)
    db.sql("INSERT INTO haven.subscriptions (user_id, name) SELECT id, 'gone/child'"
           " FROM haven.users WHERE login = 'nora@other.org'", user=MAIL)
    assert db.one("SELECT used_messages || ' ' || used_bytes FROM haven.users"
                  " WHERE login = 'nora@other.org'") == "3 68"
    assert db.one("SELECT refs FROM haven.body_refs WHERE body_id = %d" % shared) == "2"

    db.sql("SELECT haven.delete_user('NORA@other.org')", user=PROV)
    db.sql("SELECT haven.delete_user('mia@example.org')", user=PROV)
    assert db.table_counts() == baseline
    # What the other user holds is untouched.
    assert db.one("SELECT refs FROM haven.body_refs WHERE body_id = %d" % shared) == "1"
    assert db.one("SELECT count(*) FROM haven.body_chunks WHERE body_id = %d" % shared) == "1"
    assert db.one("SELECT name FROM haven.domains") == "example.org"
    # The login is free again; no alias stayed behind.
    db.sql("SELECT haven.create_user('boss@other.org', NULL)")



def test_a_body_outlives_its_last_message_for_a_day(db):
    """A body whose last message goes stays (a session may be sending it)
    until sweep() finds it orphaned for more than a day; a message of the
    same bytes meanwhile takes it back."""
    db.sql("SELECT haven.create_user('olga@example.org', NULL)")
    bid = add_body(db, "kept a while", chunks=2)
    deliver(db, "olga@example.org", "INBOX", 1, bid, 24)
    db.sql("DELETE FROM haven.messages WHERE body_id = %d" % bid, user=MAIL)
    assert db.one("SELECT refs || ' ' || (orphaned_at IS NOT NULL) FROM haven.body_refs"
                  " WHERE body_id = %d" % bid) == "0 true"
    assert db.one("SELECT haven.sweep()", user=MAIL) == "0"
    deliver(db, "olga@example.org", "Archive", 1, bid, 24)
    assert db.one("SELECT refs || ' ' || (orphaned_at IS NULL) FROM haven.body_refs"
                  " WHERE body_id = %d" % bid) == "1 true"
    db.sql("DELETE FROM haven.messages WHERE body_id = %d" % bid, user=MAIL)
    db.sql("UPDATE haven.body_refs SET orphaned_at = now() - interval '25 hours'"
           " WHERE body_id = %d" % bid)
    assert db.one("SELECT haven.sweep()", user=MAIL) == "1"
    assert db.one("SELECT count(*) FROM haven.body_chunks WHERE body_id = %d" % bid) == "0"

# ---- rename_user ------------------------------------------------------------------

def test_rename_user_keeps_everything_but_the_name(db):
    uid = db.one("SELECT haven.create_user('olga@old.org', 'pw')")
    db.sql("SELECT haven.create_user('pete@old.org', NULL)")
    db.sql("SELECT haven.add_alias('o@old.org', 'olga@old.org')")
    boxes = db.sql("SELECT id, name, uidvalidity FROM haven.mailboxes WHERE user_id = %s" % uid)
    db.sql("SELECT haven.rename_user('OLGA@old.org', 'Olga@New.org')", user=PROV)
    assert db.one("SELECT id || ' ' || login FROM haven.users WHERE id = %s" % uid) \
        == "%s Olga@New.org" % uid
    assert db.sql("SELECT id, name, uidvalidity FROM haven.mailboxes WHERE user_id = %s"
                  % uid) == boxes
    assert verifies("pw", db.password("olga@new.org"))
    assert db.one("SELECT count(*) FROM haven.users WHERE lower(login) = 'olga@old.org'") == "0"
    assert db.one("SELECT alias FROM haven.aliases") == "o@old.org"
    assert db.sql("SELECT name FROM haven.domains ORDER BY name").split() == ["new.org", "old.org"]
    # A change of case only is a rename too.
    db.sql("SELECT haven.rename_user('olga@new.org', 'olga@new.org')")
    assert db.one("SELECT login FROM haven.users WHERE id = %s" % uid) == "olga@new.org"
    # The last user of a domain takes it along.
    db.sql("SELECT haven.rename_user('pete@old.org', 'pete')")
    assert db.sql("SELECT name FROM haven.domains").split() == ["new.org"]


def test_rename_user_refuses_a_taken_or_bad_name(db):
    db.sql("SELECT haven.create_user('quin', NULL)")
    db.sql("SELECT haven.create_user('rita', NULL)")
    db.sql("SELECT haven.add_alias('rr@example.org', 'rita')")
    assert 'new login "QUIN" is taken: a user has that login' in \
        db.fails("SELECT haven.rename_user('rita', 'QUIN')")
    assert 'new login "RR@example.org" is taken: it is an alias of "rita"' in \
        db.fails("SELECT haven.rename_user('quin', 'RR@example.org')")
    assert "bad new login" in db.fails("SELECT haven.rename_user('quin', 'q u')")
    assert db.sql("SELECT login FROM haven.users ORDER BY 1").split() == ["quin", "rita"]


# ---- quotas -------------------------------------------------------------------------

def test_set_quota_and_message_quota(db):
    db.sql("SELECT haven.create_user('sam', NULL)")
    q = "SELECT coalesce(quota_bytes::text, 'none') || ' ' || coalesce(quota_messages::text, 'none')" \
        " FROM haven.users"
    assert db.one(q) == "none none"
    db.sql("SELECT haven.set_quota('sam', 1048576)", user=PROV)
    db.sql("SELECT haven.set_message_quota('SAM', 500)", user=PROV)
    assert db.one(q) == "1048576 500"
    assert db.one("SELECT quota_bytes || ' ' || quota_messages FROM haven.user_info('sam')",
                  user=PROV) == "1048576 500"
    # 0 and NULL both mean no limit, stored as NULL.
    db.sql("SELECT haven.set_quota('sam', 0)")
    db.sql("SELECT haven.set_message_quota('sam', NULL)")
    assert db.one(q) == "none none"
    db.sql("SELECT haven.set_quota('sam', 10)")
    db.sql("SELECT haven.set_quota('sam', NULL)")
    assert db.one(q) == "none none"
    err = db.fails("SELECT haven.set_quota('sam', -1)")
    assert "byte quota -1 is negative" in err and "22023" in err
    assert "message quota -5 is negative" in db.fails("SELECT haven.set_message_quota('sam', -5)")


# ---- aliases ---------------------------------------------------------------------

def test_aliases(db):
    db.sql("SELECT haven.create_user('tina@example.org', NULL)")
    db.sql("SELECT haven.create_user('uma@example.org', NULL)")
    db.sql("SELECT haven.add_alias('Sales@Example.org', 'TINA@example.org')", user=PROV)
    assert db.one("SELECT a.alias || ' ' || u.login FROM haven.aliases a"
                  " JOIN haven.users u ON u.id = a.user_id") == "sales@example.org tina@example.org"
    assert db.one("SELECT aliases FROM haven.user_info('tina@example.org')", user=PROV) \
        == "{sales@example.org}"
    err = db.fails("SELECT haven.add_alias('SALES@example.org', 'uma@example.org')")
    assert 'alias "SALES@example.org" is taken: it is an alias of "tina@example.org"' in err
    assert "23505" in err
    assert 'alias "Uma@example.org" is taken: a user has that login' in \
        db.fails("SELECT haven.add_alias('Uma@example.org', 'tina@example.org')")
    assert 'login "sales@EXAMPLE.org" is taken: it is an alias of "tina@example.org"' in \
        db.fails("SELECT haven.create_user('sales@EXAMPLE.org', NULL)")
    assert "bad alias" in db.fails("SELECT haven.add_alias('a b', 'uma@example.org')")
    db.sql("SELECT haven.remove_alias('SALES@example.org')", user=PROV)
    assert db.one("SELECT count(*) FROM haven.aliases") == "0"
    err = db.fails("SELECT haven.remove_alias('sales@example.org')")
    assert 'unknown alias "sales@example.org"' in err and "P0002" in err
    # The name is free again.
    db.sql("SELECT haven.add_alias('sales@example.org', 'uma@example.org')")


def test_user_info_never_shows_the_password(db):
    db.sql("SELECT haven.create_user('vera', NULL)")
    cols = db.sql("SELECT attname FROM pg_attribute WHERE attrelid = 'haven.user_summary'::regclass"
                  " AND attnum > 0").split()
    assert "password" not in cols and "login" in cols and "used_bytes" in cols
    assert db.one("SELECT login, enabled FROM haven.user_info('VERA')", user=PROV) == "vera|t"


# ---- roles -------------------------------------------------------------------------

def test_group_roles_cannot_log_in(db):
    assert db.sql("SELECT rolname, rolcanlogin FROM pg_roles"
                  " WHERE rolname LIKE 'haven\\_%' ORDER BY 1").splitlines() == \
        ["haven_auth|f", "haven_mail|f", "haven_provision|f"]


def test_second_database_in_the_cluster_migrates(cluster, db):
    """The roles exist already (an earlier database made them): 0002 goes
    through, grants this database's objects and records every version."""
    other = cluster.create_database("second_%s" % db.name)
    cluster.migrate(db=other)
    assert cluster.psql("SELECT string_agg(version::text, ',' ORDER BY version)"
                        " FROM haven.schema_migrations", db=other) == ",".join(map(str, VERSIONS))
    assert cluster.psql("SELECT haven.create_user('wade', NULL)", db=other, user=PROV) != ""
    assert cluster.psql("SELECT count(*) FROM pg_roles WHERE rolname IN"
                        " ('haven_mail', 'haven_auth', 'haven_provision')", db=other) == "3"


def test_provision_role_calls_functions_and_reads_no_table(db):
    db.sql("SELECT haven.create_user('xena', NULL)", user=PROV)
    tables = haven_tables(db)
    errors = db.each_fails(["SELECT count(*) FROM haven.%s" % t for t in tables], user=PROV)
    for t, err in zip(tables, errors):
        assert "permission denied for table %s" % t in err
    for err in db.each_fails([
            "SELECT login FROM haven.users", "UPDATE haven.users SET enabled = false",
            "INSERT INTO haven.users (login) VALUES ('y')", "DELETE FROM haven.aliases"],
            user=PROV):
        assert "permission denied for table" in err
    for err in db.each_fails([
            "SELECT haven.%s" % f for f in (
                "password_hash('x')", "names_lock()", "sweep()", "user_lock('xena')",
                "domain_attach('a@b.org')", "name_free('a', 'login', NULL)",
                "enabled_set('xena', false)", "quota_set('xena', 'byte', 1)",
                "domain_prune(1)", "name_check('a', 'login')")], user=PROV):
        assert "permission denied for function" in err


def test_mail_role_reads_users_without_password(db):
    db.sql("SELECT haven.create_user('yuri', NULL)")
    for err in db.each_fails(["SELECT password FROM haven.users", "SELECT * FROM haven.users",
                              "SELECT count(*) FROM haven.users WHERE password IS NULL"],
                             user=MAIL):
        assert "permission denied for table users" in err
    assert db.one("SELECT id, login, enabled, quota_bytes, quota_messages, used_bytes,"
                  " used_messages, uid, gid, home FROM haven.users", user=MAIL).startswith("1|yuri|t")
    for err in db.each_fails([
            "UPDATE haven.users SET enabled = false", "UPDATE haven.users SET password = 'x'",
            "UPDATE haven.users SET quota_bytes = NULL", "DELETE FROM haven.users",
            "INSERT INTO haven.users (login) VALUES ('z')", "SELECT * FROM haven.aliases",
            "SELECT * FROM haven.domains", "SELECT haven.create_user('z', NULL)",
            "SELECT haven.set_quota('yuri', NULL)"], user=MAIL):
        assert "permission denied" in err
    # What a worker does: mailboxes, counters through the triggers, sweep.
    db.sql("INSERT INTO haven.mailboxes (user_id, name) VALUES (1, 'Lists/new')", user=MAIL)
    deliver(db, "yuri", "Lists/new", 1, add_body(db, "hello"), 5)
    assert db.one("SELECT used_messages || ' ' || used_bytes FROM haven.users", user=MAIL) == "1 5"
    db.sql("UPDATE haven.messages SET flags = 1", user=MAIL)
    db.sql("DELETE FROM haven.messages", user=MAIL)
    assert db.one("SELECT used_messages || ' ' || used_bytes FROM haven.users", user=MAIL) == "0 0"
    assert db.one("SELECT haven.sweep()", user=MAIL) == "0"
    assert db.one("SELECT max(version) FROM haven.schema_migrations", user=MAIL) == str(VERSIONS[-1])


def test_auth_role_reads_what_a_login_needs_and_writes_nothing(db):
    db.sql("SELECT haven.create_user('zoe@example.org', 'pw')")
    db.sql("SELECT haven.add_alias('z@example.org', 'zoe@example.org')")
    row = db.one("SELECT id, login, password, enabled, uid, gid, home, quota_bytes,"
                 " quota_messages FROM haven.users", user=AUTH)
    assert row.split("|")[1] == "zoe@example.org" and verifies("pw", row.split("|")[2])
    assert db.one("SELECT alias FROM haven.aliases", user=AUTH) == "z@example.org"
    assert db.one("SELECT name FROM haven.domains", user=AUTH) == "example.org"
    for err in db.each_fails([
            "SELECT used_bytes FROM haven.users", "SELECT * FROM haven.mailboxes",
            "SELECT * FROM haven.messages", "SELECT haven.create_user('q', NULL)",
            "SELECT haven.sweep()"], user=AUTH):
        assert "permission denied" in err
    writes = []
    for t in haven_tables(db):
        col = db.one("SELECT attname FROM pg_attribute WHERE attrelid = 'haven.%s'::regclass"
                     " AND attnum > 0 AND NOT attisdropped AND attidentity = ''"
                     " ORDER BY attnum LIMIT 1" % t)
        writes += [(t, "INSERT INTO haven.%s DEFAULT VALUES" % t),
                   (t, "UPDATE haven.%s SET %s = %s" % (t, col, col)),
                   (t, "DELETE FROM haven.%s" % t), (t, "TRUNCATE haven.%s" % t)]
    errors = db.each_fails([q for _, q in writes], user=AUTH)
    for (t, q), err in zip(writes, errors):
        assert "permission denied for table %s" % t in err, q
    assert db.one("SELECT count(*) FROM haven.users") == "1"
