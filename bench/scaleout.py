#!/usr/bin/python3
"""The scaleout profile (issue 14), run on its own: `bench/scaleout.py`
(root; not part of `make bench`, whose servers all sit on 127.0.0.1).

It builds the multi-host topology of tests/integration/test_scaleout.py
(each havend host in its own network namespace, PostgreSQL in another)
from the plain build and measures
  1. aggregate commands/s of SCALE_CLIENTS clients (the test's mixed load:
     APPEND, UID COPY/MOVE/STORE, EXPUNGE, IDLE, STATUS on one user's
     mailboxes) spread over 1, 2 and 3 hosts, SCALE_SECONDS each;
  2. push latency: SCALE_APPENDS APPENDs one after the other on host B
     while an IDLE session on host A waits, under the same load on all
     hosts: from each APPEND's tagged OK to the EXISTS that counts it.
Prints one JSON object."""
import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
os.environ.setdefault("HAVEN_BUILD", os.path.join(HERE, "..", "build"))

import scaleload  # noqa: E402
import test_scaleout  # noqa: E402

SECONDS = int(os.environ.get("SCALE_SECONDS", "20"))
CLIENTS = int(os.environ.get("SCALE_CLIENTS", "27"))
APPENDS = int(os.environ.get("SCALE_APPENDS", "1000"))


def throughput(c, hosts):
    """Commands answered per second by CLIENTS clients on the first hosts."""
    rec, stop = c.rec, threading.Event()
    rec.answers, rec.oks = [], []
    addrs = c.addrs()[:hosts]
    clients = [scaleload.Client(k, addrs, k % hosts, rec, stop, "b%d" % hosts)
               for k in range(CLIENTS)]
    for t in clients:
        t.start()
    time.sleep(SECONDS)
    stop.set()
    for t in clients:
        t.join(60)
    return round((len(rec.oks) + len(rec.answers)) / SECONDS, 1)


def push_latency(c):
    """(p50, p99, max) in ms over APPENDS appends on host 1 seen on host 0."""
    stop = threading.Event()
    load = [scaleload.Client(k, c.addrs(), k % 3, c.rec, stop, "pl")
            for k in range(CLIENTS - 3)]
    for t in load:
        t.push_share = 0  # Push's EXISTS count only the measured APPENDs
        t.start()
    w = scaleload.Watcher(c.hosts[0].addr, c.hosts[0].port, 0)
    w.start()
    conn = scaleload.Conn(c.hosts[1].addr, c.hosts[1].port, "alice", "pw-alice")
    base, oks = w.exists(), []
    for i in range(APPENDS):
        tagged, _ = conn.cmd(b"APPEND %s ()" % scaleload.PUSH.encode(),
                             scaleload.message("push.%d.%d@bench" % (os.getpid(), i)))
        oks.append(time.monotonic())
    stop.set()
    deadline = time.monotonic() + 30
    while w.exists() < base + APPENDS and time.monotonic() < deadline:
        time.sleep(0.1)
    w.finish()
    conn.close()
    lat = []
    for i, t_ok in enumerate(oks):
        t = next((t for n, t in w.seen if n >= base + i + 1), None)
        lat.append(None if t is None else max(0.0, t - t_ok) * 1000)
    seen = [x for x in lat if x is not None]
    for t in load:
        t.join(60)
    return {"appends": APPENDS, "seen": len(seen),
            "p50_ms": round(scaleload.percentile(seen, 50), 1),
            "p99_ms": round(scaleload.percentile(seen, 99), 1),
            "max_ms": round(max(seen), 1)}


def main():
    c = test_scaleout.Cluster()
    try:
        out = {"clients": CLIENTS, "seconds": SECONDS, "cpus": os.cpu_count(),
               "fallback": c.fallback,
               "commands_per_s": {h: throughput(c, h) for h in (1, 2, 3)},
               "push": push_latency(c)}
    finally:
        c.cleanup()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
