"""PAM through LDAP: passdb = pam with a PAM service of pam_ldap only
(libpam-ldapd), whose nslcd asks a throwaway slapd. nslcd's socket and
configuration are fixed paths (/run/nslcd/socket, /etc/nslcd.conf), so the
test runs havend and its own nslcd in a mount namespace of their own (a
tmpfs on /run/nslcd, the test's nslcd.conf bound over /etc/nslcd.conf):
the machine's files are untouched and nothing else sees that nslcd. The
password is the directory's; the local account of the same name (NSS's,
for uid, gid and home) has another one, which must not work."""
import os
import shutil
import signal
import subprocess
import time
import uuid

import pytest

import slapd
from conftest import IS_ROOT, Haven, check_sanitizers
from procs import descendants_of

NSLCD = "/usr/sbin/nslcd"
PAM_LDAP = "/lib/x86_64-linux-gnu/security/pam_ldap.so"

pytestmark = pytest.mark.skipif(
    not (IS_ROOT and slapd.available() and os.path.exists(NSLCD) and os.path.exists(PAM_LDAP)
         and shutil.which("unshare")),
    reason="needs root, slapd, nslcd and pam_ldap (install-deps)")

WRAP = """set -e
mount -t tmpfs -o mode=0755 tmpfs /run/nslcd
mount --bind "$NSLCD_CONF" /etc/nslcd.conf
chown nslcd:nslcd /run/nslcd
%s -n &
i=0
while [ ! -S /run/nslcd/socket ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
exec "$@"
""" % NSLCD


def test_pam_ldap_login():
    tag = uuid.uuid4().hex[:6]
    user = "dir" + tag
    d = slapd.Slapd({user: ("directory-pw", 60001, 60001, "/nonexistent", {})}).start()
    service = "haven-ldaptest-" + tag
    home = os.path.join(d.dir, "home")
    h = None
    try:
        subprocess.run(["useradd", "-m", "-d", home, "-s", "/usr/sbin/nologin", user],
                       check=True, capture_output=True)
        subprocess.run(["chpasswd"], input="%s:local-pw\n" % user, text=True, check=True)
        conf = os.path.join(d.dir, "nslcd.conf")
        with open(conf, "w") as f:
            f.write("uid nslcd\ngid nslcd\nuri %s\nbase %s\nbinddn cn=reader,%s\n"
                    "bindpw reader-secret\n" % (d.uri, slapd.BASE, slapd.BASE))
        os.chmod(conf, 0o600)
        with open("/etc/pam.d/" + service, "w") as f:
            f.write("auth required pam_ldap.so\naccount required pam_ldap.so\n")
        os.makedirs("/run/nslcd", exist_ok=True)
        h = Haven(extra_conf="passdb = pam\npam_service = %s\npassdb_cache_ttl = 0\n" % service,
                  wrap=["unshare", "--mount", "--propagation", "private", "sh", "-c", WRAP, "sh"])
        os.environ["NSLCD_CONF"] = conf
        h.start()
        m = h.imap()
        assert m.login(user, "directory-pw")[0] == "OK"
        m.logout()
        for pw in ("local-pw", "wrong"):
            m = h.imap()
            with pytest.raises(m.error) as e:
                m.login(user, pw)
            assert "AUTHENTICATIONFAILED" in str(e.value)
            m.logout()
        # The directory down: pam_ldap cannot tell, and says so.
        d.kill()
        m = h.imap()
        with pytest.raises(m.error) as e:
            m.login(user, "directory-pw")
        assert "UNAVAILABLE" in str(e.value), str(e.value)
        m.logout()
        for pid, argv in descendants_of(h.proc.pid):
            if argv and argv[0] == NSLCD:
                os.kill(pid, signal.SIGTERM)
        check_sanitizers(h.stop())
    finally:
        os.environ.pop("NSLCD_CONF", None)
        if h:
            for pid, argv in descendants_of(h.proc.pid) if h.proc.poll() is None else []:
                if argv and argv[0] == NSLCD:
                    os.kill(pid, signal.SIGKILL)
            h.stop()
            h.cleanup()
        subprocess.run(["userdel", "-r", "-f", user], capture_output=True)
        if os.path.exists("/etc/pam.d/" + service):
            os.unlink("/etc/pam.d/" + service)
        d.cleanup()
