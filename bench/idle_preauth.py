#!/usr/bin/python3
"""What idle pre-auth connections cost Haven: opens N plain connections that
read the greeting and then send nothing, and reports the proportional set
size (PSS, from /proc/PID/smaps_rollup) of all of Haven's processes before
and after, per connection, with the process count and the master's own
share. One process per pre-auth connection (haven.conf(5),
login_connections_per_process) is what this measures.

    HAVEN_BUILD=$PWD/build /usr/bin/python3 bench/idle_preauth.py [N ["key = value" ...]]

Further arguments are haven.conf lines (e.g. "login_fork = no").

Needs root (the login workers switch to the haven user). Loopback only;
the connections close when it ends. Not part of make check or make bench."""
import os
import resource
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

from conftest import Haven  # noqa: E402
from procs import descendants_of  # noqa: E402


def pss_kib(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(h):
    return [h.proc.pid] + [p for p, _ in descendants_of(h.proc.pid)]


def settle(h):
    """Wait until the process count stops changing (pool refilled)."""
    last, same = -1, 0
    while same < 5:
        n = len(tree(h))
        same = same + 1 if n == last else 0
        last = n
        time.sleep(0.2)


def snapshot(h):
    pids = tree(h)
    return len(pids), sum(pss_kib(p) for p in pids), pss_kib(h.proc.pid)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 256)), hard))
    extra = "".join(a + "\n" for a in sys.argv[2:])
    h = Haven(tls=False, extra_conf="max_connections = %d\npreauth_timeout = 3600\n"
                                    "preauth_idle_timeout = 3600\nlog_level = warning\n%s"
                                    % (n + 100, extra))
    h.start()
    socks = []
    try:
        settle(h)
        procs0, pss0, master0 = snapshot(h)
        t = time.monotonic()
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", h.port), timeout=60)
            f = s.makefile("rb")
            assert f.readline().startswith(b"* OK")
            socks.append((s, f))
        took = time.monotonic() - t
        settle(h)
        procs1, pss1, master1 = snapshot(h)
        print("haven: %d idle pre-auth connections (greeted one after another in %.1f s)"
              % (n, took))
        print("  processes: %d -> %d" % (procs0, procs1))
        print("  PSS of all Haven processes: %.1f MiB -> %.1f MiB" % (pss0 / 1024, pss1 / 1024))
        print("  per connection: %.0f KiB PSS (the master's share: %.1f KiB)"
              % ((pss1 - pss0) / n, (master1 - master0) / n))
    finally:
        for s, _ in socks:
            s.close()
        h.stop()
        h.cleanup()


if __name__ == "__main__":
    main()
