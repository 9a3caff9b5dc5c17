"""An independent, strict reader of the mbox files Haven writes (mboxrd, LF,
state in X-IMAPbase/X-UID/Status/X-Status/X-Keywords headers), written from
the format description in backends/mbox/mbox_private.h and not from Haven's
code, plus the pieces the mbox tests share: messages an MDA would deliver,
mboxrd escaping, and finding a user's worker process in /proc.

The reader is deliberately strict: anything Haven should never write (a
file not starting with a From_ line, a malformed From_ line, a message
without the framing newline, a header block that does not parse, UIDs out
of order) raises MboxError instead of being guessed around."""
import hashlib
import os
import re
import time

from procs import children_of  # also used by the tests through this module

STATE_HEADERS = ("x-imapbase", "x-imap", "x-uid", "status", "x-status", "x-keywords",
                 "x-haven-modseq", "x-haven-highestmodseq")

# "From SENDER Www Mmm dd hh:mm:ss yyyy": the asctime date Haven and Debian's
# MDAs write (Dovecot puts two spaces after the sender; also accepted).
FROM_LINE = re.compile(rb"^From [^ \n]+ +(Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
                       rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                       rb"[ 0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9] [0-9]{4}$")
HEADER_LINE = re.compile(rb"^[!-9;-~]+:")
ESCAPED_FROM = re.compile(rb"^>+From ")

XSTATUS = {ord("A"): "\\Answered", ord("F"): "\\Flagged", ord("D"): "\\Deleted",
           ord("T"): "\\Draft"}


class MboxError(AssertionError):
    pass


class Msg:
    """One message of the file: its state and the bytes IMAP must show."""

    def __init__(self):
        self.from_line = b""
        self.offset = 0
        self.uid = None
        self.flags = set()      # system flags and keywords, IMAP spelling
        self.pseudo = False     # UW-IMAP "FOLDER INTERNAL DATA" message
        self.base = None        # (uidvalidity, number, [keywords]) of X-IMAPbase / X-IMAP
        self.imap = b""         # state headers dropped, unescaped, CRLF
        self.stored = b""       # content as stored (without the framing newline)

    def __repr__(self):
        return "<Msg uid=%r flags=%r %d bytes>" % (self.uid, sorted(self.flags), len(self.imap))


def _lines(data):
    """Lines with their '\\n' (the last one may lack it)."""
    out, pos = [], 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        end = len(data) if nl < 0 else nl + 1
        out.append(data[pos:end])
        pos = end
    return out


def _to_imap(lines):
    """Stored lines (content only) -> the message in IMAP form."""
    out = []
    for line in lines:
        body, nl = (line[:-1], True) if line.endswith(b"\n") else (line, False)
        if ESCAPED_FROM.match(body):
            body = body[1:]
        if nl:
            body = body + b"\n" if body.endswith(b"\r") else body + b"\r\n"
        out.append(body)
    return b"".join(out)


def _parse_message(m, content_lines, first):
    in_header = True
    kept = []
    seen = set()
    cur = None          # name of the header a continuation line belongs to
    for line in content_lines:
        if in_header:
            if line in (b"\n", b"\r\n"):
                in_header = False
                kept.append(line)
                continue
            if line[:1] in (b" ", b"\t"):
                if cur is None:
                    raise MboxError("continuation line before any header at %d: %r"
                                    % (m.offset, line))
                if cur in STATE_HEADERS:
                    raise MboxError("folded state header %s at %d" % (cur, m.offset))
                kept.append(line)
                continue
            if not HEADER_LINE.match(line):
                # A header block without a blank line after it (a message
                # that is only a header, or no header at all) is legal: the
                # rest is body. Haven writes its own headers first, so
                # none may come after this point.
                in_header = False
                kept.append(line)
                continue
            name = line.split(b":", 1)[0].decode("ascii").lower()
            cur = name
            value = line.split(b":", 1)[1].strip()
            if name not in STATE_HEADERS:
                kept.append(line)
                continue
            if name in seen:
                raise MboxError("state header %s twice in message at %d" % (name, m.offset))
            seen.add(name)
            if name in ("x-imapbase", "x-imap"):
                if not first:
                    raise MboxError("%s outside the first message (at %d)" % (name, m.offset))
                parts = value.split()
                if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
                    raise MboxError("bad %s: %r" % (name, line))
                m.base = (int(parts[0]), int(parts[1]), [p.decode() for p in parts[2:]])
                m.pseudo = name == "x-imap"
            elif name == "x-uid":
                if not value.isdigit() or int(value) == 0:
                    raise MboxError("bad X-UID: %r" % line)
                m.uid = int(value)
            elif name == "status":
                if value.strip(b"RO"):
                    raise MboxError("unknown Status letters: %r" % line)
                if b"R" in value:
                    m.flags.add("\\Seen")
            elif name == "x-status":
                for c in value:
                    if c not in XSTATUS:
                        raise MboxError("unknown X-Status letter in %r" % line)
                    m.flags.add(XSTATUS[c])
            elif name == "x-keywords":
                m.flags.update(k.decode() for k in value.replace(b",", b" ").split())
            elif name in ("x-haven-modseq", "x-haven-highestmodseq"):
                if not value.isdigit():
                    raise MboxError("bad %s: %r" % (name, line))
            continue
        kept.append(line)
    m.imap = _to_imap(kept)


