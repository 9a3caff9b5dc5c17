"""Commands on messages another session has expunged (issue 17 item 2 and
its class). Session A's view still holds them (it has not been told:
no command that may send EXPUNGE ran since), session B expunged them.
RFC 9051 7.4.1 and RFC 2180 4.1: A's FETCH answers the messages that exist
and ends with OK [EXPUNGEISSUED]; STORE and SEARCH complete for what is
there; COPY and MOVE either copy what is there or, as one operation, fail
with NO [EXPUNGEISSUED] and copy nothing; nothing is refused as a whole
with BAD or a bare NO, and the next NOOP reports the EXPUNGEs. A tracking
client (viewtrack.py) checks every response against A's view."""
import re

import pytest

from rfc9051_common import lit, simple_msg
from viewtrack import TrackedSession

N = 6
GONE = (2, 4)          # sequence numbers B expunges
KEPT = [s for s in range(1, N + 1) if s not in GONE]
BIG = 300 * 1024       # a literal FETCH streams rather than holds


def message(i):
    if i == N:
        # big enough that its body is streamed, not copied whole
        return simple_msg(i, extra=b"X-Pad: big\r\n") + b"x" * BIG + b"\r\n"
    return simple_msg(i)


def stale_view(haven):
    """A (tracked) with N messages in view, of which B has just expunged
    GONE. Returns A, B and the UIDs by sequence number of A's view."""
    a = TrackedSession(haven, name="A")
    b = TrackedSession(haven, name="B")
    a.ok(b"CREATE Other")
    for i in range(1, N + 1):
        a.append(b"INBOX", message(i))
    a.select(b"INBOX")
    a.learn_uids()
    uids = list(a.view)
    b.select(b"INBOX")
    b.ok(b"STORE %s +FLAGS.SILENT (\\Deleted)" % b",".join(b"%d" % s for s in GONE))
    b.ok(b"EXPUNGE")
    return a, b, uids


def tag_result(lines):
    return lines[-1].split(b" ", 2)[1:]


def fetched(lines):
    """{seq: response} of the FETCH responses among lines."""
    out = {}
    for l in lines:
        m = re.match(rb"\* (\d+) FETCH ", l)
        if m:
            out[int(m.group(1))] = l
    return out


def noop_reports_expunges(a):
    lines = a.ok(b"NOOP")
    assert [l for l in lines if l.endswith(b" EXPUNGE\r\n")] == \
        [b"* %d EXPUNGE\r\n" % s for s in sorted(GONE, reverse=True)], lines
    assert len(a.view) == N - len(GONE)


def finish(a, b):
    noop_reports_expunges(a)
    assert a.violations == []
    a.close()
    b.close()


def test_fetch_answers_what_exists(haven):
    """The reported case: FETCH 1:* of a view holding two expunged
    messages gives the other four, in full, and OK [EXPUNGEISSUED]."""
    a, b, uids = stale_view(haven)
    lines = a.cmd(b"FETCH 1:%d (UID FLAGS BODY.PEEK[HEADER.FIELDS (Subject)])" % N)
    assert re.match(rb"A\d+ OK \[EXPUNGEISSUED\] ", lines[-1]), lines[-1]
    got = fetched(lines)
    assert sorted(got) == KEPT, lines
    for s in KEPT:
        assert b"UID %d " % uids[s - 1] in got[s]
        assert b"Subject: message %d\r\n" % s in got[s], got[s]
    finish(a, b)


FETCHES = [
    (b"FETCH 1:* (FLAGS)", KEPT),
    (b"FETCH 1:* (UID RFC822.SIZE INTERNALDATE)", KEPT),
    (b"FETCH 1:* (ENVELOPE BODYSTRUCTURE)", KEPT),
    (b"FETCH 1:* (BODY.PEEK[])", KEPT),
    (b"FETCH 1:* (BODY[TEXT])", KEPT),
    (b"FETCH 1:* (BODY.PEEK[1] BINARY.PEEK[1] BINARY.SIZE[1])", KEPT),
    (b"FETCH 1:* (RFC822.HEADER BODY.PEEK[HEADER.FIELDS.NOT (To)])", KEPT),
    (b"FETCH 2:4 (UID BODY.PEEK[]<0.10>)", [3]),
    (b"FETCH 1:* FAST", KEPT),
    (b"UID FETCH 1:* (FLAGS BODY.PEEK[])", KEPT),
    (b"UID FETCH %(gone)s (FLAGS)", []),
]


