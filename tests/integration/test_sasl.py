"""SASL in AUTHENTICATE: the mechanisms advertised follow the passdbs and
the TLS state; PLAIN, LOGIN and SCRAM-SHA-256 with and without an initial
response; SCRAM-SHA-256-PLUS with the tls-exporter (TLS 1.3) and
tls-server-end-point bindings; the client checks the server's signature;
a wrong proof, a wrong binding and a downgraded binding flag are refused;
'*' cancels at every step and the session goes on; bad base64 and
oversized answers are BAD. The SCRAM client is written in sasl_client.py
from RFC 5802 with hashlib/hmac."""
import base64
import hashlib
import hmac
import os
import socket
import ssl

import pytest

from conftest import Haven, check_sanitizers, read_until_tagged
from sasl_client import (Scram, b64, challenge_of, scram_login, tls_exporter,
                         tls_server_end_point)


def auth_caps(line):
    return sorted(w for w in line.split() if w.startswith(b"AUTH="))


def scram_secret(password, salt=b"0123456789abcdef", iters=4096):
    """Dovecot's {SCRAM-SHA-256} layout, as `doveadm pw -s SCRAM-SHA-256` writes it."""
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iters)
    ck = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    sk = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    e = lambda b: base64.b64encode(b).decode()
    return "{SCRAM-SHA-256}%d,%s,%s,%s" % (iters, e(salt), e(hashlib.sha256(ck).digest()), e(sk))


@pytest.fixture(scope="module")
def h():
    h = Haven()
    with open(os.path.join(h.dir, "passwd"), "a") as f:
        f.write("stored:%s::::%s/stored::\n" % (scram_secret("st-pw"), h.home_root))
        f.write("hashed:$6$abcdefgh$JpWB5pDQhMz0Ta9OUB3m6KK8mUIUxGrxfb9S7jBd2rVJzfW3TjqAu7vX0X1.l"
                "RpSymY9yNz4aOp.zJgByd6x01::::%s/hashed::\n" % h.home_root)
    h.start()
    yield h
    check_sanitizers(h.stop())
    h.cleanup()


def tls_sock(h, version=None):
    ctx = h.ssl_context()
    if version:
        ctx.maximum_version = version
    raw = socket.create_connection(("127.0.0.1", h.tls_port), timeout=20)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    f = s.makefile("rb")
    assert f.readline().startswith(b"* OK")
    return s, f


def test_mechanisms_follow_passdb_and_tls(h):
    s, f = h.raw()
    s.sendall(b"a CAPABILITY\r\n")
    caps = read_until_tagged(f, b"a")[0]
    assert auth_caps(caps) == [b"AUTH=LOGIN", b"AUTH=PLAIN", b"AUTH=SCRAM-SHA-256"], caps
    s.close()
    s, f = tls_sock(h)
    s.sendall(b"a CAPABILITY\r\n")
    caps = read_until_tagged(f, b"a")[0]
    assert b"AUTH=SCRAM-SHA-256-PLUS" in caps and b"AUTH=OAUTHBEARER" not in caps, caps
    s.close()


def test_mechanisms_without_plaintext_or_scram_passdb():
    h = Haven(extra_conf="plaintext_auth = no")
    h.start()
    try:
        s, f = h.raw()
        s.sendall(b"a CAPABILITY\r\n")
        caps = read_until_tagged(f, b"a")[0]
        assert b"LOGINDISABLED" in caps and auth_caps(caps) == [], caps
        s.sendall(b"b AUTHENTICATE SCRAM-SHA-256\r\n")
        assert b"PRIVACYREQUIRED" in read_until_tagged(f, b"b")[-1]
        s.close()
        check_sanitizers(h.stop())
    finally:
        h.stop()
        h.cleanup()


def test_scram_with_and_without_initial_response(h):
    s, f = h.raw()
    line, ok = scram_login(s, f, b"a", Scram("alice", "pw-alice"))
    assert line.startswith(b"a OK") and ok, line
    s.sendall(b"b LOGOUT\r\n")
    read_until_tagged(f, b"b")
    s.close()
    # No initial response: an empty challenge first.
    s, f = h.raw()
    c = Scram("bob", "pw-bob")
    s.sendall(b"a AUTHENTICATE SCRAM-SHA-256\r\n")
    assert f.readline() == b"+ \r\n"
    s.sendall(base64.b64encode(c.first()) + b"\r\n")
    s.sendall(base64.b64encode(c.final(challenge_of(f.readline()))) + b"\r\n")
    assert c.verify(challenge_of(f.readline()))
    s.sendall(b"\r\nb NOOP\r\n")  # pipelined after the last answer: the worker's
    lines = read_until_tagged(f, b"b")
    assert lines[0].startswith(b"a OK") and lines[-1].startswith(b"b OK"), lines
    s.close()


