"""ManageSieve (RFC 5804): the listener, the pre-auth login worker
(greeting, STARTTLS, AUTHENTICATE through the auth helper, bad input) and
the authenticated session in the user worker, driven by the RFC's client
(managesieve_client.py) as Thunderbird's and Roundcube's add-ons speak it."""
import base64
import shutil
import socket
import subprocess
import time

import pytest

from conftest import free_port, only_backends
from lmtp_client import Lmtp
from managesieve_client import ManageSieve
from netwait import wait_listening
from sasl_client import Scram


def start(haven_factory, extra=""):
    port = free_port()
    h = haven_factory(extra_conf="managesieve_listen = 127.0.0.1:%d\n%s" % (port, extra))
    h.sieve_port = port
    # The harness waited for the IMAP port; this one is bound just after.
    wait_listening(port, h.proc, 30, h.log_text)
    return h


def connect(h):
    return ManageSieve(h.sieve_port)


def login(h, user="alice"):
    c = connect(h)
    r = c.authenticate_plain(user, h.users[user])
    assert r.status == "OK", r
    return c


def test_greeting_capabilities(haven_factory):
    h = start(haven_factory)
    c = connect(h)
    assert c.greeting.status == "OK"
    assert c.caps["IMPLEMENTATION"].startswith("Haven ")
    assert c.caps["VERSION"] == "1.0"
    assert "PLAIN" in c.caps["SASL"].split()
    assert "STARTTLS" in c.caps   # TLS is configured
    r = c.command("CAPABILITY")
    assert r.status == "OK" and c.capabilities(r) == c.caps
    r = c.command("LOGOUT")
    assert r.status == "OK"
    assert c.f.read() == b""      # closed after LOGOUT


def test_starttls_authenticate_plain(haven_factory):
    h = start(haven_factory, "plaintext_auth = no")
    c = connect(h)
    # Before TLS no mechanism is offered and AUTHENTICATE is refused.
    assert c.caps["SASL"] == ""
    r = c.authenticate_plain("alice", h.users["alice"])
    assert (r.status, r.code) == ("NO", "ENCRYPT-NEEDED"), r
    r = c.starttls(h.cert)
    assert r.status == "OK"
    # The capabilities again, over TLS: no STARTTLS, the mechanisms now.
    assert "STARTTLS" not in c.caps and "PLAIN" in c.caps["SASL"].split()
    r = c.command("STARTTLS")
    assert r.status == "NO"
    r = c.authenticate_plain("alice", h.users["alice"])
    assert r.status == "OK", r
    r = c.command("CAPABILITY")
    assert r.status == "OK" and "SASL" not in c.capabilities(r)
    assert c.command("NOOP").status == "OK"
    assert c.command("LOGOUT").status == "OK"


def test_wrong_password_then_right(haven_factory):
    h = start(haven_factory)
    c = connect(h)
    r = c.authenticate_plain("alice", "wrong")
    assert r.status == "NO" and r.code is None and r.text == b"Authentication failed", r
    # The session goes on.
    assert c.command("NOOP").status == "OK"
    r = c.authenticate_plain("alice", h.users["alice"], initial=False)
    assert r.status == "OK", r
    assert c.command("NOOP").status == "OK"


def test_scram_sha_256(haven_factory):
    """SCRAM as IMAP offers it, in ManageSieve's strings: the server's
    signature comes as a last challenge, answered with an empty string."""
    h = start(haven_factory)
    c = connect(h)
    assert "SCRAM-SHA-256" in c.caps["SASL"].split()
    client = Scram("alice", h.users["alice"])
    c.send(b'AUTHENTICATE "SCRAM-SHA-256" "%s"\r\n' % base64.b64encode(client.first()))
    server_first = base64.b64decode(c.line()[0])
    c.send(b'"%s"\r\n' % base64.b64encode(client.final(server_first)))
    assert client.verify(base64.b64decode(c.line()[0]))
    c.send(b'""\r\n')
    assert c.response().status == "OK"
    assert names(c) == {}
    # A wrong proof fails like a wrong password.
    c = connect(h)
    client = Scram("alice", h.users["alice"])
    c.send(b'AUTHENTICATE "SCRAM-SHA-256" "%s"\r\n' % base64.b64encode(client.first()))
    server_first = base64.b64decode(c.line()[0])
    c.send(b'"%s"\r\n' % base64.b64encode(client.final(server_first, proof_tamper=True)))
    r = c.response()
    assert r.status == "NO", r


