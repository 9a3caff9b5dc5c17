"""Keywords are announced before they are used (issue 17 item 4 and its
class). RFC 9051 7.3.5: a client learns the flags of a mailbox from the
untagged FLAGS response (and, read-write, PERMANENTFLAGS); a FETCH that
shows a keyword the client was never told of breaks clients that keep
their flag list from FLAGS. Every session with the mailbox selected,
whichever session or program made the keyword, gets FLAGS naming it before
the first FETCH that carries it. NIL is no keyword: refused with BAD.

Two tracking sessions (viewtrack.py) watch each other: every response
either sends is checked, not only the ones asserted on here."""
import re

import pytest

from conftest import only_backends
from rfc9051_common import lit, simple_msg
from viewtrack import TrackedSession


def pair(haven, n=3, rev2=False):
    a = TrackedSession(haven, name="A", rev2=rev2)
    b = TrackedSession(haven, name="B", rev2=rev2)
    a.ok(b"CREATE Source")
    for i in range(1, n + 1):
        a.append(b"INBOX", simple_msg(i))
    a.select()
    b.select()
    return a, b


def flags_line(lines):
    out = [l for l in lines if l.startswith(b"* FLAGS ")]
    return out[-1] if out else None


def assert_clean(*sessions):
    for s in sessions:
        assert s.violations == [], s.violations


def test_store_announces_new_keyword(haven):
    """The reported case: STORE +FLAGS ($Urgent) answers FLAGS and
    PERMANENTFLAGS naming it before the FETCH that shows it; the other
    session gets them at its next NOOP, before its FETCH."""
    a, b = pair(haven)
    lines = a.ok(b"STORE 1 +FLAGS ($Urgent)")
    idx_flags = next(i for i, l in enumerate(lines) if l.startswith(b"* FLAGS "))
    idx_perm = next(i for i, l in enumerate(lines) if b"[PERMANENTFLAGS" in l)
    idx_fetch = next(i for i, l in enumerate(lines) if re.match(rb"\* 1 FETCH ", l))
    assert idx_flags < idx_fetch and idx_perm < idx_fetch, lines
    assert b"$Urgent" in lines[idx_flags] and b"$Urgent" in lines[idx_perm]
    assert b"\\*" in lines[idx_perm]
    lines = b.ok(b"NOOP")
    assert flags_line(lines) is not None and b"$Urgent" in flags_line(lines), lines
    assert any(b"$Urgent" in l for l in lines if re.match(rb"\* \d+ FETCH ", l)), lines
    # Told once: the next change of it does not repeat FLAGS.
    lines = a.ok(b"STORE 2 +FLAGS ($Urgent)")
    assert flags_line(lines) is None, lines
    assert_clean(a, b)


FORMS = [
    b"STORE 1:2 +FLAGS ($New1 $New2)",
    b"STORE 1 FLAGS (\\Seen $Replaced)",
    b"STORE 2 +FLAGS.SILENT ($Quiet)",
    b"UID STORE 1:* +FLAGS (Work)",
    b"STORE 3 FLAGS.SILENT (\\Flagged $Silent $Other)",
]


@pytest.mark.parametrize("command", FORMS)
@pytest.mark.parametrize("rev2", [False, True])
def test_store_forms(haven, command, rev2):
    a, b = pair(haven, rev2=rev2)
    words = set(re.findall(rb"[$\w]+", command.split(b"(", 1)[1])) - {b"Seen", b"Flagged"}
    a.ok(command)
    a.ok(b"FETCH 1:* (FLAGS)")
    lines = b.ok(b"NOOP") + b.ok(b"FETCH 1:* (UID FLAGS)")
    shown = set()
    for l in lines:
        if re.match(rb"\* \d+ FETCH .*FLAGS \(", l):
            shown |= set(re.findall(rb"[$\w]+", l.split(b"FLAGS (", 1)[1].split(b")")[0]))
    assert words <= shown, (words, lines)
    assert_clean(a, b)


