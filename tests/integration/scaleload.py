"""The scale-out load: clients on several havend hosts sharing one user's
mailboxes, each recording what it was told (UIDs assigned, MODSEQs seen,
every answer that was not a plain OK, when) so the test can check the
invariants afterwards. Used by test_scaleout.py (and reusable by a bench).

Mailboxes: INBOX, A and B ("live": APPEND, MOVE between them, STORE,
EXPUNGE), Copies (COPY targets only) and Push (APPENDs only, watched by
IDLE sessions). Only messages appended as "doomed" ever get \\Deleted, so an
EXPUNGE (plain or UID) can only remove those: every other acknowledged
message must be present exactly once in the live mailboxes at the end."""
import bisect
import random
import re
import socket
import threading
import time

LIVE = ("INBOX", "A", "B")
ARCHIVE = "Copies"
PUSH = "Push"
# A client waits this long for an answer; none coming is a hang, which the
# test reports (pgsql_timeout is far below it).
ANSWER_TIMEOUT = 30

# Answers other than a plain tagged OK that the load may legitimately get,
# whatever else happens: (pattern, why).
EXPECTED = [
    (rb"^\S+ OK \[MODIFIED [0-9:,]+\]", "STORE UNCHANGEDSINCE lost a race (RFC 7162)"),
    (rb"^\S+ NO \[EXPUNGEISSUEDBYOTHER\]", "the message was expunged by another session"),
    (rb"^\S+ NO \[EXPUNGEISSUED\]", "UID MOVE/COPY of a message expunged meanwhile (RFC 5530)"),
    # the timeout policy (pgsql_timeout): on a machine this loaded a lock
    # wait behind 29 other sessions' commits can pass it
    (rb"^\S+ NO \[UNAVAILABLE\] Mail store too slow", "a statement passed pgsql_timeout"),
]
# Answers expected only while a fault is injected (a host killed, the
# database restarted, a host cut from the database).
FAULT = [
    (rb"^\S+ NO \[UNAVAILABLE\]", "the database is out of reach"),
    (rb"^\* BYE \[UNAVAILABLE\]", "the session gave up on the database"),
    (rb"^(EOF|RESET)$", "the connection dropped (host killed, session ended)"),
    (rb"^CONNECT ", "no host at that address (killed) or it refused"),
]

_UIDPLUS = re.compile(rb"\[(APPENDUID|COPYUID) (\d+) (?:(\d+) )?(\d+)\]")
_FETCH_MODSEQ = re.compile(rb"^\* \d+ FETCH \(.*UID (\d+).*MODSEQ \((\d+)\)")
_HMS = re.compile(rb"HIGHESTMODSEQ (\d+)")
_EXISTS = re.compile(rb"^\* (\d+) EXISTS")
_LITERAL = re.compile(rb"\{(\d+)\}\r\n$")


class Dropped(Exception):
    """The connection ended (EOF, reset, a BYE)."""


class Conn:
    """One IMAP connection: send a command, read to its tagged answer."""

    def __init__(self, addr, port, user, password):
        self.sock = socket.create_connection((addr, port), timeout=ANSWER_TIMEOUT)
        self.f = self.sock.makefile("rb")
        self.n = 0
        self.last = None
        if not self.line().startswith(b"* OK"):
            raise Dropped("no greeting")
        tagged, _ = self.cmd(b"LOGIN %s %s" % (user.encode(), password.encode()))
        if b" OK" not in tagged:
            raise Dropped(tagged)

    def line(self):
        """A response line with its literals (None: the peer closed)."""
        try:
            out = self.f.readline()
            while _LITERAL.search(out):
                n = int(_LITERAL.search(out).group(1))
                out += self.f.read(n) + self.f.readline()
        except ConnectionResetError:
            raise Dropped("RESET")
        if not out:
            raise Dropped("EOF")
        return out

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            raise Dropped("RESET")

    def tag(self):
        self.n += 1
        return b"c%d" % self.n

    def cmd(self, text, literal=None):
        """(tagged line, untagged lines). A literal goes after text as a
        synchronizing one."""
        tag = self.tag()
        self.last = (tag, text, time.time())
        if literal is None:
            self.send(tag + b" " + text + b"\r\n")
        else:
            self.send(tag + b" " + text + b" {%d}\r\n" % len(literal))
            first = self.line()
            if not first.startswith(b"+"):
                return first, []
            self.send(literal + b"\r\n")
        return self.read_tagged(tag)

    def until_continuation(self, on_line):
        """The "+" line (or a tagged refusal) after IDLE: the server may
        send pending untagged updates before it."""
        while True:
            line = self.line()
            if not line.startswith(b"* "):
                return line
            on_line(line)

    def read_tagged(self, tag, on_line=None):
        untagged = []
        while True:
            line = self.line()
            if line.startswith(tag + b" "):
                return line, untagged
            if line.startswith(b"* BYE"):
                raise Dropped(line.strip())
            untagged.append(line)
            if on_line:
                on_line(line)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Record:
    """What every client was told, shared (under a lock) by all of them."""

    def __init__(self):
        self.lock = threading.Lock()
        self.attempted = set()  # Message-IDs of every APPEND sent
        self.acked = {}  # Message-ID -> mailbox, for APPENDs answered OK
        self.uids = []  # (mailbox, uidvalidity, uid, t_start, t_end)
        self.hms = []  # (mailbox, highestmodseq, t_start, t_end)
        self.answers = []  # (phase, host, command, answer, t) other than OK
        self.violations = []  # invariants broken as seen by one client
        self.oks = []  # (host, t) of every OK: recovery after a fault
        self.push = []  # (uid, t_ok, host) of APPENDs to Push
        self.phase = "load"

    def add(self, name, item):
        with self.lock:
            getattr(self, name).append(item)


