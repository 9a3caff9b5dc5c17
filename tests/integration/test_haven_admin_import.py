"""haven-admin's commands on one user's mail, on both stores, run as root
and dropped to the user's uid (files keep their owner): mailbox
list/status/create/delete as IMAP sees them afterwards; import of trees a
real Dovecot wrote (mbox and Maildir++), compared mailbox by mailbox over
IMAP with what that Dovecot answers (UIDVALIDITY, UIDNEXT, UIDs, flags and
keywords, INTERNALDATE, RFC822.SIZE, the bytes); a plain mbox file; an
import killed with SIGKILL then run again; refusal to import over mail."""
import imaplib
import os
import re
import signal
import subprocess
import time

import pytest

import dovecot
from conftest import (BUILD, IS_ROOT, check_sanitizers, corpus_messages, mail_identity,
                      only_backends)
from imapresp import fetch_items, raw_from_imaplib

ADMIN = os.path.join(BUILD, "haven-admin")

pytestmark = pytest.mark.skipif(not os.path.exists(ADMIN),
                                reason="haven-admin not built (no libpq)")


def admin(h, *args, rc=0):
    r = subprocess.run([ADMIN, "-c", h.conf] + list(args), capture_output=True, text=True,
                       timeout=300)
    check_sanitizers(r.stderr)
    if rc is not None:
        assert r.returncode == rc, (args, r.stdout, r.stderr)
    return r


def status_of(h, user, mailbox):
    out = admin(h, "mailbox", "status", user, mailbox).stdout
    return {k: int(v) for k, v in (l.split() for l in out.splitlines())}


def listed(h, user):
    out = admin(h, "mailbox", "list", user).stdout
    return dict(l.split("\t") for l in out.splitlines())


def test_mailbox_commands(haven):
    admin(haven, "mailbox", "create", "alice", "Work/Projects")
    m = haven.login()
    typ, lines = m.list()
    assert any(l.endswith(b'"Work/Projects"') for l in lines), lines
    for i in range(3):
        m.append("Work/Projects", "(\\Seen)" if i == 0 else "()", None,
                 b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i))
    m.subscribe("Work/Projects")
    typ, st = m.status("Work/Projects", "(MESSAGES UNSEEN UIDVALIDITY UIDNEXT SIZE)")
    s = status_of(haven, "alice", "Work/Projects")
    assert b"(MESSAGES 3 UIDNEXT %d UIDVALIDITY %d UNSEEN 2 SIZE %d)" % (
        s["uidnext"], s["uidvalidity"], s["size"]) in st[0], (st, s)
    assert s["messages"] == 3 and s["unseen"] == 2 and s["highestmodseq"] > 0
    names = listed(haven, "alice")
    assert "\\Subscribed" in names["Work/Projects"].split()
    assert "\\Sent" in names["Sent"].split() and "INBOX" in names
    if haven.backend == "mbox" and IS_ROOT:
        path = os.path.join(haven.home_root, "alice", "mail", "Work", "Projects")
        assert os.stat(path).st_uid == mail_identity()[1]
    admin(haven, "mailbox", "delete", "alice", "Work/Projects")
    typ, lines = m.list('""', "Work/*")
    assert not any(l and l.endswith(b'"Work/Projects"') for l in lines), lines
    m.logout()


def test_mailbox_errors(haven):
    r = admin(haven, "mailbox", "status", "nobody-here", "INBOX", rc=1)
    assert "no such user: nobody-here" in r.stderr
    r = admin(haven, "mailbox", "status", "alice", "Missing", rc=1)
    assert r.stderr.startswith("haven-admin: Missing: "), r.stderr
    r = admin(haven, "mailbox", "create", "alice", "INBOX", rc=1)
    assert "INBOX" in r.stderr
    r = admin(haven, "mailbox", "create", "alice", rc=2)
    assert "usage:" in r.stderr


# ---- import from a Dovecot ------------------------------------------------

FLAG_SETS = ["(\\Seen)", "(\\Answered \\Flagged)", "()", "(\\Seen $Label1 work)",
             "(\\Draft)", "(\\Seen \\Deleted)", "(project-x \\Flagged)", "(\\Answered)"]
DATES = ['"01-Jan-2020 10:00:00 +0200"', '"15-Jun-2021 23:59:59 -0700"',
         '"29-Feb-2024 00:00:01 +0000"', None]


def as_crlf(b):
    return re.sub(rb"\r?\n", b"\r\n", b)


