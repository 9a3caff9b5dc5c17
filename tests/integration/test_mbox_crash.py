"""Issue 4: kill -9 of the user's worker in the middle of mbox writes. Over
many iterations a session starts a flag STORE (in place or as a full
rewrite), an EXPUNGE (a rewrite) or an APPEND, and the test SIGKILLs
alice's haven-worker (found in /proc) at a random point: after a random
delay, or the moment a tight polling loop sees the write under way (the
dotlock appearing, the temp file of a rewrite appearing or half written,
the new file renamed into place, the file changing or growing).
Afterwards:

* a new session SELECTs the mailbox and can fetch every message;
* an independent strict parser of the file (mboxfmt) finds the same
  messages, flags and bytes;
* every message whose APPEND got a tagged OK is there, byte for byte, and
  there is no half-written message;
* acknowledged EXPUNGEs and STOREs hold; after an unacknowledged one,
  every message it named is there whole or gone, with its old flags or
  its new ones, nothing in between, and one command is applied to all of
  its messages or to none (an in-place STORE over several messages is
  undone from its journal by the next opener);
* UIDs never change and are never reused.

A killed worker leaves its dotlock behind: the next lock must take it
over (its pid is gone), and the temp file of a killed rewrite must go at
the next rewrite; the test leaves both to Haven."""
import os
import random
import re
import select
import signal
import subprocess
import time

import pytest

import mboxfmt
from imapresp import fetch_items
from rfc9051_common import Session, lit

# About mbox files or processes, not the storage interface.
BACKENDS = ["mbox"]

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/dotlockfile"),
                                reason="dotlockfile (liblockfile-bin) is not installed "
                                       "(scripts/install-deps installs it)")

FLAGS = ["\\Seen", "\\Flagged", "\\Answered", "\\Draft", "$Label1", "custom", "$Work"]
DOTLOCKFILE = "/usr/bin/dotlockfile"   # breaks a dead worker's lock as an MDA would


def login(haven):
    """A logged-in raw session; a refused login reports the daemon's log."""
    try:
        return Session(haven)
    except AssertionError as e:
        raise AssertionError("%s\nhavend log (end):\n%s" % (e, haven.log_text()[-6000:]))


class Model:
    """What the mailbox must hold: msgid -> [uid, flags, body]."""

    def __init__(self):
        self.msgs = {}
        self.uidnext = 0
        self.max_uid = 0
        self.made = 0

    def by_uid(self):
        return {v[0]: k for k, v in self.msgs.items()}


def inbox_path(haven):
    return os.path.join(haven.home_root, "alice", "INBOX")


EMPTY_LOCKS = []    # dotlocks found empty: the worker died between creating and filling it


def break_stale_dotlock(path):
    """After a kill, a dotlock the dead worker held stays behind. Haven
    itself must take it over (its pid is gone) at the next lock, so the test
    leaves it there; it only checks the lock carries a pid (Haven links a
    filled temp file into place, so a lock is never empty)."""
    lock = path + ".lock"
    try:
        with open(lock, "rb") as f:
            content = f.read()
    except FileNotFoundError:
        return
    if content == b"":
        EMPTY_LOCKS.append(lock)
    assert content.strip().isdigit() or content == b"" and not os.path.exists(lock), \
        "dotlock %s holds %r" % (lock, content)


def select_count(lines):
    exists = [int(m.group(1)) for m in (re.match(rb"\* (\d+) EXISTS", l) for l in lines) if m]
    uidnext = [int(m.group(1)) for m in
               (re.search(rb"\[UIDNEXT (\d+)\]", l) for l in lines) if m]
    return exists[0], uidnext[0]


def fetch_all(s, total, chunk=200):
    out = {}
    for lo in range(1, total + 1, chunk):
        hi = min(total, lo + chunk - 1)
        lines = s.ok(b"FETCH %d:%d (UID FLAGS BODY.PEEK[])" % (lo, hi))
        out.update(fetch_items(b"".join(lines[:-1])))
    assert sorted(out) == list(range(1, total + 1)), "not every message fetchable"
    return out


