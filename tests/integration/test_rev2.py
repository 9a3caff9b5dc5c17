"""IMAP4rev2 (RFC 9051) on the same port as IMAP4rev1: both advertised,
rev1 behaviour until ENABLE IMAP4rev2, rev2 behaviour after it (Appendix E):
ESEARCH instead of SEARCH, no RECENT, a LIST response on SELECT, UTF-8
names, UID in unsolicited FETCH."""
import re

from conftest import read_until_tagged


def run(s, f, tag, cmd):
    s.sendall(tag + b" " + cmd + b"\r\n")
    return read_until_tagged(f, tag)


def login(haven, user="alice"):
    s, f = haven.raw()
    assert run(s, f, b"l", b"LOGIN %s pw-%s" % (user.encode(), user.encode()))[-1].startswith(b"l OK")
    return s, f


def test_both_revisions_advertised(haven):
    s, f = haven.raw()
    caps = b"".join(run(s, f, b"a", b"CAPABILITY"))
    assert b" IMAP4rev1 " in caps and b" IMAP4rev2" in caps
    run(s, f, b"b", b"LOGIN alice pw-alice")
    caps = b"".join(run(s, f, b"c", b"CAPABILITY"))
    for cap in (b"IMAP4rev1", b"IMAP4rev2", b"ENABLE", b"IDLE", b"NAMESPACE", b"UNSELECT",
                b"UIDPLUS", b"ESEARCH", b"SEARCHRES", b"LIST-EXTENDED", b"LIST-STATUS",
                b"MOVE", b"SPECIAL-USE", b"STATUS=SIZE", b"BINARY", b"LITERAL+"):
        assert b" " + cap in caps, cap
    s.close()


def test_rev1_until_enabled_then_rev2(haven):
    s, f = login(haven)
    for i in range(3):
        msg = b"Subject: n%d\r\n\r\nx\r\n" % i
        assert run(s, f, b"p%d" % i, b"APPEND INBOX {%d+}\r\n" % len(msg) + msg)[-1].startswith(b"p")
    # IMAP4rev1: RECENT on SELECT, SEARCH response.
    sel = b"".join(run(s, f, b"a", b"SELECT INBOX"))
    assert b" RECENT\r\n" in sel and b"* LIST" not in sel
    res = run(s, f, b"b", b"SEARCH ALL")
    assert res[0] == b"* SEARCH 1 2 3\r\n"
    # ENABLE IMAP4rev2 answers ENABLED and changes behaviour from here on
    # (ENABLE is an authenticated-state command: RFC 9051 6.4, RFC 5161 3).
    assert run(s, f, b"u", b"UNSELECT")[-1].startswith(b"u OK")
    en = run(s, f, b"c", b"ENABLE IMAP4rev2")
    assert en[0] == b"* ENABLED IMAP4rev2\r\n"
    assert run(s, f, b"c2", b"ENABLE IMAP4rev2")[0] == b"* ENABLED\r\n"  # not newly enabled
    run(s, f, b"d0", b"SELECT INBOX")
    sel = b"".join(run(s, f, b"d", b"SELECT INBOX"))
    assert b"* OK [CLOSED]" in sel        # RFC 9051 E.9
    assert b"* LIST (" in sel             # E.10
    assert b" RECENT\r\n" not in sel      # E.12
    assert b"[UNSEEN " not in sel         # E.11
    res = run(s, f, b"e", b"SEARCH ALL")
    assert res[0] == b'* ESEARCH (TAG "e") ALL 1:3\r\n'   # E.4
    res = run(s, f, b"f", b"UID SEARCH RETURN (MIN MAX COUNT) ALL")
    assert re.match(rb'\* ESEARCH \(TAG "f"\) UID MIN 1 MAX 3 COUNT 3\r\n', res[0])
    s.close()


