"""Network namespaces for multi-host tests (and the bench's scaleout
profile): one namespace for PostgreSQL, one per havend host, the clients
in the root namespace. Every host has two point-to-point veth links: a
front one to the root namespace (its clients) and a back one to the
database's namespace, so one host's path to the database can be cut while
its clients still reach it.

Names carry the pid, so parallel runs do not collide; deleting a namespace
deletes the veth ends inside it and so their peers, hence cleanup() (also
registered with atexit, for a run that dies before its finalizers) cannot
leave links behind. Namespaces of runs whose pid is gone are swept at the
start of the next run."""
import atexit
import os
import re
import subprocess

PREFIX = "hvso"


def _ip(*args, ns=None, check=True):
    argv = ["ip"] + (["netns", "exec", ns, "ip"] if ns else []) + list(args)
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def namespaces():
    r = _ip("netns", "list", check=False)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def sweep_stale():
    """Delete namespaces left by earlier runs whose process is gone."""
    for name in namespaces():
        m = re.match(PREFIX + r"(\d+)-", name)
        if m and not os.path.exists("/proc/%s" % m.group(1)):
            _ip("netns", "del", name, check=False)


def _free_octet():
    """A second octet for 10.X.0.0/16 that no route of the root namespace
    uses, tried from one derived from the pid."""
    routes = _ip("route", "show", "table", "all", check=False).stdout
    for i in range(200):
        x = 20 + (os.getpid() + i) % 200
        if " 10.%d." % x not in " " + routes.replace("\n", " "):
            return x
    raise RuntimeError("no free 10.X.0.0/16 subnet for the test network")


class Topology:
    """The database namespace and n host namespaces, linked as above.
    host_addr(i): where clients reach host i; db_addr(i): the database's
    address on host i's back link."""

    def __init__(self, hosts):
        self.tag = "%s%d" % (PREFIX, os.getpid())
        self.hosts = hosts
        self.made = []
        self.net = None

    def ns(self, name):
        return "%s-%s" % (self.tag, name)

    def host_ns(self, i):
        return self.ns("h%d" % i)

    def db_ns(self):
        return self.ns("db")

    def host_addr(self, i):
        return "10.%d.%d.2" % (self.net, 100 + i)

    def db_addr(self, i):
        return "10.%d.%d.1" % (self.net, i)

    def subnet(self):
        return "10.%d.0.0/16" % self.net

    def back_link(self, i):
        """(namespace, device) of host i's end of its link to the database."""
        return self.host_ns(i), "b%d" % i

    def create(self):
        sweep_stale()
        self.net = _free_octet()
        atexit.register(self.cleanup)
        self._make_ns(self.db_ns())
        for i in range(self.hosts):
            self._make_ns(self.host_ns(i))
            self._link(i)
        return self

    def _make_ns(self, name):
        _ip("netns", "add", name)
        self.made.append(name)
        _ip("link", "set", "lo", "up", ns=name)

    def _pair(self, a, a_ns, a_addr, b, b_ns, b_addr):
        """A veth pair a (in a_ns, None: root) -- b (in b_ns), /24 each side."""
        tmp = "%sv%d" % (self.tag[-6:], len(self.made) * 10 + int(a[-1]))
        _ip("link", "add", tmp + "a", "type", "veth", "peer", "name", tmp + "b")
        for dev, ns, name, addr in ((tmp + "a", a_ns, a, a_addr), (tmp + "b", b_ns, b, b_addr)):
            if ns:
                _ip("link", "set", dev, "netns", ns)
            _ip("link", "set", dev, "name", name, ns=ns)
            _ip("addr", "add", addr + "/24", "dev", name, ns=ns)
            _ip("link", "set", name, "up", ns=ns)

    def _link(self, i):
        # back: database namespace <-> host i
        self._pair("d%d" % i, self.db_ns(), self.db_addr(i),
                   "b%d" % i, self.host_ns(i), "10.%d.%d.2" % (self.net, i))
        # front: root namespace (the clients) <-> host i; the root end's
        # name is unique per run (the root namespace is shared)
        self._pair("%sf%d" % (self.tag[-8:], i), None, "10.%d.%d.1" % (self.net, 100 + i),
                   "f%d" % i, self.host_ns(i), self.host_addr(i))

    def set_back_link(self, i, up):
        ns, dev = self.back_link(i)
        _ip("link", "set", dev, "up" if up else "down", ns=ns)

    def exec_argv(self, ns):
        return ["ip", "netns", "exec", ns]

    def cleanup(self):
        for name in reversed(self.made):
            _ip("netns", "del", name, check=False)
        self.made = []


def can_create():
    """(True, "") if this process can make a namespace and a veth pair, else
    (False, why)."""
    if os.geteuid() != 0:
        return False, "not root"
    name = "%s%d-probe" % (PREFIX, os.getpid())
    r = _ip("netns", "add", name, check=False)
    if r.returncode != 0:
        return False, r.stderr.strip()
    try:
        r = _ip("link", "add", "p", "type", "veth", "peer", "name", "q", ns=name, check=False)
        return (r.returncode == 0, r.stderr.strip())
    finally:
        _ip("netns", "del", name, check=False)
