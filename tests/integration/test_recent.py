"""\\Recent (RFC 3501 2.3.2) with the mbox backend, as UW-IMAP and Dovecot do
it: new mail (Status without O) is \\Recent for the first session that
SELECTs the mailbox and sees it, which marks it old in the file; EXAMINE
sessions report it without claiming it. IMAP4rev2 (RFC 9051) has no
\\Recent: after ENABLE IMAP4rev2 neither the flag nor RECENT responses."""
import re

from conftest import only_backends, read_until_tagged


def run(s, f, tag, cmd):
    s.sendall(tag + b" " + cmd + b"\r\n")
    lines = read_until_tagged(f, tag)
    assert lines[-1].startswith(tag + b" OK"), lines
    return lines


def login(haven, user="alice"):
    s, f = haven.raw()
    run(s, f, b"l", b"LOGIN %s pw-%s" % (user.encode(), user.encode()))
    return s, f


def append(s, f, tag, subject, box=b"INBOX", flags=b""):
    msg = b"Subject: %s\r\n\r\nbody\r\n" % subject
    if flags:
        flags = b"(" + flags + b") "
    return run(s, f, tag, b"APPEND %s %s{%d+}\r\n" % (box, flags, len(msg)) + msg)


def recent_count(lines):
    counts = [int(m.group(1)) for m in (re.match(rb"\* (\d+) RECENT\r\n", l) for l in lines) if m]
    assert len(counts) <= 1, lines
    return counts[0] if counts else None


def flags_of(lines):
    """{seq: [flags]} from FETCH responses."""
    out = {}
    for l in lines:
        m = re.match(rb"\* (\d+) FETCH \(.*FLAGS \(([^)]*)\)", l)
        if m:
            out[int(m.group(1))] = m.group(2).split()
    return out


def search(s, f, tag, key):
    lines = run(s, f, tag, b"SEARCH " + key)
    for l in lines:
        if l.startswith(b"* SEARCH"):
            return [int(x) for x in l.split()[2:]]
    raise AssertionError(lines)


def test_select_claims_recent(haven):
    a, fa = login(haven)
    for i in range(3):
        append(a, fa, b"p%d" % i, b"m%d" % i, flags=b"\\Seen" if i == 1 else b"")
    st = b"".join(run(a, fa, b"s", b"STATUS INBOX (MESSAGES RECENT UNSEEN)"))
    assert b"RECENT 3" in st
    # An EXAMINE session sees them as recent and leaves them new.
    e, fe = login(haven, "alice")
    ex = run(e, fe, b"x", b"EXAMINE INBOX")
    assert recent_count(ex) == 3
    assert all(b"\\Recent" in fl for fl in flags_of(run(e, fe, b"y", b"FETCH 1:* FLAGS")).values())
    # Session A selects: 3 RECENT, \Recent in FETCH FLAGS, and keeps them.
    sel = run(a, fa, b"a", b"SELECT INBOX")
    assert recent_count(sel) == 3
    fl = flags_of(run(a, fa, b"b", b"FETCH 1:* FLAGS"))
    assert fl == {1: [b"\\Recent"], 2: [b"\\Seen", b"\\Recent"], 3: [b"\\Recent"]}
    assert search(a, fa, b"c1", b"RECENT") == [1, 2, 3]
    assert search(a, fa, b"c2", b"NEW") == [1, 3]
    assert search(a, fa, b"c3", b"OLD") == []
    assert search(a, fa, b"c4", b"NOT RECENT") == []
    # Claimed: STATUS counts no recent mail any more.
    st = b"".join(run(e, fe, b"z", b"STATUS INBOX (RECENT)"))
    assert b"RECENT 0" in st
    # STORE answers carry \Recent too, and the claim was no flag change.
    res = run(a, fa, b"d", b"STORE 1 +FLAGS (\\Flagged)")
    assert flags_of(res)[1] == [b"\\Flagged", b"\\Recent"]
    # Session B selecting afterwards: nothing recent.
    b, fb = login(haven)
    sel = run(b, fb, b"a", b"SELECT INBOX")
    assert recent_count(sel) == 0
    fl = flags_of(run(b, fb, b"b", b"FETCH 1:* FLAGS"))
    assert not any(b"\\Recent" in v for v in fl.values())
    assert search(b, fb, b"c", b"RECENT") == []
    assert search(b, fb, b"d", b"OLD") == [1, 2, 3]
    # The EXAMINE session keeps reporting them (it saw them new).
    lines = run(e, fe, b"w", b"NOOP")
    assert recent_count(lines) is None
    fl = flags_of(run(e, fe, b"v", b"FETCH 1:* FLAGS"))
    assert all(b"\\Recent" in v for v in fl.values())
    for s in (a, b, e):
        s.close()


