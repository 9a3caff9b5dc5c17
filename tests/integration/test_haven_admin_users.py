"""haven-admin user ..., auth test, who and kick against a real havend.

user add/passwd/disable/enable/delete on the file passdb (the file edited
in place of the administrator: comments and other lines kept, the hash in
the scheme the file already uses, replaced through a new inode) and on
the SQL store (its provisioning functions); after each, IMAP logins with
the new password work and the old one fails; a disabled user cannot log
in and LMTP refuses mail for them with 550 5.2.1. auth test walks the
configured passdb list (file, sql, pam) as a login does, without touching
havend's failure counts. who lists the live sessions (user, client,
since, TLS, selected mailbox); kick ends a user's sessions with BYE while
the daemon goes on serving; the admin socket refuses anyone but root."""
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import time

import pytest

import pgcluster
from conftest import BUILD, IS_ROOT, Haven, check_sanitizers, free_port, only_backends, \
    pg_cluster
from lmtp_client import Lmtp
from readable import readable_tree

ADMIN = os.path.join(BUILD, "haven-admin")


def admin(h, *args, stdin="", rc=None, user=None, conf=None):
    """haven-admin -c (h's config) ARGS, the password on stdin (not a tty)."""
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0")
    pre = None
    prog, copy = ADMIN, None
    if user is not None:
        pw = pwd.getpwnam(user)
        # the build may sit where only root can go (a clone in /root)
        copy = readable_tree({"haven-admin": ADMIN})
        prog = os.path.join(copy, "haven-admin")

        def pre():
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
    try:
        r = subprocess.run([prog, "-c", conf or h.conf] + list(args), input=stdin,
                           capture_output=True, text=True, timeout=60, env=env,
                           preexec_fn=pre)
    finally:
        if copy:
            shutil.rmtree(copy, ignore_errors=True)
    check_sanitizers(r.stderr)
    if rc is not None:
        assert r.returncode == rc, (args, r.returncode, r.stdout, r.stderr)
    return r


def login_answer(h, user, password):
    m = h.imap()
    try:
        typ, _ = m.login(user, password)
        m.logout()
        return typ
    except imaplib.IMAP4.error as e:
        return str(e)


def passwd_path(h):
    return os.path.join(h.dir, "passwd")


@pytest.fixture
def filehaven():
    port = free_port()
    h = Haven(users=("alice",), extra_conf="lmtp_listen = 127.0.0.1:%d\n" % port)
    h.lmtp_port = port
    with open(passwd_path(h), "a") as f:
        f.write("# support staff below\n\nsupport:{PLAIN}pw-support::::%s/support::\n"
                % h.home_root)
    h.start()
    yield h
    check_sanitizers(h.stop())
    h.cleanup()


def rcpt(h, addr):
    c = Lmtp(port=h.lmtp_port)
    c.lhlo()
    c.ok(b"MAIL FROM:<sender@example.org>")
    r = c.cmd(b"RCPT TO:<" + addr.encode() + b">")
    c.close()
    return r


