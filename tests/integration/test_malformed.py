"""Hostile and broken input before and after login: every case gets a
tagged BAD (or BYE after repeated abuse), the session goes on, and the
daemon survives without a sanitizer report (checked by the fixture)."""
import os
import socket

from conftest import read_until_tagged

# About mbox files or processes, not the storage interface.
BACKENDS = ["mbox"]


def send(s, f, data, tag):
    s.sendall(data)
    return read_until_tagged(f, tag)


def test_overlong_line_preauth(haven):
    s, f = haven.raw()
    lines = send(s, f, b"a1 NOOP " + b"x" * 70000 + b"\r\n", b"a1")
    assert lines[-1].startswith(b"a1 BAD [TOOBIG]")
    # Still usable.
    assert send(s, f, b"a2 NOOP\r\n", b"a2")[-1].startswith(b"a2 OK")
    s.close()


def test_overlong_line_after_login(haven):
    s, f = haven.raw()
    send(s, f, b"a LOGIN alice pw-alice\r\n", b"a")
    lines = send(s, f, b"b NOOP " + b"y" * 100000 + b"\r\n", b"b")
    assert lines[-1].startswith(b"b BAD [TOOBIG]")
    assert send(s, f, b"c NOOP\r\n", b"c")[-1].startswith(b"c OK")
    s.close()


def test_literal_too_big_preauth(haven):
    s, f = haven.raw()
    # Synchronizing: refused before a byte of it is sent.
    lines = send(s, f, b"a1 LOGIN {100000}\r\n", b"a1")
    assert lines[-1].startswith(b"a1 BAD [TOOBIG]")
    # Non-synchronizing: the server skips it and carries on.
    payload = b"z" * 20000
    lines = send(s, f, b"a2 LOGIN {20000+}\r\n" + payload + b" x\r\n", b"a2")
    assert lines[-1].startswith(b"a2 BAD [TOOBIG]")
    assert send(s, f, b"a3 NOOP\r\n", b"a3")[-1].startswith(b"a3 OK")
    s.close()


def test_missing_arguments(haven):
    s, f = haven.raw()
    assert send(s, f, b"a1 LOGIN\r\n", b"a1")[-1].startswith(b"a1 BAD")
    assert send(s, f, b"a2 LOGIN alice\r\n", b"a2")[-1].startswith(b"a2 BAD")
    assert send(s, f, b"a3 AUTHENTICATE\r\n", b"a3")[-1].startswith(b"a3 BAD")
    assert send(s, f, b"a4 SELECT INBOX\r\n", b"a4")[-1].startswith(b"a4 BAD")
    assert send(s, f, b"a5 LOGIN alice pw-alice\r\n", b"a5")[-1].startswith(b"a5 OK")
    for i, cmd in enumerate([b"SELECT", b"FETCH 1", b"STORE 1 +FLAGS", b"STATUS INBOX",
                             b"APPEND", b"LIST \"\"", b"UID", b"UID FETCH"]):
        tag = b"b%d" % i
        assert send(s, f, tag + b" " + cmd + b"\r\n", tag)[-1].startswith(tag + b" BAD"), cmd
    s.sendall(b"c SELECT INBOX\r\n")
    read_until_tagged(f, b"c")
    for i, cmd in enumerate([b"FETCH", b"FETCH 1", b"FETCH 1 (FLAGS", b"FETCH 1:x FLAGS",
                             b"FETCH 99 FLAGS", b"STORE 1 FLAGS", b"FETCH 1 (BODY[HEADER.FIELDS])",
                             b"FETCH 1 (BODY[]<1.0>)", b"STORE 1 +FLAGS (\\Bogus)"]):
        tag = b"d%d" % i
        assert send(s, f, tag + b" " + cmd + b"\r\n", tag)[-1].startswith(tag + b" BAD"), cmd
    assert send(s, f, b"e NOOP\r\n", b"e")[-1].startswith(b"e OK")
    s.close()


def test_binary_garbage_then_bye(haven):
    s, f = haven.raw()
    rnd = os.urandom(4096).replace(b"\n", b"").replace(b"{", b"(")
    # Each garbage line is one bad command; after max_bad_commands the
    # server says BYE and closes.
    out = b""
    for i in range(12):
        try:
            s.sendall(rnd[i * 300:(i + 1) * 300] + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            break  # the server already said BYE and closed
    s.settimeout(10)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    assert b" BAD " in out
    assert b"* BYE" in out
    s.close()


def test_nul_and_bad_literals(haven):
    s, f = haven.raw()
    assert send(s, f, b"a1 NOOP\0x\r\n", b"a1")[-1].startswith(b"a1 BAD")
    assert send(s, f, b"a2 LOGIN {99999999999999}\r\n", b"a2")[-1].startswith(b"a2 BAD")
    assert send(s, f, b"a3 LOGIN ((((((((((((((((((((((((((((((((x\r\n", b"a3")[-1].startswith(b"a3 BAD")
    assert send(s, f, b"a4 FROB\r\n", b"a4")[-1].startswith(b"a4 BAD")
    assert send(s, f, b"a5 NOOP\r\n", b"a5")[-1].startswith(b"a5 OK")
    s.close()


def test_one_byte_at_a_time(haven):
    s, f = haven.raw()
    for b in b"a1 LOGIN {5}\r\n":
        s.sendall(bytes([b]))
    assert f.readline().startswith(b"+")
    for b in b"alice {8+}\r\npw-alice\r\n":
        s.sendall(bytes([b]))
    assert read_until_tagged(f, b"a1")[-1].startswith(b"a1 OK")
    s.close()


def test_abrupt_disconnects(haven):
    for payload in (b"", b"a LOGIN alice", b"a LOGIN {10}\r\nabc", b"a LOGIN alice pw-alice\r\nb SEL"):
        s = socket.create_connection(("127.0.0.1", haven.port))
        s.sendall(payload)
        s.close()
    m = haven.login("alice")
    assert m.noop()[0] == "OK"
    m.logout()
