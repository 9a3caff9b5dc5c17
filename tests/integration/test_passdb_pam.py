"""passdb = pam with real system users made here (useradd, chpasswd) and
a real PAM service file: success (the worker runs as the user, in the
user's home from NSS), a wrong password, a locked account (usermod -L),
an expired account (chage -E 0: NO [EXPIRED]), and a PAM module that
hangs (pam_exec running a script that sleeps) answered NO [UNAVAILABLE]
after passdb_timeout, while another user's login in the meantime is
answered at once. Also: pam and file in one list, tried in order."""
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

from conftest import IS_ROOT, Haven, check_sanitizers
from procs import descendants_of

pytestmark = pytest.mark.skipif(not IS_ROOT or not os.path.exists("/usr/sbin/useradd"),
                                reason="needs root to make system users and a PAM service")


class PamSetup:
    """Users and a PAM service for one test module; all removed after."""

    def __init__(self):
        self.tag = uuid.uuid4().hex[:6]
        self.dir = tempfile.mkdtemp(prefix="haven-pam-")
        os.chmod(self.dir, 0o755)
        self.service = "haven-test-" + self.tag
        self.users = []
        self.marker = os.path.join(self.dir, "hanging")
        self.script = os.path.join(self.dir, "hang.sh")
        with open(self.script, "w") as f:
            # Hangs for one user only; says so first.
            f.write("#!/bin/sh\nif [ \"$PAM_USER\" = \"hang%s\" ]; then touch %s; sleep 120; fi\n"
                    "exit 0\n" % (self.tag, self.marker))
        os.chmod(self.script, 0o755)
        with open("/etc/pam.d/" + self.service, "w") as f:
            f.write("auth requisite pam_exec.so quiet %s\n"
                    "auth required pam_unix.so\n"
                    "account required pam_unix.so\n" % self.script)

    def user(self, name, password):
        name = name + self.tag
        home = os.path.join(self.dir, name)
        subprocess.run(["useradd", "-m", "-d", home, "-s", "/usr/sbin/nologin", name],
                       check=True, capture_output=True)
        subprocess.run(["chpasswd"], input="%s:%s\n" % (name, password), text=True, check=True)
        self.users.append(name)
        return name

    def cleanup(self):
        for u in self.users:
            subprocess.run(["userdel", "-r", "-f", u], capture_output=True)
        os.unlink("/etc/pam.d/" + self.service)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def pam():
    p = PamSetup()
    yield p
    p.cleanup()


def start(pam, passdb="pam", timeout_ms=8000):
    h = Haven(extra_conf="passdb = %s\npam_service = %s\npassdb_timeout = %d\n"
              "passdb_cache_ttl = 0\npassdb_cache_negative_ttl = 0\n"
              % (passdb, pam.service, timeout_ms))
    return h.start()


def answer(h, user, password):
    m = h.imap()
    try:
        typ, _ = m.login(user, password)
        m.logout()
        return typ
    except m.error as e:
        return str(e)


def test_pam_logins(pam):
    ann = pam.user("ann", "ann-pw-1")
    locked = pam.user("lock", "lock-pw")
    old = pam.user("old", "old-pw")
    h = start(pam)
    try:
        m = h.imap()
        assert m.login(ann, "ann-pw-1")[0] == "OK"
        assert m.select("INBOX")[0] == "OK"
        m.logout()
        # The user worker ran as the system user, in the home NSS gives.
        home = pwd.getpwnam(ann).pw_dir
        st = os.stat(os.path.join(home, "INBOX"))
        assert st.st_uid == pwd.getpwnam(ann).pw_uid
        assert "AUTHENTICATIONFAILED" in answer(h, ann, "wrong")
        assert "AUTHENTICATIONFAILED" in answer(h, "nosuch" + pam.tag, "x")
        assert answer(h, locked, "lock-pw") == "OK"
        subprocess.run(["usermod", "-L", locked], check=True)
        assert "AUTHENTICATIONFAILED" in answer(h, locked, "lock-pw")
        assert answer(h, old, "old-pw") == "OK"
        subprocess.run(["chage", "-E", "0", old], check=True)
        a = answer(h, old, "old-pw")
        assert "[EXPIRED]" in a, a
        # ... but only for the right password: a wrong one learns nothing.
        assert "AUTHENTICATIONFAILED" in answer(h, old, "not-it")
        check_sanitizers(h.stop())
    finally:
        h.stop()
        h.cleanup()


def test_hanging_module_stalls_nothing_else(pam):
    slow = pam.user("hang", "hang-pw")
    quick = pam.user("quick", "quick-pw")
    h = start(pam, timeout_ms=8000)
    try:
        result = {}

        def hanging_login():
            result["slow"] = answer(h, slow, "hang-pw")
            result["slow_done"] = time.monotonic()

        t = threading.Thread(target=hanging_login)
        t.start()
        deadline = time.time() + 60
        while not os.path.exists(pam.marker) and time.time() < deadline:
            time.sleep(0.05)
        assert os.path.exists(pam.marker), "the PAM module never ran"
        # While the module hangs, another user logs in.
        assert answer(h, quick, "quick-pw") == "OK"
        quick_done = time.monotonic()
        assert "slow" not in result, "the hanging login was answered before the other one"
        t.join(90)
        assert "UNAVAILABLE" in result["slow"], result
        assert quick_done < result["slow_done"]
        # The killed child's module (the script) went with it, and the
        # pool has a child again: the next login works.
        deadline = time.time() + 30
        while any(pam.script in " ".join(argv) for _, argv in descendants_of(h.proc.pid)):
            assert time.time() < deadline, "the hanging module outlived its child"
            time.sleep(0.1)
        assert answer(h, quick, "quick-pw") == "OK"
        log = h.log_text()
        assert "timed out (passdb_timeout): killed" in log
        check_sanitizers(h.stop())
    finally:
        os.path.exists(pam.marker) and os.unlink(pam.marker)
        h.stop()
        h.cleanup()


def test_pam_then_file(pam):
    """The list is tried in order until one database knows the user."""
    pat = pam.user("pat", "pat-pw")
    h = Haven(extra_conf="pam_service = %s\n" % pam.service)
    with open(h.conf) as f:
        conf = f.read().replace("passdb = file:", "passdb = pam, file:")
    with open(h.conf, "w") as f:
        f.write(conf)
    h.start()
    try:
        assert answer(h, pat, "pat-pw") == "OK"
        assert answer(h, "alice", "pw-alice") == "OK"      # PAM does not know her: the file does
        assert "AUTHENTICATIONFAILED" in answer(h, pat, "pw-alice")
        check_sanitizers(h.stop())
    finally:
        h.stop()
        h.cleanup()
