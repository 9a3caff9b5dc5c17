"""PREVIEW (RFC 8970) on every store: FETCH PREVIEW and PREVIEW (LAZY)
give the same text (previews are made when asked, never deferred, and the
RFC lets LAZY have it), made of the first text part: decoded, HTML
reduced to text, white space collapsed, at most 200 characters; an empty
string when the message has no text to show; 8-bit text as a literal.
Error cases: an unknown or empty modifier list is BAD, the session goes
on."""
import re

from rfc9051_common import Session, simple_msg, untagged

HTML = (b"From: a@example.org\r\nSubject: html\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><head><style>p { color: red }</style></head><body>\r\n"
        b"<p>Hi&nbsp;<b>there</b>,</p><script>var x = 1 < 2;</script>\r\n"
        b"<p>see   you &amp; bye</p></body></html>\r\n")
ALTERNATIVE = (b"From: a@example.org\r\nSubject: alt\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: multipart/alternative; boundary=xx\r\n\r\n"
               b"--xx\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
               b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
               b"Caf=E9 cr=E8me =\r\nbr=FBl=E9e\r\n"
               b"--xx\r\nContent-Type: text/html\r\n\r\n<p>html part</p>\r\n--xx--\r\n")
IMAGE = (b"From: a@example.org\r\nSubject: img\r\nMIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=yy\r\n\r\n"
         b"--yy\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
         b"iVBORw0KGgo=\r\n--yy--\r\n")
LONG = b"Subject: long\r\n\r\n" + b"".join(b"word%03d\r\n" % i for i in range(100))


def box(haven, *msgs):
    s = Session(haven)
    for m in msgs:
        s.append(b"INBOX", m)
    s.ok(b"SELECT INBOX")
    return s


def previews(s, items=b"(PREVIEW)"):
    out = {}
    for l in untagged(s.ok(b"FETCH 1:* " + items)):
        m = re.match(rb'\* (\d+) FETCH \(PREVIEW ("(?:[^"\\]|\\.)*"|\{\d+\}\r\n.*|NIL)\)\r\n$', l,
                     re.S)
        assert m, l
        v = m.group(2)
        out[int(m.group(1))] = v.split(b"\r\n", 1)[1] if v.startswith(b"{") else v
    return out


def test_capability(haven):
    s = Session(haven)
    assert b" PREVIEW" in untagged(s.ok(b"CAPABILITY"))[0]
    s.close()


def test_preview(haven):
    s = box(haven, simple_msg(1), HTML, ALTERNATIVE, IMAGE, LONG)
    want = {
        1: b'"body of message 1"',
        2: b'"Hi there, see you & bye"',
        3: "Café crème brûlée".encode(),        # 8-bit: a literal
        4: b'""',                                # nothing to show
        # 200 characters would end in a space: 199, the words before it
        5: b'"' + b" ".join(b"word%03d" % i for i in range(25)) + b'"',
    }
    assert previews(s) == want
    assert len(want[5]) - 2 == 199
    # LAZY: the same (made at once, never deferred)
    assert previews(s, b"(PREVIEW (LAZY))") == want
    assert previews(s, b"(preview (lazy))") == want
    # among other items, by UID, and without setting \Seen
    out = untagged(s.ok(b"UID FETCH 1 (PREVIEW FLAGS)"))
    assert re.match(rb'\* 1 FETCH \(UID 1 FLAGS \([^)]*\) PREVIEW "body of message 1"\)\r\n$',
                    out[0]), out
    assert b"\\Seen" not in b"".join(untagged(s.ok(b"FETCH 1:* (FLAGS)")))
    out = untagged(s.ok(b"FETCH 2 (PREVIEW BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
    assert out[0].startswith(b'* 2 FETCH (PREVIEW "Hi there, see you & bye" BODY[HEADER.FIELDS')
    s.close()


def test_preview_errors(haven):
    s = box(haven, simple_msg(1))
    for bad in (b"(PREVIEW (FOO))", b"(PREVIEW ())", b"(PREVIEW (LAZY FOO))",
                b"(PREVIEW (LAZY) (LAZY))", b"PREVIEW (LAZY)", b"(PREVIEWX)"):
        s.bad(b"FETCH 1 " + bad)
    assert previews(s) == {1: b'"body of message 1"'}
    s.close()
