"""INBOX in a spool directory like Debian's /var/mail (root:mail 2775, the
user's file user:mail 0660): the worker runs as the user, which may not add
or remove names there, so dotlocks and the temp file of a rewrite are made
with the privileged mail group (mail_privileged_group), kept as the saved
gid and effective only for those calls. Without it, flag changes and
expunges fail with NOPERM and locking falls back to fcntl alone."""
import grp
import os
import shutil
import stat
import tempfile

import pytest

from conftest import IS_ROOT, Haven, check_sanitizers, read_until_tagged

# About mbox files or processes, not the storage interface.
BACKENDS = ["mbox"]

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="needs root to make a root:mail spool")


def run(s, f, tag, cmd):
    s.sendall(tag + b" " + cmd + b"\r\n")
    return read_until_tagged(f, tag)


@pytest.fixture
def spool_haven():
    made = []

    def make(privileged_group):
        top = tempfile.mkdtemp(prefix="haven-spool-")
        os.chmod(top, 0o755)
        spool = os.path.join(top, "mail")
        os.mkdir(spool)
        mail_gid = grp.getgrnam("mail").gr_gid
        os.chown(spool, 0, mail_gid)
        os.chmod(spool, 0o2775)
        h = Haven(extra_conf="mail_privileged_group = %s\n" % privileged_group)
        with open(h.conf) as f:
            conf = f.read().replace("mbox_inbox = %h/INBOX", "mbox_inbox = %s/%%u" % spool)
        with open(h.conf, "w") as f:
            f.write(conf)
        h.start()
        made.append((h, top))
        # The MDA's file: the user's, group mail, 0660 (as Debian's MDAs make it).
        box = os.path.join(spool, "alice")
        with open(box, "wb") as f:
            for i in range(3):
                f.write(b"From mda@example.org Sun Nov 22 10:00:0%d 2026\n"
                        b"Subject: spool %d\n\nbody %d\n\n" % (i, i, i))
        uid = os.stat(h.home_root).st_uid
        os.chown(box, uid, mail_gid)
        os.chmod(box, 0o660)
        return h, spool, box
    yield make
    for h, top in made:
        check_sanitizers(h.stop())
        h.cleanup()
        shutil.rmtree(top, ignore_errors=True)


def test_spool_inbox_with_mail_group(spool_haven):
    h, spool, box = spool_haven("mail")
    owner = os.stat(box)
    s, f = h.raw()
    run(s, f, b"l", b"LOGIN alice pw-alice")
    sel = b"".join(run(s, f, b"a", b"SELECT INBOX"))
    assert b"* 3 EXISTS" in sel
    assert run(s, f, b"b", b"STORE 1 +FLAGS (\\Deleted \\Flagged)")[-1].startswith(b"b OK")
    assert run(s, f, b"c", b"STORE 2 +FLAGS (\\Seen)")[-1].startswith(b"c OK")
    assert run(s, f, b"d", b"EXPUNGE")[-1].startswith(b"d OK")
    msg = b"Subject: appended\r\n\r\nhi\r\n"
    assert run(s, f, b"e", b"APPEND INBOX {%d+}\r\n" % len(msg) + msg)[-1].startswith(b"e OK")
    res = b"".join(run(s, f, b"f", b"FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
    assert b"spool 0" not in res and b"spool 1" in res and b"\\Seen" in res
    assert b"appended" in res
    # The worker holds the mail group only as its saved gid: not effective,
    # not supplementary.
    from procs import children_of
    (worker,) = [pid for pid, argv in children_of(h.proc.pid)
                 if argv and argv[0].endswith("haven-worker") and "alice" in argv]
    status = dict(l.split(":", 1) for l in open("/proc/%d/status" % worker))
    rgid, egid, sgid, fsgid = map(int, status["Gid"].split())
    mail_gid = grp.getgrnam("mail").gr_gid
    assert rgid == egid == fsgid != mail_gid and sgid == mail_gid
    assert str(mail_gid) not in status["Groups"].split()
    s.close()
    # The rewritten file kept its owner, group and mode; nothing left over
    # in the spool (no temp file, no lock).
    now = os.stat(box)
    assert (now.st_uid, now.st_gid, stat.S_IMODE(now.st_mode)) == \
        (owner.st_uid, owner.st_gid, 0o660)
    assert b"X-UID: " in open(box, "rb").read()  # it was rewritten
    assert sorted(os.listdir(spool)) == ["alice"]
    log = h.log_text()
    assert "using fcntl only" not in log


def test_spool_inbox_without_mail_group(spool_haven):
    h, spool, box = spool_haven("")
    s, f = h.raw()
    run(s, f, b"l", b"LOGIN alice pw-alice")
    assert b"* 3 EXISTS" in b"".join(run(s, f, b"a", b"SELECT INBOX"))
    res = run(s, f, b"b", b"STORE 1 +FLAGS (\\Deleted)")
    assert res[-1].startswith(b"b NO [NOPERM]")
    s.close()
    assert "using fcntl only" in h.log_text()
