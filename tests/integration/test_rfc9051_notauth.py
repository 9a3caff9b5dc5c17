"""RFC 9051 section 6.2: the not-authenticated state (STARTTLS,
AUTHENTICATE, LOGIN), the examples from the RFC's text, and the state
rules: commands of later states are BAD before login, LOGIN/AUTHENTICATE/
STARTTLS are BAD after it."""
import base64
import ssl

import pytest

from rfc9051_common import Session, mode  # noqa: F401


def b64(s):
    return base64.b64encode(s)


def starttls(s):
    ctx = s.haven.ssl_context()
    s.sock = ctx.wrap_socket(s.sock, server_hostname="127.0.0.1")
    s.f = s.sock.makefile("rb")


def test_starttls_example(haven):
    # 6.2.1 example: a001 CAPABILITY / a002 STARTTLS / <TLS> / a003 CAPABILITY / a004 LOGIN
    s = Session(haven, login=False)
    out = s.ok(b"CAPABILITY", b"a001")
    assert b" STARTTLS" in out[0]
    out = s.cmd(b"STARTTLS", b"a002")
    assert len(out) == 1 and out[0].startswith(b"a002 OK"), out
    starttls(s)
    out = s.ok(b"CAPABILITY", b"a003")
    assert out[0].startswith(b"* CAPABILITY ") and b"IMAP4rev2" in out[0]
    assert b"STARTTLS" not in out[0]          # no second STARTTLS offered
    assert b"AUTH=PLAIN" in out[0]
    out = s.cmd(b"STARTTLS")                   # already under TLS: refused
    assert len(out) == 1 and (b" NO " in out[0] or b" BAD " in out[0]), out
    out = s.ok(b"LOGIN alice pw-alice", b"a004")
    assert out[-1].startswith(b"a004 OK")
    s.close()


def test_starttls_pipelined_command_discarded(haven):
    # 6.2.1: the client MUST NOT send more until the tagged response; a
    # server receiving plaintext after STARTTLS must not act on it after TLS.
    s = Session(haven, login=False)
    s.send(b"a002 STARTTLS\r\na003 NOOP\r\n")
    first = s.response()
    assert first.startswith(b"a002 OK")
    # whatever the server does with a003 (discard or drop the connection),
    # it must not answer it over the TLS layer as if it were protected.
    try:
        starttls(s)
        out = s.cmd(b"CAPABILITY", b"a004")
        assert not any(l.startswith(b"a003") for l in out), out
    except (ssl.SSLError, OSError, EOFError):
        pass
    s.close()


def test_starttls_on_implicit_tls_port_is_bad(haven):
    ctx = haven.ssl_context()
    import socket
    raw = socket.create_connection(("127.0.0.1", haven.tls_port), timeout=20)
    tls = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    f = tls.makefile("rb")
    assert f.readline().startswith(b"* OK")
    tls.sendall(b"t1 STARTTLS\r\n")
    line = f.readline()
    assert line.startswith(b"t1 BAD") or line.startswith(b"t1 NO"), line
    tls.close()


@pytest.mark.parametrize("how", ["continuation", "sasl-ir"])
def test_authenticate_plain(haven, how):
    s = Session(haven, login=False)
    cred = b64(b"\0alice\0pw-alice")
    if how == "continuation":
        # 6.2.2 example flow: command, "+ " challenge, client response, tagged OK
        s.send(b"A001 AUTHENTICATE PLAIN\r\n")
        cont = s.response()
        assert cont.startswith(b"+"), cont
        s.send(cred + b"\r\n")
        out = s.until(b"A001")
    else:
        out = s.cmd(b"AUTHENTICATE PLAIN " + cred, b"A001")
    assert out[-1].startswith(b"A001 OK"), out
    # now authenticated: SELECT is allowed, LOGIN is not
    s.ok(b"SELECT INBOX")
    s.close()