def test_scram_stored_secret_and_refusals(h):
    s, f = h.raw()
    line, ok = scram_login(s, f, b"a", Scram("stored", "st-pw"))
    assert line.startswith(b"a OK") and ok, line
    s.close()
    refusals = [Scram("alice", "wrong"), Scram("nobody-here", "x"), Scram("hashed", "x"),
                Scram("alice", "pw-alice", authzid="bob")]
    s, f = h.raw()
    for i, c in enumerate(refusals):
        tag = b"r%d" % i
        line, ok = scram_login(s, f, tag, c)
        assert line.startswith(tag + b" NO [AUTHENTICATIONFAILED]"), (c.user, line)
        if i == 2:
            s.close()
            s, f = h.raw()
    # A right password with a tampered proof.
    line, ok = scram_login(s, f, b"t", Scram("alice", "pw-alice"), proof_tamper=True)
    assert b"AUTHENTICATIONFAILED" in line, line
    s.close()


def test_scram_unknown_user_looks_like_a_known_one(h):
    """Same salt for the same unknown name, each time; a real iteration count."""
    def first_challenge(user):
        s, f = h.raw()
        s.sendall(b"a AUTHENTICATE SCRAM-SHA-256 " + b64(Scram(user, "x").first()) + b"\r\n")
        sf = dict(p.split("=", 1) for p in challenge_of(f.readline()).decode().split(","))
        s.sendall(b"*\r\n")
        read_until_tagged(f, b"a")
        s.close()
        return sf
    one, two, known = first_challenge("ghost"), first_challenge("ghost"), first_challenge("alice")
    assert one["s"] == two["s"] and one["i"] == known["i"] == "4096"
    assert len(base64.b64decode(one["s"])) == len(base64.b64decode(known["s"]))


def test_scram_plus_bindings(h):
    for version, name, data in ((ssl.TLSVersion.TLSv1_3, "tls-exporter", tls_exporter),
                                (None, "tls-server-end-point", tls_server_end_point),
                                (ssl.TLSVersion.TLSv1_2, "tls-server-end-point",
                                 tls_server_end_point)):
        s, f = tls_sock(h, version)
        c = Scram("alice", "pw-alice", cb=(name, data(s)))
        line, ok = scram_login(s, f, b"a", c, mech="SCRAM-SHA-256-PLUS")
        assert line.startswith(b"a OK") and ok, (name, line)
        s.close()


def test_scram_plus_refusals(h):
    s, f = tls_sock(h)
    # The binding of another connection.
    c = Scram("alice", "pw-alice", cb=("tls-exporter", tls_exporter(s)))
    line, _ = scram_login(s, f, b"a", c, mech="SCRAM-SHA-256-PLUS", cbdata=b"\0" * 32)
    assert b"AUTHENTICATIONFAILED" in line, line
    # "y" over TLS, where we offered -PLUS: a downgrade.
    line, _ = scram_login(s, f, b"b", Scram("alice", "pw-alice", flag="y"))
    assert b"AUTHENTICATIONFAILED" in line, line
    # -PLUS with no binding, and a binding we do not know.
    line, _ = scram_login(s, f, b"c", Scram("alice", "pw-alice"), mech="SCRAM-SHA-256-PLUS")
    assert b"AUTHENTICATIONFAILED" in line, line
    s.close()
    s, f = tls_sock(h, ssl.TLSVersion.TLSv1_2)
    # tls-exporter is TLS 1.3's only (RFC 9266).
    c = Scram("alice", "pw-alice", cb=("tls-exporter", b"\1" * 32))
    line, _ = scram_login(s, f, b"d", c, mech="SCRAM-SHA-256-PLUS")
    assert b"AUTHENTICATIONFAILED" in line, line
    s.close()
    # -PLUS is not offered without TLS.
    s, f = h.raw()
    s.sendall(b"e AUTHENTICATE SCRAM-SHA-256-PLUS\r\n")
    assert b"NO [CANNOT]" in read_until_tagged(f, b"e")[-1]
    s.close()


