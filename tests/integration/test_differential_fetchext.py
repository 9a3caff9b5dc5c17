"""Differential test of WITHIN and PREVIEW: one scripted session run
against Haven (every store) and Debian's Dovecot 2.3 (throwaway
instance, Maildir), the answers compared where both servers decide the
same thing: which messages OLDER / YOUNGER select, the preview text of
plain messages, and the error cases (tagged result). Dovecot 2.3.19
does not offer OBJECTID (FETCH EMAILID is a BAD there), so that has no
counterpart to compare with; every extension Dovecot advertises of the
four, Haven must too."""
import re
import time

import pytest

from conftest import ALL_BACKENDS
import dovecot
from dovecot import available
from rfc9051_common import Session, simple_msg, untagged

pytestmark = pytest.mark.skipif(not available(), reason="needs root and dovecot-imapd")



PLAIN = [simple_msg(1), simple_msg(2, extra=b""),
         b"Subject: spaces\r\n\r\nHello,\r\n\r\n   world\t  again\r\n"]
AGES = (10 * 86400, 3600, 600)


def imap_date(t):
    return time.strftime("%d-%b-%Y %H:%M:%S +0000", time.gmtime(t)).encode()


def ids(lines, name):
    return [m.group(1) for l in lines for m in [re.search(name + rb" \(([\w-]+)\)", l)] if m]


def run_script(server):
    s = Session(server, login=False)
    s.ok(b"LOGIN alice pw-alice")
    caps = set(untagged(s.ok(b"CAPABILITY"))[0].split())
    now = time.time()
    for m, age in zip(PLAIN, AGES):
        s.append(b"INBOX", m, date=imap_date(now - age))
    s.ok(b"SELECT INBOX")
    t = {"caps": {c for c in (b"WITHIN", b"PREVIEW", b"OBJECTID", b"SAVEDATE") if c in caps}}
    for keys in (b"YOUNGER 300", b"YOUNGER 1800", b"OLDER 1800", b"OLDER 8640000",
                 b"NOT YOUNGER 86400", b"OR OLDER 86400 YOUNGER 1800"):
        t[keys] = untagged(s.ok(b"SEARCH " + keys))
    for bad in (b"SEARCH OLDER 0", b"SEARCH YOUNGER -1", b"SEARCH OLDER x",
                b"FETCH 1 (PREVIEW (BOGUS))", b"SEARCH EMAILID a.b"):
        t[bad] = s.cmd(bad)[-1].split()[1]
    t["preview"] = untagged(s.ok(b"FETCH 1:* (PREVIEW)"))
    t["lazy"] = [re.sub(rb"PREVIEW NIL", b"", l) for l in untagged(s.ok(b"FETCH 1:* (PREVIEW (LAZY))"))]
    s.close()
    return t


@pytest.fixture(scope="module")
def dovecot_transcript():
    return dovecot.dovecot_transcript(run_script)


@pytest.mark.parametrize("store", ALL_BACKENDS)
def test_fetchext_like_dovecot(store, dovecot_transcript):
    ours = dovecot.haven_transcript(run_script, store)
    theirs = dict(dovecot_transcript)
    assert theirs.pop("caps") <= ours.pop("caps")
    diffs = {k: (v, ours[k]) for k, v in theirs.items() if ours[k] != v}
    assert not diffs, diffs