def test_new_mail_while_selected(haven):
    a, fa = login(haven)
    append(a, fa, b"p", b"first")
    assert recent_count(run(a, fa, b"a", b"SELECT INBOX")) == 1
    b, fb = login(haven)
    assert recent_count(run(b, fb, b"a", b"SELECT INBOX")) == 0
    # An APPEND by a session without the mailbox selected: A gets EXISTS
    # and RECENT at NOOP.
    c, fc = login(haven)
    append(c, fc, b"p2", b"second")
    lines = run(a, fa, b"n", b"NOOP")
    assert b"* 2 EXISTS\r\n" in lines
    assert recent_count(lines) == 2
    assert lines.index(b"* 2 EXISTS\r\n") < lines.index(b"* 2 RECENT\r\n")
    assert flags_of(run(a, fa, b"f", b"FETCH 2 FLAGS"))[2] == [b"\\Recent"]
    # A claimed it at that NOOP: B, syncing later, gets EXISTS and 0 RECENT.
    lines = run(b, fb, b"n", b"NOOP")
    assert b"* 2 EXISTS\r\n" in lines
    assert recent_count(lines) == 0
    assert flags_of(run(b, fb, b"f", b"FETCH 2 FLAGS"))[2] == []
    # A COPY into the selected mailbox: new mail for the session that sees
    # it first, here B itself (it learns of it with the COPY's answer).
    lines = run(b, fb, b"c", b"COPY 1 INBOX") + run(b, fb, b"n2", b"NOOP")
    assert b"* 3 EXISTS\r\n" in lines and recent_count(lines) == 1
    lines = run(a, fa, b"n2", b"NOOP")
    assert b"* 3 EXISTS\r\n" in lines and recent_count(lines) == 2
    assert search(a, fa, b"s", b"RECENT") == [1, 2]
    assert search(b, fb, b"s", b"RECENT") == [3]
    a.close()
    b.close()
    c.close()


@only_backends("mbox")
def test_mda_delivery_is_recent(haven):
    a, fa = login(haven)
    run(a, fa, b"a", b"SELECT INBOX")   # creates INBOX
    run(a, fa, b"u", b"UNSELECT")
    path = "%s/alice/INBOX" % haven.home_root
    with open(path, "ab") as f:
        f.write(b"From mda@example.org Mon Jun  3 12:50:27 1996\n"
                b"Subject: delivered\n\nHi\n\n")
    st = b"".join(run(a, fa, b"s", b"STATUS INBOX (MESSAGES RECENT)"))
    assert b"MESSAGES 1" in st and b"RECENT 1" in st
    assert recent_count(run(a, fa, b"b", b"SELECT INBOX")) == 1
    with open(path, "rb") as f:
        data = f.read()
    assert b"\nStatus: O \n" in data and b"X-UID: 1\n" in data
    a.close()


def test_rev2_has_no_recent(haven):
    a, fa = login(haven)
    append(a, fa, b"p", b"first")
    run(a, fa, b"e", b"ENABLE IMAP4rev2")
    sel = run(a, fa, b"a", b"SELECT INBOX")   # claims it, but says nothing
    assert recent_count(sel) is None
    assert flags_of(run(a, fa, b"f", b"FETCH 1 FLAGS"))[1] == []
    b, fb = login(haven)
    append(b, fb, b"p", b"second")   # b has nothing selected
    lines = run(a, fa, b"n", b"NOOP")
    assert b"* 2 EXISTS\r\n" in lines and recent_count(lines) is None
    res = b"".join(run(a, fa, b"s", b"SEARCH RECENT"))
    assert b'* ESEARCH (TAG "s")\r\n' in res
    res = b"".join(run(a, fa, b"s2", b"SEARCH RETURN (COUNT) OLD"))
    assert b"COUNT 2" in res
    res = run(a, fa, b"t", b"STORE 2 +FLAGS (\\Seen)")
    assert flags_of(res)[2] == [b"\\Seen"]
    # The rev2 session did claim them: a rev1 session sees none recent.
    assert recent_count(run(b, fb, b"x", b"SELECT INBOX")) == 0
    a.close()
    b.close()
