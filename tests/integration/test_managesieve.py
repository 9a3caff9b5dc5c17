"""ManageSieve (RFC 5804): the listener, the pre-auth login worker
(greeting, STARTTLS, AUTHENTICATE through the auth helper, bad input) and
the authenticated session in the user worker, driven by the RFC's client
(managesieve_client.py) as Thunderbird's and Roundcube's add-ons speak it."""
import base64

import pytest

from conftest import free_port
from managesieve_client import ManageSieve


def start(haven_factory, extra=""):
    port = free_port()
    h = haven_factory(extra_conf="managesieve_listen = 127.0.0.1:%d\n%s" % (port, extra))
    h.sieve_port = port
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
