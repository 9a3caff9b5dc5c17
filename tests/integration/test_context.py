"""CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 section 4) on every store:
PARTIAL ranges of SEARCH and SORT results (in and out of range), the
RETURN combinations the RFC forbids, and UPDATE: ADDTO and REMOVEFROM as
messages enter and leave a result (APPEND from another session, STORE,
EXPUNGE), with positions for SORT, CANCELUPDATE and NOUPDATE. One server
per store for the module; each test works in its own mailbox."""
import pytest

from conftest import ALL_BACKENDS, Haven, check_sanitizers
from rfc9051_common import Session, simple_msg, untagged


@pytest.fixture(scope="module", params=ALL_BACKENDS)
def server(request):
    h = Haven(users=("alice",), tls=False, backend=request.param,
              extra_conf="max_search_updates = 2\n").start()
    yield h
    check_sanitizers(h.stop())
    h.cleanup()


def fill(server, box, n, flags_of=lambda i: b""):
    """A new mailbox of n messages (UIDs 1..n), selected in a new session."""
    s = Session(server)
    s.ok(b"CREATE " + box)
    for i in range(1, n + 1):
        s.append(box, simple_msg(i), flags=flags_of(i))
    s.ok(b"SELECT " + box)
    return s


def one(s, command, tag=b"T1"):
    """The one untagged response of command, sent with tag."""
    out = untagged(s.ok(command, tag))
    assert len(out) == 1, out
    return out[0]


def test_capability(server):
    caps = one(Session(server), b"CAPABILITY")
    tokens = caps.split()
    assert b"CONTEXT=SEARCH" in tokens and b"CONTEXT=SORT" in tokens, caps
    assert b"ESEARCH" in tokens and b"ESORT" in tokens, caps
    assert b"PARTIAL" not in tokens, caps  # RFC 9394's negative ranges: not done


def test_partial_search(server):
    s = fill(server, b"part", 6, lambda i: b"\\Seen" if i % 2 else b"")
    assert one(s, b"UID SEARCH RETURN (PARTIAL 1:2) SEEN") == \
        b'* ESEARCH (TAG "T1") UID PARTIAL (1:2 1,3)\r\n'
    assert one(s, b"SEARCH RETURN (PARTIAL 2:10) SEEN") == \
        b'* ESEARCH (TAG "T1") PARTIAL (2:10 3,5)\r\n'
    # out of range: the range as asked and NIL (RFC 5267 4.4)
    assert one(s, b"UID SEARCH RETURN (PARTIAL 4:9) SEEN") == \
        b'* ESEARCH (TAG "T1") UID PARTIAL (4:9 NIL)\r\n'
    # either order, as a sequence range; with COUNT and MIN
    assert one(s, b"SEARCH RETURN (COUNT PARTIAL 5:2 MIN) ALL") == \
        b'* ESEARCH (TAG "T1") MIN 1 PARTIAL (2:5 2:5) COUNT 6\r\n'


def test_partial_sort(server):
    s = fill(server, b"psort", 4)
    assert one(s, b"UID SORT RETURN (PARTIAL 2:3) (REVERSE SUBJECT) UTF-8 ALL") == \
        b'* ESEARCH (TAG "T1") UID PARTIAL (2:3 3,2)\r\n'
    assert one(s, b"SORT RETURN (PARTIAL 4:4) (ARRIVAL) UTF-8 ALL") == \
        b'* ESEARCH (TAG "T1") PARTIAL (4:4 4)\r\n'


def test_forbidden_returns(server):
    s = fill(server, b"forbid", 1)
    for args, why in (
            (b"RETURN (PARTIAL 1:2 ALL) ALL", b"RETURN takes one PARTIAL or ALL"),
            (b"RETURN (ALL PARTIAL 1:2) ALL", b"RETURN takes one PARTIAL or ALL"),
            (b"RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL", b"RETURN takes one PARTIAL or ALL"),
            (b"RETURN (PARTIAL 0:2) ALL", b"PARTIAL expects a range low:high"),
            (b"RETURN (PARTIAL 1:*) ALL", b"PARTIAL expects a range low:high"),
            (b"RETURN (PARTIAL 1:4294967296) ALL", b"PARTIAL expects a range low:high"),
            (b"RETURN (PARTIAL) ALL", b"PARTIAL expects a range low:high"),
            (b"RETURN (UPDATE SAVE) ALL", b"RETURN (UPDATE) cannot go with SAVE")):
        tag = s.next_tag()
        assert s.cmd(b"SEARCH " + args, tag) == [tag + b" BAD SEARCH: " + why + b"\r\n"]
    assert one(s, b"SEARCH RETURN (MIN) ALL") == b'* ESEARCH (TAG "T1") MIN 1\r\n'


