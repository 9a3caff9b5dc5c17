"""Differential test of SORT and THREAD (RFC 5256, 5957): a mailbox of
messages with tricky subjects (encoded words, nested Re:/Fwd:, blobs,
"(fwd)" trailers, [fwd: ...] wrappers, case and accents), addresses (no
display name, groups, encoded names, none at all), dates (zones, none,
garbage) and References / In-Reply-To (chains, missing parents, loops,
duplicate Message-IDs), sorted on every key and threaded (ORDEREDSUBJECT,
REFERENCES, REFS) by Haven (every store) and Debian's Dovecot (throwaway
instance, Maildir); the untagged answers must be the same, byte for byte.
Haven folds as Dovecot does here: titlecase order ("[" after "Z"), a
group's name as the first address, an undated message at its
INTERNALDATE (RFC 5256 2.2 says the earliest date; Dovecot and Haven
use the arrival time, which keeps such mail where the user expects it)."""
import pytest

from conftest import ALL_BACKENDS
import dovecot
from dovecot import available
from rfc9051_common import Session, untagged

pytestmark = pytest.mark.skipif(not available(), reason="needs root and dovecot-imapd")

SUBJECTS = [
    b"hello", b"Re: hello", b"RE: re: Hello", b"Fwd: hello", b"[list] Re: hello",
    b"hello (fwd)", b"[Fwd: hello]", b"=?UTF-8?Q?Re:_=C3=89t=C3=A9?=", b"\xc3\xa9t\xc3\xa9",
    b"  spaced   out  ", b"Re[2]: numbered", b"[a][b] blobbed", b"[only-blob]", b"",
    b"Fw: zeta", b"ZETA", b"Re: [list] zeta (fwd)", b"=?ISO-8859-1?Q?caf=E9?=", b"Caf\xc3\xa9",
]
FROMS = [
    b'"Zed" <bob@x.example>', b"alice@x.example", b"=?UTF-8?Q?=C3=89mile?= <carl@x.example>",
    b"Bob <Bob@x.example>", b"undisclosed:;", b'"" <dan@x.example>', None,
    b"eve@x.example (Eve Comment)",
]
DATES = [
    b"Mon, 01 Jan 2024 10:00:00 +0000", b"Mon, 01 Jan 2024 09:00:00 -0200",
    b"1 Jan 2024 12:00:00 +0100", None, b"garbage", b"Sun, 31 Dec 2023 23:59:59 +0000",
    b"Tue, 02 Jan 2024 00:00:00 +1400",
]


def corpus():
    msgs = []
    for i in range(40):
        h = [b"Message-ID: <m%d@x>" % (i if i != 17 else 3)]   # 17 repeats 3's
        if FROMS[i % len(FROMS)]:
            h.append(b"From: " + FROMS[i % len(FROMS)])
        h.append(b"To: " + FROMS[(i + 3) % len(FROMS)] if FROMS[(i + 3) % len(FROMS)] else b"X: y")
        if i % 3 == 0:
            h.append(b"Cc: " + (FROMS[(i + 5) % len(FROMS)] or b"c@y"))
        h.append(b"Subject: " + SUBJECTS[i % len(SUBJECTS)])
        if DATES[i % len(DATES)]:
            h.append(b"Date: " + DATES[i % len(DATES)])
        if i % 4 == 1:
            h.append(b"References: " + b" ".join(b"<m%d@x>" % j for j in range(max(0, i - 5), i, 2)))
        elif i % 4 == 2:
            h.append(b"In-Reply-To: <m%d@x>" % (i - 1))
        elif i % 8 == 3:
            h.append(b"References: <missing%d@x> <m%d@x>" % (i % 2, i))   # names itself
        body = b"body %d\r\n" % i * (i % 7 + 1)
        msgs.append((b"\r\n".join(h) + b"\r\n\r\n" + body,
                     b"%02d-Jan-2024 %02d:00:00 +0000" % (1 + i % 5, i % 24)))
    return msgs


COMMANDS = [b"SORT (%s) UTF-8 ALL" % k for k in (
    b"ARRIVAL", b"CC", b"DATE", b"FROM", b"SIZE", b"SUBJECT", b"TO", b"DISPLAYFROM",
    b"DISPLAYTO", b"REVERSE SUBJECT", b"SUBJECT REVERSE DATE", b"REVERSE FROM ARRIVAL")] + [
    b"UID SORT (DATE) UTF-8 ALL", b"SORT (SUBJECT) UTF-8 SUBJECT hello",
    b"THREAD ORDEREDSUBJECT UTF-8 ALL", b"THREAD REFERENCES UTF-8 ALL",
    b"THREAD REFS UTF-8 ALL",
    b"UID THREAD REFERENCES UTF-8 SINCE 2-Jan-2024",
]


def run_script(server):
    s = Session(server, login=False)
    s.ok(b"LOGIN alice pw-alice")
    for m, date in corpus():
        s.append(b"INBOX", m, date=date)
    s.ok(b"SELECT INBOX")
    out = [(c, untagged(s.ok(c))) for c in COMMANDS]
    s.close()
    return out


@pytest.fixture(scope="module")
def dovecot_transcript():
    return dovecot.dovecot_transcript(run_script)


@pytest.mark.parametrize("store", ALL_BACKENDS)
def test_sort_thread_like_dovecot(store, dovecot_transcript):
    ours = dovecot.haven_transcript(run_script, store)
    diffs = [(cmd, theirs, mine) for (cmd, theirs), (_, mine) in zip(dovecot_transcript, ours)
             if theirs != mine]
    assert not diffs, "\n\n".join("%s\n dovecot: %r\n haven:   %r" % d for d in diffs)
