"""A throwaway Dovecot (Debian's dovecot-imapd) on loopback: the reference
the differential tests compare Haven's answers with. Never the system
service: its own config, base_dir and port under a temp dir."""
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from netwait import wait_listening

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def available():
    return os.path.exists(DOVECOT) and os.geteuid() == 0


class Dovecot:
    """home: the users' home directories ('%u' for the user name), by default
    under the instance's own directory; mbox_index: Dovecot's INDEX= for
    mbox (e.g. "MEMORY", so what it shows comes from the file alone); extra:
    more settings, appended to the configuration."""

    def __init__(self, users, driver="mbox", port=None, home=None, mbox_index=None, extra=""):
        userhome = home
        self.dir = tempfile.mkdtemp(prefix="dovecot-test-")
        os.chmod(self.dir, 0o755)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = port or s.getsockname()[1]
        self.users = dict(users)
        mail = pwd.getpwnam("havenmail" if _has("havenmail") else "nobody")
        self.uid, self.gid = mail.pw_uid, mail.pw_gid
        home = os.path.join(self.dir, "home")
        os.mkdir(home)
        os.chown(home, self.uid, self.gid)
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            for u, p in self.users.items():
                f.write("%s:{PLAIN}%s\n" % (u, p))
        location = {"mbox": "mbox:~/mail:INBOX=~/INBOX",
                    "maildir": "maildir:~/Maildir"}[driver]
        if driver == "mbox" and mbox_index:
            location += ":INDEX=" + mbox_index
        userhome = userhome or "{d}/home/%u".format(d=self.dir)
        conf = """
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
instance_name = dovecot-test-{port}
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
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
  args = uid={uid} gid={gid} home={userhome}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 1000
}}
""".format(d=self.dir, port=self.port, loc=location, uid=self.uid, gid=self.gid,
           userhome=userhome) + extra
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_listening(self.port, self.proc, 20, self.log)
        return self

    def log(self):
        try:
            with open(os.path.join(self.dir, "dovecot.log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def login(self, user):
        m = imaplib.IMAP4("127.0.0.1", self.port, timeout=30)
        m.login(user, self.users[user])
        return m

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _has(user):
    try:
        pwd.getpwnam(user)
        return True
    except KeyError:
        return False


class DovecotRaw:
    """A running Dovecot as rfc9051_common.Session wants a server."""
    backend = "mbox"

    def __init__(self, d):
        self.d = d

    def raw(self):
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=20)
        f = s.makefile("rb")
        assert f.readline().startswith(b"* OK")
        return s, f


def dovecot_transcript(run_script, driver="maildir", extra=""):
    """What run_script(server) returns against a throwaway Dovecot with
    user alice (the differential tests' reference)."""
    d = Dovecot({"alice": "pw-alice"}, driver=driver, extra=extra).start()
    try:
        return run_script(DovecotRaw(d))
    finally:
        d.stop()


def haven_transcript(run_script, store, **kw):
    """The same against a throwaway Haven on store, its log checked for
    sanitizer reports."""
    from conftest import Haven, check_sanitizers
    h = Haven(users=("alice",), tls=False, backend=store, **kw).start()
    try:
        return run_script(h)
    finally:
        check_sanitizers(h.stop())
        h.cleanup()

