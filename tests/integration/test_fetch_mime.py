"""FETCH through the MIME parser as a client uses it: structure items,
part sections, and BINARY (RFC 3516) decoding."""
import base64
import quopri
import re

from imapresp import fetch_items, raw_from_imaplib

BLOB = bytes(range(256)) * 4  # NULs and every byte value
QP_TEXT = "Grüße, naïve café — with = signs and a long line ".encode() * 3 + b"\r\n"

MSG = (b"From: Alice <alice@example.com>\r\n"
       b"To: Bob <bob@example.org>, team: c@example.net;\r\n"
       b"Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n"
       b"Date: Mon, 2 Nov 2026 10:00:00 +0100\r\n"
       b"Message-ID: <m1@example.com>\r\n"
       b"MIME-Version: 1.0\r\n"
       b"Content-Type: multipart/mixed; boundary=XYZ\r\n\r\n"
       b"preamble\r\n--XYZ\r\n"
       b"Content-Type: text/plain; charset=utf-8\r\n"
       b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
       + quopri.encodestring(QP_TEXT.replace(b"\r\n", b"\n")).replace(b"\n", b"\r\n") +
       b"\r\n--XYZ\r\n"
       b"Content-Type: application/octet-stream; name=blob.bin\r\n"
       b"Content-Transfer-Encoding: base64\r\n"
       b"Content-Disposition: attachment; filename=blob.bin\r\n\r\n"
       + base64.encodebytes(BLOB).replace(b"\n", b"\r\n") +
       b"\r\n--XYZ\r\n"
       b"Content-Type: text/plain\r\n"
       b"Content-Transfer-Encoding: x-uuencode\r\n\r\n"
       b"begin 644 x\r\nend\r\n"
       b"\r\n--XYZ--\r\n")


def prepare(haven):
    m = haven.login("alice")
    assert m.append("INBOX", None, None, MSG)[0] == "OK"
    m.select("INBOX")
    return m


def items(m, what):
    typ, data = m.fetch("1", "(%s)" % what)
    assert typ == "OK", data
    return fetch_items(raw_from_imaplib(data))[1]


def test_structure_items(haven):
    m = prepare(haven)
    it = items(m, "ENVELOPE BODYSTRUCTURE")
    env = it[b"ENVELOPE"]
    assert env[0] == b"Mon, 2 Nov 2026 10:00:00 +0100"
    assert env[1] == b"=?UTF-8?B?R3LDvMOfZQ==?="
    assert env[2] == [[b"Alice", None, b"alice", b"example.com"]]
    assert env[3] == env[2] and env[4] == env[2]  # sender, reply-to default to from
    # group syntax: start (NIL NIL "team" NIL) ... end (NIL NIL NIL NIL)
    assert env[5][0] == [b"Bob", None, b"bob", b"example.org"]
    assert env[5][1] == [None, None, b"team", None]
    assert env[5][-1] == [None, None, None, None]
    assert env[9] == b"<m1@example.com>"
    bs = it[b"BODYSTRUCTURE"]
    assert [p[0].lower() for p in bs[:3]] == [b"text", b"application", b"text"]
    assert bs[3].lower() == b"mixed"
    it = items(m, "BODY")
    assert it[b"BODY"][3].lower() == b"mixed"
    m.logout()


def test_part_sections(haven):
    m = prepare(haven)
    it = items(m, "BODY.PEEK[2.MIME] BODY.PEEK[2] BODY.PEEK[1]<0.5>")
    assert it[b"BODY[2.MIME]"].startswith(b"Content-Type: application/octet-stream")
    assert it[b"BODY[2.MIME]"].endswith(b"\r\n\r\n")
    assert base64.b64decode(it[b"BODY[2]"]) == BLOB
    assert it[b"BODY[1]<0>"] == MSG[MSG.index(b"Gr=C3"):][:5]
    it = items(m, "BODY.PEEK[9] BODY.PEEK[HEADER.FIELDS (Subject)]")
    assert it[b"BODY[9]"] == b""  # a part that does not exist is empty
    assert it[b"BODY[HEADER.FIELDS (SUBJECT)]"].startswith(b"Subject:")
    m.logout()


def test_binary_decodes(haven):
    m = prepare(haven)
    it = items(m, "BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[1] BINARY.SIZE[1]")
    assert it[b"BINARY[2]"] == BLOB
    assert int(it[b"BINARY.SIZE[2]"]) == len(BLOB)
    assert it[b"BINARY[1]"] == QP_TEXT.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert int(it[b"BINARY.SIZE[1]"]) == len(it[b"BINARY[1]"])
    it = items(m, "BINARY.PEEK[2]<10.20>")
    assert it[b"BINARY[2]<10>"] == BLOB[10:30]
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Seen" not in data[0]
    typ, data = m.fetch("1", "(BINARY[2])")
    assert b"\\Seen" in raw_from_imaplib(data)
    m.logout()


def test_binary_errors(haven):
    m = prepare(haven)
    typ, data = m.fetch("1", "(BINARY.PEEK[3])")
    assert typ == "NO" and b"UNKNOWN-CTE" in data[0]
    for bad in ("BINARY[1.HEADER]", "BINARY[1.]", "BINARY[0]", "BINARY.SIZE[1]<0.1>"):
        try:
            typ, data = m.fetch("1", "(%s)" % bad)
        except m.error:
            continue
        raise AssertionError("%s accepted" % bad)
    m.logout()


# Issue 17, item 10: a 165-byte header line without a colon disappeared
# from HEADER.FIELDS.NOT, and ENVELOPE rewrote a broken address into a
# valid-looking one (the second '@' dropped, the host joined).
JUNK_LINE = (b"X-Broken line without colon " + b"j" * 165)[:165]
BROKEN = (b" stray continuation at the start\r\n"
          b"From: develop!nextmime@ebony@sblab.att.com\r\n"
          b"To: <a@b@c.org>, john smith@example.com\r\n"
          + JUNK_LINE + b"\r\n\tfolded into it\r\n"
          b"Subject: broken\r\n"
          b"\r\n"
          b"body\r\n")


def test_broken_header_lines_and_addresses(haven):
    m = haven.login("alice")
    assert m.append("INBOX", None, None, BROKEN)[0] == "OK"
    m.select("INBOX")
    it = items(m, "ENVELOPE BODY.PEEK[HEADER.FIELDS.NOT (From To Subject)] "
                  "BODY.PEEK[HEADER.FIELDS (From Subject)] BODY.PEEK[HEADER]")
    assert it[b"BODY[HEADER.FIELDS.NOT (FROM TO SUBJECT)]"] == (
        b" stray continuation at the start\r\n" + JUNK_LINE + b"\r\n\tfolded into it\r\n\r\n")
    assert it[b"BODY[HEADER.FIELDS (FROM SUBJECT)]"] == (
        b"From: develop!nextmime@ebony@sblab.att.com\r\nSubject: broken\r\n\r\n")
    assert it[b"BODY[HEADER]"] == BROKEN[:BROKEN.index(b"\r\n\r\n") + 4]
    env = it[b"ENVELOPE"]
    assert env[2] == [[None, None, b"develop!nextmime", b"ebony@sblab.att.com"]]
    assert env[5] == [[None, None, b"a", b"b@c.org"],
                      [None, None, b"john smith", b"example.com"]]
    m.logout()