def test_rev2_unsolicited_fetch_has_uid(haven):
    a, af = login(haven)
    b, bf = login(haven)
    run(a, af, b"p", b"APPEND INBOX {12+}\r\nSubject: x\r\n")
    run(a, af, b"e", b"ENABLE IMAP4rev2")
    run(a, af, b"s", b"SELECT INBOX")
    run(b, bf, b"s", b"SELECT INBOX")
    run(b, bf, b"t", b"STORE 1 +FLAGS (\\Flagged)")
    out = b"".join(run(a, af, b"n", b"NOOP"))
    assert re.search(rb"\* 1 FETCH \(UID 1 FLAGS \(\\Flagged\)\)", out), out
    a.close()
    b.close()


def test_rev2_utf8_mailbox_names(haven):
    s, f = login(haven)
    run(s, f, b"e", b"ENABLE IMAP4rev2")
    name = "Entwürfe/Ärger".encode()
    assert run(s, f, b"c", b'CREATE "' + name + b'"')[-1].startswith(b"c OK")
    out = b"".join(run(s, f, b"l", b'LIST "" "Entw*"'))
    assert name in out
    s.close()
    # An IMAP4rev1 session sees the same mailbox in modified UTF-7.
    s, f = login(haven)
    out = b"".join(run(s, f, b"l", b'LIST "" "Entw*"'))
    assert b"Entw&APw-rfe/&AMQ-rger" in out
    s.close()


def test_rfc9051_examples(haven):
    """Examples from RFC 9051's text, adapted to this server's mailboxes."""
    s, f = login(haven)
    run(s, f, b"e", b"ENABLE IMAP4rev2")
    # 6.3.1 ENABLE (done above); 6.3.9 LIST "" "" -> delimiter
    out = run(s, f, b"A101", b'LIST "" ""')
    assert out[0] == b'* LIST (\\Noselect) "/" ""\r\n'
    # 6.3.10 NAMESPACE
    out = run(s, f, b"A001", b"NAMESPACE")
    assert out[0].startswith(b'* NAMESPACE (("" "/")) NIL NIL')
    # 6.3.11 STATUS with SIZE and DELETED
    run(s, f, b"p", b"APPEND INBOX (\\Deleted) {12+}\r\nSubject: x\r\n")
    out = b"".join(run(s, f, b"A042", b"STATUS INBOX (MESSAGES UIDNEXT DELETED SIZE)"))
    assert re.search(rb'\* STATUS "?INBOX"? \(.*MESSAGES 1.*\)', out), out
    assert b"DELETED 1" in out and b"SIZE 12" in out
    # 6.4.2 CLOSE / 6.4.3 UNSELECT; 6.4.4 SEARCH with SAVE and $
    run(s, f, b"s", b"SELECT INBOX")
    out = run(s, f, b"A282", b"SEARCH RETURN (SAVE) DELETED")
    assert out[-1].startswith(b"A282 OK")
    out = b"".join(run(s, f, b"A283", b"UID FETCH $ (UID FLAGS)"))
    assert b"\\Deleted" in out
    assert run(s, f, b"A341", b"UNSELECT")[-1].startswith(b"A341 OK")
    s.close()

def test_status_recent_is_rev1_only(haven):
    # RFC 9051 status-att has no RECENT (appendix E.11): a rev1 session gets
    # the count, a rev2 session a BAD for STATUS and for LIST RETURN STATUS.
    s, f = login(haven)
    res = run(s, f, b"a", b"STATUS INBOX (MESSAGES RECENT)")
    assert res[-1].startswith(b"a OK") and re.match(rb"\* STATUS \"?INBOX\"? \(MESSAGES \d+ RECENT \d+\)", res[0])
    assert run(s, f, b"b", b"ENABLE IMAP4rev2")[0] == b"* ENABLED IMAP4rev2\r\n"
    res = run(s, f, b"c", b"STATUS INBOX (MESSAGES RECENT)")
    assert res == [res[-1]] and res[-1].startswith(b"c BAD")
    res = run(s, f, b"d", b'LIST "" INBOX RETURN (STATUS (RECENT))')
    assert res == [res[-1]] and res[-1].startswith(b"d BAD")
    res = run(s, f, b"e", b"STATUS INBOX (MESSAGES UIDNEXT)")
    assert res[-1].startswith(b"e OK") and b"(MESSAGES " in res[0]
    s.close()
