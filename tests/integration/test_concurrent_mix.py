"""Ten clients on one mailbox, a minute of the mixed workload an
independent load generator runs (issue 17, "what it must show"): APPEND of
real-sized messages (1 KB to 367 KB, most a few tens of KB, some with new
keywords), FETCH and UID FETCH of flags, bodies and structure, STORE of
flags and keywords, STORE \\Deleted + EXPUNGE, SEARCH, COPY, NOOP and a
SELECT now and then, all at once. Every client tracks its view
(viewtrack.py) and every answer: no error, and no protocol violation:
\\Recent in at most one session, no keyword before FLAGS, no FETCH for a
sequence number whose EXPUNGE the client was not told first.

An error is what the independent generator counts: any tagged answer other
than OK, except the NO [EXPUNGEISSUED] with which a COPY of a message
another client expunged is refused as a whole (RFC 2180 4.4.1, and nothing
is copied). HAVEN_MIX_SECONDS shortens the run while developing."""
import os
import random
import re
import threading
import time

from rfc9051_common import lit
from viewtrack import Registry, TrackedSession

CLIENTS = 10
SECONDS = float(os.environ.get("HAVEN_MIX_SECONDS", "60"))
KEYWORDS = [b"$Label%d" % i for i in range(1, 9)] + [b"Project%d" % i for i in range(12)]


def message_size(rng):
    """Sizes like the generator's: 1-367 KB, mean about 30 KB."""
    return int(min(367 * 1024, max(1024, rng.lognormvariate(9.6, 1.0))))


def message(rng, n):
    size = message_size(rng)
    head = (b"From: Client %d <c%d@example.org>\r\nTo: alice@example.org\r\n"
            b"Subject: load message %d\r\nMessage-ID: <load%d@example.org>\r\n"
            b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n\r\n") % (n % 10, n % 10, n, n)
    line = b"the quick brown fox jumps over the lazy dog %d\r\n" % n
    return head + line * max(1, (size - len(head)) // len(line))


class Client(threading.Thread):
    def __init__(self, haven, registry, index, seed, deadline):
        super().__init__(daemon=True)
        self.s = TrackedSession(haven, registry=registry, name="C%d" % index)
        self.s.select()
        self.rng = random.Random(seed)
        self.index = index
        self.deadline = deadline
        self.errors = []
        self.done = 0
        self.appended = 0

    def check(self, what, lines, allow_expunged=False):
        self.done += 1
        last = lines[-1]
        if re.match(rb"\S+ OK[ \r]", last):
            return
        if allow_expunged and re.match(rb"\S+ NO \[EXPUNGEISSUED\]", last):
            return
        self.errors.append((what, last))

    def cmd(self, command, allow_expunged=False):
        self.check(command[:60], self.s.cmd(command), allow_expunged)

    def some_set(self):
        n = len(self.s.view)
        if n == 0:
            return None
        lo = self.rng.randint(1, n)
        return b"%d:%d" % (lo, min(n, lo + self.rng.randint(0, 20)))

    def step(self):
        r = self.rng.random()
        seqs = self.some_set()
        if r < 0.22 or seqs is None:
            self.appended += 1
            flags = b""
            if self.rng.random() < 0.3:
                flags = b"(" + self.rng.choice(KEYWORDS) + b") "
            msg = message(self.rng, self.index * 100000 + self.appended)
            self.cmd(b"APPEND INBOX " + flags + lit(msg))
        elif r < 0.40:
            item = self.rng.choice([b"(UID FLAGS)", b"(UID BODY.PEEK[])", b"(UID FLAGS ENVELOPE)",
                                    b"(BODYSTRUCTURE RFC822.SIZE)", b"(UID BODY.PEEK[TEXT]<0.500>)",
                                    b"(FLAGS BODY[HEADER.FIELDS (Subject)])"])
            self.cmd(b"FETCH " + seqs + b" " + item)
        elif r < 0.48:
            self.cmd(b"UID FETCH 1:* (FLAGS)")
        elif r < 0.62:
            flag = self.rng.choice([b"\\Seen", b"\\Flagged", b"\\Answered"] + KEYWORDS)
            op = self.rng.choice([b"+FLAGS", b"-FLAGS", b"+FLAGS.SILENT"])
            self.cmd(b"STORE " + seqs + b" " + op + b" (" + flag + b")")
        elif r < 0.72:
            n = len(self.s.view)
            one = self.rng.randint(1, n)
            self.cmd(b"STORE %d +FLAGS.SILENT (\\Deleted)" % one)
            self.cmd(b"EXPUNGE")
        elif r < 0.80:
            self.cmd(self.rng.choice([b"SEARCH UNSEEN", b"SEARCH SUBJECT load",
                                      b"UID SEARCH KEYWORD $Label1", b"SEARCH RECENT"]))
        elif r < 0.85:
            self.cmd(b"COPY " + seqs + b" Archive", allow_expunged=True)
        elif r < 0.97:
            self.cmd(b"NOOP")
        else:
            lines = self.s.select()
            self.check(b"SELECT", lines)

    def run(self):
        try:
            while time.time() < self.deadline:
                self.step()
            self.cmd(b"NOOP")
        except Exception as e:   # a closed connection is an error too
            self.errors.append(("exception", repr(e)))


def test_ten_clients_mixed_workload(haven):
    registry = Registry()
    seed = TrackedSession(haven, name="seed")
    rng = random.Random(17)
    for i in range(40):
        seed.send(b"P%d APPEND INBOX " % i + lit(message(rng, i)) + b"\r\n")
    for i in range(40):
        seed.until(b"P%d" % i)
    seed.close()
    deadline = time.time() + SECONDS
    clients = [Client(haven, registry, i, 1000 + i, deadline) for i in range(CLIENTS)]
    for c in clients:
        c.start()
    for c in clients:
        c.join(SECONDS + 300)
        assert not c.is_alive(), "client %d did not finish" % c.index
    errors = [(c.index, e) for c in clients for e in c.errors]
    assert errors == [], errors[:20]
    assert registry.violations == [], registry.violations[:20]
    total = sum(c.done for c in clients)
    # Enough happened for the checks to mean something.
    assert total >= CLIENTS * 10, total
    print("%d commands by %d clients in %.0f s" % (total, CLIENTS, SECONDS))