def test_authenticate_failures(haven):
    s = Session(haven, login=False)
    # wrong password -> NO [AUTHENTICATIONFAILED]
    out = s.cmd(b"AUTHENTICATE PLAIN " + b64(b"\0alice\0wrong"))
    assert out[-1].startswith(b"A001 NO [AUTHENTICATIONFAILED]"), out
    # unsupported mechanism -> NO
    out = s.cmd(b"AUTHENTICATE GSSAPI")
    assert b" NO" in out[-1] and not out[0].startswith(b"+"), out
    # client cancels the exchange with "*" -> BAD
    s.send(b"A003 AUTHENTICATE PLAIN\r\n")
    assert s.response().startswith(b"+")
    s.send(b"*\r\n")
    out = s.until(b"A003")
    assert out[-1].startswith(b"A003 BAD"), out
    # invalid base64 -> BAD
    s.send(b"A004 AUTHENTICATE PLAIN\r\n")
    assert s.response().startswith(b"+")
    s.send(b"!!!not-base64!!!\r\n")
    out = s.until(b"A004")
    assert out[-1].startswith(b"A004 BAD") or out[-1].startswith(b"A004 NO"), out
    # still not authenticated
    assert s.bad(b"SELECT INBOX")
    s.ok(b"LOGIN alice pw-alice")
    s.close()


def test_login_example_and_failures(haven):
    s = Session(haven, login=False)
    out = s.cmd(b"LOGIN alice wrong", b"a001")
    assert out == [out[-1]] and out[-1].startswith(b"a001 NO [AUTHENTICATIONFAILED]"), out
    out = s.cmd(b"LOGIN nosuchuser pw-x", b"a002")
    assert out[-1].startswith(b"a002 NO [AUTHENTICATIONFAILED]"), out
    assert s.bad(b"LOGIN alice")               # missing argument
    # quoted string and literal forms of the same arguments
    out = s.cmd(b'LOGIN "alice" {8+}\r\npw-alice', b"a003")
    assert out[-1].startswith(b"a003 OK"), out
    # the OK may carry the new CAPABILITY list (7.1)
    assert b"[CAPABILITY " not in out[-1] or b"IMAP4rev2" in out[-1]
    s.close()


def chunks(seq, n=4):
    """The server hangs up after a run of invalid commands (* BYE Too many
    invalid commands), so each batch of BAD commands gets its own session."""
    seq = list(seq)
    return [seq[i:i + n] for i in range(0, len(seq), n)]


def test_commands_before_login_are_bad(haven):
    for batch in chunks((b"SELECT INBOX", b"EXAMINE INBOX", b"CREATE x", b"DELETE x", b"RENAME x y",
              b"SUBSCRIBE x", b"UNSUBSCRIBE x", b'LIST "" *', b"NAMESPACE",
              b"STATUS INBOX (MESSAGES)", b"APPEND INBOX {1+}\r\nx", b"IDLE",
              b"ENABLE IMAP4rev2", b"CLOSE", b"UNSELECT", b"EXPUNGE", b"SEARCH ALL",
              b"FETCH 1 FLAGS", b"STORE 1 +FLAGS (\\Seen)", b"COPY 1 x", b"MOVE 1 x",
              b"UID FETCH 1 FLAGS")):
        s = Session(haven, login=False)
        for c in batch:
            s.bad(c)
        s.ok(b"LOGIN alice pw-alice")
        s.close()


def test_login_commands_after_login_are_bad(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    for state in ("auth", "selected"):
        if state == "selected":
            s.ok(b"SELECT INBOX")
        s.bad(b"LOGIN alice pw-alice")
        s.bad(b"LOGIN bob pw-bob")
        s.bad(b"AUTHENTICATE PLAIN " + b64(b"\0alice\0pw-alice"))
        out = s.cmd(b"STARTTLS")
        assert b" BAD " in out[-1], out
    s.ok(b"NOOP")
    s.close()


def test_selected_state_commands_in_authenticated_state_are_bad(haven, mode):
    for batch in chunks((b"CLOSE", b"UNSELECT", b"EXPUNGE", b"SEARCH ALL", b"FETCH 1 FLAGS",
                         b"STORE 1 +FLAGS (\\Seen)", b"COPY 1 Drafts", b"MOVE 1 Drafts",
                         b"UID FETCH 1 FLAGS", b"UID SEARCH ALL", b"UID EXPUNGE 1")):
        s = Session(haven, rev2=(mode == "rev2"))
        for c in batch:
            s.bad(c)
        s.ok(b"NOOP")
        s.close()
