"""The privilege-separated process model, observed from /proc while real
sessions are open: who runs as whom, where the login worker is chrooted,
and that one user's worker dying leaves other users alone."""
import os
import pwd
import signal
import socket
import time

import pytest

from conftest import needs_root, read_until_tagged


def children_of(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != pid:
                continue
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
            kids.append((int(d), [a.decode() for a in argv if a]))
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return kids


def proc_uids(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
            
    raise AssertionError("no Uid line")


def role(argv):
    return os.path.basename(argv[0]) if argv else ""


def wait_for(pred, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return pred()


def login_user_uid():
    for name in ("haven", "nobody"):
        try:
            return name, pwd.getpwnam(name).pw_uid
        except KeyError:
            pass
    raise AssertionError("no login user")


@needs_root
def test_process_model(haven):
    master = haven.proc.pid
    # One connection still in the pre-auth state, two users logged in.
    pre, pre_f = haven.raw()
    alice = haven.login("alice")
    bob = haven.login("bob")
    alice.select("INBOX")
    bob.select("INBOX")

    kids = wait_for(lambda: [k for k in children_of(master) if role(k[1]) == "haven-worker"]
                    if len([k for k in children_of(master) if role(k[1]) == "haven-worker"]) == 2
                    else None)
    assert kids, children_of(master)
    procs = children_of(master)
    by_role = {}
    for pid, argv in procs:
        by_role.setdefault(role(argv), []).append((pid, argv))

    # The master is root and parses no IMAP: it is havend itself.
    assert proc_uids(master) == [0, 0, 0, 0]

    # The auth helper stays root (PAM's pam_unix reads shadow).
    assert len(by_role["haven-auth"]) == 1
    assert proc_uids(by_role["haven-auth"][0][0])[:3] == [0, 0, 0]

    # The pre-auth login worker: the unprivileged login user, chrooted
    # into the empty directory, all uids dropped.
    name, uid = login_user_uid()
    logins = by_role.get("haven-login", [])
    assert len(logins) == 1, procs
    lpid = logins[0][0]
    assert proc_uids(lpid) == [uid] * 4, name
    assert os.readlink("/proc/%d/root" % lpid) == haven.empty
    assert os.listdir(haven.empty) == []
    with open("/proc/%d/status" % lpid) as f:
        status = f.read()
    assert "NoNewPrivs:\t1" in status

    # The user workers: one per user, as the configured mail user.
    mail_uid = pwd.getpwnam(haven.mail_user).pw_uid
    workers = {argv[argv.index("-a") + 1]: pid for pid, argv in by_role["haven-worker"]}
    assert set(workers) == {"alice", "bob"}
    for pid in workers.values():
        assert proc_uids(pid) == [mail_uid] * 4
        assert os.readlink("/proc/%d/root" % pid) == "/"

    # Killing alice's worker ends alice's session only.
    os.kill(workers["alice"], signal.SIGKILL)
    with pytest.raises(Exception):
        alice.noop()
        alice.noop()
    assert bob.noop()[0] == "OK"
    assert bob.append("INBOX", None, None, b"Subject: still here\r\n\r\nok\r\n")[0] == "OK"
    # alice can log in again and gets a fresh worker.
    alice2 = haven.login("alice")
    assert alice2.select("INBOX")[0] == "OK"
    new = {argv[argv.index("-a") + 1]: pid for pid, argv in children_of(master)
           if role(argv) == "haven-worker"}
    assert new["alice"] != workers["alice"]
    assert new["bob"] == workers["bob"]
    # The pre-auth connection was never disturbed either.
    pre.sendall(b"x NOOP\r\n")
    assert read_until_tagged(pre_f, b"x")[-1].startswith(b"x OK")
    for m in (alice2, bob):
        m.logout()
    pre.close()


@needs_root
def test_tls_session_keeps_login_worker_as_proxy(haven):
    m = haven.imap_tls()
    m.login("alice", "pw-alice")
    name, uid = login_user_uid()
    logins = [p for p, argv in children_of(haven.proc.pid) if role(argv) == "haven-login"]
    assert len(logins) == 1
    assert proc_uids(logins[0]) == [uid] * 4
    assert m.select("INBOX")[0] == "OK"
    m.logout()


def test_one_worker_serves_all_sessions_of_a_user(haven):
    a1 = haven.login("alice")
    a2 = haven.login("alice")
    workers = [argv for p, argv in children_of(haven.proc.pid) if role(argv) == "haven-worker"]
    assert len(workers) == 1
    a1.logout()
    a2.logout()
    # The idle worker exits after worker_idle_timeout (2 s in tests).
    assert wait_for(lambda: not [1 for p, argv in children_of(haven.proc.pid)
                                 if role(argv) == "haven-worker"], timeout=15)


def test_login_after_sighup(haven):
    # The master keeps the login user's name across reloads (it once
    # pointed into the configuration that SIGHUP frees).
    haven.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "configuration reloaded" in haven.log_text())
    for user in ("alice", "bob", "alice"):
        m = haven.login(user)
        assert m.select("INBOX")[0] == "OK"
        m.logout()


def test_sigterm_says_bye(haven):
    m = haven.login("alice")
    s, f = haven.raw()
    haven.proc.send_signal(signal.SIGTERM)
    assert haven.proc.wait(timeout=20) == 0
    data = f.read()
    assert b"BYE" in data