def flagset(v):
    return frozenset(bytes(x).decode() for x in v) - {"\\Recent"}


def fill(s, model, rng, n, tag):
    for _ in range(n):
        model.made += 1
        i = model.made
        msg = mboxfmt.make_message(tag, i, rng.choice([500, 4000, 15000, 40000]), rng,
                                   escapes=rng.random() < 0.3)
        flags = frozenset(rng.sample(FLAGS, rng.randint(0, 2)))
        lines = s.append(b"INBOX", msg, flags=" ".join(sorted(flags)).encode())
        uid = int(re.search(rb"APPENDUID \d+ (\d+)", lines[-1]).group(1))
        assert uid > model.max_uid, "UID %d handed out again" % uid
        model.max_uid = uid
        model.msgs[mboxfmt.message_id(msg)] = [uid, flags, msg]


def check(haven, model, maybe=None):
    """A new session and the file must both show exactly the model, plus
    any of maybe ({msgid: body}: unacknowledged APPENDs, which are either
    there whole or not at all; those found join the model). Returns the
    session (alice's new worker) with INBOX selected and the count."""
    maybe = maybe or {}
    s = login(haven)
    total, uidnext = select_count(s.ok(b"SELECT INBOX"))
    assert uidnext >= model.uidnext, "UIDNEXT went down: %d < %d" % (uidnext, model.uidnext)
    assert uidnext > model.max_uid
    model.uidnext = uidnext
    items = fetch_all(s, total)
    got = {}
    for seq, it in items.items():
        mid = mboxfmt.message_id(it[b"BODY[]"])
        assert mid in model.msgs or mid in maybe, \
            "unknown or damaged message %d: %r" % (seq, it[b"BODY[]"][:300])
        assert mid not in got, "%s twice" % mid
        got[mid] = (int(it[b"UID"]), flagset(it[b"FLAGS"]), it[b"BODY[]"])
        if mid in maybe:
            assert it[b"BODY[]"] == maybe[mid][0], \
                "half-written message %s: %d of %d bytes, UID %s" % (
                    mid, len(it[b"BODY[]"]), len(maybe[mid][0]), it[b"UID"])
            assert int(it[b"UID"]) > model.max_uid, "UID %s handed out again" % it[b"UID"]
            model.max_uid = int(it[b"UID"])
            model.msgs[mid] = [int(it[b"UID"]), maybe[mid][1], maybe[mid][0]]
    missing = set(model.msgs) - set(got)
    assert not missing, "lost: %r" % sorted(missing)[:5]
    for mid, (uid, flags, body) in got.items():
        want = model.msgs[mid]
        assert uid == want[0], "%s changed UID %d -> %d" % (mid, want[0], uid)
        assert body == want[2], "%s: bytes differ (%d vs %d)" % (mid, len(body), len(want[2]))
        assert flags == want[1], "%s: flags %r, expected %r" % (mid, sorted(flags),
                                                                sorted(want[1]))
    msgs, _ = mboxfmt.parse_file(inbox_path(haven))
    assert len(msgs) == total, "file holds %d messages, IMAP shows %d" % (len(msgs), total)
    by_uid = {v[0]: v for v in got.values()}
    for m in msgs:
        assert m.uid in by_uid, m
        assert m.imap == by_uid[m.uid][2], m
        assert m.flags == by_uid[m.uid][1], (m, by_uid[m.uid][1])
    return s, total


# ---- killing -------------------------------------------------------------

def poll_until(cond, sock, limit=10.0):
    """Spin (no sleeping) until cond() or the command's answer arrives."""
    deadline = time.time() + limit
    while not cond():
        if select.select([sock], [], [], 0)[0] or time.time() > deadline:
            return False
    return True


def tmp_files(d):
    return [n for n in os.listdir(d) if n.startswith(".haven-tmp")]


