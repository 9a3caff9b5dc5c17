"""`HAVEN_DEMO_STORE=pgsql make demo`: its PostgreSQL half (scripts/demo-pgsql)
makes and starts a throwaway cluster under the demo directory, unix socket
only and closed to other local users, with the migrations applied, the
group roles' login roles and the user demo/demo made by haven.create_user;
demo-data/pgsql.env lets psql provision a user; a second start keeps the
data; stop stops it. The whole demo (havend serving the seeded INBOX, a
user provisioned with psql logging in at once, Ctrl-C stopping the cluster
too) runs once havend has the PostgreSQL store."""
import ctypes
import ctypes.util
import imaplib
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time

import pytest

import pgcluster
from conftest import BUILD, IS_ROOT, ROOT, check_sanitizers, free_port
from netwait import wait_listening
from test_demo import check_demo_inbox, check_demo_lmtp

DEMO_PGSQL = os.path.join(ROOT, "scripts", "demo-pgsql")
MIGRATIONS = os.path.join(ROOT, "sql", "migrations")

pytestmark = [
    pytest.mark.skipif(not pgcluster.available(),
                       reason="PostgreSQL server binaries missing (scripts/install-deps)"),
    pytest.mark.skipif(not os.path.exists(os.path.join(BUILD, "haven-admin")),
                       reason="haven-admin not built (no libpq)"),
]

_libcrypt = ctypes.CDLL(ctypes.util.find_library("crypt"))
_libcrypt.crypt.restype = ctypes.c_char_p
_libcrypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]


@pytest.fixture
def demo_dir():
    d = tempfile.mkdtemp(prefix="haven-demo-pg-")
    os.chmod(d, 0o755)
    yield d
    subprocess.run(["sh", DEMO_PGSQL, "stop", d], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)