def populate(m, sep):
    """Mailboxes a test asks a Dovecot to make: messages from the corpus
    with flags, keywords and dates, some expunged (UIDs with gaps), a
    \\Deleted one kept, subfolders, subscriptions."""
    msgs = [as_crlf(b) for _, b in corpus_messages()] * 3
    boxes = ["INBOX", "Work", "Sub%sBox" % sep]
    for b in boxes[1:]:
        assert m.create(b)[0] == "OK"
    m.subscribe("Work")
    m.subscribe("Sub%sBox" % sep)
    for bi, box in enumerate(boxes):
        for i, body in enumerate(msgs[bi:bi + 9]):
            typ, _ = m.append(box, FLAG_SETS[(i + bi) % len(FLAG_SETS)],
                              DATES[i % len(DATES)], body)
            assert typ == "OK"
        m.select(box)
        # 2 and 5 go, and 6 (appended with \\Deleted); 3 keeps \\Deleted
        m.uid("STORE", "2,5", "+FLAGS", "(\\Deleted)")
        m.expunge()
        m.uid("STORE", "3", "+FLAGS", "(\\Deleted)")
        m.close()
    return boxes


def snapshot(m, box):
    typ, st = m.status(box, "(UIDVALIDITY UIDNEXT MESSAGES)")
    assert typ == "OK", (box, st)
    nums = dict(re.findall(rb"(UIDVALIDITY|UIDNEXT|MESSAGES) (\d+)", st[0]))
    m.select(box, readonly=True)
    msgs = {}
    if int(nums[b"MESSAGES"]):
        typ, data = m.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
        for item in fetch_items(raw_from_imaplib(data)).values():
            flags = sorted(bytes(f) for f in item[b"FLAGS"] if bytes(f) != b"\\Recent")
            when = imaplib.Internaldate2tuple(b'INTERNALDATE "' + bytes(item[b"INTERNALDATE"]) + b'"')
            msgs[int(item[b"UID"])] = (flags, time.mktime(when), int(item[b"RFC822.SIZE"]),
                                       bytes(item[b"BODY[]"]))
    m.close()
    return int(nums[b"UIDVALIDITY"]), int(nums[b"UIDNEXT"]), msgs


def subscribed(m):
    typ, lines = m.lsub('""', "*")
    return sorted(l.rsplit(b" ", 1)[1].strip(b'"') for l in lines if l)


def compare(src, src_boxes, haven, sep):
    h = haven.login()
    for box in src_boxes:
        want = snapshot(src, box)
        got = snapshot(h, box.replace(sep, "/"))
        assert got[:2] == want[:2], box
        assert sorted(got[2]) == sorted(want[2]), box
        for uid in want[2]:
            assert got[2][uid] == want[2][uid], (box, uid)
    # (Haven subscribes its special-use mailboxes from the start)
    assert {b.replace(sep, "/").encode() for b in src_boxes[1:]} <= set(subscribed(h))
    h.logout()


needs_dovecot = pytest.mark.skipif(not dovecot.available(),
                                   reason="Dovecot missing or not root")


@needs_dovecot
@pytest.mark.parametrize("driver", ["mbox", "maildir"])
def test_import_dovecot_tree(haven, driver):
    dv = dovecot.Dovecot({"alice": "pw"}, driver=driver).start()
    try:
        sep = "/" if driver == "mbox" else "."
        src = dv.login("alice")
        boxes = populate(src, sep)
        home = os.path.join(dv.dir, "home", "alice")
        if driver == "mbox":
            out = admin(haven, "import", "alice", os.path.join(home, "mail"))
            inbox = admin(haven, "import", "alice", os.path.join(home, "INBOX"))
            assert "INBOX: " in inbox.stdout, inbox.stdout
        else:
            out = admin(haven, "import", "alice", os.path.join(home, "Maildir"))
        assert "Sub/Box: " in out.stdout, out
        assert "subscribe" not in out.stderr, out.stderr
        compare(src, boxes, haven, sep)
        src.logout()
    finally:
        dv.stop()


def workdir(h):
    """A directory the user's uid (haven-admin runs as it) can read and
    write: the sources and exports of a test."""
    import pathlib
    d = os.path.join(h.dir, "work")
    os.makedirs(d, exist_ok=True)
    if IS_ROOT:
        os.chown(d, mail_identity()[1], mail_identity()[2])
    return pathlib.Path(d)


