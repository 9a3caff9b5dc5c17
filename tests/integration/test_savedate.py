"""SAVEDATE (RFC 8514) on every store. PostgreSQL keeps each message's
save date (messages.savedate: the time it was stored in this mailbox,
new for a COPY or MOVE); the mbox store keeps none (the file has no place
for it that other mbox programs keep), which the RFC provides for: FETCH
SAVEDATE is NIL, SAVEDATESUPPORTED matches nothing, and SAVEDBEFORE /
SAVEDON / SAVEDSINCE use INTERNALDATE instead."""
import re
import time

from rfc9051_common import Session, simple_msg, untagged

OLD = b"01-Jan-2000 12:00:00 +0000"


def search(s, keys):
    out = untagged(s.ok(b"SEARCH " + keys))
    assert len(out) == 1 and out[0].startswith(b"* SEARCH"), out
    return [int(x) for x in out[0].split()[2:]]


def box(haven):
    """INBOX: message 1 with an INTERNALDATE of 2000, message 2 of now."""
    s = Session(haven)
    s.append(b"INBOX", simple_msg(1), date=OLD)
    s.append(b"INBOX", simple_msg(2))
    s.ok(b"SELECT INBOX")
    return s


def savedates(s, seqs=b"1:*"):
    out = {}
    for l in untagged(s.ok(b"FETCH " + seqs + b" (SAVEDATE)")):
        m = re.match(rb'\* (\d+) FETCH \(SAVEDATE (NIL|"[^"]*")\)\r\n$', l)
        assert m, l
        out[int(m.group(1))] = m.group(2)
    return out


def parse_dt(v):
    return time.mktime(time.strptime(v.decode().strip('"'), "%d-%b-%Y %H:%M:%S +0000")) \
        - time.timezone


def test_capability(haven):
    s = Session(haven)
    assert b" SAVEDATE" in untagged(s.ok(b"CAPABILITY"))[0]
    s.close()


def test_fetch_savedate(haven):
    before = time.time()
    s = box(haven)
    sd = savedates(s)
    if haven.backend == "mbox":
        assert sd == {1: b"NIL", 2: b"NIL"}
    else:
        # the time of APPEND, whatever INTERNALDATE the client gave
        for seq in (1, 2):
            assert before - 5 <= parse_dt(sd[seq]) <= time.time() + 5, sd
        # a copy is saved anew: its save date is not the source's
        time.sleep(1.1)
        s.ok(b"COPY 1 INBOX")
        s.ok(b"NOOP")
        sd2 = savedates(s)
        assert sd2[1] == sd[1] and parse_dt(sd2[3]) > parse_dt(sd[1]), (sd, sd2)
    s.close()


def test_search_savedate(haven):
    s = box(haven)
    today = time.strftime("%d-%b-%Y", time.gmtime()).encode()
    if haven.backend == "mbox":
        # no save dates: INTERNALDATE stands in (RFC 8514 4.3)
        assert search(s, b"SAVEDATESUPPORTED") == []
        assert search(s, b"NOT SAVEDATESUPPORTED") == [1, 2]
        assert search(s, b"SAVEDBEFORE 02-Jan-2000") == [1]
        assert search(s, b"SAVEDON 01-Jan-2000") == [1]
        assert search(s, b"SAVEDSINCE 02-Jan-2000") == [2]
    else:
        assert search(s, b"SAVEDATESUPPORTED") == [1, 2]
        assert search(s, b"SAVEDBEFORE 02-Jan-2000") == []
        assert search(s, b"SAVEDON 01-Jan-2000") == []
        assert search(s, b"SAVEDSINCE 02-Jan-2000") == [1, 2]
        assert search(s, b"SAVEDON " + today) == [1, 2]
        assert search(s, b"NOT SAVEDBEFORE " + today) == [1, 2]
        assert search(s, b"SAVEDSINCE 02-Jan-2000 BEFORE 02-Jan-2000") == [1]
    for bad in (b"SAVEDBEFORE", b"SAVEDON 32-Jan-2000", b"SAVEDSINCE yesterday",
                b"SAVEDATESUPPORTED 1:2:3"):
        s.bad(b"SEARCH " + bad)
    assert search(s, b"ALL") == [1, 2]
    s.close()
