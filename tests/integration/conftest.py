"""Integration test harness: starts a real havend (the ASan+UBSan build
under `make check`) on a free loopback port with a throwaway config, users
and TLS certificate, and fails any test whose daemon log shows a sanitizer
report."""
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from netwait import wait_listening

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("HAVEN_BUILD", os.path.join(ROOT, "build"))
CORPUS = os.path.join(ROOT, "tests", "data", "corpus")
IS_ROOT = os.geteuid() == 0

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "ERROR: UndefinedBehaviorSanitizer", "AddressSanitizer:DEADLYSIGNAL",
                   "LeakSanitizer has encountered a fatal error")

needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root for privilege separation")

# Storage backends the protocol tests run against. A test module that is
# about one backend's files or processes sets BACKENDS = ["mbox"].
ALL_BACKENDS = [b for b in os.environ.get("HAVEN_TEST_BACKENDS", "mbox,pgsql").split(",") if b]


def only_backends(*names):
    """Decorator: a test about what one backend keeps (mbox files written
    by an MDA, say), not about the storage interface."""
    def mark(fn):
        fn.backends = names
        return fn
    return mark


def pytest_configure(config):
    config.addinivalue_line("markers", "stall_at(n): test builds' first LMTP worker stops "
                            "itself after n bytes of a message (test_postfix_lmtp)")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        allowed = getattr(metafunc.function, "backends", None) or \
            getattr(metafunc.module, "BACKENDS", ALL_BACKENDS)
        metafunc.parametrize("backend", [b for b in ALL_BACKENDS if b in allowed])


_PG = {}


def pg_cluster():
    """The session's PostgreSQL cluster (started on first use) with a
    template database holding Haven's schema."""
    if "cluster" not in _PG:
        import pgcluster
        c = pgcluster.PgCluster(dbname="haven_template").start()
        _PG["cluster"] = c
        c.migrate()
        # The user workers connect as the role the documentation tells
        # administrators to make: granted haven_mail and nothing else.
        c.psql("CREATE ROLE haven_worker LOGIN IN ROLE haven_mail", db="postgres")
        _PG["n"] = 0
    return _PG["cluster"]


def pg_database():
    """A new database of Haven's schema; its name."""
    c = pg_cluster()
    _PG["n"] += 1
    name = "haven_%d_%d" % (os.getpid(), _PG["n"])
    c.psql("CREATE DATABASE %s TEMPLATE haven_template" % name, db="postgres")
    return name


def pytest_sessionfinish(session, exitstatus):
    if "cluster" in _PG:
        _PG.pop("cluster").cleanup()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mail_identity():
    """The uid/gid virtual users run as: havenmail if install-deps made it."""
    for name in ("havenmail", "nobody"):
        try:
            pw = pwd.getpwnam(name)
            return name, pw.pw_uid, pw.pw_gid
        except KeyError:
            continue
    raise RuntimeError("no havenmail or nobody user")


def make_cert(directory):
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


