"""Least privilege, read from /proc while sessions are live: for every
Haven process its uids, gids, supplementary groups, root directory,
no_new_privs, seccomp mode, effective/permitted/bounding capabilities and
resource limits; and a login worker that makes a system call outside its
filter (through a hook only the test build has) is killed and logged.

The daemon's output goes through a pipe here, as under systemd: with
stderr a regular file (the other tests' log file) the login workers keep
their file-size limit off so as not to lose their log lines."""
import os
import pwd
import re
import signal
import subprocess
import threading

import pytest

from conftest import BUILD, RUNNING, Haven, check_sanitizers, mail_identity, needs_root
from netwait import wait_listening
from procs import children_of, descendants_of, is_login_template, wait_for

CAP = {"DAC_READ_SEARCH": 2, "KILL": 5, "SETGID": 6, "SETUID": 7, "SETPCAP": 8,
       "SYS_CHROOT": 18, "AUDIT_WRITE": 29}
MASTER_CAPS = sum(1 << CAP[c] for c in ("SETUID", "SETGID", "SYS_CHROOT", "SETPCAP", "KILL",
                                       "DAC_READ_SEARCH", "AUDIT_WRITE"))
AUTH_CAPS = (1 << CAP["DAC_READ_SEARCH"]) | (1 << CAP["AUDIT_WRITE"])


class PipedHaven(Haven):
    """A Haven whose output reaches its log file through a pipe."""

    def start(self):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen([os.path.join(BUILD, "havend"), "-F", "-c", self.conf],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        self.pump = threading.Thread(target=self._copy, daemon=True)
        self.pump.start()
        RUNNING.append(self)
        wait_listening(self.port, self.proc, 15, self.log_text)
        return self

    def _copy(self):
        for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):
            self.logf.write(chunk.decode(errors="replace"))
            self.logf.flush()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.pump.join(timeout=30)
        self.logf.close()
        return self.log_text()


@pytest.fixture
def piped():
    made = []

    def make(**kw):
        h = PipedHaven(**kw).start()
        made.append(h)
        return h
    yield make
    for h in made:
        check_sanitizers(h.stop())
        h.cleanup()


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def limits(pid):
    out = {}
    with open("/proc/%d/limits" % pid) as f:
        for line in f.readlines()[1:]:
            name = line[:26].strip()
            out[name] = line[26:47].split()[0]
    return out


def sanitized(pid):
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def ids(st, key):
    return [int(x) for x in st[key].split()]


def caps(st):
    return {k: int(st[k], 16) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}


def expect_root(pid, cap_set, nnp):
    st = status(pid)
    assert ids(st, "Uid") == [0] * 4 and ids(st, "Gid") == [0] * 4, st
    assert os.readlink("/proc/%d/root" % pid) == "/"
    assert st["NoNewPrivs"] == str(nnp) and st["Seccomp"] == "0", st
    c = caps(st)
    assert c["CapEff"] == c["CapPrm"] == c["CapBnd"] == cap_set, (pid, c)
    assert c["CapInh"] == 0 and c["CapAmb"] == 0


def expect_confined(pid, uid, gid, root):
    """Dropped: one uid and gid (a saved privileged group allowed), no
    other groups, the root given, no new privileges, a seccomp filter, no
    capability now or ever."""
    st = status(pid)
    assert ids(st, "Uid") == [uid] * 4, st
    g = ids(st, "Gid")
    assert g[0] == g[1] == g[3] == gid and 0 not in g, st
    assert ids(st, "Groups") == [gid], st
    assert os.readlink("/proc/%d/root" % pid) == root
    assert st["NoNewPrivs"] == "1", st
    assert st["Seccomp"] == "2", (pid, st["Seccomp"])
    assert all(v == 0 for v in caps(st).values()), (pid, caps(st))


