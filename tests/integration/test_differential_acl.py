"""Differential test of ACL (RFC 4314): one scripted session of user
alice run against Haven's PostgreSQL store and Debian's Dovecot (a
throwaway instance with the acl and imap_acl plugins, vfile ACLs), the
answers compared where both follow the RFC the same way: the untagged
ACL, MYRIGHTS and LISTRIGHTS responses and each command's result.
Made comparable: quoting (Haven quotes names and identifiers, Dovecot
writes atoms), the order of the letters inside one rights string and of
the entries of one ACL response and of LISTRIGHTS's optional rights
(each server has its own), and the
owner's identifier (Dovecot says "owner",
Haven the login). Free text is not compared, nor the codes of NO.
Left out: MYRIGHTS of one's own mailbox that does not exist (Dovecot
answers every right, Haven NO [NONEXISTENT], as for others' mailboxes)."""
import re

import pytest

from conftest import ALL_BACKENDS
from dovecot import dovecot_transcript, haven_transcript, available

pytestmark = pytest.mark.skipif(not available() or "pgsql" not in ALL_BACKENDS,
                                reason="needs root, dovecot-imapd and the pgsql store")

DOVECOT_ACL = """
mail_plugins = $mail_plugins acl
protocol imap {
  mail_plugins = $mail_plugins acl imap_acl
}
plugin {
  acl = vfile
}
"""

SCRIPT = [
    b"MYRIGHTS INBOX",
    b"GETACL INBOX",
    b"SETACL INBOX bob lrs",
    b"GETACL INBOX",
    b"SETACL INBOX bob +kd",
    b"GETACL INBOX",
    b"SETACL INBOX bob -cs",
    b"GETACL INBOX",
    b"LISTRIGHTS INBOX bob",
    b"DELETEACL INBOX bob",
    b"GETACL INBOX",
    b"SETACL INBOX bob lrQ",
]


def normalize(line):
    words = re.findall(rb'"[^"]*"|\S+', line.replace(b'"owner"', b"alice")
                       .replace(b" owner ", b" alice "))
    out = []
    for w in words:
        w = w.strip(b'"')
        if re.fullmatch(rb"[lrswipkxteacd]+", w) and w not in (b"alice", b"bob"):
            w = bytes(sorted(w))
        out.append(w)
    if out[1] == b"ACL":   # the order of the entries is each server's own
        pairs = sorted(zip(out[3::2], out[4::2]))
        out = out[:3] + [x for p in pairs for x in p]
    if out[1] == b"LISTRIGHTS":   # and of the optional rights
        out = out[:5] + sorted(out[5:])
    return b" ".join(out)


def run(server):
    from rfc9051_common import Session
    s = Session(server)
    got = []
    for c in SCRIPT:
        lines = s.cmd(c)
        got.append((c, [normalize(l) for l in lines[:-1]
                        if re.match(rb"\* (ACL|MYRIGHTS|LISTRIGHTS) ", l)],
                    lines[-1].split(b" ")[1]))
    return got


def test_acl_like_dovecot():
    theirs = dovecot_transcript(run, extra=DOVECOT_ACL)
    ours = haven_transcript(run, "pgsql")
    for a, b in zip(ours, theirs):
        assert a == b, (a, b)
