"""Issue 4: the mbox INBOX shared with a local MDA under load. While one
session IDLEs on INBOX and another keeps changing flags and expunging, an
MDA (mda.py: dotlockfile + fcntl lock + append, as Debian's MDAs deliver)
writes 1,000 messages straight into the file. Afterwards every delivered
message is there exactly once and byte for byte, the other session's
acknowledged changes hold, nothing else appeared, the IDLE session was told
about every message, and the file itself reads back the same through an
independent parser (mboxfmt)."""
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time

import pytest

import mboxfmt
from conftest import IS_ROOT
from readable import readable_tree
from imapresp import fetch_items
from rfc9051_common import Session

# About mbox files or processes, not the storage interface.
BACKENDS = ["mbox"]

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/dotlockfile"),
                                reason="dotlockfile (liblockfile-bin) is not installed "
                                       "(scripts/install-deps installs it)")

HERE = os.path.dirname(os.path.abspath(__file__))
N_DELIVERIES = 1000          # required by the issue
N_OWN = 40                   # messages the flagging session appends itself
SEED = 20261122
FLAGS = ["\\Flagged", "\\Answered", "\\Seen", "\\Draft", "$Label1", "custom"]


def login(haven):
    """A logged-in raw session; a refused login reports the daemon's log."""
    try:
        return Session(haven)
    except AssertionError as e:
        raise AssertionError("%s\nhavend log (end):\n%s" % (e, haven.log_text()[-6000:]))


class IdleWatcher(threading.Thread):
    """A session IDLEing on INBOX, keeping the message count the server's
    untagged EXISTS/EXPUNGE responses imply."""

    def __init__(self, haven):
        super().__init__(daemon=True)
        self.s = login(haven)
        lines = self.s.ok(b"SELECT INBOX")
        self.count = [int(m.group(1)) for m in
                      (re.match(rb"\* (\d+) EXISTS", l) for l in lines) if m][0]
        self.exists_seen = 0
        self.expunges = 0
        self.errors = []
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.s.send(b"I IDLE\r\n")
        line = self.s.response()
        assert line.startswith(b"+"), line

    def run(self):
        try:
            self.s.sock.settimeout(None)
            while True:
                r = self.s.response()
                if r.startswith(b"I "):
                    if not r.startswith(b"I OK"):
                        self.errors.append(r)
                    break
                m = re.match(rb"\* (\d+) (EXISTS|EXPUNGE)\r\n", r)
                with self.lock:
                    if m and m.group(2) == b"EXISTS":
                        n = int(m.group(1))
                        if n < self.count:
                            self.errors.append("EXISTS went down: %d after %d" % (n, self.count))
                        self.count = n
                        self.exists_seen += 1
                    elif m:
                        n = int(m.group(1))
                        if not 1 <= n <= self.count:
                            self.errors.append("EXPUNGE %d with %d messages" % (n, self.count))
                        self.count -= 1
                        self.expunges += 1
                    elif not re.match(rb"\* (\d+ FETCH|\d+ RECENT|OK|FLAGS)", r):
                        self.errors.append(r)
        except Exception as e:   # noqa: BLE001 - reported by the test
            self.errors.append(repr(e))
        finally:
            self.done.set()

    def stop(self):
        self.s.send(b"DONE\r\n")
        assert self.done.wait(60), "IDLE did not end after DONE"
        self.s.close()


def tagged_ok(lines):
    last = lines[-1].split(b" ", 2)
    assert last[1] in (b"OK", b"NO"), lines[-1]
    return last[1] == b"OK"


def fetch_all(s, total, items, chunk=250):
    out = {}
    for lo in range(1, total + 1, chunk):
        hi = min(total, lo + chunk - 1)
        lines = s.ok(b"FETCH %d:%d (%s)" % (lo, hi, items))
        out.update(fetch_items(b"".join(lines[:-1])))
    assert sorted(out) == list(range(1, total + 1))
    return out


def flagset(v):
    return {bytes(x).decode() for x in v} - {"\\Recent"}


