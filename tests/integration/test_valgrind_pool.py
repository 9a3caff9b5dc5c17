"""Valgrind on the master (normal build) while it runs its pool of login
workers through everything that changes it: clients queued while the pool
is empty, reused workers, workers that proxy TLS, a pooled worker killed,
a reload that replaces the pool, clients that vanish before they get a
worker, and a shutdown with connections still open. No leaks, no memory
errors. Only havend runs under valgrind here (test_valgrind.py covers the
auth helper and the user worker)."""
import glob
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

import vgrun
from netwait import wait_listening
from conftest import Haven, ROOT, read_until_tagged
from procs import children_of, descendants_of, is_login_template

# About mbox files or processes, not the storage interface.
BACKENDS = ["mbox"]

PLAIN_BUILD = os.environ.get("HAVEN_PLAIN_BUILD", os.path.join(ROOT, "build"))


def haven_logins(master, template):
    """The login template (a child of the master), or the pooled login
    workers it forked (its children, not the master's)."""
    procs = children_of(master) if template else descendants_of(master)
    return [pid for pid, argv in procs if argv and os.path.basename(argv[0]) == "haven-login"
            and is_login_template(argv) == template]


def wait_for(pred, timeout=60):
    deadline = time.time() + timeout
    while not pred() and time.time() < deadline:
        time.sleep(0.1)
    return pred()


def session(h, user, password, tls=False):
    """LOGIN, NOOP, LOGOUT on a raw socket (plain or implicit TLS)."""
    if tls:
        ctx = ssl.create_default_context(cafile=h.cert)
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", h.tls_port), timeout=120),
                            server_hostname="127.0.0.1")
    else:
        s = socket.create_connection(("127.0.0.1", h.port), timeout=120)
    f = s.makefile("rb")
    assert f.readline().startswith(b"* OK")
    s.sendall(b"a LOGIN %s %s\r\n" % (user.encode(), password.encode()))
    ok = read_until_tagged(f, b"a")[-1].startswith(b"a OK")
    if ok:
        s.sendall(b"b NOOP\r\n")
        assert read_until_tagged(f, b"b")[-1].startswith(b"b OK")
    s.sendall(b"c LOGOUT\r\n")
    read_until_tagged(f, b"c")
    s.close()
    return ok


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
@pytest.mark.skipif(not os.path.exists(os.path.join(PLAIN_BUILD, "havend")),
                    reason="normal build missing")
def test_master_with_login_pool_under_valgrind():
    logdir = tempfile.mkdtemp(prefix="haven-vgpool-")
    h = Haven(extra_conf="login_pool_size = 2\nlogin_connections_per_process = 3\n"
                         "auth_failure_delay_ms = 10")
    conf = open(h.conf).read().replace("libexec_dir = ", "libexec_dir = %s\n#" % PLAIN_BUILD)
    open(h.conf, "w").write(conf)
    h.logf = open(h.log, "w")
    h.proc = subprocess.Popen(
        ["valgrind", "--vgdb=no", "--trace-children=no", "--leak-check=full",
         "--show-leak-kinds=definite,indirect", "--errors-for-leak-kinds=definite,indirect",
         "--error-exitcode=99", "--log-file=%s/vg.%%p" % logdir,
         os.path.join(PLAIN_BUILD, "havend"), "-F", "-c", h.conf],
        stdout=h.logf, stderr=subprocess.STDOUT)
    try:
        wait_listening(h.port, h.proc, 60, h.log_text)
        master = h.proc.pid
        # More clients at once than the pool holds: some wait in the queue.
        results = []
        threads = [threading.Thread(target=lambda i=i: results.append(
            session(h, "alice" if i % 2 else "bob", "pw-alice" if i % 2 else "pw-bob")))
            for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert results == [True] * 8, results
        # Failed logins and a vanishing client on reused workers.
        assert not session(h, "alice", "wrong")
        socket.create_connection(("127.0.0.1", h.port), timeout=10).close()
        # TLS: the worker proxies, then goes.
        assert session(h, "alice", "pw-alice", tls=True)
        # A pooled worker killed (the pool's workers are the template's
        # children); then the template itself; a reload that grows the pool.
        assert wait_for(lambda: len(haven_logins(master, False)) >= 2), \
            descendants_of(master)
        victim = haven_logins(master, False)[0]
        os.kill(victim, signal.SIGKILL)
        assert wait_for(lambda: victim not in haven_logins(master, False))
        (template,) = haven_logins(master, True)
        os.kill(template, signal.SIGKILL)
        assert wait_for(lambda: haven_logins(master, True) not in ([], [template]))
        assert session(h, "alice", "pw-alice")
        with open(h.conf, "a") as f:
            f.write("login_pool_size = 3\n")
        h.proc.send_signal(signal.SIGHUP)
        time.sleep(2)
        assert session(h, "bob", "pw-bob")
        # Shut down with a client still in the pre-auth state.
        s = socket.create_connection(("127.0.0.1", h.port), timeout=60)
        f = s.makefile("rb")
        assert f.readline().startswith(b"* OK")
        h.proc.send_signal(signal.SIGTERM)
        assert b"BYE" in f.read()
        s.close()
        h.proc.wait(timeout=120)
        reports = glob.glob(os.path.join(logdir, "vg.%d" % master))
        assert reports, os.listdir(logdir)
        text = open(reports[0], errors="replace").read()
        assert re.search(r"Command: \S*havend", text), text[:2000]
        assert "ERROR SUMMARY: 0 errors" in text, text[-6000:]
        assert h.proc.returncode == 0, h.log_text()[-3000:]
    finally:
        vgrun.finish(h, logdir)
