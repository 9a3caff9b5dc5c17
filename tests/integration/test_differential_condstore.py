"""Differential test of CONDSTORE and QRESYNC (RFC 7162): one scripted
session, the way a syncing client drives it, run against Haven (every
store) and Debian's Dovecot (throwaway instance, Maildir), the responses
compared after normalizing what legitimately differs: the numbers the
servers choose (UIDVALIDITY, mod-sequences), free text, and the order of
items inside a FETCH response. Which messages each response names, their
flags, the VANISHED and MODIFIED sets must be the same.

Mod-sequences the script needs (CHANGEDSINCE, UNCHANGEDSINCE, QRESYNC)
are read from each server's own earlier answers, so each server is asked
the same question in its own numbers."""
import re

import pytest

from conftest import ALL_BACKENDS
import dovecot
from dovecot import available
from rfc9051_common import Session, expand_set, simple_msg

pytestmark = pytest.mark.skipif(not available(), reason="needs root and dovecot-imapd")



def parse_fetch(body):
    """'UID 3 MODSEQ (7) FLAGS (\\Seen a)' -> sorted (name, value) items,
    mod-sequences replaced, flags as a sorted set without \\Recent."""
    items = []
    for m in re.finditer(rb"(UID|MODSEQ|FLAGS) (\d+|\([^)]*\))", body):
        name, val = m.group(1), m.group(2)
        if name == b"MODSEQ":
            val = b"m"
        elif name == b"FLAGS":
            val = b" ".join(sorted(set(val[1:-1].split()) - {b"\\Recent"}))
        items.append((name, val))
    return tuple(sorted(items))


def normalize(lines):
    """The responses that carry what RFC 7162 decides, made comparable."""
    out = []
    for l in lines:
        l = l.rstrip(b"\r\n")
        m = re.match(rb"\* (\d+) FETCH \((.*)\)$", l)
        if m:
            out.append((b"FETCH", int(m.group(1)), parse_fetch(m.group(2))))
            continue
        m = re.match(rb"\* VANISHED( \(EARLIER\))? ([\d:,]+)$", l)
        if m:
            out.append((b"VANISHED" + (m.group(1) or b""), tuple(expand_set(m.group(2)))))
            continue
        m = re.match(rb"\* SEARCH([\d ]*?)(?: \(MODSEQ \d+\))?$", l)
        if m:
            out.append((b"SEARCH", tuple(m.group(1).split()), b"(MODSEQ" in l))
            continue
        if l.startswith(b"* ESEARCH"):
            out.append((b"ESEARCH", re.sub(rb"MODSEQ \d+", b"MODSEQ m",
                                           re.sub(rb'\(TAG "[^"]*"\) ?', b"", l))))
            continue
        m = re.match(rb"\* OK \[(HIGHESTMODSEQ|NOMODSEQ)", l)
        if m:
            out.append((m.group(1),))
            continue
        m = re.match(rb"\* (\d+) (EXISTS|EXPUNGE)$", l)
        if m or l.startswith(b"* ENABLED"):
            out.append((l,))
            continue
        m = re.match(rb"\* STATUS \S+ \((.*)\)$", l)
        if m:
            out.append((b"STATUS", re.sub(rb"HIGHESTMODSEQ \d+", b"HIGHESTMODSEQ m", m.group(1))))
            continue
        m = re.match(rb"[\w.]+ (OK|NO|BAD)(?: \[(MODIFIED [\d:,]+)\])?", l)
        if m and not l.startswith(b"* "):
            code = m.group(2)
            out.append((b"tagged", m.group(1),
                        tuple(expand_set(code.split()[1])) if code else None))
    return out


def capture(out, pattern):
    m = re.search(pattern, b"".join(out))
    assert m, (pattern, out)
    return int(m.group(1))


# (command template, [(variable, pattern to read it from the answer)]).
# Templates are formatted with the server's own variables.
SCRIPT = [
    (b"ENABLE QRESYNC", []),
    (b"SELECT INBOX (CONDSTORE)", [("uidv", rb"UIDVALIDITY (\d+)"),
                                    ("hms0", rb"HIGHESTMODSEQ (\d+)")]),
    (b"FETCH 1:* (FLAGS)", []),
    (b"STORE 1 +FLAGS (\\Seen)", []),
    (b"STORE 2 +FLAGS.SILENT (\\Flagged)", []),
    (b"STORE 2 +FLAGS.SILENT (\\Flagged)", []),       # changes nothing
    (b"FETCH 2 (MODSEQ)", [("m2", rb"MODSEQ \((\d+)\)")]),
    (b"UID FETCH 1:* (FLAGS)", []),
    (b"FETCH 1:* (FLAGS) (CHANGEDSINCE %(hms0)d)", []),
    (b"STORE 3:4 (UNCHANGEDSINCE %(m2)d) +FLAGS ($Label1)", []),
    (b"STORE 1:4 (UNCHANGEDSINCE %(m2)d) +FLAGS.SILENT ($Label2)", []),
    (b"UID STORE 1:* (UNCHANGEDSINCE 0) +FLAGS.SILENT (\\Draft)", []),
    (b"SEARCH MODSEQ %(m2)d", []),
    (b"SEARCH MODSEQ 1 NOT SEEN", []),
    (b"SEARCH RETURN (MIN MAX COUNT) MODSEQ %(m2)d", []),
    (b"UID SEARCH RETURN (ALL) MODSEQ %(m2)d", []),
    (b"STORE 5,6 +FLAGS.SILENT (\\Deleted)", []),
    (b"FETCH 6 (MODSEQ)", [("m6", rb"MODSEQ \((\d+)\)")]),
    (b"EXPUNGE", []),
    (b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %(m2)d VANISHED)", []),
    (b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %(m6)d VANISHED)", []),
    (b"STATUS INBOX (MESSAGES HIGHESTMODSEQ)", []),
    (b"SELECT INBOX (QRESYNC (%(uidv)d %(m2)d 1:6))", []),
    (b"SELECT INBOX (QRESYNC (%(uidv)d %(hms0)d))", []),
    (b"EXAMINE INBOX (QRESYNC (%(uidv)d %(m6)d 2:4 (1:3 2:4)))", []),
    (b"SELECT INBOX (QRESYNC (%(uidv_wrong)d %(m2)d 1:6))", []),
    (b"FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)", []),
    (b"UID FETCH 1 (FLAGS) (VANISHED)", []),
]


def run_script(server):
    s = Session(server, login=False)
    s.ok(b"LOGIN alice pw-alice")
    for i in range(1, 7):
        s.append(b"INBOX", simple_msg(i))
    var = {}
    transcript = []
    for template, captures in SCRIPT:
        if b"uidv_wrong" in template:
            var[b"uidv_wrong"] = var[b"uidv"] + 1
        cmd = template % var
        out = s.cmd(cmd)
        for name, pattern in captures:
            var[name.encode()] = capture(out, pattern)
        transcript.append((template, normalize(out)))
    s.close()
    return transcript


@pytest.fixture(scope="module")
def dovecot_transcript():
    return dovecot.dovecot_transcript(run_script)


@pytest.mark.parametrize("store", ALL_BACKENDS)
def test_condstore_qresync_like_dovecot(store, dovecot_transcript):
    ours = dovecot.haven_transcript(run_script, store)
    diffs = [(cmd, theirs, mine) for (cmd, theirs), (_, mine) in zip(dovecot_transcript, ours)
             if theirs != mine]
    assert not diffs, "\n\n".join("%s\n dovecot: %r\n haven:   %r" % d for d in diffs)
