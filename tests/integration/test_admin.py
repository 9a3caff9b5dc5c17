"""What an administrator relies on: `havend -t` finds what would break the
server (certificate and key that do not load or do not match, a missing
or malformed passdb, missing users) and names the file and line; a server
whose login workers cannot start says why and exits instead of logging
"started"; SIGHUP applies the auth helper's settings at once and logs each
change and what needs a restart; SIGTERM gives TLS sessions their BYE,
also after a SIGHUP; and systemd's readiness protocol (Type=notify) is
spoken on the socket NOTIFY_SOCKET names."""
import os
import re
import signal
import socket
import ssl
import subprocess
import time

import pytest

from conftest import BUILD, Haven, IS_ROOT, make_cert, read_until_tagged
from procs import descendants_of
from srcaddr import login_answer


def havend_t(h):
    r = subprocess.run([os.path.join(BUILD, "havend"), "-t", "-c", h.conf],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def conf_line(h, key):
    """The line number of key in h's config file."""
    with open(h.conf) as f:
        for n, line in enumerate(f, 1):
            if line.split("=")[0].strip() == key:
                return n
    raise AssertionError(key)


def set_conf(h, key, value):
    with open(h.conf) as f:
        lines = [l for l in f if l.split("=")[0].strip() != key]
    lines.append("%s = %s\n" % (key, value))
    with open(h.conf, "w") as f:
        f.writelines(lines)


def test_t_accepts_a_good_configuration():
    h = Haven()
    try:
        rc, out = havend_t(h)
        assert rc == 0 and "configuration OK" in out, out
    finally:
        h.cleanup()


def test_t_missing_certificate():
    h = Haven()
    try:
        set_conf(h, "tls_cert", os.path.join(h.dir, "missing.pem"))
        rc, out = havend_t(h)
        assert rc == 1, out
        assert "%s:%d: tls_cert: certificate %s/missing.pem" % (
            h.conf, conf_line(h, "tls_cert"), h.dir) in out, out
        assert "configuration OK" not in out
    finally:
        h.cleanup()


def test_t_key_not_the_certificates():
    h = Haven()
    try:
        other = os.path.join(h.dir, "other")
        os.mkdir(other)
        _, other_key = make_cert(other)
        set_conf(h, "tls_key", other_key)
        rc, out = havend_t(h)
        assert rc == 1, out
        assert re.search(r"%s:%d: tls_key: private key %s: .*values mismatch" % (
            re.escape(h.conf), conf_line(h, "tls_key"), re.escape(other_key)), out), out
    finally:
        h.cleanup()


def test_t_missing_and_malformed_passdb():
    h = Haven()
    try:
        passwd = os.path.join(h.dir, "passwd")
        set_conf(h, "passdb", "file:" + passwd + ".gone")
        rc, out = havend_t(h)
        assert rc == 1, out
        assert "%s:%d: passdb: passdb %s.gone: No such file or directory" % (
            h.conf, conf_line(h, "passdb"), passwd) in out, out
        set_conf(h, "passdb", "file:" + passwd)
        with open(passwd, "a") as f:
            f.write("# a comment\nbad line without the password field\n")
        rc, out = havend_t(h)
        assert rc == 1, out
        assert "passdb %s:4: malformed line" % passwd in out, out
    finally:
        h.cleanup()


@pytest.mark.skipif(not IS_ROOT, reason="users are switched only as root")
def test_t_missing_users():
    h = Haven()
    try:
        set_conf(h, "mail_user", "no-such-user-here")
        rc, out = havend_t(h)
        assert rc == 1, out
        assert "%s:%d: mail_user: no such system user: no-such-user-here" % (
            h.conf, conf_line(h, "mail_user")) in out, out
    finally:
        h.cleanup()


def test_start_fails_with_a_missing_certificate():
    h = Haven()
    try:
        set_conf(h, "tls_cert", os.path.join(h.dir, "missing.pem"))
        with open(h.log, "w") as logf:
            p = subprocess.run([os.path.join(BUILD, "havend"), "-F", "-c", h.conf],
                               stdout=logf, stderr=subprocess.STDOUT, timeout=60)
        log = h.log_text()
        assert p.returncode == 1, log
        assert "tls_cert: certificate %s/missing.pem" % h.dir in log, log
        assert "started" not in log
    finally:
        h.cleanup()


def test_sighup_applies_auth_settings_and_logs_changes(haven_factory):
    h = haven_factory(extra_conf="trusted_networks =\nauth_user_ip_max_failures = 0\n")
    t = time.monotonic()
    assert login_answer(h, "127.0.0.2", "alice", "x").startswith(b"a NO [AUTHENTICATIONFAILED]")
    before = time.monotonic() - t
    set_conf(h, "auth_failure_delay_ms", "2500")
    set_conf(h, "auth_user_ip_max_failures", "2")
    set_conf(h, "listen", "127.0.0.1:1")
    h.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 20
    while "SIGHUP: configuration reloaded" not in h.log_text() and time.time() < deadline:
        time.sleep(0.1)
    log = h.log_text()
    assert 'SIGHUP: auth_failure_delay_ms: "100" -> "2500" applied' in log, log[-3000:]
    assert 'SIGHUP: auth_user_ip_max_failures: "0" -> "2" applied' in log
    assert re.search(r'warning: SIGHUP: listen: "127\.0\.0\.1:\d+" -> "127\.0\.0\.1:1" needs '
                     r'a restart', log)
    assert "3 changes applied" not in log and "2 changes applied" in log
    assert "1 needs a restart" in log
    # The auth helper uses the new delay and the new limit at once.
    t = time.monotonic()
    assert login_answer(h, "127.0.0.2", "alice", "x").startswith(b"a NO [AUTHENTICATIONFAILED]")
    assert time.monotonic() - t >= 2.4 > before
    # Its failure counts were kept: this is the second from 127.0.0.2.
    a = login_answer(h, "127.0.0.2", "alice", "pw-alice")
    assert a.startswith(b"a NO [UNAVAILABLE] Too many failed logins"), a
    # The listener is the one bound at start.
    assert h.login("bob").logout()[0] == "BYE"


def test_sighup_refuses_a_configuration_naming_a_missing_certificate(haven_factory):
    h = haven_factory()
    set_conf(h, "tls_cert", os.path.join(h.dir, "missing.pem"))
    h.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 20
    while "keeping the old configuration" not in h.log_text() and time.time() < deadline:
        time.sleep(0.1)
    assert "tls_cert: certificate %s/missing.pem" % h.dir in h.log_text()
    m = h.imap_tls()
    m.login("alice", "pw-alice")
    m.logout()


def tls_session(h):
    ctx = h.ssl_context()
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", h.tls_port), timeout=30),
                        server_hostname="127.0.0.1")
    f = s.makefile("rb")
    assert f.readline().startswith(b"* OK")
    s.sendall(b"a LOGIN alice pw-alice\r\n")
    assert read_until_tagged(f, b"a")[-1].startswith(b"a OK")
    s.sendall(b"b SELECT INBOX\r\n")
    assert read_until_tagged(f, b"b")[-1].startswith(b"b OK")
    return s, f