def haven_snapshots(h, user):
    m = h.login(user)
    typ, lines = m.list()
    names = [l.rsplit(b" ", 1)[1].strip(b'"').decode() for l in lines
             if b"\\Noselect" not in l]
    snaps = {n: snapshot(m, n) for n in names}
    subs = subscribed(m)
    m.logout()
    return snaps, subs


def test_export_import_round_trip(haven):
    tmp_path = workdir(haven)
    m = haven.login()
    m.create("Work/Deep")
    m.subscribe("Work/Deep")
    for i, (_, body) in enumerate(corpus_messages()[:6]):
        m.append("Work/Deep" if i % 2 else "INBOX", FLAG_SETS[i], DATES[i % len(DATES)],
                 as_crlf(body))
    m.append("INBOX", "()", None, b"Subject: no final newline\r\n\r\nFrom me Mon Jan 01 "
             b"00:00:00 2024\r\n>From x\r\nlast line")
    m.select("INBOX")
    m.uid("STORE", "1", "+FLAGS", "(\\Deleted)")
    m.expunge()
    m.logout()
    dest = tmp_path / "export"
    out = admin(haven, "export", "alice", str(dest)).stdout
    assert "Work/Deep: exported" in out, out
    admin(haven, "import", "bob", str(dest))
    assert haven_snapshots(haven, "bob") == haven_snapshots(haven, "alice")
    # exported again, the same bytes
    admin(haven, "export", "bob", str(tmp_path / "again"))
    for f in ("INBOX", "Work/Deep", ".subscriptions"):
        a, b = (dest / f).read_bytes(), (tmp_path / "again" / f).read_bytes()
        assert re.sub(rb"From MAILER-DAEMON  [^\n]*\n", b"", a) == \
            re.sub(rb"From MAILER-DAEMON  [^\n]*\n", b"", b), f


PLAIN = (b"From someone@example.org Wed Jan  1 08:00:00 2020\n"
         b"Status: RO\nSubject: one\n\nFrom here is not a separator\n>From stays\n\n"
         b"From other@example.org Thu Feb 13 23:31:30 2020\n"
         b"Subject: two\nX-Status: AF\nX-Keywords: todo\n\nbody two\n\n"
         b"From third@example.org Fri Mar  6 01:02:03 2020\n"
         b"Subject: three\n\nno final newline")


def test_import_plain_mbox(haven):
    tmp_path = workdir(haven)
    src = tmp_path / "old-inbox"
    src.write_bytes(PLAIN)
    out = admin(haven, "import", "alice", str(src), "-m", "Old").stdout
    assert "Old: 3 messages" in out, out
    m = haven.login()
    uv, uidnext, msgs = snapshot(m, "Old")
    assert uidnext == 4 and sorted(msgs) == [1, 2, 3] and uv > 0
    assert msgs[1][0] == [b"\\Seen"]
    assert msgs[2][0] == [b"\\Answered", b"\\Flagged", b"todo"]
    assert msgs[3][0] == []
    assert msgs[1][1] == time.mktime(imaplib.Internaldate2tuple(
        b'INTERNALDATE "01-Jan-2020 08:00:00 +0000"'))
    assert msgs[1][3] == b"Subject: one\r\n\r\nFrom here is not a separator\r\n>From stays\r\n"
    assert msgs[2][3] == b"Subject: two\r\n\r\nbody two\r\n"
    assert msgs[3][3] == b"Subject: three\r\n\r\nno final newline"
    # over mail: refused, and said how to replace it
    r = admin(haven, "import", "alice", str(src), "-m", "Old", rc=1)
    assert "holds 3 messages" in r.stderr and "-f" in r.stderr, r.stderr
    assert snapshot(m, "Old") == (uv, uidnext, msgs)
    admin(haven, "import", "alice", str(src), "-m", "Old", "-f")
    assert sorted(snapshot(m, "Old")[2]) == [1, 2, 3]
    m.logout()


def test_import_malformed(haven):
    tmp_path = workdir(haven)
    bad = tmp_path / "bad"
    bad.write_bytes(b"Subject: not an mbox\n\nbody\n")
    r = admin(haven, "import", "alice", str(bad), rc=1)
    assert "%s:1: not an mbox file" % bad in r.stderr, r.stderr
    bad.write_bytes(b"From a Wed Jan  1 08:00:00 2020\nX-UID: 12x9999999999\n\nb\n")
    r = admin(haven, "import", "alice", str(bad), rc=1)
    assert "%s:2: malformed X-UID" % bad in r.stderr, r.stderr
    md = tmp_path / "md"
    (md / "cur").mkdir(parents=True)
    (md / "dovecot-uidlist").write_bytes(b"3 V12 N5\n1 :a\nzz :b\n")
    os.chmod(md, 0o755)
    r = admin(haven, "import", "alice", str(md), "-m", "M", rc=1)
    assert "dovecot-uidlist:3: malformed uidlist entry" in r.stderr, r.stderr
    m = haven.login()
    typ, lines = m.list()
    assert not any(b'"M/' in l or l.endswith(b'"bad"') for l in lines), lines
    m.logout()


