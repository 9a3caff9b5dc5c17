"""Helpers shared by the RFC 9051 section 6 walk (test_rfc9051_*.py): a raw
IMAP session that reads responses literal-aware (a literal is folded into
its response line, so each list item is one complete response), and the
two session modes, IMAP4rev1 and after ENABLE IMAP4rev2."""
import re

import pytest

from conftest import as_mbox_list

MODES = ("rev1", "rev2")


def lit(data):
    """A synchronizing-free literal (LITERAL+) carrying data."""
    return b"{%d+}\r\n" % len(data) + data


class Session:
    def __init__(self, haven, user="alice", login=True, rev2=False):
        self.haven = haven
        self.sock, self.f = haven.raw()
        self.n = 0
        self.rev2 = False
        if login:
            self.ok(b"LOGIN %s pw-%s" % (user.encode(), user.encode()))
        if rev2:
            self.enable_rev2()

    def enable_rev2(self):
        assert self.ok(b"ENABLE IMAP4rev2")[0] == b"* ENABLED IMAP4rev2\r\n"
        self.rev2 = True

    def next_tag(self):
        self.n += 1
        return b"A%03d" % self.n

    def send(self, data):
        self.sock.sendall(data)

    def response(self):
        """One complete response, with any literals folded in."""
        out = b""
        while True:
            line = self.f.readline()
            if not line:
                raise EOFError("connection closed after %r" % out)
            out += line
            m = re.search(rb"~?\{(\d+)\}\r\n$", line)
            if not m:
                return out if self.haven.backend == "mbox" else as_mbox_list(out)
            out += self.f.read(int(m.group(1)))

    def until(self, tag):
        lines = []
        while True:
            r = self.response()
            lines.append(r)
            if r.startswith(tag + b" "):
                return lines

    def cmd(self, command, tag=None):
        tag = tag or self.next_tag()
        self.send(tag + b" " + command + b"\r\n")
        return self.until(tag)

    def ok(self, command, tag=None):
        out = self.cmd(command, tag)
        assert re.match(rb"[\w.]+ OK[ \r]", out[-1]), (command, out)
        return out

    def no(self, command):
        out = self.cmd(command)
        assert re.match(rb"\w+ NO[ \r]", out[-1]), (command, out)
        return out[-1]

    def bad(self, command):
        out = self.cmd(command)
        assert re.match(rb"\w+ BAD[ \r]", out[-1]), (command, out)
        return out[-1]

    def append(self, box, msg, flags=b"", date=b""):
        args = b""
        if flags:
            args += b" (" + flags + b")"
        if date:
            args += b' "' + date + b'"'
        return self.ok(b"APPEND " + box + args + b" " + lit(msg))

    def close(self):
        self.sock.close()


def tagged(lines):
    """The tagged line without its tag."""
    return lines[-1].split(b" ", 1)[1]


def expand_set(seqset):
    """b"1:3,7" -> [1, 2, 3, 7] (no '*')."""
    out = []
    for part in seqset.split(b","):
        a, _, b = part.partition(b":")
        out += range(int(a), int(b or a) + 1)
    return out


def untagged(lines):
    return [l for l in lines[:-1] if l.startswith(b"* ")]


@pytest.fixture(params=MODES)
def mode(request):
    return request.param


def simple_msg(i, subject=None, frm=None, extra=b""):
    return (b"From: %s\r\nTo: bob@example.org\r\nSubject: %s\r\n"
            b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <m%d@example.org>\r\n%s\r\n"
            b"body of message %d\r\n") % (
                frm or b"user%d@example.org" % i, subject or b"message %d" % i, i, extra, i)
