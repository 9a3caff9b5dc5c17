"""SORT keys kept by the store across sessions (issue 13): the first SORT
of a session takes ready keys instead of parsing every message's header,
and keys that no longer describe the message are never used.

mbox: the sort-key cache beside the index (MBOX_DIR/.haven-index/
<hash>.sortkeys), read through the worker's debug log ("sort keys of N
messages from the cache, M made"). Every answer is also checked against
the order worked out here from the subjects as written."""
import os
import re
import time

from conftest import check_sanitizers
from test_mbox_index import indexed, run, session, write_mbox  # noqa: F401 (fixture)

# About the mbox side files; the PostgreSQL table has its own test below.
BACKENDS = ["mbox"]

KEYS_RE = re.compile(r"sort keys of (\d+) messages from the cache, (\d+) made")


def keys_log(haven):
    return [l for l in haven.log_text().splitlines() if "mbox: INBOX: sort keys of" in l]


def last_run(haven, before):
    """(from cache, made) of the first sort-key run logged after `before` lines."""
    deadline = time.time() + 20
    while True:
        lines = keys_log(haven)[before:]
        if lines or time.time() > deadline:
            break
        time.sleep(0.05)
    assert lines, "no sort-key run logged"
    m = KEYS_RE.search(lines[0])
    return int(m.group(1)), int(m.group(2))


def sort_subject(haven):
    """UID SORT (SUBJECT) in a new session: (UIDs in order, (from cache, made))."""
    before = len(keys_log(haven))
    s, f = session(haven)
    run(s, f, b"e", b"EXAMINE INBOX")
    lines = run(s, f, b"s", b"UID SORT (SUBJECT) UTF-8 ALL")
    assert lines[-1].startswith(b"s OK"), lines[-1]
    (line,) = [l for l in lines if l.startswith(b"* SORT")]
    run(s, f, b"z", b"LOGOUT")
    s.close()
    return [int(x) for x in line.split()[2:]], last_run(haven, before)


def expected(data):
    """UIDs by subject (ASCII here: i;unicode-casemap compares capitals),
    ties by UID (= sequence)."""
    msgs = re.findall(rb"X-UID: (\d+)\n(?:[^\n]+\n)*?Subject: ([^\n]*)\n", data)
    return [int(u) for u, subj in sorted(msgs, key=lambda m: (m[1].upper(), int(m[0])))]


def restart(h):
    check_sanitizers(h.stop())
    h.start()


def test_keys_survive_restart(indexed):
    h, inbox, idxdir, owner = indexed
    data = write_mbox(inbox, 300)
    os.chown(inbox, *owner)
    order, counts = sort_subject(h)
    assert counts == (0, 300)
    assert order == expected(data)
    assert any(n.endswith(".sortkeys") for n in os.listdir(idxdir))
    restart(h)
    order, counts = sort_subject(h)
    assert counts == (300, 0)
    assert order == expected(data)


def test_foreign_rewrite_same_uidvalidity_rebuilds(indexed):
    h, inbox, idxdir, owner = indexed
    data = write_mbox(inbox, 300)
    os.chown(inbox, *owner)
    sort_subject(h)
    # Another mbox writer rewrites subjects under the same UIDVALIDITY,
    # UIDs and byte counts: only the keys' tie to the index can tell.
    time.sleep(0.02)
    new = data.replace(b"Subject: message 1", b"Subject: aessage 1")
    with open(inbox, "r+b") as fp:
        fp.write(new)
    order, counts = sort_subject(h)
    assert counts == (0, 300)
    assert order == expected(new) and order != expected(data)
    assert sort_subject(h) == (order, (300, 0))


def test_expunge_keeps_the_others(indexed):
    h, inbox, idxdir, owner = indexed
    data = write_mbox(inbox, 200)
    os.chown(inbox, *owner)
    sort_subject(h)
    s, f = session(h)
    run(s, f, b"a", b"SELECT INBOX")
    assert run(s, f, b"b", b"UID STORE 1:50 +FLAGS (\\Deleted)")[-1].startswith(b"b OK")
    assert run(s, f, b"c", b"EXPUNGE")[-1].startswith(b"c OK")
    # (write_mbox marked some messages \Deleted already: they go too)
    (left,) = [l for l in run(s, f, b"d", b"UID SEARCH ALL") if l.startswith(b"* SEARCH")]
    left = {int(x) for x in left.split()[2:]}
    run(s, f, b"z", b"LOGOUT")
    s.close()
    assert left and max(left) == 200 and min(left) > 50
    order, counts = sort_subject(h)
    assert order == [u for u in expected(data) if u in left]
    # the rewrite kept every other message's bytes: their keys stand
    assert counts == (len(left), 0)


def test_uidvalidity_change_rebuilds(indexed):
    h, inbox, idxdir, owner = indexed
    write_mbox(inbox, 200)
    os.chown(inbox, *owner)
    sort_subject(h)
    time.sleep(0.02)
    data = write_mbox(inbox, 200, uidvalidity=7654321)
    new = data.replace(b"Subject: message 1", b"Subject: aessage 1")
    with open(inbox, "wb") as fp:
        fp.write(new)
    os.chown(inbox, *owner)
    order, counts = sort_subject(h)
    assert counts == (0, 200)
    assert order == expected(new)


def test_corrupt_keys_file_is_rebuilt(indexed):
    h, inbox, idxdir, owner = indexed
    data = write_mbox(inbox, 200)
    os.chown(inbox, *owner)
    sort_subject(h)
    (name,) = [n for n in os.listdir(idxdir) if n.endswith(".sortkeys")]
    path = os.path.join(idxdir, name)
    good = open(path, "rb").read()
    at = good.index(b"MESSAGE 17")
    with open(path, "wb") as fp:
        fp.write(good[:at] + b"AESSAGE 17" + good[at + 10:])
    order, counts = sort_subject(h)
    assert counts == (0, 200)
    assert order == expected(data)
