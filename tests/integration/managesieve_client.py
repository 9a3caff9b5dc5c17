"""A ManageSieve client (RFC 5804) on the standard library, as Thunderbird's
and Roundcube's speak it: strings quoted or as {n+} literals, responses
OK / NO / BYE with an optional (CODE) and a text string."""
import base64
import re
import socket
import ssl

_TOKEN = re.compile(rb'\s*(?:"((?:[^"\\]|\\.)*)"|\{(\d+)\+?\}\r\n|([^\s()"]+)|(\()|(\)))')


class Response:
    def __init__(self, status, code, text, lines):
        self.status = status      # "OK", "NO" or "BYE"
        self.code = code          # "NONEXISTENT", "QUOTA/MAXSIZE" ... or None
        self.text = text          # the human text (bytes) or None
        self.lines = lines        # data before it: each a list of tokens (bytes)

    def __repr__(self):
        return "Response(%s, %s, %r, %r)" % (self.status, self.code, self.text, self.lines)


def quoted(data):
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def literal(data):
    return b"{%d+}\r\n" % len(data) + data


def string(data):
    if isinstance(data, str):
        data = data.encode()
    if len(data) > 1024 or any(c in data for c in b"\r\n\0"):
        return literal(data)
    return quoted(data)


class ManageSieve:
    def __init__(self, port, host="127.0.0.1", timeout=20):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.f = self.sock.makefile("rb")
        self.greeting = self.response()
        self.caps = self.capabilities(self.greeting)

    # --- reading ------------------------------------------------------
    def line(self):
        """One line as tokens, literals read in place (their bytes are
        tokens too)."""
        raw = self.f.readline()
        if not raw:
            raise EOFError("connection closed")
        while re.search(rb"\{\d+\}\r\n$", raw):
            n = int(re.search(rb"\{(\d+)\}\r\n$", raw).group(1))
            data = self.f.read(n)
            raw = raw[:raw.rindex(b"{")] + b"{%d+}\r\n" % n + data + self.f.readline()
        return self.tokens(raw[:-2] if raw.endswith(b"\r\n") else raw)

    @staticmethod
    def tokens(raw):
        out, pos = [], 0
        while pos < len(raw) and raw[pos:].strip():
            m = _TOKEN.match(raw, pos)
            assert m, raw[pos:]
            pos = m.end()
            if m.group(1) is not None:
                out.append(re.sub(rb"\\(.)", rb"\1", m.group(1)))
            elif m.group(2) is not None:
                n = int(m.group(2))
                out.append(raw[pos:pos + n])
                pos += n
            else:
                out.append(m.group(3) or m.group(4) or m.group(5))
        return out

    def response(self):
        lines = []
        while True:
            toks = self.line()
            word = toks[0].upper() if toks else b""
            if word in (b"OK", b"NO", b"BYE"):
                code, rest = None, toks[1:]
                if rest and rest[0] == b"(":
                    close = rest.index(b")")
                    code = b" ".join(rest[1:close]).decode()
                    rest = rest[close + 1:]
                return Response(word.decode(), code, rest[0] if rest else None, lines)
            lines.append(toks)

    @staticmethod
    def capabilities(resp):
        return {t[0].decode().upper(): (t[1].decode() if len(t) > 1 else None)
                for t in resp.lines}

    # --- commands -----------------------------------------------------
    def send(self, data):
        self.sock.sendall(data)

    def command(self, name, *args):
        self.send(name.encode() + b"".join(b" " + string(a) for a in args) + b"\r\n")
        return self.response()

    def starttls(self, cafile):
        r = self.command("STARTTLS")
        assert r.status == "OK", r
        ctx = ssl.create_default_context(cafile=cafile)
        self.sock = ctx.wrap_socket(self.sock, server_hostname="127.0.0.1")
        self.f = self.sock.makefile("rb")
        r = self.response()
        self.caps = self.capabilities(r)
        return r

    def authenticate_plain(self, user, password, initial=True):
        blob = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode())
        if initial:
            return self.command("AUTHENTICATE", "PLAIN", blob)
        self.send(b'AUTHENTICATE "PLAIN"\r\n')
        challenge = self.line()
        assert challenge == [b""], challenge
        self.send(string(blob) + b"\r\n")
        return self.response()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
