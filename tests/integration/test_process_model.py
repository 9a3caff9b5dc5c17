"""The privilege-separated process model, observed from /proc while real
sessions are open: who runs as whom, where the login worker is chrooted,
and that one user's worker dying leaves other users alone. Also the pool
of pre-started login workers: dropped before any client comes, replaced
when killed, never above its size, and not needed for a client to be
served."""
import os
import pwd
import signal
import socket
import ssl
import time

import pytest

from conftest import needs_root, read_until_tagged
from procs import children_of, descendants_of, is_login_template, wait_for

# About mbox files or processes, not the storage interface.
BACKENDS = ["mbox"]


def proc_uids(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
            
    raise AssertionError("no Uid line")


def role(argv):
    return os.path.basename(argv[0]) if argv else ""


def login_user_uid():
    for name in ("haven", "nobody"):
        try:
            return name, pwd.getpwnam(name).pw_uid
        except KeyError:
            pass
    raise AssertionError("no login user")


def login_pids(h):
    """Login workers, exec'd or forked by the template (not the template)."""
    return sorted(p for p, argv in descendants_of(h.proc.pid)
                  if role(argv) == "haven-login" and not is_login_template(argv))


def template_pids(h):
    return sorted(p for p, argv in children_of(h.proc.pid)
                  if role(argv) == "haven-login" and is_login_template(argv))


def sole_template(h, other_than=None):
    """The login template, once there is exactly one (and it is not
    other_than). A template the master has ended may still be exiting
    while its successor already runs: never judge the list mid-change."""
    def one():
        pids = template_pids(h)
        return pids[0] if len(pids) == 1 and pids[0] != other_than else None
    pid = wait_for(one)
    assert pid, template_pids(h)
    return pid


def socket_inodes(pid):
    out = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                out.add(int(link[8:-1]))
    except OSError:
        pass
    return out


def server_inode(h, client, port=None):
    """Inode of the server side of client's TCP connection to havend."""
    cport = client.getsockname()[1]
    want_local = "0100007F:%04X" % (port or h.port)
    want_rem = "0100007F:%04X" % cport
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == want_local and fields[2] == want_rem:
                return int(fields[9])
    raise AssertionError("no server socket for client port %d" % cport)


def serving_login_worker(h, client, port=None):
    """The login worker holding client's connection (the master keeps a
    copy of the socket too, so only haven-login processes are searched)."""
    ino = server_inode(h, client, port)
    found = wait_for(lambda: [p for p in login_pids(h) if ino in socket_inodes(p)])
    assert len(found) == 1, (ino, found)
    return found[0]


def has_tcp_socket(pid):
    tcp = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            tcp |= {int(line.split()[9]) for line in f.readlines()[1:]}
    return bool(socket_inodes(pid) & tcp)


def privdrop_done(pid):
    """The last step of the privilege drop (no_new_privs) is visible."""
    try:
        with open("/proc/%d/status" % pid) as f:
            return "NoNewPrivs:\t1" in f.read()
    except OSError:
        return False


def assert_dropped(h, pid):
    """The unprivileged login user, chrooted into the empty directory,
    all uids dropped, no new privileges. A process that has just appeared
    (a template exec'd a moment ago) may not have got there yet: wait for
    the drop's last step before looking, never judge a process mid-start."""
    name, uid = login_user_uid()
    wait_for(lambda: privdrop_done(pid))
    assert proc_uids(pid) == [uid] * 4, name
    assert os.readlink("/proc/%d/root" % pid) == h.empty
    assert os.listdir(h.empty) == []
    with open("/proc/%d/status" % pid) as f:
        status = f.read()
    assert "NoNewPrivs:\t1" in status
    gids = [l for l in status.splitlines() if l.startswith("Gid:")][0].split()[1:]
    assert "0" not in gids


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
    # into the empty directory, all uids dropped. So are the idle ones of
    # the pool, which have no client yet.
    lpid = serving_login_worker(haven, pre)
    assert_dropped(haven, lpid)
    assert lpid in login_pids(haven)
    # It was forked by the login template (login_fork defaults to yes),
    # itself as dropped, and the only haven-login the master started.
    tmpl = sole_template(haven)
    assert_dropped(haven, tmpl)
    assert [p for p, argv in by_role["haven-login"]] == [tmpl]
    assert lpid in [p for p, _ in children_of(tmpl)]
    for pid in pool_settles(haven, 4, busy=1):  # login_pool_size defaults to 4
        assert_dropped(haven, pid)

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
    proxy = serving_login_worker(haven, m.socket(), haven.tls_port)
    assert_dropped(haven, proxy)
    assert m.select("INBOX")[0] == "OK"
    m.logout()
    # The proxy ends with its session.
    assert wait_for(lambda: proxy not in login_pids(haven))


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


# --- the pool of pre-started login workers ----------------------------------

def started(pid):
    """A login worker is root only while it starts (it loads the TLS key);
    it says READY, and can get a client, only after dropping."""
    try:
        return proc_uids(pid)[0] == login_user_uid()[1]
    except (FileNotFoundError, ProcessLookupError):
        return False


def idle_login_pids(h):
    return [p for p in login_pids(h) if started(p) and not has_tcp_socket(p)]


def pool_settles(h, n, busy=0, timeout=20):
    """Wait until there are n idle, started login workers and busy others;
    return the idle ones."""
    def count():
        idle = idle_login_pids(h)
        return idle if len(idle) == n and len(login_pids(h)) == n + busy else None

    def settled():
        # The same set a moment later: a worker whose client just left
        # (the harness's listening probe) looks idle until it has exited.
        first = count()
        if not first:
            return None
        time.sleep(0.3)
        return first if count() == first else None
    got = wait_for(settled, timeout)
    assert got, (login_pids(h), idle_login_pids(h))
    return got


def greeted(s):
    f = s.makefile("rb")
    line = f.readline()
    assert line.startswith(b"* OK"), line
    return f


def login_through_dropped_worker(h, after=lambda: True):
    """A client's LOGIN succeeds through a login worker that had dropped
    its privileges; `after` must hold once that worker has the client.
    Returns the worker's pid."""
    s, f = h.raw()
    lpid = serving_login_worker(h, s)
    assert_dropped(h, lpid)
    assert after()
    s.sendall(b"a LOGIN alice pw-alice\r\n")
    assert read_until_tagged(f, b"a")[-1].startswith(b"a OK")
    s.close()
    return lpid


@needs_root
def test_pooled_workers_are_dropped_before_any_client(haven_factory):
    h = haven_factory(extra_conf="login_pool_size = 3")
    # The harness's own listening probe took one; the pool is back to 3.
    pids = pool_settles(h, 3)
    for pid in pids:
        assert_dropped(h, pid)
    # A client gets one of them, already dropped, and the pool refills.
    assert login_through_dropped_worker(
        h, after=lambda: wait_for(lambda: len(login_pids(h)) == 4)) in pids


@needs_root
def test_killed_pooled_worker_is_replaced(haven_factory):
    h = haven_factory(extra_conf="login_pool_size = 2")
    pids = pool_settles(h, 2)
    os.kill(pids[0], signal.SIGKILL)
    assert wait_for(lambda: pids[0] not in login_pids(h))
    new = pool_settles(h, 2)
    assert pids[0] not in new
    for pid in new:
        assert_dropped(h, pid)
    m = h.login("bob")
    assert m.select("INBOX")[0] == "OK"
    m.logout()


@needs_root
@pytest.mark.parametrize("reuse", [1, 50])
def test_pool_never_grows_past_its_size(haven_factory, reuse):
    pool = 2
    h = haven_factory(extra_conf="login_pool_size = %d\nlogin_connections_per_process = %d"
                      % (pool, reuse))
    pool_settles(h, pool)
    # Eight clients at once, in the pre-auth state: each has its worker,
    # and there are never more idle ones than the pool's size.
    clients = [h.raw() for _ in range(8)]
    busy = set(serving_login_worker(h, s) for s, _ in clients)
    assert len(busy) == 8
    deadline = time.time() + 3
    while time.time() < deadline:
        assert len(set(login_pids(h)) - busy) <= pool, (login_pids(h), busy)
        time.sleep(0.05)
    # Half log in, half log out: with reuse their workers come back, but
    # the pool keeps at most its size and the rest go.
    for i, (s, f) in enumerate(clients):
        if i % 2:
            s.sendall(b"a LOGIN alice pw-alice\r\n")
        else:
            s.sendall(b"a LOGOUT\r\n")
        assert read_until_tagged(f, b"a")[-1].startswith(b"a OK")
    pool_settles(h, pool)
    for s, _ in clients:
        s.close()
    time.sleep(0.5)
    assert len(login_pids(h)) == pool


@needs_root
def test_client_is_served_when_the_pool_is_empty(haven_factory):
    h = haven_factory(extra_conf="login_pool_size = 0")
    # Nothing waits at rest: the start-up's probes of the ports (netwait)
    # may still be getting a worker each, which ends with its client, so
    # none may be left once they have gone...
    assert wait_for(lambda: login_pids(h) == [])
    time.sleep(0.3)
    assert wait_for(lambda: login_pids(h) == [])
    # ...yet clients, even several at once, get a worker each.
    clients = [h.raw() for _ in range(5)]
    for s, f in clients:
        assert_dropped(h, serving_login_worker(h, s))
        s.sendall(b"a LOGIN bob pw-bob\r\n")
        assert read_until_tagged(f, b"a")[-1].startswith(b"a OK")
        s.sendall(b"b LOGOUT\r\n")
        assert read_until_tagged(f, b"b")[-1].startswith(b"b OK")
        s.close()
    assert wait_for(lambda: login_pids(h) == [])


@needs_root
def test_login_workers_are_not_reused_by_default(haven):
    seen = set()
    for _ in range(3):
        s, f = haven.raw()
        pid = serving_login_worker(haven, s)
        assert pid not in seen
        seen.add(pid)
        s.sendall(b"a LOGIN alice pw-alice\r\n")
        assert read_until_tagged(f, b"a")[-1].startswith(b"a OK")
        # Handed off: the login worker is gone, the session goes on.
        assert wait_for(lambda: pid not in login_pids(haven))
        s.sendall(b"b NOOP\r\n")
        assert read_until_tagged(f, b"b")[-1].startswith(b"b OK")
        s.close()


@needs_root
def test_reuse_serves_clients_in_sequence_up_to_the_limit(haven_factory):
    h = haven_factory(extra_conf="login_pool_size = 1\nlogin_connections_per_process = 3")
    pool_settles(h, 1)
    served = []
    for i in range(7):
        s, f = h.raw()
        pid = serving_login_worker(h, s)
        assert_dropped(h, pid)
        served.append(pid)
        if i == 1:
            # A failed login and a LOGOUT also end a connection cleanly.
            s.sendall(b"a LOGIN alice wrong\r\nb LOGOUT\r\n")
            assert read_until_tagged(f, b"b")[-1].startswith(b"b OK")
        else:
            s.sendall(b"a LOGIN alice pw-alice\r\n")
            assert read_until_tagged(f, b"a")[-1].startswith(b"a OK")
            s.sendall(b"b NOOP\r\n")
            assert read_until_tagged(f, b"b")[-1].startswith(b"b OK")
        s.close()
        pool_settles(h, 1)
    # Each worker served clients one after another, at most three (the
    # harness's listening probe may have been the first worker's first),
    # and went after its third.
    runs = []
    for pid in served:
        if runs and runs[-1][0] == pid:
            runs[-1][1] += 1
        else:
            runs.append([pid, 1])
    assert len(set(served)) == len(runs), served
    assert max(n for _, n in runs) == 3, served
    assert all(n <= 3 for _, n in runs), served
    full = [pid for pid, n in runs if n == 3]
    assert full[0] not in login_pids(h)


@needs_root
def test_tls_ends_a_reusable_login_worker(haven_factory):
    h = haven_factory(extra_conf="login_pool_size = 1\nlogin_connections_per_process = 10")
    pool_settles(h, 1)
    ctx = h.ssl_context()
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", h.tls_port), timeout=20),
                        server_hostname="127.0.0.1")
    pid = serving_login_worker(h, s, h.tls_port)
    s.sendall(b"a LOGOUT\r\n")
    while b"a OK" not in s.recv(4096):
        pass
    s.close()
    assert wait_for(lambda: pid not in login_pids(h))
    # STARTTLS on the plain port: the same.
    p, f = h.raw()
    pid = serving_login_worker(h, p)
    p.sendall(b"a STARTTLS\r\n")
    assert read_until_tagged(f, b"a")[-1].startswith(b"a OK")
    t = ctx.wrap_socket(p, server_hostname="127.0.0.1")
    t.sendall(b"b LOGIN alice pw-alice\r\n")
    buf = b""
    while b"b OK" not in buf:
        buf += t.recv(4096)
    t.close()
    assert wait_for(lambda: pid not in login_pids(h))