class Flagger:
    """The second session: appends its own messages, then keeps changing
    flags (its own messages and delivered ones) and expunging some of its
    own, remembering what the server acknowledged."""

    def __init__(self, haven, rng):
        self.rng = rng
        self.s = login(haven)
        self.own = {}          # msgid -> uid (still there)
        self.bodies = {}       # msgid -> bytes
        self.expected = {}     # msgid -> flags the server acknowledged
        self.expunged = set()
        self.ops = {"store": 0, "store-mda": 0, "expunge": 0, "no": 0}
        for i in range(N_OWN):
            msg = mboxfmt.make_message("own", i, rng.choice([300, 1500, 5000]), rng,
                                       escapes=i % 3 == 0)
            flags = set(rng.sample(FLAGS, rng.randint(0, 2)))
            lines = self.s.append(b"INBOX", msg, flags=" ".join(sorted(flags)).encode())
            uid = int(re.search(rb"APPENDUID \d+ (\d+)", lines[-1]).group(1))
            mid = mboxfmt.message_id(msg)
            self.own[mid], self.bodies[mid], self.expected[mid] = uid, msg, flags
        self.s.ok(b"SELECT INBOX")

    def cmd(self, command):
        ok = tagged_ok(self.s.cmd(command))
        if not ok:
            self.ops["no"] += 1
        return ok

    def step(self):
        r = self.rng.random()
        if r < 0.4 and self.own:
            mid = self.rng.choice(sorted(self.own))
            op = self.rng.choice(["+", "-"])
            flags = set(self.rng.sample(FLAGS, self.rng.randint(1, 3)))
            if self.cmd(b"UID STORE %d %sFLAGS (%s)" % (self.own[mid], op.encode(),
                                                        " ".join(sorted(flags)).encode())):
                self.expected[mid] = (self.expected[mid] | flags if op == "+"
                                      else self.expected[mid] - flags)
            self.ops["store"] += 1
        elif r < 0.75:
            # A delivered message: the newest, or any of them.
            lines = self.s.ok(b"FETCH * (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            items = fetch_items(b"".join(lines[:-1]))
            if not items:
                return
            seq = max(items)
            if self.rng.random() < 0.5:
                seq = self.rng.randint(1, seq)
                items = fetch_items(b"".join(self.s.ok(
                    b"FETCH %d (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])" % seq)[:-1]))
            it = items[seq]
            mid = mboxfmt.message_id(it[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"])
            if mid is None or not mid.startswith("mda."):
                return
            flags = set(self.rng.sample(["\\Answered", "\\Flagged", "$Label1", "seen-by-b"],
                                        self.rng.randint(1, 2)))
            if self.cmd(b"UID STORE %d +FLAGS.SILENT (%s)" % (int(it[b"UID"]),
                                                              " ".join(sorted(flags)).encode())):
                self.expected[mid] = self.expected.get(mid, set()) | flags
            self.ops["store-mda"] += 1
        elif len(self.own) > N_OWN // 2:
            mids = self.rng.sample(sorted(self.own), self.rng.randint(1, 2))
            uids = b",".join(b"%d" % self.own[m] for m in mids)
            if not self.cmd(b"UID STORE %s +FLAGS.SILENT (\\Deleted)" % uids):
                return
            for m in mids:
                self.expected[m] = self.expected[m] | {"\\Deleted"}
            if self.cmd(b"UID EXPUNGE %s" % uids):
                for m in mids:
                    del self.own[m]
                    self.expunged.add(m)
            self.ops["expunge"] += 1


def test_mda_delivers_1000_while_idle_and_flag_changes(haven):
    rng = random.Random(SEED)
    inbox = os.path.join(haven.home_root, "alice", "INBOX")
    b = Flagger(haven, rng)               # creates INBOX, appends its own mail
    watcher = IdleWatcher(haven)
    watcher.start()

    kw = {}
    if IS_ROOT:
        kw = dict(user=haven.mail_user, group=os.stat(inbox).st_gid)
    # The MDA runs as the mail user, who may not reach the checkout.
    code = readable_tree({name: os.path.join(HERE, name)
                          for name in ("mda.py", "mboxfmt.py", "procs.py")})
    t0 = time.time()
    mda = subprocess.Popen([sys.executable, os.path.join(code, "mda.py"), inbox, "mda", "0",
                            str(N_DELIVERIES), str(SEED)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    steps = 0
    try:
        while mda.poll() is None:
            b.step()
            steps += 1
            time.sleep(rng.uniform(0, 0.005))
        out, err = mda.communicate(timeout=120)
    finally:
        if mda.poll() is None:
            mda.kill()
            mda.wait()
        shutil.rmtree(code, ignore_errors=True)
    mda_time = time.time() - t0
    assert mda.returncode == 0, err.decode(errors="replace")
    assert out.decode().splitlines()[-1] == "done", out[-500:]
    tries = [int(x.split()[1]) for x in out.decode().splitlines()[:-1]]
    assert len(tries) == N_DELIVERIES
    b.s.ok(b"NOOP")

    # The final state, from a fresh session.
    c = login(haven)
    sel = c.ok(b"SELECT INBOX")
    total = [int(m.group(1)) for m in (re.match(rb"\* (\d+) EXISTS", l) for l in sel) if m][0]
    assert total == N_DELIVERIES + len(b.own), (total, len(b.own))

    # The IDLE session was told about all of it.
    assert mboxfmt.wait_for(lambda: watcher.count == total or watcher.errors, 60), \
        (watcher.count, total)
    watcher.stop()
    assert not watcher.errors, watcher.errors[:5]
    assert watcher.count == total
    assert watcher.exists_seen > 0 and watcher.expunges == len(b.expunged)

    items = fetch_all(c, total, b"UID FLAGS BODY.PEEK[]")
    seen = {}
    for seq in sorted(items):
        it = items[seq]
        body = it[b"BODY[]"]
        mid = mboxfmt.message_id(body)
        assert mid is not None, body[:300]
        assert mid not in seen, "%s twice (seq %d and %d)" % (mid, seen[mid][0], seq)
        seen[mid] = (seq, int(it[b"UID"]), flagset(it[b"FLAGS"]), body)
    uids = [seen[m][1] for m in sorted(seen, key=lambda m: seen[m][0])]
    assert uids == sorted(set(uids)), "UIDs not strictly ascending"

    # Every delivery, exactly once and byte for byte (CRLF form).
    import mda as mda_mod
    for i in range(N_DELIVERIES):
        want = mda_mod.message("mda", i, SEED)
        mid = mboxfmt.message_id(want)
        assert mid in seen, "delivery %d (%s) missing" % (i, mid)
        got = seen[mid][3]
        assert got == want, "delivery %d differs:\n%r\n%r" % (i, got[:400], want[:400])
        assert mboxfmt.check_digest(got)
        assert seen[mid][2] == b.expected.get(mid, set()), (mid, seen[mid][2])
    # The flagging session's own messages: expunged ones gone, the others
    # intact with the flags it was last told.
    for mid in b.expunged:
        assert mid not in seen, "expunged %s is back" % mid
    for mid, uid in b.own.items():
        assert mid in seen, "%s (uid %d) lost" % (mid, uid)
        assert seen[mid][1] == uid
        assert seen[mid][3] == b.bodies[mid]
        assert seen[mid][2] == b.expected[mid], (mid, seen[mid][2], b.expected[mid])
    assert len(seen) == N_DELIVERIES + len(b.own)

    # The file, read independently, says the same. (The newest deliveries
    # may have no X-UID in the file yet: readers of a big file leave writing
    # them down to the next writer; their UIDs are then implied.)
    msgs, base = mboxfmt.parse_file(inbox, require_uids=False)
    assert len(msgs) == total
    for m in msgs:
        mid = mboxfmt.message_id(m.imap)
        assert mid in seen, m
        _, uid, flags, body = seen[mid]
        assert m.imap == body, m
        assert m.uid in (None, uid), (mid, m.uid, uid)
        assert m.flags == flags, (mid, m.flags, flags)
    left = [n for n in os.listdir(os.path.dirname(inbox))
            if n.endswith(".lock") or n.startswith(".haven-tmp")]
    assert not left, left
    c.close()
    b.s.close()
    print("deliveries %d in %.1fs (lock attempts max %d, mean %.2f); flagger steps %d %r; "
          "IDLE: %d EXISTS, %d EXPUNGE" % (N_DELIVERIES, mda_time, max(tries),
                                          sum(tries) / len(tries), steps, b.ops,
                                          watcher.exists_seen, watcher.expunges))
