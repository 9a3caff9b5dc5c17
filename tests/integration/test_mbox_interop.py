"""Issue 4: one mbox file, two servers. A mailbox Haven wrote over IMAP
(appends with flags and keywords, STOREs of every system flag and of
keywords, expunges) is opened by Dovecot's mbox driver on the very same file
after Haven's session has logged out; Dovecot must show the same
UIDVALIDITY, UIDNEXT, UIDs, flags and keywords. And the reverse: a mailbox
Dovecot wrote is read by Haven with UIDVALIDITY, UIDs, flags and keywords
intact and the messages byte-identical.

Both servers get the same home directory (Haven: mbox_inbox = %h/INBOX,
mbox_dir = %h/mail; Dovecot: mbox:~/mail:INBOX=~/INBOX) and Dovecot keeps
no index on disk (INDEX=MEMORY), so all it knows comes from the file.

What is compared is what clients see over IMAP; \\Recent is left out (it
belongs to a session, not to the file)."""
import os
import random
import re

import pytest

import mboxfmt
from conftest import IS_ROOT, Haven, check_sanitizers, mail_identity
from dovecot import Dovecot, available
from imapresp import fetch_items, raw_from_imaplib

# About mbox files or processes, not the storage interface.
BACKENDS = ["mbox"]

pytestmark = pytest.mark.skipif(not available(), reason="needs root and dovecot-imapd")

USERS = {"alice": "pw-alice"}
DATE = '"22-Nov-2026 10:11:12 +0000"'


def messages():
    """(message, APPEND flags) pairs: generated mail without lines that
    mbox must escape (the escaping conventions differ between the two
    servers and get their own tests), an empty body, 8-bit text, a long
    header line."""
    rng = random.Random(4)
    out = []
    for i in range(10):
        msg = mboxfmt.make_message("interop", i, rng.choice([150, 900, 3000]), rng,
                                   escapes=False)
        out.append(msg)
    out.append(b"Subject: empty body\r\nMessage-ID: <empty@test.example>\r\n\r\n")
    out.append(b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMessage-ID: <8bit@test.example>\r\n"
               b"Content-Type: text/plain; charset=utf-8\r\n"
               b"Content-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9fe, caf\xc3\xa9\r\n")
    out.append(b"Subject: long header\r\nMessage-ID: <long@test.example>\r\nX-Long: "
               + b"y" * 3000 + b"\r\n\r\nbody\r\n")
    flags = ["()", r"(\Seen)", r"(\Flagged $Label1)", r"(\Answered custom)", r"(\Draft)",
             r"($Label1 custom \Seen)", "()"]
    return [(m, flags[i % len(flags)]) for i, m in enumerate(out)]


def mutate(m):
    """The same STOREs and expunges on either server (imaplib session with
    INBOX selected): every system flag set somewhere, keywords added and
    removed, some messages expunged, the last one among them."""
    def store(uid, op, flags):
        typ, data = m.uid("STORE", str(uid), op, flags)
        assert typ == "OK", data
    store(1, "+FLAGS", r"(\Seen \Flagged)")
    store(2, "+FLAGS", r"(\Answered $Label1)")
    store(3, "-FLAGS", r"($Label1)")            # appended with \Flagged $Label1
    store(4, "+FLAGS", r"(\Draft custom \Seen)")
    store(5, "FLAGS", r"(\Deleted)")            # stays, \Deleted, not expunged
    store(6, "+FLAGS", r"(\Seen \Answered \Flagged \Draft $Label1 custom)")
    store(7, "+FLAGS", r"(\Deleted)")
    store(9, "+FLAGS", r"(\Deleted)")
    store(13, "+FLAGS", r"(\Deleted \Seen)")    # the last message
    typ, data = m.uid("EXPUNGE", "7,9,13")
    assert typ == "OK", data
    store(10, "+FLAGS", r"(custom)")


def flag_set(v):
    return frozenset(bytes(x).decode() for x in v) - {"\\Recent"}


