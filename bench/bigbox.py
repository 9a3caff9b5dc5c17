"""The bigbox mailbox: one deterministic mbox file of N messages, written
directly (never APPENDed over IMAP), for the `bigbox` benchmark profile.

Every message already carries the state headers both servers read
(X-IMAPbase on the first: UIDVALIDITY and the last UID given out, N, as
UW-IMAP and Dovecot write it; X-UID; Status: O or RO), so neither server has
to rewrite the file to assign UIDs or claim new mail on SELECT: the file
stays byte-identical across repeated runs and both servers start from the
same bytes. UID i is message i (1-based), so sequence numbers equal UIDs.

What the profile searches for (see expectations()):
  * Subject of message i contains "topic %04d" % (i % TOPICS)
  * message i is unseen (Status: O) when i % 3 == 0, seen (RO) otherwise
  * the body of message i contains NEEDLE when i % NEEDLE_EVERY == NEEDLE_AT

The file is cached under build/bench/ keyed by GEN_VERSION and N, so
repeated runs reuse it; bump GEN_VERSION whenever the output changes."""
import os
import random

GEN_VERSION = 2   # 2: X-IMAPbase carries the last UID (N), not UIDNEXT
UIDVALIDITY = 1763769600
TOPICS = 1000
SEARCH_TOPIC = 42
NEEDLE = "zebracornfish"
NEEDLE_EVERY = 5000
NEEDLE_AT = 17

_WORDS = ("the quarterly report meeting agenda budget review draft final notes "
          "please find attached proposal schedule friday monday deadline update "
          "project status server backup network invoice customer support ticket "
          "release candidate build failed passed regression minutes lunch travel "
          "conference slides feedback thanks regards cheers hello again later "
          "tomorrow weekend holiday office printer coffee kitchen parking").split()
_NAMES = ["Alice Example", "Bob Smith", "Carol Jones", "Dave Brown", "Erin Green",
          "Frank White", "Grace Hall", "Heidi Young", "Ivan King", "Judy Wright"]
_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
           "Nov", "Dec"]


def _para(rng, nwords):
    words = [rng.choice(_WORDS) for _ in range(nwords)]
    lines, cur = [], []
    for w in words:
        cur.append(w)
        if len(cur) >= 11:
            lines.append(" ".join(cur))
            cur = []
    if cur:
        lines.append(" ".join(cur))
    return "\n".join(lines) + "\n"


def _message(rng, i):
    name = _NAMES[i % len(_NAMES)]
    local = name.split()[0].lower()
    day = 1 + (i * 7) % 28
    ts = 1735689600 + i * 317      # deterministic, ascending
    hh, mm, ss = (ts // 3600) % 24, (ts // 60) % 60, ts % 60
    date = "%s, %d %s 2025 %02d:%02d:%02d +0000" % (
        _DAYS[i % 7], day, _MONTHS[(i // 9000) % 12], hh, mm, ss)
    subject = "%s %s topic %04d (no. %d)" % (
        rng.choice(_WORDS).capitalize(), rng.choice(_WORDS), i % TOPICS, i)
    hdr = ["From: %s <%s@example.com>" % (name, local),
           "To: Bench User <big@example.org>",
           "Subject: %s" % subject,
           "Date: %s" % date,
           "Message-ID: <bigbox-%d@bench.example>" % i,
           "MIME-Version: 1.0"]
    body = _para(rng, rng.randint(20, 160))
    if i % NEEDLE_EVERY == NEEDLE_AT:
        body += "The code word is %s, keep it safe.\n" % NEEDLE
    if i % 10 == 5:
        b = "=-=bigbox-%d=-=" % i
        hdr.append('Content-Type: multipart/alternative; boundary="%s"' % b)
        body = ("This is a multi-part message in MIME format.\n\n--%s\n"
                "Content-Type: text/plain; charset=us-ascii\n\n%s\n--%s\n"
                "Content-Type: text/html; charset=us-ascii\n\n<html><body><p>%s</p></body></html>\n"
                "\n--%s--\n") % (b, body, b, body.replace("\n", " "), b)
    else:
        hdr.append("Content-Type: text/plain; charset=us-ascii")
    return hdr, body


def records(n):
    """(i, header lines, body) of messages 1..n, LF line ends, without the
    mbox state headers."""
    rng = random.Random(20260522)
    for i in range(1, n + 1):
        hdr, body = _message(rng, i)
        yield i, hdr, body


def seen(i):
    return i % 3 != 0


def generate(n, path):
    """Write the N-message mbox to path (atomically: tmp file + rename)."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="ascii", newline="\n") as f:
        out = []
        for i, hdr, body in records(n):
            out.append("From %s@example.com Sat Nov 22 00:00:00 2025\n" %
                       hdr[0].split("<")[1].split("@")[0])
            out.append("\n".join(hdr) + "\n")
            if i == 1:
                out.append("X-IMAPbase: %d %010d\n" % (UIDVALIDITY, n))
            out.append("Status: %s\nX-UID: %d\n\n" % ("RO" if seen(i) else "O", i))
            out.append(body)
            out.append("\n")
            if len(out) > 4000:
                f.write("".join(out))
                out = []
        f.write("".join(out))
    os.replace(tmp, path)


def appends(n):
    """The same messages as APPEND arguments (flags, date, CRLF bytes), for
    a store that is seeded through IMAP: the mbox file's From_ line date,
    \\Seen where its Status says RO."""
    for i, hdr, body in records(n):
        msg = ("\n".join(hdr) + "\n\n" + body).replace("\n", "\r\n").encode("ascii")
        yield ("\\Seen" if seen(i) else ""), "22-Nov-2025 00:00:00 +0000", msg


def cached(n, cache_dir):
    """Path of the generated N-message mbox, generated once per version."""
    os.makedirs(cache_dir, exist_ok=True)
    path = os.path.join(cache_dir, "bigbox-v%d-%d.mbox" % (GEN_VERSION, n))
    if not os.path.exists(path):
        # files of older generator versions are garbage (110 MB each)
        for old in os.listdir(cache_dir):
            if old.startswith("bigbox-v") and not old.startswith("bigbox-v%d-" % GEN_VERSION):
                os.unlink(os.path.join(cache_dir, old))
        generate(n, path)
    return path


def expectations(n):
    """What the bigbox commands must return for an N-message box."""
    return {
        "messages": n,
        "uidnext": n + 1,
        "unseen": n // 3,
        "subject_key": "topic %04d" % SEARCH_TOPIC,
        "subject_uids": [i for i in range(1, n + 1) if i % TOPICS == SEARCH_TOPIC],
        "needle": NEEDLE,
        "needle_seqs": [i for i in range(1, n + 1) if i % NEEDLE_EVERY == NEEDLE_AT],
    }