@needs_root
def test_sighup_replaces_idle_pooled_workers(haven_factory):
    h = haven_factory(extra_conf="login_pool_size = 2")
    old = pool_settles(h, 2)
    with open(h.conf, "a") as f:
        f.write("login_pool_size = 3\n")
    h.proc.send_signal(signal.SIGHUP)
    new = pool_settles(h, 3)
    assert not set(old) & set(new), (old, new)
    m = h.login("alice")
    m.logout()


@needs_root
def test_login_workers_that_cannot_start_are_not_respawned_in_a_loop(haven_factory):
    # A server that cannot start login workers at all does not start (see
    # test_admin.py). One that could, until its certificate went away (a
    # botched renewal), backs off and tells clients instead of looping.
    h = haven_factory(extra_conf="login_pool_size = 2")
    assert wait_for(lambda: " started: " in h.log_text(), 20)
    os.unlink(h.cert)
    os.unlink(h.key)
    for pid in template_pids(h):
        os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: "fail to start" in h.log_text(), 20), h.log_text()[-3000:]
    # Clients are told, not left hanging (the idle workers the old template
    # forked serve their last clients first).
    data = b""
    for _ in range(6):
        s = socket.create_connection(("127.0.0.1", h.port), timeout=40)
        data = s.makefile("rb").readline()
        s.close()
        if data.startswith(b"* BYE"):
            break
    assert data.startswith(b"* BYE [UNAVAILABLE]"), data
    # Backing off: a handful of attempts in seconds, not thousands.
    time.sleep(3)
    spawns = [l for l in h.log_text().splitlines() if "login[" in l and "cert.pem" in l]
    assert 2 <= len(spawns) < 30, spawns
    assert h.proc.poll() is None


