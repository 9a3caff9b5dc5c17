"""OAUTHBEARER (RFC 7628): JWTs signed in the test (RS256 and ES256 with
openssl) are checked with the configured public key: valid, expired,
another audience, another issuer, a bad signature, alg "none", a token of
another user than the authorization identity, one whose user no passdb
knows; a failure gets RFC 7628's error challenge before the NO. And a
token-introspection endpoint (RFC 7662, a small HTTP server in the test):
active, inactive, the endpoint down (NO [UNAVAILABLE])."""
import base64
import http.server
import json
import os
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import Haven, check_sanitizers, read_until_tagged
from sasl_client import b64, challenge_of, oauthbearer

ISS, AUD = "https://idp.example.org", "imap.example.org"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def der_to_raw(der):
    """An ECDSA DER signature as JWS's r || s."""
    assert der[0] == 0x30
    i = 2
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        out += der[i + 2:i + 2 + n].lstrip(b"\0").rjust(32, b"\0")
        i += 2 + n
    return out


class Keys:
    def __init__(self, d):
        self.d = d
        run = lambda *a: subprocess.run(list(a), check=True, capture_output=True, cwd=d)
        run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
            "-out", "rsa.key")
        run("openssl", "pkey", "-in", "rsa.key", "-pubout", "-out", "rsa.pub")
        run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", "ec.key")
        run("openssl", "pkey", "-in", "ec.key", "-pubout", "-out", "ec.pub")
        run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
            "-out", "other.key")

    def token(self, claims, key="rsa", alg=None):
        alg = alg or ("ES256" if key == "ec" else "RS256")
        head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
        body = b64url(json.dumps(claims).encode())
        signing = ("%s.%s" % (head, body)).encode()
        if alg == "none":
            return "%s.%s.%s" % (head, body, b64url(b"x"))
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key + ".key"], input=signing,
                             capture_output=True, check=True, cwd=self.d).stdout
        if alg == "ES256":
            sig = der_to_raw(sig)
        return "%s.%s" % (signing.decode(), b64url(sig))


def claims(user="alice", **kw):
    c = {"sub": user, "iss": ISS, "aud": [AUD, "other"], "exp": int(time.time()) + 600}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


def oauth_login(h, token, user=""):
    """The tagged answer, after the error challenge dance if there is one."""
    s, f = h.raw()
    try:
        s.sendall(b"a AUTHENTICATE OAUTHBEARER " + b64(oauthbearer(token, user)) + b"\r\n")
        line = f.readline()
        if line.startswith(b"+"):
            assert json.loads(challenge_of(line)) == {"status": "invalid_token"}
            s.sendall(base64.b64encode(b"\x01") + b"\r\n")
            line = read_until_tagged(f, b"a")[-1]
        while not line.startswith(b"a "):
            line = f.readline()
        return line
    finally:
        s.close()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("oauth"))
    return Keys(d)


def haven_jwt(keys, key="rsa"):
    # Many failures from one place: no growing delay (not what this tests).
    h = Haven(extra_conf="passdb_oauth_jwt_key = %s/%s.pub\npassdb_oauth_issuer = %s\n"
                         "passdb_oauth_audience = %s\nauth_failure_delay_max_ms = 100\n"
                         % (keys.d, key, ISS, AUD))
    with open(h.conf) as f:
        conf = f.read().replace("passdb = file:", "passdb = oauth, file:")
    with open(h.conf, "w") as f:
        f.write(conf)
    return h.start()