def demo_pgsql(cmd, d):
    r = subprocess.run(["sh", DEMO_PGSQL, cmd, d], capture_output=True, text=True,
                       env=dict(os.environ, HAVEN_BUILD=BUILD), timeout=300)
    check_sanitizers(r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def env_psql(d, sql, user=None):
    """psql the way the demo tells people to: with pgsql.env sourced."""
    cmd = ". ./pgsql.env && psql -X -q -t -A -v ON_ERROR_STOP=1"
    if user:
        cmd += " -U " + user
    return subprocess.run(["sh", "-c", cmd + ' -c "$1"', "sh", sql], cwd=d,
                          capture_output=True, text=True, timeout=60)


def read_env(d):
    with open(os.path.join(d, "pgsql.env")) as f:
        return f.read()


def postmaster_pid(d):
    with open(os.path.join(d, "pgsql", "data", "postmaster.pid")) as f:
        return int(f.readline())


def running(pid):
    """pid is a live process (a zombie waiting for its reaper is not)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_cluster_env_file_and_provisioning(demo_dir):
    d = demo_dir
    out = demo_pgsql("start", d)
    sock = os.path.join(d, "pgsql", "run")
    assert read_env(d) == ("export PGHOST='%s'\nexport PGPORT=5432\n"
                           "export PGDATABASE=haven\nexport PGUSER=postgres\n" % sock)
    assert "applying 0002-roles-and-provisioning.sql" in out
    # Unix socket only.
    r = env_psql(d, "SHOW listen_addresses")
    assert r.returncode == 0 and r.stdout.strip() == "", r.stderr
    assert os.path.exists(os.path.join(sock, ".s.PGSQL.5432"))

    # The demo user, made by haven.create_user: its six mailboxes and a
    # hash that the auth helper's crypt(3) verifies.
    r = env_psql(d, "SELECT password FROM haven.users WHERE login = 'demo'")
    h = r.stdout.strip().encode()
    assert h.startswith(b"$2a$") and _libcrypt.crypt(b"demo", h) == h
    assert env_psql(d, "SELECT count(*) FROM haven.mailboxes b JOIN haven.users u"
                       " ON u.id = b.user_id WHERE u.login = 'demo'").stdout.strip() == "6"

    # What the banner says to paste provisions a user.
    r = subprocess.run(["sh", "-c", ". ./pgsql.env && psql -c "
                        "'select haven.create_user($$x@example.org$$, $$pw$$)'"],
                       cwd=d, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert env_psql(d, "SELECT login FROM haven.users ORDER BY id").stdout.split() == \
        ["demo", "x@example.org"]

    # havend's configuration: each process its own role.
    with open(os.path.join(d, "pgsql.conf")) as f:
        conf = dict(l.split(" = ", 1) for l in f.read().splitlines())
    assert conf["mail_backend"] == "pgsql" and conf["passdb"] == "sql"
    assert conf["pgsql_dsn"] == "host='%s' port=5432 dbname=haven user=haven_worker" % sock
    assert conf["passdb_sql_dsn"] == "host='%s' port=5432 dbname=haven user=haven_authd" % sock
    r = env_psql(d, "SELECT password FROM haven.users", user="haven_worker")
    assert "permission denied for table users" in r.stderr, (r.stdout, r.stderr)
    assert env_psql(d, "SELECT count(*) FROM haven.messages", user="haven_worker").stdout.strip() == "0"
    r = env_psql(d, "DELETE FROM haven.aliases", user="haven_authd")
    assert "permission denied for table aliases" in r.stderr

    # A second start keeps what is there and applies nothing.
    pid = postmaster_pid(d)
    out = demo_pgsql("start", d)
    latest = max(int(f[:4]) for f in os.listdir(MIGRATIONS) if f.endswith(".sql"))
    assert "schema version %d: nothing to apply" % latest in out and "made a PostgreSQL cluster" not in out
    assert env_psql(d, "SELECT count(*) FROM haven.users").stdout.strip() == "2"
    assert postmaster_pid(d) != pid

    pid = postmaster_pid(d)
    assert "PostgreSQL stopped" in demo_pgsql("stop", d)
    assert not os.path.exists(os.path.join(d, "pgsql", "data", "postmaster.pid"))
    assert not running(pid)
    assert env_psql(d, "SELECT 1").returncode != 0


@pytest.mark.skipif(not IS_ROOT, reason="as root the cluster runs as postgres")
def test_cluster_runs_as_postgres_behind_a_closed_door(demo_dir):
    d = demo_dir
    demo_pgsql("start", d)
    pg = pwd.getpwnam("postgres")
    assert os.stat("/proc/%d" % postmaster_pid(d)).st_uid == pg.pw_uid
    sock = os.path.join(d, "pgsql", "run")
    st = os.stat(sock)
    mail = pwd.getpwnam("havenmail") if _has_user("havenmail") else pwd.getpwnam("nobody")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (pg.pw_uid, mail.pw_gid, 0o750)
    # The mail user's workers get in; another local user does not.
    as_user = lambda user, role: subprocess.run(
        ["setpriv", "--reuid=" + user, "--regid=%d" % pwd.getpwnam(user).pw_gid,
         "--clear-groups", "--", "psql", "-X", "-h", sock, "-U", role, "-d", "haven",
         "-tAc", "SELECT current_user"], capture_output=True, text=True, timeout=60)
    r = as_user(mail.pw_name, "haven_worker")
    assert r.returncode == 0 and r.stdout.strip() == "haven_worker", r.stderr
    r = as_user("haven" if _has_user("haven") else "daemon", "postgres")
    assert r.returncode != 0 and "Permission denied" in r.stderr


def _has_user(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def havend_has_pgsql():
    """Whether this build's havend accepts the PostgreSQL store and the SQL
    passdb (the lead's backends/pgsql and auth SQL passdb); None if so, else
    why not."""
    d = tempfile.mkdtemp(prefix="haven-pgcheck-")
    try:
        conf = os.path.join(d, "haven.conf")
        with open(conf, "w") as f:
            f.write("listen = 127.0.0.1:1\nlogin_chroot = /\nmail_backend = pgsql\n"
                    "pgsql_dsn = host=/nonexistent dbname=haven\npassdb = sql\n"
                    "passdb_sql_dsn = host=/nonexistent dbname=haven\n")
        r = subprocess.run([os.path.join(BUILD, "havend"), "-t", "-c", conf],
                           capture_output=True, text=True, timeout=60)
        for sign in ("passdb: expected file:PATH", "unknown backend", "unknown key"):
            if sign in r.stderr:
                return r.stderr.strip()
        return None
    finally:
        shutil.rmtree(d, ignore_errors=True)


def wait_log(path, text, proc, timeout):
    deadline = time.time() + timeout
    while text not in open(path).read():
        assert proc.poll() is None, open(path).read()
        assert time.time() < deadline, open(path).read()
        time.sleep(0.2)


def test_demo_end_to_end(demo_dir):
    missing = havend_has_pgsql()
    if missing:
        pytest.skip("havend has no PostgreSQL store yet: " + missing)
    d = demo_dir
    port, lmtp_port = free_port(), free_port()
    env = dict(os.environ, HAVEN_BUILD=BUILD, HAVEN_DEMO_DIR=d, HAVEN_DEMO_PORT=str(port),
               HAVEN_DEMO_LMTP_PORT=str(lmtp_port), HAVEN_DEMO_STORE="pgsql")
    log = open(os.path.join(d, "demo.log"), "w+")
    # Its own process group, as in a terminal: what is left of it after a
    # failure (havend runs in the background of the script) goes at once.
    p = subprocess.Popen(["sh", os.path.join(ROOT, "scripts", "demo")], env=env,
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_listening(port, p, 120, lambda: open(log.name).read())
        # havend listens before INBOX is seeded; the banner comes after.
        wait_log(log.name, "Ctrl-C stops the server", p, 120)
        m = check_demo_inbox(port, d)
        typ, lines = m.list()
        listed = b"\n".join(lines)
        for use in (b"\\Drafts", b"\\Sent", b"\\Trash", b"\\Junk", b"\\Archive"):
            assert use in listed
        m.logout()
        check_demo_lmtp(port, lmtp_port, d)
        # A user provisioned with psql logs in at once.
        r = subprocess.run(["sh", "-c", ". ./pgsql.env && psql -c "
                            "'select haven.create_user($$x@example.org$$, $$pw$$)'"],
                           cwd=d, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        m = imaplib.IMAP4("127.0.0.1", port)
        assert m.login("x@example.org", "pw")[0] == "OK"
        assert m.select("INBOX")[0] == "OK"
        m.logout()
        pid = postmaster_pid(d)
        # Ctrl-C stops havend and the cluster.
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=60) == 0
        text = open(log.name).read()
        check_sanitizers(text)
        assert "stopped" in text and "demo: PostgreSQL stopped" in text
        assert not running(pid)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGINT)
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