def test_cancel_at_each_step_and_go_on(h):
    s, f = h.raw()
    c = Scram("alice", "pw-alice")
    s.sendall(b"a AUTHENTICATE SCRAM-SHA-256\r\n*\r\n")
    lines = read_until_tagged(f, b"a")
    assert lines[-1].startswith(b"a BAD"), lines
    s.sendall(b"b AUTHENTICATE SCRAM-SHA-256 " + b64(c.first()) + b"\r\n")
    assert f.readline().startswith(b"+ ")
    s.sendall(b"*\r\n")
    assert read_until_tagged(f, b"b")[-1].startswith(b"b BAD")
    c = Scram("alice", "pw-alice")
    s.sendall(b"c AUTHENTICATE SCRAM-SHA-256 " + b64(c.first()) + b"\r\n")
    s.sendall(base64.b64encode(c.final(challenge_of(f.readline()))) + b"\r\n")
    assert f.readline().startswith(b"+ ")
    s.sendall(b"*\r\n")
    assert read_until_tagged(f, b"c")[-1].startswith(b"c BAD")
    # Cancelling is no failed login: three of them and the session goes on.
    line, ok = scram_login(s, f, b"d", Scram("alice", "pw-alice"))
    assert line.startswith(b"d OK") and ok, line
    s.close()


def test_malformed_answers(h):
    s, f = h.raw()
    for i, answer in enumerate([b"!!notbase64", b"abc", base64.b64encode(b"x" * 13000)]):
        tag = b"m%d" % i
        s.sendall(tag + b" AUTHENTICATE PLAIN\r\n")
        assert f.readline().startswith(b"+")
        s.sendall(answer + b"\r\n")
        assert read_until_tagged(f, tag)[-1].startswith(tag + b" BAD"), answer[:20]
    for i, first in enumerate([b"x,,n=alice,r=abc", b"n,,m=ext,n=alice,r=abc", b"n,,n=,r=abc",
                               b"n,,n=al=ice,r=abc", b"n,,n=alice", b"n,,n=alice,r=a\0b"]):
        tag = b"s%d" % i
        s.sendall(tag + b" AUTHENTICATE SCRAM-SHA-256 " + base64.b64encode(first) + b"\r\n")
        assert read_until_tagged(f, tag)[-1].startswith(tag + b" BAD"), first
    s.sendall(b"z AUTHENTICATE NOSUCH\r\n")
    assert b"NO [CANNOT]" in read_until_tagged(f, b"z")[-1]
    s.close()


def test_login_mechanism(h):
    s, f = h.raw()
    s.sendall(b"a AUTHENTICATE LOGIN\r\n")
    assert challenge_of(f.readline()) == b"Username:"
    s.sendall(base64.b64encode(b"alice") + b"\r\n")
    assert challenge_of(f.readline()) == b"Password:"
    s.sendall(base64.b64encode(b"pw-alice") + b"\r\n")
    assert read_until_tagged(f, b"a")[-1].startswith(b"a OK")
    s.close()
    s, f = h.raw()
    s.sendall(b"a AUTHENTICATE LOGIN " + base64.b64encode(b"bob") + b"\r\n")
    assert challenge_of(f.readline()) == b"Password:"
    s.sendall(base64.b64encode(b"nope") + b"\r\n")
    assert b"AUTHENTICATIONFAILED" in read_until_tagged(f, b"a")[-1]
    s.close()


def test_cancelled_exchanges_count_then_bye(h):
    """auth_max_attempts (3) exchanges per connection, cancelled or not:
    the fourth gets BYE from the login worker (the master would kill a
    worker that asked for more)."""
    s, f = h.raw()
    for i in range(3):
        tag = b"c%d" % i
        s.sendall(tag + b" AUTHENTICATE SCRAM-SHA-256 " + b64(Scram("alice", "x").first()) + b"\r\n")
        assert f.readline().startswith(b"+ ")
        s.sendall(b"*\r\n")
        assert read_until_tagged(f, tag)[-1].startswith(tag + b" BAD")
    s.sendall(b"d LOGIN alice pw-alice\r\n")
    rest = f.read()
    assert b"* BYE Too many login attempts" in rest, rest
    s.close()
    assert "killing it" not in h.log_text()
