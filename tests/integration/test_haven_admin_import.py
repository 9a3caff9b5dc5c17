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
from conftest import BUILD, IS_ROOT, check_sanitizers, corpus_messages, mail_identity
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
