"""The Debian package, as an administrator meets it (issue 12): built with
dpkg-buildpackage from a clean export of the tree, lintian without errors,
the systemd unit accepted by systemd-analyze, installed with `apt-get
install ./haven-imapd_*.deb` into a minimal Debian 12 chroot (only its
declared dependencies pulled in), `havend -t` and a running havend with
the shipped configuration answering IMAP, then `apt-get purge` leaving
none of its files behind.

The debootstrapped base is cached as a tarball under /var/cache/haven-test
(keyed by suite and architecture; made from scratch when missing) and the
downloaded .debs beside it, so that a rerun takes a fraction of a cold one.
Needs root (debootstrap, chroot, mount namespaces) and the tools
scripts/install-deps installs; skipped with the reason otherwise."""
import glob
import os
import shutil
import socket
import subprocess
import tempfile

import pytest

from conftest import IS_ROOT, ROOT, free_port
from netwait import wait_listening

SUITE = "bookworm"
PKG = "haven-imapd"
CACHE = "/var/cache/haven-test"
TOOLS = ("dpkg-buildpackage", "dh", "lintian", "debootstrap", "unshare")

pytestmark = [
    pytest.mark.skipif(not IS_ROOT, reason="packaging test needs root (debootstrap, chroot)"),
    pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                       reason="packaging tools missing (run scripts/install-deps): " +
                       ", ".join(t for t in TOOLS if shutil.which(t) is None)),
    pytest.mark.skipif(not os.path.isdir(os.path.join(ROOT, ".git")) and
                       not os.path.isfile(os.path.join(ROOT, ".git")),
                       reason="packaging test exports the tree with git: not a git checkout"),
]


def run(cmd, **kw):
    """Runs cmd, failing the test with its output when it fails."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    assert p.returncode == 0, f"{cmd} exited {p.returncode}:\n{p.stdout[-6000:]}"
    return p.stdout


def host_arch():
    return run(["dpkg", "--print-architecture"]).strip()


def apt_setting(name):
    """A value of the host's apt configuration (empty when unset)."""
    out = run(["apt-config", "shell", "V", name])
    return out.split("=", 1)[1].strip().strip("'") if "=" in out else ""


def mirror():
    """The Debian mirror the host's apt uses, so debootstrap goes where
    apt-get goes (deb.debian.org unless the sources name another)."""
    for path in glob.glob("/etc/apt/sources.list.d/*.sources") + ["/etc/apt/sources.list"]:
        if not os.path.exists(path):
            continue
        for line in open(path):
            words = line.split()
            if words[:1] == ["URIs:"] and words[1].rstrip("/").endswith("/debian"):
                return words[1]
            if words[:1] == ["deb"] and SUITE in words and words[-2:-1] != ["debian-security"]:
                return next(w for w in words[1:] if "://" in w)
    return "http://deb.debian.org/debian"


