"""The PostgreSQL store under kill -9 and under a database restart.

Many trials: a session starts an APPEND, STORE, EXPUNGE, COPY or MOVE and
alice's worker is SIGKILLed at a random moment. After each trial a new
session looks at both mailboxes and the database itself:

* an acknowledged command took effect completely;
* an unacknowledged one took effect completely or not at all (an APPEND's
  message is there once or not at all, a STORE changed all its messages
  or none, a COPY added all or nothing, a MOVE moved all or nothing);
* UIDs never change and are never given out twice;
* the counters the triggers keep match the rows, every body is referenced
  as often as its refs say, and no half-uploaded body is visible.

A `pg_ctl restart` in the middle of a stream of APPENDs: every APPEND that
got OK is stored exactly once, the others got NO [UNAVAILABLE], and the
session goes on once the database is back."""
import os
import random
import re
import signal
import threading
import time

import pytest

from procs import children_of
from rfc9051_common import Session, lit

BACKENDS = ["pgsql"]
TRIALS = int(os.environ.get("HAVEN_CRASH_TRIALS", "120"))


def worker_pid(h, user="alice"):
    for pid, argv in children_of(h.proc.pid):
        if argv and os.path.basename(argv[0]) == "haven-worker" and user in argv:
            return pid
    return None


def state(h):
    """{mailbox: {uid: (msgid, flags)}} through a fresh session."""
    s = Session(h)
    out = {}
    for box in (b"INBOX", b"Other"):
        s.ok(b"SELECT " + box)
        msgs = {}
        for line in s.ok(b"FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (Message-ID)])")[:-1]:
            m = re.search(rb"UID (\d+)", line)
            fl = re.search(rb"FLAGS \(([^)]*)\)", line)
            mid = re.search(rb"Message-ID: <([^>]+)>", line)
            if m and mid:
                flags = set(fl.group(1).split()) - {b"\\Recent"}
                msgs[int(m.group(1))] = (mid.group(1), frozenset(flags))
        out[box] = msgs
    s.close()
    return out


def check_database(h):
    """Counters and references agree with the rows."""
    q = h.pg.psql
    bad = q("""SELECT m.name FROM haven.mailboxes m WHERE m.messages <>
                 (SELECT count(*) FROM haven.messages x WHERE x.mailbox_id = m.id)
                 OR m.unseen <> (SELECT count(*) FROM haven.messages x
                                 WHERE x.mailbox_id = m.id AND x.flags & 1 = 0)
                 OR m.bytes <> (SELECT coalesce(sum(size), 0) FROM haven.messages x
                                WHERE x.mailbox_id = m.id)""", db=h.db)
    assert bad == "", "counters disagree with rows in " + bad
    bad = q("""SELECT b.id FROM haven.bodies b LEFT JOIN haven.body_refs r ON r.body_id = b.id
                 WHERE b.sha256 IS NOT NULL AND coalesce(r.refs, 0) <>
                 (SELECT count(*) FROM haven.messages x WHERE x.body_id = b.id)""", db=h.db)
    assert bad == "", "body references disagree: " + bad
    bad = q("""SELECT u.login FROM haven.users u WHERE u.used_messages <>
                 (SELECT count(*) FROM haven.messages x JOIN haven.mailboxes m
                  ON m.id = x.mailbox_id WHERE m.user_id = u.id)""", db=h.db)
    assert bad == "", "quota usage disagrees: " + bad


def message(n):
    return (b"From: crash@example.org\r\nMessage-ID: <m%d@crash>\r\nSubject: trial %d\r\n\r\n"
            % (n, n)) + b"line of the body\r\n" * random.randint(1, 3000)


def start(h, s, op, model):
    """Send op's command; returns (tag, description of the change)."""
    inbox = sorted(model[b"INBOX"])
    tag = b"T%d" % random.randint(1, 1 << 30)
    if op == "append" or not inbox:
        n = random.randint(1, 1 << 30)
        s.send(tag + b" APPEND INBOX " + lit(message(n)) + b"\r\n")
        return tag, ("append", b"m%d@crash" % n)
    pick = sorted(random.sample(inbox, min(len(inbox), random.randint(1, 4))))
    uids = b",".join(b"%d" % u for u in pick)
    if op == "store":
        flag = random.choice([b"\\Flagged", b"\\Seen", b"$Work"])
        s.send(tag + b" UID STORE " + uids + b" +FLAGS.SILENT (" + flag + b")\r\n")
        return tag, ("store", pick, flag)
    if op == "expunge":
        s.send(tag + b" UID STORE " + uids + b" +FLAGS.SILENT (\\Deleted)\r\n" +
               tag + b"x UID EXPUNGE " + uids + b"\r\n")
        return tag + b"x", ("expunge", pick)
    s.send(tag + b" UID " + op.upper().encode() + b" " + uids + b" Other\r\n")
    return tag, (op, pick)


