"""Authenticated and selected state through the mbox backend: APPEND,
SELECT, FETCH (flags, sizes, dates, bodies, sections, partials), STORE,
EXPUNGE, LIST, STATUS, CREATE/DELETE/RENAME, and updates between two
sessions of the same user."""
import imaplib
import re

import pytest

from conftest import corpus_messages


def append_corpus(m, box="INBOX"):
    msgs = corpus_messages()
    for _, data in msgs:
        typ, resp = m.append(box, None, None, data)
        assert typ == "OK", resp
        assert b"APPENDUID" in resp[0]
    return msgs


def test_append_and_fetch_bytes_identical(haven):
    m = haven.login("alice")
    msgs = append_corpus(m)
    typ, data = m.select("INBOX")
    assert int(data[0]) == len(msgs)
    for i, (name, body) in enumerate(msgs, 1):
        typ, data = m.fetch(str(i), "(RFC822.SIZE BODY.PEEK[])")
        assert typ == "OK"
        assert data[0][1] == body, name
        assert int(re.search(rb"RFC822.SIZE (\d+)", data[0][0]).group(1)) == len(body)
    m.logout()


def test_uids_flags_and_persistence(haven):
    m = haven.login("alice")
    append_corpus(m)
    m.select("INBOX")
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS)")
    uids = [int(re.search(rb"UID (\d+)", d).group(1)) for d in data]
    assert uids == sorted(uids) and len(set(uids)) == len(uids)
    assert m.store("2", "+FLAGS", r"(\Flagged $Important)")[0] == "OK"
    assert m.store("1", "+FLAGS.SILENT", r"(\Seen)")[0] == "OK"
    m.logout()
    # A new session (and, after idle timeout, a new worker) sees the same.
    m = haven.login("alice")
    m.select("INBOX")
    typ, data = m.fetch("1:2", "(UID FLAGS)")
    assert b"\\Seen" in data[0]
    assert b"\\Flagged" in data[1] and b"$Important" in data[1]
    typ, data2 = m.uid("FETCH", "1:*", "(UID)")
    assert [int(re.search(rb"UID (\d+)", d).group(1)) for d in data2] == uids
    m.logout()


def test_body_fetch_sets_seen_peek_does_not(haven):
    m = haven.login("bob")
    append_corpus(m)
    m.select("INBOX")
    typ, data = m.fetch("1", "(BODY.PEEK[HEADER])")
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Seen" not in data[0]
    typ, data = m.fetch("1", "(BODY[TEXT])")
    assert b"\\Seen" in data[0][0]
    m.logout()


def test_sections_and_partials(haven):
    m = haven.login("alice")
    msgs = append_corpus(m)
    m.select("INBOX")
    body = msgs[0][1]
    hdr_end = body.index(b"\r\n\r\n") + 4
    typ, data = m.fetch("1", "(BODY.PEEK[HEADER])")
    assert data[0][1] == body[:hdr_end]
    typ, data = m.fetch("1", "(BODY.PEEK[TEXT])")
    assert data[0][1] == body[hdr_end:]
    typ, data = m.fetch("1", "(BODY.PEEK[]<10.20>)")
    assert data[0][1] == body[10:30]
    assert b"BODY[]<10>" in data[0][0]
    typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert data[0][1].lower().startswith(b"subject:")
    assert data[0][1].endswith(b"\r\n\r\n")
    typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT)])")
    assert b"\nSubject:" not in data[0][1] and not data[0][1].startswith(b"Subject:")
    typ, data = m.fetch("1", "(INTERNALDATE FLAGS UID)")
    assert re.search(rb'INTERNALDATE "[ 0-9]\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}"', data[0])
    m.logout()


def test_append_with_flags_and_date(haven):
    m = haven.login("alice")
    date = imaplib.Time2Internaldate(1700000000)
    typ, resp = m.append("INBOX", r"(\Seen \Draft)", date, b"Subject: x\r\n\r\nbody\r\n")
    assert typ == "OK"
    m.select("INBOX")
    typ, data = m.fetch("1", "(FLAGS INTERNALDATE)")
    assert b"\\Seen" in data[0] and b"\\Draft" in data[0]
    assert imaplib.Internaldate2tuple(data[0]) is not None
    m.logout()


def test_expunge_and_close(haven):
    m = haven.login("alice")
    msgs = append_corpus(m)
    m.select("INBOX")
    m.store("1,3", "+FLAGS", r"(\Deleted)")
    typ, data = m.expunge()
    assert typ == "OK"
    assert [int(x) for x in data if x] == [3, 1] or [int(x) for x in data if x] == [1, 2]
    typ, data = m.select("INBOX")
    assert int(data[0]) == len(msgs) - 2
    # CLOSE expunges silently.
    m.store("1", "+FLAGS", r"(\Deleted)")
    assert m.close()[0] == "OK"
    typ, data = m.status("INBOX", "(MESSAGES)")
    assert b"MESSAGES %d" % (len(msgs) - 3) in data[0]
    m.logout()


