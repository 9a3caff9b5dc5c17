"""The mbox header-field cache (MBOX_DIR/.haven-index/<hash>.fields): header
SEARCH answered without reading messages, never with an answer a read of
the mailbox would not give. Each test compares with the same search forced
to read every message (an OR with a BODY key that matches nothing), and
reads the worker's debug log to know whether the cache was used."""
import os
import re
import time

from test_mbox_index import indexed, run, session, write_mbox  # noqa: F401 (fixture)

# About mbox files or processes, not the storage interface.
BACKENDS = ["mbox"]

# what a run of a cache logs (mbox_fields.c); "sort keys ... made" too
RUN_RE = re.compile(r"mbox: INBOX: (header fields|sort keys) of (\d+) messages from the cache, "
                    r"(\d+) (?:read|made)")


def cache_log(haven, what="header fields"):
    return [l for l in haven.log_text().splitlines() if "mbox: INBOX: %s of" % what in l]


def last_run(haven, before, what="header fields"):
    """(from cache, read or made) of the first run of the `what` cache
    logged after `before` lines."""
    deadline = time.time() + 20
    while True:
        lines = cache_log(haven, what)[before:]
        if lines or time.time() > deadline:
            break
        time.sleep(0.05)
    assert lines, "no %s run logged" % what
    m = RUN_RE.search(lines[0])
    return int(m.group(2)), int(m.group(3))


def search(s, f, tag, criteria):
    lines = run(s, f, tag, b"UID SEARCH " + criteria)
    assert lines[-1].startswith(tag + b" OK"), lines[-1]
    hit = [l for l in lines if l.startswith(b"* SEARCH")]
    return sorted(int(x) for x in hit[0].split()[2:]) if hit else []


def searches(haven, criteria):
    """UID SEARCH criteria in a new session, through the cache and by
    reading: (cached result, read result, (from cache, read))."""
    before = len(cache_log(haven))
    s, f = session(haven)
    run(s, f, b"e", b"EXAMINE INBOX")
    cached = search(s, f, b"c", criteria)
    counts = last_run(haven, before)
    read = search(s, f, b"r", b"OR BODY zzznowherezzz " + criteria)
    run(s, f, b"z", b"LOGOUT")
    s.close()
    return cached, read, counts


def test_header_search_from_cache(indexed):
    h, inbox, idxdir, owner = indexed
    write_mbox(inbox, 1000)
    os.chown(inbox, *owner)
    cached, read, counts = searches(h, b"SUBJECT \"message 12\"")
    assert counts == (0, 1000)                 # first search: built
    assert cached == read and 13 in cached and len(cached) == 11
    assert any(n.endswith(".fields") for n in os.listdir(idxdir))
    for crit in (b"SUBJECT \"message 12\"", b"FROM nobody", b"HEADER Message-ID <m7@",
                 b"NOT HEADER Subject \"\"", b"SENTSINCE 1-Jan-2020 TO x", b"HEADER Subject message"):
        cached, read, counts = searches(h, crit)
        assert counts == (1000, 0), crit
        assert cached == read, crit


def test_header_search_after_mda_append_and_store(indexed):
    h, inbox, idxdir, owner = indexed
    write_mbox(inbox, 500)
    os.chown(inbox, *owner)
    searches(h, b"SUBJECT x")
    s, f = session(h)
    run(s, f, b"s", b"SELECT INBOX")
    assert run(s, f, b"t", b"UID STORE 1:20 +FLAGS (\\Flagged)")[-1].startswith(b"t OK")
    run(s, f, b"z", b"LOGOUT")
    s.close()
    with open(inbox, "ab") as fp:
        for i in range(5):
            fp.write(b"From mda@example.org Sun Nov 22 10:00:00 2026\n"
                     b"Subject: delivered %d\nMessage-ID: <d%d@example.org>\n\nby the MDA\n\n" % (i, i))
    cached, read, counts = searches(h, b"SUBJECT delivered")
    assert counts == (500, 5)
    assert cached == read and len(cached) == 5


def test_foreign_rewrite_same_sizes_is_not_trusted(indexed):
    h, inbox, idxdir, owner = indexed
    data = write_mbox(inbox, 300)
    os.chown(inbox, *owner)
    searches(h, b"SUBJECT x")
    # Another program rewrites every Subject, keeping every byte count,
    # UID and flag: only the cache's tie to the index can tell.
    time.sleep(0.02)
    with open(inbox, "r+b") as fp:
        fp.write(data.replace(b"Subject: message", b"Subject: massage"))
    cached, read, counts = searches(h, b"SUBJECT massage")
    assert counts == (0, 300)
    assert cached == read and len(cached) == 300
    assert searches(h, b"SUBJECT message")[0] == []


def test_corrupt_cache_is_ignored(indexed):
    h, inbox, idxdir, owner = indexed
    write_mbox(inbox, 300)
    os.chown(inbox, *owner)
    searches(h, b"SUBJECT x")
    (name,) = [n for n in os.listdir(idxdir) if n.endswith(".fields")]
    path = os.path.join(idxdir, name)
    good = open(path, "rb").read()
    at = good.index(b"message 17")
    for bad in (good[:at] + b"massage 17" + good[at + 10:], good[:len(good) // 2], b""):
        with open(path, "wb") as fp:
            fp.write(bad)
        os.chown(path, *owner)
        cached, read, counts = searches(h, b"SUBJECT \"message 17\"")
        assert counts == (0, 300)
        assert cached == read and cached[0] == 18 and len(cached) == 11