def test_sigterm_gives_tls_sessions_bye_after_sighup():
    h = Haven().start()
    try:
        sessions = [tls_session(h) for _ in range(4)]
        h.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 20
        while "SIGHUP: configuration reloaded" not in h.log_text() and time.time() < deadline:
            time.sleep(0.1)
        sessions += [tls_session(h) for _ in range(2)]
        h.proc.send_signal(signal.SIGTERM)
        for s, f in sessions:
            lines = []
            while True:
                try:
                    line = f.readline()
                except (ssl.SSLError, OSError):
                    break
                if not line:
                    break
                lines.append(line)
            assert b"* BYE Server shutting down\r\n" in lines, lines
        h.proc.wait(timeout=30)
    finally:
        h.stop()
        h.cleanup()


def notify_listener(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(30)
    return s


def recv_state(s):
    data = s.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.split("\n") if line)


@pytest.mark.parametrize("abstract", [False, True])
def test_sd_notify(abstract):
    h = Haven()
    name = os.path.join(h.dir, "notify.sock")
    s = notify_listener("\0haven-test-%d" % os.getpid() if abstract else name)
    env_path = "@haven-test-%d" % os.getpid() if abstract else name
    old = os.environ.get("NOTIFY_SOCKET")
    os.environ["NOTIFY_SOCKET"] = env_path
    try:
        h.start()
        assert recv_state(s).get("READY") == "1"
        # No child inherited the socket's name (and could speak for havend).
        for pid, _ in descendants_of(h.proc.pid):
            try:
                with open("/proc/%d/environ" % pid, "rb") as f:
                    assert b"NOTIFY_SOCKET=" not in f.read()
            except OSError:
                continue
        h.proc.send_signal(signal.SIGHUP)
        st = recv_state(s)
        assert st.get("RELOADING") == "1" and int(st["MONOTONIC_USEC"]) > 0, st
        assert recv_state(s).get("READY") == "1"
        h.proc.send_signal(signal.SIGTERM)
        assert recv_state(s).get("STOPPING") == "1"
        h.proc.wait(timeout=30)
    finally:
        if old is None:
            del os.environ["NOTIFY_SOCKET"]
        else:
            os.environ["NOTIFY_SOCKET"] = old
        s.close()
        h.stop()
        h.cleanup()