def outcome(s, tag):
    """True (OK), False (NO/BAD) or None (no answer: killed first)."""
    try:
        for line in s.until(tag)[-1:]:
            return line.split()[1] == b"OK"
    except (EOFError, OSError):
        return None


def judge(model, now, change, acked):
    """now must be model with change applied (acked) or model or that."""
    kind = change[0]
    old_in, new_in = model[b"INBOX"], now[b"INBOX"]
    old_ot, new_ot = model[b"Other"], now[b"Other"]
    if kind == "append":
        found = [u for u, (mid, _) in new_in.items() if mid == change[1]]
        assert len(found) <= 1, ("appended twice", change)
        assert found or not acked, ("acknowledged APPEND lost", change)
        assert all(u not in old_in for u in found) and all(u > max(old_in, default=0)
                                                           for u in found)
        return
    pick = change[1]
    if kind == "store":
        have = [change[2] in new_in[u][1] for u in pick if u in new_in]
        before = [change[2] in old_in[u][1] for u in pick if u in old_in]
        assert all(have) or (not acked and have == before), ("STORE half done", change)
        return
    if kind == "expunge":
        gone = [u not in new_in for u in pick]
        assert all(gone) or (not acked and not any(gone)), ("EXPUNGE half done", change)
        return
    mids = {old_in[u][0] for u in pick}
    added = {mid for u, (mid, _) in new_ot.items() if u not in old_ot}
    assert added in (set(), mids), ("COPY/MOVE half done", change, added)
    assert added or not acked, ("acknowledged COPY/MOVE lost", change)
    if kind == "move":
        still = [u in new_in for u in pick]
        assert (added and not any(still)) or (not added and all(still)), ("MOVE half done", change)
    for box in (b"INBOX", b"Other"):
        for u in now[box]:
            if u in model[box]:
                assert now[box][u][0] == model[box][u][0], ("UID changed meaning", box, u)


def test_kill_worker_during_every_operation(haven):
    s = Session(haven)
    s.ok(b"CREATE Other")
    for i in range(6):
        s.ok(b"APPEND INBOX " + lit(message(i)))
    s.close()
    model = state(haven)
    ops = ["append", "store", "expunge", "copy", "move"]
    killed = 0
    for trial in range(TRIALS):
        s = Session(haven)
        s.ok(b"SELECT INBOX")
        pid = worker_pid(haven)
        tag, change = start(haven, s, random.choice(ops), model)
        time.sleep(random.random() * 0.02)
        if pid and random.random() < 0.85:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        acked = outcome(s, tag)
        s.close()
        # (the master reaps it: until then a login could go to it)
        deadline = time.time() + 10
        while pid and os.path.exists("/proc/%d" % pid) and time.time() < deadline:
            time.sleep(0.02)
        now = state(haven)
        judge(model, now, change, acked is True)
        check_database(haven)
        model = now
    assert killed > TRIALS // 2
    # what a killed upload may have left is no message and is swept
    haven.pg.psql("SELECT haven.sweep(interval '0')", db=haven.db)


def test_database_restart_during_appends(haven):
    s = Session(haven)
    s.ok(b"CREATE Other")
    results = {}
    stop = threading.Event()

    def restart():
        time.sleep(1.0)
        haven.pg.restart()
        stop.set()

    t = threading.Thread(target=restart)
    t.start()
    n = 0
    while not stop.is_set() or n < 40:
        n += 1
        tag = b"R%d" % n
        s.send(tag + b" APPEND INBOX " + lit(message(100000 + n)) + b"\r\n")
        line = s.until(tag)[-1]
        results[b"m%d@crash" % (100000 + n)] = line.split()[1]
        if line.split()[1] != b"OK":
            assert b"[UNAVAILABLE]" in line, line
        if n > 2000:
            break
    t.join()
    assert b"NO" in results.values(), "the restart was not noticed (too fast a machine?)"
    assert list(results.values())[-1] == b"OK", "the session did not recover"
    s.close()
    stored = {}
    for mid, _ in state(haven)[b"INBOX"].values():
        stored[mid] = stored.get(mid, 0) + 1
    for mid, res in results.items():
        if res == b"OK":
            assert stored.get(mid) == 1, (mid, stored.get(mid))
        else:
            assert stored.get(mid, 0) <= 1, (mid, stored.get(mid))
    check_database(haven)
