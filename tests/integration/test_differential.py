"""Differential test: the same messages appended to Haven and to Debian's
Dovecot (throwaway instance, mbox driver), then FETCH answers compared item
by item. Every difference is either fixed or listed in DEVIATIONS with the
reason it is deliberate."""
import os

import pytest

import msggen
from conftest import ALL_BACKENDS, Haven, check_sanitizers, corpus_messages
from dovecot import Dovecot, available
from imapresp import fetch_items, raw_from_imaplib

pytestmark = pytest.mark.skipif(not available(), reason="needs root and dovecot-imapd")

# All messages get this INTERNALDATE: mbox keeps no zone, so use UTC.
DATE = '"14-Nov-2026 10:11:12 +0000"'
N_GENERATED = 500

import re

CONTENT_LENGTH = re.compile(rb"^Content-Length:[ \t]*\d+[ \t]*\r\n", re.I | re.M)


def strip_content_length(msg):
    """The top-level header without Content-Length, and the bytes removed."""
    end = msg.find(b"\r\n\r\n")
    head = msg[:end + 2] if end >= 0 else msg
    new = CONTENT_LENGTH.sub(b"", head)
    return new + msg[len(head):], len(head) - len(new)


# Deliberate, explained differences: (what, reason, normalizer). The
# normalizer gets (item name, Haven's value, Dovecot's value, the message as
# appended) and returns the pair to compare.
def _dovecot_drops_content_length(name, ours, theirs, msg):
    if name in (b"BODY[]", b"BODY[HEADER]") or name.startswith(b"BODY[HEADER.FIELDS.NOT"):
        return strip_content_length(ours)[0], theirs
    if name == b"RFC822.SIZE":
        return int(ours) - strip_content_length(msg)[1], int(theirs)
    return ours, theirs


INVALID_CTYPE = re.compile(rb"^Content-Type:[ \t]*[^/;\r\n]+(;|\r\n)", re.I | re.M)
# A close delimiter followed at once by an enclosing delimiter, with a single
# CRLF between them ("--inner--\r\n--outer").
SHARED_CRLF = re.compile(rb"\r\n--[^\r\n]*--[ \t]*\r\n--")


def _structural(name):
    return name in (b"BODY", b"BODYSTRUCTURE") or re.match(rb"BODY\[\d", name)


def _invalid_content_type(name, ours, theirs, msg):
    head = msg[:msg.find(b"\r\n\r\n") + 2]
    if _structural(name) and INVALID_CTYPE.search(head):
        return None, None
    return ours, theirs


def _shared_crlf(name, ours, theirs, msg):
    if _structural(name) and SHARED_CRLF.search(msg):
        return None, None
    return ours, theirs


DEVIATIONS = [
    ("invalid Content-Type",
     "A Content-Type without a '/' (e.g. 'application-x-gzip') is invalid; Haven applies "
     "RFC 2045 5.2's default (text/plain; charset=us-ascii), Dovecot reports empty type "
     "and subtype strings. Structure items of such messages are not compared.",
     _invalid_content_type),
    ("CRLF between a close delimiter and the next delimiter",
     "In '--inner--CRLF--outer' the one CRLF must be the outer delimiter's (RFC 2046 "
     "grammar: delimiter := CRLF dash-boundary), so the enclosing part ends at '--inner--'. "
     "Dovecot also counts that CRLF as the part's content (size +2, lines +1). Structure "
     "and part sections of such messages are not compared.",
     _shared_crlf),
    ("Content-Length header",
     "Dovecot's mbox driver treats a message's own Content-Length header as mbox "
     "metadata and drops it from what it stores; Haven keeps every byte a client "
     "appends (it hides and checks Content-Length only in messages other programs "
     "wrote into the file, as Dovecot does).",
     _dovecot_drops_content_length),
]


def load(m, msgs):
    for i, body in enumerate(msgs):
        flags = ["()", r"(\Seen)", r"(\Flagged $Work)", r"(\Answered \Draft)"][i % 4]
        typ, data = m.append("INBOX", flags, DATE, body)
        assert typ == "OK", data


def fetch(m, items, chunk=100):
    """{seq: {ITEM: value}} for all messages, fetched in chunks."""
    typ, data = m.select("INBOX", readonly=True)
    total = int(data[0])
    out = {}
    for lo in range(1, total + 1, chunk):
        hi = min(total, lo + chunk - 1)
        typ, data = m.fetch("%d:%d" % (lo, hi), "(%s)" % items)
        assert typ == "OK", data
        out.update(fetch_items(raw_from_imaplib(data)))
    return out


@pytest.fixture(scope="module")
def messages():
    return [b for _, b in corpus_messages()] + msggen.messages(N_GENERATED)


