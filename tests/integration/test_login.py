"""Pre-auth: greeting, capabilities, LOGIN, AUTHENTICATE PLAIN, STARTTLS,
implicit TLS, and the hand-off of pipelined commands to the user worker."""
import base64
import imaplib
import socket
import ssl

import pytest

from conftest import read_until_tagged


def test_greeting_and_capability(haven):
    m = haven.imap()
    caps = m.capabilities
    assert "IMAP4REV1" in caps
    assert "STARTTLS" in caps
    assert "AUTH=PLAIN" in caps  # loopback counts as secure by default
    typ, data = m.capability()
    assert typ == "OK"
    m.logout()


def test_login_ok_and_capabilities_change(haven):
    m = haven.imap()
    typ, data = m.login("alice", "pw-alice")
    assert typ == "OK"
    # The user worker answers the LOGIN with its own capability list.
    assert b"CAPABILITY" in data[0]
    typ, data = m.capability()
    assert b"STARTTLS" not in data[0]
    assert m.noop()[0] == "OK"
    m.logout()


def test_login_wrong_password(haven):
    m = haven.imap()
    with pytest.raises(imaplib.IMAP4.error) as e:
        m.login("alice", "nope")
    assert "AUTHENTICATIONFAILED" in str(e.value)
    # The session goes on: a correct login still works.
    assert m.login("alice", "pw-alice")[0] == "OK"
    m.logout()


def test_unknown_user_and_too_many_failures(haven):
    s, f = haven.raw()
    for i in range(3):
        s.sendall(b"a%d LOGIN nobody-here x\r\n" % i)
        lines = read_until_tagged(f, b"a%d" % i)
        assert b"NO [AUTHENTICATIONFAILED]" in lines[-1]
    # auth_max_attempts (3) reached: the server says BYE and closes.
    rest = f.read()
    assert rest == b"" or b"BYE" in rest
    s.close()


def test_authenticate_plain_initial_response(haven):
    s, f = haven.raw()
    ir = base64.b64encode(b"\0bob\0pw-bob")
    s.sendall(b"a AUTHENTICATE PLAIN " + ir + b"\r\n")
    lines = read_until_tagged(f, b"a")
    assert lines[-1].startswith(b"a OK")
    s.sendall(b"b LOGOUT\r\n")
    assert read_until_tagged(f, b"b")[-1].startswith(b"b OK")


def test_authenticate_plain_continuation(haven):
    m = haven.imap()
    typ, _ = m.authenticate("PLAIN", lambda _: b"\0alice\0pw-alice")
    assert typ == "OK"
    assert m.select("INBOX")[0] == "OK"
    m.logout()


def test_authenticate_cancel_and_bad_base64(haven):
    s, f = haven.raw()
    s.sendall(b"a AUTHENTICATE PLAIN\r\n")
    assert f.readline().startswith(b"+")
    s.sendall(b"*\r\n")
    assert read_until_tagged(f, b"a")[-1].startswith(b"a BAD")
    s.sendall(b"b AUTHENTICATE PLAIN !!!notbase64\r\n")
    assert read_until_tagged(f, b"b")[-1].startswith(b"b BAD")
    s.sendall(b"c AUTHENTICATE CRAM-MD5\r\n")
    assert read_until_tagged(f, b"c")[-1].startswith(b"c NO")
    s.close()


def test_starttls_then_login(haven):
    m = haven.imap()
    m.starttls(ssl_context=haven.ssl_context())
    assert "STARTTLS" not in m.capabilities
    assert m.login("alice", "pw-alice")[0] == "OK"
    assert m.select("INBOX")[0] == "OK"
    # Append and read back through the TLS proxy.
    msg = b"Subject: over tls\r\n\r\nhello through the proxy\r\n"
    assert m.append("INBOX", None, None, msg)[0] == "OK"
    m.select("INBOX")
    typ, data = m.fetch("1", "(BODY.PEEK[])")
    assert data[0][1] == msg
    m.logout()


def test_implicit_tls(haven):
    m = haven.imap_tls()
    assert m.login("bob", "pw-bob")[0] == "OK"
    assert m.list()[0] == "OK"
    m.logout()


def test_starttls_injection_is_discarded(haven):
    """Commands pipelined in cleartext after STARTTLS must not run."""
    s, f = haven.raw()
    s.sendall(b"a STARTTLS\r\nb LOGIN alice pw-alice\r\n")
    assert read_until_tagged(f, b"a")[-1].startswith(b"a OK")
    tls = haven.ssl_context().wrap_socket(s, server_hostname="127.0.0.1")
    tf = tls.makefile("rb")
    tls.sendall(b"c NOOP\r\n")
    lines = read_until_tagged(tf, b"c")
    assert not any(l.startswith(b"b ") for l in lines)
    tls.close()


def test_pipelined_after_login_reaches_worker(haven):
    s, f = haven.raw()
    s.sendall(b"a LOGIN alice pw-alice\r\nb SELECT INBOX\r\nc NOOP\r\nd LOGOUT\r\n")
    out = []
    for tag in (b"a", b"b", b"c", b"d"):
        out += read_until_tagged(f, tag)
    tagged = [l.split(b" ")[0] + b" " + l.split(b" ")[1] for l in out if not l.startswith(b"*")]
    assert tagged == [b"a OK", b"b OK", b"c OK", b"d OK"], out
    s.close()


def test_pipelined_after_login_over_tls(haven):
    raw = socket.create_connection(("127.0.0.1", haven.tls_port), timeout=20)
    s = haven.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1")
    f = s.makefile("rb")
    assert f.readline().startswith(b"* OK")
    s.sendall(b"a LOGIN bob pw-bob\r\nb SELECT INBOX\r\nc LOGOUT\r\n")
    out = []
    for tag in (b"a", b"b", b"c"):
        out += read_until_tagged(f, tag)
    assert out[-1].startswith(b"c OK")
    s.close()


def test_plaintext_refused_when_configured(haven_factory):
    h = haven_factory(extra_conf="plaintext_auth = no")
    m = h.imap()
    assert "LOGINDISABLED" in m.capabilities
    with pytest.raises(imaplib.IMAP4.error) as e:
        m.login("alice", "pw-alice")
    assert "PRIVACYREQUIRED" in str(e.value)
    m.starttls(ssl_context=h.ssl_context())
    assert m.login("alice", "pw-alice")[0] == "OK"
    m.logout()


def test_large_message_through_tls_proxy(haven):
    """Megabytes each way through the login worker's TLS proxy, with its
    flow control engaged, arrive intact."""
    m = haven.imap_tls()
    m.login("alice", "pw-alice")
    line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n"
    big = b"Subject: big\r\n\r\n" + line * 60000  # ~4.4 MB
    assert m.append("INBOX", None, None, big)[0] == "OK"
    m.select("INBOX")
    for _ in range(2):
        typ, data = m.fetch("1", "(BODY.PEEK[])")
        assert data[0][1] == big
    m.logout()
