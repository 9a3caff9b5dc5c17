"""Differential test of METADATA (RFC 5464): one scripted session run
against Haven (every store) and Debian's Dovecot (throwaway instance with
imap_metadata and a file dict for mail_attribute_dict), the answers
compared where both servers follow the RFC the same way: the METADATA
responses (mailbox name quoting and the order of entries inside one
response made comparable) and each command's result, with its response
code when it is OK (LONGENTRIES). Free text is not compared, nor the
codes of NO: Dovecot gives none for a mailbox that does not exist, where
Haven says [NONEXISTENT] (test_metadata checks it).

Left out, because the servers legitimately differ: limits (each has its
own), the server's /shared entries (Haven's come from haven.conf and are
read-only; Dovecot lets a user write them), RENAME INBOX, and GETMETADATA
with its options after the mailbox (as RFC 5464's examples send it:
Haven takes it, Dovecot answers BAD)."""
import re

import pytest

from conftest import Haven, check_sanitizers
from dovecot import Dovecot, DovecotRaw, available
from rfc9051_common import Session

pytestmark = pytest.mark.skipif(not available(), reason="needs root and dovecot-imapd")

DOVECOT_METADATA = """
mail_attribute_dict = file:%h/dovecot-attributes
imap_metadata = yes
"""

SCRIPT = [
    b'CREATE Work',
    b'CREATE Dir/Sub',
    b'SETMETADATA INBOX (/private/comment "My own comment")',
    b'GETMETADATA "INBOX" /private/comment',
    b'SETMETADATA INBOX (/shared/comment "Shared comment")',
    b'GETMETADATA "INBOX" (/shared/comment /private/comment)',
    b'SETMETADATA INBOX (/private/comment NIL)',
    b'GETMETADATA INBOX (/private/comment /shared/comment)',
    b'SETMETADATA Work (/private/filters/values/small "SMALLER 5000" '
    b'/private/filters/values/boss "FROM \\"boss@example.com\\"" '
    b'/private/filters/values/boss/deep "x")',
    b'GETMETADATA (DEPTH 1) Work (/private/filters/values)',
    b'GETMETADATA (DEPTH infinity) Work (/private/filters)',
    b'GETMETADATA (DEPTH 0) Work (/private/filters/values/small)',
    b'SETMETADATA Work (/shared/comment {2000+}\r\n' + b"y" * 2000 + b')',
    b'GETMETADATA (MAXSIZE 1024) Work (/shared/comment /private/filters/values/small)',
    b'GETMETADATA (MAXSIZE 4096) Work /shared/comment',
    b'SETMETADATA Dir/Sub (/private/vendor/vendor.example/x "1")',
    b'RENAME Work Moved',
    b'GETMETADATA Moved (/shared/comment /private/filters/values/small)',
    b'RENAME Dir Dir2',
    b'GETMETADATA Dir2/Sub /private/vendor/vendor.example/x',
    b'DELETE Dir2/Sub',
    b'CREATE Dir2/Sub',
    b'GETMETADATA Dir2/Sub /private/vendor/vendor.example/x',
    b'SETMETADATA "" (/private/vendor/vendor.example/server "s")',
    b'GETMETADATA "" /private/vendor/vendor.example/server',
    b'GETMETADATA Nosuch /private/comment',
    b'SETMETADATA Nosuch (/private/comment "x")',
    b'GETMETADATA INBOX /private/*',
    b'GETMETADATA INBOX /private//x',
    b'SETMETADATA INBOX (/private/x/ "v")',
    b'SETMETADATA INBOX (/other/x "v")',
    b'SETMETADATA INBOX (/private/a)',
    b'GETMETADATA (DEPTH 2) INBOX /private/a',
]



TOKEN = re.compile(rb'\s*(NIL|"(?:[^"\\]|\\.)*"|~?\{\d+\}\r\n|[^\s()]+)')


def entries(body):
    """'(e1 v1 e2 v2)' with literals folded in -> sorted ((entry, value)),
    strings unquoted, literals read."""
    toks, pos = [], 0
    body = body.strip()[1:-1]
    while pos < len(body):
        m = TOKEN.match(body, pos)
        if not m:
            break
        t = m.group(1)
        pos = m.end()
        lit = re.match(rb"~?\{(\d+)\}\r\n", t)
        if lit:
            n = int(lit.group(1))
            t, pos = b"lit:" + body[pos:pos + n], pos + n
        elif t.startswith(b'"'):
            t = re.sub(rb"\\(.)", rb"\1", t[1:-1])
        toks.append(t)
    pairs = [(toks[i].lower(), toks[i + 1].replace(b"lit:", b"")) for i in range(0, len(toks) - 1, 2)]
    return tuple(sorted(pairs))


def normalize(lines):
    out = []
    for l in lines:
        m = re.match(rb'\* METADATA ("[^"]*"|\S+) (\(.*\))\r\n$', l, re.S)
        if m:
            out.append((b"METADATA", m.group(1).strip(b'"'), entries(m.group(2))))
            continue
        m = re.match(rb"\w+ (OK|NO|BAD)(?: \[([A-Z-]+(?: [A-Z]+)?(?: \d+)?)\])?", l)
        if m and not l.startswith(b"*"):
            out.append((m.group(1), m.group(2) if m.group(1) == b"OK" else None))
    return out


def run_script(server):
    s = Session(server, login=False)
    s.ok(b"LOGIN alice pw-alice")
    return [(c, normalize(s.cmd(c))) for c in SCRIPT]


@pytest.fixture(scope="module")
def dovecot_answers():
    d = Dovecot({"alice": "pw-alice"}, extra=DOVECOT_METADATA).start()
    try:
        yield run_script(DovecotRaw(d))
    finally:
        d.stop()


def test_same_answers_as_dovecot(backend, dovecot_answers):
    h = Haven(backend=backend).start()
    try:
        ours = run_script(h)
    finally:
        check_sanitizers(h.stop())
        h.cleanup()
    diffs = [(c, o, t) for (c, o), (_, t) in zip(ours, dovecot_answers) if o != t]
    assert not diffs, "\n".join("%r\n  haven:   %r\n  dovecot: %r" % d for d in diffs)