def view(m, box="INBOX"):
    """What a client sees of a mailbox: {uidvalidity, uidnext, exists,
    msgs: {uid: (flags, body)}} (the mailbox is selected at the end)."""
    typ, data = m.status(box, "(MESSAGES UIDNEXT UIDVALIDITY)")
    assert typ == "OK", data
    st = dict(re.findall(r"(MESSAGES|UIDNEXT|UIDVALIDITY) (\d+)", data[0].decode()))
    typ, data = m.select(box)
    assert typ == "OK", data
    exists = int(data[0])
    sel_uv = int(m.untagged_responses["UIDVALIDITY"][0])
    sel_next = int(m.untagged_responses["UIDNEXT"][0])
    msgs = {}
    if exists:
        typ, data = m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
        assert typ == "OK", data
        for seq, it in fetch_items(raw_from_imaplib(data)).items():
            msgs[int(it[b"UID"])] = (flag_set(it[b"FLAGS"]), it[b"BODY[]"])
    assert len(msgs) == exists == int(st["MESSAGES"])
    assert sel_uv == int(st["UIDVALIDITY"]) and sel_next == int(st["UIDNEXT"])
    return {"uidvalidity": sel_uv, "uidnext": sel_next, "exists": exists, "msgs": msgs}


def shared_home(h):
    """alice's home, made as the mail user would have it, for both servers."""
    home = os.path.join(h.home_root, "alice")
    os.makedirs(home, exist_ok=True)
    if IS_ROOT:
        _, uid, gid = mail_identity()
        os.chown(home, uid, gid)
    os.chmod(home, 0o700)
    return home


def dovecot_on(h):
    return Dovecot(USERS, home=os.path.join(h.home_root, "%u"), mbox_index="MEMORY")


def load(m, msgs, box="INBOX"):
    typ, data = m.select(box)
    assert typ == "OK", data
    for body, flags in msgs:
        typ, data = m.append(box, flags, DATE, body)
        assert typ == "OK", data
    typ, data = m.select(box)
    assert typ == "OK", data


@pytest.fixture(scope="module")
def haven_then_dovecot():
    h = Haven(users=("alice",), tls=False).start()
    d = None
    try:
        shared_home(h)
        m = h.login("alice")
        load(m, messages())
        mutate(m)
        m.logout()
        m = h.login("alice")
        ours = view(m)
        m.logout()
        d = dovecot_on(h).start()
        m = d.login("alice")
        theirs = view(m)
        m.logout()
        yield ours, theirs, h
    finally:
        if d:
            d.stop()
        check_sanitizers(h.stop())
        h.cleanup()


@pytest.fixture(scope="module")
def dovecot_then_haven():
    h = Haven(users=("alice",), tls=False)
    d = None
    try:
        shared_home(h)
        d = dovecot_on(h).start()
        m = d.login("alice")
        load(m, messages())
        mutate(m)
        m.logout()
        m = d.login("alice")
        theirs = view(m)
        m.logout()
        d.stop()
        d = None
        h.start()
        m = h.login("alice")
        ours = view(m)
        # A new message after the move gets a UID never used before.
        typ, data = m.append("INBOX", None, DATE, b"Subject: after the move\r\n\r\nnew\r\n")
        assert typ == "OK", data
        appenduid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
        m.logout()
        yield ours, theirs, appenduid
    finally:
        if d:
            d.stop()
        check_sanitizers(h.stop())
        h.cleanup()


def test_sanity_of_the_scenario(haven_then_dovecot):
    ours, _, _ = haven_then_dovecot
    # 13 appended, 3 expunged, one \Deleted kept.
    assert ours["exists"] == 10
    assert sorted(ours["msgs"]) == [1, 2, 3, 4, 5, 6, 8, 10, 11, 12]
    assert ours["uidnext"] == 14
    assert ours["msgs"][5][0] == {"\\Deleted"}
    assert ours["msgs"][6][0] == {"\\Seen", "\\Answered", "\\Flagged", "\\Draft", "$Label1",
                                  "custom"}


def test_haven_mailbox_in_dovecot_uids_flags_keywords(haven_then_dovecot):
    ours, theirs, _ = haven_then_dovecot
    assert theirs["uidvalidity"] == ours["uidvalidity"]
    assert theirs["exists"] == ours["exists"]
    assert sorted(theirs["msgs"]) == sorted(ours["msgs"])
    for uid in ours["msgs"]:
        assert theirs["msgs"][uid][0] == ours["msgs"][uid][0], uid


def test_haven_mailbox_in_dovecot_bodies(haven_then_dovecot):
    """Dovecot shows the message as appended plus Haven's own X-Haven-*
    headers (which it does not know as state headers)."""
    ours, theirs, _ = haven_then_dovecot
    for uid, (_, body) in ours["msgs"].items():
        got = re.sub(rb"(?mi)^X-Haven-(Modseq|Highestmodseq):[ \t]*\d+[ \t]*\r\n", b"",
                     theirs["msgs"][uid][1])
        assert got == body, uid


