"""A throwaway Postfix (Debian's package) relaying everything to an LMTP
server under test: the MTA in front of Haven's LMTP delivery. Never the
system instance: `postfix -c DIR` with its own main.cf and master.cf,
queue and data directories under a temp dir, smtpd on a free loopback
port, its log in a file of its own (maillog_file through postlogd, so no
syslog is needed). Run as root: the master starts as root and its
daemons run as mail_owner (postfix). As root, postfix and postqueue take
any -c directory: the default main.cf's alternate_config_directories (or
multi-instance setup) only limits the set-gid commands run by others, so
/etc/postfix is neither needed nor touched; instances side by side differ
in directory and port.

Postfix treats the test as a remote client (local_header_rewrite_clients
is empty): it adds its Received: header and rewrites nothing else, so
what an LMTP server gets is the message sent, byte for byte, below that
header. Queue runs and retries come every second or two, so a message
deferred by the LMTP server goes out again within seconds (or at once on
flush()).

What happened to each recipient is read from the log, where Postfix
writes one line per delivery attempt: statuses() gives the last
(status, dsn) of each recipient, e.g. ("bounced", "5.1.1") or
("deferred", "4.3.0"). A bounce notice goes to the sender through the
same LMTP target, like any other mail."""
import json
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import stat
import subprocess
import tempfile
import time

from conftest import free_port
from procs import wait_for

POSTFIX = "/usr/sbin/postfix"
POSTQUEUE = "/usr/sbin/postqueue"
MAIL_OWNER = "postfix"
HOSTNAME = "postfix-test.haven.invalid"

# master.cf after the smtpd line: Debian's services (without those of
# other transports), none chrooted (the instance's queue directory is no
# chroot: it has no copies of /etc). pickup and qmgr have wake-up times,
# so the master starts them at once rather than on the first mail.
SERVICES = """\
pickup     unix       n - n 60    1 pickup
cleanup    unix       n - n -     0 cleanup
qmgr       unix       n - n 300   1 qmgr
rewrite    unix       - - n -     - trivial-rewrite
bounce     unix       - - n -     0 bounce
defer      unix       - - n -     0 bounce
trace      unix       - - n -     0 bounce
verify     unix       - - n -     1 verify
flush      unix       n - n 1000? 0 flush
proxymap   unix       - - n -     - proxymap
proxywrite unix       - - n -     1 proxymap
smtp       unix       - - n -     - smtp
relay      unix       - - n -     - smtp
showq      unix       n - n -     - showq
error      unix       - - n -     - error
retry      unix       - - n -     - error
discard    unix       - - n -     - discard
lmtp       unix       - - n -     - lmtp
anvil      unix       - - n -     1 anvil
scache     unix       - - n -     1 scache
postlog    unix-dgram n - n -     1 postlogd
"""

# "QID: to=<rcpt>, [orig_to=<...>, ]relay=..., dsn=X.Y.Z, status=WORD"
_STATUS = re.compile(r"postfix/[\w/-]+\[\d+\]: ([0-9A-F]+): to=<([^>]*)>,.* dsn=([0-9.]+), "
                     r"status=(\w+)")
_COMPLAINT = re.compile(r"^.*: (?:warning|error|fatal|panic): .*$", re.M)
_QUEUED = re.compile(r"queued as ([0-9A-F]+)")
FINAL = ("sent", "bounced")


def missing():
    """Why the fixture cannot run here, or None."""
    if not os.path.exists(POSTFIX):
        return "postfix not installed (scripts/install-deps)"
    if os.geteuid() != 0:
        return "Postfix's master must be started as root"
    return None


