"""The servers bench/run compares, each a throwaway instance in its own
directory with its own config, port(s) and users, all on 127.0.0.1:
Haven with the mbox store (`haven`), with login_connections_per_process
(`haven-reuse`), with the PostgreSQL store (`haven-pgsql`), Dovecot 2.3 with
mbox (`dovecot`) and with maildir (`dovecot-maildir`). Each also takes mail
over LMTP on 127.0.0.1:lmtp_port (the lmtp profile). See bench/README.md
("How the servers are configured")."""
import filecmp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time

import measure
import seed as imapseed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("HAVEN_BUILD", os.path.join(ROOT, "build"))
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mail_ids():
    for n in ("havenmail", "nobody"):
        try:
            p = pwd.getpwnam(n)
            return n, p.pw_uid, p.pw_gid
        except KeyError:
            pass
    raise SystemExit("no havenmail/nobody user")


def chown_tree(top, uid, gid):
    os.chown(top, uid, gid)
    for dp, dn, fn in os.walk(top):
        for x in dn + fn:
            os.chown(os.path.join(dp, x), uid, gid)


def mbox_from(msgs):
    """CRLF messages as one mbox file (mboxrd-escaped From_ lines)."""
    out = []
    for m in msgs:
        out.append(b"From bench@example.com Sat Nov 22 00:00:00 2026\n")
        lines = []
        for ln in m.replace(b"\r\n", b"\n").split(b"\n"):
            if ln.lstrip(b">").startswith(b"From "):
                ln = b">" + ln
            lines.append(ln)
        body = b"\n".join(lines)
        if not body.endswith(b"\n"):
            body += b"\n"
        out.append(body + b"\n")
    return b"".join(out)


def make_cert(d):
    """A self-signed ECDSA P-256 certificate for IP 127.0.0.1, made now;
    every server gets the same one, the load generator verifies it."""
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    os.chmod(key, 0o600)
    os.chmod(cert, 0o644)
    return cert, key


# ---- what a user's INBOX starts with --------------------------------------
class Mail:
    """What one group of users' INBOXes start with, in order, with the flags
    and INTERNALDATE each store is given: as an mbox file (the same bytes
    for Haven and Dovecot), as maildir files, or as IMAP APPENDs (a store
    that parses at delivery).

    msgs: CRLF messages given to every user of the group, each with an
    "X-Bench-Seed: <login>" line first, so that no two users hold the same
    message (as on a real server; a store that keeps a body once however
    many mailboxes hold it must not get 50 copies of one INBOX for the
    price of one). path: an mbox file already written for a single user
    (bigbox), appends() giving the same messages."""
    DATE = "22-Nov-2026 00:00:00 +0000"   # the From_ line's date

    def __init__(self, msgs=None, path=None, appends=None, maildir_flags=None, cache=None):
        self.msgs, self.path, self._appends, self.cache = msgs, path, appends, cache
        self.maildir_flags = maildir_flags or (lambda i: "")

    def messages(self, login):
        if self.msgs is None:
            return (m for _, _, m in self._appends())
        tag = b"X-Bench-Seed: %s\r\n" % login.encode()
        return (tag + m for m in self.msgs)

    def mbox_path(self, login):
        """The mbox file of login's INBOX (written once, in cache)."""
        if self.path:
            return self.path
        path = os.path.join(self.cache, "%s.mbox" % login)
        if not os.path.exists(path):
            with open(path + ".tmp", "wb") as f:
                f.write(mbox_from(self.messages(login)))
            os.replace(path + ".tmp", path)
        return path

    def appends(self, login):
        if self._appends:
            return self._appends()
        return (("", self.DATE, m) for m in self.messages(login))


class Group:
    """Users (login, password) whose INBOXes start alike (Mail)."""
    def __init__(self, users, mail):
        self.users, self.mail = users, mail


def fill_mbox(home, path):
    os.makedirs(os.path.join(home, "mail"), exist_ok=True)
    inbox = os.path.join(home, "INBOX")
    shutil.copyfile(path, inbox)
    os.chmod(inbox, 0o600)


def fill_maildir(home, mail, login, baseline=None):
    """~/Maildir with the messages one file each in cur/, named so that
    their order is the UID order; from a baseline copy (hard links: maildir
    never rewrites a message file) when there is one."""
    md = os.path.join(home, "Maildir")
    if baseline:
        subprocess.run(["cp", "-al", baseline, md], check=True)
        return
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub), exist_ok=True)
    for i, m in enumerate(mail.messages(login)):
        name = "%d.M%dP1.bench:2,%s" % (1763769600 + i, i, mail.maildir_flags(i + 1))
        with open(os.path.join(md, "cur", name), "wb") as f:
            f.write(m.replace(b"\r\n", b"\n"))


