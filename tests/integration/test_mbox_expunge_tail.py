"""EXPUNGE of the last messages of an mbox file truncates it in place (the
base header's last UID and highest modseq are updated over their padded
values first) instead of rewriting the whole file through a temp file.
What a client sees must be exactly what a rewrite would give: the same
messages, no UID given out twice, and a full parse of the file (no index)
agreeing with the indexed view."""
import os
import re

from conftest import read_until_tagged
from test_mbox_index import indexed, run, session, snapshot, fresh_view  # noqa: F401 (fixture)

# About mbox files or processes, not the storage interface.
BACKENDS = ["mbox"]


def message(i):
    return (b"From: sender%d@example.org\r\nTo: alice@example.org\r\n"
            b"Subject: tail test %d\r\nMessage-ID: <tail%d@example.org>\r\n\r\n"
            b"body of message %d\r\n" % (i, i, i, i))


def append(s, f, tag, msg, flags=b""):
    s.sendall(tag + b" APPEND INBOX (" + flags + b") {%d+}\r\n" % len(msg) + msg + b"\r\n")
    lines = read_until_tagged(f, tag)
    assert lines[-1].startswith(tag + b" OK"), lines[-1]
    return int(re.search(rb"APPENDUID \d+ (\d+)", lines[-1]).group(1))


def base_values(path):
    """(last UID, highest modseq) from the file's X-IMAPbase header block."""
    head = open(path, "rb").read(4096)
    last = int(re.search(rb"\nX-IMAPbase: \d+ (\d{10})", head).group(1))
    hms = int(re.search(rb"\nX-Haven-Highestmodseq: (\d+) *\n", head).group(1))
    return last, hms


def expunge_last(s, f, tag, seq):
    assert run(s, f, tag + b"s", b"STORE %d +FLAGS.SILENT (\\Deleted)" % seq)[-1].startswith(
        tag + b"s OK")
    lines = run(s, f, tag, b"EXPUNGE")
    assert lines[-1].startswith(tag + b" OK"), lines[-1]
    return [l for l in lines if l.endswith(b"EXPUNGE\r\n") and l.startswith(b"* ")]


def test_expunge_at_the_end_truncates_and_keeps_uids(indexed):
    h, inbox, idxdir, owner = indexed
    s, f = session(h)
    for i in range(1, 6):
        assert append(s, f, b"a%d" % i, message(i)) == i
    assert run(s, f, b"x", b"SELECT INBOX")[-1].startswith(b"x OK")
    before = open(inbox, "rb").read()
    ino = os.stat(inbox).st_ino
    last0, hms0 = base_values(inbox)

    # The client's own copy, then deleted again: the common case.
    assert append(s, f, b"b", message(6)) == 6
    assert expunge_last(s, f, b"c", 6) == [b"* 6 EXPUNGE\r\n"]
    after = open(inbox, "rb").read()
    st = os.stat(inbox)
    assert st.st_ino == ino                       # no rewrite: the same file
    assert len(after) == len(before)              # cut where message 6 began
    last1, hms1 = base_values(inbox)
    assert last1 == 6 and hms1 > hms0 and last0 <= 5
    # Only the base's values changed.
    assert re.sub(rb"\d", b"0", after) == re.sub(rb"\d", b"0", before)
    # No UID is given out twice.
    assert append(s, f, b"d", message(7)) == 7
    lines = run(s, f, b"e", b"UID FETCH 1:* (UID)")
    assert [int(x) for x in re.findall(rb"UID (\d+)\)", b"".join(lines))] == [1, 2, 3, 4, 5, 7]
    # Two at the end at once.
    assert append(s, f, b"g", message(8)) == 8
    run(s, f, b"h", b"STORE 6:7 +FLAGS.SILENT (\\Deleted)")
    assert run(s, f, b"i", b"EXPUNGE")[-1].startswith(b"i OK")
    assert os.stat(inbox).st_ino == ino
    assert base_values(inbox)[0] == 8
    view = snapshot(s, f)
    s.close()
    assert view[2] == b"5" and view[1] == b"9"
    assert fresh_view(h, idxdir) == view          # a full parse agrees


def test_expunge_elsewhere_or_of_a_keyword_still_rewrites(indexed):
    h, inbox, idxdir, owner = indexed
    s, f = session(h)
    for i in range(1, 5):
        append(s, f, b"a%d" % i, message(i))
    run(s, f, b"x", b"SELECT INBOX")
    ino = os.stat(inbox).st_ino
    # In the middle: the messages after it move, so the file is rewritten.
    expunge_last(s, f, b"b", 2)
    assert os.stat(inbox).st_ino != ino
    # At the end but with a keyword the base does not list yet: rewritten
    # too, so that the keyword stays known to a full parse (in the base).
    ino = os.stat(inbox).st_ino
    append(s, f, b"c", message(9), b"$OnlyHere")
    run(s, f, b"n", b"NOOP")
    expunge_last(s, f, b"d", 4)
    assert os.stat(inbox).st_ino != ino
    assert re.search(rb"\nX-IMAPbase: [^\n]*\$OnlyHere", open(inbox, "rb").read())
    view = snapshot(s, f)
    s.close()
    assert view[2] == b"3"
    assert fresh_view(h, idxdir) == view