def test_case_of_a_keyword_is_one_keyword(haven):
    a, b = pair(haven)
    a.ok(b"STORE 1 +FLAGS ($Project)")
    lines = a.ok(b"STORE 2 +FLAGS ($PROJECT)")
    # $PROJECT is $Project: no new FLAGS, and it is shown as first spelled.
    assert flags_line(lines) is None, lines
    assert any(b"$Project" in l for l in lines if l.startswith(b"* 2 FETCH")), lines
    b.ok(b"NOOP")
    b.ok(b"FETCH 1:* (FLAGS)")
    assert_clean(a, b)


def test_append_and_copy_bring_keywords(haven):
    """New messages with new keywords: appended by the other session,
    copied in from another mailbox, moved in."""
    a, b = pair(haven)
    a.append(b"INBOX", simple_msg(10), flags=b"$Appended \\Seen")
    a.append(b"Source", simple_msg(11), flags=b"$Copied")
    a.append(b"Source", simple_msg(12), flags=b"$Moved")
    b.ok(b"NOOP")
    lines = b.ok(b"FETCH 1:* (UID FLAGS)")
    assert any(b"$Appended" in l for l in lines if re.match(rb"\* \d+ FETCH ", l)), lines
    src = TrackedSession(haven, name="C")
    src.select(b"Source")
    src.ok(b"COPY 1 INBOX")
    src.ok(b"MOVE 2 INBOX")
    for s in (a, b):
        s.ok(b"NOOP")
        lines = s.ok(b"FETCH 1:* (FLAGS)")
        text = b"".join(l for l in lines if re.match(rb"\* \d+ FETCH ", l))
        assert b"$Copied" in text and b"$Moved" in text, lines
    assert_clean(a, b, src)


def test_idle_session_is_told_first(haven):
    a, b = pair(haven)
    b.send(b"I1 IDLE\r\n")
    assert b.response().startswith(b"+")
    a.ok(b"STORE 1 +FLAGS ($FromIdle)")
    got = []
    while not any(b" FETCH " in r for r in got):
        got.append(b.response())
    b.send(b"DONE\r\n")
    got += b.until(b"I1")
    assert any(r.startswith(b"* FLAGS ") and b"$FromIdle" in r for r in got), got
    assert_clean(a, b)


def test_examine_session_gets_flags(haven):
    """A read-only session is told by FLAGS (its PERMANENTFLAGS stay
    empty)."""
    a, _ = pair(haven)
    e = TrackedSession(haven, name="E")
    e.select(b"INBOX", examine=True)
    a.ok(b"STORE 1 +FLAGS ($SeenByExamine)")
    lines = e.ok(b"NOOP") + e.ok(b"FETCH 1 (FLAGS)")
    assert b"$SeenByExamine" in flags_line(lines), lines
    assert not any(b"PERMANENTFLAGS" in l for l in lines), lines
    assert_clean(a, e)


@only_backends("mbox")
def test_keyword_written_by_another_program(haven):
    """mbox: another program wrote X-Keywords into the file."""
    a, b = pair(haven, n=0)
    a.ok(b"UNSELECT")
    path = "%s/alice/INBOX" % haven.home_root
    with open(path, "ab") as f:
        f.write(b"From mda@example.org Mon Jun  3 12:50:27 1996\n"
                b"X-Keywords: $FromMutt Other\nSubject: x\n\nHi\n\n")
    b.ok(b"NOOP")
    lines = b.ok(b"FETCH 1:* (FLAGS)")
    assert any(b"$FromMutt" in l for l in lines if re.match(rb"\* \d+ FETCH ", l)), lines
    assert_clean(b)


NILS = [b"STORE 1 +FLAGS (NIL)", b"STORE 1 FLAGS (\\Seen nil)", b"STORE 1 +FLAGS Nil",
        b"UID STORE 1 -FLAGS (NIL)", b"APPEND INBOX (NIL) " + lit(simple_msg(9))]


@pytest.mark.parametrize("command", NILS)
def test_nil_is_no_keyword(haven, command):
    a, _ = pair(haven, n=1)
    line = a.bad(command)
    assert b"NIL" in line, line
    # Nothing changed, and the session goes on.
    lines = a.ok(b"FETCH 1:* (FLAGS)")
    assert not any(b"NIL" in l.upper() for l in lines if re.match(rb"\* \d+ FETCH ", l)), lines
    assert b"* 2 EXISTS" not in b"".join(a.ok(b"NOOP"))
    assert_clean(a)
