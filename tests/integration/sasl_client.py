"""Client sides of the SASL mechanisms, written from the RFCs with the
standard library only, and an AUTHENTICATE driver over a raw socket:
SCRAM-SHA-256(-PLUS) (RFC 5802, 7677; channel bindings tls-exporter per
RFC 9266 and tls-server-end-point per RFC 5929), OAUTHBEARER (RFC 7628)."""
import base64
import ctypes
import ctypes.util
import hashlib
import hmac
import os
import ssl

from conftest import read_until_tagged


def _saslname(s):
    return s.replace("=", "=3D").replace(",", "=2C")


class Scram:
    """One SCRAM-SHA-256 exchange as a client. cb: (name, data) for -PLUS;
    flag "y" says "I could bind but you do not offer it"."""

    def __init__(self, user, password, authzid="", cb=None, flag=None, nonce=None):
        self.user, self.password = user, password
        self.cnonce = nonce or base64.b64encode(os.urandom(18)).decode()
        if cb:
            self.gs2 = "p=%s,%s," % (cb[0], "a=" + _saslname(authzid) if authzid else "")
            self.cbdata = cb[1]
        else:
            self.gs2 = "%s,%s," % (flag or "n", "a=" + _saslname(authzid) if authzid else "")
            self.cbdata = b""
        self.bare = "n=%s,r=%s" % (_saslname(user), self.cnonce)
        self.server_signature = None

    def first(self):
        return (self.gs2 + self.bare).encode()

    def final(self, server_first, proof_tamper=False, cbdata=None):
        sf = server_first.decode()
        attrs = dict(a.split("=", 1) for a in sf.split(","))
        assert attrs["r"].startswith(self.cnonce), sf
        salt = base64.b64decode(attrs["s"])
        iters = int(attrs["i"])
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), salt, iters)
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored = hashlib.sha256(client_key).digest()
        cbinput = self.gs2.encode() + (self.cbdata if cbdata is None else cbdata)
        without = "c=%s,r=%s" % (base64.b64encode(cbinput).decode(), attrs["r"])
        auth_message = ",".join([self.bare, sf, without]).encode()
        sig = hmac.new(stored, auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        if proof_tamper:
            proof = bytes([proof[0] ^ 1]) + proof[1:]
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        self.server_signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
        return (without + ",p=" + base64.b64encode(proof).decode()).encode()

    def verify(self, server_final):
        sf = server_final.decode()
        assert sf.startswith("v="), sf
        return hmac.compare_digest(base64.b64decode(sf[2:]), self.server_signature)


def b64(data):
    return base64.b64encode(data) if data else b"="


def challenge_of(line):
    assert line.startswith(b"+"), line
    return base64.b64decode(line[2:].strip())


def scram_login(s, f, tag, client, mech="SCRAM-SHA-256", **final_kw):
    """Run a SCRAM exchange; the tagged line, and whether the server's
    signature verified (None when the server sent none)."""
    s.sendall(b"%s AUTHENTICATE %s %s\r\n" % (tag, mech.encode(), b64(client.first())))
    line = f.readline()
    if not line.startswith(b"+"):
        return line, None
    s.sendall(base64.b64encode(client.final(challenge_of(line), **final_kw)) + b"\r\n")
    line = f.readline()
    if not line.startswith(b"+"):
        return line, None
    ok = client.verify(challenge_of(line))
    s.sendall(b"\r\n")
    return read_until_tagged(f, tag)[-1], ok


def oauthbearer(token, user=""):
    return ("n,%s,\x01host=127.0.0.1\x01port=143\x01auth=Bearer %s\x01\x01"
            % ("a=" + _saslname(user) if user else "", token)).encode()


# ---- channel bindings of a Python TLS client ------------------------------------

_libssl = ctypes.CDLL(ctypes.util.find_library("ssl"))
_libssl.SSL_export_keying_material.argtypes = [
    ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t,
    ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]


def tls_exporter(sslsock):
    """RFC 9266's binding. Python's ssl offers only tls-unique, so this
    calls OpenSSL on the SSL* inside the socket object (CPython's
    PySSLSocket: after PyObject_HEAD and the weakref to the socket)."""
    obj = sslsock._sslobj
    ptr = ctypes.c_void_p.from_address(id(obj) + 3 * ctypes.sizeof(ctypes.c_void_p)).value
    out = ctypes.create_string_buffer(32)
    label = b"EXPORTER-Channel-Binding"
    rc = _libssl.SSL_export_keying_material(ptr, out, 32, label, len(label), None, 0, 0)
    assert rc == 1
    return out.raw


def tls_server_end_point(sslsock):
    """RFC 5929: SHA-256 of the server's certificate (signed with SHA-256)."""
    return hashlib.sha256(sslsock.getpeercert(binary_form=True)).digest()
