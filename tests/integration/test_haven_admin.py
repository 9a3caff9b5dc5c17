"""haven-admin db migrate / db status against a real PostgreSQL cluster:
an empty database gets every migration of sql/migrations in order and a
second run applies nothing; the DSN comes from -D or haven.conf's
pgsql_dsn; a migration that fails, leaves its transaction open or does not
record its version stops the run with a clear message and leaves nothing
of itself; badly named, duplicate or out-of-order files are refused before
anything runs; two runs at once apply each file once."""
import glob
import itertools
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

import pgcluster
from conftest import BUILD, ROOT, check_sanitizers

ADMIN = os.path.join(BUILD, "haven-admin")
MIGRATIONS = os.path.join(ROOT, "sql", "migrations")
FILES = sorted(os.path.basename(f) for f in glob.glob(os.path.join(MIGRATIONS, "*.sql")))
VERSIONS = [int(f[:4]) for f in FILES]

pytestmark = [
    pytest.mark.skipif(not pgcluster.available(),
                       reason="PostgreSQL server binaries missing (scripts/install-deps)"),
    pytest.mark.skipif(not os.path.exists(ADMIN) or "db migrate" not in subprocess.run(
        [ADMIN, "-h"], capture_output=True, text=True).stdout,
        reason="haven-admin built without libpq: no db commands"),
]


@pytest.fixture(scope="module")
def cluster():
    c = pgcluster.PgCluster().start()
    try:
        yield c
    finally:
        c.cleanup()


_dbs = itertools.count(1)


@pytest.fixture
def db(cluster):
    """An empty database."""
    return cluster.create_database("admin%d" % next(_dbs))


@pytest.fixture
def mdir():
    """A migrations directory holding copies of the real ones."""
    d = tempfile.mkdtemp(prefix="haven-migrations-")
    for f in FILES:
        shutil.copy(os.path.join(MIGRATIONS, f), d)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def admin(*args, check_rc=None):
    r = subprocess.run([ADMIN] + list(args), capture_output=True, text=True, timeout=120)
    check_sanitizers(r.stderr)
    if check_rc is not None:
        assert r.returncode == check_rc, (r.stdout, r.stderr)
    return r


def db_args(cluster, db, directory=MIGRATIONS):
    return ["-D", cluster.dsn(db=db), "-d", directory, "db"]


def versions(cluster, db):
    out = cluster.psql("SELECT string_agg(version::text, ',' ORDER BY version)"
                       " FROM haven.schema_migrations", db=db)
    return [int(v) for v in out.split(",")] if out else []


def write(directory, name, text):
    with open(os.path.join(directory, name), "w") as f:
        f.write(text)


def test_migrate_an_empty_database_then_nothing(cluster, db):
    r = admin(*db_args(cluster, db), "status", check_rc=0)
    assert r.stdout.splitlines() == \
        ["pending  %04d  %s" % (v, f) for v, f in zip(VERSIONS, FILES)] + \
        ["no schema yet: %d migrations pending (haven-admin db migrate)" % len(FILES)]

    r = admin(*db_args(cluster, db), "migrate", check_rc=0)
    assert r.stdout.splitlines() == ["applying %s" % f for f in FILES] + \
        ["schema version %d (%d migrations applied)" % (VERSIONS[-1], len(FILES))]
    assert versions(cluster, db) == VERSIONS
    # What 0002 made works: the API is there.
    assert cluster.psql("SELECT haven.create_user('amy', NULL)", db=db) == "1"

    r = admin(*db_args(cluster, db), "migrate", check_rc=0)
    assert r.stdout.splitlines() == ["schema version %d: nothing to apply" % VERSIONS[-1]]
    r = admin(*db_args(cluster, db), "status", check_rc=0)
    lines = r.stdout.splitlines()
    assert [l.split()[:2] for l in lines[:-1]] == [["applied", "%04d" % v] for v in VERSIONS]
    assert lines[-1] == "schema version %d: up to date" % VERSIONS[-1]