def test_haven_mailbox_in_dovecot_uidnext(haven_then_dovecot):
    ours, theirs, _ = haven_then_dovecot
    assert theirs["uidnext"] == ours["uidnext"]


def test_dovecot_mailbox_in_haven_uids_flags_keywords(dovecot_then_haven):
    ours, theirs, _ = dovecot_then_haven
    assert theirs["exists"] == 10          # the same scenario on Dovecot
    assert ours["uidvalidity"] == theirs["uidvalidity"]
    assert ours["exists"] == theirs["exists"]
    assert sorted(ours["msgs"]) == sorted(theirs["msgs"])
    for uid in theirs["msgs"]:
        assert ours["msgs"][uid][0] == theirs["msgs"][uid][0], uid


def test_dovecot_mailbox_in_haven_bodies(dovecot_then_haven):
    ours, theirs, _ = dovecot_then_haven
    for uid, (_, body) in theirs["msgs"].items():
        assert ours["msgs"][uid][1] == body, uid


def test_dovecot_mailbox_in_haven_uidnext(dovecot_then_haven):
    ours, theirs, appenduid = dovecot_then_haven
    # UID 13, the last message, was expunged through Dovecot.
    assert appenduid != 13, "UID 13 of an expunged message handed out again"
    assert appenduid >= theirs["uidnext"]
    assert ours["uidnext"] == theirs["uidnext"]


# Dovecot's mbox driver does not escape body lines starting with "From ": it
# frames messages by the Content-Length header it writes, and takes a From_
# line as a separator only where it parses as one (sender and date). So a
# Dovecot-written file holds such lines verbatim.
QUOTED = (b"Subject: a line starting with From\r\nMessage-ID: <quoted@test.example>\r\n\r\n"
          b"Hello,\r\n\r\nFrom the start of a line, nothing says this is a new message.\r\n"
          b"bye\r\n")
FORWARDED = (b"Subject: a forwarded mbox\r\nMessage-ID: <forwarded@test.example>\r\n\r\n"
             b"Here is what was in the file:\r\n\r\n"
             b"From bob@example.org Sun Nov 22 10:00:00 2026\r\n"
             b"Subject: inner\r\n\r\ninner text\r\n")


def plain(i):
    return b"Subject: plain %d\r\nMessage-ID: <plain%d@test.example>\r\n\r\nplain\r\n" % (i, i)


@pytest.fixture(scope="module")
def dovecot_from_lines():
    h = Haven(users=("alice",), tls=False)
    d = None
    try:
        shared_home(h)
        d = dovecot_on(h).start()
        m = d.login("alice")
        theirs = {}
        for box, tricky in (("Quoted", QUOTED), ("Forwarded", FORWARDED)):
            typ, data = m.create(box)
            assert typ == "OK", data
            load(m, [(plain(1), "()"), (tricky, r"(\Seen)"), (plain(2), r"(\Flagged)")], box)
            theirs[box] = view(m, box)
        m.logout()
        d.stop()
        d = None
        h.start()
        m = h.login("alice")
        ours = {box: view(m, box) for box in theirs}
        m.logout()
        yield ours, theirs
    finally:
        if d:
            d.stop()
        check_sanitizers(h.stop())
        h.cleanup()


def without_content_length(body):
    """The message without a top-level Content-Length header (the subject of
    test_dovecot_mailbox_in_haven_bodies, left out here)."""
    head, sep, rest = body.partition(b"\r\n\r\n")
    head = re.sub(rb"(?im)^Content-Length: \d+(\r\n|$)", b"", head + b"\r\n")[:-2]
    return head + sep + rest


def check_same_messages(ours, theirs):
    assert theirs["exists"] == 3
    assert ours["exists"] == 3, "%d messages instead of 3: %r" % (
        ours["exists"], [b[:60] for _, b in ours["msgs"].values()])
    assert sorted(ours["msgs"]) == sorted(theirs["msgs"])
    for uid, (flags, body) in theirs["msgs"].items():
        assert ours["msgs"][uid][0] == flags, uid
        assert without_content_length(ours["msgs"][uid][1]) == body, uid


def test_dovecot_body_line_starting_with_from(dovecot_from_lines):
    ours, theirs = dovecot_from_lines
    check_same_messages(ours["Quoted"], theirs["Quoted"])


def test_dovecot_body_with_from_line_framed_by_content_length(dovecot_from_lines):
    ours, theirs = dovecot_from_lines
    check_same_messages(ours["Forwarded"], theirs["Forwarded"])