def test_file_user_lifecycle(filehaven):
    h = filehaven
    path = passwd_path(h)
    before = open(path).read()
    admin(h, "user", "add", "carol", stdin="first-pw\n", rc=0)
    text = open(path).read()
    assert text.startswith(before), text          # comments and users kept as they were
    line = [l for l in text.splitlines() if l.startswith("carol:")]
    assert len(line) == 1 and line[0].split(":")[1].startswith("$6$"), text
    assert "first-pw" not in text
    assert login_answer(h, "carol", "first-pw") == "OK"
    assert "carol" in admin(h, "user", "list", rc=0).stdout.split()
    # A second add is refused; the file stays as it was.
    r = admin(h, "user", "add", "carol", stdin="other\n", rc=1)
    assert "already exists" in r.stderr
    assert open(path).read() == text

    ino = os.stat(path).st_ino
    admin(h, "user", "passwd", "carol", stdin="second-pw\n", rc=0)
    assert os.stat(path).st_ino != ino            # a new file renamed over the old one
    assert login_answer(h, "carol", "second-pw") == "OK"
    assert "AUTHENTICATIONFAILED" in login_answer(h, "carol", "first-pw")

    assert rcpt(h, "carol@localhost")[0] == 250
    admin(h, "user", "disable", "carol", rc=0)
    assert "carol disabled" in admin(h, "user", "list", rc=0).stdout
    assert "AUTHENTICATIONFAILED" in login_answer(h, "carol", "second-pw")
    code, lines = rcpt(h, "carol@localhost")
    assert code == 550 and lines[0].startswith(b"5.2.1"), (code, lines)
    assert "already disabled" in admin(h, "user", "disable", "carol", rc=0).stdout
    admin(h, "user", "enable", "carol", rc=0)
    assert login_answer(h, "carol", "second-pw") == "OK"

    r = admin(h, "user", "delete", "--purge-mail", "carol", rc=1)
    assert "by hand" in r.stderr
    r = admin(h, "user", "delete", "carol", rc=0)
    assert "mail stays" in r.stdout
    assert open(path).read() == before
    assert os.path.isdir(os.path.join(h.home_root, "carol"))  # the mail is not touched
    assert "AUTHENTICATIONFAILED" in login_answer(h, "carol", "second-pw")
    assert login_answer(h, "alice", "pw-alice") == "OK"
    assert login_answer(h, "support", "pw-support") == "OK"
    assert "no user carol" in admin(h, "user", "delete", "carol", rc=1).stderr


def test_file_bad_input(filehaven):
    h = filehaven
    for bad in ("a:b", "../x", "we ird"):
        r = admin(h, "user", "add", bad, stdin="pw\n", rc=1)
        assert "not a valid user name" in r.stderr
    assert "empty password" in admin(h, "user", "add", "dave", stdin="\n", rc=1).stderr
    assert "no password" in admin(h, "user", "add", "dave", stdin="", rc=1).stderr
    assert admin(h, "user", "add", rc=2).stderr.startswith("usage:")
    assert "expected file" in admin(h, "user", "list", "-p", "nis", rc=1).stderr
    assert "dave" not in open(passwd_path(h)).read()


def test_file_keeps_scheme_of_the_file(tmp_path):
    """A file of yescrypt hashes gets yescrypt; the scheme follows the file."""
    path = tmp_path / "passwd"
    yes = "$y$j9T$abcdefghijklmnopqrstu.$0123456789abcdefghijklmnopqrstuvwxyzABCDE"
    path.write_text("# users\nold:%s:::::\n" % yes)
    path.chmod(0o640)
    conf = tmp_path / "haven.conf"
    conf.write_text("passdb = file:%s\n" % path)
    admin(None, "user", "add", "new", stdin="pw\n", rc=0, conf=str(conf))
    new = [l for l in path.read_text().splitlines() if l.startswith("new:")][0]
    assert new.split(":")[1].startswith("$y$"), new
    assert path.read_text().startswith("# users\nold:")
    assert oct(path.stat().st_mode & 0o777) == "0o640"   # the file's mode stays
    r = admin(None, "auth", "test", "new", stdin="pw\n", conf=str(conf))
    assert r.stdout.startswith("ok: passdb file"), (r.stdout, r.stderr)
    # A file that is not there yet is made, root's only, SHA512-CRYPT.
    fresh = tmp_path / "fresh"
    admin(None, "user", "add", "-p", "file:%s" % fresh, "first", stdin="pw\n", rc=0,
          conf=str(conf))
    assert oct(fresh.stat().st_mode & 0o777) == "0o600"
    assert fresh.read_text().startswith("first:$6$")


def test_auth_test_file(filehaven):
    h = filehaven
    r = admin(h, "auth", "test", "alice", stdin="pw-alice\n", rc=0)
    assert r.stdout.startswith("ok: passdb file"), r.stdout
    assert "user: alice" in r.stdout
    assert "home: %s/alice" % h.home_root in r.stdout
    assert "store: mbox" in r.stdout
    if IS_ROOT:
        pw = pwd.getpwnam(h.mail_user)
        assert "uid: %d" % pw.pw_uid in r.stdout and "gid: %d" % pw.pw_gid in r.stdout
    r = admin(h, "auth", "test", "alice", stdin="wrong\n", rc=1)
    assert "refused: passdb file: wrong password" in r.stdout
    r = admin(h, "auth", "test", "nobody-here", stdin="x\n", rc=1)
    assert "no passdb knows the user" in r.stdout
    # Many wrong passwords through auth test are not havend's failures:
    # the user is not blocked there.
    for _ in range(12):
        admin(h, "auth", "test", "alice", stdin="wrong\n", rc=1)
    assert login_answer(h, "alice", "pw-alice") == "OK"