def parse(data, require_uids=True):
    """Parse a whole mbox file. Returns the list of real messages (the UW-IMAP
    pseudo message left out) and the base (uidvalidity, number, keywords) or
    None."""
    if data == b"":
        return [], None
    if not data.startswith(b"From "):
        raise MboxError("file does not start with a From_ line: %r" % data[:60])
    if not data.endswith(b"\n"):
        raise MboxError("file does not end with the framing newline: %r" % data[-60:])
    msgs = []
    cur = None
    body = []
    offset = 0

    def finish():
        if cur is None:
            return
        # The last '\n' before the next From_ line (or EOF) is framing.
        if not body or not body[-1].endswith(b"\n"):
            raise MboxError("message at %d lacks its framing newline" % cur.offset)
        content = body[:-1] + [body[-1][:-1]] if body[-1] != b"\n" else body[:-1]
        content = [l for l in content if l]
        cur.stored = b"".join(content)
        _parse_message(cur, content, not msgs)
        msgs.append(cur)

    for line in _lines(data):
        if line.startswith(b"From "):
            finish()
            if not FROM_LINE.match(line.rstrip(b"\n")):
                raise MboxError("malformed From_ line at %d: %r" % (offset, line))
            cur = Msg()
            cur.from_line = line
            cur.offset = offset
            body = []
        else:
            body.append(line)
        offset += len(line)
    finish()

    base = msgs[0].base if msgs else None
    real = [m for m in msgs if not m.pseudo]
    if msgs and msgs[0].pseudo is False and any(m.pseudo for m in msgs):
        raise MboxError("pseudo message not first")
    last = 0
    for m in real:
        if require_uids and m.uid is None:
            raise MboxError("message at %d has no X-UID" % m.offset)
        if m.uid is not None:
            if m.uid <= last:
                raise MboxError("UIDs not ascending at %d: %d after %d" % (m.offset, m.uid, last))
            last = m.uid
    return real, base


def parse_file(path, require_uids=True):
    with open(path, "rb") as f:
        return parse(f.read(), require_uids)


# ---- what an MDA writes ------------------------------------------------

def mboxrd_escape(lf_message):
    """The message (LF line ends) as mboxrd stores it: every line matching
    ^>*From  gets one more '>'."""
    out = []
    for line in _lines(lf_message):
        if re.match(rb"^>*From ", line):
            line = b">" + line
        out.append(line)
    return b"".join(out)


def stored_form(crlf_message):
    """What a Debian MDA appends for a message: LF line ends, mboxrd
    escaped, ending in a newline (a blank line follows as the separator)."""
    lf = crlf_message.replace(b"\r\n", b"\n")
    if not lf.endswith(b"\n"):
        lf += b"\n"
    return mboxrd_escape(lf)


def from_line(sender="mda@example.org", when=None):
    return ("From %s %s\n" % (sender, time.asctime(time.gmtime(when)))).encode()


def body_digest(msg):
    """SHA-256 of the body (after the first CRLF CRLF)."""
    return hashlib.sha256(msg.split(b"\r\n\r\n", 1)[1]).hexdigest()


def make_message(tag, i, size, rng, escapes=True):
    """A message in IMAP (CRLF) form with a unique Message-ID and the
    checksum of its body in X-Body-SHA256. With escapes, the body has lines
    that mboxrd must escape (From , >From , >>From ) and one that it must
    not (' From'); without, no line starts with 'From'."""
    lines = []
    words = ("alpha", "beta", "gamma", "delta", "mail", "box", "From", "lock", "x" * 30)
    if escapes:
        lines += [b"From the desk of %s %d" % (tag.encode(), i), b">From quoted once",
                  b">>From quoted twice", b" From not at the start", b""]
    total = sum(len(l) + 2 for l in lines)
    while total < size:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(1, 14))).encode()
        if not escapes and line.startswith(b"From"):
            line = b"so " + line
        lines.append(line)
        total += len(line) + 2
    body = b"\r\n".join(lines) + b"\r\n"
    head = (b"From: Sender %d <sender%d@example.org>\r\n"
            b"To: alice@example.org\r\n"
            b"Subject: %s message %d\r\n"
            b"Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
            b"Message-ID: <%s.%d@test.example>\r\n"
            % (i, i, tag.encode(), i, tag.encode(), i))
    head += b"X-Body-SHA256: %s\r\n" % hashlib.sha256(body).hexdigest().encode()
    return head + b"\r\n" + body


MESSAGE_ID = re.compile(rb"^Message-ID: <([^>]+)>\r?$", re.I | re.M)


def message_id(msg):
    m = MESSAGE_ID.search(msg.split(b"\r\n\r\n", 1)[0] + b"\r\n")
    return m.group(1).decode() if m else None


def check_digest(msg):
    """True if the X-Body-SHA256 header matches the body."""
    head, _, body = msg.partition(b"\r\n\r\n")
    m = re.search(rb"^X-Body-SHA256: ([0-9a-f]{64})\r?$", head + b"\r\n", re.M)
    return bool(m) and hashlib.sha256(body).hexdigest().encode() == m.group(1)


# ---- processes -----------------------------------------------------------




def worker_pid(haven, user="alice"):
    """The pid of user's haven-worker, or None."""
    for pid, argv in children_of(haven.proc.pid):
        if argv and os.path.basename(argv[0]) == "haven-worker" and "-a" in argv \
                and argv[argv.index("-a") + 1] == user:
            return pid
    return None


def pid_alive(pid):
    """False once pid has exited (a zombie counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def pid_reaped(pid):
    """True once pid is gone from /proc (exited and reaped: a zombie still
    counts as a live process for kill(pid, 0), and so for liblockfile)."""
    return not os.path.exists("/proc/%d" % pid)


def wait_for(pred, timeout, interval=0.02):
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v or time.time() >= deadline:
            return v
        time.sleep(interval)
