"""QRESYNC (RFC 7162 section 3.2) on every store, the way a mobile client
uses it: select, remember UIDVALIDITY, HIGHESTMODSEQ and the UIDs,
disconnect; another session changes the mailbox; reselect with
(QRESYNC (...)) and get exactly the VANISHED (EARLIER) and FETCH responses
that bring the cache up to date. Plus UID FETCH (CHANGEDSINCE n VANISHED),
VANISHED instead of EXPUNGE, and the error cases the RFC names."""
import re

from rfc9051_common import Session, expand_set, simple_msg, tagged, untagged


def qsession(haven):
    s = Session(haven, rev2=True)
    assert s.ok(b"ENABLE QRESYNC")[0] == b"* ENABLED QRESYNC\r\n"
    return s


def select_state(out):
    st = {}
    for l in out:
        for key in (b"UIDVALIDITY", b"HIGHESTMODSEQ", b"UIDNEXT"):
            m = re.match(rb"\* OK \[%s (\d+)\]" % key, l)
            if m:
                st[key.decode()] = int(m.group(1))
        m = re.match(rb"\* (\d+) EXISTS", l)
        if m:
            st["EXISTS"] = int(m.group(1))
    return st


def vanished_earlier(lines):
    v = [l for l in lines if l.startswith(b"* VANISHED (EARLIER) ")]
    assert len(v) <= 1, lines
    return expand_set(v[0][21:].strip()) if v else []


def fetched(lines):
    """{uid: (modseq, flags)} from FETCH responses, which must carry both."""
    out = {}
    for l in lines:
        if b" FETCH " not in l:
            continue
        m = re.match(rb"\* \d+ FETCH \(UID (\d+) MODSEQ \((\d+)\) FLAGS \(([^)]*)\)\)\r\n$", l)
        assert m, l
        out[int(m.group(1))] = (int(m.group(2)), set(m.group(3).split()))
    return out


def fill(haven, n):
    s = qsession(haven)
    for i in range(1, n + 1):
        s.append(b"INBOX", simple_msg(i))
    out = s.ok(b"SELECT INBOX (CONDSTORE)")
    st = select_state(out)
    uids = [int(x) for x in re.findall(rb"UID (\d+)", b"".join(untagged(s.ok(b"UID FETCH 1:* (UID)"))))]
    s.close()
    return st, uids


def change_meanwhile(haven, uids):
    """Another client: expunge the 2nd and 4th, flag the 3rd, deliver one."""
    o = Session(haven)
    o.ok(b"SELECT INBOX")
    o.ok(b"UID STORE %d,%d +FLAGS.SILENT (\\Deleted)" % (uids[1], uids[3]))
    o.ok(b"UID EXPUNGE %d,%d" % (uids[1], uids[3]))
    o.ok(b"UID STORE %d +FLAGS.SILENT (\\Flagged)" % uids[2])
    o.append(b"INBOX", simple_msg(99))
    o.close()


def test_resync_after_offline_changes(haven):
    st, uids = fill(haven, 5)
    change_meanwhile(haven, uids)
    s = qsession(haven)
    known = b"%d:%d" % (uids[0], uids[-1])
    out = s.ok(b"SELECT INBOX (QRESYNC (%d %d %s))" % (st["UIDVALIDITY"], st["HIGHESTMODSEQ"], known))
    new = select_state(out)
    assert new["UIDVALIDITY"] == st["UIDVALIDITY"] and new["EXISTS"] == 4, out
    assert new["HIGHESTMODSEQ"] > st["HIGHESTMODSEQ"]
    assert vanished_earlier(out) == [uids[1], uids[3]], out
    f = fetched(out)
    # only the flagged one of the known UIDs changed; the new message is not
    # among the known UIDs
    assert list(f) == [uids[2]], out
    assert f[uids[2]][1] == {b"\\Flagged"} and f[uids[2]][0] <= new["HIGHESTMODSEQ"]
    # VANISHED comes before any FETCH (3.2.6)
    kinds = [l.split(b" ")[1] if l.startswith(b"* VANISHED") else b"FETCH"
             for l in out if l.startswith(b"* VANISHED") or b" FETCH " in l]
    assert kinds[0] == b"VANISHED", out
    s.close()


def test_resync_without_known_uids(haven):
    st, uids = fill(haven, 5)
    change_meanwhile(haven, uids)
    s = qsession(haven)
    out = s.ok(b"SELECT INBOX (QRESYNC (%d %d))" % (st["UIDVALIDITY"], st["HIGHESTMODSEQ"]))
    # 1:<UIDNEXT-1>: the expunged two, and the flag change and the new message
    assert vanished_earlier(out) == [uids[1], uids[3]], out
    f = fetched(out)
    assert len(f) == 2 and uids[2] in f, out
    newuid = max(f)
    assert newuid > uids[-1] and f[newuid][1] == set(), out
    s.close()


def test_resync_with_nothing_changed_reports_nothing(haven):
    st, uids = fill(haven, 3)
    s = qsession(haven)
    out = s.ok(b"SELECT INBOX (QRESYNC (%d %d 1:%d))" % (st["UIDVALIDITY"], st["HIGHESTMODSEQ"],
                                                         uids[-1]))
    assert vanished_earlier(out) == [] and fetched(out) == {}, out
    assert select_state(out)["HIGHESTMODSEQ"] == st["HIGHESTMODSEQ"]
    s.close()


