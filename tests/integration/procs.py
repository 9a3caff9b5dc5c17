"""Processes seen from /proc, for the tests that look at Haven's process tree."""
import os
import time


def children_of(pid):
    """(pid, argv) of the direct children of pid, from /proc."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) != pid or fields[0] == "Z":
                continue
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = [a.decode() for a in f.read().split(b"\0") if a]
            kids.append((int(d), argv))
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
    return kids


def descendants_of(pid):
    """(pid, argv) of every process below pid: login workers forked by the
    login template are the master's grandchildren."""
    out, pending = [], [pid]
    while pending:
        kids = children_of(pending.pop())
        out += kids
        pending += [k for k, _ in kids]
    return out


def is_login_template(argv):
    """The haven-login that forks login workers and serves no client."""
    return "template" in argv[1:]


def wait_for(pred, timeout=20):
    """pred()'s first true value within timeout seconds, else its last."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return pred()