def test_jwt_tokens(keys):
    h = haven_jwt(keys)
    try:
        s, f = h.raw()
        s.sendall(b"c CAPABILITY\r\n")
        assert b"AUTH=OAUTHBEARER" in read_until_tagged(f, b"c")[0]
        s.close()
        assert oauth_login(h, keys.token(claims())).startswith(b"a OK")
        assert oauth_login(h, keys.token(claims()), user="alice").startswith(b"a OK")
        now = int(time.time())
        bad = {
            "expired": keys.token(claims(exp=now - 3600)),
            "no exp": keys.token(claims(exp=None)),
            "not yet": keys.token(claims(nbf=now + 3600)),
            "audience": keys.token(claims(aud="someone-else")),
            "issuer": keys.token(claims(iss="https://evil.example")),
            "signature": keys.token(claims(), key="other"),
            "alg none": keys.token(claims(), alg="none"),
            "alg mismatch": keys.token(claims(), key="ec"),
            "tampered": keys.token(claims())[:-4] + "AAAA",
            "unknown user": keys.token(claims(user="nobody-here")),
            "not a jwt": "abcdef",
        }
        for why, token in bad.items():
            line = oauth_login(h, token)
            assert line.startswith(b"a NO [AUTHENTICATIONFAILED]"), (why, line)
        # A token for bob with alice as authorization identity.
        line = oauth_login(h, keys.token(claims(user="bob")), user="alice")
        assert b"AUTHENTICATIONFAILED" in line, line
        check_sanitizers(h.stop())
    finally:
        h.stop()
        h.cleanup()


def test_es256(keys):
    h = haven_jwt(keys, key="ec")
    try:
        assert oauth_login(h, keys.token(claims(), key="ec")).startswith(b"a OK")
        assert b"AUTHENTICATIONFAILED" in oauth_login(h, keys.token(claims(), key="rsa"))
        check_sanitizers(h.stop())
    finally:
        h.stop()
        h.cleanup()


class Introspection(http.server.BaseHTTPRequestHandler):
    tokens = {}

    def do_POST(self):
        if self.headers.get("Authorization") != "Basic " + base64.b64encode(b"haven:s3cret").decode():
            self.send_response(401)
            self.end_headers()
            return
        n = int(self.headers["Content-Length"])
        form = urllib.parse.parse_qs(self.rfile.read(n).decode())
        answer = self.tokens.get(form["token"][0], {"active": False})
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def test_introspection():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Introspection)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    Introspection.tokens = {
        "good-token": {"active": True, "sub": "bob", "aud": AUD, "exp": int(time.time()) + 60},
        "stale-token": {"active": True, "sub": "bob", "exp": int(time.time()) - 3600},
        "off-token": {"active": False},
    }
    h = Haven(extra_conf="passdb_oauth_introspection_url = http://127.0.0.1:%d/introspect\n"
                         "passdb_oauth_client_id = haven\npassdb_oauth_client_secret = s3cret\n"
                         "passdb_oauth_audience = %s\n" % (srv.server_address[1], AUD))
    with open(h.conf) as f:
        conf = f.read().replace("passdb = file:", "passdb = oauth, file:")
    with open(h.conf, "w") as f:
        f.write(conf)
    h.start()
    try:
        assert oauth_login(h, "good-token").startswith(b"a OK")
        for token in ("stale-token", "off-token", "never-seen"):
            assert b"AUTHENTICATIONFAILED" in oauth_login(h, token), token
        srv.shutdown()
        srv.server_close()
        assert b"NO [UNAVAILABLE]" in oauth_login(h, "good-token")
        check_sanitizers(h.stop())
    finally:
        h.stop()
        h.cleanup()


def test_oauth_settings_checked(keys):
    h = Haven(extra_conf="passdb_oauth_jwt_key = %s/rsa.key.missing\n" % keys.d)
    try:
        with open(h.conf) as f:
            conf = f.read().replace("passdb = file:", "passdb = oauth, file:")
        with open(h.conf, "w") as f:
            f.write(conf + "passdb_oauth_nosuch = 1\n")
        from conftest import BUILD
        r = subprocess.run([os.path.join(BUILD, "havend"), "-t", "-c", h.conf],
                           capture_output=True, text=True)
        assert r.returncode == 1 and 'unknown key "passdb_oauth_nosuch"' in r.stderr, r.stderr
        with open(h.conf, "w") as f:
            f.write(conf)
        r = subprocess.run([os.path.join(BUILD, "havend"), "-t", "-c", h.conf],
                           capture_output=True, text=True)
        assert r.returncode == 1 and "passdb_oauth_jwt_key" in r.stderr, r.stderr
        assert "%s:" % h.conf in r.stderr
    finally:
        h.cleanup()