def net_env():
    """The environment for debootstrap and the chroot's apt: the proxy
    apt is configured with, if any, as http_proxy."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C.UTF-8")
    proxy = apt_setting("Acquire::http::Proxy")
    if proxy:
        env["http_proxy"] = proxy
    return env


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    """Builds the binary packages from `git ls-files` of the work tree (what
    a commit of it would hold, uncommitted edits included, no build
    products), as a packager would from a release tarball."""
    top = tmp_path_factory.mktemp("pkgbuild")
    src = top / "haven"
    src.mkdir()
    files = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], check=True,
                           stdout=subprocess.PIPE).stdout
    tar = subprocess.run(["tar", "-C", ROOT, "--null", "-T", "-", "-cf", "-"], input=files,
                         stdout=subprocess.PIPE, check=True).stdout
    subprocess.run(["tar", "-C", str(src), "-xf", "-"], input=tar, check=True)
    shutil.copytree(src / "packaging" / "debian", src / "debian")
    # The C unit tests run in the suite already (make check): nocheck
    # keeps the package build to the compile, noddebs skips the debug
    # symbols package nobody installs here.
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck noddebs parallel=2")
    run(["nice", "dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env)
    found = sorted(glob.glob(str(top / "*.deb")))
    assert any(os.path.basename(d).startswith(PKG + "_") for d in found), found
    return {"dir": str(top), "debs": found, "changes": glob.glob(str(top / "*.changes"))[0]}


def test_lintian_reports_no_errors(debs):
    p = subprocess.run(["lintian", "--fail-on", "error", "--no-tag-display-limit",
                        debs["changes"]], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    errors = [ln for ln in p.stdout.splitlines() if ln.startswith("E:")]
    assert errors == [] and p.returncode == 0, p.stdout


def base_tarball():
    """The cached debootstrapped base: minbase of SUITE for this
    architecture, made (and cached) when missing."""
    arch = host_arch()
    path = os.path.join(CACHE, f"debootstrap-{SUITE}-{arch}.tar")
    if os.path.exists(path):
        return path
    os.makedirs(CACHE, exist_ok=True)
    work = tempfile.mkdtemp(prefix="haven-debootstrap-", dir=CACHE)
    try:
        run(["debootstrap", "--variant=minbase", f"--arch={arch}", SUITE, work, mirror()],
            env=net_env())
        run(["tar", "-C", work, "--numeric-owner", "-cf", path + ".part", "."])
        os.rename(path + ".part", path)
    finally:
        run(["rm", "-rf", "--one-file-system", work])
    return path


class Chroot:
    """A throwaway chroot unpacked from the cached base. Every command runs
    in a private mount namespace that mounts /proc and /dev itself, so no
    mount outlives the command, whatever happens to the test."""

    def __init__(self, top):
        self.root = os.path.join(top, "root")
        os.mkdir(self.root)
        run(["tar", "-C", self.root, "--numeric-owner", "-xf", base_tarball()])
        # Services that maintainer scripts try to start: none in a chroot.
        policy = os.path.join(self.root, "usr/sbin/policy-rc.d")
        with open(policy, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy, 0o755)
        shutil.copy("/etc/resolv.conf", os.path.join(self.root, "etc/resolv.conf"))
        self.archives = os.path.join(CACHE, f"archives-{SUITE}-{host_arch()}")
        os.makedirs(os.path.join(self.archives, "partial"), exist_ok=True)

    def argv(self, cmd):
        r = self.root
        script = (f"mount -t proc proc {r}/proc && mount --rbind /dev {r}/dev && "
                  f"mount --bind {self.archives} {r}/var/cache/apt/archives && "
                  'exec chroot "$0" "$@"')
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, r] + cmd

    def run(self, cmd, **kw):
        return run(self.argv(cmd), env=net_env(), **kw)

    def popen(self, cmd, log):
        return subprocess.Popen(self.argv(cmd), stdout=log, stderr=subprocess.STDOUT,
                                env=net_env(), start_new_session=True)

    def tree(self):
        """Every path in the chroot but the kernel's and apt's own state."""
        skip = ("proc", "dev", "sys", "tmp", "var/cache/apt", "var/lib/apt", "var/lib/dpkg",
                "var/log")
        paths = set()
        for top, dirs, files in os.walk(self.root):
            rel = os.path.relpath(top, self.root)
            dirs[:] = [d for d in dirs if os.path.normpath(os.path.join(rel, d)) not in skip]
            for name in dirs + files:
                paths.add("/" + os.path.normpath(os.path.join(rel, name)))
        return paths

    def remove(self):
        mounts = run(["findmnt", "-rn", "-o", "TARGET"]).split()
        assert not [m for m in mounts if m.startswith(self.root)], "mount left in chroot"
        run(["rm", "-rf", "--one-file-system", self.root])


@pytest.fixture(scope="module")
def chroot(debs, tmp_path_factory):
    c = Chroot(str(tmp_path_factory.mktemp("chroot")))
    yield c
    c.remove()


@pytest.fixture(scope="module")
def installed(debs, chroot):
    """The package installed from its .deb file: apt resolves its declared
    dependencies from the Debian archive."""
    before = chroot.tree()
    deb = next(d for d in debs["debs"] if os.path.basename(d).startswith(PKG + "_"))
    shutil.copy(deb, os.path.join(chroot.root, "tmp"))
    chroot.run(["apt-get", "update", "-q"])
    chroot.run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                "/tmp/" + os.path.basename(deb)])
    files = chroot.run(["dpkg", "-L", PKG]).split()
    return {"before": before, "files": files}


def test_unit_passes_systemd_analyze_verify(installed, chroot):
    # In the chroot, where the unit's ExecStart= binaries and its
    # Documentation= man pages are; systemd (for its targets and
    # systemd-analyze) and man-db come after the package, which needs
    # neither.
    chroot.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "systemd",
                "man-db"])
    out = chroot.run(["systemd-analyze", "verify", "/lib/systemd/system/haven.service"])
    assert "haven.service" not in out, out


def test_package_ships_unit_pam_sysctl_and_man_pages(installed):
    files = set(installed["files"])
    for path in ("/lib/systemd/system/haven.service", "/etc/pam.d/haven",
                 "/usr/lib/sysctl.d/60-haven.conf", "/etc/haven/haven.conf",
                 "/usr/sbin/havend", "/usr/sbin/haven-deliver",
                 "/usr/share/man/man8/havend.8.gz", "/usr/share/man/man5/haven.conf.5.gz",
                 "/usr/share/man/man8/haven-deliver.8.gz"):
        assert path in files, path


def test_sysctl_raises_inotify_instances(installed, chroot):
    text = open(os.path.join(chroot.root, "usr/lib/sysctl.d/60-haven.conf")).read()
    values = dict(ln.replace(" ", "").split("=") for ln in text.splitlines()
                  if ln.strip() and not ln.startswith("#"))
    assert int(values["fs.inotify.max_user_instances"]) >= 1024


def test_postinst_creates_users_and_chroot(installed, chroot):
    passwd = open(os.path.join(chroot.root, "etc/passwd")).read()
    users = {ln.split(":")[0]: ln.split(":") for ln in passwd.splitlines()}
    assert "haven" in users and "havenmail" in users
    assert int(users["haven"][2]) < 1000 and users["haven"][6] == "/usr/sbin/nologin"
    empty = os.path.join(chroot.root, "var/lib/haven/empty")
    st = os.stat(empty)
    assert st.st_uid == 0 and oct(st.st_mode & 0o777) == "0o755" and os.listdir(empty) == []
    assert os.stat(os.path.join(chroot.root, "etc/haven/passwd")).st_mode & 0o077 == 0o040


def test_havend_checks_the_shipped_config(installed, chroot):
    out = chroot.run(["/usr/sbin/havend", "-t"])
    assert "error" not in out.lower(), out


def test_havend_answers_imap_with_the_shipped_config(installed, chroot, tmp_path):
    port = free_port()
    log_path = tmp_path / "havend.log"
    with open(log_path, "w") as log:
        proc = chroot.popen(["/usr/sbin/havend", "-F", "-o", f"listen=127.0.0.1:{port}"], log)
    try:
        wait_listening(port, proc, 60, log_path.read_text)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            f = s.makefile("rwb")
            greeting = f.readline()
            assert greeting.startswith(b"* OK"), greeting
            f.write(b"a CAPABILITY\r\n")
            f.flush()
            lines = [f.readline(), f.readline()]
            assert lines[0].startswith(b"* CAPABILITY") and b"IMAP4rev1" in lines[0], lines
            assert lines[1].startswith(b"a OK"), lines
    finally:
        os.kill(proc.pid, 15)  # the master, as systemd (KillMode=mixed)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
    # SIGTERM: the master ends its children and exits cleanly.
    assert proc.returncode == 0, log_path.read_text()


def test_purge_leaves_nothing_behind(installed, chroot):
    # Last in the module: it takes the package away.
    chroot.run(["apt-get", "purge", "-y", "-q", PKG])
    after = chroot.tree()
    left = [f for f in installed["files"] if f in after and not os.path.isdir(
        os.path.join(chroot.root, f.lstrip("/")))]
    assert left == [], left
    new = sorted(p for p in after - installed["before"] if "haven" in p)
    assert new == [], new
    # Per Debian policy the system users haven and havenmail stay: files
    # elsewhere may still be owned by havenmail (postrm says so).
    assert "havenmail:" in open(os.path.join(chroot.root, "etc/passwd")).read()
