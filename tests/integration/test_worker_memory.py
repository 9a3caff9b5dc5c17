"""A user worker keeps the heap a closed mailbox freed for the next SELECT
(so a warm SELECT of a big mailbox does not fault in megabytes of zeroed
pages again), but gives it back to the kernel once it has been idle for a
few seconds: a worker that lingers after a big mailbox must not keep its
size. Runs the normal build's helpers: the sanitizers' allocator keeps
memory by rules of its own."""
import os
import socket
import time

import pytest

from conftest import Haven, ROOT, read_until_tagged
from procs import children_of
from test_mbox_index import write_mbox

# About mbox files or processes, not the storage interface.
BACKENDS = ["mbox"]

PLAIN_BUILD = os.environ.get("HAVEN_PLAIN_BUILD", os.path.join(ROOT, "build"))
MESSAGES = 60000


def run(s, f, tag, cmd):
    s.sendall(tag + b" " + cmd + b"\r\n")
    lines = read_until_tagged(f, tag)
    assert lines[-1].startswith(tag + b" OK"), lines[-1]
    return lines


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def user_worker(h):
    found = [pid for pid, argv in children_of(h.proc.pid)
             if argv and os.path.basename(argv[0]) == "haven-worker"]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.skipif(not os.path.exists(os.path.join(PLAIN_BUILD, "haven-worker")),
                    reason="normal build missing")
def test_idle_worker_returns_a_closed_mailboxs_memory():
    h = Haven(users=("alice",), extra_conf="worker_idle_timeout = 300")
    conf = open(h.conf).read().replace("libexec_dir = ", "libexec_dir = %s\n#" % PLAIN_BUILD)
    open(h.conf, "w").write(conf)
    h.start()
    try:
        s = socket.create_connection(("127.0.0.1", h.port), timeout=60)
        f = s.makefile("rb")
        f.readline()
        run(s, f, b"l", b"LOGIN alice pw-alice")   # creates the home
        inbox = os.path.join(h.home_root, "alice", "INBOX")
        write_mbox(inbox, MESSAGES)
        home = os.stat(os.path.dirname(inbox))
        os.chown(inbox, home.st_uid, home.st_gid)
        pid = user_worker(h)
        base = rss_kib(pid)
        run(s, f, b"a", b"EXAMINE INBOX")
        selected = rss_kib(pid)
        # The scan and the view of 60,000 messages: several MiB.
        assert selected - base > 4096, (base, selected)
        run(s, f, b"b", b"CLOSE")
        # A second SELECT reuses what the first one freed.
        run(s, f, b"c", b"EXAMINE INBOX")
        assert rss_kib(pid) < selected + 2048
        run(s, f, b"d", b"CLOSE")
        deadline = time.time() + 30
        while rss_kib(pid) > base + 2048 and time.time() < deadline:
            time.sleep(0.5)
        assert rss_kib(pid) <= base + 2048, (base, selected, rss_kib(pid))
        run(s, f, b"z", b"LOGOUT")
        s.close()
    finally:
        h.stop()
        h.cleanup()