def test_resync_with_wrong_uidvalidity(haven):
    st, uids = fill(haven, 5)
    change_meanwhile(haven, uids)
    s = qsession(haven)
    out = s.ok(b"SELECT INBOX (QRESYNC (%d 1 1:100))" % (st["UIDVALIDITY"] + 1))
    # 3.2.5: a UIDVALIDITY that is not the mailbox's: the rest is ignored,
    # nothing is reported (the client learns the real one from the SELECT)
    assert vanished_earlier(out) == [] and fetched(out) == {}, out
    assert select_state(out)["UIDVALIDITY"] == st["UIDVALIDITY"]
    s.close()


def test_uid_fetch_changedsince_vanished(haven):
    st, uids = fill(haven, 5)
    change_meanwhile(haven, uids)
    s = qsession(haven)
    s.ok(b"SELECT INBOX")
    out = s.ok(b"UID FETCH %d:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % (uids[0], st["HIGHESTMODSEQ"]))
    u = untagged(out)
    assert u[0].startswith(b"* VANISHED (EARLIER) "), u
    assert vanished_earlier(u) == [uids[1], uids[3]]
    assert sorted(fetched(u)) == sorted([uids[2], max(fetched(u))]) and len(fetched(u)) == 2
    # without VANISHED: only the FETCH part
    out = untagged(s.ok(b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % st["HIGHESTMODSEQ"]))
    assert vanished_earlier(out) == [] and len(fetched(out)) == 2
    s.close()


def test_vanished_replaces_expunge(haven):
    s = qsession(haven)
    for i in range(1, 5):
        s.append(b"INBOX", simple_msg(i))
    s.ok(b"SELECT INBOX")
    uids = [int(x) for x in re.findall(rb"UID (\d+)", b"".join(untagged(s.ok(b"UID FETCH 1:* (UID)"))))]
    s.ok(b"STORE 2,3 +FLAGS.SILENT (\\Deleted)")
    out = untagged(s.ok(b"EXPUNGE"))
    assert b"* VANISHED %d:%d\r\n" % (uids[1], uids[2]) in out, out
    assert not any(l.endswith(b" EXPUNGE\r\n") for l in out), out
    # another session's expunge arrives as VANISHED too
    o = Session(haven)
    o.ok(b"SELECT INBOX")
    o.ok(b"UID STORE %d +FLAGS.SILENT (\\Deleted)" % uids[3])
    o.ok(b"UID EXPUNGE %d" % uids[3])
    o.close()
    out = untagged(s.ok(b"NOOP"))
    assert out == [b"* VANISHED %d\r\n" % uids[3]] or b"* VANISHED %d\r\n" % uids[3] in out, out
    # STORE answers carry UID and MODSEQ (3.2.4)
    out = untagged(s.ok(b"STORE 1 +FLAGS (\\Seen)"))
    assert re.match(rb"\* 1 FETCH \(UID %d MODSEQ \(\d+\) FLAGS \(\\Seen\)\)\r\n$" % uids[0],
                    out[-1]), out
    # a FETCH that sets \Seen carries UID and MODSEQ
    s.ok(b"STORE 1 -FLAGS.SILENT (\\Seen)")
    out = [l for l in untagged(s.ok(b"FETCH 1 (BODY[TEXT])")) if b"FETCH" in l]
    assert re.match(rb"\* 1 FETCH \(UID %d MODSEQ \(\d+\) FLAGS \(\\Seen\) BODY\[TEXT\]" % uids[0],
                    out[0]), out
    s.close()


def test_without_enable_qresync(haven):
    s = Session(haven, rev2=True)
    s.append(b"INBOX", simple_msg(1))
    s.bad(b"SELECT INBOX (QRESYNC (1 1))")
    s.ok(b"SELECT INBOX")
    s.bad(b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
    # expunges stay EXPUNGE
    s.ok(b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    out = untagged(s.ok(b"EXPUNGE"))
    assert b"* 1 EXPUNGE\r\n" in out and not any(b"VANISHED" in l for l in out), out
    s.close()


def test_bad_arguments(haven):
    s = qsession(haven)
    s.append(b"INBOX", simple_msg(1))
    for bad in (b"(QRESYNC (0 1))", b"(QRESYNC (1))", b"(QRESYNC (1 0))", b"(QRESYNC (x 1))",
                b"(QRESYNC (1 1 1:*))", b"(QRESYNC (1 1 1:5 (1:2)))", b"(QRESYNC (1 1 1:5 (1 2) 3))",
                b"(QRESYNC 1 1)", b"(QRESYNC)", b"(QRESYNC (1 1) QRESYNC (1 1))"):
        s.bad(b"SELECT INBOX " + bad)
    s.ok(b"SELECT INBOX")
    s.bad(b"FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)")    # not for FETCH
    s.bad(b"UID FETCH 1 (FLAGS) (VANISHED)")               # needs CHANGEDSINCE
    s.bad(b"UID FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED VANISHED)")
    # seq-match-data is accepted
    out = s.ok(b"SELECT INBOX (QRESYNC (%d 1 1:5 (1 1)))" %
               select_state(s.ok(b"EXAMINE INBOX"))["UIDVALIDITY"])
    assert tagged(out).startswith(b"OK")
    s.close()