def wait_port(proc, ports, what, logf):
    deadline = time.time() + 30
    for port in ports:
        while True:
            if proc.poll() is not None:
                raise SystemExit("%s exited early; see %s" % (what, logf))
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit("%s did not listen; see %s" % (what, logf))
                time.sleep(0.05)


class Server:
    """One throwaway server in its own directory d: users' homes under
    self.homes, listening on 127.0.0.1:port (plain), tls_port (IMAPS) and
    lmtp_port (LMTP)."""
    proc = None
    term_tree = False   # SIGTERM to the master only
    loadgen_args = []   # what its load generator runs add

    def __init__(self, name, d, groups, ids, tls):
        self.name, self.d, self.groups, self.tls = name, d, groups, tls
        self.users = [u for g in groups for u in g.users]
        self.mailuser, self.uid, self.gid = ids
        self.port, self.tls_port, self.lmtp_port = free_port(), free_port(), free_port()
        self.baseline = {}   # login -> what a reset restores (after a first open)
        os.makedirs(d, 0o755, exist_ok=True)
        os.chmod(d, 0o755)
        self.homes = os.path.join(d, "home")
        self.index = os.path.join(d, "index")
        self.log = os.path.join(d, "server.log")
        self.configure()
        self.reset_mail()

    def home(self, u):
        return os.path.join(self.homes, u)

    def fill(self, login, mail):
        fill_mbox(self.home(login), self.baseline.get(login) or mail.mbox_path(login))

    def reset_mail(self):
        """Every home as seeded, every index/cache file of the server gone."""
        for top in (self.homes, self.index):
            shutil.rmtree(top, ignore_errors=True)
            os.makedirs(top)
        for g in self.groups:
            for u, _ in g.users:
                os.makedirs(self.home(u), exist_ok=True)
                self.fill(u, g.mail)
        chown_tree(self.homes, self.uid, self.gid)
        chown_tree(self.index, self.uid, self.gid)

    def keep_baseline(self, login, mail):
        """What the server left of login's INBOX (first seeded with mail)
        after a first open becomes what later resets restore; True if the
        server changed the file."""
        inbox = self.home(login) + "/INBOX"
        base = os.path.join(self.d, "baseline-%s.mbox" % login)
        shutil.copyfile(inbox, base)
        self.baseline[login] = base
        return not filecmp.cmp(inbox, mail.path, shallow=False)

    def prepare(self):
        """After the first start: anything the store needs seeded through
        the server itself."""

    def cold_reset(self):
        """Stopped server: back to the starting point, nothing cached by the
        server (its indexes; a database's buffers)."""
        self.reset_mail()

    def roots(self):
        """Process trees whose CPU and memory are the server's."""
        return [self.proc.pid]

    def env(self):
        return None   # bench/run's own

    def start(self):
        with open(self.log, "a") as lf:
            self.proc = subprocess.Popen(self.argv(), stdout=lf, stderr=subprocess.STDOUT,
                                         env=self.env())
        wait_port(self.proc, [self.port, self.tls_port, self.lmtp_port], self.name, self.log)

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        t0 = time.time()
        pids = measure.tree(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        if self.term_tree:
            for p in pids[1:]:
                try:
                    os.kill(p, signal.SIGTERM)
                except OSError:
                    pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        # wait until every process of the instance is gone (Dovecot's and
        # Haven's children exit after their master)
        deadline = time.time() + 10
        while time.time() < deadline and any(os.path.exists("/proc/%d" % p) for p in pids[1:]):
            time.sleep(0.05)
        self.stop_s = round(time.time() - t0, 2)
        if self.stop_s > 1:
            log("%s took %.1f s to stop" % (self.name, self.stop_s))


class HavenSrv(Server):
    def conf_lines(self):
        return [
            "listen = 127.0.0.1:%d" % self.port,
            "listen_tls = 127.0.0.1:%d" % self.tls_port,
            "lmtp_listen = 127.0.0.1:%d" % self.lmtp_port,
            "tls_cert = %s" % self.tls[0],
            "tls_key = %s" % self.tls[1],
            "login_chroot = %s/empty" % self.d,
            "libexec_dir = %s" % BUILD,
            "passdb = file:%s/passwd" % self.d,
            "allow_plain_passwords = yes",
            "mail_user = %s" % self.mailuser,
            "mail_home = %s/%%u" % self.homes,
            "mbox_inbox = %h/INBOX",
            "mbox_dir = %h/mail",
            "max_connections = 5000",
            "log_level = warning",
        ]

    def configure(self):
        os.makedirs(os.path.join(self.d, "empty"), mode=0o755, exist_ok=True)
        with open(os.path.join(self.d, "passwd"), "w") as f:
            for u, p in self.users:
                f.write("%s:{PLAIN}%s::::%s::\n" % (u, p, self.home(u)))
        self.conf = os.path.join(self.d, "haven.conf")
        extra = [ln.strip() for ln in os.environ.get("BENCH_HAVEN_CONF", "").split(";")
                 if ln.strip()]
        with open(self.conf, "w") as f:
            f.write("\n".join(self.conf_lines() + extra) + "\n")

    def argv(self):
        return [os.path.join(BUILD, "havend"), "-F", "-c", self.conf]

    def workers(self):
        """pids of the user workers alive now (one per logged-in user)."""
        return [p for p in measure.tree(self.proc.pid) if measure.comm(p) == "haven-worker"]


class HavenReuseSrv(HavenSrv):
    """Haven's high-performance mode: login_connections_per_process > 1
    (documented trade: a login worker taken over by one client could read
    the next clients' passwords) and a bigger pool; idle user workers kept
    for the next user (worker_reuse: every bench user has the same uid),
    as Dovecot reuses its imap processes with service_count = 0."""
    REUSE = ["login_connections_per_process = 1000", "login_pool_size = 16",
             "worker_reuse = 100", "worker_reuse_timeout = 3600"]

    def conf_lines(self):
        return HavenSrv.conf_lines(self) + self.REUSE


class HavenScramSrv(HavenSrv):
    """Haven as "haven", its clients logging in with AUTHENTICATE
    SCRAM-SHA-256 (the file's {PLAIN} passwords: a PBKDF2 of 4096 rounds
    on each side)."""
    loadgen_args = ["--scram"]


PAM_SERVICE = "haven-bench"
PAM_USER_FMT, PAM_PASS_FMT = "hvbpam%02d", "pw-hvbpam%02d"


class HavenPamSrv(HavenSrv):
    """Haven with passdb = pam: the first group's users as system users of
    names of their own (sharing the mail user's uid, so the seeded homes
    fit) with Debian's yescrypt hashes, a PAM service of pam_unix, the
    auth cache off so that every login is PAM's."""
    loadgen_args = ["--user-fmt", PAM_USER_FMT, "--pass-fmt", PAM_PASS_FMT]

    def __init__(self, name, d, groups, ids, tls):
        n = len(groups[0].users)
        pam = [(PAM_USER_FMT % i, PAM_PASS_FMT % i) for i in range(1, n + 1)]
        HavenSrv.__init__(self, name, d, [Group(pam, groups[0].mail)], ids, tls)

    def configure(self):
        HavenSrv.configure(self)
        with open("/etc/pam.d/" + PAM_SERVICE, "w") as f:
            f.write("auth required pam_unix.so\naccount required pam_unix.so\n")
        for u, _ in self.users:
            subprocess.run(["userdel", "-f", u], capture_output=True)   # an aborted run's
            subprocess.run(["useradd", "-o", "-u", str(self.uid), "-g", str(self.gid), "-M",
                            "-d", self.home(u), "-s", "/usr/sbin/nologin", u],
                           check=True, capture_output=True)
        subprocess.run(["chpasswd"], input="".join("%s:%s\n" % up for up in self.users),
                       text=True, check=True)
        with open(self.conf, "a") as f:
            f.write("passdb = pam\npam_service = %s\npassdb_cache_ttl = 0\n"
                    "passdb_cache_negative_ttl = 0\n" % PAM_SERVICE)

    def stop(self):
        HavenSrv.stop(self)
        for u, _ in self.users:
            subprocess.run(["userdel", "-f", u], capture_output=True)
        if os.path.exists("/etc/pam.d/" + PAM_SERVICE):
            os.unlink("/etc/pam.d/" + PAM_SERVICE)


class HavenPgsqlSrv(HavenSrv):
    """Haven with the PostgreSQL store: database db of the benchmark's
    cluster (bench/pgstore.py), users made with haven.create_user, their
    INBOXes seeded through IMAP APPEND by prepare(). Its CPU and memory
    include the cluster's (the store's work is done there)."""
    def __init__(self, name, d, groups, ids, tls, pg, db):
        self.pg, self.db = pg, db
        pg.database(db)
        pg.create_users(db, [u for g in groups for u in g.users])
        Server.__init__(self, name, d, groups, ids, tls)

    def conf_lines(self):
        return HavenSrv.conf_lines(self) + ["mail_backend = pgsql",
                                            "pgsql_dsn = %s" % self.pg.dsn(self.db)]

    def fill(self, login, mail):
        pass  # the mail is in the database

    def prepare(self):
        t0 = time.time()
        self.pg.seeding()
        try:
            for g in self.groups:
                imapseed.seed_users(self.port, g.users, g.mail.appends)
        finally:
            self.pg.seeded(self.db)
        self.seed_s = round(time.time() - t0, 1)
        log("%s: seeded through IMAP APPEND in %.1f s (database %.0f MB)" % (
            self.name, self.seed_s, self.pg.size(self.db) / 1e6))
        # sessions from now on see synchronous_commit = on from their start
        self.stop()
        self.start()

    def keep_baseline(self, login, mail):
        return False

    def cold_reset(self):
        """The mail stays in the database; PostgreSQL restarted, so none of
        it is in its buffers (and bigbox drops the page cache after this)."""
        self.reset_mail()
        self.pg.restart()

    def roots(self):
        return [self.proc.pid, self.pg.postmaster_pid()]


class HavenPgsqlReuseSrv(HavenPgsqlSrv):
    """haven-pgsql's database, users and mail (the same cluster and
    database, seeded once by haven-pgsql, which bench/run makes first),
    served by a havend of its own in Haven's high-performance login mode,
    as haven-reuse is (Dovecot's columns run in theirs). The runs of the
    two never overlap."""
    def __init__(self, name, d, groups, ids, tls, pg, db):
        self.pg, self.db = pg, db
        Server.__init__(self, name, d, groups, ids, tls)

    def conf_lines(self):
        return HavenPgsqlSrv.conf_lines(self) + HavenReuseSrv.REUSE

    def prepare(self):
        self.seed_s = 0


class DovecotSrv(Server):
    driver = "mbox"
    # Dovecot's master takes 1-3 s to take its log process down after
    # SIGTERM; every Dovecot process exits at once on its own SIGTERM
    term_tree = True

    def configure(self):
        with open(os.path.join(self.d, "passwd"), "w") as f:
            for u, p in self.users:
                f.write("%s:{PLAIN}%s\n" % (u, p))
        loc = {"mbox": "mbox:~/mail:INBOX=~/INBOX:INDEX=%s/%%u" % self.index,
               "maildir": "maildir:~/Maildir:INDEX=%s/%%u" % self.index}[self.driver]
        self.conf = os.path.join(self.d, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(DOVECOT_CONF.format(d=self.d, port=self.port, tls_port=self.tls_port,
                                        lmtp_port=self.lmtp_port,
                                        uid=self.uid, gid=self.gid, homes=self.homes,
                                        loc=loc, cert=self.tls[0], key=self.tls[1],
                                        log=self.log))

    def argv(self):
        return [DOVECOT, "-F", "-c", self.conf]


class DovecotMaildirSrv(DovecotSrv):
    driver = "maildir"

    def fill(self, login, mail):
        fill_maildir(self.home(login), mail, login, self.baseline.get(login))

    def keep_baseline(self, login, mail):
        """The maildir as Dovecot left it after the first open (its
        dovecot-uidlist now in it) is what later resets restore."""
        base = os.path.join(self.d, "baseline-%s.maildir" % login)
        shutil.rmtree(base, ignore_errors=True)
        subprocess.run(["cp", "-al", self.home(login) + "/Maildir", base], check=True)
        self.baseline[login] = base
        return False


# Dovecot's documented high-performance mode for login processes
# (service_count = 0, process_min_avail = number of CPU cores), imap
# processes reused (service_count = 0), auth cache on. LMTP: Dovecot's
# defaults (a process per connection, reused), user+detail into the mailbox
# detail when it exists as Haven does, the domain of a recipient dropped for
# the userdb lookup as Haven drops its local domains. See bench/README.md.
DOVECOT_CONF = """
protocols = imap lmtp
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
instance_name = dovecot-bench-{port}
log_path = {log}
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain
auth_cache_size = 10M
auth_cache_ttl = 1 hour
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
first_valid_gid = 1
mail_location = {loc}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={homes}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
  service_count = 0
  process_min_avail = 2
  client_limit = 5000
}}
service imap {{
  service_count = 0
  process_limit = 5000
}}
default_client_limit = 5000
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 5000
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
lmtp_save_to_detail_mailbox = yes
protocol lmtp {{
  auth_username_format = %Ln
}}
"""

KINDS = {"haven": HavenSrv, "haven-reuse": HavenReuseSrv, "haven-pgsql": HavenPgsqlSrv,
         "haven-pgsql-reuse": HavenPgsqlReuseSrv,
         "haven-scram": HavenScramSrv, "haven-pam": HavenPamSrv,
         "dovecot": DovecotSrv, "dovecot-maildir": DovecotMaildirSrv}