def test_sasl_cancel_and_bad_answer(haven_factory):
    h = start(haven_factory)
    c = connect(h)
    c.send(b'AUTHENTICATE "PLAIN"\r\n')
    assert c.line() == [b""]
    c.send(b'"*"\r\n')
    assert c.response().status == "NO"
    c.send(b'AUTHENTICATE "PLAIN"\r\n')
    assert c.line() == [b""]
    c.send(b"not a string\r\n")
    assert c.response().status == "NO"
    r = c.command("AUTHENTICATE", "NO-SUCH-MECH")
    assert r.status == "NO"
    r = c.authenticate_plain("alice", h.users["alice"])
    assert r.status == "OK", r


def test_literal_forms(haven_factory):
    h = start(haven_factory)
    c = connect(h)
    # Non-synchronizing and synchronizing literals: neither gets a
    # continuation (ManageSieve has none); both are read.
    c.send(b"NOOP {5+}\r\nab\"cd\r\n")
    r = c.response()
    assert (r.status, r.code) == ("OK", 'TAG ab"cd'), r
    c.send(b"NOOP {3}\r\nx\ny\r\n")
    r = c.response()
    assert r.status == "OK" and r.code.startswith("TAG"), r
    blob = base64.b64encode(b"\0alice\0" + h.users["alice"].encode())
    c.send(b'AUTHENTICATE {5+}\r\nPLAIN {%d+}\r\n%s\r\n' % (len(blob), blob))
    assert c.response().status == "OK"


def test_refused_literal_is_never_read_as_commands(haven_factory):
    """A ManageSieve client sends a {n} literal's bytes without waiting:
    when the command is refused, they are skipped, not run as commands."""
    h = start(haven_factory, "max_literal_preauth = 100")
    c = connect(h)
    inner = b'NOOP "injected"\r\n'
    c.send(b'PUTSCRIPT "x" {%d}\r\n%s\r\nNOOP "after"\r\n' % (len(inner), inner))
    assert c.response().status == "NO"
    r = c.response()
    assert (r.status, r.code) == ("OK", "TAG after"), r
    big = b'NOOP "injected"\r\n' * 10
    c.send(b"NOOP {%d}\r\n%s\r\nNOOP \"after2\"\r\n" % (len(big), big))
    r = c.response()
    assert (r.status, r.code) == ("NO", "QUOTA/MAXSIZE"), r
    r = c.response()
    assert (r.status, r.code) == ("OK", "TAG after2"), r


def test_bad_input(haven_factory):
    h = start(haven_factory, "max_literal_preauth = 100\nmax_preauth_line = 300")
    c = connect(h)
    for bad in (b"FROB\r\n", b"NOOP unquoted\r\n", b'NOOP "a" "b"\r\n', b'NOOP "open\r\n',
                b"LISTSCRIPTS\r\n", b"!!\r\n"):
        c.send(bad)
        r = c.response()
        assert r.status == "NO", (bad, r)
    # A literal over the limit is refused before a byte of it is read.
    c.send(b"NOOP {1000+}\r\n" + b"x" * 1000 + b"\r\n")
    r = c.response()
    assert (r.status, r.code) == ("NO", "QUOTA/MAXSIZE"), r
    c.send(b"NOOP " + b"x" * 400 + b"\r\n")
    assert c.response().status == "NO"
    assert c.command("NOOP").status == "OK"
    # A client that only sends garbage is sent away (max_bad_commands).
    c.send(b"FROB\r\n" * 20)
    statuses = [c.response().status for _ in range(11)]
    assert statuses == ["NO"] * 10 + ["BYE"], statuses
    assert c.f.read() == b""


def test_preauth_timeout(haven_factory):
    h = start(haven_factory, "preauth_idle_timeout = 1\npreauth_timeout = 2")
    c = connect(h)
    # Silence before login ends it with a ManageSieve BYE, as IMAP's does.
    r = c.response()
    assert r.status == "BYE", r
    assert c.f.read() == b""


def test_refused_in_managesieve_terms(haven_factory):
    """The master refuses beyond max_connections before any worker sees
    the client: in ManageSieve's syntax on its listener."""
    h = start(haven_factory, "max_connections = 1")
    # The harness's own probe of the IMAP port may still hold the one slot.
    for _ in range(100):
        first = connect(h)
        if first.greeting.status == "OK":
            break
        first.close()
        time.sleep(0.1)
    s = socket.create_connection(("127.0.0.1", h.sieve_port), timeout=20)
    assert s.makefile("rb").read() == b'BYE (TRYLATER) "Too many connections"\r\n'
    s.close()
    assert first.command("NOOP").status == "OK"


# ---- the authenticated state: scripts ----------------------------------------

SCRIPT = ('require ["fileinto", "imap4flags"];\r\n'
          '# Grüße: filed by subject\r\n'
          'if header :contains "subject" "spam" {\r\n'
          '  fileinto "Junk";\r\n'
          '} elsif address :is "from" "boss@example.com" {\r\n'
          '  addflag "\\\\Flagged";\r\n'
          '}\r\n').encode()
