"""COMPRESS=DEFLATE (RFC 4978) on every store: a client written with
Python's zlib (raw DEFLATE both ways, a sync flush after each command, as
RFC 4978 section 4 advises) turns it on after login, on plain and on TLS
connections, and then reads and writes large messages through it, waits
in IDLE for another session's delivery (the server must flush what it
sends there), and gets the RFC's answers to COMPRESS twice, an unknown
mechanism and COMPRESS before login; a client whose stream breaks is
disconnected and the server goes on."""
import os
import re
import socket
import ssl
import zlib

from rfc9051_common import Session, lit, simple_msg, untagged


class Deflated:
    """An IMAP connection after COMPRESS DEFLATE: commands deflated with a
    sync flush each, responses inflated as they come."""

    def __init__(self, sock):
        self.sock = sock
        self.z_out = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.z_in = zlib.decompressobj(-15)
        self.buf = b""
        self.n = 0
        self.wire_in = 0

    def send(self, data):
        self.sock.sendall(self.z_out.compress(data) + self.z_out.flush(zlib.Z_SYNC_FLUSH))

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.wire_in += len(chunk)
        self.buf += self.z_in.decompress(chunk)

    def readline(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line + b"\r\n"

    def read(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self):
        out = self.readline()
        while True:
            m = re.search(rb"\{(\d+)\}\r\n$", out)
            if not m:
                return out
            out += self.read(int(m.group(1)))
            out += self.readline()

    def cmd(self, command):
        self.n += 1
        tag = b"Z%03d" % self.n
        self.send(tag + b" " + command + b"\r\n")
        lines = []
        while True:
            r = self.response()
            lines.append(r)
            if r.startswith(tag + b" "):
                return lines

    def ok(self, command):
        out = self.cmd(command)
        assert out[-1].split(b" ")[1] == b"OK", (command, out[-2:])
        return out


def compress_on(s):
    """COMPRESS DEFLATE on a logged-in raw Session; its OK is plain."""
    out = s.ok(b"COMPRESS DEFLATE")
    assert out == [b"%s OK DEFLATE active\r\n" % out[-1].split(b" ")[0]], out
    return Deflated(s.sock)


def big_message(size):
    rnd = os.urandom(size // 4).hex().encode()   # text a mailer would send: compressible by half
    body = b"\r\n".join(rnd[i:i + 76] for i in range(0, len(rnd), 76))
    return simple_msg(1, subject=b"big") + body + b"\r\n"


def test_capability_and_errors(haven):
    s = Session(haven)
    assert b" COMPRESS=DEFLATE" in untagged(s.ok(b"CAPABILITY"))[0]
    s.bad(b"COMPRESS")
    s.bad(b"COMPRESS GZIP")
    s.bad(b"COMPRESS DEFLATE DEFLATE")
    z = compress_on(s)
    out = z.cmd(b"COMPRESS DEFLATE")
    assert re.match(rb"Z001 NO \[COMPRESSIONACTIVE\]", out[-1]), out
    assert z.ok(b"NOOP")[-1].startswith(b"Z002 OK")
    s.close()
    # before login the login worker does not offer it
    pre = Session(haven, login=False)
    pre.bad(b"COMPRESS DEFLATE")
    pre.close()


def test_large_messages_both_ways(haven):
    s = Session(haven)
    z = compress_on(s)
    msgs = [big_message(3 * 1024 * 1024), big_message(200 * 1024), simple_msg(3)]
    for m in msgs:
        out = z.ok(b"APPEND INBOX " + lit(m))
        assert b"APPENDUID" in out[-1], out
    z.ok(b"SELECT INBOX")
    before = z.wire_in
    out = z.ok(b"FETCH 1:3 (BODY.PEEK[])")
    got = [l for l in out if b" FETCH " in l]
    for m, l in zip(msgs, got):
        start = l.index(b"}\r\n") + 3
        assert l[start:start + len(m)] == m
    # it really was compressed: the hex text goes at about half its size
    assert z.wire_in - before < sum(len(m) for m in msgs) * 0.75, (z.wire_in - before)
    s.close()


def test_idle_notification_is_flushed(haven):
    s = Session(haven)
    z = compress_on(s)
    z.ok(b"SELECT INBOX")
    z.send(b"I1 IDLE\r\n")
    assert z.readline().startswith(b"+ ")
    other = Session(haven)
    other.append(b"INBOX", simple_msg(7))
    other.close()
    s.sock.settimeout(30)
    assert z.readline() == b"* 1 EXISTS\r\n"   # arrives without anything more sent
    z.send(b"DONE\r\n")
    while not z.readline().startswith(b"I1 OK"):
        pass
    s.close()


def test_compress_over_tls(haven):
    ctx = ssl.create_default_context(cafile=haven.cert)
    raw = socket.create_connection(("127.0.0.1", haven.tls_port), timeout=20)
    t = ctx.wrap_socket(raw, server_hostname="localhost")
    f = t.makefile("rb")
    assert f.readline().startswith(b"* OK")
    t.sendall(b"a LOGIN alice pw-alice\r\n")
    while not f.readline().startswith(b"a OK"):
        pass
    t.sendall(b"b COMPRESS DEFLATE\r\n")
    assert f.readline() == b"b OK DEFLATE active\r\n"
    z = Deflated(t)
    m = big_message(512 * 1024)
    z.ok(b"APPEND INBOX " + lit(m))
    z.ok(b"SELECT INBOX")
    out = z.ok(b"FETCH 1 (BODY.PEEK[])")
    assert m in out[0]
    t.close()


def test_broken_stream_ends_session_only(haven):
    s = Session(haven)
    compress_on(s)
    s.sock.sendall(b"\xff\xff\xff\xff garbage that is not deflate")
    s.sock.settimeout(30)
    try:
        while s.sock.recv(4096):
            pass
    except (ConnectionResetError, socket.timeout):
        pass
    # the server goes on
    t = Session(haven)
    t.ok(b"NOOP")
    t.close()


def test_logout_answer_arrives_whole(haven):
    # The session ends once the compressed BYE and OK have left, not when
    # they have only passed the compressor (mbsync, which compresses, once
    # made the worker free its session while reading: heap-use-after-free).
    s = Session(haven)
    z = compress_on(s)
    z.ok(b"SELECT INBOX")
    out = z.cmd(b"LOGOUT")
    assert out[0].startswith(b"* BYE") and out[-1].startswith(b"Z002 OK"), out
    s.sock.settimeout(30)
    assert s.sock.recv(1) == b""   # then the connection closes
    s.close()