class Haven:
    """One running havend with its own directory, users and ports."""

    def __init__(self, users=("alice", "bob"), extra_conf="", tls=True, backend="mbox",
                 args=(), wrap=(), addr="127.0.0.1", build=None):
        self.addr = addr  # where it listens (a test network's address)
        self.build = build or BUILD
        self.args = list(args)  # havend options after -c (such as -o KEY=VALUE)
        self.wrap = list(wrap)  # runs havend: argv before its own (it must exec it)
        self.dir = tempfile.mkdtemp(prefix="haven-test-")
        os.chmod(self.dir, 0o755)  # mail users must traverse it
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.users = {u: "pw-" + u for u in users}
        self.empty = os.path.join(self.dir, "empty")
        os.mkdir(self.empty, 0o755)
        self.home_root = os.path.join(self.dir, "users")
        os.mkdir(self.home_root, 0o755)
        self.mail_user = None
        if IS_ROOT:
            self.mail_user, uid, gid = mail_identity()
            os.chown(self.home_root, uid, gid)
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            for u, p in self.users.items():
                f.write("%s:{PLAIN}%s::::%s/%s::\n" % (u, p, self.home_root, u))
        conf = [
            "listen = %s:%d" % (addr, self.port),
            "login_chroot = %s" % self.empty,
            "libexec_dir = %s" % self.build,
            "passdb = file:%s/passwd" % self.dir,
            "allow_plain_passwords = yes",
            "mail_home = %s/%%u" % self.home_root,
            "mbox_inbox = %h/INBOX",
            "mbox_dir = %h/mail",
            "auth_failure_delay_ms = 100",
            "worker_idle_timeout = 2",
            "log_level = debug",
            # Its own runtime files (admin.sock): the default directory is
            # shared by every havend of the host.
            "run_dir = %s" % self.dir,
        ]
        if self.mail_user:
            conf.append("mail_user = %s" % self.mail_user)
        self.backend = backend
        if backend == "pgsql":
            self.pg = pg_cluster()
            self.db = pg_database()
            self.pg.psql("".join("INSERT INTO haven.users (login) VALUES ('%s');" % u
                                 for u in self.users), db=self.db)
            conf += ["mail_backend = pgsql",
                     "pgsql_dsn = %s" % self.pg.dsn(db=self.db, user="haven_worker")]
        if tls:
            self.cert, self.key = make_cert(self.dir)
            conf += ["listen_tls = 127.0.0.1:%d" % self.tls_port,
                     "tls_cert = %s" % self.cert, "tls_key = %s" % self.key]
        conf.append(extra_conf)
        self.conf = os.path.join(self.dir, "haven.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")
        self.log = os.path.join(self.dir, "havend.log")
        self.proc = None

    def start(self):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(self.wrap + [os.path.join(self.build, "havend"), "-F", "-c",
                                                  self.conf] + self.args,
                                     stdout=self.logf, stderr=subprocess.STDOUT, env=env)
        RUNNING.append(self)
        wait_listening(self.port, self.proc, 15, self.log_text, host=self.addr)
        # the listeners are bound one after the other: the TLS one may come
        # a moment after the plain one
        if self.tls_port:
            wait_listening(self.tls_port, self.proc, 15, self.log_text)
        return self

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.logf.close()
        return self.log_text()

    def cleanup(self):
        if self in RUNNING:
            RUNNING.remove(self)
        shutil.rmtree(self.dir, ignore_errors=True)

    def stored_names(self, user):
        """The mailbox names (and hierarchy levels) the store holds for
        user, as UTF-8, INBOX left out: files and directories under the
        mbox directory, or rows of the database."""
        if self.backend == "pgsql":
            out = self.pg.psql("SELECT m.name FROM haven.mailboxes m JOIN haven.users u "
                               "ON u.id = m.user_id WHERE u.login = '%s' AND m.name <> 'INBOX'"
                               % user, db=self.db)
            return set(out.split("\n")) if out else set()
        top = os.path.join(self.home_root, user, "mail")
        names = set()
        for dp, dn, fn in os.walk(top):
            dn[:] = [d for d in dn if not d.startswith(".")]
            for n in dn + [f for f in fn if not f.startswith(".")]:
                names.add(os.path.relpath(os.path.join(dp, n), top))
        return names

    # --- clients -----------------------------------------------------
    def imap(self):
        return imaplib.IMAP4(self.addr, self.port, timeout=20)

    def login(self, user="alice"):
        m = self.imap()
        m.login(user, self.users[user])
        return m

    def imap_tls(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        return imaplib.IMAP4_SSL("127.0.0.1", self.tls_port, ssl_context=ctx, timeout=20)

    def ssl_context(self):
        return ssl.create_default_context(cafile=self.cert)

    def raw(self):
        """A plain socket that has read the greeting."""
        s = socket.create_connection((self.addr, self.port), timeout=20)
        f = s.makefile("rb")
        greeting = f.readline()
        assert greeting.startswith(b"* OK"), greeting
        return s, f


# Instances started and not yet cleaned up: a failing test's report shows
# the end of their logs (the directories are gone by the time one looks).
RUNNING = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        for h in RUNNING:
            try:
                tail = "\n".join(h.log_text().splitlines()[-80:])
            except OSError:
                continue
            rep.sections.append(("havend log %s (end)" % h.dir, tail))


def check_sanitizers(text):
    bad = [l for l in text.splitlines() if any(m in l for m in SANITIZER_MARKS)]
    assert not bad, "sanitizer report in havend log:\n" + text[-20000:]


@pytest.fixture
def backend():
    return "mbox"  # parametrized by pytest_generate_tests


@pytest.fixture
def haven(backend):
    h = Haven(backend=backend).start()
    yield h
    text = h.stop()
    check_sanitizers(text)
    h.cleanup()


@pytest.fixture
def haven_factory(backend):
    made = []

    def make(**kw):
        kw.setdefault("backend", backend)
        h = Haven(**kw).start()
        made.append(h)
        return h
    yield make
    for h in made:
        check_sanitizers(h.stop())
        h.cleanup()


_LIST_LINE = re.compile(rb'^(\* LIST \()([^)]*)(\) .*)$', re.S)


def as_mbox_list(line):
    """A LIST line of a store whose mailboxes may have children (the
    PostgreSQL one), read as the mbox store writes it, where a mailbox that
    holds messages is a file and has \\NoInferiors (a \\Noselect one is a
    directory and has not): expectations written for one hold for the
    other. A selectable PostgreSQL mailbox that has children keeps its
    attributes when the line says so (\\HasChildren); that PostgreSQL
    mailboxes can have children is tested on its own. (LSUB says neither.)"""
    m = _LIST_LINE.match(line)
    if not m:
        return line
    attrs = m.group(2).split()
    if not {b"\\NoInferiors", b"\\Noselect", b"\\NonExistent", b"\\HasChildren"} & set(attrs):
        attrs.insert(0, b"\\NoInferiors")
    return m.group(1) + b" ".join(attrs) + m.group(3)


def corpus_messages():
    out = []
    for name in sorted(os.listdir(CORPUS)):
        if name.endswith((".eml", ".txt")):
            with open(os.path.join(CORPUS, name), "rb") as f:
                out.append((name, f.read()))
    return out


def read_until_tagged(f, tag):
    """Lines up to and including the tagged response for tag."""
    lines = []
    while True:
        line = f.readline()
        if not line:
            raise EOFError("connection closed; got %r" % lines)
        lines.append(line)
        if line.startswith(tag + b" "):
            return lines