BROKEN = b'require "fileinto";\r\nif header :contains "subject" {\r\n  fileinto "Junk";\r\n}\r\n'


def names(c):
    r = c.command("LISTSCRIPTS")
    assert r.status == "OK", r
    return {t[0].decode(): len(t) > 1 and t[1] == b"ACTIVE" for t in r.lines}


def test_scripts_lifecycle(haven_factory):
    h = start(haven_factory)
    c = login(h)
    assert names(c) == {}
    assert "fileinto" in c.caps["SIEVE"].split()
    r = c.command("PUTSCRIPT", "main", SCRIPT)
    assert r.status == "OK", r
    # A broken script: NO with the compiler's line, and nothing stored.
    r = c.command("CHECKSCRIPT", BROKEN)
    assert r.status == "NO" and r.text.startswith(b"line "), r
    r = c.command("PUTSCRIPT", "broken", BROKEN)
    assert r.status == "NO" and r.text.startswith(b"line "), r
    assert c.command("CHECKSCRIPT", SCRIPT).status == "OK"
    assert names(c) == {"main": False}
    # GETSCRIPT gives the bytes back exactly.
    r = c.command("GETSCRIPT", "main")
    assert r.status == "OK" and r.lines == [[SCRIPT]], r
    r = c.command("GETSCRIPT", "nope")
    assert (r.status, r.code) == ("NO", "NONEXISTENT"), r
    assert c.command("SETACTIVE", "main").status == "OK"
    assert names(c) == {"main": True}
    r = c.command("SETACTIVE", "nope")
    assert (r.status, r.code) == ("NO", "NONEXISTENT"), r
    # Renamed, it stays active.
    assert c.command("PUTSCRIPT", "other", b"keep;\r\n").status == "OK"
    r = c.command("RENAMESCRIPT", "main", "other")
    assert (r.status, r.code) == ("NO", "ALREADYEXISTS"), r
    r = c.command("RENAMESCRIPT", "nope", "x")
    assert (r.status, r.code) == ("NO", "NONEXISTENT"), r
    assert c.command("RENAMESCRIPT", "main", "filters").status == "OK"
    assert names(c) == {"filters": True, "other": False}
    # The active script cannot be deleted; once deactivated it can.
    r = c.command("DELETESCRIPT", "filters")
    assert (r.status, r.code) == ("NO", "ACTIVE"), r
    assert c.command("SETACTIVE", "").status == "OK"
    assert names(c) == {"filters": False, "other": False}
    assert c.command("DELETESCRIPT", "filters").status == "OK"
    r = c.command("DELETESCRIPT", "filters")
    assert (r.status, r.code) == ("NO", "NONEXISTENT"), r
    assert names(c) == {"other": False}
    # A second session of the same user sees the same store.
    c2 = login(h)
    assert names(c2) == {"other": False}
    for bad in ("a/b", "", "x" * 200, "tab\there"):
        r = c.command("PUTSCRIPT", bad, b"keep;\r\n")
        assert r.status == "NO", (bad, r)
    assert c.command("LOGOUT").status == "OK"


def test_havespace_and_limits(haven_factory):
    h = start(haven_factory, "sieve_max_script_size = 2048\nsieve_max_scripts = 2")
    c = login(h)
    c.send(b'HAVESPACE "a" 100\r\n')
    assert c.response().status == "OK"
    c.send(b'HAVESPACE "a" 5000\r\n')
    r = c.response()
    assert (r.status, r.code) == ("NO", "QUOTA/MAXSIZE"), r
    c.send(b'HAVESPACE "a" 99999999999\r\n')
    assert c.response().status == "NO"
    assert c.command("PUTSCRIPT", "a", b"keep;\r\n").status == "OK"
    assert c.command("PUTSCRIPT", "b", b"keep;\r\n").status == "OK"
    c.send(b'HAVESPACE "c" 10\r\n')
    r = c.response()
    assert (r.status, r.code) == ("NO", "QUOTA/MAXSCRIPTS"), r
    c.send(b'HAVESPACE "b" 10\r\n')     # replacing one is fine
    assert c.response().status == "OK"
    r = c.command("PUTSCRIPT", "c", b"keep;\r\n")
    assert (r.status, r.code) == ("NO", "QUOTA/MAXSCRIPTS"), r
    # A script over the limit is refused before it is read; the session goes on.
    big = b"# " + b"x" * 4000 + b"\r\nkeep;\r\n"
    r = c.command("PUTSCRIPT", "a", big)
    assert (r.status, r.code) == ("NO", "QUOTA/MAXSIZE"), r
    assert names(c) == {"a": False, "b": False}
    assert c.command("GETSCRIPT", "a").lines == [[b"keep;\r\n"]]


