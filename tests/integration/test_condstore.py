"""CONDSTORE (RFC 7162 section 3.1) on every store: MODSEQ per message,
HIGHESTMODSEQ in SELECT and STATUS, FETCH MODSEQ and CHANGEDSINCE, STORE
UNCHANGEDSINCE with [MODIFIED], SEARCH MODSEQ, the enabling commands, and
the error cases the RFC names. The stores number mod-sequences their own
way, so the tests read them and check what the RFC fixes: which responses
carry them, how they compare, and which messages they select."""
import re

from rfc9051_common import Session, expand_set, mode, simple_msg, tagged, untagged  # noqa: F401


def box(haven, n=4, rev2=False):
    """A session with INBOX holding n messages, selected (no CONDSTORE yet)."""
    s = Session(haven, rev2=rev2)
    for i in range(1, n + 1):
        s.append(b"INBOX", simple_msg(i))
    s.ok(b"SELECT INBOX")
    return s


def modseqs(lines):
    """{seq: modseq} from FETCH responses."""
    out = {}
    for l in lines:
        m = re.match(rb"\* (\d+) FETCH \(.*MODSEQ \((\d+)\)", l)
        if m:
            out[int(m.group(1))] = int(m.group(2))
    return out


def hms_code(lines):
    found = [int(m.group(1)) for l in lines
             for m in [re.match(rb"\* OK \[HIGHESTMODSEQ (\d+)\]", l)] if m]
    assert len(found) <= 1, lines
    return found[0] if found else None


def status_hms(s, name=b"INBOX"):
    out = untagged(s.ok(b"STATUS " + name + b" (HIGHESTMODSEQ)"))
    st = [l for l in out if l.startswith(b"* STATUS")]
    return int(re.search(rb"HIGHESTMODSEQ (\d+)\)", st[0]).group(1))


def test_capability_and_enable(haven):
    s = Session(haven)
    caps = untagged(s.ok(b"CAPABILITY"))[0]
    assert b" CONDSTORE" in caps, caps
    assert s.ok(b"ENABLE CONDSTORE")[0] == b"* ENABLED CONDSTORE\r\n"
    # enabling twice lists nothing new (RFC 5161)
    assert s.ok(b"ENABLE CONDSTORE")[0] == b"* ENABLED\r\n"
    s.append(b"INBOX", simple_msg(1))
    out = s.ok(b"SELECT INBOX")
    hms = hms_code(out)
    assert hms is not None and hms >= 1, out
    # a FETCH without MODSEQ gets none (RFC 7162 3.2.4's note; Dovecot
    # alike); what STORE answers carries it (3.1)
    f = untagged(s.ok(b"FETCH 1 (FLAGS)"))
    assert re.match(rb"\* 1 FETCH \(FLAGS \(.*\)\)\r\n$", f[0]), f
    f = untagged(s.ok(b"STORE 1 +FLAGS (\\Seen)"))
    assert re.match(rb"\* 1 FETCH \(MODSEQ \((\d+)\) FLAGS \(.*\)\)\r\n$", f[0]), f
    assert modseqs(f)[1] > hms
    s.close()


def test_select_condstore_parameter(haven):
    s = box(haven, 2)
    out = s.ok(b"SELECT INBOX")
    assert hms_code(out) is None, out           # not before an enabling command
    assert untagged(s.ok(b"FETCH 1 (FLAGS)"))[0].startswith(b"* 1 FETCH (FLAGS ")
    out = s.ok(b"SELECT INBOX (CONDSTORE)")
    hms = hms_code(out)
    assert hms == status_hms(s), out
    ms = modseqs(untagged(s.ok(b"FETCH 1:* (MODSEQ)")))
    assert sorted(ms) == [1, 2] and max(ms.values()) <= hms
    s.bad(b"SELECT INBOX (BOGUS)")
    s.bad(b"EXAMINE INBOX CONDSTORE")
    # a later EXAMINE reports it too (CONDSTORE stays on)
    assert hms_code(s.ok(b"EXAMINE INBOX")) == hms
    s.close()


