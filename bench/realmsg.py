"""Real-sized messages for the `default` and `hiconc` profiles (issue 17
item 16): what an independent load generator APPENDed and found was 1 to
367 KB a message, about 30 KB on average. tests/integration/msggen.py
makes the headers (names, encoded words, address lists, Message-IDs); this
module sizes the bodies.

Sizes are log-normal (median 18 KB, sigma 1.0: mean 18 * e^0.5 = 30 KB),
clipped to [1 KB, 367 KB]. A message below 12 KB is text only (plain or
HTML, sometimes quoted-printable); a larger one is multipart/mixed with a
text part of 1-6 KB and one base64 attachment (random bytes, as a photo or
PDF is: nothing compresses) that makes up the rest. Deterministic: the same
seed gives the same bytes everywhere. CRLF line ends."""
import base64
import math
import quopri
import random

import msggen

MIN_SIZE = 1024
MAX_SIZE = 367 * 1024
MEDIAN = 18 * 1024
SIGMA = 1.0
TEXT_ONLY_BELOW = 12 * 1024


def size_of(rng):
    s = int(rng.lognormvariate(math.log(MEDIAN), SIGMA))
    return min(MAX_SIZE, max(MIN_SIZE, s))


def _text(rng, nbytes):
    """Text of about nbytes (msggen's words, wrapped at ~70 columns)."""
    out, line, total = [], [], 0
    while total < nbytes:
        w = rng.choice(msggen.WORDS)
        line.append(w)
        total += len(w.encode()) + 1
        if sum(len(x) + 1 for x in line) > 68:
            out.append(" ".join(line))
            line = []
    out.append(" ".join(line))
    return ("\r\n".join(out) + "\r\n").encode("utf-8")


def _b64(data):
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _qp(body):
    return quopri.encodestring(body.replace(b"\r\n", b"\n")).replace(b"\n", b"\r\n")


def _cut(body, nbytes):
    """body shortened to at most nbytes, at a line end (never inside a
    UTF-8 sequence)."""
    if len(body) <= nbytes:
        return body
    end = body.rfind(b"\r\n", 0, nbytes)
    return body[:end + 2] if end > 0 else body


def _text_part(rng, nbytes):
    """A text/plain or text/html part whose encoded body is about nbytes."""
    sub = rng.choice(["plain", "plain", "plain", "html"])
    qp = rng.random() < 0.3
    body = _text(rng, nbytes)
    if sub == "html":
        body = b"<html><body><p>\r\n" + body + b"</p></body></html>\r\n"
    enc = _qp(body) if qp else body
    if qp and len(enc) > nbytes:  # quoted-printable grows non-ASCII threefold
        enc = _qp(_cut(body, len(body) * nbytes // len(enc)))
    return ["Content-Type: text/%s; charset=utf-8" % sub,
            "Content-Transfer-Encoding: " + ("quoted-printable" if qp else "8bit")], enc


def message(rng, size):
    """One message of about size bytes (within a few hundred)."""
    subject = " ".join(rng.choice(msggen.WORDS) for _ in range(rng.randint(2, 9)))
    head = ("\r\n".join(msggen.headers(rng, subject))).encode("utf-8")
    room = max(200, size - len(head) - 80)
    if size < TEXT_ONLY_BELOW:
        h, body = _text_part(rng, room)
        return head + b"\r\n" + "\r\n".join(h).encode() + b"\r\n\r\n" + body
    boundary = "=_real_%08x" % rng.getrandbits(32)
    th, tbody = _text_part(rng, rng.randint(1024, 6 * 1024))
    name, ctype = rng.choice([("photo.jpg", "image/jpeg"), ("report.pdf", "application/pdf"),
                              ("data.zip", "application/zip")])
    # base64.encodebytes: 57 bytes -> 76 characters and CRLF
    raw = rng.randbytes(max(64, (room - len(tbody) - 400) * 57 // 78))
    parts = [(th, tbody),
             (["Content-Type: %s; name=\"%s\"" % (ctype, name),
               "Content-Transfer-Encoding: base64",
               "Content-Disposition: attachment; filename=\"%s\"" % name], _b64(raw))]
    out = [head, b"\r\nContent-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n" %
           boundary.encode()]
    for h, p in parts:
        out.append(b"--" + boundary.encode() + b"\r\n" + "\r\n".join(h).encode() +
                   b"\r\n\r\n" + p + b"\r\n")
    out.append(b"--" + boundary.encode() + b"--\r\n")
    return b"".join(out)


def messages(count, seed):
    rng = random.Random(seed)
    return [message(rng, size_of(rng)) for _ in range(count)]


if __name__ == "__main__":
    import statistics
    import sys
    ms = messages(int(sys.argv[1]) if len(sys.argv) > 1 else 1000, seed=2026)
    sizes = [len(m) for m in ms]
    print("n %d min %d median %d mean %d max %d bytes" % (
        len(sizes), min(sizes), statistics.median(sizes), statistics.mean(sizes), max(sizes)))