def rev2_box(server, box, subjects, seen=()):
    """A new mailbox with one message per subject (UIDs from 1), selected
    in an IMAP4rev2 session (no RECENT beside EXISTS); and a second
    session of the same user, not selected, to change it."""
    s = Session(server, rev2=True)
    s.ok(b"CREATE " + box)
    for i, subj in enumerate(subjects, 1):
        s.append(box, simple_msg(i, subject=subj), flags=b"\\Seen" if i in seen else b"")
    s.ok(b"SELECT " + box)
    return s, Session(server, rev2=True)


def test_update_search(server):
    s, other = rev2_box(server, b"upd", [b"a", b"b", b"c"], seen=(1,))
    assert s.cmd(b"UID SEARCH RETURN (UPDATE) UNSEEN", b"U1") == [
        b'* ESEARCH (TAG "U1") UID ALL 2:3\r\n', b"U1 OK UID SEARCH completed\r\n"]
    assert s.cmd(b"SEARCH RETURN (COUNT UPDATE) UNSEEN", b"C1") == [
        b'* ESEARCH (TAG "C1") COUNT 2\r\n', b"C1 OK SEARCH completed\r\n"]
    # new mail from another session: ADDTO after the EXISTS
    other.append(b"upd", simple_msg(4))
    assert quiet_set(s) == {b"* 4 EXISTS\r\n", b'* ESEARCH (TAG "U1") UID ADDTO (0 4)\r\n',
                            b'* ESEARCH (TAG "C1") ADDTO (0 4)\r\n'}
    # this session's STORE: REMOVEFROM with its FETCH
    out = s.cmd(b"UID STORE 2 +FLAGS (\\Seen)", b"S1")
    assert set(out[:-1]) == {b"* 2 FETCH (UID 2 FLAGS (\\Seen))\r\n",
                             b'* ESEARCH (TAG "U1") UID REMOVEFROM (0 2)\r\n',
                             b'* ESEARCH (TAG "C1") REMOVEFROM (0 2)\r\n'}
    assert out[0] == b"* 2 FETCH (UID 2 FLAGS (\\Seen))\r\n", out
    # another session's expunge: REMOVEFROM before the EXPUNGE
    other.ok(b"SELECT upd")
    other.ok(b"UID STORE 3 +FLAGS.SILENT (\\Deleted)")
    other.ok(b"EXPUNGE")
    out = untagged(s.ok(b"NOOP"))
    assert out[-1] == b"* 3 EXPUNGE\r\n", out
    assert set(out[:-1]) == {b'* ESEARCH (TAG "U1") UID REMOVEFROM (0 3)\r\n',
                             b'* ESEARCH (TAG "C1") REMOVEFROM (0 3)\r\n'}, out
    # the tag stays taken while updated; CANCELUPDATE frees it
    assert s.cmd(b"SEARCH RETURN (UPDATE) ALL", b"U1") == [
        b"U1 BAD SEARCH: tag in use by an UPDATE\r\n"]
    assert s.cmd(b'CANCELUPDATE "U1" "C1"', b"X1") == [b"X1 OK CANCELUPDATE completed\r\n"]
    assert s.cmd(b'CANCELUPDATE "U1"', b"X2") == [
        b"X2 BAD CANCELUPDATE: no UPDATE tagged U1\r\n"]
    other.append(b"upd", simple_msg(5))
    assert untagged(s.ok(b"NOOP")) == [b"* 4 EXISTS\r\n"]


def quiet_set(s):
    return set(untagged(s.ok(b"NOOP")))


