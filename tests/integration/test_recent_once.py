"""\\Recent in at most one session (issue 17 item 3). RFC 3501 2.3.2: a
message is \\Recent in the session that is the first to be told of it
(read-write); every other read-write session sees it without the flag. The
reported failure: two sessions of one user (a phone and a desktop) both
saw new mail as \\Recent, in mbox files big enough to have an index, where
sessions that only read did not write their claim into the file.

Tracking clients (viewtrack.py) share a registry of who saw which message
as \\Recent: any message \\Recent in two sessions fails the test."""
import random

import pytest

from conftest import only_backends
from rfc9051_common import lit, simple_msg
from viewtrack import Registry, TrackedSession

# mbox: 0 gives every mailbox file an index (sessions that only read do
# not rewrite the file); -1 none (the claim is written into the file).
INDEX = {"indexed": "mbox_index_min_size = 0", "plain": "mbox_index_min_size = -1"}


@pytest.fixture(params=sorted(INDEX))
def server(request, haven_factory, backend):
    if backend != "mbox" and request.param != "indexed":
        pytest.skip("an mbox setting")
    return haven_factory(extra_conf=INDEX[request.param] if backend == "mbox" else "")


def sessions(h, reg, n):
    out = [TrackedSession(h, registry=reg, name="S%d" % i) for i in range(n)]
    return out


def recent_of(s):
    """UIDs s reports as \\Recent now."""
    lines = s.ok(b"FETCH 1:* (UID FLAGS)") if s.view else []
    out = set()
    for l in lines:
        if b"\\Recent" in l and b" FETCH " in l:
            out.add(int(l.split(b"UID ")[1].split()[0].rstrip(b")")))
    return out


def test_new_mail_recent_in_one_session(server):
    """The reported case: two sessions have INBOX selected, new mail
    comes (an APPEND by a third session); both look."""
    reg = Registry()
    a, b, c = sessions(server, reg, 3)
    big = simple_msg(0, extra=b"X-Pad: x\r\n") + b"y" * 300000 + b"\r\n"
    c.append(b"INBOX", big)
    a.select()
    b.select()
    for i in range(1, 4):
        c.append(b"INBOX", simple_msg(i))
        a.ok(b"NOOP")
        b.ok(b"NOOP")
    ra, rb = recent_of(a), recent_of(b)
    assert not (ra & rb), (ra, rb)
    assert ra | rb == {1, 2, 3, 4}, (ra, rb)
    assert reg.violations == []


def test_select_after_delivery(server):
    """New mail, then two SELECTs: only the first gets it as \\Recent;
    STATUS then counts none."""
    reg = Registry()
    a, b, c = sessions(server, reg, 3)
    for i in range(1, 6):
        c.append(b"INBOX", simple_msg(i) + b"z" * 80000)
    sel = b"".join(a.select())
    assert b"* 5 RECENT" in sel, sel
    sel = b"".join(b.select())
    assert b"* 0 RECENT" in sel, sel
    assert recent_of(b) == set()
    assert recent_of(a) == {1, 2, 3, 4, 5}
    st = b"".join(c.ok(b"STATUS INBOX (RECENT)"))
    assert b"RECENT 0" in st, st
    assert reg.violations == []


@only_backends("mbox")
def test_mda_delivery_to_indexed_file(haven_factory):
    """Mail another program appended to a file with an index."""
    h = haven_factory(extra_conf=INDEX["indexed"])
    reg = Registry()
    a, b = sessions(h, reg, 2)
    a.append(b"INBOX", simple_msg(1))
    a.select()
    b.select()
    with open("%s/alice/INBOX" % h.home_root, "ab") as f:
        for i in range(3):
            f.write(b"From mda@example.org Mon Jun  3 12:50:27 1996\n"
                    b"Subject: delivered %d\n\nHi\n\n" % i)
    a.ok(b"NOOP")
    b.ok(b"NOOP")
    ra, rb = recent_of(a), recent_of(b)
    assert not (ra & rb) and ra | rb == {1, 2, 3, 4}, (ra, rb)
    # A third session selecting later gets none; EXAMINE leaves them too.
    c = TrackedSession(h, registry=reg, name="C")
    assert b"* 0 RECENT" in b"".join(c.select())
    assert reg.violations == []


@pytest.mark.parametrize("seed", [1, 2])
def test_many_sessions_random(server, seed):
    """Six sessions of one user, in random order: APPEND (several
    pipelined), NOOP, SELECT again, FETCH; every \\Recent checked."""
    rng = random.Random(seed)
    reg = Registry()
    ss = sessions(server, reg, 6)
    for s in ss:
        s.select()
    n = 0
    for step in range(120):
        s = rng.choice(ss)
        op = rng.random()
        if op < 0.35:
            k = rng.randint(1, 3)
            for j in range(k):
                n += 1
                s.send(b"P%d APPEND INBOX " % j + lit(simple_msg(n) + b"p" * rng.choice([0, 40000]))
                       + b"\r\n")
            for j in range(k):
                s.until(b"P%d" % j)
        elif op < 0.65:
            s.ok(b"NOOP")
        elif op < 0.75:
            s.select()
        else:
            recent_of(s)
    for s in ss:
        s.ok(b"NOOP")
        recent_of(s)
    assert reg.violations == []
    assert all(s.violations == [] for s in ss)