def test_fetch_modseq_first_enabling_command_reports_highest(haven):
    s = box(haven, 3)
    out = s.ok(b"FETCH 1:3 (MODSEQ)")
    u = untagged(out)
    # 3.1: the first enabling command with a mailbox selected reports it
    assert re.match(rb"\* OK \[HIGHESTMODSEQ \d+\]", u[0]), u
    hms = hms_code(u)
    ms = modseqs(u)
    assert sorted(ms) == [1, 2, 3] and all(0 < v <= hms for v in ms.values()), u
    for l in u[1:]:
        assert re.match(rb"\* \d FETCH \(MODSEQ \(\d+\)\)\r\n$", l), l
    # only once per mailbox
    assert hms_code(untagged(s.ok(b"FETCH 1 (MODSEQ)"))) is None
    uf = untagged(s.ok(b"UID FETCH 1:* (MODSEQ)"))
    assert all(re.match(rb"\* \d FETCH \(UID \d+ MODSEQ \(\d+\)\)\r\n$", l) for l in uf), uf
    s.close()


def test_store_raises_modseq_and_reports_it(haven):
    s = box(haven, 3, rev2=True)   # no \\Recent in the FLAGS compared
    before = modseqs(untagged(s.ok(b"FETCH 1:3 (MODSEQ)")))
    hms0 = status_hms(s)
    out = untagged(s.ok(b"STORE 2 +FLAGS (\\Flagged)"))
    m = re.match(rb"\* 2 FETCH \(MODSEQ \((\d+)\) FLAGS \(\\Flagged\)\)\r\n$", out[0])
    assert m and len(out) == 1, out
    new = int(m.group(1))
    assert new > hms0 >= before[2]
    assert status_hms(s) == new
    # .SILENT still reports the MODSEQ once CONDSTORE is on (3.1.3, example 4)
    out = untagged(s.ok(b"STORE 3 +FLAGS.SILENT (\\Seen)"))
    m = re.match(rb"\* 3 FETCH \(MODSEQ \((\d+)\)\)\r\n$", out[0])
    assert m and int(m.group(1)) > new, out
    # UID STORE names the UID too
    uid = int(re.search(rb"UID (\d+)", untagged(s.ok(b"FETCH 1 (UID)"))[0]).group(1))
    out = untagged(s.ok(b"UID STORE %d +FLAGS.SILENT ($Work)" % uid))
    assert re.match(rb"\* 1 FETCH \(UID %d MODSEQ \(\d+\)\)\r\n$" % uid, out[0]), out
    s.close()


