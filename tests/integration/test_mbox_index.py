"""The mbox private index (MBOX_DIR/.haven-index): a cache of the parse
state that must never change an answer. Every test compares what a client
sees through the index with what a full parse of the same file gives, and
reads the worker's debug log to know which path was taken (index up to
date, tail parse after an MDA append, full parse)."""
import os
import re
import time

import pytest

from conftest import read_until_tagged

# About mbox files or processes, not the storage interface.
BACKENDS = ["mbox"]

FROM = b"From sender@example.org Sat Nov 21 10:00:%02d 2026\n"


def message(i, flags=b"", uid=None, kw=b""):
    hdr = b""
    if uid is not None:
        hdr += b"X-UID: %d\n" % uid
    if flags:
        hdr += b"Status: %s\nX-Status: %s\n" % (flags[0], flags[1])
    if kw:
        hdr += b"X-Keywords: %s\n" % kw
    body = b"line %d of the body\n" % i
    if i % 7 == 0:
        body += b">From the escaped line\n"
    return (FROM % (i % 60) + hdr + b"Subject: message %d\nMessage-ID: <m%d@example.org>\n\n" % (i, i)
            + body + b"\n")


def write_mbox(path, n, uidvalidity=1234567, with_uids=True):
    out = [b"From MAILER-DAEMON Sat Nov 21 09:00:00 2026\n"
           b"X-IMAPbase: %d %d $Label1 custom\n" % (uidvalidity, n)]  # the last UID
    first = message(0, (b"RO", b"A"), 1 if with_uids else None, b"$Label1")
    out[0] += first.split(b"\n", 1)[1]
    for i in range(1, n):
        flags = [(b"RO", b""), (b"O", b"F"), (b"RO", b"AD"), (b"", b"")][i % 4] if i % 3 else b""
        out.append(message(i, flags if flags and flags[0] else b"",
                           i + 1 if with_uids else None, b"custom" if i % 5 == 0 else b""))
    data = b"".join(out)
    with open(path, "wb") as f:
        f.write(data)
    return data


def run(s, f, tag, cmd):
    s.sendall(tag + b" " + cmd + b"\r\n")
    return read_until_tagged(f, tag)


def session(haven):
    s, f = haven.raw()
    assert run(s, f, b"l", b"LOGIN alice pw-alice")[-1].startswith(b"l OK")
    return s, f