def test_dsn_from_the_configuration(cluster, db):
    d = tempfile.mkdtemp(prefix="haven-admin-conf-")
    try:
        conf = os.path.join(d, "haven.conf")
        write(d, "haven.conf", "listen = 127.0.0.1:1143\nmail_backend = pgsql\n"
              "pgsql_dsn = %s\n" % cluster.dsn(db=db))
        admin("-c", conf, "-d", MIGRATIONS, "db", "migrate", check_rc=0)
        assert versions(cluster, db) == VERSIONS
        # -D wins over the file.
        other = cluster.create_database(db + "_other")
        admin("-c", conf, "-D", cluster.dsn(db=other), "-d", MIGRATIONS, "db", "migrate",
              check_rc=0)
        assert versions(cluster, other) == VERSIONS

        write(d, "haven.conf", "listen = 127.0.0.1:1143\n")
        r = admin("-c", conf, "-d", MIGRATIONS, "db", "status", check_rc=1)
        assert r.stderr == "haven-admin: %s has no pgsql_dsn; give the database with -D\n" % conf
        write(d, "haven.conf", "listen = 127.0.0.1:1143\nthis is not a setting\n")
        r = admin("-c", conf, "db", "status", check_rc=1)
        assert "%s:2: expected \"key = value\"" % conf in r.stderr
        r = admin("-c", os.path.join(d, "missing.conf"), "db", "status", check_rc=1)
        assert "missing.conf: No such file or directory" in r.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_a_failing_migration_stops_and_leaves_nothing(cluster, db, mdir):
    write(mdir, "0901-broken.sql", "BEGIN;\nCREATE TABLE haven.t1 (x int);\n"
          "SELECT no_such_function();\n"
          "INSERT INTO haven.schema_migrations (version, name) VALUES (901, 'broken');\n"
          "COMMIT;\n")
    write(mdir, "0902-after.sql", "BEGIN;\nCREATE TABLE haven.t2 (x int);\n"
          "INSERT INTO haven.schema_migrations (version, name) VALUES (902, 'after');\n"
          "COMMIT;\n")
    r = admin(*db_args(cluster, db, mdir), "migrate", check_rc=1)
    assert r.stdout.splitlines() == ["applying %s" % f for f in FILES + ["0901-broken.sql"]]
    assert "haven-admin: 0901-broken.sql: ERROR:  function no_such_function() does not exist" \
        in r.stderr
    assert r.stderr.endswith("haven-admin: 0901-broken.sql not applied\n")
    assert versions(cluster, db) == VERSIONS
    assert cluster.psql("SELECT to_regclass('haven.t1') IS NULL AND to_regclass('haven.t2') IS NULL",
                        db=db) == "t"
    r = admin(*db_args(cluster, db, mdir), "status", check_rc=0)
    assert "pending  0901  0901-broken.sql\npending  0902  0902-after.sql\n" in r.stdout


def test_a_migration_must_commit_and_record_its_version(cluster, db, mdir):
    admin(*db_args(cluster, db, mdir), "migrate", check_rc=0)
    write(mdir, "0901-open.sql", "BEGIN;\nCREATE TABLE haven.t3 (x int);\n"
          "INSERT INTO haven.schema_migrations (version, name) VALUES (901, 'open');\n")
    r = admin(*db_args(cluster, db, mdir), "migrate", check_rc=1)
    assert "haven-admin: 0901-open.sql: leaves a transaction open (no COMMIT); rolled back\n" \
        == r.stderr
    assert versions(cluster, db) == VERSIONS
    assert cluster.psql("SELECT to_regclass('haven.t3') IS NULL", db=db) == "t"

    os.unlink(os.path.join(mdir, "0901-open.sql"))
    write(mdir, "0901-unrecorded.sql", "BEGIN;\nCREATE TABLE haven.t4 (x int);\nCOMMIT;\n")
    r = admin(*db_args(cluster, db, mdir), "migrate", check_rc=1)
    assert r.stderr == "haven-admin: 0901-unrecorded.sql: ran but did not record version 901" \
        " in haven.schema_migrations\n"