def test_examine_is_read_only(haven):
    m = haven.login("alice")
    append_corpus(m)
    typ, data = m.select("INBOX", readonly=True)
    assert typ == "OK"
    typ, data = m.fetch("1", "(BODY[])")
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Seen" not in data[0]
    typ, data = m.store("1", "+FLAGS", r"(\Deleted)")
    assert typ == "NO" and b"READ-ONLY" in data[0]
    m.logout()


def test_mailbox_management_and_list(haven):
    m = haven.login("bob")
    assert m.create("Work/Projects")[0] == "OK"
    assert m.create("Stuff")[0] == "OK"
    typ, data = m.create("Stuff")
    assert typ == "NO" and b"ALREADYEXISTS" in data[0]
    typ, data = m.list()
    names = [d.decode() for d in data]
    assert any(n.endswith('"INBOX"') or n.endswith(" INBOX") for n in names)
    assert any("Work/Projects" in n for n in names)
    typ, data = m.list('""', "%")
    assert not any("Work/Projects" in d.decode() for d in data)
    assert m.rename("Stuff", "Old")[0] == "OK"
    typ, data = m.status("Old", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")
    assert typ == "OK" and b"MESSAGES 0" in data[0]
    assert m.delete("Old")[0] == "OK"
    typ, data = m.select("Old")
    assert typ == "NO" and b"NONEXISTENT" in data[0]
    typ, data = m.append("Nope", None, None, b"Subject: x\r\n\r\ny\r\n")
    assert typ == "NO" and b"TRYCREATE" in data[0]
    assert m.subscribe("Work/Projects")[0] == "OK"
    typ, data = m.lsub()
    assert any(b"Work/Projects" in d for d in data)
    m.logout()


def test_bad_mailbox_names_refused(haven):
    m = haven.login("alice")
    for name in ("../escape", "/etc/passwd", "a/../../b", ".hidden"):
        typ, data = m.create(name)
        assert typ == "NO", (name, data)
    m.logout()


def test_second_session_sees_changes(haven):
    a = haven.login("alice")
    b = haven.login("alice")
    a.select("INBOX")
    b.select("INBOX")
    a.untagged_responses.clear()
    assert b.append("INBOX", None, None, b"Subject: new\r\n\r\nnew mail\r\n")[0] == "OK"
    a.noop()
    assert a.untagged_responses.get("EXISTS") == [b"1"]
    b.store("1", "+FLAGS", r"(\Flagged)")
    a.noop()
    typ, data = a.fetch("1", "(FLAGS)")
    assert b"\\Flagged" in data[0]
    b.store("1", "+FLAGS", r"(\Deleted)")
    b.expunge()
    a.untagged_responses.clear()
    a.noop()
    assert a.untagged_responses.get("EXPUNGE") == [b"1"]
    a.logout()
    b.logout()


def test_users_are_isolated(haven):
    a = haven.login("alice")
    a.append("INBOX", None, None, b"Subject: alice only\r\n\r\nsecret\r\n")
    b = haven.login("bob")
    typ, data = b.select("INBOX")
    assert int(data[0]) == 0
    a.logout()
    b.logout()


def test_large_fetch_streams_in_order_to_a_slow_reader(haven):
    """A FETCH bigger than the output high-water mark yields and resumes as
    the client reads; a command pipelined behind it is answered after it."""
    import socket
    import time
    m = haven.login("alice")
    bodies = []
    for i in range(24):
        body = b"Subject: big %d\r\n\r\n" % i + (b"%06d " % i) * 20000 + b"\r\n"  # ~140 KB
        bodies.append(body)
        assert m.append("INBOX", None, None, body)[0] == "OK"
    m.logout()
    s = socket.create_connection(("127.0.0.1", haven.port), timeout=30)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"a LOGIN alice pw-alice\r\nb SELECT INBOX\r\n"
              b"c FETCH 1:* (BODY[])\r\nd NOOP\r\n")
    time.sleep(1.0)  # let the server's output back up
    got = []
    tags = []
    while True:
        line = f.readline()
        assert line, "connection closed"
        lit = re.search(rb"\{(\d+)\}\r\n$", line)
        if line.startswith(b"* ") and b"FETCH" in line and lit:
            got.append(f.read(int(lit.group(1))))
            assert f.readline() == b")\r\n"
            continue
        if not line.startswith(b"*"):
            tags.append(line.split(b" ")[0])
            if line.startswith(b"d "):
                break
    assert tags == [b"a", b"b", b"c", b"d"]
    assert got == bodies
    s.close()
    assert "FETCH yields" in haven.log_text()  # the yield path really ran