def snapshot(s, f):
    """Everything the index could get wrong, as the client sees it."""
    # EXAMINE: claiming \Recent would rewrite the file between looks.
    sel = b"".join(run(s, f, b"a", b"EXAMINE INBOX"))
    assert b"a OK [READ-ONLY]" in sel
    lines = run(s, f, b"b", b"UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    meta = [l for l in lines if l.startswith(b"* ")]
    uv = re.search(rb"UIDVALIDITY (\d+)", sel).group(1)
    un = re.search(rb"UIDNEXT (\d+)", sel).group(1)
    exists = re.search(rb"\* (\d+) EXISTS", sel).group(1)
    return uv, un, exists, b"".join(meta)


def index_log(haven):
    return [l for l in haven.log_text().splitlines() if "mbox: INBOX: index" in l]


def wait_log(haven, after, what):
    """The index log lines after the first `after`, once one has `what`
    (workers' log lines reach the file through the master, a little later)."""
    deadline = time.time() + 20
    while True:
        lines = index_log(haven)[after:]
        if any(what in l for l in lines) or time.time() > deadline:
            return lines
        time.sleep(0.05)


def logged_since(haven, after, what):
    """Whether an index log line after the first `after` says `what`."""
    return any(what in l for l in wait_log(haven, after, what))


@pytest.fixture
def indexed(haven_factory):
    h = haven_factory(extra_conf="mbox_index_min_size = 0")
    s, f = session(h)      # creates the user's directories
    run(s, f, b"z", b"LOGOUT")
    s.close()
    home = os.path.join(h.home_root, "alice")
    inbox = os.path.join(home, "INBOX")
    st = os.stat(home)
    return h, inbox, os.path.join(home, "mail", ".haven-index"), (st.st_uid, st.st_gid)


def fresh_view(haven, idxdir):
    """What a full parse gives: the same file, no index (the .recent
    records beside it stay: they are state, the sessions' \\Recent claims,
    not a cache of the file)."""
    for name in os.listdir(idxdir):
        if not name.endswith(".recent"):
            os.unlink(os.path.join(idxdir, name))
    s, f = session(haven)
    snap = snapshot(s, f)
    run(s, f, b"z", b"LOGOUT")
    s.close()
    return snap


def test_index_hit_matches_full_parse(indexed):
    h, inbox, idxdir, owner = indexed
    write_mbox(inbox, 2000)
    os.chown(inbox, *owner)
    n = len(index_log(h))
    s, f = session(h)
    first = snapshot(s, f)
    s.close()
    assert logged_since(h, n, "unusable, parsing from byte 0")
    assert first[2] == b"2000" and first[0] == b"1234567"
    assert len(os.listdir(idxdir)) == 1
    mtime = os.stat(inbox).st_mtime_ns
    n = len(index_log(h))
    s, f = session(h)
    again = snapshot(s, f)
    s.close()
    assert logged_since(h, n, "index up to date (2000 messages)")
    assert os.stat(inbox).st_mtime_ns == mtime      # nothing rewritten the file
    assert again == first
    assert fresh_view(h, idxdir) == first


def test_mda_append_parses_only_the_tail(indexed):
    h, inbox, idxdir, owner = indexed
    data = write_mbox(inbox, 500)
    os.chown(inbox, *owner)
    s, f = session(h)
    snapshot(s, f)
    with open(inbox, "ab") as fp:
        for i in range(10):
            fp.write(b"From mda@example.org Sun Nov 22 10:00:00 2026\n"
                     b"Subject: delivered %d\nMessage-ID: <d%d@example.org>\n\nby the MDA %d\n\n" % (i, i, i))
    n = len(index_log(h))
    res = b"".join(run(s, f, b"n", b"NOOP"))
    assert b"* 510 EXISTS" in res
    assert logged_since(h, n, "describes a prefix, parsing from byte %d of" % len(data))
    res = b"".join(run(s, f, b"t", b"FETCH 501:510 (BODY.PEEK[TEXT])"))
    for i in range(10):
        assert b"by the MDA %d\r\n" % i in res
    after = snapshot(s, f)
    s.close()
    assert after == fresh_view(h, idxdir)
    assert after[1] == b"511"


def test_corrupt_or_foreign_index_is_ignored(indexed):
    h, inbox, idxdir, owner = indexed
    write_mbox(inbox, 300)
    os.chown(inbox, *owner)
    s, f = session(h)
    ref = snapshot(s, f)
    s.close()
    (name,) = os.listdir(idxdir)
    path = os.path.join(idxdir, name)
    good = open(path, "rb").read()
    variants = [good[:len(good) // 2], good[:-1] + bytes([good[-1] ^ 1]),
                good[:200] + bytes([good[200] ^ 0x40]) + good[201:], b"", b"\0" * 4096,
                good.replace(b"INBOX", b"OTHER")]
    for bad in variants:
        with open(path, "wb") as fp:
            fp.write(bad)
        os.chown(path, *owner)
        n = len(index_log(h))
        s, f = session(h)
        assert snapshot(s, f) == ref
        s.close()
        assert logged_since(h, n, "unusable, parsing from byte 0")


def test_rewrite_by_another_program_is_seen(indexed):
    h, inbox, idxdir, owner = indexed
    data = write_mbox(inbox, 200)
    os.chown(inbox, *owner)
    s, f = session(h)
    ref = snapshot(s, f)
    # Another program flips a flag in place, same length: not an append,
    # so the whole file is parsed again and the change shows.
    pos = data.index(b"Subject: message 2\n")
    start = data.rindex(b"X-Status: ", 0, pos)
    assert data[start:start + 12] == b"X-Status: AD"
    changed = data[:start] + b"X-Status: FD" + data[start + 12:]
    with open(inbox, "r+b") as fp:
        fp.write(changed)
    n = len(index_log(h))
    res = b"".join(run(s, f, b"n", b"NOOP"))
    flags = re.search(rb"\* 3 FETCH \((?:UID 3 )?FLAGS \(([^)]*)\)", res).group(1).split()
    assert sorted(flags) == sorted([b"\\Seen", b"\\Flagged", b"\\Deleted"])
    assert logged_since(h, n, "unusable, parsing from byte 0")
    now = snapshot(s, f)
    s.close()
    assert now == fresh_view(h, idxdir) and now != ref
    # Replaced by a file with fewer messages (a new inode): full parse,
    # same UIDVALIDITY from X-IMAPbase, the rest gone.
    tmp = inbox + ".new"
    write_mbox(tmp, 50)
    os.chown(tmp, *owner)
    os.rename(tmp, inbox)
    s, f = session(h)
    small = snapshot(s, f)
    s.close()
    assert small[2] == b"50" and small == fresh_view(h, idxdir)


def test_own_writes_keep_the_index_useful(indexed):
    """APPEND through IMAP is an append: the next look is a tail parse."""
    h, inbox, idxdir, owner = indexed
    write_mbox(inbox, 400)
    os.chown(inbox, *owner)
    s, f = session(h)
    snapshot(s, f)
    run(s, f, b"a", b"SELECT INBOX")
    before = len(wait_log(h, 0, "up to date"))
    msg = b"Subject: appended\r\n\r\nhello\r\n"
    res = run(s, f, b"p", b"APPEND INBOX (\\Seen $Label1) {%d+}\r\n" % len(msg) + msg)
    assert res[-1].startswith(b"p OK [APPENDUID 1234567 401]")
    # The sync after it finds the append by a tail parse (then the \Recent
    # claim rewrites the file, a new inode: the parse after that is full).
    assert "describes a prefix" in "".join(wait_log(h, before, "describes a prefix"))
    res = b"".join(run(s, f, b"f", b"UID FETCH 401 (FLAGS BODY.PEEK[])"))
    assert b"$Label1" in res and b"\\Seen" in res and msg in res
    # STORE and EXPUNGE rewrite the file: full parse, same answers.
    run(s, f, b"s", b"UID STORE 1:10 +FLAGS (\\Deleted)")
    deleted = len(run(s, f, b"d", b"SEARCH DELETED")[0].split()) - 2
    assert run(s, f, b"e", b"EXPUNGE")[-1].startswith(b"e OK")
    now = snapshot(s, f)
    s.close()
    assert deleted >= 10 and int(now[2]) == 401 - deleted
    assert now == fresh_view(h, idxdir)


def test_small_mailboxes_get_no_index(haven):
    s, f = session(haven)
    msg = b"Subject: x\r\n\r\ny\r\n"
    run(s, f, b"p", b"APPEND INBOX {%d+}\r\n" % len(msg) + msg)
    run(s, f, b"a", b"SELECT INBOX")
    s.close()
    idxdir = os.path.join(haven.home_root, "alice", "mail", ".haven-index")
    assert not os.path.exists(idxdir) or os.listdir(idxdir) == []


def test_store_writes_in_place(indexed):
    """Flag changes overwrite the padded state headers: same inode, same
    size, the index updated with them (the next look reads nothing); a
    keyword new to the mailbox belongs in X-IMAPbase: a rewrite."""
    h, inbox, idxdir, owner = indexed
    write_mbox(inbox, 300)
    os.chown(inbox, *owner)
    s, f = session(h)
    run(s, f, b"a", b"SELECT INBOX")
    # The first write persists UIDs and claims \Recent: our padded form.
    res = b"".join(run(s, f, b"b", b"STORE 1:20 +FLAGS (\\Flagged $Label1)"))
    assert b"b OK" in res
    before = os.stat(inbox)
    res = b"".join(run(s, f, b"c", b"UID STORE 250:* FLAGS (\\Seen \\Answered \\Draft custom)"))
    assert b"c OK" in res
    res = b"".join(run(s, f, b"d", b"STORE 5 -FLAGS (\\Flagged $Label1 \\Seen)"))
    assert b"d OK" in res
    after = os.stat(inbox)
    assert (after.st_ino, after.st_size) == (before.st_ino, before.st_size)
    s.close()
    n = len(index_log(h))
    s, f = session(h)
    snap = snapshot(s, f)
    assert "index up to date (300 messages)" in wait_log(h, n, "index")[0]
    res = b"".join(run(s, f, b"e", b"FETCH 1:6 (FLAGS)"))
    assert re.search(rb"\* 1 FETCH \(FLAGS \([^)]*\\Flagged", res)
    assert re.search(rb"\* 5 FETCH \(FLAGS \(\)\)", res) or b"* 5 FETCH (FLAGS (\\Recent))" in res
    s.close()
    assert snap == fresh_view(h, idxdir)
    s, f = session(h)
    run(s, f, b"a", b"SELECT INBOX")
    assert b"f OK" in b"".join(run(s, f, b"f", b"STORE 2 +FLAGS (BrandNew)"))
    s.close()
    assert os.stat(inbox).st_ino != before.st_ino
    assert b"BrandNew" in open(inbox, "rb").read().split(b"\n", 2)[1]   # X-IMAPbase


def test_new_mail_in_a_big_file_is_not_rewritten_by_readers(indexed):
    """A delivery into a big (indexed) mailbox: sessions see it with UIDs
    computed from the file, without rewriting it; the next write (a STORE)
    writes those same UIDs down."""
    h, inbox, idxdir, owner = indexed
    write_mbox(inbox, 400)
    os.chown(inbox, *owner)
    s, f = session(h)
    recent = int(re.search(rb"\* (\d+) RECENT", b"".join(run(s, f, b"a", b"SELECT INBOX"))).group(1))
    before = os.stat(inbox)
    with open(inbox, "ab") as fp:
        for i in range(5):
            fp.write(b"From mda@example.org Sun Nov 22 10:00:00 2026\n"
                     b"Subject: late %d\n\nlate body %d\n\n" % (i, i))
    grown = os.stat(inbox)
    res = b"".join(run(s, f, b"n", b"NOOP"))
    assert b"* 405 EXISTS" in res and b"* %d RECENT" % (recent + 5) in res
    uids = re.findall(rb"\* (\d+) FETCH \(UID (\d+)\)",
                      b"".join(run(s, f, b"u", b"FETCH 401:405 (UID)")))
    assert [int(u) for _, u in uids] == [401, 402, 403, 404, 405]
    s2, f2 = session(h)           # another reader: same UIDs, no rewrite
    run(s2, f2, b"a", b"SELECT INBOX")
    res = b"".join(run(s2, f2, b"u", b"UID FETCH 401:405 (BODY.PEEK[TEXT])"))
    for i in range(5):
        assert b"late body %d\r\n" % i in res
    now = os.stat(inbox)
    assert (now.st_ino, now.st_size) == (grown.st_ino, grown.st_size) and now.st_ino == before.st_ino
    assert b"X-UID: 405" not in open(inbox, "rb").read()
    # A write persists them, under the same UIDs.
    assert b"s OK" in b"".join(run(s, f, b"s", b"UID STORE 403 +FLAGS (\\Flagged)"))
    data = open(inbox, "rb").read()
    at = data.index(b"Subject: late 2\n")
    assert b"X-UID: 403\n" in data[data.rindex(b"From ", 0, at):at]
    run(s2, f2, b"n", b"NOOP")
    res = b"".join(run(s2, f2, b"v", b"UID FETCH 401:405 (FLAGS)"))
    assert len(re.findall(rb"UID 40[1-5]", res)) == 5 and b"\\Flagged" in res
    s.close()
    s2.close()


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for c in data:
        h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
    return h


def test_undo_journal_puts_back_a_cut_store(indexed):
    """An in-place STORE over several messages writes their old state
    blocks to an undo journal first. Fabricate what a kill half-way leaves
    (the new state on disk, the journal still there): the next opener puts
    every old block back, so the command did not happen at all."""
    h, inbox, idxdir, owner = indexed
    write_mbox(inbox, 50)
    os.chown(inbox, *owner)
    s, f = session(h)
    run(s, f, b"a", b"SELECT INBOX")
    run(s, f, b"b", b"STORE 1:* -FLAGS (\\Flagged)")     # persisted, our padded form
    run(s, f, b"z", b"LOGOUT")
    s.close()
    old = open(inbox, "rb").read()
    s, f = session(h)
    run(s, f, b"a", b"SELECT INBOX")
    assert b"c OK" in b"".join(run(s, f, b"c", b"STORE 3:5 +FLAGS (\\Flagged)"))
    run(s, f, b"z", b"LOGOUT")
    s.close()
    new = open(inbox, "rb").read()
    assert len(new) == len(old) and new != old
    # The blocks that differ, as the journal holds them: "OFF LEN\n" + old bytes.
    blocks, i = [], 0
    while i < len(old):
        if old[i] != new[i]:
            start = old.rindex(b"\nFrom ", 0, i)
            start = old.index(b"\n", start + 1) + 1          # the header's first byte
            end = old.index(b"\n\n", start) + 1
            blocks.append((start, old[start:end]))
            i = end
        else:
            i += 1
    assert len(blocks) == 3
    st = os.stat(inbox)
    journal = b"%d %d %d %d\n" % (st.st_dev, st.st_ino, st.st_size, len(blocks))
    for off, data in blocks:
        journal += b"%d %d\n" % (off, len(data)) + data
    path = os.path.join(idxdir, "%016x.undo" % fnv1a64(b"INBOX"))
    with open(path, "wb") as fp:
        fp.write(journal)
    os.chown(path, *owner)
    s, f = session(h)
    assert b"a OK" in b"".join(run(s, f, b"a", b"STATUS INBOX (MESSAGES)"))
    assert open(inbox, "rb").read() == old and not os.path.exists(path)
    run(s, f, b"b", b"EXAMINE INBOX")
    flags = b"".join(run(s, f, b"c", b"FETCH 3:5 (FLAGS)"))
    s.close()
    assert b"\\Flagged" not in flags
    assert "undid a flag change that was killed half-way" in h.log_text()
