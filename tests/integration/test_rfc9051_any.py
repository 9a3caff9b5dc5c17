"""RFC 9051 section 6.1: commands valid in any state (CAPABILITY, NOOP,
LOGOUT), walked in not-authenticated, authenticated and selected state,
as an IMAP4rev1 session and after ENABLE IMAP4rev2."""
from rfc9051_common import Session, mode, simple_msg, untagged  # noqa: F401


def caps(lines):
    caps = [l for l in lines if l.startswith(b"* CAPABILITY ")]
    assert len(caps) == 1, lines
    assert caps[0].endswith(b"\r\n")
    return caps[0][len(b"* CAPABILITY "):-2].split(b" ")


def test_capability_not_authenticated(haven):
    # 6.1.1 example: abcd CAPABILITY -> * CAPABILITY IMAP4rev2 STARTTLS AUTH=GSSAPI LOGINDISABLED
    s = Session(haven, login=False)
    out = s.ok(b"CAPABILITY", b"abcd")
    assert len(out) == 2 and out[1].startswith(b"abcd OK ")
    c = caps(out)
    assert b"IMAP4rev2" in c and b"IMAP4rev1" in c
    assert b"STARTTLS" in c and b"AUTH=PLAIN" in c
    # allow_plain_passwords = yes: no LOGINDISABLED
    assert b"LOGINDISABLED" not in c
    s.close()


def test_capability_authenticated_and_selected(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    c = caps(s.ok(b"CAPABILITY", b"efgh"))
    assert b"IMAP4rev2" in c and b"IMAP4rev1" in c
    # STARTTLS and AUTH= are not-authenticated-state capabilities
    assert b"STARTTLS" not in c and not any(x.startswith(b"AUTH=") for x in c)
    for need in (b"ENABLE", b"IDLE", b"NAMESPACE", b"UNSELECT", b"UIDPLUS", b"ESEARCH",
                 b"SEARCHRES", b"MOVE", b"LIST-EXTENDED", b"LIST-STATUS", b"BINARY",
                 b"STATUS=SIZE", b"SPECIAL-USE"):
        assert need in c, need
    s.ok(b"SELECT INBOX")
    assert caps(s.ok(b"CAPABILITY")) == c
    s.close()


def test_noop_every_state(haven, mode):
    s = Session(haven, login=False)
    out = s.ok(b"NOOP", b"a001")
    assert len(out) == 1 and out[0].startswith(b"a001 OK")
    s.ok(b"LOGIN alice pw-alice")
    if mode == "rev2":
        s.enable_rev2()
    out = s.ok(b"NOOP", b"a002")
    assert out[-1].startswith(b"a002 OK")
    s.ok(b"SELECT INBOX")
    out = s.ok(b"NOOP", b"a047")
    assert len(out) == 1 and out[0].startswith(b"a047 OK")


def test_noop_reports_new_mail_and_flag_changes(haven, mode):
    # 6.1.2 example: NOOP returns pending EXISTS / EXPUNGE / FETCH updates
    a = Session(haven, rev2=(mode == "rev2"))
    b = Session(haven)
    for i in range(1, 4):
        b.append(b"INBOX", simple_msg(i))
    a.ok(b"SELECT INBOX")
    b.ok(b"SELECT INBOX")
    b.ok(b"STORE 3 +FLAGS (\\Deleted)")
    b.ok(b"STORE 1 +FLAGS (\\Flagged)")
    b.ok(b"EXPUNGE")
    b.append(b"INBOX", simple_msg(4))
    b.append(b"INBOX", simple_msg(5))
    out = a.ok(b"NOOP", b"a047")
    assert out[-1].startswith(b"a047 OK")
    u = untagged(out)
    assert b"* 3 EXPUNGE\r\n" in u
    assert b"* 4 EXISTS\r\n" in u
    assert u.index(b"* 3 EXPUNGE\r\n") < u.index(b"* 4 EXISTS\r\n")
    fetch = [l for l in u if l.startswith(b"* 1 FETCH")]
    if mode == "rev2":
        assert fetch == [b"* 1 FETCH (UID 1 FLAGS (\\Flagged))\r\n"], u
    else:
        # a SELECTed first: \Recent is its own (RFC 3501 2.3.2)
        assert len(fetch) == 1 and b"FLAGS (\\Flagged \\Recent)" in fetch[0], u
    # nothing left pending: a second NOOP is quiet
    assert len(a.ok(b"NOOP")) == 1
    a.close()
    b.close()


def test_logout_every_state(haven, mode):
    # 6.1.3 example: A023 LOGOUT -> * BYE ..., A023 OK LOGOUT completed, then close
    for state in ("notauth", "auth", "selected"):
        s = Session(haven, login=(state != "notauth"), rev2=(mode == "rev2" and state != "notauth"))
        if state == "selected":
            s.ok(b"SELECT INBOX")
        out = s.cmd(b"LOGOUT", b"A023")
        assert len(out) == 2, out
        assert out[0].startswith(b"* BYE")
        assert out[1].startswith(b"A023 OK")
        assert s.f.readline() == b""   # server closes the connection
        s.close()


def test_any_state_commands_take_no_arguments(haven):
    s = Session(haven, login=False)
    for c in (b"CAPABILITY x", b"NOOP x", b"LOGOUT x"):
        s.bad(c)
    s.ok(b"NOOP")
    s.close()
