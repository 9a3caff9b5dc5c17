"""What bench/run reads from /proc about a server: its process trees, their
CPU time and memory. A server is one or more roots (Haven with the
PostgreSQL store is havend's tree plus the postmaster's)."""
import os


def _children():
    kids = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                s = f.read()
        except OSError:
            continue
        ppid = int(s[s.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(p))
    return kids


def tree(root):
    """root and every descendant (pids)."""
    kids = _children()
    out, pending = [], [root]
    while pending:
        p = pending.pop()
        out.append(p)
        pending += kids.get(p, [])
    return out


def trees(roots):
    return [p for r in roots for p in tree(r)]


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def cpu_seconds(roots):
    """utime+stime+cutime+cstime over the live trees: exited, reaped
    children are in their parent's cutime/cstime."""
    tck = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in trees(roots):
        try:
            with open("/proc/%d/stat" % p) as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2:].split()
        total += sum(int(x) for x in fields[11:15])
    return total / tck


def pss_kib(roots):
    """(sum of Pss over the trees in KiB, number of processes)."""
    total, n = 0, 0
    for p in trees(roots):
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for ln in f:
                    if ln.startswith("Pss:"):
                        total += int(ln.split()[1])
                        n += 1
        except OSError:
            continue
    return total, n


def status_kib(pid, field):
    """A kB field of /proc/PID/status (VmHWM: peak RSS, VmRSS), or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith(field + ":"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return None