# ---- a real client: sieve-connect (Debian's, scripts/install-deps) -----------

def sieve_connect(h, *args, password=None):
    argv = ["sieve-connect", "-s", "127.0.0.1", "-p", str(h.sieve_port), "-u", "alice",
            "--passwordfd", "0", "--tlscafile", h.cert, "--noclearchan"] + list(args)
    return subprocess.run(argv, input=(password or h.users["alice"]) + "\n", timeout=60,
                          capture_output=True, text=True)


@pytest.mark.skipif(shutil.which("sieve-connect") is None, reason="sieve-connect not installed")
def test_sieve_connect(haven_factory, tmp_path):
    h = start(haven_factory, "plaintext_auth = no")
    local = tmp_path / "vacation.sieve"
    local.write_bytes(SCRIPT)
    # --noclearchan: it must get TLS (STARTTLS) before it authenticates.
    r = sieve_connect(h, "--localsieve", str(local), "--remotesieve", "vac", "--upload")
    assert r.returncode == 0, r.stderr
    r = sieve_connect(h, "--remotesieve", "vac", "--activate")
    assert r.returncode == 0, r.stderr
    r = sieve_connect(h, "--list")
    assert r.returncode == 0 and r.stdout.splitlines() == ['"vac" ACTIVE'], r
    back = tmp_path / "back.sieve"
    r = sieve_connect(h, "--localsieve", str(back), "--remotesieve", "vac", "--download")
    assert r.returncode == 0, r.stderr
    assert back.read_bytes() == SCRIPT
    broken = tmp_path / "broken.sieve"
    broken.write_bytes(BROKEN)
    r = sieve_connect(h, "--localsieve", str(broken), "--remotesieve", "b", "--upload")
    assert r.returncode != 0 and "line " in r.stdout + r.stderr, r
    r = sieve_connect(h, "--list", password="wrong")
    assert r.returncode != 0
    c = connect(h)
    c.starttls(h.cert)
    assert c.authenticate_plain("alice", h.users["alice"]).status == "OK"
    assert names(c) == {"vac": True}


# ---- what it is for: a script put and activated here filters delivery --------

def deliver(h, subject):
    c = Lmtp(h.lmtp_port)
    c.lhlo()
    c.ok(b"MAIL FROM:<sender@example.org>")
    c.ok(b"RCPT TO:<alice>")
    replies = c.data(b"From: sender@example.org\r\nTo: alice@example.org\r\nSubject: " +
                     subject + b"\r\n\r\nbody\r\n", 1)
    c.close()
    assert [code for code, _ in replies] == [250], replies


def subjects(h, box):
    m = h.login("alice")
    typ, data = m.select('"%s"' % box, readonly=True)
    assert typ == "OK", data
    typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])") if int(data[0]) else ("OK", [])
    m.logout()
    return sorted(part[1].strip().decode()[len("Subject: "):] for part in data
                  if isinstance(part, tuple))


def test_script_filters_lmtp_delivery(haven_factory):
    lmtp_port = free_port()
    h = start(haven_factory, "lmtp_listen = 127.0.0.1:%d" % lmtp_port)
    h.lmtp_port = lmtp_port
    wait_listening(lmtp_port, h.proc, 30, h.log_text)
    m = h.login("alice")
    assert m.create("Filtered")[0] == "OK"
    m.logout()
    c = login(h)
    script = b'require "fileinto";\r\nif header :contains "subject" "spam" {\r\n' \
             b'  fileinto "Filtered";\r\n}\r\n'
    assert c.command("PUTSCRIPT", "filter", script).status == "OK"
    deliver(h, b"spam before activation")
    assert c.command("SETACTIVE", "filter").status == "OK"
    deliver(h, b"ham")
    deliver(h, b"more spam")
    assert c.command("SETACTIVE", "").status == "OK"
    deliver(h, b"spam after deactivation")
    assert subjects(h, "Filtered") == ["more spam"]
    assert subjects(h, "INBOX") == ["ham", "spam after deactivation", "spam before activation"]


@only_backends("pgsql")
def test_store_down_is_trylater(haven_factory):
    """The store's connection lost under a session: NO (TRYLATER), the
    session goes on, and the next command finds the store again."""
    h = start(haven_factory)
    c = login(h)
    assert c.command("PUTSCRIPT", "s", b"keep;\r\n").status == "OK"
    h.pg.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
              "WHERE datname = current_database() AND usename = 'haven_worker'", db=h.db)
    r = c.command("LISTSCRIPTS")
    assert (r.status, r.code) == ("NO", "TRYLATER"), r
    assert names(c) == {"s": False}