def message(mid):
    return (b"From: load@example.org\r\nTo: alice@example.org\r\n"
            b"Subject: scale-out %s\r\nMessage-ID: <%s>\r\n"
            b"Date: Mon, 7 Dec 2026 21:00:00 +0000\r\n\r\nbody of %s\r\n"
            % (mid.encode(), mid.encode(), mid.encode()))


class Client(threading.Thread):
    """A load client: random commands on the shared mailboxes until stop
    is set; on a dropped connection it logs in on the next host."""

    def __init__(self, n, hosts, host_i, rec, stop, run_id, user="alice", pw="pw-alice"):
        super().__init__(daemon=True)
        self.n, self.hosts, self.host_i, self.rec, self.stop = n, hosts, host_i, rec, stop
        self.run_id, self.user, self.pw = run_id, user, pw
        self.rng = random.Random(n * 7919 + hash(run_id) % 1000)
        self.conn = None
        self.box = None
        self.uids = []
        self.seq = 0
        self.seen_modseq = {}
        self.error = None
        self.push_share = 0.15  # of APPENDs; 0 when a bench counts Push's EXISTS

    # --- connection ---------------------------------------------------
    def connect(self):
        """Log in on the current host, else each next one, for up to
        ANSWER_TIMEOUT seconds (a host may be down, the database too)."""
        deadline = time.monotonic() + ANSWER_TIMEOUT
        while not self.stop.is_set() and time.monotonic() < deadline:
            addr, port = self.hosts[self.host_i]
            try:
                self.conn = Conn(addr, port, self.user, self.pw)
                self.select(self.rng.choice(LIVE))
                return True
            except (OSError, Dropped) as e:
                self.note_answer(b"connect", e.args[0] if isinstance(e, Dropped) and
                                 isinstance(e.args[0], bytes) and e.args[0].startswith(b"c")
                                 else ("CONNECT %s" % e).encode())
                self.drop()
                self.host_i = (self.host_i + 1) % len(self.hosts)
                time.sleep(0.2)
        return False

    def drop(self):
        if self.conn:
            self.conn.close()
        self.conn = None
        self.seen_modseq = {}

    def note_answer(self, cmd, answer):
        self.rec.add("answers", (self.rec.phase, self.host_i, cmd, answer.strip(), time.monotonic()))

    def run(self):
        try:
            while not self.stop.is_set():
                if self.conn is None and not self.connect():
                    continue
                try:
                    self.step()
                except Dropped as e:
                    self.note_answer(b"(any)", str(e.args[0]).encode()
                                     if not isinstance(e.args[0], bytes) else e.args[0])
                    self.drop()
                    self.host_i = (self.host_i + 1) % len(self.hosts)
                except socket.timeout:
                    self.rec.add("violations", "client %d: no answer within %ds (host %d, %s) to %r"
                                 % (self.n, ANSWER_TIMEOUT, self.host_i, self.rec.phase,
                                    self.conn.last))
                    self.drop()
                except OSError as e:
                    self.note_answer(b"(any)", b"RESET")
                    self.drop()
                    self.host_i = (self.host_i + 1) % len(self.hosts)
        except Exception as e:  # a bug in the test itself: fail loudly
            self.error = e
        finally:
            self.drop()

    # --- commands -----------------------------------------------------
    def do(self, text, literal=None):
        """Run a command; the tagged answer, untagged lines and timing.
        An answer that is not OK is recorded; MODSEQs are checked."""
        t0 = time.monotonic()
        tagged, untagged = self.conn.cmd(text, literal)
        t1 = time.monotonic()
        for line in untagged + [tagged]:
            self.watch_line(line, t0, t1)
        if not re.match(rb"^\S+ OK ", tagged) or b"[MODIFIED" in tagged:
            self.note_answer(text.split(b" {")[0][:60], tagged)
        else:
            self.rec.add("oks", (self.host_i, t1))
        return tagged, untagged, t0, t1

    def watch_line(self, line, t0, t1):
        m = _FETCH_MODSEQ.match(line)
        if m:
            uid, ms = int(m.group(1)), int(m.group(2))
            key = (self.box, uid)
            if ms < self.seen_modseq.get(key, 0):
                self.rec.add("violations", "client %d: %s UID %d MODSEQ %d after %d"
                             % (self.n, self.box, uid, ms, self.seen_modseq[key]))
            self.seen_modseq[key] = max(ms, self.seen_modseq.get(key, 0))
        if line.startswith(b"* OK [HIGHESTMODSEQ ") and self.box:
            self.rec.add("hms", (self.box, int(_HMS.search(line).group(1)), t0, t1))

    def select(self, box):
        self.box = box
        self.seen_modseq = {}
        tagged, _, _, _ = self.do(b"SELECT %s (CONDSTORE)" % box.encode())
        if b" OK" not in tagged:
            self.box = None
            return
        self.refresh()

    def refresh(self):
        tagged, untagged, _, _ = self.do(b"UID SEARCH ALL")
        self.uids = [int(x) for line in untagged if line.startswith(b"* SEARCH")
                     for x in line.split()[2:]]

    def step(self):
        if self.box is None:
            return self.select(self.rng.choice(LIVE))
        r = self.rng.random()
        for limit, fn in ((0.30, self.op_append), (0.38, self.op_select), (0.46, self.op_copy),
                          (0.60, self.op_move), (0.76, self.op_store), (0.86, self.op_expunge),
                          (0.92, self.op_idle), (1.0, self.op_status)):
            if r < limit:
                return fn()

    def op_append(self):
        self.seq += 1
        doomed = self.rng.random() < 0.25
        box = PUSH if self.rng.random() < self.push_share else self.rng.choice(LIVE)
        mid = "%s.%d.%d%s@scaleout" % (self.run_id, self.n, self.seq, ".doomed" if doomed else "")
        with self.rec.lock:
            self.rec.attempted.add(mid)
        tagged, _, t0, t1 = self.do(b"APPEND %s ()" % box.encode(), message(mid))
        if re.match(rb"^\S+ OK ", tagged):
            with self.rec.lock:
                self.rec.acked[mid] = box
            self.note_uid(box, tagged, t0, t1)
            if box == PUSH:
                m = _UIDPLUS.search(tagged)
                self.rec.add("push", (int(m.group(4)), t1, self.host_i))

    def note_uid(self, box, tagged, t0, t1):
        m = _UIDPLUS.search(tagged)
        if not m:
            self.rec.add("violations", "client %d: no UIDPLUS code in %r" % (self.n, tagged))
            return
        if b"," in m.group(4) or b":" in m.group(4):
            return
        self.rec.add("uids", (box, int(m.group(2)), int(m.group(4)), t0, t1))

    def op_select(self):
        self.select(self.rng.choice(LIVE))

    def pick(self):
        if not self.uids:
            self.refresh()
        return self.rng.choice(self.uids) if self.uids else None

    def op_copy(self):
        uid = self.pick()
        if uid is None:
            return
        tagged, _, t0, t1 = self.do(b"UID COPY %d %s" % (uid, ARCHIVE.encode()))
        if b"[COPYUID" in tagged:
            self.note_uid(ARCHIVE, tagged, t0, t1)

    def op_move(self):
        uid = self.pick()
        if uid is None:
            return
        dest = self.rng.choice([b for b in LIVE if b != self.box])
        tagged, untagged, t0, t1 = self.do(b"UID MOVE %d %s" % (uid, dest.encode()))
        for line in untagged + [tagged]:
            if b"[COPYUID" in line:
                self.note_uid(dest, line, t0, t1)
        self.uids = [u for u in self.uids if u != uid]

    def op_store(self):
        uid = self.pick()
        if uid is None:
            return
        tagged, untagged, _, _ = self.do(b"UID FETCH %d (MODSEQ)" % uid)
        ms = [int(m.group(2)) for m in map(_FETCH_MODSEQ.match, untagged) if m]
        if not ms:
            return
        sign = self.rng.choice([b"+", b"-"])
        tagged, untagged, _, _ = self.do(b"UID STORE %d (UNCHANGEDSINCE %d) %sFLAGS (\\Flagged)"
                                         % (uid, ms[0], sign))
        after = [int(m.group(2)) for m in map(_FETCH_MODSEQ.match, untagged)
                 if m and int(m.group(1)) == uid]
        # equal: the flag was already so (no change, no new MODSEQ)
        if after and after[-1] < ms[0]:
            self.rec.add("violations", "client %d: STORE of UID %d left MODSEQ %d (was %d)"
                         % (self.n, uid, after[-1], ms[0]))

    def op_expunge(self):
        tagged, untagged, _, _ = self.do(b"UID SEARCH HEADER Message-ID doomed")
        doomed = [int(x) for line in untagged if line.startswith(b"* SEARCH")
                  for x in line.split()[2:]]
        if not doomed:
            return
        some = b",".join(b"%d" % u for u in self.rng.sample(doomed, min(3, len(doomed))))
        self.do(b"UID STORE %s +FLAGS.SILENT (\\Deleted)" % some)
        self.do(b"UID EXPUNGE %s" % some if self.rng.random() < 0.5 else b"EXPUNGE")
        self.uids = []

    def op_idle(self):
        """IDLE for a moment; what arrived meanwhile is read with the
        tagged answer to DONE."""
        tag = self.conn.tag()
        t0 = time.monotonic()
        self.conn.last = (tag, b"IDLE", time.time())
        self.conn.send(tag + b" IDLE\r\n")
        first = self.conn.until_continuation(lambda line: self.watch_line(line, t0, t0))
        if not first.startswith(b"+"):
            self.note_answer(b"IDLE", first)
            return
        time.sleep(0.3)
        self.conn.send(b"DONE\r\n")
        tagged, untagged = self.conn.read_tagged(tag)
        for line in untagged:
            self.watch_line(line, t0, time.monotonic())
        if b" OK" not in tagged:
            self.note_answer(b"IDLE", tagged)

    def op_status(self):
        box = self.rng.choice(LIVE + (ARCHIVE,))
        tagged, untagged, t0, t1 = self.do(b"STATUS %s (HIGHESTMODSEQ UIDNEXT)" % box.encode())
        for line in untagged:
            m = _HMS.search(line)
            if line.startswith(b"* STATUS") and m:
                self.rec.add("hms", (box, int(m.group(1)), t0, t1))