@pytest.mark.parametrize("command,wanted", FETCHES)
def test_fetch_forms(haven, command, wanted):
    a, b, uids = stale_view(haven)
    command = command.replace(b"%(gone)s", b",".join(b"%d" % uids[s - 1] for s in GONE))
    lines = a.cmd(command)
    got = fetched(lines)
    asked = set(wanted) | (set(GONE) & set(range(2, 5) if b"2:4" in command else GONE))
    # What exists is answered; an expunged message may be left out or
    # answered from what the view still knows of it (RFC 2180 4.1.1) ...
    assert set(wanted) <= set(got) <= asked, (command, lines)
    # ... and when one was left out, the code says why.
    if set(got) != asked:
        assert re.match(rb"A\d+ OK \[EXPUNGEISSUED\] ", lines[-1]), lines[-1]
    else:
        assert re.match(rb"A\d+ OK ", lines[-1]), lines[-1]
    for s in set(got) & set(GONE):
        assert not re.search(rb"BODY|BINARY|RFC822 |ENVELOPE", got[s]), got[s]
    if b"BODY.PEEK[]" in command and b"<" not in command:
        assert b"{%d}\r\n" % len(message(N)) in got[N]
    finish(a, b)


STORES = [
    b"STORE 1:* +FLAGS (\\Flagged)",
    b"STORE 1:* FLAGS.SILENT (\\Seen $Done)",
    b"STORE 1:* -FLAGS (\\Seen)",
    b"UID STORE 1:* +FLAGS ($Label1)",
]


@pytest.mark.parametrize("command", STORES)
def test_store_changes_what_exists(haven, command):
    a, b, uids = stale_view(haven)
    lines = a.cmd(command)
    assert tag_result(lines)[0] == b"OK", lines[-1]
    assert set(fetched(lines)) <= set(KEPT), lines
    noop_reports_expunges(a)
    # The change happened to every message still there.
    flags = fetched(a.ok(b"FETCH 1:* (FLAGS)"))
    want = {b"+FLAGS (\\Flagged)": b"\\Flagged", b"FLAGS.SILENT (\\Seen $Done)": b"$Done",
            b"+FLAGS ($Label1)": b"$Label1"}
    for k, flag in want.items():
        if k in command:
            assert len(flags) == len(KEPT) and all(flag in v for v in flags.values()), flags
    assert a.violations == []
    a.close()
    b.close()


SEARCHES = [b"SEARCH ALL", b"SEARCH TEXT message", b"SEARCH HEADER Subject message",
            b"UID SEARCH ALL", b"SEARCH RETURN (ALL COUNT) BODY body", b"SEARCH SMALLER 100000"]


@pytest.mark.parametrize("command", SEARCHES)
def test_search_completes(haven, command):
    a, b, uids = stale_view(haven)
    lines = a.cmd(command)
    assert tag_result(lines)[0] == b"OK", lines[-1]
    res = [l for l in lines if l.startswith((b"* SEARCH", b"* ESEARCH"))]
    assert len(res) == 1, lines
    if command.startswith(b"UID"):
        numbers = {int(x) for x in res[0].split()[2:]}
        kept = {uids[s - 1] for s in KEPT}
        allowed = set(uids)
    elif b"RETURN" in command:
        numbers = set()
        m = re.search(rb"ALL ([\d:,]+)", res[0])
        for part in m.group(1).split(b","):
            lo, _, hi = part.partition(b":")
            numbers |= set(range(int(lo), int(hi or lo) + 1))
        kept, allowed = set(KEPT), set(range(1, N + 1))
    else:
        numbers = {int(x) for x in res[0].split()[2:]}
        kept, allowed = set(KEPT), set(range(1, N + 1))
    want = kept if b"SMALLER" not in command else kept - {N}
    # Every message still there that matches, in A's numbering; an
    # expunged one may be included (RFC 2180 4.1.2), nothing else.
    assert want <= numbers <= allowed, (command, numbers)
    finish(a, b)


