"""WITHIN (RFC 5032) on every store: SEARCH OLDER n / YOUNGER n compare
INTERNALDATE with the server's clock minus n seconds (OLDER: at or before
that moment, YOUNGER: at or after), alone and under NOT / OR (which the
PostgreSQL store pushes down to SQL in three-valued logic), and the
interval's syntax: nz-number, so 0, negative and non-numbers are BAD and
the session goes on."""
import time

from rfc9051_common import Session, simple_msg, untagged


def imap_date(t):
    return time.strftime("%d-%b-%Y %H:%M:%S +0000", time.gmtime(t)).encode()


def search(s, keys):
    out = untagged(s.ok(b"SEARCH " + keys))
    assert len(out) == 1 and out[0].startswith(b"* SEARCH"), out
    return [int(x) for x in out[0].split()[2:]]


def box(haven):
    """INBOX with messages 10 days, 1 hour and 10 minutes old, and one
    appended now (no date: INTERNALDATE is the time of APPEND)."""
    s = Session(haven)
    now = time.time()
    for i, age in enumerate((10 * 86400, 3600, 600), start=1):
        s.append(b"INBOX", simple_msg(i), date=imap_date(now - age))
    s.append(b"INBOX", simple_msg(4))
    s.ok(b"SELECT INBOX")
    return s


def test_capability(haven):
    s = Session(haven)
    caps = untagged(s.ok(b"CAPABILITY"))[0]
    assert b" WITHIN" in caps, caps
    s.close()


def test_older_younger(haven):
    s = box(haven)
    # (margins of minutes around each message: the clock moves on while
    # the test runs, and a loaded machine may take seconds per command)
    assert search(s, b"YOUNGER 300") == [4]
    assert search(s, b"YOUNGER 1800") == [3, 4]
    assert search(s, b"YOUNGER 86400") == [2, 3, 4]
    assert search(s, b"YOUNGER 8640000") == [1, 2, 3, 4]
    assert search(s, b"OLDER 300") == [1, 2, 3]
    assert search(s, b"OLDER 1800") == [1, 2]
    assert search(s, b"OLDER 86400") == [1]
    assert search(s, b"OLDER 8640000") == []
    assert search(s, b"older 1800 younger 86400") == [2]
    assert search(s, b"NOT YOUNGER 1800") == [1, 2]
    assert search(s, b"OR OLDER 86400 YOUNGER 300") == [1, 4]
    assert search(s, b"NOT OR OLDER 86400 YOUNGER 300") == [2, 3]
    assert search(s, b"YOUNGER 1800 SUBJECT \"message 3\"") == [3]
    out = untagged(s.ok(b"UID SEARCH RETURN (COUNT MIN) OLDER 1800"))
    assert out == [b"* ESEARCH (TAG \"A%03d\") UID MIN 1 COUNT 2\r\n" % s.n], out
    s.close()


def test_interval_syntax(haven):
    s = box(haven)
    for bad in (b"OLDER 0", b"YOUNGER 0", b"OLDER -5", b"YOUNGER -1", b"OLDER abc",
                b"YOUNGER", b"OLDER 1.5", b"YOUNGER \"\"", b"OLDER 99999999999999999999",
                b"NOT OLDER"):
        s.bad(b"SEARCH " + bad)
    # the session goes on
    assert search(s, b"YOUNGER 300") == [4]
    s.close()