def kill_during(haven, s, command, mode, rng, expect_len=0, typical=0.05):
    """Send command on session s, SIGKILL alice's worker at the point mode
    says, and return whether the command got a tagged OK."""
    path = inbox_path(haven)
    d = os.path.dirname(path)
    pid = mboxfmt.worker_pid(haven)
    assert pid, "no worker for alice"
    st0 = os.stat(path)
    before = set(tmp_files(d))      # left by earlier crashes

    def new_tmp():
        return [n for n in tmp_files(d) if n not in before]
    tag = b"K%d" % rng.randrange(10 ** 6)
    s.send(tag + b" " + command + b"\r\n")
    if mode == "delay":
        time.sleep(rng.uniform(0, typical * 1.5))
    elif mode == "lock":
        poll_until(lambda: os.path.exists(path + ".lock"), s.sock)
    elif mode == "tmp":
        poll_until(new_tmp, s.sock)
    elif mode == "tmp-half":
        frac = rng.uniform(0.1, 0.9)

        def half():
            for n in new_tmp():
                try:
                    if os.stat(os.path.join(d, n)).st_size >= frac * st0.st_size:
                        return True
                except FileNotFoundError:
                    pass
            return False
        poll_until(half, s.sock)
    elif mode == "renamed":
        poll_until(lambda: os.stat(path).st_ino != st0.st_ino, s.sock)
    elif mode == "modified":
        # Any write to the file itself (in place, appended, or replaced).
        def changed():
            st = os.stat(path)
            return (st.st_ino, st.st_size, st.st_mtime_ns) != \
                (st0.st_ino, st0.st_size, st0.st_mtime_ns)
        poll_until(changed, s.sock)
    elif mode == "grow":
        poll_until(lambda: os.stat(path).st_size > st0.st_size, s.sock)
    elif mode == "grow-part":
        frac = rng.uniform(0.05, 0.95)
        poll_until(lambda: os.stat(path).st_size >= st0.st_size + frac * expect_len, s.sock)
    else:
        raise AssertionError(mode)
    os.kill(pid, signal.SIGKILL)
    acked, last = False, b""
    try:
        s.sock.settimeout(20)
        last = s.until(tag)[-1]
        acked = last.startswith(tag + b" OK")
        assert acked or last.startswith(tag + b" NO"), last
    except (EOFError, ConnectionResetError, OSError):
        pass
    s.close()
    assert mboxfmt.wait_for(lambda: mboxfmt.pid_reaped(pid), 20), "worker %d survived" % pid
    assert mboxfmt.wait_for(lambda: mboxfmt.worker_pid(haven) != pid, 20)
    return acked, last


def timed(s, command):
    t = time.time()
    s.ok(command)
    return time.time() - t


def uidset(uids):
    return b",".join(b"%d" % u for u in sorted(uids))


# ---- the tests -------------------------------------------------------------