@pytest.fixture(scope="module")
def dovecot(messages):
    d = Dovecot({"alice": "pw-alice"}).start()
    try:
        dm = d.login("alice")
        load(dm, messages)
        yield dm
        dm.logout()
    finally:
        d.stop()


# Both stores against the one Dovecot: the answers must not depend on
# where Haven keeps the mail (and the PostgreSQL store answers ENVELOPE,
# BODYSTRUCTURE and sections from what it parsed at APPEND).
@pytest.fixture(scope="module", params=ALL_BACKENDS)
def servers(request, dovecot, messages):
    h = Haven(users=("alice",), tls=False, backend=request.param).start()
    try:
        hm = h.login("alice")
        load(hm, messages)
        yield hm, dovecot, messages
        hm.logout()
    finally:
        check_sanitizers(h.stop())
        h.cleanup()


def compare(servers, items):
    hm, dm, msgs = servers
    ours, theirs = fetch(hm, items), fetch(dm, items)
    assert len(ours) == len(theirs) == len(msgs)
    diffs = []
    for seq in sorted(theirs):
        for name, want in theirs[seq].items():
            got = ours[seq].get(name)
            for _, _, norm in DEVIATIONS:
                got, want = norm(name, got, want, msgs[seq - 1])
            if got != want:
                diffs.append((seq, name, want, got))
    assert not diffs, "%d differences; first: seq %s %s\n dovecot: %r\n haven:   %r" % (
        (len(diffs),) + diffs[0])


def test_bodies_and_sizes(servers):
    compare(servers, "RFC822.SIZE BODY.PEEK[]")


def test_flags_and_internaldate(servers):
    compare(servers, "FLAGS INTERNALDATE")


def test_header_and_text(servers):
    compare(servers, "BODY.PEEK[HEADER] BODY.PEEK[TEXT]")


def test_header_fields(servers):
    compare(servers, "BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID)] "
                     "BODY.PEEK[HEADER.FIELDS.NOT (RECEIVED DATE FROM)]")


def test_envelope(servers):
    compare(servers, "ENVELOPE")


def test_body_and_bodystructure(servers):
    compare(servers, "BODY BODYSTRUCTURE")


def part_numbers(bs, prefix=""):
    """Every part number in a BODYSTRUCTURE (as parsed by imapresp), with
    whether the part is a message/rfc822."""
    out = []
    stack = [(bs, prefix)]
    while stack:
        node, pre = stack.pop()
        if node and isinstance(node[0], list):  # multipart: children then subtype
            kids = [k for k in node if isinstance(k, list)]
            # extension data lists come after the subtype; children first
            n = 0
            for k in node:
                if not isinstance(k, list):
                    break
                n += 1
                stack.append((k, "%s%d" % (pre + "." if pre else "", n)))
        else:
            num = pre or "1"
            is_msg = (len(node) > 1 and isinstance(node[0], bytes) and isinstance(node[1], bytes)
                      and node[0].lower() == b"message" and node[1].lower() in (b"rfc822", b"global"))
            out.append((num, is_msg))
            if is_msg and len(node) > 8 and isinstance(node[8], list):
                inner = node[8]
                if inner and isinstance(inner[0], list):
                    stack.append((inner, num))
                else:
                    out.append((num + ".1", False))
    return out


def test_part_sections(servers):
    hm, dm, msgs = servers
    structs = fetch(dm, "BODYSTRUCTURE")
    diffs = []
    for seq, items in sorted(structs.items()):
        parts = part_numbers(items[b"BODYSTRUCTURE"])[:12]
        specs = []
        for num, is_msg in parts:
            specs += ["BODY.PEEK[%s]" % num, "BODY.PEEK[%s.MIME]" % num]
            if is_msg:
                specs += ["BODY.PEEK[%s.HEADER]" % num, "BODY.PEEK[%s.TEXT]" % num,
                          "BODY.PEEK[%s.HEADER.FIELDS (SUBJECT FROM)]" % num]
        items_s = " ".join(specs)
        typ, d1 = hm.fetch(str(seq), "(%s)" % items_s)
        typ2, d2 = dm.fetch(str(seq), "(%s)" % items_s)
        ours = fetch_items(raw_from_imaplib(d1)).get(seq, {})
        theirs = fetch_items(raw_from_imaplib(d2)).get(seq, {})
        for name, want in theirs.items():
            got = ours.get(name)
            for _, _, norm in DEVIATIONS:
                got, want = norm(name, got, want, msgs[seq - 1])
            if got != want:
                diffs.append((seq, name, want, got))
    assert not diffs, "%d differences; first: seq %s %s\n dovecot: %r\n haven:   %r" % (
        (len(diffs),) + diffs[0])
