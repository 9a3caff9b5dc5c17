"""SORT and THREAD on a large mbox answered from the sort-key cache, made
from the header-field cache (References: included since its format
version 2): after the first run, no message is read nor parsed; an older
header-field cache is rebuilt, not trusted."""
import os
import re
import struct

from test_mbox_fields import cache_log, last_run  # noqa: F401
from test_mbox_index import indexed, run, session, write_mbox  # noqa: F401 (fixture)

BACKENDS = ["mbox"]


def sorted_run(haven, command, what="sort keys"):
    """command in a new session: (its untagged answer, (from cache, read
    or made) of the `what` cache)."""
    before = len(cache_log(haven, what))
    s, f = session(haven)
    run(s, f, b"e", b"EXAMINE INBOX")
    lines = run(s, f, b"c", command)
    assert lines[-1].startswith(b"c OK"), lines[-1]
    counts = last_run(haven, before, what)
    run(s, f, b"z", b"LOGOUT")
    s.close()
    return [l for l in lines if l.startswith(b"* ")], counts


def test_sort_and_thread_from_cache(indexed):
    h, inbox, idxdir, owner = indexed
    write_mbox(inbox, 1000)
    os.chown(inbox, *owner)
    first, counts = sorted_run(h, b"SORT (SUBJECT) UTF-8 ALL")
    assert counts == (0, 1000)
    for cmd in (b"SORT (SUBJECT) UTF-8 ALL", b"SORT (REVERSE DATE FROM) UTF-8 ALL",
                b"THREAD REFERENCES UTF-8 ALL", b"THREAD ORDEREDSUBJECT UTF-8 ALL"):
        out, counts = sorted_run(h, cmd)
        assert counts == (1000, 0), cmd
        assert len(out) == 1
    assert sorted_run(h, b"SORT (SUBJECT) UTF-8 ALL")[0] == first


def test_version_1_cache_is_rebuilt(indexed):
    h, inbox, idxdir, owner = indexed
    write_mbox(inbox, 300)
    os.chown(inbox, *owner)
    want, _ = sorted_run(h, b"THREAD REFERENCES UTF-8 ALL")
    keys = [os.path.join(idxdir, n) for n in os.listdir(idxdir) if n.endswith(".sortkeys")]
    (name,) = [n for n in os.listdir(idxdir) if n.endswith(".fields")]
    path = os.path.join(idxdir, name)
    data = open(path, "rb").read()
    assert struct.unpack_from("<I", data, 8)[0] == 2
    with open(path, "wb") as fp:    # what a Haven before References wrote
        fp.write(data[:8] + struct.pack("<I", 1) + data[12:])
    os.chown(path, *owner)
    # (without the sort keys, which would spare the header fields)
    os.unlink(keys[0])
    out, counts = sorted_run(h, b"THREAD REFERENCES UTF-8 ALL", "header fields")
    assert counts == (0, 300) and out == want
    os.unlink(keys[0])
    out, counts = sorted_run(h, b"THREAD REFERENCES UTF-8 ALL", "header fields")
    assert counts == (300, 0) and out == want
    assert re.match(rb"\* THREAD \(", want[0])