class Postfix:
    """lmtp_target: where everything goes, in Postfix's syntax after lmtp:
    ("inet:127.0.0.1:PORT", "unix:/path/to/socket": the socket must be
    reachable by the postfix user). tmpdir: where the instance makes its
    directory (None: the system's temporary directory); the postfix user
    must be able to reach it, which pytest's tmp_path (under a 0700
    directory) is not. extra_main: further main.cf parameters
    {name: value}, overriding the ones written here."""

    def __init__(self, tmpdir, lmtp_target, *, smtp_port=None, message_size_limit=None,
                 extra_main=None):
        tmpdir = tmpdir or tempfile.gettempdir()
        closed = _closed_ancestor(tmpdir)
        if closed:
            raise ValueError("%s: the postfix user cannot pass %s (not searchable by others)"
                             % (tmpdir, closed))
        self.dir = tempfile.mkdtemp(prefix="haven-postfix-", dir=tmpdir)
        os.chmod(self.dir, 0o755)
        self.config = os.path.join(self.dir, "etc")
        self.queue_dir = os.path.join(self.dir, "queue")
        self.data_dir = os.path.join(self.dir, "data")
        self.maillog = os.path.join(self.dir, "maillog")
        for d in (self.config, self.queue_dir, self.data_dir):
            os.mkdir(d, 0o755)
        pw = pwd.getpwnam(MAIL_OWNER)
        os.chown(self.data_dir, pw.pw_uid, pw.pw_gid)
        self.smtp_port = smtp_port or free_port()
        self.lmtp_target = lmtp_target
        params = self._main(lmtp_target, message_size_limit)
        params.update(extra_main or {})
        self._write("main.cf", "".join("%s = %s\n" % kv for kv in params.items()))
        self._write("master.cf", "127.0.0.1:%d inet n - n - - smtpd\n%s"
                    % (self.smtp_port, SERVICES))
        self.proc = None

    def _main(self, target, size_limit):
        return {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.data_dir,
            "mail_owner": MAIL_OWNER,
            "setgid_group": "postdrop",
            "myhostname": HOSTNAME,
            "mydomain": "haven.invalid",
            "myorigin": "$myhostname",
            # Nothing is local: every domain goes to the LMTP target.
            "mydestination": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "default_transport": "lmtp:" + target,
            "relay_transport": "lmtp:" + target,
            "lmtp_destination_recipient_limit": "50",
            "lmtp_destination_concurrency_limit": "4",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "smtpd_peername_lookup": "no",
            # The test is a remote client: no headers added but Received:.
            "local_header_rewrite_clients": "",
            "smtputf8_enable": "yes",
            "message_size_limit": str(size_limit if size_limit is not None else 10240000),
            "mailbox_size_limit": "0",
            "soft_bounce": "no",
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "biff": "no",
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.dir,
        }

    def _write(self, name, text):
        with open(os.path.join(self.config, name), "w") as f:
            f.write(text)

    def _postfix(self, *args, timeout=60):
        return subprocess.run([POSTFIX, "-c", self.config] + list(args), capture_output=True,
                              text=True, timeout=timeout)

    # --- running --------------------------------------------------------
    def check(self):
        """`postfix check` (which also makes the queue's directories): its
        complaints, [] when there are none. Postfix writes them to its log,
        not to the terminal, once maillog_file is set."""
        seen = len(self.log())
        r = self._postfix("check")
        complaints = _COMPLAINT.findall(self.log()[seen:])
        if r.returncode != 0:
            raise RuntimeError("postfix check failed (%d):\n%s%s"
                               % (r.returncode, r.stdout + r.stderr, "\n".join(complaints)))
        return complaints

    def start(self):
        """Start the master in the foreground (our child, through
        postfix-script); return once smtpd greets with 220. The checks
        are run (and must be clean) here, so postfix-script is told to skip
        its own second run of them (its quick-start file)."""
        complaints = self.check()
        if complaints:
            raise RuntimeError("postfix check complains:\n" + "\n".join(complaints))
        open(os.path.join(self.queue_dir, "quick-start"), "w").close()
        self.fg_log = open(os.path.join(self.dir, "start-fg.out"), "ab")
        self.proc = subprocess.Popen([POSTFIX, "-c", self.config, "start-fg"],
                                     stdout=self.fg_log, stderr=subprocess.STDOUT)
        self._wait_greeting(30)
        return self

    def _wait_greeting(self, timeout):
        deadline = time.time() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("postfix exited (%d) before greeting:\n%s"
                                   % (self.proc.returncode, self.log()))
            try:
                with socket.create_connection(("127.0.0.1", self.smtp_port), timeout=5) as s:
                    line = s.makefile("rb").readline()
                if line.startswith(b"220 "):
                    return
            except OSError:
                pass
            if time.time() >= deadline:
                raise RuntimeError("postfix did not greet on port %d within %ss:\n%s"
                                   % (self.smtp_port, timeout, self.log()))
            time.sleep(0.05)

    def stop(self, timeout=30):
        """`postfix stop`; return once the master and every daemon of this
        instance have ended (a daemon outliving its master would keep the
        smtpd port of a start() that follows)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._postfix("stop")
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill_instance()
                self.proc.wait()
        if not wait_for(lambda: not self.processes(), timeout):
            self._kill_instance()
        self.proc = None
        self.fg_log.close()

    def processes(self):
        """pids of this instance's processes: Postfix's daemons all work
        in the queue directory."""
        pids, where = [], os.path.realpath(self.queue_dir)
        for d in os.listdir("/proc"):
            try:
                if d.isdigit() and os.readlink("/proc/%s/cwd" % d) == where:
                    pids.append(int(d))
            except OSError:
                continue
        return pids

    def _kill_instance(self):
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_for(lambda: not self.processes(), 10)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            with open(self.maillog, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # --- mail -----------------------------------------------------------
    def send(self, mail_from, rcpts, data: bytes, *, smtputf8=False):
        """One SMTP transaction; {"queue_id": ..., "refused": {rcpt: (code,
        text)}} (recipients smtpd refused, as smtplib.sendmail reports
        them). BODY=8BITMIME is declared when data has 8-bit bytes. Raises
        smtplib's exceptions when nothing could be queued."""
        options = ["BODY=8BITMIME"] if any(b >= 0x80 for b in data) else []
        if smtputf8:
            options.append("SMTPUTF8")
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=60) as s:
            s.ehlo("haven-test")
            refused = {}
            code, text = s.mail(mail_from, options)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, text, mail_from)
            for r in rcpts:
                code, text = s.rcpt(r)
                if code not in (250, 251):
                    refused[r] = (code, text)
            if len(refused) == len(rcpts):
                raise smtplib.SMTPRecipientsRefused(refused)
            code, text = s.data(data)
            if code != 250:
                raise smtplib.SMTPDataError(code, text)
        return {"queue_id": _QUEUED.search(text.decode()).group(1), "refused": refused}

    def flush(self):
        """Deliver deferred mail now (postqueue -f)."""
        subprocess.run([POSTQUEUE, "-c", self.config, "-f"], check=True, capture_output=True,
                       timeout=60)

    def queue(self):
        """The messages in the queue (postqueue -j): dicts with queue_name
        (active, deferred, hold, ...), queue_id, sender and recipients
        (address, delay_reason)."""
        r = subprocess.run([POSTQUEUE, "-c", self.config, "-j"], check=True,
                           capture_output=True, text=True, timeout=60)
        return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

    def wait_queue_empty(self, timeout=60):
        if not wait_for(lambda: not self.queue(), timeout):
            raise TimeoutError("queue not empty after %ss: %r\n%s"
                               % (timeout, self.queue(), self.log()))

    # --- what happened, from the log -------------------------------------
    def statuses(self, queue_id=None):
        """{rcpt: (status, dsn)} of each recipient's latest delivery attempt
        (of one message if queue_id is given, which a recipient of several
        messages needs): status is sent, deferred or bounced."""
        out = {}
        for m in _STATUS.finditer(self.log()):
            if queue_id is None or m.group(1) == queue_id:
                out[m.group(2)] = (m.group(4), m.group(3))
        return out

    def bounces(self, queue_id=None):
        """{rcpt: dsn} of the recipients whose mail bounced."""
        return {r: dsn for r, (st, dsn) in self.statuses(queue_id).items() if st == "bounced"}

    def wait_statuses(self, expected, queue_id=None, timeout=60):
        """Wait until each recipient's latest status is the one expected
        ({rcpt: "sent"|"deferred"|"bounced"}); return statuses(). A final
        status (sent, bounced) other than the one expected fails at once:
        it will not change."""
        def reached():
            got = self.statuses(queue_id)
            now = {r: got.get(r, (None,))[0] for r in expected}
            if any(now[r] in FINAL and now[r] != st for r, st in expected.items()):
                raise AssertionError(self._unlike(expected, "", queue_id))
            return now == expected
        if not wait_for(reached, timeout):
            raise TimeoutError(self._unlike(expected, " after %ss" % timeout, queue_id))
        return self.statuses(queue_id)

    def _unlike(self, expected, when, queue_id):
        return "expected %r, log says %r%s:\n%s" % (expected, self.statuses(queue_id), when,
                                                  self.log())

    def wait_delivered(self, rcpts, queue_id=None, timeout=60):
        return self.wait_statuses({r: "sent" for r in rcpts}, queue_id, timeout)


def _closed_ancestor(path):
    """The first directory of path (itself included) that others may not
    search, or None."""
    path = os.path.abspath(path)
    while True:
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return path
        if path == "/":
            return None
        path = os.path.dirname(path)