# --- the login template (login_fork, the default) ---------------------------

@needs_root
@pytest.mark.parametrize("fork", ["yes", "no"])
def test_login_workers_come_from_the_template_or_an_exec(haven_factory, fork):
    h = haven_factory(extra_conf="login_pool_size = 2\nlogin_fork = %s" % fork)
    pids = pool_settles(h, 2)
    tmpls = template_pids(h)
    if fork == "yes":
        tmpl = sole_template(h)
        assert_dropped(h, tmpl)
        assert sorted(p for p, _ in children_of(tmpl)) == pids
        # The template holds no client socket, ever.
        assert not has_tcp_socket(tmpl)
    else:
        assert tmpls == []
        assert sorted(p for p, argv in children_of(h.proc.pid)
                      if role(argv) == "haven-login") == pids
    login_through_dropped_worker(h)


@needs_root
def test_a_crashed_worker_ends_its_template(haven_factory):
    # Forked workers share the template's address-space layout: one dying
    # of a signal (what probing for it looks like) must not leave that
    # layout in use for the next clients.
    h = haven_factory(extra_conf="login_pool_size = 2")
    pids = pool_settles(h, 2)
    old = sole_template(h)
    # SIGABRT: what a smashed stack protector ends in (and a signal the
    # sanitizers of the test build leave alone).
    os.kill(pids[0], signal.SIGABRT)
    assert wait_for(lambda: "killed by signal 6; ending the login template" in h.log_text())
    new = sole_template(h, other_than=old)
    assert_dropped(h, new)
    # The pool is refilled from the new template; the old one's remaining
    # worker is not lost track of (it is retired or serves on).
    m = h.login("bob")
    assert m.select("INBOX")[0] == "OK"
    m.logout()
    assert wait_for(lambda: set(p for p, _ in children_of(new)) & set(login_pids(h)))
    # A kill by the master (SIGKILL, SIGTERM) is no crash.
    tmpl = sole_template(h)
    victim = [p for p, _ in children_of(tmpl)][0]
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: victim not in login_pids(h))
    time.sleep(0.5)
    assert template_pids(h) == [tmpl]


@needs_root
def test_a_killed_template_is_replaced_and_its_workers_serve_on(haven_factory):
    h = haven_factory(extra_conf="login_pool_size = 2")
    pool_settles(h, 2)
    old = sole_template(h)
    s, f = h.raw()
    busy = serving_login_worker(h, s)
    os.kill(old, signal.SIGKILL)
    sole_template(h, other_than=old)
    # The client's worker outlived its template and still logs it in: the
    # master knows it by its pidfd, not as its parent.
    s.sendall(b"a LOGIN alice pw-alice\r\nb SELECT INBOX\r\n")
    assert read_until_tagged(f, b"b")[-1].startswith(b"b OK")
    s.sendall(b"c LOGOUT\r\n")
    read_until_tagged(f, b"c")
    s.close()
    # Orphaned workers come to the master (a child subreaper), which
    # reaps them: none is left behind as a zombie.
    assert wait_for(lambda: not os.path.exists("/proc/%d" % busy)), busy
    new = pool_settles(h, 2)
    for pid in new:
        assert_dropped(h, pid)
    m = h.login("bob")
    m.logout()