def test_update_limits(server):
    s, other = rev2_box(server, b"lim", [b"a", b"b"])
    for tag in (b"L1", b"L2"):
        assert s.cmd(b"UID SEARCH RETURN (UPDATE MIN) ALL", tag) == [
            b'* ESEARCH (TAG "%s") UID MIN 1\r\n' % tag, tag + b" OK UID SEARCH completed\r\n"]
    # max_search_updates = 2: the results, and NOUPDATE for the third
    assert s.cmd(b"UID SEARCH RETURN (UPDATE) ALL", b"L3") == [
        b'* ESEARCH (TAG "L3") UID ALL 1:2\r\n',
        b'* NO [NOUPDATE "L3"] Too many updating searches\r\n',
        b"L3 OK UID SEARCH completed\r\n"]
    assert s.cmd(b'CANCELUPDATE "L1"', b"X1") == [b"X1 OK CANCELUPDATE completed\r\n"]
    # sequence numbers are meant as they were: not followed
    assert s.cmd(b"SEARCH RETURN (UPDATE) 1:2", b"L4") == [
        b'* ESEARCH (TAG "L4") ALL 1:2\r\n',
        b'* NO [NOUPDATE "L4"] Sequence numbers and $ cannot be followed\r\n',
        b"L4 OK SEARCH completed\r\n"]
    # in IDLE, the update comes with the EXISTS
    s.send(b"I1 IDLE\r\n")
    assert s.response().startswith(b"+ ")
    other.append(b"lim", simple_msg(3))
    got = {s.response(), s.response()}
    assert got == {b"* 3 EXISTS\r\n", b'* ESEARCH (TAG "L2") UID ADDTO (0 3)\r\n'}, got
    s.send(b"DONE\r\n")
    assert s.until(b"I1") == [b"I1 OK IDLE terminated\r\n"]
    # leaving the mailbox ends every context
    s.ok(b"UNSELECT")
    s.ok(b"SELECT lim")
    assert s.cmd(b"UID SEARCH RETURN (UPDATE) ALL", b"L2")[-1] == b"L2 OK UID SEARCH completed\r\n"


def test_update_sort_positions(server):
    s, other = rev2_box(server, b"supd", [b"b", b"d"])
    assert s.cmd(b"UID SORT RETURN (UPDATE) (SUBJECT) UTF-8 UNSEEN", b"S1") == [
        b'* ESEARCH (TAG "S1") UID ALL 1:2\r\n', b"S1 OK UID SORT completed\r\n"]
    for subj in (b"c", b"a", b"e"):           # UIDs 3, 4, 5
        other.append(b"supd", simple_msg(9, subject=subj))
    # now a(4) b(1) c(3) d(2) e(5): inserted at 1, 3 and 5, in that order
    assert untagged(s.ok(b"NOOP")) == [b"* 5 EXISTS\r\n",
                                       b'* ESEARCH (TAG "S1") UID ADDTO (1 4 3 3 5 5)\r\n']
    # b and c leave: one run at position 2
    out = untagged(s.ok(b"UID STORE 1,3 +FLAGS.SILENT (\\Seen)"))
    assert out == [b'* ESEARCH (TAG "S1") UID REMOVEFROM (2 1,3)\r\n'], out
    assert s.cmd(b"SORT RETURN (UPDATE COUNT) (REVERSE SUBJECT) UTF-8 ALL", b"S2") == [
        b'* ESEARCH (TAG "S2") COUNT 5\r\n', b"S2 OK SORT completed\r\n"]
    other.ok(b"SELECT supd")
    other.ok(b"UID STORE 2 +FLAGS.SILENT (\\Deleted)")
    other.ok(b"EXPUNGE")
    # d (UID and seq 2) goes: 2nd of S1 (a d e) and of S2 (e d c b a)
    out = untagged(s.ok(b"NOOP"))
    assert out == [b'* ESEARCH (TAG "S2") REMOVEFROM (2 2)\r\n',
                   b'* ESEARCH (TAG "S1") UID REMOVEFROM (2 2)\r\n',
                   b"* 2 EXPUNGE\r\n"], out