def big_mbox(path, n):
    with open(path, "wb") as f:
        # X-IMAPbase: the last UID given out, n + 10 (UIDNEXT n + 11)
        f.write(b"From x Wed Jan  1 08:00:00 2020\nX-IMAPbase: 777 %010d\n" % (n + 10))
        for i in range(n):
            if i:
                f.write(b"From x Wed Jan  1 08:00:00 2020\n")
            f.write(b"X-UID: %d\nSubject: m%d\n\n%s\n\n" % (i + 5, i, b"x" * 2000))


def import_under_way(h, pid):
    """B's import has begun storing: its temp file (mbox), its
    transaction's statements (PostgreSQL)."""
    if h.backend == "pgsql":
        return int(h.pg.psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                             "'%%import_message%%' AND datname = '%s' AND pid <> "
                             "pg_backend_pid()" % h.db, db=h.db) or 0) > 0
    top = os.path.join(h.home_root, "alice", "mail")
    return any(f.startswith(".haven-tmp") and os.path.getsize(os.path.join(top, f)) > 0
               for f in os.listdir(top)) if os.path.isdir(top) else False


def test_import_killed_then_run_again(haven):
    tree = workdir(haven) / "tree"
    tree.mkdir()
    big_mbox(tree / "A", 3)
    big_mbox(tree / "B", 30000)
    os.chmod(tree, 0o755)
    p = subprocess.Popen([ADMIN, "-c", haven.conf, "import", "alice", str(tree)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while not import_under_way(haven, p.pid):
        assert p.poll() is None, ("the import ended before it could be killed",
                                  p.communicate())
        time.sleep(0.001)
    p.send_signal(signal.SIGSTOP)
    assert p.poll() is None
    p.send_signal(signal.SIGKILL)
    p.wait()
    m = haven.login()
    typ, lines = m.list()
    assert not any(l.endswith(b'"B"') or l.endswith(b" B") for l in lines), lines
    assert m.status("B", "(MESSAGES)")[0] == "NO"
    m.logout()
    out = admin(haven, "import", "alice", str(tree)).stdout
    assert re.search(r"A: (already imported|3 messages)", out), out
    assert "B: 30000 messages" in out, out
    m = haven.login()
    typ, st = m.status("B", "(UIDVALIDITY UIDNEXT MESSAGES)")
    assert b"MESSAGES 30000" in st[0] and b"UIDVALIDITY 777" in st[0] and \
        b"UIDNEXT 30011" in st[0], st
    m.select("B", readonly=True)
    typ, uids = m.uid("SEARCH", "ALL")
    assert [int(u) for u in uids[0].split()] == list(range(5, 30005))
    m.logout()


@only_backends("mbox")
def test_reindex(haven_factory):
    h = haven_factory(extra_conf="mbox_index_min_size = 0")
    m = h.login()
    for i in range(5):
        m.append("INBOX", "(\\Seen)" if i % 2 else "()", None, b"Subject: %d\r\n\r\nx\r\n" % i)
    before = snapshot(m, "INBOX")
    m.logout()
    idx = os.path.join(h.home_root, "alice", "mail", ".haven-index")
    files = os.listdir(idx)
    assert files
    for f in files:
        os.unlink(os.path.join(idx, f))
    out = admin(h, "reindex", "alice").stdout
    assert "INBOX: index rebuilt" in out, out
    assert os.listdir(idx)
    if IS_ROOT:
        for f in os.listdir(idx):
            assert os.stat(os.path.join(idx, f)).st_uid == mail_identity()[1]
    m = h.login()
    assert snapshot(m, "INBOX") == before
    m.logout()
    r = admin(h, "reindex", "alice", "Missing", rc=1)
    assert "Missing: " in r.stderr


@only_backends("pgsql")
def test_reindex_pgsql(haven):
    out = admin(haven, "reindex", "alice").stdout
    assert "nothing to do: the pgsql store keeps no index" in out, out