def test_store_that_changes_nothing_keeps_modseq(haven):
    # 3.1.11: adding a flag already there SHOULD NOT change the message's
    # mod-sequence, and so not the mailbox's HIGHESTMODSEQ either (3.1.1:
    # the highest of its messages'), in every store.
    s = box(haven, 1)
    s.ok(b"STORE 1 +FLAGS.SILENT (\\Seen)")
    ms = modseqs(untagged(s.ok(b"FETCH 1 (MODSEQ)")))[1]
    hms = status_hms(s)
    s.ok(b"STORE 1 +FLAGS.SILENT (\\Seen)")
    s.ok(b"STORE 1 -FLAGS.SILENT (\\Draft)")
    s.ok(b"STORE 1 +FLAGS.SILENT (kw1)")
    s.ok(b"STORE 1 +FLAGS.SILENT (kw1)")
    ms2 = modseqs(untagged(s.ok(b"FETCH 1 (MODSEQ)")))[1]
    assert ms2 > ms and status_hms(s) == ms2 == hms + 1
    assert untagged(s.ok(b"FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % ms2)) == []
    s.close()


def test_unchangedsince(haven):
    s = box(haven, 4)
    ms = modseqs(untagged(s.ok(b"FETCH 1:4 (MODSEQ)")))
    # another session changes message 2 meanwhile
    other = Session(haven)
    other.ok(b"SELECT INBOX")
    other.ok(b"STORE 2 +FLAGS.SILENT (\\Answered)")
    other.close()
    limit = max(ms.values())
    out = s.ok(b"STORE 1:4 (UNCHANGEDSINCE %d) +FLAGS.SILENT ($Done)" % limit)
    assert tagged(out).startswith(b"OK [MODIFIED 2] "), out
    got = modseqs(untagged(out))
    assert sorted(got) == [1, 3, 4], out             # FETCH MODSEQ for the ones stored
    assert all(got[k] > limit for k in got)
    # message 2 was not changed: no $Done (NOOP: the other session's change)
    s.ok(b"NOOP")
    f = untagged(s.ok(b"FETCH 2 (FLAGS)"))
    assert b"$Done" not in f[-1] and b"\\Answered" in f[-1], f
    # UID STORE names UIDs in MODIFIED
    uid2 = int(re.search(rb"UID (\d+)", untagged(s.ok(b"FETCH 2 (UID)"))[-1]).group(1))
    out = s.ok(b"UID STORE 1:* (UNCHANGEDSINCE %d) +FLAGS ($Again)" % limit)
    code = re.match(rb"OK \[MODIFIED ([\d:,]+)\]", tagged(out))
    assert code, out
    assert uid2 in expand_set(code.group(1))
    # retry with the message's current MODSEQ succeeds, non-silent: FLAGS too
    cur = modseqs(untagged(s.ok(b"FETCH 2 (MODSEQ)")))[2]
    out = s.ok(b"STORE 2 (UNCHANGEDSINCE %d) +FLAGS ($Done)" % cur)
    assert tagged(out).startswith(b"OK STORE"), out
    assert re.match(rb"\* 2 FETCH \(MODSEQ \(\d+\) FLAGS \(.*\$Done.*\)\)\r\n$",
                    untagged(out)[-1]), out
    # UNCHANGEDSINCE 0 fails for every message (all have a MODSEQ above 0)
    out = s.ok(b"STORE 1:4 (UNCHANGEDSINCE 0) +FLAGS.SILENT ($Never)")
    assert tagged(out).startswith(b"OK [MODIFIED 1:4] "), out
    assert b"$Never" not in b"".join(untagged(s.ok(b"FETCH 1:4 (FLAGS)")))
    s.close()


def test_fetch_changedsince(haven):
    s = box(haven, 5)
    s.ok(b"STORE 2 +FLAGS (\\Seen)")
    mark = status_hms(s)
    s.ok(b"STORE 4 +FLAGS (\\Flagged)")
    s.ok(b"STORE 5 +FLAGS (\\Seen)")
    out = untagged(s.ok(b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % mark))
    assert [int(re.match(rb"\* (\d+)", l).group(1)) for l in out] == [4, 5], out
    for l in out:
        assert re.match(rb"\* \d FETCH \(UID \d+ MODSEQ \(\d+\) FLAGS \(", l), l
    # nothing changed since the highest: nothing returned
    assert untagged(s.ok(b"FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % status_hms(s))) == []
    # CHANGEDSINCE alone enables CONDSTORE: STORE answers carry MODSEQ
    assert b"MODSEQ" in untagged(s.ok(b"STORE 1 +FLAGS (\\Answered)"))[0]
    s.close()


def test_search_modseq(haven, mode):
    s = box(haven, 5, rev2=(mode == "rev2"))
    mark = status_hms(s)
    s.ok(b"STORE 2 +FLAGS.SILENT (\\Draft)")
    s.ok(b"STORE 4 +FLAGS.SILENT (\\Flagged)")
    hms = status_hms(s)
    out = untagged(s.ok(b"SEARCH MODSEQ %d" % (mark + 1)))
    if mode == "rev2":
        assert out[-1] == b'* ESEARCH (TAG "A%03d") ALL 2,4 MODSEQ %d\r\n' % (s.n, hms), out
    else:
        assert out[-1] == b"* SEARCH 2 4 (MODSEQ %d)\r\n" % hms, out
    # the entry form is accepted (one MODSEQ per message: the entry is ignored)
    out = untagged(s.ok(b'UID SEARCH MODSEQ "/flags/\\\\draft" all %d' % (mark + 1)))
    assert re.search(rb"MODSEQ %d\)?\r\n$" % hms, out[-1]), out
    # no match: no MODSEQ (3.1.6)
    out = untagged(s.ok(b"SEARCH MODSEQ %d" % (hms + 1)))
    assert out[-1] in (b"* SEARCH\r\n", b'* ESEARCH (TAG "A%03d")\r\n' % s.n), out
    # RETURN (MIN) with MODSEQ: the highest of the messages returned (2 only)
    ms2 = modseqs(untagged(s.ok(b"FETCH 2 (MODSEQ)")))[2]
    out = untagged(s.ok(b"SEARCH RETURN (MIN) MODSEQ %d" % (mark + 1)))
    assert out[-1] == b'* ESEARCH (TAG "A%03d") MIN 2 MODSEQ %d\r\n' % (s.n, ms2), out
    # combined with other keys, and NOT
    out = untagged(s.ok(b"SEARCH NOT MODSEQ %d" % (mark + 1)))
    assert re.search(rb"\b1,3,5\b|SEARCH 1 3 5 ", out[-1]), out
    s.close()


def test_status_highestmodseq_follows_changes(haven):
    s = Session(haven)
    s.ok(b"CREATE Box")
    h0 = status_hms(s, b"Box")
    assert h0 >= 0
    s.append(b"Box", simple_msg(1))
    h1 = status_hms(s, b"Box")
    assert h1 > h0
    s.ok(b"SELECT Box")
    s.ok(b"STORE 1 +FLAGS.SILENT (\\Seen)")
    h2 = status_hms(s, b"Box")
    assert h2 > h1
    # STATUS HIGHESTMODSEQ is an enabling command: STORE answers carry MODSEQ
    out = untagged(s.ok(b"STORE 1 +FLAGS (\\Answered)"))
    assert re.search(rb"MODSEQ \((\d+)\)", out[-1]), out
    assert status_hms(s, b"Box") == modseqs(out)[1] > h2
    s.close()


def test_unsolicited_fetch_carries_modseq(haven):
    a = box(haven, 2, rev2=True)
    a.ok(b"FETCH 1 (MODSEQ)")
    b = Session(haven)
    b.ok(b"SELECT INBOX")
    b.ok(b"STORE 2 +FLAGS.SILENT (\\Flagged)")
    new = status_hms(b)
    b.close()
    out = untagged(a.ok(b"NOOP"))
    assert any(re.match(rb"\* 2 FETCH \(UID \d+ MODSEQ \(%d\) FLAGS \(\\Flagged\)\)\r\n$" % new, l)
               for l in out), out
    # a session without CONDSTORE gets no MODSEQ
    c = box(haven, 0)
    d = Session(haven)
    d.ok(b"SELECT INBOX")
    d.ok(b"STORE 1 +FLAGS.SILENT (\\Seen)")
    d.close()
    out = untagged(c.ok(b"NOOP"))
    assert any(l.startswith(b"* 1 FETCH (UID ") for l in out) and \
        not any(b"MODSEQ" in l for l in out), out
    a.close()
    c.close()


def test_bad_arguments(haven):
    s = box(haven, 2)
    s.bad(b"FETCH 1 (FLAGS) (CHANGEDSINCE 0)")          # mod-sequence-value is >= 1
    s.bad(b"FETCH 1 (FLAGS) (CHANGEDSINCE x)")
    s.bad(b"FETCH 1 (FLAGS) (CHANGEDSINCE)")
    s.bad(b"FETCH 1 (FLAGS) (CHANGEDSINCE 99999999999999999999)")
    s.bad(b"FETCH 1 (FLAGS) (BOGUS 1)")
    s.bad(b"FETCH 1 (FLAGS) ()")
    s.bad(b"STORE 1 (UNCHANGEDSINCE) +FLAGS (\\Seen)")
    s.bad(b"STORE 1 (UNCHANGEDSINCE -1) +FLAGS (\\Seen)")
    s.bad(b"STORE 1 (BOGUS 5) +FLAGS (\\Seen)")
    s.bad(b"SEARCH MODSEQ")
    s.bad(b"SEARCH MODSEQ x")
    s.bad(b'SEARCH MODSEQ "/flags/\\\\seen" sometimes 5')
    s.bad(b'SEARCH MODSEQ "/annotation/x" all 5')
    s.bad(b"STATUS INBOX (HIGHESTMODSEQ BOGUS)")
    # the session goes on
    assert untagged(s.ok(b"FETCH 1 (UID)"))
    s.close()
