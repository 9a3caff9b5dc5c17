"""A deterministic generator of varied, realistic messages (CRLF), for the
differential tests and the benchmark: the same seed gives the same mail on
every run and machine."""
import base64
import quopri
import random

NAMES = ["Alice Example", "Bob O'Neil", "Zoë Åström", "李小龍", "Jean-Luc Picard",
         "\"Quoted, Name\"", "", "Dr. Who", "Mary Ann", "José Müller"]
DOMAINS = ["example.com", "example.org", "mail.example.net", "xn--bcher-kva.example"]
WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
         "incididunt ut labore et dolore magna aliqua café naïve résumé Grüße "
         "привет мир 你好 世界").split()


def enc_word(text, rng):
    if all(ord(c) < 128 for c in text):
        return text
    data = text.encode("utf-8")
    if rng.random() < 0.5:
        return "=?UTF-8?B?%s?=" % base64.b64encode(data).decode()
    q = quopri.encodestring(data, header=True).decode().replace("\n", "")
    return "=?utf-8?Q?%s?=" % q.replace("?", "=3F").replace(" ", "_")


def address(rng):
    name = rng.choice(NAMES)
    local = rng.choice(["alice", "bob", "carol.d", "x+tag", "info"])
    dom = rng.choice(DOMAINS)
    if not name:
        return "%s@%s" % (local, dom)
    if name.startswith('"'):
        return "%s <%s@%s>" % (name, local, dom)
    return "%s <%s@%s>" % (enc_word(name, rng), local, dom)


def addr_list(rng):
    n = rng.choice([1, 1, 1, 2, 3])
    addrs = [address(rng) for _ in range(n)]
    if rng.random() < 0.08:
        return "undisclosed-recipients:;"
    if rng.random() < 0.08:
        return "Team: %s;" % ", ".join(addrs)
    return ", ".join(addrs)


def text(rng, words):
    out, line = [], []
    for _ in range(words):
        line.append(rng.choice(WORDS))
        if len(line) > rng.randint(6, 14):
            out.append(" ".join(line))
            line = []
    out.append(" ".join(line))
    if rng.random() < 0.1:
        out.append("From the desk of someone")  # needs mbox escaping
    return "\r\n".join(out) + "\r\n"


def date(rng):
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
              "Nov", "Dec"]
    return "%s, %d %s %d %02d:%02d:%02d %s" % (
        rng.choice(days), rng.randint(1, 28), rng.choice(months), rng.randint(1998, 2026),
        rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59),
        rng.choice(["+0000", "-0500", "+0530", "+0100", "GMT", "-0800 (PST)"]))


def headers(rng, subject):
    h = []
    if rng.random() < 0.95:
        h.append("Date: " + date(rng))
    h.append("From: " + address(rng))
    if rng.random() < 0.1:
        h.append("Sender: " + address(rng))
    if rng.random() < 0.15:
        h.append("Reply-To: " + address(rng))
    h.append("To: " + addr_list(rng))
    if rng.random() < 0.3:
        h.append("Cc: " + addr_list(rng))
    if rng.random() < 0.05:
        h.append("Bcc: " + address(rng))
    subj = enc_word(subject, rng)
    if len(subj) > 60 and rng.random() < 0.5:
        subj = subj[:40] + "\r\n " + subj[40:] if not subj.startswith("=?") else subj
    h.append("Subject: " + subj)
    h.append("Message-ID: <%08x.%d@%s>" % (rng.getrandbits(32), rng.randint(1, 9999),
                                         rng.choice(DOMAINS)))
    if rng.random() < 0.3:
        h.append("In-Reply-To: <%08x@%s>" % (rng.getrandbits(32), rng.choice(DOMAINS)))
    if rng.random() < 0.2:
        h.append("X-Mailer: msggen 1.0")
    h.append("MIME-Version: 1.0")
    return h


