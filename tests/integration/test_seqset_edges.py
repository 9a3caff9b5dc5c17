"""Sequence sets at the edges of their numbers (issue 17, item 7): the
number 4294967295 is a number, never '*'. "UID SEARCH UID 7:4294967295"
once answered with the last message although no UID is that high, because
the parser stored 4294967295 and '*' alike.

The class: 0, 1, 2^31 and 2^32-1 (and '*') in every position of a set
(alone, either end of a range, first, middle or last item), through every
command that takes a set, compared with RFC 9051's definition: a range
holds every value between its two ends, '*' is the highest number in use,
0 is invalid, and a message sequence number above the number of messages
is an error (BAD) for FETCH, STORE and COPY."""
import itertools
import re

import pytest

from rfc9051_common import Session, simple_msg

VALUES = [b"0", b"1", b"2147483648", b"4294967295", b"*"]
SHAPES = [b"%1", b"%1:%2", b"%1,%2", b"%1:%2,9", b"9,%1:%2", b"3,%1:%2,9:12", b"%1,5:%2"]
MESSAGES = 13        # sequence numbers 1..13 ...
UIDS = list(range(2, MESSAGES + 2))   # ... hold UIDs 2..14 (UID 1 is expunged)


def all_sets():
    """Every shape with every pair of values, each distinct set once."""
    out = []
    for shape, a, b in itertools.product(SHAPES, VALUES, VALUES):
        s = shape.replace(b"%1", a).replace(b"%2", b)
        if s not in out:
            out.append(s)
    return out


def items(seqset, star):
    """(lo, hi) of each item, '*' replaced by star; None if a 0 is in it."""
    out = []
    for item in seqset.split(b","):
        ends = [star if v == b"*" else int(v) for v in item.split(b":")]
        if 0 in [int(v) for v in item.split(b":") if v != b"*"]:
            return None
        out.append((min(ends), max(ends)))
    return out


def expect_uids(seqset):
    rng = items(seqset, UIDS[-1])
    if rng is None:
        return None
    return [u for u in UIDS if any(lo <= u <= hi for lo, hi in rng)]


def expect_seqs(seqset, strict):
    """Sequence numbers; strict (FETCH/STORE/COPY): a number above the
    message count is an error."""
    rng = items(seqset, MESSAGES)
    if rng is None:
        return None
    if strict and any(v != b"*" and int(v) > MESSAGES
                      for v in re.split(rb"[:,]", seqset)):
        return None
    return [q for q in range(1, MESSAGES + 1) if any(lo <= q <= hi for lo, hi in rng)]


def search_result(lines):
    m = re.match(rb"\* SEARCH((?: \d+)*)\r\n$", lines[0])
    assert m, lines
    return [int(x) for x in m.group(1).split()]


def fetched_uids(lines):
    return sorted(int(re.search(rb"UID (\d+)", l).group(1)) for l in lines[:-1]
                  if b" FETCH " in l)


def run_or_bad(s, command, want):
    """Run command; BAD exactly when want is None. Returns the lines."""
    out = s.cmd(command)
    if want is None:
        assert re.match(rb"\w+ BAD ", out[-1]), (command, out)
        return None
    assert re.match(rb"\w+ OK", out[-1]), (command, out)
    return out


def copied_uids(lines):
    m = re.search(rb"\[COPYUID \d+ ([\d:,]+) ", lines[-1])
    if not m:
        return []
    out = []
    for part in m.group(1).split(b","):
        lo, _, hi = part.partition(b":")
        lo, hi = sorted((int(lo), int(hi or lo)))
        out += range(lo, hi + 1)
    return sorted(out)


@pytest.fixture
def box(haven):
    s = Session(haven)
    for i in range(MESSAGES + 1):
        s.append(b"INBOX", simple_msg(i))
    s.ok(b"CREATE Dest")
    s.ok(b"SELECT INBOX")
    s.ok(b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    s.ok(b"EXPUNGE")
    assert search_result(s.ok(b"UID SEARCH ALL")) == UIDS
    yield s
    s.close()


def test_uid_range_to_largest_number_is_not_star(box):
    """The reported case: no UID is as high as 4294967295."""
    assert search_result(box.ok(b"UID SEARCH UID 20:4294967295")) == []
    assert search_result(box.ok(b"UID SEARCH UID 4294967295")) == []
    assert fetched_uids(box.ok(b"UID FETCH 20:4294967295 (UID)")) == []
    assert search_result(box.ok(b"UID SEARCH UID 20:*")) == [UIDS[-1]]
    assert search_result(box.ok(b"SEARCH 4294967295")) == []
    box.bad(b"FETCH 4294967295 (UID)")


def check_acting_commands(s, prefix, seqset, uids):
    """FETCH, STORE and COPY of seqset (prefix b"UID " or b""): BAD exactly
    when uids is None, else they act on the messages with those UIDs."""
    out = run_or_bad(s, prefix + b"FETCH " + seqset + b" (UID)", uids)
    if out is not None:
        assert fetched_uids(out) == uids, (prefix, seqset)
    out = run_or_bad(s, prefix + b"STORE " + seqset + b" +FLAGS.SILENT (\\Flagged)", uids)
    if out is not None:
        assert search_result(s.ok(b"UID SEARCH FLAGGED")) == uids, (prefix, seqset)
        s.ok(b"STORE 1:* -FLAGS.SILENT (\\Flagged)")
    out = run_or_bad(s, prefix + b"COPY " + seqset + b" Dest", uids)
    if out is not None:
        assert copied_uids(out) == uids, (prefix, seqset)


def test_every_edge_number_in_every_position(box):
    s = box
    for seqset in all_sets():
        want = expect_uids(seqset)
        out = run_or_bad(s, b"UID SEARCH UID " + seqset, want)
        if out is not None:
            assert search_result(out) == want, seqset
        check_acting_commands(s, b"UID ", seqset, want)

        seqs = expect_seqs(seqset, strict=False)
        out = run_or_bad(s, b"SEARCH " + seqset, seqs)
        if out is not None:
            assert search_result(out) == seqs, seqset
        seqs = expect_seqs(seqset, strict=True)
        check_acting_commands(s, b"", seqset,
                              None if seqs is None else [UIDS[q - 1] for q in seqs])