@needs_root
def test_every_process_from_proc(piped):
    h = piped()
    login = pwd.getpwnam("haven")
    _, muid, mgid = mail_identity()
    pre, pre_f = h.raw()                      # a pre-auth login worker
    plain = h.login("alice")                  # a user worker
    plain.select("INBOX")
    tls = h.imap_tls()                        # a TLS proxy and bob's worker
    tls.login("bob", "pw-bob")
    tls.select("INBOX")
    master = h.proc.pid
    kids = wait_for(lambda: (lambda k: k if len([1 for _, a in k if "haven-worker" in a[0]]) == 2
                             else None)(children_of(master)))
    assert kids, children_of(master)
    asan = sanitized(master)

    expect_root(master, MASTER_CAPS, 0)
    (auth,) = [p for p, a in kids if a[0].endswith("haven-auth")]
    expect_root(auth, AUTH_CAPS, 1)

    workers = [p for p, a in kids if a[0].endswith("haven-worker")]
    for w in workers:
        expect_confined(w, muid, mgid, "/")
        lim = limits(w)
        if not asan:   # the sanitizers need a clone at exit and terabytes of address space
            assert lim["Max processes"] == "0" and lim["Max address space"] == str(4096 << 20)

    logins = [(p, a) for p, a in descendants_of(master) if a[0].endswith("haven-login")]
    assert len([1 for _, a in logins if is_login_template(a)]) == 1
    assert len(logins) >= 3, logins           # template, pre-auth worker, TLS proxy
    for p, a in logins:
        expect_confined(p, login.pw_uid, login.pw_gid, h.empty)
        lim = limits(p)
        assert lim["Max file size"] == "0" and lim["Max core file size"] == "0", (p, lim)
        assert lim["Max open files"] == "16"
        # Only the template may fork.
        assert (lim["Max processes"] == "0") != is_login_template(a), (a, lim)
        if not asan:
            assert lim["Max address space"] == str(256 << 20)
    # Every process is accounted for.
    assert len(descendants_of(master)) == 1 + len(workers) + len(logins)
    pre.close()
    plain.logout()
    tls.logout()


def kernel_at_least(major, minor):
    m = re.match(r"(\d+)\.(\d+)", os.uname().release)
    return m is not None and (int(m.group(1)), int(m.group(2))) >= (major, minor)


def xtest_syscall(h):
    """Ask a login worker to make its forbidden call: its answer, or b""
    when the connection died."""
    s, f = h.raw()
    s.sendall(b"a XTESTSYSCALL\r\n")
    line = f.readline()
    s.close()
    if line.startswith(b"a BAD"):
        pytest.skip("this build has no test hooks (HAVEN_TEST_HOOKS)")
    return line


@needs_root
@pytest.mark.parametrize("fork", ["yes", "no"])
def test_forbidden_syscall_kills_the_login_worker(haven_factory, fork):
    h = haven_factory(extra_conf="login_fork = %s\n" % fork)
    assert xtest_syscall(h) == b""
    if fork == "no":
        want = "killed by signal 31 (SIGSYS: its seccomp filter stopped a forbidden system call)"
    else:
        want = ("killed by signal 31; ending the login template so that the next workers get a "
                "new address-space layout (SIGSYS: its seccomp filter stopped a forbidden "
                "system call)")
    assert wait_for(lambda: want in h.log_text()), h.log_text()[-3000:]
    if fork == "yes" and kernel_at_least(6, 15):
        # The master names the session and client too (PIDFD_INFO_EXIT).
        assert wait_for(lambda: re.search(
            r"master\[\d+\]: warning: s\d+\.\d+: login worker \d+ \(client 127\.0\.0\.1\) "
            r"killed by signal 31 \(SIGSYS", h.log_text())), h.log_text()[-3000:]
    # The next client is served as usual.
    m = h.login("alice")
    m.logout()


@needs_root
def test_without_a_filter_the_call_goes_through(haven_factory):
    # The control: it is the filter that kills, not the hook.
    h = haven_factory(extra_conf="seccomp = no\n")
    line = xtest_syscall(h)
    assert line.startswith(b"a NO socket() was allowed"), line
    with open("/proc/%d/status" % h.proc.pid) as f:
        assert "Seccomp:\t0" in f.read()