def test_kill_during_flag_stores_and_expunges(haven):
    rng = random.Random(1122)
    model = Model()
    s = login(haven)
    s.ok(b"SELECT INBOX")
    fill(s, model, rng, 120, "crash")
    s.close()
    s, _ = check(haven, model)
    # How long a full rewrite of this mailbox takes (a keyword new to the
    # mailbox needs one), for the random delays.
    some = uidset(sorted(model.by_uid())[:3])
    typical = max(timed(s, b"UID STORE %s +FLAGS (calibrate1)" % some),
                  timed(s, b"UID STORE %s +FLAGS (calibrate2)" % some))
    for m in model.msgs.values():
        if m[0] in [int(x) for x in some.split(b",")]:
            m[1] = m[1] | {"calibrate1", "calibrate2"}
    s.close()
    s, _ = check(haven, model)

    modes = ["delay", "delay", "lock", "tmp", "tmp-half", "tmp-half", "renamed", "modified",
             "modified"]
    stats = {"acked": 0, "applied-unacked": 0, "not-applied": 0, "split": 0}
    iterations = 60
    t0 = time.time()
    for it in range(iterations):
        if len(model.msgs) < 80:
            fill(s, model, rng, 30, "refill")
        uid2mid = model.by_uid()
        mids = [uid2mid[u] for u in rng.sample(sorted(uid2mid), rng.randint(1, 12))]
        uids = uidset(model.msgs[m][0] for m in mids)
        mode = rng.choice(modes)
        if rng.random() < 0.6:
            op = rng.choice(["+", "-", ""])
            flags = set(rng.sample(FLAGS, rng.randint(1, 3)))
            if op != "-" and rng.random() < 0.3:
                flags.add("kw%d" % it)     # new to the mailbox: not an in-place change
            flags = frozenset(flags)
            cmd = b"UID STORE %s %sFLAGS (%s)" % (uids, op.encode(),
                                                  " ".join(sorted(flags)).encode())
            old = {m: model.msgs[m][1] for m in mids}
            new = {m: (old[m] | flags if op == "+" else old[m] - flags if op == "-"
                       else flags) for m in mids}
            acked, _ = kill_during(haven, s, cmd, mode, rng, typical=typical)
            break_stale_dotlock(inbox_path(haven))
            s = login(haven)
            s.ok(b"SELECT INBOX")
            got = fetch_items(b"".join(s.ok(b"UID FETCH %s (UID FLAGS)" % uids)[:-1]))
            now = {int(v[b"UID"]): flagset(v[b"FLAGS"]) for v in got.values()}
            hits = [now[model.msgs[m][0]] == new[m] for m in mids if new[m] != old[m]]
            applied = True if all(hits) else False if not any(hits) else None
            for m in mids:
                state = now[model.msgs[m][0]]
                if acked:
                    assert state == new[m], (it, mode, cmd, m, state)
                else:
                    # Each message has its old or its new flags, nothing else.
                    assert state in (new[m], old[m]), \
                        "STORE half-applied to %s: %r (%s, %s)" % (m, state, it, mode)
                model.msgs[m][1] = state
        else:
            s.ok(b"UID STORE %s +FLAGS.SILENT (\\Deleted)" % uids)
            for m in mids:
                model.msgs[m][1] = model.msgs[m][1] | {"\\Deleted"}
            acked, _ = kill_during(haven, s, b"UID EXPUNGE " + uids, mode, rng,
                                   typical=typical)
            break_stale_dotlock(inbox_path(haven))
            s = login(haven)
            s.ok(b"SELECT INBOX")
            lines = s.ok(b"UID SEARCH UID %s" % uids)
            left = {int(x) for l in lines if l.startswith(b"* SEARCH") for x in l.split()[2:]}
            if acked:
                assert not left, "acknowledged EXPUNGE of %s left %r" % (uids, left)
            # Unacknowledged: each message is there (whole: check() below
            # compares every byte) or gone.
            for m in mids:
                if model.msgs[m][0] not in left:
                    del model.msgs[m]
            applied = True if not left else False if len(left) == len(mids) else None
        if applied is None:
            stats["split"] += 1   # cut between two messages of one command
        else:
            stats["acked" if acked else "applied-unacked" if applied else "not-applied"] += 1
        s.close()
        s, _ = check(haven, model)
    s.close()
    print("%d iterations in %.1fs, rewrite ~%.3fs: %r, temp files left: %d, empty dotlocks: %d"
          % (iterations, time.time() - t0, typical, stats,
             len(tmp_files(os.path.dirname(inbox_path(haven)))), len(EMPTY_LOCKS)))
    # A command is atomic: never applied to some of its messages only.
    assert stats["split"] == 0, stats