@pytest.mark.parametrize("command", [b"COPY 1:* Other", b"UID COPY 1:* Other",
                                     b"MOVE 1:* Other", b"UID MOVE 1:* Other"])
def test_copy_is_one_operation(haven, command):
    a, b, uids = stale_view(haven)
    lines = a.cmd(command)
    result = tag_result(lines)
    status = b"".join(a.ok(b"STATUS Other (MESSAGES)"))
    copied = int(re.search(rb"MESSAGES (\d+)", status).group(1))
    if result[0] != b"OK":
        # Refused as a whole: then nothing was copied or moved.
        assert result[0] == b"NO" and result[1].startswith(b"[EXPUNGEISSUED] "), lines[-1]
        assert copied == 0
        finish(a, b)
        return
    assert copied == len(KEPT), (lines, status)
    if b"MOVE" not in command:
        finish(a, b)
        return
    # MOVE told A of every message that left its view, B's included.
    assert a.view == [], (a.view, lines)
    assert a.violations == []
    a.close()
    b.close()


def test_fetch_while_expunging(haven):
    """B expunges one message at a time while A keeps fetching everything
    without syncing in between: every FETCH completes with OK, data only
    for sequence numbers A has, until a NOOP tells A what went."""
    a = TrackedSession(haven, name="A")
    b = TrackedSession(haven, name="B")
    total = 30
    for i in range(1, total + 1):
        a.send(b"P%d APPEND INBOX " % i + lit(simple_msg(i)) + b"\r\n")
    for i in range(1, total + 1):
        a.until(b"P%d" % i)
    a.select(b"INBOX")
    b.select(b"INBOX")
    for round in range(total // 3):
        # B: two go, unseen by A; A fetches its stale view twice.
        b.ok(b"STORE 1:2 +FLAGS.SILENT (\\Deleted)")
        b.ok(b"EXPUNGE")
        lines = a.cmd(b"FETCH 1:* (UID FLAGS BODY.PEEK[HEADER])")
        assert re.match(rb"A\d+ OK \[EXPUNGEISSUED\] ", lines[-1]), lines[-1]
        assert len(fetched(lines)) == len(a.view) - 2
        # Metadata alone may come from what the view knows (RFC 2180 4.1.1).
        lines = a.ok(b"UID FETCH 1:* (RFC822.SIZE)")
        assert len(a.view) - 2 <= len(fetched(lines)) <= len(a.view)
        a.ok(b"NOOP")
        assert len(a.view) == total - 2 * (round + 1)
    assert a.violations == [] and b.violations == []
    a.close()
    b.close()


def test_body_expunged_while_it_streams(haven):
    """A's FETCH BODY[] of a 20 MB message is half sent (A stops reading,
    the server waits on A's socket) when B expunges that message: A still
    gets every byte of the literal and its OK, and its next NOOP the
    EXPUNGE. (PostgreSQL streams a body chunk by chunk; the body went
    with its last message and the literal was cut off, with the
    connection.)"""
    import socket
    body = b"".join(b"line %07d of a big one, padded to a fixed width......\r\n" % i
                    for i in range(20 * 1024 * 1024 // 56))
    msg = b"From: a@example.org\r\nSubject: big\r\n\r\n" + body
    a = TrackedSession(haven, name="A")
    b = TrackedSession(haven, name="B")
    a.append(b"INBOX", msg)
    a.select(b"INBOX")
    b.select(b"INBOX")
    a.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    a.send(b"F1 FETCH 1 BODY.PEEK[]\r\n")
    head = a.f.readline()
    m = re.match(rb"\* 1 FETCH \(BODY\[\] \{(\d+)\}\r\n$", head)
    assert m and int(m.group(1)) == len(msg), head
    got = a.f.read(256 * 1024)
    b.ok(b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.ok(b"EXPUNGE")
    assert len(b.view) == 0
    got += a.f.read(len(msg) - len(got))
    assert got == msg
    assert a.f.readline() == b")\r\n"
    assert re.match(rb"F1 OK", a.f.readline())
    a.ok(b"NOOP")
    assert len(a.view) == 0
    a.close()
    b.close()