class Watcher(threading.Thread):
    """An IDLE session on Push: records when each EXISTS count arrived."""

    def __init__(self, addr, port, host_i, user="alice", pw="pw-alice"):
        super().__init__(daemon=True)
        self.conn = Conn(addr, port, user, pw)
        self.host_i = host_i
        self.seen = []  # (exists, t)
        self.stop = threading.Event()
        self.error = None
        tagged, untagged = self.conn.cmd(b"SELECT %s" % PUSH.encode())
        assert b" OK" in tagged, tagged
        for line in untagged:
            self.note(line)
        self.conn.send(b"w1 IDLE\r\n")
        assert self.conn.until_continuation(self.note).startswith(b"+"), "IDLE refused"
        # it blocks in read until finish() shuts the socket down
        self.conn.sock.settimeout(None)

    def note(self, line):
        m = _EXISTS.match(line)
        if m:
            self.seen.append((int(m.group(1)), time.monotonic()))

    def exists(self):
        return self.seen[-1][0] if self.seen else 0

    def run(self):
        try:
            while not self.stop.is_set():
                self.note(self.conn.line())
        except Dropped as e:
            if not self.stop.is_set():
                self.error = e
        except Exception as e:
            self.error = e

    def finish(self):
        self.stop.set()
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.join(5)
        self.conn.close()


def realtime_order(items, strict):
    """items: (key, value, t_start, t_end). Where one item ended before
    another (same key) began, the later one's value must be greater
    (strict) or not smaller. The pairs that break that."""
    bad = []
    by_key = {}
    for it in items:
        by_key.setdefault(it[0], []).append(it)
    for key, its in by_key.items():
        ends = sorted(its, key=lambda x: x[3])
        end_times = [x[3] for x in ends]
        prefix, best = [], None
        for x in ends:
            best = x if best is None or x[1] > best[1] else best
            prefix.append(best)
        for x in its:
            i = bisect.bisect_left(end_times, x[2])
            if i == 0:
                continue
            prior = prefix[i - 1]
            if x[1] < prior[1] or (strict and x[1] == prior[1]):
                bad.append((key, prior, x))
    return bad


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))] if v else None
