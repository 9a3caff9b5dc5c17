"""haven-admin's commands on one user's mail, on both stores: mailbox
list/status/create/delete through the store as IMAP sees it afterwards,
run as root and dropped to the user's uid (files keep their owner)."""
import os
import subprocess

import pytest

from conftest import BUILD, IS_ROOT, check_sanitizers, mail_identity

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
