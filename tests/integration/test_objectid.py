"""OBJECTID (RFC 8474) on every store: MAILBOXID in CREATE's tagged OK,
in SELECT / EXAMINE and in STATUS, the same in every session and after
RENAME, another one for another mailbox or a mailbox created anew under
an old name; EMAILID (the content's id: "M" and the first 128 bits of
the SHA-256 of the message, equal after COPY and MOVE, equal in both
stores); THREADID NIL (no threads are computed), and SEARCH EMAILID /
THREADID with their error cases."""
import hashlib
import re

from rfc9051_common import Session, simple_msg, untagged

OBJECTID = rb"[A-Za-z0-9_-]{1,255}"


def emailid_of(msg):
    return b"M" + hashlib.sha256(msg).hexdigest()[:32].encode()


def create_id(s, name):
    out = s.ok(b"CREATE " + name)
    m = re.match(rb"A\d+ OK \[MAILBOXID \((" + OBJECTID + rb")\)\] ", out[-1])
    assert m, out
    return m.group(1)


def status_id(s, name):
    out = untagged(s.ok(b"STATUS " + name + b" (MAILBOXID MESSAGES)"))
    m = re.match(rb"\* STATUS \S+ \(MESSAGES \d+ MAILBOXID \((" + OBJECTID + rb")\)\)\r\n$",
                 out[0])
    assert m, out
    return m.group(1)


def select_id(s, cmd):
    ids = [m.group(1) for l in s.ok(cmd)
           for m in [re.match(rb"\* OK \[MAILBOXID \((" + OBJECTID + rb")\)\] ", l)] if m]
    assert len(ids) == 1, ids
    return ids[0]


def emailids(s, seqs=b"1:*"):
    out = {}
    for l in untagged(s.ok(b"FETCH " + seqs + b" (EMAILID THREADID)")):
        m = re.match(rb"\* (\d+) FETCH \(EMAILID \((" + OBJECTID + rb")\) THREADID NIL\)\r\n$", l)
        assert m, l
        out[int(m.group(1))] = m.group(2)
    return out


def search(s, keys):
    out = untagged(s.ok(b"SEARCH " + keys))
    assert len(out) == 1 and out[0].startswith(b"* SEARCH"), out
    return [int(x) for x in out[0].split()[2:]]


def test_capability(haven):
    s = Session(haven)
    assert b" OBJECTID" in untagged(s.ok(b"CAPABILITY"))[0]
    s.close()


def test_mailboxid(haven):
    s = Session(haven)
    foo = create_id(s, b"foo")
    bar = create_id(s, b"bar")
    assert foo != bar
    assert status_id(s, b"foo") == foo
    assert select_id(s, b"SELECT foo") == foo
    assert select_id(s, b"EXAMINE bar") == bar
    inbox = status_id(s, b"INBOX")
    assert select_id(s, b"SELECT INBOX") == inbox and inbox not in (foo, bar)
    # RENAME keeps it (4: "the same MAILBOXID for the source and destination")
    s.ok(b"RENAME foo renamed")
    assert status_id(s, b"renamed") == foo
    s.no(b"STATUS foo (MAILBOXID)")
    # LIST-STATUS carries it too
    out = s.ok(b'LIST "" "renamed" RETURN (STATUS (MAILBOXID))')
    assert any(re.match(rb'\* STATUS "?renamed"? \(MAILBOXID \(%s\)\)\r\n$' % foo, l)
               for l in out), out
    s.close()
    # the same in another session
    s = Session(haven)
    assert status_id(s, b"renamed") == foo and status_id(s, b"bar") == bar
    # a mailbox created again under an old name is another mailbox
    s.ok(b"DELETE bar")
    assert create_id(s, b"bar") not in (foo, bar)
    s.bad(b"STATUS renamed (MAILBOXID BOGUS)")
    s.close()


def test_emailid(haven):
    s = Session(haven)
    msgs = [simple_msg(1), simple_msg(2), simple_msg(3)]
    for m in msgs:
        s.append(b"INBOX", m)
    s.append(b"INBOX", msgs[0])      # the same bytes again
    s.ok(b"CREATE dest")
    s.ok(b"SELECT INBOX")
    ids = emailids(s)
    assert ids == {1: emailid_of(msgs[0]), 2: emailid_of(msgs[1]), 3: emailid_of(msgs[2]),
                   4: emailid_of(msgs[0])}, ids
    # with other items, and by UID
    out = untagged(s.ok(b"UID FETCH 2 (FLAGS EMAILID RFC822.SIZE)"))
    assert re.match(rb"\* 2 FETCH \(UID 2 FLAGS \([^)]*\) RFC822.SIZE %d EMAILID \(%s\)\)\r\n$"
                    % (len(msgs[1]), ids[2]), out[0]), out
    # COPY and MOVE keep it (5.1)
    s.ok(b"COPY 2 dest")
    s.ok(b"MOVE 3 dest")
    s.ok(b"SELECT dest")
    assert emailids(s) == {1: ids[2], 2: ids[3]}
    s.close()
    # stable across sessions
    s = Session(haven)
    s.ok(b"EXAMINE INBOX")
    assert emailids(s) == {1: ids[1], 2: ids[2], 3: ids[4]}
    s.close()


def test_search_objectid(haven):
    s = Session(haven)
    msgs = [simple_msg(1), simple_msg(2)]
    for m in msgs:
        s.append(b"INBOX", m)
    s.ok(b"SELECT INBOX")
    e2 = emailid_of(msgs[1])
    assert search(s, b"EMAILID " + e2) == [2]
    assert search(s, b"EMAILID " + e2.upper()) == []       # ObjectIDs are case-sensitive
    assert search(s, b"NOT EMAILID " + e2) == [1]
    assert search(s, b"OR EMAILID " + e2 + b" EMAILID " + emailid_of(msgs[0])) == [1, 2]
    assert search(s, b"EMAILID M0123456789abcdef") == []
    assert search(s, b"EMAILID " + e2 + b" SEEN") == []
    assert search(s, b"THREADID T1") == []
    assert search(s, b"NOT THREADID T1") == [1, 2]
    for bad in (b"EMAILID", b"EMAILID \"\"", b"EMAILID \"M 1\"", b"THREADID a.b",
                b"EMAILID " + b"x" * 256):
        s.bad(b"SEARCH " + bad)
    assert search(s, b"EMAILID " + e2) == [2]
    s.close()