# ---- who, kick, the socket ------------------------------------------------

def read_line(f):
    line = f.readline()
    assert line, "connection closed"
    return line


def who_rows(h):
    out = admin(h, "who", rc=0).stdout.splitlines()
    if h.backend == "pgsql":
        # asked of every host through the database: a HOST column first
        # (test_admin_cluster.py)
        assert out[0].split() == ["HOST", "USER", "CLIENT", "SINCE", "TLS", "MAILBOX"], out
        return [l.split()[1:] for l in out[1:]]
    assert out[0].split() == ["USER", "CLIENT", "SINCE", "TLS", "MAILBOX"], out
    return [l.split() for l in out[1:]]


def test_who_and_kick(haven):
    h = haven
    alice = h.login("alice")
    alice.select("INBOX")
    bob = h.imap_tls()
    bob.login("bob", "pw-bob")
    t0 = time.time()
    rows = who_rows(h)
    by_user = {r[0]: r for r in rows}
    assert set(by_user) == {"alice", "bob"}, rows
    assert by_user["alice"][1].startswith("127.0.0.1"), rows
    assert by_user["bob"][1].startswith("127.0.0.1"), rows
    assert by_user["alice"][3] == "no" and by_user["bob"][3] == "yes", rows
    assert by_user["alice"][4] == "INBOX" and by_user["bob"][4] == "-", rows
    since = time.mktime(time.strptime(by_user["alice"][2], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert t0 - 120 < since <= t0 + 1, (since, t0)

    r = admin(h, "kick", "alice", rc=0)
    assert r.stdout.strip() == "alice: 1 session ended", r.stdout
    # The kicked client reads BYE with the reason, then the end.
    line = alice.readline()
    assert line.startswith(b"* BYE ") and b"administrator" in line, line
    assert alice.readline() == b""
    # bob's session goes on; the daemon serves new logins, alice's too.
    assert bob.noop()[0] == "OK"
    assert login_answer(h, "alice", "pw-alice") == "OK"
    deadline = time.time() + 20
    while time.time() < deadline and "alice" in [r[0] for r in who_rows(h)]:
        time.sleep(0.2)
    assert [r[0] for r in who_rows(h)] == ["bob"]
    assert admin(h, "kick", "nobody", rc=0).stdout.strip() == "nobody: 0 sessions ended"
    bob.logout()


@only_backends("mbox")  # with pgsql, who and kick go through the database
def test_admin_socket_root_only(haven):
    h = haven
    sock = os.path.join(h.dir, "admin.sock")
    st = os.stat(sock)
    assert oct(st.st_mode & 0o777) == "0o600" and st.st_uid == os.geteuid()
    if not IS_ROOT:
        pytest.skip("needs root to run haven-admin as another user")
    r = admin(h, "who", user="nobody", rc=1)
    assert "permission denied: only root" in r.stderr, r.stderr
    # The master checks the caller's uid itself, whatever the mode.
    os.chmod(sock, 0o666)
    try:
        r = admin(h, "who", user="nobody", rc=1)
    finally:
        os.chmod(sock, 0o600)
    assert "havend refused: permission denied" in r.stderr, r.stderr
    assert "admin socket: request refused" in h.log_text()
    # A client that connects and says nothing holds nobody up; the master
    # drops it after its time.
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    silent.connect(sock)
    assert len(who_rows(h)) == 0
    assert login_answer(h, "alice", "pw-alice") == "OK"
    silent.settimeout(30)
    assert silent.recv(100) == b""
    silent.close()
    assert "admin socket: no request in" in h.log_text()
    # Garbage on the socket: closed, the master goes on.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sock)
    s.send(b"not an ipc message")
    s.settimeout(10)
    assert s.recv(100) == b""
    s.close()
    assert len(who_rows(h)) == 0
    assert login_answer(h, "alice", "pw-alice") == "OK"


def test_no_daemon_says_so(tmp_path):
    conf = tmp_path / "haven.conf"
    conf.write_text("admin_socket = %s/none.sock\n" % tmp_path)
    r = admin(None, "who", rc=1, conf=str(conf))
    assert "is havend running" in r.stderr


# ---- SQL store ------------------------------------------------------------

AUTH_ROLE = "t_haven_authd"

needs_pg = pytest.mark.skipif(not pgcluster.available(),
                              reason="PostgreSQL server binaries missing (scripts/install-deps)")


@pytest.fixture
def sqlhaven():
    pg = pg_cluster()
    pg.psql("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s') THEN "
            "CREATE ROLE %s LOGIN IN ROLE haven_auth; END IF; END $$" % (AUTH_ROLE, AUTH_ROLE),
            db="postgres")
    h = Haven(backend="pgsql", users=())
    with open(h.conf, "a") as f:
        f.write("passdb = sql\npassdb_sql_dsn = %s\n" % pg.dsn(user=AUTH_ROLE, db=h.db))
    h.admin_dsn = pg.dsn(db=h.db)   # the cluster's owner: may provision
    h.start()
    yield h
    check_sanitizers(h.stop())
    h.cleanup()


@needs_pg
def test_sql_user_lifecycle(sqlhaven):
    h = sqlhaven
    d = ["-D", h.admin_dsn]

    def run(*args, **kw):
        return admin(h, *(d + list(args)), **kw)
    run("user", "add", "dave@example.org", stdin="first-pw\n", rc=0)
    assert login_answer(h, "dave@example.org", "first-pw") == "OK"
    assert "is taken" in run("user", "add", "-p", "sql", "dave@example.org",
                             stdin="x\n", rc=1).stderr
    run("user", "passwd", "-p", "sql", "dave@example.org", stdin="second-pw\n", rc=0)
    assert login_answer(h, "dave@example.org", "second-pw") == "OK"
    assert "AUTHENTICATIONFAILED" in login_answer(h, "dave@example.org", "first-pw")
    r = run("auth", "test", "dave@example.org", stdin="second-pw\n", rc=0)
    assert r.stdout.startswith("ok: passdb sql") and "store: pgsql" in r.stdout, r.stdout
    r = run("auth", "test", "dave@example.org", stdin="first-pw\n", rc=1)
    assert "refused: passdb sql" in r.stdout

    run("user", "disable", "dave@example.org", rc=0)
    assert "dave@example.org disabled" in run("user", "list", rc=0).stdout
    assert "AUTHENTICATIONFAILED" in login_answer(h, "dave@example.org", "second-pw")
    run("user", "enable", "dave@example.org", rc=0)
    assert login_answer(h, "dave@example.org", "second-pw") == "OK"

    r = run("user", "delete", "dave@example.org", rc=1)
    assert "--purge-mail" in r.stderr
    assert login_answer(h, "dave@example.org", "second-pw") == "OK"
    run("user", "delete", "--purge-mail", "dave@example.org", rc=0)
    assert "AUTHENTICATIONFAILED" in login_answer(h, "dave@example.org", "second-pw")
    assert "dave" not in run("user", "list", rc=0).stdout
    assert run("user", "passwd", "dave@example.org", stdin="x\n", rc=1).stderr


# ---- PAM ------------------------------------------------------------------

@pytest.mark.skipif(not IS_ROOT or not os.path.exists("/usr/sbin/useradd"),
                    reason="needs root to make system users and a PAM service")
def test_auth_test_pam(tmp_path):
    from test_passdb_pam import PamSetup
    pam = PamSetup()
    try:
        name = pam.user("adm", "pam-secret")
        conf = tmp_path / "haven.conf"
        conf.write_text("passdb = pam\npam_service = %s\n" % pam.service)
        r = admin(None, "auth", "test", name, stdin="pam-secret\n", conf=str(conf))
        assert r.returncode == 0 and r.stdout.startswith("ok: passdb pam"), (r.stdout, r.stderr)
        pw = pwd.getpwnam(name)
        assert "uid: %d" % pw.pw_uid in r.stdout and "home: %s" % pw.pw_dir in r.stdout
        r = admin(None, "auth", "test", name, stdin="wrong\n", rc=1, conf=str(conf))
        assert "refused: passdb pam" in r.stdout
    finally:
        pam.cleanup()
