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

from conftest import check_sanitizers, only_backends
from rfc9051_common import Session, untagged
from test_mbox_fields import cache_log, last_run
from test_mbox_index import indexed, run, session, write_mbox  # noqa: F401 (fixture)

# About the mbox side files; the PostgreSQL table has its own test below.
BACKENDS = ["mbox"]

KEYS = "sort keys"


def sort_subject(haven):
    """UID SORT (SUBJECT) in a new session: (UIDs in order, (from cache, made))."""
    before = len(cache_log(haven, KEYS))
    s, f = session(haven)
    run(s, f, b"e", b"EXAMINE INBOX")
    lines = run(s, f, b"s", b"UID SORT (SUBJECT) UTF-8 ALL")
    assert lines[-1].startswith(b"s OK"), lines[-1]
    (line,) = [l for l in lines if l.startswith(b"* SORT")]
    run(s, f, b"z", b"LOGOUT")
    s.close()
    return [int(x) for x in line.split()[2:]], last_run(haven, before, KEYS)


def expected(data):
    """UIDs by subject (ASCII here: i;unicode-casemap compares capitals),
    ties by UID (= sequence)."""
    msgs = re.findall(rb"X-UID: (\d+)\n(?:[^\n]+\n)*?Subject: ([^\n]*)\n", data)
    return [int(u) for u, subj in sorted(msgs, key=lambda m: (m[1].upper(), int(m[0])))]


def sorts_as(h, data, counts):
    """A new session's UID SORT (SUBJECT) follows data's subjects, with
    counts (from cache, made) of the key cache."""
    order, got = sort_subject(h)
    assert got == counts
    assert order == expected(data)
    return order


def restart(h):
    check_sanitizers(h.stop())
    h.start()


def sorted_once(indexed, n):
    """INBOX of n messages, sorted once (its keys made and kept): its bytes."""
    h, inbox, idxdir, owner = indexed
    data = write_mbox(inbox, n)
    os.chown(inbox, *owner)
    sorts_as(h, data, (0, n))
    return data


def test_keys_survive_restart(indexed):
    h, inbox, idxdir, owner = indexed
    data = sorted_once(indexed, 300)
    assert any(n.endswith(".sortkeys") for n in os.listdir(idxdir))
    restart(h)
    sorts_as(h, data, (300, 0))


def test_foreign_rewrite_same_uidvalidity_rebuilds(indexed):
    h, inbox, idxdir, owner = indexed
    data = sorted_once(indexed, 300)
    # Another mbox writer rewrites subjects under the same UIDVALIDITY,
    # UIDs and byte counts: only the keys' tie to the index can tell.
    time.sleep(0.02)
    new = data.replace(b"Subject: message 1", b"Subject: aessage 1")
    with open(inbox, "r+b") as fp:
        fp.write(new)
    order = sorts_as(h, new, (0, 300))
    assert order != expected(data)
    assert sort_subject(h) == (order, (300, 0))


def test_expunge_keeps_the_others(indexed):
    h, inbox, idxdir, owner = indexed
    data = sorted_once(indexed, 200)
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
    sorted_once(indexed, 200)
    time.sleep(0.02)
    data = write_mbox(inbox, 200, uidvalidity=7654321)
    new = data.replace(b"Subject: message 1", b"Subject: aessage 1")
    with open(inbox, "wb") as fp:
        fp.write(new)
    os.chown(inbox, *owner)
    sorts_as(h, new, (0, 200))


def test_corrupt_keys_file_is_rebuilt(indexed):
    h, inbox, idxdir, owner = indexed
    data = sorted_once(indexed, 200)
    (name,) = [n for n in os.listdir(idxdir) if n.endswith(".sortkeys")]
    path = os.path.join(idxdir, name)
    good = open(path, "rb").read()
    at = good.index(b"MESSAGE 17")
    with open(path, "wb") as fp:
        fp.write(good[:at] + b"AESSAGE 17" + good[at + 10:])
    sorts_as(h, data, (0, 200))


# ---- PostgreSQL: haven.sort_keys (migration 0017) ---------------------------

PG_SUBJECTS = [b"Re: pear", b"apple", b"[list] Banana", b"cherry (fwd)", b"Fwd: apple",
               b"date", b"Elder", b"fig"]
PG_ORDER = [2, 5, 3, 4, 6, 7, 8, 1]   # apple, apple, banana, cherry, date, elder, fig, pear


def pg_sort(h):
    s = Session(h)
    s.ok(b"EXAMINE INBOX")
    (line,) = untagged(s.ok(b"SORT (SUBJECT) UTF-8 ALL"))
    s.ok(b"LOGOUT")
    return [int(x) for x in line.split()[2:]]


def pg_keys(h):
    """body id -> first byte (key version), subject of each kept record."""
    out = h.pg.psql("SELECT body_id, get_byte(keys, 0), "
                    "encode(substring(keys FROM 15 FOR get_byte(keys, 10)), 'escape') "
                    "FROM haven.sort_keys ORDER BY body_id", db=h.db)
    return [tuple(l.split("|")) for l in out.splitlines()]


def record(subject):
    """A key record (mail/sortkey_rec.c) with only a subject, as bytea hex."""
    strs = [subject] + [b""] * 8
    rec = bytes([1, 0]) + (-2 ** 63).to_bytes(8, "little", signed=True)
    for x in strs:
        rec += len(x).to_bytes(4, "little") + x
    return "\\x" + rec.hex()


@only_backends("pgsql")
def test_pgsql_keys_kept_per_body(haven):
    s = Session(haven)
    for i, subj in enumerate(PG_SUBJECTS):
        s.append(b"INBOX", b"From: a@b\r\nSubject: " + subj + b"\r\nMessage-ID: <p%d@x>\r\n\r\nbody\r\n" % i)
    s.ok(b"LOGOUT")
    assert haven.pg.psql("SELECT count(*) FROM haven.sort_keys", db=haven.db) == "0"
    assert pg_sort(haven) == PG_ORDER          # made from the messages, stored
    kept = pg_keys(haven)
    assert len(kept) == 8 and {k[1] for k in kept} == {"1"}
    assert sorted(k[2] for k in kept) == ["APPLE", "APPLE", "BANANA", "CHERRY", "DATE",
                                          "ELDER", "FIG", "PEAR"]
    # A later session takes the kept keys as they are: the store's record
    # for message 8 ("fig") is what it sorts by.
    body8 = haven.pg.psql("SELECT body_id FROM haven.messages WHERE uid = 8", db=haven.db)
    haven.pg.psql("UPDATE haven.sort_keys SET keys = '%s' WHERE body_id = %s"
                  % (record(b"AARDVARK"), body8), db=haven.db)
    assert pg_sort(haven) == [8, 2, 5, 3, 4, 6, 7, 1]
    # Keys of another key version are made anew and replace the row.
    haven.pg.psql("UPDATE haven.sort_keys SET keys = '\\x63' || substring(keys FROM 2)",
                  db=haven.db)
    assert pg_sort(haven) == PG_ORDER
    assert {k[1] for k in pg_keys(haven)} == {"1"}