def leaf(rng, depth):
    kind = rng.random()
    if kind < 0.45:
        cs = rng.choice(["us-ascii", "utf-8", "UTF-8", "iso-8859-1"])
        body = text(rng, rng.randint(5, 300))
        enc = rng.choice(["7bit", "8bit", "quoted-printable", "base64", None])
        raw = body.encode("utf-8")
        if enc == "quoted-printable":
            payload = quopri.encodestring(raw).replace(b"\n", b"\r\n")
            payload = payload.replace(b"\r\r\n", b"\r\n")
        elif enc == "base64":
            payload = base64.encodebytes(raw).replace(b"\n", b"\r\n")
        else:
            payload = raw
        h = ["Content-Type: text/%s; charset=%s" % (rng.choice(["plain", "plain", "html"]), cs)]
        if enc:
            h.append("Content-Transfer-Encoding: " + enc)
        if rng.random() < 0.1:
            h.append("Content-Language: " + rng.choice(["en", "de, en", "fr-CA"]))
        return h, payload
    if kind < 0.7:
        name = rng.choice(["report.pdf", "photo.jpg", "data.bin", "Grüße.txt", "a b.doc"])
        data = bytes(rng.getrandbits(8) for _ in range(rng.randint(50, 3000)))
        payload = base64.encodebytes(data).replace(b"\n", b"\r\n")
        ctype = rng.choice(["application/pdf", "image/jpeg", "application/octet-stream"])
        if all(ord(c) < 128 for c in name) and " " not in name:
            disp = 'attachment; filename="%s"' % name
            ct = '%s; name="%s"' % (ctype, name)
        else:
            enc = "".join("%%%02X" % b if not (48 <= b < 123 and chr(b).isalnum()) else chr(b)
                          for b in name.encode("utf-8"))
            disp = "attachment;\r\n filename*=utf-8''%s" % enc
            ct = ctype
        h = ["Content-Type: " + ct, "Content-Transfer-Encoding: base64",
             "Content-Disposition: " + disp]
        if rng.random() < 0.2:
            h.append("Content-ID: <part%d@example.com>" % rng.randint(1, 99))
        if rng.random() < 0.1:
            h.append("Content-Description: an attachment")
        if rng.random() < 0.05:
            h.append("Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==")
        if rng.random() < 0.05:
            h.append("Content-Location: http://example.com/x")
        return h, payload
    if kind < 0.8 and depth < 3:
        inner = message(rng, depth + 1)
        return ["Content-Type: message/rfc822"], inner
    return multipart(rng, depth + 1)


def multipart(rng, depth):
    sub = rng.choice(["mixed", "alternative", "related", "mixed"])
    boundary = "=_b%d_%08x" % (depth, rng.getrandbits(32))
    parts = [leaf(rng, depth) if depth < 4 else leaf_text(rng)
             for _ in range(rng.randint(1, 4))]
    body = b""
    if rng.random() < 0.3:
        body += b"This is a multi-part message in MIME format.\r\n"
    for h, p in parts:
        body += b"\r\n--" + boundary.encode() + b"\r\n"
        body += "\r\n".join(h).encode("utf-8") + b"\r\n\r\n" + p
    body += b"\r\n--" + boundary.encode() + b"--\r\n"
    if rng.random() < 0.2:
        body += b"epilogue text\r\n"
    return ['Content-Type: multipart/%s; boundary="%s"' % (sub, boundary)], body


def leaf_text(rng):
    return ["Content-Type: text/plain; charset=us-ascii"], text(rng, 20).encode()


def message(rng, depth=0):
    subject = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8)))
    h = headers(rng, subject)
    if depth < 3 and rng.random() < 0.5:
        ch, body = multipart(rng, depth)
    elif rng.random() < 0.2:
        ch, body = [], text(rng, rng.randint(5, 100)).encode()  # no Content-Type
    else:
        ch, body = leaf(rng, depth + 1) if depth < 3 else leaf_text(rng)
    return ("\r\n".join(h + ch)).encode("utf-8") + b"\r\n\r\n" + body


def messages(count, seed=9051):
    rng = random.Random(seed)
    return [message(rng) for _ in range(count)]


if __name__ == "__main__":
    import sys
    for m in messages(int(sys.argv[1]) if len(sys.argv) > 1 else 3):
        sys.stdout.buffer.write(m + b"\r\n======\r\n")