def test_bad_directories_are_refused_before_anything_runs(cluster, db, mdir):
    write(mdir, "README", "not SQL\n")           # ignored: not *.sql
    write(mdir, ".0903-hidden.sql", "garbage")   # ignored: hidden (editor files)
    write(mdir, "0901-a.sql", "SELECT 1;")
    write(mdir, "0901-b.sql", "SELECT 1;")
    r = admin(*db_args(cluster, db, mdir), "migrate", check_rc=1)
    assert r.stderr == "haven-admin: 0901-a.sql and 0901-b.sql: two migrations with version 901\n"
    os.unlink(os.path.join(mdir, "0901-b.sql"))
    write(mdir, "fix-users.sql", "SELECT 1;")
    r = admin(*db_args(cluster, db, mdir), "migrate", check_rc=1)
    assert r.stderr == "haven-admin: %s/fix-users.sql: not a migration name (NNNN-name.sql)\n" % mdir
    os.unlink(os.path.join(mdir, "fix-users.sql"))
    write(mdir, "0000-zero.sql", "SELECT 1;")
    assert "0000-zero.sql: not a migration name" in \
        admin(*db_args(cluster, db, mdir), "status", check_rc=1).stderr
    os.unlink(os.path.join(mdir, "0000-zero.sql"))
    write(mdir, "0904-empty.sql", "")
    r = admin(*db_args(cluster, db, mdir), "migrate", check_rc=1)
    assert "0904-empty.sql: empty or holds a NUL byte" in r.stderr
    r = admin(*db_args(cluster, db, "/nonexistent/migrations"), "migrate", check_rc=1)
    assert r.stderr == "haven-admin: /nonexistent/migrations: No such file or directory\n"
    # None of this ran anything.
    assert cluster.psql("SELECT to_regclass('haven.schema_migrations') IS NULL", db=db) == "t"


def test_out_of_order_files_are_refused(cluster, db, mdir):
    write(mdir, "0910-later.sql", "BEGIN;\nINSERT INTO haven.schema_migrations (version, name)"
          " VALUES (910, 'later');\nCOMMIT;\n")
    admin(*db_args(cluster, db, mdir), "migrate", check_rc=0)
    write(mdir, "0905-forgotten.sql", "BEGIN;\nINSERT INTO haven.schema_migrations"
          " (version, name) VALUES (905, 'forgotten');\nCOMMIT;\n")
    r = admin(*db_args(cluster, db, mdir), "migrate", check_rc=1)
    assert r.stderr == "haven-admin: 0905-forgotten.sql is not applied but version 910 is:" \
        " migrations must be applied in order\n"
    assert versions(cluster, db) == VERSIONS + [910]
    # status still tells what is what; an applied version without a file says so.
    os.unlink(os.path.join(mdir, "0910-later.sql"))
    r = admin(*db_args(cluster, db, mdir), "status", check_rc=0)
    assert re.search(r"^applied  0910  later +\S+ \S+  \(no file\)$", r.stdout, re.M), r.stdout
    assert "pending  0905  0905-forgotten.sql" in r.stdout


def test_two_runs_at_once_apply_each_file_once(cluster, db):
    key = re.search(r'#define MIGRATE_LOCK_KEY "(\d+)"',
                    open(os.path.join(ROOT, "admin", "migrate.c")).read()).group(1)
    holder = subprocess.Popen(["psql", "-X", "-q", "-h", cluster.sock, "-U", cluster.superuser,
                               "-d", db], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    holder.stdin.write("SELECT pg_advisory_lock(%s);\n" % key)
    holder.stdin.flush()
    runs = []
    try:
        wait_sessions(cluster, db, "state = 'idle' AND application_name = 'psql'", 1)
        runs = [subprocess.Popen([ADMIN] + db_args(cluster, db) + ["migrate"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
        # Both wait for the lock before reading what is applied.
        wait_sessions(cluster, db, "application_name = 'haven-admin' AND wait_event = 'advisory'", 2)
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    outs = [r.communicate(timeout=120) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outs
    applying = [out.count("applying ") for out, _ in outs]
    assert sorted(applying) == [0, len(FILES)]
    assert versions(cluster, db) == VERSIONS


def wait_sessions(cluster, db, condition, n, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cluster.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND %s"
                        % (db, condition), db=db) == str(n):
            return
        time.sleep(0.05)
    raise AssertionError("not %d sessions with %s" % (n, condition))


def test_connection_errors_never_show_the_dsn(cluster):
    r = admin("-D", "host=/nonexistent dbname=x user=y password=SECRETPW", "-d", MIGRATIONS,
              "db", "status", check_rc=1)
    assert r.stderr.startswith("haven-admin: cannot connect to the database: ")
    assert "SECRETPW" not in r.stderr + r.stdout


def test_usage():
    for args in ([], ["db"], ["db", "frob"], ["dbx", "status"], ["-x", "db", "status"],
                 ["db", "status", "extra"]):
        r = admin(*args, check_rc=2)
        assert "usage: haven-admin" in r.stderr, args
    r = admin("--version", check_rc=0)
    assert re.match(r"haven-admin \S+\n$", r.stdout)
    assert admin("-h", check_rc=0).stdout.startswith("usage: haven-admin")