def test_kill_during_appends(haven):
    rng = random.Random(2211)
    model = Model()
    s = login(haven)
    s.ok(b"SELECT INBOX")
    fill(s, model, rng, 20, "base")
    sizes = [2000, 60000, 400000, 1500000]
    typical = {}
    for size in sizes:
        model.made += 1
        msg = mboxfmt.make_message("timed", model.made, size, rng)
        t = time.time()
        uid = int(re.search(rb"APPENDUID \d+ (\d+)", s.append(b"INBOX", msg)[-1]).group(1))
        typical[size] = time.time() - t
        model.max_uid = uid
        model.msgs[mboxfmt.message_id(msg)] = [uid, frozenset(), msg]
    s.close()
    s, total = check(haven, model)
    modes = ["delay", "delay", "lock", "grow", "grow-part", "grow-part"]
    stats = {"acked": 0, "there-unacked": 0, "not-there": 0}
    # Every size with every way of killing, in random order.
    plan = [(size, mode) for size in sizes for mode in modes]
    rng.shuffle(plan)
    iterations = len(plan)
    for size, mode in plan:
        model.made += 1
        msg = mboxfmt.make_message("append", model.made, size, rng, escapes=rng.random() < 0.5)
        flags = frozenset(rng.sample(FLAGS, rng.randint(0, 2)))
        cmd = b"APPEND INBOX (%s) %s" % (" ".join(sorted(flags)).encode(), lit(msg))
        acked, last = kill_during(haven, s, cmd, mode, rng, expect_len=len(msg),
                                  typical=typical[size])
        mid = mboxfmt.message_id(msg)
        maybe = {}
        if acked:
            uid = int(re.search(rb"APPENDUID \d+ (\d+)", last).group(1))
            assert uid > model.max_uid
            model.max_uid = uid
            model.msgs[mid] = [uid, flags, msg]
        else:
            maybe[mid] = (msg, flags)
        break_stale_dotlock(inbox_path(haven))
        s, total = check(haven, model, maybe)
        stats["acked" if acked else "there-unacked" if mid in model.msgs else "not-there"] += 1
    s.close()
    print("%d appends: %r" % (iterations, stats))


def test_select_after_crash_with_stale_dotlock(haven_factory):
    h = haven_factory(extra_conf="lock_timeout = 2")
    rng = random.Random(3)
    model = Model()
    s = login(h)
    s.ok(b"SELECT INBOX")
    fill(s, model, rng, 40, "lock")
    lock = inbox_path(h) + ".lock"
    holder = None
    for attempt in range(20):
        # Killed the moment its dotlock appears (a STORE with a keyword new
        # to the mailbox: a full rewrite, the lock held throughout).
        kill_during(h, s, b"UID STORE 1:* +FLAGS (stale%d)" % attempt, "lock", rng)
        if os.path.exists(lock):
            with open(lock) as f:
                content = f.read().split()
            if content:
                holder = int(content[0])
                break
            raise AssertionError("an empty dotlock: killed between creating it and writing its pid")
        s = login(h)
        s.ok(b"SELECT INBOX")
    if holder is None:
        pytest.skip("could not kill the worker while it held the dotlock")
    assert mboxfmt.pid_reaped(holder), "the lock's holder %d is alive" % holder
    s = login(h)
    lines = s.cmd(b"SELECT INBOX")
    assert lines[-1].split()[1] == b"OK", lines[-1]
    s.close()


def test_no_temp_file_left_after_crash(haven):
    rng = random.Random(4)
    model = Model()
    s = login(haven)
    s.ok(b"SELECT INBOX")
    fill(s, model, rng, 40, "tmp")
    d = os.path.dirname(inbox_path(haven))
    for attempt in range(20):
        # A keyword new to the mailbox makes the STORE a full rewrite.
        kill_during(haven, s, b"UID STORE 1:* +FLAGS (crash%d)" % attempt, "tmp-half", rng)
        break_stale_dotlock(inbox_path(haven))
        s = login(haven)
        s.ok(b"SELECT INBOX")
        if tmp_files(d):
            break
    if not tmp_files(d):
        pytest.skip("no rewrite through a temp file was caught")
    # Later rewrites and new sessions (after the worker is gone) run fine...
    s.ok(b"UID STORE 1:* +FLAGS (later1)")
    s.ok(b"LOGOUT")
    s.close()
    assert mboxfmt.wait_for(lambda: mboxfmt.worker_pid(haven) is None, 30)
    s = login(haven)
    s.ok(b"SELECT INBOX")
    s.ok(b"UID STORE 1 +FLAGS (later2)")
    s.close()
    # ...and by now nothing of the crash should remain.
    assert tmp_files(d) == []
